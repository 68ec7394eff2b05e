/**
 * Causal grouped-query attention over the KV cache for T query tokens at positions pos0.., in float32
 * SIMD: QKᵀ, softmax, ·V. The reference is src/kernels/attention.ts; the results differ from it by
 * rounding only (float32 dot products and an approximate exp instead of float64), within the bound
 * stated in src/kernels/wasm/forward-ops.ts and tested in test/kernels/attention.test.ts.
 *
 * The work is cut into tiles of four queries that read the same KV head (the heads of a GQA group, then
 * the next tokens), so that every key and value row loaded serves four queries: the four are the four
 * lanes of every score vector. For each tile: scores for keys 0..len-1 (4 queries × 2 keys per step),
 * their max, exp and sum (the sum in float64, as the reference), then the weighted sum of value rows in
 * blocks of keys. A query's keys past its own position are masked (the tile's queries may belong to
 * consecutive tokens). An F16 cache is widened into float32 scratch first (see attentionTiles and
 * attentionOneTile).
 *
 * Not here: RoPE, the cache writes, the other per-token ops (rope.ts, pointwise.ts, norm-quant.ts).
 */
import { gOne } from "./simd";

/**
 * Keys per block: the ·V pass splats a block's weights once (4 vectors per key, 4 KiB), and a widened
 * F16 block (VBLOCK·hd floats, 32 KiB at hd = 128) is read back from L1.
 */
const VBLOCK: i32 = 64;

