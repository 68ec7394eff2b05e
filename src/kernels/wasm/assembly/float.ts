/**
 * Float matrix × activations for f32, f16 and bf16 weights (the output head over the vocabulary, or
 * every layer of an FP model), accumulated in float32 with several independent accumulators.
 * Results differ from src/kernels/float-ref.ts (float64 accumulation) by rounding only; the bound is
 * stated in src/kernels/wasm/kernels.ts. Half-precision Inf/NaN weights are not converted here: the JS
 * side scans for them once per matrix and sends such matrices to the reference.
 */

import { q8Rows } from "./q8";
import { gOne } from "./simd";

export const FLOAT_F32: i32 = 0;
export const FLOAT_F16: i32 = 1;
export const FLOAT_BF16: i32 = 2;
/** f16 weights with inputs already multiplied by 2^112 (prescaleForHalf): one multiply less per weight. */
export const FLOAT_F16_PRESCALED: i32 = 3;
/** Q8_0 weights; `x` holds Q8_0 activations, not floats (see q8.ts). */
export const FLOAT_Q8_0: i32 = 4;

// Type markers: the kernels are generic over the weight format, one loop per format (see Tq2 in ternary-scale.ts).
class F32w {}
class F16w {}
class F16s {}
class Bf16w {}

/** Lanes 0..3 (`high` false) or 4..7 of eight halves placed in the top 16 bits of each 32-bit lane; z is zero. */
// @ts-ignore: decorator
@inline function widen(v: v128, high: bool, z: v128): v128 {
  return high
    ? i8x16.shuffle(z, v, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31)
    : i8x16.shuffle(z, v, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}

/**
 * Four f16 values (in the top half of each lane) as f32 scaled by 2^-112, for finite halves: an
 * arithmetic shift moves exponent and mantissa into place (the sign is copied into bits 28-30, which
 * the mask clears). Multiplying by 2^112 (or multiplying the inputs by it instead, F16s) rebiases the
 * exponent and normalizes subnormals exactly: the products are the same real numbers either way.
 */
// @ts-ignore: decorator
@inline function halfBits(u: v128, mask: v128): v128 {
  return v128.and(i32x4.shr_s(u, 3), mask);
}

// @ts-ignore: decorator
@inline function fma(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

// @ts-ignore: decorator
@inline function hsumF(a: v128): f32 {
  const s = f32x4.add(a, i8x16.shuffle(a, a, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Scalar weight k of a row (the tails of rows whose length is not a multiple of 8). */
// @ts-ignore: decorator
@inline function scalarWeight<W>(row: usize, k: usize): f32 {
  if (idof<W>() == idof<F32w>()) return load<f32>(row + (k << 2));
  const h = <u32>load<u16>(row + (k << 1));
  if (idof<W>() == idof<Bf16w>()) return reinterpret<f32>(h << 16);
  const bits = reinterpret<f32>(((h & 0x7fff) << 13) | ((h & 0x8000) << 16));
  return idof<W>() == idof<F16s>() ? bits : bits * reinterpret<f32>(0x77800000);
}

/** Vector constants built once per call from gOne (see simd.ts). */
// @ts-ignore: decorator
@inline function halfMask(): v128 {
  return i32x4.splat(0x8fffe000 * gOne);
}
// @ts-ignore: decorator
@inline function halfScale(): v128 {
  return f32x4.splat(reinterpret<f32>(0x77800000 * gOne));
}

// The eight weights at element k of a row as two f32x4: lo (k..k+3) and hi (k+4..k+7).
// @ts-ignore: decorator
@inline function weightsLo<W>(row: usize, k: usize, mask: v128, scale: v128, z: v128): v128 {
  if (idof<W>() == idof<F32w>()) return v128.load(row + (k << 2));
  const u = widen(v128.load(row + (k << 1)), false, z);
  if (idof<W>() == idof<Bf16w>()) return u;
  if (idof<W>() == idof<F16s>()) return halfBits(u, mask);
  return f32x4.mul(halfBits(u, mask), scale);
}
// @ts-ignore: decorator
@inline function weightsHi<W>(row: usize, k: usize, mask: v128, scale: v128, z: v128): v128 {
  if (idof<W>() == idof<F32w>()) return v128.load(row + (k << 2), 16);
  const u = widen(v128.load(row + (k << 1)), true, z);
  if (idof<W>() == idof<Bf16w>()) return u;
  if (idof<W>() == idof<F16s>()) return halfBits(u, mask);
  return f32x4.mul(halfBits(u, mask), scale);
}

/**
 * One token: one row at a time, so that the weights are one sequential stream the hardware prefetchers
 * follow (two interleaved rows ran at half the memory bandwidth), with four accumulators.
 */
function gemvFor<W>(w: usize, N: i32, K: i32, x: usize, outScale: f64, out: usize, r0: i32, r1: i32): void {
  const mask = halfMask(), scale = halfScale(), z = i32x4.splat(gOne - 1);
  const elem: usize = idof<W>() == idof<F32w>() ? 4 : 2;
  const K16 = <usize>(K & ~15);
  const K8 = <usize>(K & ~7);
  for (let r = r0; r < r1; r++) {
    const p = w + <usize>r * K * elem;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    let k: usize = 0;
    for (; k < K16; k += 16) {
      const xk = x + (k << 2);
      a0 = fma(a0, weightsLo<W>(p, k, mask, scale, z), v128.load(xk));
      a1 = fma(a1, weightsHi<W>(p, k, mask, scale, z), v128.load(xk, 16));
      a2 = fma(a2, weightsLo<W>(p, k + 8, mask, scale, z), v128.load(xk, 32));
      a3 = fma(a3, weightsHi<W>(p, k + 8, mask, scale, z), v128.load(xk, 48));
    }
    if (k < K8) {
      const xk = x + (k << 2);
      a0 = fma(a0, weightsLo<W>(p, k, mask, scale, z), v128.load(xk));
      a1 = fma(a1, weightsHi<W>(p, k, mask, scale, z), v128.load(xk, 16));
    }
    const y = hsumF(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3))) + tail<W>(p, K8, K, x);
    storeY(out, <usize>r << 2, y, outScale);
  }
}

/**
 * Several tokens: one row × two tokens per step, each weight converted once for both. Every token's sum
 * is accumulated exactly as gemvFor accumulates it (four accumulators over blocks of 16, the same order
 * of additions), so a token's result does not depend on the other tokens in the call: a sequence
 * batched with others gets the bits it gets alone (continuous batching relies on it).
 */
function gemmFor<W>(w: usize, N: i32, K: i32, x: usize, T: i32, outScale: f64, out: usize, r0: i32, r1: i32): void {
  const mask = halfMask(), scale = halfScale(), z = i32x4.splat(gOne - 1);
  const elem: usize = idof<W>() == idof<F32w>() ? 4 : 2;
  const K16 = <usize>(K & ~15);
  const K8 = <usize>(K & ~7);
  const xs = <usize>K << 2; // bytes per token
  for (let r = r0; r < r1; r++) {
    const p = w + <usize>r * K * elem;
    for (let t = 0; t < T; t += 2) {
      const t1 = min(t + 1, T - 1);
      const x0 = x + <usize>t * xs, x1 = x + <usize>t1 * xs;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      let k: usize = 0;
      for (; k < K16; k += 16) {
        const w0 = weightsLo<W>(p, k, mask, scale, z), w1 = weightsHi<W>(p, k, mask, scale, z);
        const w2 = weightsLo<W>(p, k + 8, mask, scale, z), w3 = weightsHi<W>(p, k + 8, mask, scale, z);
        const o = k << 2;
        a0 = fma(a0, w0, v128.load(x0 + o)); a1 = fma(a1, w1, v128.load(x0 + o, 16));
        a2 = fma(a2, w2, v128.load(x0 + o, 32)); a3 = fma(a3, w3, v128.load(x0 + o, 48));
        b0 = fma(b0, w0, v128.load(x1 + o)); b1 = fma(b1, w1, v128.load(x1 + o, 16));
        b2 = fma(b2, w2, v128.load(x1 + o, 32)); b3 = fma(b3, w3, v128.load(x1 + o, 48));
      }
      if (k < K8) {
        const w0 = weightsLo<W>(p, k, mask, scale, z), w1 = weightsHi<W>(p, k, mask, scale, z);
        const o = k << 2;
        a0 = fma(a0, w0, v128.load(x0 + o)); a1 = fma(a1, w1, v128.load(x0 + o, 16));
        b0 = fma(b0, w0, v128.load(x1 + o)); b1 = fma(b1, w1, v128.load(x1 + o, 16));
      }
      const y = <usize>t * N + r;
      storeY(out, y << 2, hsumF(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3))) + tail<W>(p, K8, K, x0), outScale);
      if (t + 1 < T) storeY(out, (y + N) << 2, hsumF(f32x4.add(f32x4.add(b0, b1), f32x4.add(b2, b3))) + tail<W>(p, K8, K, x1), outScale);
    }
  }
}

/** Σ w·x over the last K mod 8 elements of a row. */
// @ts-ignore: decorator
@inline function tail<W>(row: usize, K8: usize, K: i32, x: usize): f32 {
  let s: f32 = 0;
  for (let k = K8; k < <usize>K; k++) s += scalarWeight<W>(row, k) * load<f32>(x + (k << 2));
  return s;
}

// @ts-ignore: decorator
@inline function storeY(out: usize, offset: usize, y: f32, outScale: f64): void {
  store<f32>(out + offset, outScale == 1.0 ? y : <f32>(<f64>y * outScale));
}

/** out[T, r0..r1) = x[T, K] · W[r0..r1, K]ᵀ. */
export function floatRows(format: i32, w: usize, N: i32, K: i32, x: usize, T: i32, outScale: f64, out: usize, r0: i32, r1: i32): void {
  if (format == FLOAT_Q8_0) return q8Rows(w, N, K, x, T, outScale, out, r0, r1);
  if (T == 1) {
    if (format == FLOAT_F32) gemvFor<F32w>(w, N, K, x, outScale, out, r0, r1);
    else if (format == FLOAT_F16) gemvFor<F16w>(w, N, K, x, outScale, out, r0, r1);
    else if (format == FLOAT_F16_PRESCALED) gemvFor<F16s>(w, N, K, x, outScale, out, r0, r1);
    else gemvFor<Bf16w>(w, N, K, x, outScale, out, r0, r1);
  } else {
    if (format == FLOAT_F32) gemmFor<F32w>(w, N, K, x, T, outScale, out, r0, r1);
    else if (format == FLOAT_F16) gemmFor<F16w>(w, N, K, x, T, outScale, out, r0, r1);
    else if (format == FLOAT_F16_PRESCALED) gemmFor<F16s>(w, N, K, x, T, outScale, out, r0, r1);
    else gemmFor<Bf16w>(w, N, K, x, T, outScale, out, r0, r1);
  }
}

/** Whether any of the n halves at p is Inf or NaN (exponent bits all ones), which halfToF32 does not handle. */
export function f16HasNonFinite(p: usize, n: usize): bool {
  const exp = i16x8.splat(<i16>(0x7c00 * gOne));
  let any = i16x8.splat(0);
  const n8 = n & ~7;
  const end = p + (n8 << 1);
  for (let q = p; q < end; q += 16) any = v128.or(any, i16x8.eq(v128.and(v128.load(q), exp), exp));
  if (v128.any_true(any)) return true;
  for (let k = n8; k < n; k++) if ((load<u16>(p + (k << 1)) & 0x7c00) == 0x7c00) return true;
  return false;
}

/**
 * dst[0..n) = x·2^112 for FLOAT_F16_PRESCALED, if every |x| < 2^15 (so that nothing overflows and the
 * products stay the same real numbers). Returns false, leaving the caller on the plain f16 path, otherwise.
 */
export function prescaleForHalf(x: usize, n: usize, dst: usize): bool {
  const scale = f32x4.splat(reinterpret<f32>(0x77800000 * gOne)), limit = f32x4.splat(32768);
  let over = i32x4.splat(0);
  const n4 = n & ~3;
  for (let i: usize = 0; i < n4; i += 4) {
    const v = v128.load(x + (i << 2));
    // NaN compares false with lt, so it sets `over` too.
    over = v128.or(over, v128.not(f32x4.lt(f32x4.abs(v), limit)));
    v128.store(dst + (i << 2), f32x4.mul(v, scale));
  }
  for (let i = n4; i < n; i++) {
    const v = load<f32>(x + (i << 2));
    if (!(Mathf.abs(v) < 32768)) return false;
    store<f32>(dst + (i << 2), v * reinterpret<f32>(0x77800000));
  }
  return !v128.any_true(over);
}
