/**
 * Ternary matrix × one token by table lookup (T-MAC / TL1 style): the decode GEMV without multiplies.
 *
 * Per token, every pair of activations (a, b) gets a table of its nine possible dots (c − 1)·a + (c' − 1)·b,
 * indexed by the 4-bit nibble c + 4c' that TQ2_0 and I2_S already store (codes c = w + 1 in 2-bit
 * fields). A row's dot is then one lookup per two weights. `i8x16.swizzle` looks up 16 lanes in one
 * 16-byte table, so the 16 lanes must be 16 rows at the same columns: the kernel walks tiles of 16 rows,
 * 128 columns ("units", 32 bytes per row) at a time, with the unit's bytes transposed so that vector m
 * holds byte m of the 16 rows. They come from either
 *   - the file layout (TQ2_0, I2_S): 16 rows are read and transposed on the fly, nothing is stored; or
 *   - the LUT layout, a copy made once by lutRepack from any format (TQ1_0 too): the transposed units
 *     themselves, in TQ2_0's arrangement (byte m of a unit holds columns m, m+32, m+64, m+96 in bits
 *     0-1, 2-3, 4-5, 6-7), ordered by column block (BLOCK columns), then tile, then unit. 2 bits per
 *     weight (TQ2_0 2.06, TQ1_0 1.69), rows padded to a multiple of 16.
 *
 * A dot needs 10 bits, so each table is two: low bytes (unsigned) and high bytes (signed); the two
 * lookups interleaved byte by byte are the row's dots as exact int16, widened to int32 every unit. The
 * result is the same integer dot as ternary-gemv.ts with ternary-scale.ts's float rule on top, so outputs
 * are bit-identical to ternaryMatmulRef.
 *
 * Cost per 64 weights: 1 load, 3 ops for the indices, 4 table loads, 4 swizzles, 4 interleaves, 4 adds.
 * In V8's x86 code that is about 6 instructions per 16 weights, 9 in SIMD128 (V8 adds a saturating add
 * and a constant load to every non-relaxed swizzle); the relaxed dot takes about 4, SIMD128's widening
 * dot about 16, and TQ1_0's base-3 unpacking adds about 6 to either. The decode path therefore uses the
 * LUT layout in the SIMD128 build and for TQ1_0 (kernels.ts, lutCopy). The on-the-fly path is measured
 * in bench/lut.ts but used nowhere: reading 16 rows at once, it runs slower than the dot kernels once
 * the weights come from memory.
 *
 * Not here: several tokens (ternary-gemm.ts); reading TQ1_0 on the fly (its base-3 bytes are not
 * nibble indices: decoding them first costs more than the dot kernel).
 */
import { bytes, gOne } from "./simd";
import { decodeRow } from "./ternary-gemm";
import { gemvRows } from "./ternary-gemv";
import {
  FORMAT_I2_S, FORMAT_TQ1_0, FORMAT_TQ2_0, TQ2_BLOCK_BYTES, addChunk, cFormat, cGroup, cHasUniform, cK, cN, cQ, cQsum, cQtot,
  contextBytes, finish, outAddress, rowAddress, rowResult, setContext,
} from "./ternary-scale";

/** Rows per tile: one swizzle serves 16 rows. */
const TILE: i32 = 16;
/** Bytes of one unit (128 columns) of one row. */
const UNIT_BYTES: i32 = 32;
/** Tables per unit: 32 bytes × (low nibble, high nibble) × (low bytes, high bytes) × 16. */
const UNIT_TABLE_BYTES: i32 = 32 * 64;
/**
 * Columns per block of the LUT layout: the kernel passes every tile over one block before the next, so
 * the block's tables (8 KB) stay in L1 instead of being read again from L2 for every tile (a 16-row tile
 * reads 4 bytes of tables per byte of weights).
 */
const BLOCK: i32 = 512;

// Which file layout the unit bytes come from (type markers, see Tq2 in ternary-scale.ts).
class FileTq2 {}
class FileI2s {}

/**
 * ternaryRows' format code for "weights is a LUT-layout copy" (one token, one weight scale per matrix:
 * the layout keeps no block scales).
 */
export const FORMAT_LUT: i32 = 3;

/** Bytes of the LUT layout of an [N, K] matrix (K a multiple of 128). */
export function lutBytes(N: i32, K: i32): usize {
  return <usize>((N + TILE - 1) / TILE) * TILE * (<usize>K >> 2);
}

/** Scratch bytes lutRepack needs: one row of codes, 16 rows in TQ2_0's arrangement, 16 row pointers. */
export function lutRepackWorkBytes(K: i32): usize {
  return <usize>K + <usize>TILE * (K >> 2) + TILE * 4;
}

