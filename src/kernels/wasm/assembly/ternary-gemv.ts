/**
 * Ternary matrix × one token (GEMV, decode), read straight from the packed file layouts, one row at a
 * time. The integer part only: Σ c·q with unsigned codes c = w + 1 ∈ {0, 1, 2}; ternary-scale.ts
 * subtracts Σq and applies the float rule.
 *
 * The reference is src/kernels/ternary-ref.ts (dotTq2Block, dotTq1Block, dotI2s). Not here: several
 * tokens per weight load (ternary-gemm.ts).
 */
import { bytes, dotAcc, hsum } from "./simd";
import {
  CHUNK, FORMAT_TQ1_0, FORMAT_TQ2_0, I2s, TQ1_BLOCK_BYTES, TQ2_BLOCK_BYTES, Tq1, Tq2,
  addChunk, cChunks, cFormat, cGroup, cHasUniform, cK, cQ, finish, outAddress, rowAddress, rowResult,
} from "./ternary-scale";

/**
 * The row's Σ c·q from its accumulators: plane 1 is masked in place (codes·4), which saves a shift;
 * every lane of that accumulator is a sum of multiples of 4, so the arithmetic shift is an exact division.
 */
// @ts-ignore: decorator
@inline function rowSum(a0: v128, a1: v128, a2: v128, a3: v128, b0: v128, b1: v128, b2: v128, b3: v128): i32 {
  return hsum(i32x4.add(i32x4.add(i32x4.add(a0, b0), i32x4.add(a3, b3)), i32x4.add(i32x4.shr_s(i32x4.add(a1, b1), 2), i32x4.add(a2, b2))));
}

/**
 * Σ c·q of one row over `blocks` TQ2_0 blocks (66 bytes: qs[64], d). Byte m of each 32-byte half holds
 * elements m, m+32, m+64, m+96 of that half in bits 0-1, 2-3, 4-5, 6-7. One row at a time keeps the
 * weights one sequential stream, which the hardware prefetchers follow (two interleaved rows ran at a
 * third of the memory bandwidth); eight accumulators (plane × even/odd step) keep every dependency chain
 * at one dot per two steps.
 */
// @ts-ignore: decorator
@inline function tq2Dot(p: usize, x: usize, blocks: i32): i32 {
  const m0 = bytes(0x03), m1 = bytes(0x0c);
  let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  for (let b = 0; b < blocks; b++) {
    for (let g: usize = 0; g < 64; g += 32) {
      // bytes g..g+31 describe elements 4g..4g+127 (g = 32: the block's second half)
      let v = v128.load(p + g);
      let xg = x + (g << 2);
      a0 = dotAcc(a0, v128.load(xg), v128.and(v, m0));
      a1 = dotAcc(a1, v128.load(xg, 32), v128.and(v, m1));
      a2 = dotAcc(a2, v128.load(xg, 64), v128.and(i16x8.shr_u(v, 4), m0));
      a3 = dotAcc(a3, v128.load(xg, 96), v128.and(i16x8.shr_u(v, 6), m0));
      v = v128.load(p + g, 16);
      xg += 16;
      b0 = dotAcc(b0, v128.load(xg), v128.and(v, m0));
      b1 = dotAcc(b1, v128.load(xg, 32), v128.and(v, m1));
      b2 = dotAcc(b2, v128.load(xg, 64), v128.and(i16x8.shr_u(v, 4), m0));
      b3 = dotAcc(b3, v128.load(xg, 96), v128.and(i16x8.shr_u(v, 6), m0));
    }
    p += TQ2_BLOCK_BYTES;
    x += CHUNK;
  }
  return rowSum(a0, a1, a2, a3, b0, b1, b2, b3);
}

/**
 * Σ c·q of one row over `groups` I2_S groups (32 bytes, 128 values). Byte j holds elements j, j+32,
 * j+64, j+96 in bits 6-7, 4-5, 2-3, 0-1: TQ2_0's planes in the opposite order.
 */
// @ts-ignore: decorator
@inline function i2sDot(p: usize, x: usize, groups: i32): i32 {
  const m0 = bytes(0x03), m1 = bytes(0x0c);
  let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  for (let b = 0; b < groups; b++) {
    let v = v128.load(p);
    a0 = dotAcc(a0, v128.load(x, 96), v128.and(v, m0));
    a1 = dotAcc(a1, v128.load(x, 64), v128.and(v, m1));
    a2 = dotAcc(a2, v128.load(x, 32), v128.and(i16x8.shr_u(v, 4), m0));
    a3 = dotAcc(a3, v128.load(x), v128.and(i16x8.shr_u(v, 6), m0));
    v = v128.load(p, 16);
    b0 = dotAcc(b0, v128.load(x, 112), v128.and(v, m0));
    b1 = dotAcc(b1, v128.load(x, 80), v128.and(v, m1));
    b2 = dotAcc(b2, v128.load(x, 48), v128.and(i16x8.shr_u(v, 4), m0));
    b3 = dotAcc(b3, v128.load(x, 16), v128.and(i16x8.shr_u(v, 6), m0));
    p += 32;
    x += 128;
  }
  return rowSum(a0, a1, a2, a3, b0, b1, b2, b3);
}

