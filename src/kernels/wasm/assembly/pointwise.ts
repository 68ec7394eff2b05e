/**
 * Element-wise ops of the forward pass: the gated activation (SiLU or ReLU²), the residual add, and
 * float32 → float16 for the KV cache. References: src/kernels/ops.ts (gatedActivation, addInPlace) and
 * src/quant/half.ts (f32ToF16).
 *
 * - ReLU², the add and the f16 conversion are bit-identical: the reference's float64 arithmetic is
 *   repeated in f64x2 where a float32 operation would round differently (g·g·up rounds twice in float64).
 * - SiLU, g/(1 + e^-g)·up, is float64 throughout, as the reference, but e^x is this file's own float64
 *   exp (expF64, within about 1 ulp), not the JavaScript engine's Math.exp (also within 1 ulp, but
 *   unspecified). The two can differ in the last bit of a double, which changes the float32 result only
 *   when it lies within 2^-52 of a rounding boundary: about one value in 10^8, and then by 1 ulp.
 */
import { gOne } from "./simd";

/** The two 64-bit halves swapped (float32 lanes 2, 3 moved to 0, 1 for promote_low). */
// @ts-ignore: decorator
@inline function swap(v: v128): v128 {
  return i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
}

/** f32x4 of two f64x2 (lanes 0, 1 from a, 2, 3 from b), each rounded to float32. */
// @ts-ignore: decorator
@inline function demote2(a: v128, b: v128): v128 {
  return i8x16.shuffle(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}

// ln 2 in two parts: LN2_HI has 42 significant bits, so k·LN2_HI is exact for |k| < 2^11.
const LN2_HI: f64 = 0.6931471805598903;
const LN2_LO: f64 = 5.497923018708371e-14;
const INV_LN2: f64 = 1.4426950408889634;
/** 1.5·2^52: adding it rounds a double of magnitude below 2^51 to an integer, half to even, held in the low bits. */
const ROUND: f64 = 6755399441055744.0;

/**
 * e^x, two lanes, float64: x = k·ln2 + r with |r| ≤ ln2/2 (Cody–Waite), e^r by its Taylor series to
 * degree 13 (truncation below 5e-18) in Estrin's order (short dependency chains), then times 2^k as two
 * powers of two so that overflow to ∞ (x > 709.78) and underflow to 0 or a subnormal (x < -708.4)
 * round as one multiply does. NaN stays NaN. `c` holds the constants (expConstants), which callers
 * make once before their loop: computed in the loop, they would cost more than the exp itself.
 */
// @ts-ignore: decorator
@inline function expF64(x: v128, c: usize): v128 {
  // pmin/pmax are single instructions; NaN is restored at the end
  const xc = f64x2.pmin(f64x2.pmax(x, v128.load(c, 0)), v128.load(c, 16));
  const round = v128.load(c, 32);
  const kr = f64x2.add(f64x2.mul(xc, v128.load(c, 48)), round); // k in the low bits
  const k = f64x2.sub(kr, round);
  const r = f64x2.sub(f64x2.sub(xc, f64x2.mul(k, v128.load(c, 64))), f64x2.mul(k, v128.load(c, 80)));
  const r2 = f64x2.mul(r, r), r4 = f64x2.mul(r2, r2), r8 = f64x2.mul(r4, r4);
  // e^r − 1 − r = r²·(P23 + r²·P45 + r⁴·(P67 + r²·P89) + r⁸·(Pab + r²·Pcd)), Pjk = 1/j! + r/k! (at c + 96 + 16·j);
  // the 1 is added last, so that the result is rounded once near 1
  const p23 = f64x2.add(v128.load(c, 128), f64x2.mul(v128.load(c, 144), r));
  const p45 = f64x2.add(v128.load(c, 160), f64x2.mul(v128.load(c, 176), r));
  const p67 = f64x2.add(v128.load(c, 192), f64x2.mul(v128.load(c, 208), r));
  const p89 = f64x2.add(v128.load(c, 224), f64x2.mul(v128.load(c, 240), r));
  const pab = f64x2.add(v128.load(c, 256), f64x2.mul(v128.load(c, 272), r));
  const pcd = f64x2.add(v128.load(c, 288), f64x2.mul(v128.load(c, 304), r));
  const inner = f64x2.add(
    f64x2.add(p23, f64x2.mul(p45, r2)),
    f64x2.add(f64x2.mul(f64x2.add(p67, f64x2.mul(p89, r2)), r4), f64x2.mul(f64x2.add(pab, f64x2.mul(pcd, r2)), r8)),
  );
  const p = f64x2.add(v128.load(c, 96), f64x2.add(r, f64x2.mul(r2, inner)));
  // k ∈ [-1077, 1025]: k1 = k >> 1 and k − k1 are both normal exponents
  const ki = i64x2.sub(kr, round);
  const k1 = i64x2.shr_s(ki, 1);
  const bias = v128.load(c, 320);
  const s1 = i64x2.shl(i64x2.add(k1, bias), 52);
  const s2 = i64x2.shl(i64x2.add(i64x2.sub(ki, k1), bias), 52);
  const e = f64x2.mul(f64x2.mul(p, s1), s2);
  return v128.bitselect(x, e, f64x2.ne(x, x));
}

/** Bytes of expF64's constant block. */
export const EXP_CONSTANT_BYTES: usize = 336;

/** Writes expF64's constants (splatted) at c: 16-aligned, EXP_CONSTANT_BYTES. */
export function expConstants(c: usize): void {
  v128.store(c, f64x2.splat(-746), 0);
  v128.store(c, f64x2.splat(710), 16);
  v128.store(c, f64x2.splat(ROUND), 32);
  v128.store(c, f64x2.splat(INV_LN2), 48);
  v128.store(c, f64x2.splat(LN2_HI), 64);
  v128.store(c, f64x2.splat(LN2_LO), 80);
  let factorial: f64 = 1;
  for (let j = 0; j <= 13; j++) {
    if (j > 0) factorial *= <f64>j;
    v128.store(c + 96 + (<usize>j << 4), f64x2.splat(1.0 / factorial));
  }
  v128.store(c, i64x2.splat(1023), 320);
}

/** e^x for one float64 x, through the vector code (tests compare it with Math.exp). `work`: EXP_CONSTANT_BYTES. */
export function expF64Scalar(x: f64, work: usize): f64 {
  expConstants(work);
  return f64x2.extract_lane(expF64(f64x2.splat(x), work), 0);
}

// @ts-ignore: decorator
@inline function silu2(g: v128, u: v128, c: usize): v128 {
  const one = v128.load(c, 112);
  // the reference's (g / (1 + exp(-g))) * up
  return f64x2.mul(f64x2.div(g, f64x2.add(one, expF64(f64x2.neg(g), c))), u);
}

/** gate[i] = act(gate[i])·up[i] over n values; act: 0 SiLU, 1 ReLU². `work`: EXP_CONSTANT_BYTES, 16-aligned. */
export function gatedActivation(gate: usize, up: usize, n: i32, relu2: bool, work: usize): void {
  const end = <usize>(n & ~3) << 2;
  let o: usize = 0;
  if (relu2) {
    const zero = f32x4.splat(0);
    for (; o < end; o += 16) {
      const g = v128.load(gate + o), u = v128.load(up + o);
      // `g > 0 ? g : 0`: NaN and -0 become +0, as in the reference
      const r = v128.and(g, f32x4.gt(g, zero));
      const r0 = f64x2.promote_low_f32x4(r), r1 = f64x2.promote_low_f32x4(swap(r));
      const u0 = f64x2.promote_low_f32x4(u), u1 = f64x2.promote_low_f32x4(swap(u));
      v128.store(gate + o, demote2(f64x2.mul(f64x2.mul(r0, r0), u0), f64x2.mul(f64x2.mul(r1, r1), u1)));
    }
    for (; o < <usize>n << 2; o += 4) {
      const g = <f64>load<f32>(gate + o), u = <f64>load<f32>(up + o);
      const r = g > 0 ? g : 0;
      store<f32>(gate + o, <f32>(r * r * u));
    }
    return;
  }
  expConstants(work);
  for (; o < end; o += 16) {
    const g = v128.load(gate + o), u = v128.load(up + o);
    const g0 = f64x2.promote_low_f32x4(g), g1 = f64x2.promote_low_f32x4(swap(g));
    const u0 = f64x2.promote_low_f32x4(u), u1 = f64x2.promote_low_f32x4(swap(u));
    v128.store(gate + o, demote2(silu2(g0, u0, work), silu2(g1, u1, work)));
  }
  for (; o < <usize>n << 2; o += 4) {
    const y = silu2(f64x2.splat(<f64>load<f32>(gate + o)), f64x2.splat(<f64>load<f32>(up + o)), work);
    store<f32>(gate + o, <f32>f64x2.extract_lane(y, 0));
  }
}

/** x[i] += y[i] over n floats (a float32 add is what float64-then-round gives for two float32). */
export function addInPlace(x: usize, y: usize, n: i32): void {
  const end = <usize>(n & ~3) << 2;
  let o: usize = 0;
  for (; o < end; o += 16) v128.store(x + o, f32x4.add(v128.load(x + o), v128.load(y + o)));
  for (; o < <usize>n << 2; o += 4) store<f32>(x + o, load<f32>(x + o) + load<f32>(y + o));
}

/**
 * f16 bits of four float32 (given as their bits), in the low half of each i32 lane: rounded to nearest
 * even, overflow to ±∞, NaN → sign|0x7E00. `k` holds the constants, made once per call (see gOne).
 */
// @ts-ignore: decorator
@inline function halfBits4(u: v128, k: v128, signBit: v128, absMask: v128, half: v128, minNormal: v128): v128 {
  const one = i32x4.shuffle(k, k, 0, 0, 0, 0), rebias = i32x4.shuffle(k, k, 1, 1, 1, 1);
  const inf = i32x4.shuffle(k, k, 2, 2, 2, 2), inf32 = i32x4.shuffle(k, k, 3, 3, 3, 3);
  const sign = v128.and(i32x4.shr_u(u, 16), signBit);
  const a = v128.and(u, absMask);
  // normal range: rebias the exponent, then round the 13 dropped bits half to even (0xfff + the kept lsb)
  const rounded = i32x4.add(i32x4.sub(a, rebias), v128.and(i32x4.shr_u(a, 13), one));
  const normal = i32x4.min_s(i32x4.shr_u(rounded, 13), inf);
  // below 2^-14: adding 0.5 leaves the value's multiple of 2^-24 in the low mantissa bits, rounded by the add
  const tiny = i32x4.sub(f32x4.add(a, half), half);
  let h = v128.bitselect(tiny, normal, i32x4.lt_s(a, minNormal));
  // NaN: 0x7E00 is 0x7C00 | 0x200
  h = v128.bitselect(v128.or(inf, i32x4.shl(one, 9)), h, i32x4.gt_s(a, inf32));
  return v128.or(h, sign);
}

/** dst[i] = f16 bits of src[i] over n values (src/quant/half.ts f32ToF16, bit for bit). */
export function f32ToF16(src: usize, dst: usize, n: i32): void {
  // rebias folds in the rounding's 0xfff: (112 << 23) − 0xfff
  const k = i32x4(gOne, ((112 << 23) - 0xfff) * gOne, 0x7c00 * gOne, 0x7f800000 * gOne);
  const signBit = i32x4.splat(0x8000 * gOne), absMask = i32x4.splat(0x7fffffff * gOne);
  const half = i32x4.splat(0x3f000000 * gOne), minNormal = i32x4.splat(0x38800000 * gOne);
  const end = <usize>(n & ~7);
  let i: usize = 0;
  for (; i < end; i += 8) {
    const lo = halfBits4(v128.load(src + (i << 2)), k, signBit, absMask, half, minNormal);
    const hi = halfBits4(v128.load(src + (i << 2), 16), k, signBit, absMask, half, minNormal);
    v128.store(dst + (i << 1), i16x8.narrow_i32x4_u(lo, hi));
  }
  for (; i < <usize>n; i++) {
    const h = halfBits4(i32x4.splat(load<i32>(src + (i << 2))), k, signBit, absMask, half, minNormal);
    store<u16>(dst + (i << 1), <u16>i32x4.extract_lane(h, 0));
  }
}