/** Scratch bytes lutRows needs: the call context, then lutGemvWorkBytes. */
export function lutWorkBytes(K: i32): usize {
  return contextBytes(1, K) + lutGemvWorkBytes(K);
}

/** Scratch bytes lutGemvRows needs after the call context: the tables, one transposed unit, row pointers and sums. */
export function lutGemvWorkBytes(K: i32): usize {
  return <usize>(K >> 7) * UNIT_TABLE_BYTES + TILE * UNIT_BYTES + 3 * TILE * 4;
}

// 16 × 8 byte transposition steps: each interleaves two vectors' low (or high) halves.
// @ts-ignore: decorator
@inline function zip8(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}
// @ts-ignore: decorator
@inline function zip16lo(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}
// @ts-ignore: decorator
@inline function zip16hi(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}
// @ts-ignore: decorator
@inline function zip32lo(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
}
// @ts-ignore: decorator
@inline function zip32hi(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
}
// @ts-ignore: decorator
@inline function zip64lo(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}
// @ts-ignore: decorator
@inline function zip64hi(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}

/** 8 bytes at row pointer i (of the 16 at `rows`) + off, in the low half. */
// @ts-ignore: decorator
@inline function rowLoad(rows: usize, i: usize, off: usize): v128 {
  return v128.load64_zero(<usize>load<u32>(rows + (i << 2)) + off);
}

/**
 * dst[16·m + i] = byte m of row i, for the 32 bytes at row pointer i + off (i < 16, pointers as u32 at
 * `rows`): one unit transposed, 8 columns of bytes at a time (4 interleave stages of 8 shuffles).
 */
function transposeUnit(rows: usize, off: usize, dst: usize): void {
  for (let s: usize = 0; s < 32; s += 8) {
    const o = off + s;
    // rows 2k, 2k+1 → bytes 0..7 of both
    const a0 = zip8(rowLoad(rows, 0, o), rowLoad(rows, 1, o)), a1 = zip8(rowLoad(rows, 2, o), rowLoad(rows, 3, o));
    const a2 = zip8(rowLoad(rows, 4, o), rowLoad(rows, 5, o)), a3 = zip8(rowLoad(rows, 6, o), rowLoad(rows, 7, o));
    const a4 = zip8(rowLoad(rows, 8, o), rowLoad(rows, 9, o)), a5 = zip8(rowLoad(rows, 10, o), rowLoad(rows, 11, o));
    const a6 = zip8(rowLoad(rows, 12, o), rowLoad(rows, 13, o)), a7 = zip8(rowLoad(rows, 14, o), rowLoad(rows, 15, o));
    // rows 4j..4j+3: bytes 0..3 (c), bytes 4..7 (d)
    const c0 = zip16lo(a0, a1), d0 = zip16hi(a0, a1), c1 = zip16lo(a2, a3), d1 = zip16hi(a2, a3);
    const c2 = zip16lo(a4, a5), d2 = zip16hi(a4, a5), c3 = zip16lo(a6, a7), d3 = zip16hi(a6, a7);
    // rows 0..7 (…0) and 8..15 (…1): bytes 0,1 (e), 2,3 (f), 4,5 (g), 6,7 (h)
    const e0 = zip32lo(c0, c1), f0 = zip32hi(c0, c1), e1 = zip32lo(c2, c3), f1 = zip32hi(c2, c3);
    const g0 = zip32lo(d0, d1), h0 = zip32hi(d0, d1), g1 = zip32lo(d2, d3), h1 = zip32hi(d2, d3);
    const t = dst + (s << 4);
    v128.store(t, zip64lo(e0, e1));
    v128.store(t, zip64hi(e0, e1), 16);
    v128.store(t, zip64lo(f0, f1), 32);
    v128.store(t, zip64hi(f0, f1), 48);
    v128.store(t, zip64lo(g0, g1), 64);
    v128.store(t, zip64hi(g0, g1), 80);
    v128.store(t, zip64lo(h0, h1), 96);
    v128.store(t, zip64hi(h0, h1), 112);
  }
}

/**
 * Writes the LUT layout of the [N, K] matrix `weights` (format as in ternaryRows) to `dst`
 * (lutBytes(N, K) bytes); `work` is lutRepackWorkBytes(K) bytes of scratch.
 */