// @ts-ignore: decorator
@inline function fma(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** [Σa, Σb, Σc, Σd] of four f32x4. */
// @ts-ignore: decorator
@inline function hsum4f(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(i8x16.shuffle(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), i8x16.shuffle(a, b, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31));
  const cd = f32x4.add(i8x16.shuffle(c, d, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), i8x16.shuffle(c, d, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31));
  // ab = [a0+a2, b0+b2, a1+a3, b1+b3], cd likewise
  return f32x4.add(i8x16.shuffle(ab, cd, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), i8x16.shuffle(ab, cd, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
}

/** Whether any of rows [0, len) (hd halves each, row stride `stride` bytes) is Inf or NaN (exponent 31). */
function halfRowsHaveSpecials(src: usize, stride: usize, len: i32, hd: i32): bool {
  const exp = i16x8.splat(<i16>(0x7c00 * gOne));
  let any = i16x8.splat(0);
  const rowBytes = <usize>hd << 1;
  for (let p = 0; p < len; p++) {
    const s = src + <usize>p * stride;
    for (let i: usize = 0; i < rowBytes; i += 16) any = v128.or(any, i16x8.eq(v128.and(v128.load(s + i), exp), exp));
  }
  return v128.any_true(any);
}

/**
 * Widens rows [0, len) of one KV head of an F16 cache (row stride `stride` bytes) into float32 rows of
 * hd values at `dst`, exactly: subnormals by the multiply below, and Inf and NaN (rare: a K or V value
 * past ±65504) on a slower path that a scan for them selects.
 */
function widenHalfRows(src: usize, stride: usize, len: i32, hd: i32, dst: usize): void {
  const z = i32x4.splat(gOne - 1);
  const mask = i32x4.splat(0x8fffe000 * gOne);
  const scale = f32x4.splat(reinterpret<f32>(0x77800000 * gOne));
  const rowBytes = <usize>hd << 2;
  const special = halfRowsHaveSpecials(src, stride, len, hd);
  const expBits = i32x4.splat(0x0f800000 * gOne);
  const infBits = i32x4.splat(0x7f800000 * gOne);
  for (let p = 0; p < len; p++) {
    const s = src + <usize>p * stride;
    const d = dst + <usize>p * rowBytes;
    for (let i: usize = 0; i < <usize>hd; i += 8) {
      const h = v128.load(s + (i << 1));
      // eight halves → the top 16 bits of four lanes, twice; then sign | exponent and mantissa << 13,
      // which is the value times 2^-112 for finite halves, subnormals included: the multiply restores it
      const lo = v128.and(i32x4.shr_s(i8x16.shuffle(z, h, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), 3), mask);
      const hi = v128.and(i32x4.shr_s(i8x16.shuffle(z, h, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), 3), mask);
      let a = f32x4.mul(lo, scale), b = f32x4.mul(hi, scale);
      if (special) {
        // exponent 31 (Inf, NaN): keep the mantissa, set every exponent bit
        a = v128.bitselect(v128.or(lo, infBits), a, i32x4.eq(v128.and(lo, expBits), expBits));
        b = v128.bitselect(v128.or(hi, infBits), b, i32x4.eq(v128.and(hi, expBits), expBits));
      }
      v128.store(d + (i << 2), a);
      v128.store(d + (i << 2), b, 16);
    }
  }
}

/**
 * Scores of four queries (rows q0..q3, hd floats) against keys p0..p0+n-1, whose rows are at
 * keys + j·kStride for j < n, times `scale`, masked past each query's own limit (lane j keeps keys
 * p ≤ limits[j]), into S[p] (one vector of four lanes per key). Returns the lanes' maxima, and `max`'s.
 */
function scoreTile(q0: usize, q1: usize, q2: usize, q3: usize, keys: usize, kStride: usize, p0: i32, n: i32, hd: i32, scale: f32, limits: v128, S: usize, max: v128): v128 {
  const hdBytes = <usize>hd << 2;
  const sc = f32x4.splat(scale);
  const ninf = f32x4.splat(<f32>-Infinity);
  let j = 0;
  for (; j + 1 < n; j += 2) {
    const k0 = keys + <usize>j * kStride;
    const k1 = k0 + kStride;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (let i: usize = 0; i < hdBytes; i += 16) {
      const x0 = v128.load(k0 + i), x1 = v128.load(k1 + i);
      const y0 = v128.load(q0 + i), y1 = v128.load(q1 + i), y2 = v128.load(q2 + i), y3 = v128.load(q3 + i);
      a0 = fma(a0, y0, x0); a1 = fma(a1, y1, x0); a2 = fma(a2, y2, x0); a3 = fma(a3, y3, x0);
      b0 = fma(b0, y0, x1); b1 = fma(b1, y1, x1); b2 = fma(b2, y2, x1); b3 = fma(b3, y3, x1);
    }
    const pv = i32x4.splat(p0 + j);
    const s0 = v128.bitselect(f32x4.mul(hsum4f(a0, a1, a2, a3), sc), ninf, i32x4.le_s(pv, limits));
    const s1 = v128.bitselect(f32x4.mul(hsum4f(b0, b1, b2, b3), sc), ninf, i32x4.lt_s(pv, limits));
    const at = S + (<usize>(p0 + j) << 4);
    v128.store(at, s0);
    v128.store(at, s1, 16);
    max = f32x4.max(max, f32x4.max(s0, s1));
  }
  if (j < n) {
    const k0 = keys + <usize>j * kStride;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (let i: usize = 0; i < hdBytes; i += 16) {
      const x0 = v128.load(k0 + i);
      a0 = fma(a0, v128.load(q0 + i), x0); a1 = fma(a1, v128.load(q1 + i), x0);
      a2 = fma(a2, v128.load(q2 + i), x0); a3 = fma(a3, v128.load(q3 + i), x0);
    }
    const s0 = v128.bitselect(f32x4.mul(hsum4f(a0, a1, a2, a3), sc), ninf, i32x4.le_s(i32x4.splat(p0 + j), limits));
    v128.store(S + (<usize>(p0 + j) << 4), s0);
    max = f32x4.max(max, s0);
  }
  return max;
}

/**
 * S[p] ← f32(e_p · (1/Σe)) with e_p = exp(S[p] − max), per lane, normalized as the reference does: the
 * sum and the reciprocal in float64.
 *
 * exp of x ≤ 0: x = n·ln2 + r with |r| ≤ ln2/2, e^r by its Taylor series to degree 7 (truncation below
 * 6e-9 relative), 2^n from the exponent bits: within 2 ulp of float32. Below -87.3 (where float32 turns
 * subnormal) and for -∞ (masked keys) the result is 0; NaN stays NaN. The constants are built before the
 * loop (see gOne in simd.ts).
 */
function softmaxTile(S: usize, len: i32, max: v128): void {
  const f = <f32>gOne;
  const one = f32x4.splat(f), lo = f32x4.splat(<f32>-87.3 * f), log2e = f32x4.splat(<f32>1.44269504 * f);
  // ln2 in two parts, so that n·ln2Hi is exact for |n| ≤ 128 (ln2Hi has 9 significant bits)
  const ln2Hi = f32x4.splat(<f32>0.693359375 * f), ln2Lo = f32x4.splat(<f32>-2.12194440e-4 * f);
  const c7 = f32x4.splat(<f32>(1.0 / 5040.0) * f), c6 = f32x4.splat(<f32>(1.0 / 720.0) * f), c5 = f32x4.splat(<f32>(1.0 / 120.0) * f);
  const c4 = f32x4.splat(<f32>(1.0 / 24.0) * f), c3 = f32x4.splat(<f32>(1.0 / 6.0) * f), c2 = f32x4.splat(<f32>0.5 * f);
  const bias = i32x4.splat(127 * gOne);
  let sumLo = f64x2.splat(0), sumHi = sumLo;
  for (let p = 0; p < len; p++) {
    const at = S + (<usize>p << 4);
    const x = f32x4.sub(v128.load(at), max);
    const xc = f32x4.pmax(x, lo); // one instruction, and NaN stays NaN (x < lo is false)
    const n = f32x4.nearest(f32x4.mul(xc, log2e));
    const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(n, ln2Hi)), f32x4.mul(n, ln2Lo));
    let y = f32x4.add(f32x4.mul(c7, r), c6);
    y = f32x4.add(f32x4.mul(y, r), c5);
    y = f32x4.add(f32x4.mul(y, r), c4);
    y = f32x4.add(f32x4.mul(y, r), c3);
    y = f32x4.add(f32x4.mul(y, r), c2);
    y = f32x4.add(f32x4.mul(y, r), one);
    y = f32x4.add(f32x4.mul(y, r), one);
    // n ∈ [-126, 0] here, so (n + 127) << 23 is a normal power of two
    const e = v128.andnot(f32x4.mul(y, i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), bias), 23)), f32x4.lt(x, lo));
    v128.store(at, e);
    sumLo = f64x2.add(sumLo, f64x2.promote_low_f32x4(e));
    sumHi = f64x2.add(sumHi, f64x2.promote_low_f32x4(i8x16.shuffle(e, e, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)));
  }
  const ones = f64x2.splat(<f64>gOne);
  const invLo = f64x2.div(ones, sumLo), invHi = f64x2.div(ones, sumHi);
  for (let p = 0; p < len; p++) {
    const at = S + (<usize>p << 4);
    const e = v128.load(at);
    const wl = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(e), invLo));
    const wh = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(i8x16.shuffle(e, e, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)), invHi));
    v128.store(at, i8x16.shuffle(wl, wh, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
  }
}

