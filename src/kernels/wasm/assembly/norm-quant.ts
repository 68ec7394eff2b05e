/**
 * RMSNorm and int8 activation quantization, fused or apart, bit-identical to the TypeScript reference
 * (src/kernels/ops.ts rmsnorm, then src/quant/absmax.ts through src/kernels/activations.ts) in both
 * modes: per token (BitNet) and per 256-block (llama.cpp's Q8_K).
 *
 * What must match exactly, and how:
 * - The sum of squares is a float64 sum in index order (each square is exact in float64). Any other
 *   order rounds differently, so it stays a sequential chain; four tokens run as four independent chains
 *   to hide the add latency. The row scale is then f32(1/sqrt(f32(ss/n) + eps)) in float64, as written.
 * - x·scale·w, x·s and iscale·x are single float32 products (what Math.fround of the float64 product
 *   gives), so they are plain f32x4 multiplies; rounding half to even is f32x4.nearest.
 * - s = f32(127/max(amax, f32(1e-5))), 1/s, -127/max and 1/iscale are float64 divisions rounded to float32,
 *   as the reference computes them.
 * A status tells the JavaScript side to call the reference instead, which throws the reference's
 * error (non-finite activations) or takes ggml's path for a block whose scale overflows float32.
 */

import { gOne } from "./simd";

export const QUANT_NONE: i32 = -1;
export const QUANT_TOKEN: i32 = 0;
export const QUANT_BLOCK256: i32 = 1;
export const STATUS_OK: i32 = 0;
/** An activation is NaN or infinite: the reference throws. */
export const STATUS_NON_FINITE: i32 = 1;
/** A block's -127/max overflows (a maximum below ~4e-37): the reference takes ggml's exact path. */
export const STATUS_NEEDS_REFERENCE: i32 = 2;

const INF_BITS: i32 = 0x7f800000;

// @ts-ignore: decorator
@inline function rowScale(ss: f64, n: i32, eps: f64): f32 {
  return <f32>(1.0 / Math.sqrt(<f64><f32>(ss / <f64>n) + eps));
}

/** out[i] = f32(x[i]·scale)·w[i] over one row. */
function normalizeRow(x: usize, w: usize, out: usize, n: i32, scale: f32): void {
  const s = f32x4.splat(scale);
  const end = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < end; o += 16) v128.store(out + o, f32x4.mul(f32x4.mul(v128.load(x + o), s), v128.load(w + o)));
  for (; o < <usize>n << 2; o += 4) store<f32>(out + o, (load<f32>(x + o) * scale) * load<f32>(w + o));
}

/**
 * max |x[i]| over n floats, as bits: for non-negative floats the order of the bit patterns as integers
 * is the order of the values, with +∞ (0x7F800000) above every finite value and NaN above +∞. So one
 * integer max finds the maximum exactly, and a result ≥ 0x7F800000 says a value was not finite.
 */
function absMaxBits(x: usize, n: i32): i32 {
  const abs = i32x4.splat(0x7fffffff * gOne);
  let m = i32x4.splat(0);
  const end = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < end; o += 16) m = i32x4.max_s(m, v128.and(v128.load(x + o), abs));
  let r = max(max(i32x4.extract_lane(m, 0), i32x4.extract_lane(m, 1)), max(i32x4.extract_lane(m, 2), i32x4.extract_lane(m, 3)));
  for (; o < <usize>n << 2; o += 4) r = max(r, load<i32>(x + o) & 0x7fffffff);
  return r;
}

/**
 * q[i] = clamp(roundHalfEven(f32(x[i]·s)), -128, 127) over n values; returns Σq. Requires |x[i]·s| < 2^22
 * (both rules keep it near 127): adding 1.5·2^23 in float32 then rounds to an integer, half to even,
 * and leaves it in the low mantissa bits. The clamp is the per-token rule's; per block, ggml's
 * min(127, ·) is all that applies and the values never reach -128.
 */
function quantizeSpan(x: usize, n: i32, s: f32, q: usize): i32 {
  const sv = f32x4.splat(s), magic = f32x4.splat(<f32>12582912 * <f32>gOne), magicBits = i32x4.splat(0x4b400000 * gOne);
  const top = i32x4.splat(127 * gOne), bottom = i32x4.splat(-128 * gOne);
  let acc = i32x4.splat(0);
  const end = <usize>(n & ~15);
  let i: usize = 0;
  for (; i < end; i += 16) {
    const p = x + (i << 2);
    const a = i32x4.max_s(i32x4.min_s(i32x4.sub(f32x4.add(f32x4.mul(v128.load(p), sv), magic), magicBits), top), bottom);
    const b = i32x4.max_s(i32x4.min_s(i32x4.sub(f32x4.add(f32x4.mul(v128.load(p, 16), sv), magic), magicBits), top), bottom);
    const c = i32x4.max_s(i32x4.min_s(i32x4.sub(f32x4.add(f32x4.mul(v128.load(p, 32), sv), magic), magicBits), top), bottom);
    const d = i32x4.max_s(i32x4.min_s(i32x4.sub(f32x4.add(f32x4.mul(v128.load(p, 48), sv), magic), magicBits), top), bottom);
    acc = i32x4.add(acc, i32x4.add(i32x4.add(a, b), i32x4.add(c, d)));
    v128.store(q + i, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d)));
  }
  let sum = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (; i < <usize>n; i++) {
    const v = <i32>min(max(nearest(load<f32>(x + (i << 2)) * s), <f32>-128), <f32>127);
    store<i8>(q + i, <i8>v);
    sum += v;
  }
  return sum;
}