export function lutRepack(format: i32, weights: usize, N: i32, K: i32, dst: usize, work: usize): void {
  setContext(format, weights, N, K, 0, 0, 0, K, 0, false, 1, 0, work); // T = 0: only the layout fields
  const codes = work;
  const rowBytes = <usize>K >> 2;
  const encoded = codes + <usize>K;
  const rows = encoded + <usize>TILE * rowBytes;
  const units = K >> 7;
  for (let base = 0; base < N; base += TILE) {
    for (let i = 0; i < TILE; i++) {
      // Rows past the end repeat the last one: their results are never stored.
      const r = min(base + i, N - 1);
      const row = encoded + <usize>i * rowBytes;
      store<u32>(rows + (<usize>i << 2), <u32>row);
      if (format == FORMAT_TQ2_0) {
        const p = rowAddress(r);
        for (let u = 0; u < units; u++) {
          const from = p + <usize>(u >> 1) * TQ2_BLOCK_BYTES + ((u & 1) << 5);
          v128.store(row + (<usize>u << 5), v128.load(from));
          v128.store(row + (<usize>u << 5), v128.load(from, 16), 16);
        }
      } else {
        decodeRow(r, codes);
        for (let u = 0; u < units; u++) {
          for (let m: usize = 0; m < 32; m += 8) encodeBytes(codes + (<usize>u << 7) + m, row + (<usize>u << 5) + m);
        }
      }
    }
    for (let u = 0; u < units; u++) transposeUnit(rows, <usize>u << 5, packedUnit(dst, N, K, base, u));
  }
}

/** Address of unit u (128 columns) of the tile of rows base..base+15 in the LUT layout at `lut`. */
// @ts-ignore: decorator
@inline function packedUnit(lut: usize, N: i32, K: i32, base: i32, u: i32): usize {
  const k0 = (u << 7) / BLOCK * BLOCK;
  const width = min(BLOCK, K - k0);
  const rowsPadded = <usize>((N + TILE - 1) & ~(TILE - 1));
  return lut + rowsPadded * (<usize>k0 >> 2) + <usize>base * (<usize>width >> 2) + (<usize>(u - (k0 >> 7)) << 9);
}

/** 8 bytes of TQ2_0's arrangement from the codes at c (columns +0, +32, +64, +96 in bits 0-1 … 6-7). */
// @ts-ignore: decorator
@inline function encodeBytes(c: usize, dst: usize): void {
  const v = v128.or(
    v128.or(v128.load64_zero(c), i16x8.shl(v128.load64_zero(c + 32), 2)),
    v128.or(i16x8.shl(v128.load64_zero(c + 64), 4), i16x8.shl(v128.load64_zero(c + 96), 6)),
  );
  store<u64>(dst, i64x2.extract_lane(v, 0));
}

/**
 * The tables of one token's K activations at `x`, for units whose byte m holds columns m + o0, m + o1
 * (low nibble, bits 0-1 and 2-3) and m + o2, m + o3 (high nibble): per unit u and byte m, 64 bytes at
 * dst + (32u + m)·64 — low-nibble table low bytes, high bytes; high-nibble table low bytes, high bytes.
 */
function buildTables(x: usize, K: i32, dst: usize, o0: usize, o1: usize, o2: usize, o3: usize): void {
  const one = i16x8.splat(<i16>gOne);
  // Entry n = c + 4c' is (c − 1)·a + (c' − 1)·b; entries whose c or c' would be 3 are never looked up (0).
  const u0 = i16x8.mul(i16x8(-1, 0, 1, 0, -1, 0, 1, 0), one), u1 = i16x8.mul(i16x8(-1, 0, 1, 0, 0, 0, 0, 0), one);
  const v0 = i16x8.mul(i16x8(-1, -1, -1, 0, 0, 0, 0, 0), one), v1 = i16x8.mul(i16x8(1, 1, 1, 0, 0, 0, 0, 0), one);
  const low = i16x8.splat(<i16>(0xff * gOne));
  for (let u = 0; u < K; u += 128) {
    for (let m = 0; m < 32; m++) {
      const xm = x + <usize>(u + m);
      const t = dst + (<usize>((u >> 2) + m) << 6);
      for (let half: usize = 0; half < 2; half++) {
        const a = i16x8.splat(<i16>load<i8>(xm + (half ? o2 : o0))), b = i16x8.splat(<i16>load<i8>(xm + (half ? o3 : o1)));
        const e0 = i16x8.add(i16x8.mul(a, u0), i16x8.mul(b, v0)), e1 = i16x8.add(i16x8.mul(a, u1), i16x8.mul(b, v1));
        v128.store(t + (half << 5), i8x16.narrow_i16x8_u(v128.and(e0, low), v128.and(e1, low)));
        v128.store(t + (half << 5), i8x16.narrow_i16x8_s(i16x8.shr_s(e0, 8), i16x8.shr_s(e1, 8)), 16);
      }
    }
  }
}