/**
 * Codes ∈ {0, 1, 2} of sixteen TQ1_0 trits. A byte holds ⌈t·256/243⌉; after multiplying by 3^n (mod
 * 256) trit n is ⌊3v/256⌋, i.e. (v > 85) + (v > 170). `t` is v ^ 0x80 so that signed compares do the
 * unsigned test; multiplying by 3 commutes with the flip (3(v+128) ≡ 3v+128 mod 256).
 */
// @ts-ignore: decorator
@inline export function trits(t: v128, lo: v128, hi: v128): v128 {
  return i8x16.abs(i8x16.add(i8x16.gt_s(t, lo), i8x16.gt_s(t, hi)));
}

// @ts-ignore: decorator
@inline export function times3(t: v128): v128 {
  return i8x16.add(i8x16.add(t, t), t);
}

/** The 4 qh bytes of a TQ1_0 block spread to 16 lanes, lane i = qh[i & 3]·3^(i >> 2) mod 256, flipped. */
// @ts-ignore: decorator
@inline export function qhLanes(p: usize, flip: v128): v128 {
  const v = i32x4.splat(load<u32>(p));
  const lo = i16x8.mul(i16x8.extend_low_i8x16_u(v), i16x8(1, 1, 1, 1, 3, 3, 3, 3));
  const hi = i16x8.mul(i16x8.extend_high_i8x16_u(v), i16x8(9, 9, 9, 9, 27, 27, 27, 27));
  const byteMask = i16x8.splat(0xff);
  return v128.xor(i8x16.narrow_i16x8_u(v128.and(lo, byteMask), v128.and(hi, byteMask)), flip);
}

/**
 * Σ c·q of one row over `blocks` TQ1_0 blocks (54 bytes: qs[48], qh[4], d). qs[0..32) byte m carries
 * elements m + 32n, qs[32..48) byte m carries 160 + m + 16n, qh byte j carries 240 + j + 4n.
 */
// @ts-ignore: decorator
@inline function tq1Dot(p: usize, x: usize, blocks: i32): i32 {
  const flip = bytes(0x80), lo = bytes(85 ^ 0x80), hi = bytes(170 ^ 0x80);
  let a0 = i32x4.splat(0), a1 = a0, a2 = a0;
  for (let b = 0; b < blocks; b++) {
    let t = v128.xor(v128.load(p), flip), t2 = v128.xor(v128.load(p, 16), flip), t3 = v128.xor(v128.load(p, 32), flip);
    for (let n: usize = 0; n < 80; n += 16) {
      a0 = dotAcc(a0, v128.load(x + 2 * n), trits(t, lo, hi));
      a1 = dotAcc(a1, v128.load(x + 2 * n, 16), trits(t2, lo, hi));
      a2 = dotAcc(a2, v128.load(x + n, 160), trits(t3, lo, hi));
      t = times3(t);
      t2 = times3(t2);
      t3 = times3(t3);
    }
    a0 = dotAcc(a0, v128.load(x, 240), trits(qhLanes(p + 48, flip), lo, hi));
    p += TQ1_BLOCK_BYTES;
    x += CHUNK;
  }
  return hsum(i32x4.add(i32x4.add(a0, a1), a2));
}

// @ts-ignore: decorator
@inline function dot<F>(p: usize, x: usize, units: i32): i32 {
  if (idof<F>() == idof<Tq2>()) return tq2Dot(p, x, units);
  if (idof<F>() == idof<Tq1>()) return tq1Dot(p, x, units);
  return i2sDot(p, x, units);
}

/** out[t, r0..r1) for format F. */
function gemvFor<F>(t: i32, r0: i32, r1: i32): void {
  const x = cQ + <usize>t * cK;
  const perRow = cHasUniform && cGroup == cK;
  // A 256-value chunk is one TQ block, or two I2_S groups.
  const isI2s = idof<F>() == idof<I2s>();
  const chunkBytes: usize = idof<F>() == idof<Tq2>() ? TQ2_BLOCK_BYTES : idof<F>() == idof<Tq1>() ? TQ1_BLOCK_BYTES : 64;
  const unitsPerChunk = isI2s ? 2 : 1;
  const units = isI2s ? cK >> 7 : cChunks;
  for (let r = r0; r < r1; r++) {
    const p = rowAddress(r);
    let y: f32;
    if (perRow) {
      y = rowResult(dot<F>(p, x, units), t);
    } else {
      y = 0;
      for (let c = 0; c < cChunks; c++) y = addChunk(y, dot<F>(p + <usize>c * chunkBytes, x + <usize>c * CHUNK, unitsPerChunk), t, r, c);
      y = finish(y);
    }
    store<f32>(outAddress(t, r), y);
  }
}

/** out[t, r0..r1) = row · token t, for the format in the call context. */
export function gemvRows(t: i32, r0: i32, r1: i32): void {
  if (cFormat == FORMAT_TQ2_0) gemvFor<Tq2>(t, r0, r1);
  else if (cFormat == FORMAT_TQ1_0) gemvFor<Tq1>(t, r0, r1);
  else gemvFor<I2s>(t, r0, r1);
}

