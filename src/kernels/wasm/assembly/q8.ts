/**
 * Q8_0 weights × Q8_0 activations (an int8 output head, or any Q8_0 matrix), as llama.cpp computes a
 * Q8_0 matmul: per 32-value block an exact integer dot, times d_w·d_x, summed in float32.
 * Reached through floatRows (float.ts) with format FLOAT_Q8_0, so that threads split its rows as they
 * split every float matmul.
 *
 * Weights: the file's blocks, 34 bytes each (d as fp16, then 32 int8), row after row. They must hold
 * no code -128 and no Inf/NaN scale (q8Check finds them; the JavaScript side sends such matrices to the
 * reference instead).
 * Activations at `x`, [T, K] each: q (int8 in [-127, 127]), |q|, the sign masks of q (0 or -1 per
 * byte), then the block scales [T, K/32] as float32. The relaxed build dots |q| (the byte dot's 7-bit
 * operand) with the weights given q's sign ((w ^ m) - m, which cannot overflow since w ≠ -128); the
 * SIMD128 build multiplies q and w directly (widening products), which measured faster there.
 *
 * The float part is fixed so that the result is bit-identical to src/kernels/q8-ref.ts on both
 * builds: block b of a row goes to float32 lane b mod 4 as acc += f32(dot)·(d_w·d_x) (a multiply, then
 * an add: no fused multiply-add), and the row's value is (lane0 + lane2) + (lane1 + lane3).
 * d_w·d_x is exact (two 11-bit mantissas), and so is the conversion of a block's dot (|dot| < 2^20).
 * Not here: quantizing the activations (the JavaScript side, src/quant/codecs/q8_0.ts).
 */
import { dotAcc, f16ToF32, gOne, hsum, hsum4 } from "./simd";

const BLOCK_BYTES: usize = 34;

/**
 * The integer dot of one 32-value block, per group of four bytes: weight codes at p + 2, q at x, |q| at
 * x + `plane`, sign masks at x + 2·`plane`. Widening products: |q·w| ≤ 127·127, so two fit an i16 lane.
 */
// @ts-ignore: decorator
@inline function blockDot(p: usize, x: usize, plane: usize, z: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const a = x + plane, m = a + plane;
    const m0 = v128.load(m), m1 = v128.load(m, 16);
    const w0 = i8x16.sub(v128.xor(v128.load(p, 2), m0), m0);
    const w1 = i8x16.sub(v128.xor(v128.load(p, 18), m1), m1);
    return dotAcc(dotAcc(z, w0, v128.load(a)), w1, v128.load(a, 16));
  }
  const w0 = v128.load(p, 2), w1 = v128.load(p, 18), x0 = v128.load(x), x1 = v128.load(x, 16);
  const lo = i16x8.add(i16x8.extmul_low_i8x16_s(x0, w0), i16x8.extmul_high_i8x16_s(x0, w0));
  const hi = i16x8.add(i16x8.extmul_low_i8x16_s(x1, w1), i16x8.extmul_high_i8x16_s(x1, w1));
  return i32x4.add(i32x4.extadd_pairwise_i16x8_s(lo), i32x4.extadd_pairwise_i16x8_s(hi));
}

/** Four fp16 scales, BLOCK_BYTES apart from p, as float32 (finite halves only; see halfBits in float.ts). */
// @ts-ignore: decorator
@inline function scales4(p: usize, z: v128, mask: v128, scale: v128): v128 {
  let h = v128.load16_lane(p, z, 0);
  h = v128.load16_lane(p + BLOCK_BYTES, h, 1);
  h = v128.load16_lane(p + 2 * BLOCK_BYTES, h, 2);
  h = v128.load16_lane(p + 3 * BLOCK_BYTES, h, 3);
  const top = i8x16.shuffle(z, h, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  return f32x4.mul(v128.and(i32x4.shr_s(top, 3), mask), scale);
}

/** Σ over the row's blocks of dot·d_w·d_x, in the lane order the file comment fixes. */
// @ts-ignore: decorator
@inline function rowDot(p: usize, a: usize, plane: usize, xs: usize, nb: i32, z: v128, mask: v128, scale: v128): f32 {
  let acc = f32x4.splat(0);
  const nb4 = nb & ~3;
  let b = 0;
  for (; b < nb4; b += 4) {
    const x = a + (<usize>b << 5);
    const dots = hsum4(blockDot(p, x, plane, z), blockDot(p + BLOCK_BYTES, x + 32, plane, z), blockDot(p + 2 * BLOCK_BYTES, x + 64, plane, z), blockDot(p + 3 * BLOCK_BYTES, x + 96, plane, z));
    const d = f32x4.mul(scales4(p, z, mask, scale), v128.load(xs + (<usize>b << 2)));
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(dots), d));
    p += 4 * BLOCK_BYTES;
  }
  let a0 = f32x4.extract_lane(acc, 0), a1 = f32x4.extract_lane(acc, 1), a2 = f32x4.extract_lane(acc, 2);
  const a3 = f32x4.extract_lane(acc, 3);
  // At most three blocks remain; block nb4 + j belongs to lane j.
  for (let j = 0; b < nb; b++, j++) {
    const s = <f32>hsum(blockDot(p, a + (<usize>b << 5), plane, z)) * (f16ToF32(load<u16>(p)) * load<f32>(xs + (<usize>b << 2)));
    if (j == 0) a0 += s;
    else if (j == 1) a1 += s;
    else a2 += s;
    p += BLOCK_BYTES;
  }
  return (a0 + a2) + (a1 + a3);
}

/**
 * out[T, r0..r1) = x[T, K] · W[r0..r1, K]ᵀ for Q8_0 weights at `w` and Q8_0 activations at `x` (see the
 * file comment). K must be a multiple of 32. One row at a time, every token against it while it is in
 * the cache: the weights stay one sequential stream.
 */
export function q8Rows(w: usize, N: i32, K: i32, x: usize, T: i32, outScale: f64, out: usize, r0: i32, r1: i32): void {
  const z = i32x4.splat(gOne - 1);
  const mask = i32x4.splat(0x8fffe000 * gOne), scale = f32x4.splat(reinterpret<f32>(0x77800000 * gOne));
  const nb = K >> 5;
  const rowBytes = <usize>nb * BLOCK_BYTES;
  const plane = <usize>T * K;
  const xs = x + 3 * plane;
  for (let r = r0; r < r1; r++) {
    const p = w + <usize>r * rowBytes;
    for (let t = 0; t < T; t++) {
      const y = rowDot(p, x + <usize>t * K, plane, xs + ((<usize>t * nb) << 2), nb, z, mask, scale);
      store<f32>(out + ((<usize>t * N + r) << 2), outScale == 1.0 ? y : <f32>(<f64>y * outScale));
    }
  }
}

/**
 * What keeps a Q8_0 matrix of `blocks` blocks at `w` off this kernel: bit 0 set if a scale is Inf or
 * NaN, bit 1 if a code is -128. Zero means the kernel computes it exactly.
 */
export function q8Check(w: usize, blocks: usize): i32 {
  const lowest = i8x16.splat(<i8>(-128 * gOne));
  let minus = i8x16.splat(0);
  let nonFinite = 0;
  for (let b: usize = 0; b < blocks; b++) {
    const p = w + b * BLOCK_BYTES;
    nonFinite |= <i32>((load<u16>(p) & 0x7c00) == 0x7c00);
    minus = v128.or(minus, v128.or(i8x16.eq(v128.load(p, 2), lowest), i8x16.eq(v128.load(p, 18), lowest)));
  }
  return nonFinite | (<i32>v128.any_true(minus) << 1);
}