/** Table lookup: indices are always < 16, where the relaxed swizzle (one pshufb on x86) is exact. */
// @ts-ignore: decorator
@inline function lookup(table: v128, index: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(table, index);
  return i8x16.swizzle(table, index);
}

/**
 * dots[0..16) += Σ over one unit of row i's dot, from the unit's transposed bytes at `p` (vector m =
 * byte m of the 16 rows) and its tables at `t`. The int16 lanes hold 64 lookups of |e| ≤ 256: no overflow.
 */
// @ts-ignore: decorator
@inline function unitDots(p: usize, t: usize, dots: usize, m4: v128): void {
  // a: low nibbles, b: high nibbles; …0 rows 0-7, …1 rows 8-15
  let a0 = i16x8.splat(0), a1 = a0, b0 = a0, b1 = a0;
  for (let m = 0; m < 32; m++) {
    const v = v128.load(p);
    const i0 = v128.and(v, m4), i1 = v128.and(i16x8.shr_u(v, 4), m4);
    let lo = lookup(v128.load(t), i0), hi = lookup(v128.load(t, 16), i0);
    a0 = i16x8.add(a0, i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
    a1 = i16x8.add(a1, i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
    lo = lookup(v128.load(t, 32), i1);
    hi = lookup(v128.load(t, 48), i1);
    b0 = i16x8.add(b0, i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
    b1 = i16x8.add(b1, i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
    p += 16;
    t += 64;
  }
  a0 = i16x8.add(a0, b0);
  a1 = i16x8.add(a1, b1);
  v128.store(dots, i32x4.add(v128.load(dots), i32x4.extend_low_i16x8_s(a0)));
  v128.store(dots, i32x4.add(v128.load(dots, 16), i32x4.extend_high_i16x8_s(a0)), 16);
  v128.store(dots, i32x4.add(v128.load(dots, 32), i32x4.extend_low_i16x8_s(a1)), 32);
  v128.store(dots, i32x4.add(v128.load(dots, 48), i32x4.extend_high_i16x8_s(a1)), 48);
}

/** Four zero vectors at p. */
// @ts-ignore: decorator
@inline function clear64(p: usize): void {
  const z = i32x4.splat(0);
  v128.store(p, z);
  v128.store(p, z, 16);
  v128.store(p, z, 32);
  v128.store(p, z, 48);
}

/** out[0, r0..r1) from file layout L, a tile at a time (its 16 rows are read together). */
function fileRows<L>(r0: i32, r1: i32, work: usize): void {
  const K = cK;
  const tables = work;
  const unit = tables + <usize>(K >> 7) * UNIT_TABLE_BYTES; // one transposed unit (file layouts)
  const rows = unit + TILE * UNIT_BYTES; // u32[16]: row pointers (file layouts)
  const dots = rows + TILE * 4; // i32[16]: the tile's dots, per unit or chunk
  const ys = dots + TILE * 4; // f32[16]: running per-chunk sums
  if (idof<L>() == idof<FileI2s>()) buildTables(cQ, K, tables, 96, 64, 32, 0);
  else buildTables(cQ, K, tables, 0, 32, 64, 96);
  const perRow = cHasUniform && cGroup == cK;
  const m4 = bytes(0x0f);
  const units = K >> 7;
  for (let base = r0 - r0 % TILE; base < r1; base += TILE) {
    for (let i = 0; i < TILE; i++) store<u32>(rows + (<usize>i << 2), <u32>rowAddress(min(base + i, cN - 1)));
    clear64(dots);
    if (!perRow) clear64(ys);
    for (let u = 0; u < units; u++) {
      const off = idof<L>() == idof<FileTq2>() ? <usize>(u >> 1) * TQ2_BLOCK_BYTES + ((u & 1) << 5) : <usize>u << 5;
      transposeUnit(rows, off, unit);
      unitDots(unit, tables + <usize>u * UNIT_TABLE_BYTES, dots, m4);
      if (!perRow && (u & 1) == 1) {
        // A 256-column chunk is done: its dots go through the per-chunk float rule.
        const c = u >> 1;
        const qsum = load<i32>(cQsum + (<usize>c << 2));
        for (let i = 0; i < TILE; i++) {
          const y = ys + (<usize>i << 2);
          store<f32>(y, addChunk(load<f32>(y), load<i32>(dots + (<usize>i << 2)) + qsum, 0, min(base + i, r1 - 1), c));
        }
        clear64(dots);
      }
    }
    const end = min(base + TILE, r1);
    const qtot = load<i32>(cQtot);
    for (let r = max(base, r0); r < end; r++) {
      const i = <usize>(r - base) << 2;
      // rowResult and addChunk take code dots Σ(w + 1)·q, i.e. Σ w·q + Σq.
      store<f32>(outAddress(0, r), perRow ? rowResult(load<i32>(dots + i) + qtot, 0) : finish(load<f32>(ys + i)));
    }
  }
}

/**
 * out[0, r0..r1) from the LUT layout at `lut`, one column block at a time for every tile. Between
 * blocks each row's running value waits in its own output slot: the int32 dot (one scale per row) or
 * the float32 sum of the chunks so far. Tiles cut by r0 or r1 are computed whole, stored only inside.
 */
function packedRows(lut: usize, r0: i32, r1: i32, work: usize): void {
  const K = cK;
  const tables = work;
  const dots = tables + <usize>(K >> 7) * UNIT_TABLE_BYTES + TILE * UNIT_BYTES + TILE * 4; // i32[16]
  buildTables(cQ, K, tables, 0, 32, 64, 96);
  const perRow = cHasUniform && cGroup == cK;
  const m4 = bytes(0x0f);
  for (let r = r0; r < r1; r++) store<i32>(outAddress(0, r), 0); // also f32 0
  for (let k0 = 0; k0 < K; k0 += BLOCK) {
    const units = min(BLOCK, K - k0) >> 7;
    for (let base = r0 - r0 % TILE; base < r1; base += TILE) {
      let p = packedUnit(lut, cN, K, base, k0 >> 7);
      let t = tables + <usize>(k0 >> 7) * UNIT_TABLE_BYTES;
      const lo = max(base, r0) - base, hi = min(base + TILE, r1) - base;
      clear64(dots);
      for (let u = 0; u < units; u++) {
        unitDots(p, t, dots, m4);
        p += TILE * UNIT_BYTES;
        t += UNIT_TABLE_BYTES;
        if (!perRow && (u & 1) == 1) {
          // A 256-column chunk is done: the per-chunk float rule, with code dots (Σ w·q + Σq).
          const c = (k0 >> 8) + (u >> 1);
          const qsum = load<i32>(cQsum + (<usize>c << 2));
          for (let i = lo; i < hi; i++) {
            const y = outAddress(0, base + i);
            store<f32>(y, addChunk(load<f32>(y), load<i32>(dots + (<usize>i << 2)) + qsum, 0, base + i, c));
          }
          clear64(dots);
        }
      }
      if (perRow) {
        for (let i = lo; i < hi; i++) {
          const y = outAddress(0, base + i);
          store<i32>(y, load<i32>(y) + load<i32>(dots + (<usize>i << 2)));
        }
      }
    }
  }
  const qtot = load<i32>(cQtot);
  for (let r = r0; r < r1; r++) {
    const y = outAddress(0, r);
    store<f32>(y, perRow ? rowResult(load<i32>(y) + qtot, 0) : finish(load<f32>(y)));
  }
}

/**
 * out[0, r0..r1) for the one-token matmul in the call context (setContext with T = 1), from the LUT
 * layout at `lut`, or from the file layout when `lut` is 0 (TQ2_0 and I2_S; TQ1_0 then goes to the dot
 * kernel, ternary-gemv.ts). `work`: lutGemvWorkBytes(K) bytes, 16-aligned. Only rows in [r0, r1) are
 * written, though the 16-row tiles that r0 and r1 cut are computed whole.
 */
export function lutGemvRows(lut: usize, r0: i32, r1: i32, work: usize): void {
  if (lut != 0) packedRows(lut, r0, r1, work);
  else if (cFormat == FORMAT_TQ1_0) gemvRows(0, r0, r1);
  else if (cFormat == FORMAT_I2_S) fileRows<FileI2s>(r0, r1, work);
  else fileRows<FileTq2>(r0, r1, work);
}

/**
 * out[0, r0..r1) of a one-token ternary matmul (arguments as ternaryRows, T = 1) by table lookup: from
 * the LUT layout at `lut` (then `weights` is read only for per-block scales), or from `weights` itself
 * when `lut` is 0 (TQ2_0 and I2_S). `work`: lutWorkBytes(K) bytes, 64-aligned.
 */
export function lutRows(
  format: i32, weights: usize, lut: usize, N: i32, K: i32, q: usize, factors: usize, group: i32,
  uniform: f64, hasUniform: bool, outScale: f64, out: usize, work: usize, r0: i32, r1: i32,
): void {
  setContext(format, weights, N, K, q, 1, factors, group, uniform, hasUniform, outScale, out, work);
  lutGemvRows(lut, r0, r1, work + contextBytes(1, K));
}