/**
 * out_j (+)= Σ_p S[p][j] · v_p for the four lanes j (output rows o0..o3, hd floats) over the keys
 * p0..p0+n-1 (n ≤ VBLOCK), whose value rows are at values + (p − p0)·vStride. The block's weights are
 * splatted once into W (four vectors per key), then every 8-wide slice of the head accumulates the
 * block in registers and stores (`first`) or adds it to the output.
 */
function weightedBlock(S: usize, p0: i32, n: i32, values: usize, vStride: usize, hd: i32, o0: usize, o1: usize, o2: usize, o3: usize, W: usize, first: bool): void {
  const hdBytes = <usize>hd << 2;
  for (let p = 0; p < n; p++) {
    const w = v128.load(S + (<usize>(p0 + p) << 4));
    const at = W + (<usize>p << 6);
    v128.store(at, i32x4.shuffle(w, w, 0, 0, 0, 0));
    v128.store(at, i32x4.shuffle(w, w, 1, 1, 1, 1), 16);
    v128.store(at, i32x4.shuffle(w, w, 2, 2, 2, 2), 32);
    v128.store(at, i32x4.shuffle(w, w, 3, 3, 3, 3), 48);
  }
  const wEnd = W + (<usize>n << 6);
  for (let i: usize = 0; i < hdBytes; i += 32) {
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    let v = values + i;
    for (let wp = W; wp < wEnd; wp += 64) {
      const x0 = v128.load(v), x1 = v128.load(v, 16);
      const w0 = v128.load(wp), w1 = v128.load(wp, 16), w2 = v128.load(wp, 32), w3 = v128.load(wp, 48);
      a0 = fma(a0, w0, x0); b0 = fma(b0, w0, x1);
      a1 = fma(a1, w1, x0); b1 = fma(b1, w1, x1);
      a2 = fma(a2, w2, x0); b2 = fma(b2, w2, x1);
      a3 = fma(a3, w3, x0); b3 = fma(b3, w3, x1);
      v += vStride;
    }
    if (!first) {
      a0 = f32x4.add(a0, v128.load(o0 + i)); b0 = f32x4.add(b0, v128.load(o0 + i, 16));
      a1 = f32x4.add(a1, v128.load(o1 + i)); b1 = f32x4.add(b1, v128.load(o1 + i, 16));
      a2 = f32x4.add(a2, v128.load(o2 + i)); b2 = f32x4.add(b2, v128.load(o2 + i, 16));
      a3 = f32x4.add(a3, v128.load(o3 + i)); b3 = f32x4.add(b3, v128.load(o3 + i, 16));
    }
    // Lanes that repeat a query (a tile with fewer than four) write the same row with the same values.
    v128.store(o3 + i, a3); v128.store(o3 + i, b3, 16);
    v128.store(o2 + i, a2); v128.store(o2 + i, b2, 16);
    v128.store(o1 + i, a1); v128.store(o1 + i, b1, 16);
    v128.store(o0 + i, a0); v128.store(o0 + i, b0, 16);
  }
}

