/**
 * SIMD primitives shared by the kernels, written once for the two builds: with relaxed SIMD
 * (ASC_FEATURE_RELAXED_SIMD) the byte dot is one `i32x4.relaxed_dot_i8x16_i7x16_add_s`; without it, an
 * exact SIMD128 widening emulation. Not here: anything that knows a weight layout.
 *
 * AssemblyScript, not TypeScript: compiled by `npm run build:wasm`, excluded from tsc and eslint.
 */

/**
 * The value 1, set by `setup()` at instantiation. Vector constants are built from it once per call
 * (`splat(k * gOne)`): V8 re-materializes literal v128 constants inside every loop iteration, while a
 * value computed before the loop stays in a register. Binaryen cannot fold it because JS writes it.
 */
export let gOne: i32 = 1;

/** Splat of a byte constant that the optimizers cannot see through (see gOne). */
// @ts-ignore: decorator
@inline export function bytes(k: i32): v128 {
  return i8x16.splat(<i8>(k * gOne));
}

/**
 * acc + Σ x·c over each group of four byte lanes. `x` is signed int8; `c` must lie in [0, 127]: that is
 * the relaxed dot's 7-bit operand, and the only way its result is the same on every platform.
 */
// @ts-ignore: decorator
@inline export function dotAcc(acc: v128, x: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_dot_i8x16_i7x16_add_s(x, c, acc);
  // The kernels pass c ≤ 8 (plane 1 masked in place is codes·4), so |x·c| ≤ 1024 and two products fit an i16 lane.
  const p = i16x8.add(i16x8.extmul_low_i8x16_s(x, c), i16x8.extmul_high_i8x16_s(x, c));
  return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(p));
}

/** Sum of the four i32 lanes. */
// @ts-ignore: decorator
@inline export function hsum(a: v128): i32 {
  const s = i32x4.add(a, i8x16.shuffle(a, a, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1);
}

/** [Σa, Σb, Σc, Σd]: four horizontal sums at once. */
// @ts-ignore: decorator
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i8x16.shuffle(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), i8x16.shuffle(a, b, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31));
  const cd = i32x4.add(i8x16.shuffle(c, d, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), i8x16.shuffle(c, d, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31));
  // ab = [a0+a2, b0+b2, a1+a3, b1+b3], cd likewise
  return i32x4.add(i8x16.shuffle(ab, cd, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), i8x16.shuffle(ab, cd, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
}

/** float32 value of IEEE half bits `h` (exact, including subnormals, infinities and NaN). */
export function f16ToF32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const mag = h & 0x7fff;
  if (mag >= 0x7c00) return reinterpret<f32>(sign | 0x7f800000 | ((mag & 0x3ff) << 13));
  // mag<<13 read as float32 is the value scaled by 2^-112, subnormals included; 0x77800000 is 2^112.
  const v = reinterpret<f32>(mag << 13) * reinterpret<f32>(0x77800000);
  return reinterpret<f32>(reinterpret<u32>(v) | sign);
}

export function setOne(one: i32): void {
  gOne = one;
}