/** BitNet's per-token rule over one row: s = f32(127/max(amax, f32(1e-5))), factor = f32(1/s). */
function quantizeToken(x: usize, n: i32, q: usize, factor: usize, sum: usize): i32 {
  const bits = absMaxBits(x, n);
  if (bits >= INF_BITS) return STATUS_NON_FINITE;
  const amax = reinterpret<f32>(bits);
  const s = <f32>(127.0 / <f64>max(amax, <f32>1e-5));
  store<f32>(factor, <f32>(1.0 / <f64>s));
  store<i32>(sum, quantizeSpan(x, n, s, q));
  return STATUS_OK;
}

/** The first element of the block whose |x| has the bits amaxBits (the reference keeps the first on ties), signed. */
function firstOfMagnitude(x: usize, n: i32, amaxBits: i32): f32 {
  const m = i32x4.splat(amaxBits), abs = i32x4.splat(0x7fffffff * gOne);
  for (let o: usize = 0; o < <usize>n << 2; o += 16) {
    const v = v128.load(x + o);
    const hit = i32x4.bitmask(i32x4.eq(v128.and(v, abs), m));
    if (hit != 0) return load<f32>(x + o + (<usize>ctz(hit) << 2));
  }
  return 0; // unreachable: amax is one of the |x|
}

/** Q8_K over one row of whole 256-blocks: iscale = f32(-127/max), q = min(127, round(f32(iscale·x))), d = f32(1/iscale). */
function quantizeBlocks(x: usize, n: i32, q: usize, d: usize, sums: usize): i32 {
  for (let b = 0; b < n >> 8; b++) {
    const xb = x + (<usize>b << 10);
    const qb = q + (<usize>b << 8);
    const at = <usize>b << 2;
    const bits = absMaxBits(xb, 256);
    if (bits >= INF_BITS) return STATUS_NON_FINITE;
    const amax = reinterpret<f32>(bits);
    if (bits == 0) {
      memory.fill(qb, 0, 256);
      store<f32>(d + at, 0);
      store<i32>(sums + at, 0);
      continue;
    }
    const iscale = <f32>(-127.0 / <f64>firstOfMagnitude(xb, 256, bits));
    // Every |f32(iscale·x)| is at most f32(|iscale|·amax): within the range where ggml rounds half to even.
    if (!(abs(iscale) * amax <= <f32>4194303)) return STATUS_NEEDS_REFERENCE;
    store<i32>(sums + at, quantizeSpan(xb, 256, iscale, qb));
    store<f32>(d + at, <f32>(1.0 / <f64>iscale));
  }
  return STATUS_OK;
}

/** Quantizes one row in `mode` (token t of T: its q row, factors and sums). */
// @ts-ignore: decorator
@inline function quantizeRow(x: usize, n: i32, mode: i32, t: i32, q: usize, factors: usize, sums: usize): i32 {
  const qt = q + <usize>t * n;
  if (mode == QUANT_TOKEN) return quantizeToken(x, n, qt, factors + (<usize>t << 2), sums + (<usize>t << 2));
  const at = (<usize>t * (n >> 8)) << 2;
  return quantizeBlocks(x, n, qt, factors + at, sums + at);
}

/**
 * out [T, n] = rmsnorm(x)·w (out may be x), then, unless mode is QUANT_NONE, out quantized into q [T, n],
 * factors and sums (per token, or per 256-block: n must then be a multiple of 256). Returns a STATUS.
 */
export function rmsnormQuantize(x: usize, w: usize, out: usize, T: i32, n: i32, eps: f64, mode: i32, q: usize, factors: usize, sums: usize): i32 {
  const row = <usize>n << 2;
  // After a row that cannot be quantized here, the rest are still normalized (and no longer quantized):
  // the caller's fallback quantizes all of `out` with the reference.
  let status = STATUS_OK;
  const quantize = mode != QUANT_NONE;
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const x0 = x + <usize>t * row, x1 = x0 + row, x2 = x1 + row, x3 = x2 + row;
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
    for (let o: usize = 0; o < row; o += 4) {
      const a = <f64>load<f32>(x0 + o), b = <f64>load<f32>(x1 + o), c = <f64>load<f32>(x2 + o), d = <f64>load<f32>(x3 + o);
      s0 += a * a;
      s1 += b * b;
      s2 += c * c;
      s3 += d * d;
    }
    normalizeRow(x0, w, out + <usize>t * row, n, rowScale(s0, n, eps));
    normalizeRow(x1, w, out + <usize>(t + 1) * row, n, rowScale(s1, n, eps));
    normalizeRow(x2, w, out + <usize>(t + 2) * row, n, rowScale(s2, n, eps));
    normalizeRow(x3, w, out + <usize>(t + 3) * row, n, rowScale(s3, n, eps));
    for (let j = t; j < t + 4 && quantize && status == STATUS_OK; j++) status = quantizeRow(out + <usize>j * row, n, mode, j, q, factors, sums);
  }
  for (; t < T; t++) {
    const xt = x + <usize>t * row;
    let ss: f64 = 0;
    for (let o: usize = 0; o < row; o += 4) {
      const a = <f64>load<f32>(xt + o);
      ss += a * a;
    }
    normalizeRow(xt, w, out + <usize>t * row, n, rowScale(ss, n, eps));
    if (quantize && status == STATUS_OK) status = quantizeRow(out + <usize>t * row, n, mode, t, q, factors, sums);
  }
  return status;
}

/** x [T, n] quantized in `mode` into q, factors and sums (activations.ts's quantizeActivationsRef). Returns a STATUS. */
export function quantizeRows(x: usize, T: i32, n: i32, mode: i32, q: usize, factors: usize, sums: usize): i32 {
  for (let t = 0; t < T; t++) {
    const status = quantizeRow(x + ((<usize>t * n) << 2), n, mode, t, q, factors, sums);
    if (status != STATUS_OK) return status;
  }
  return STATUS_OK;
}