/** Scratch bytes `attention` needs at `work` for a context of `len` positions. */
export function attentionWorkBytes(len: i32, hd: i32, HKV: i32, half: bool): usize {
  const scores = <usize>HKV * ((<usize>len << 4) + 16) + (<usize>VBLOCK << 6);
  return half ? scores + ((<usize>len * hd) << 3) : scores;
}

/** Byte offset in q (and out) of query z of KV head g: token z / G, head g·G + z % G. */
// @ts-ignore: decorator
@inline function queryRow(z: i32, g: i32, G: i32, H: i32, hd: i32): usize {
  return (<usize>(z / G) * <usize>(H * hd) + <usize>((g * G + z % G) * hd)) << 2;
}

/** Lane j: the position of query min(z0 + j, Z − 1), the last key it may see. */
// @ts-ignore: decorator
@inline function tileLimits(z0: i32, Z: i32, G: i32, pos0: i32): v128 {
  const l0 = pos0 + z0 / G, l1 = pos0 + min(z0 + 1, Z - 1) / G, l2 = pos0 + min(z0 + 2, Z - 1) / G, l3 = pos0 + min(z0 + 3, Z - 1) / G;
  return i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(l0), 1, l1), 2, l2), 3, l3);
}

/**
 * out [T, H·hd] = softmax(q·Kᵀ/√hd, causal) · V for query tokens at positions pos0..pos0+T-1, from
 * q [T, H·hd] and the cache rows 0..pos0+T-1 of keys and values ([ctx, HKV·hd], f32 or, with `half`,
 * f16 bits). hd must be a multiple of 8. `work`: attentionWorkBytes(pos0 + T, hd, HKV, half), 16-aligned.
 */
