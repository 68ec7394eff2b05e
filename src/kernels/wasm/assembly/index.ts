/**
 * The entry points of the kernel module, as JavaScript calls them (src/kernels/wasm/kernels.ts).
 * Every pointer is a byte offset into the one imported memory; the module keeps no heap of its own.
 * A call describes a whole matmul (or, for threads, a range of its rows): the module-level context
 * set by `ternaryBegin` belongs to one instance, and each worker owns one instance.
 */
import { gOne, setOne } from "./simd";
import { contextBytes, setContext } from "./ternary-scale";
import { gemvRows } from "./ternary-gemv";
import { gemmRows, gemmWorkBytes } from "./ternary-gemm";
import { FORMAT_LUT, lutGemvRows, lutGemvWorkBytes } from "./ternary-lut";

export { floatRows, f16HasNonFinite, prescaleForHalf } from "./float";
export { sumBytes } from "./probe";
export { q8Check } from "./q8";
export { lutBytes, lutRepack, lutRepackWorkBytes, lutRows, lutWorkBytes } from "./ternary-lut";
export { f32Gemm, f32GemmWorkBytes } from "./f32-gemm";
export { attention, attentionWorkBytes, rmsnormQuantize, quantizeRows, rope, gatedActivation, addInPlace, f32ToF16, expF64Scalar } from "./forward-ops";

/** Must be called once with 1 before anything else (see gOne in simd.ts). */
export function setup(one: i32): i32 {
  setOne(one);
  return gOne;
}

/** Scratch bytes `work` must hold for a ternary matmul of T tokens and K columns. */
export function ternaryWorkBytes(T: i32, K: i32): usize {
  return contextBytes(T, K) + (T == 1 ? max(gemmWorkBytes(K), lutGemvWorkBytes(K)) : gemmWorkBytes(K));
}

/**
 * out[T, r0..r1) of the ternary matmul described by the arguments (see ternary-scale.ts for their
 * meaning; format FORMAT_LUT: `weights` is a lutRepack copy, see ternary-lut.ts). `work` is this
 * caller's own scratch: ternaryWorkBytes(T, K) bytes, 64-aligned.
 */
export function ternaryRows(
  format: i32, weights: usize, N: i32, K: i32, q: usize, T: i32, factors: usize, group: i32,
  uniform: f64, hasUniform: bool, outScale: f64, out: usize, work: usize, r0: i32, r1: i32,
): void {
  setContext(format, weights, N, K, q, T, factors, group, uniform, hasUniform, outScale, out, work);
  if (format == FORMAT_LUT) {
    if (T != 1 || !hasUniform) unreachable(); // the LUT layout serves one token and has no block scales
    lutGemvRows(weights, r0, r1, work + contextBytes(T, K));
  } else if (T == 1) gemvRows(0, r0, r1);
  else gemmRows(T, r0, r1, work + contextBytes(T, K));
}