export function attention(out: usize, q: usize, keys: usize, values: usize, pos0: i32, T: i32, H: i32, HKV: i32, hd: i32, half: bool, work: usize): void {
  if (T * (H / HKV) <= 4) attentionOneTile(out, q, keys, values, pos0, T, H, HKV, hd, half, work);
  else attentionTiles(out, q, keys, values, pos0, T, H, HKV, hd, half, work, 0, attentionUnits(T, H, HKV));
}

/**
 * How many independent pieces `attention` of T tokens is made of, for threads to share (attentionRange):
 * per KV head, its 4-query tiles in pairs, tile i with the last but i, which cost about the same as any
 * other pair under the causal mask. 0 when it is one tile per KV head (decode), which is not split.
 */
export function attentionUnits(T: i32, H: i32, HKV: i32): i32 {
  const Z = T * (H / HKV);
  if (Z <= 4) return 0;
  return HKV * ((((Z + 3) >> 2) + 1) >> 1);
}

/** Units [u0, u1) of `attention` (see attentionUnits); `work` is this caller's own, as `attention` needs it. */
export function attentionRange(out: usize, q: usize, keys: usize, values: usize, pos0: i32, T: i32, H: i32, HKV: i32, hd: i32, half: bool, work: usize, u0: i32, u1: i32): void {
  attentionTiles(out, q, keys, values, pos0, T, H, HKV, hd, half, work, u0, u1);
}

/**
 * Units [u0, u1) of several tiles per KV head (prefill): KV head by KV head, each tile over all of its
 * keys. An F16 cache is widened once per KV head into scratch, which its tiles then read.
 */
function attentionTiles(out: usize, q: usize, keys: usize, values: usize, pos0: i32, T: i32, H: i32, HKV: i32, hd: i32, half: bool, work: usize, u0: i32, u1: i32): void {
  const G = H / HKV;
  const len = pos0 + T;
  const elem: usize = half ? 2 : 4;
  const cacheStride = <usize>(HKV * hd) * elem;
  const rowBytes = <usize>hd << 2;
  const S = work;
  const W = S + (<usize>len << 4);
  const Kf = W + (<usize>VBLOCK << 6);
  const Vf = Kf + <usize>len * rowBytes;
  const scale = <f32>(1.0 / Math.sqrt(<f64>hd));
  const Z = T * G; // queries reading each KV head, token-major
  const tiles = (Z + 3) >> 2;
  const per = (tiles + 1) >> 1;
  for (let g = u0 / per; g < HKV && g * per < u1; g++) {
    let kBase = keys + <usize>(g * hd) * elem;
    let vBase = values + <usize>(g * hd) * elem;
    let stride = cacheStride;
    if (half) {
      widenHalfRows(kBase, cacheStride, len, hd, Kf);
      widenHalfRows(vBase, cacheStride, len, hd, Vf);
      kBase = Kf;
      vBase = Vf;
      stride = rowBytes;
    }
    const i1 = min(u1 - g * per, per);
    for (let i = max(u0 - g * per, 0); i < i1; i++) {
      headTile(out, q, kBase, vBase, stride, i << 2, Z, g, G, H, hd, pos0, scale, S, W);
      const j = tiles - 1 - i;
      if (j != i) headTile(out, q, kBase, vBase, stride, j << 2, Z, g, G, H, hd, pos0, scale, S, W);
    }
  }
}

/** The tile of queries z0..z0+3 of KV head g, over all the keys they may see. */
// @ts-ignore: decorator
@inline function headTile(out: usize, q: usize, kBase: usize, vBase: usize, stride: usize, z0: i32, Z: i32, g: i32, G: i32, H: i32, hd: i32, pos0: i32, scale: f32, S: usize, W: usize): void {
  // a short last tile repeats its last query
  const r0 = queryRow(z0, g, G, H, hd), r1 = queryRow(min(z0 + 1, Z - 1), g, G, H, hd);
  const r2 = queryRow(min(z0 + 2, Z - 1), g, G, H, hd), r3 = queryRow(min(z0 + 3, Z - 1), g, G, H, hd);
  const limits = tileLimits(z0, Z, G, pos0);
  const tileLen = i32x4.extract_lane(limits, 3) + 1;
  const max = scoreTile(q + r0, q + r1, q + r2, q + r3, kBase, stride, 0, tileLen, hd, scale, limits, S, f32x4.splat(<f32>-Infinity));
  softmaxTile(S, tileLen, max);
  for (let p0 = 0; p0 < tileLen; p0 += VBLOCK) {
    weightedBlock(S, p0, min(VBLOCK, tileLen - p0), vBase + <usize>p0 * stride, stride, hd, out + r0, out + r1, out + r2, out + r3, W, p0 == 0);
  }
}

/**
 * One tile per KV head (decode: T·G ≤ 4). Block of keys by block, all KV heads in turn, so that the
 * cache is read row after row (each row holds every KV head) instead of in one strided pass per KV
 * head; each head's scores have their own row of S. An F16 block is widened into L1-sized scratch per
 * KV head.
 */
function attentionOneTile(out: usize, q: usize, keys: usize, values: usize, pos0: i32, T: i32, H: i32, HKV: i32, hd: i32, half: bool, work: usize): void {
  const G = H / HKV;
  const len = pos0 + T;
  const Z = T * G;
  const elem: usize = half ? 2 : 4;
  const stride = <usize>(HKV * hd) * elem;
  const rowBytes = <usize>hd << 2;
  const sBytes = <usize>len << 4;
  const M = work + <usize>HKV * sBytes; // each head's score maxima
  const W = M + (<usize>HKV << 4);
  const Kf = W + (<usize>VBLOCK << 6);
  const scale = <f32>(1.0 / Math.sqrt(<f64>hd));
  const limits = tileLimits(0, Z, G, pos0);
  const r1 = min(1, Z - 1), r2 = min(2, Z - 1), r3 = min(3, Z - 1);
  for (let g = 0; g < HKV; g++) v128.store(M + (<usize>g << 4), f32x4.splat(<f32>-Infinity));
  for (let p0 = 0; p0 < len; p0 += VBLOCK) {
    const n = min(VBLOCK, len - p0);
    for (let g = 0; g < HKV; g++) {
      let k = keys + <usize>p0 * stride + <usize>(g * hd) * elem;
      let kStride = stride;
      if (half) {
        widenHalfRows(k, stride, n, hd, Kf);
        k = Kf;
        kStride = rowBytes;
      }
      const at = M + (<usize>g << 4);
      const max = scoreTile(
        q + queryRow(0, g, G, H, hd), q + queryRow(r1, g, G, H, hd), q + queryRow(r2, g, G, H, hd), q + queryRow(r3, g, G, H, hd),
        k, kStride, p0, n, hd, scale, limits, work + <usize>g * sBytes, v128.load(at),
      );
      v128.store(at, max);
    }
  }
  for (let g = 0; g < HKV; g++) softmaxTile(work + <usize>g * sBytes, len, v128.load(M + (<usize>g << 4)));
  for (let p0 = 0; p0 < len; p0 += VBLOCK) {
    const n = min(VBLOCK, len - p0);
    for (let g = 0; g < HKV; g++) {
      let v = values + <usize>p0 * stride + <usize>(g * hd) * elem;
      let vStride = stride;
      if (half) {
        widenHalfRows(v, stride, n, hd, Kf);
        v = Kf;
        vStride = rowBytes;
      }
      weightedBlock(
        work + <usize>g * sBytes, p0, n, v, vStride, hd,
        out + queryRow(0, g, G, H, hd), out + queryRow(r1, g, G, H, hd), out + queryRow(r2, g, G, H, hd), out + queryRow(r3, g, G, H, hd), W, p0 == 0,
      );
    }
  }
}
