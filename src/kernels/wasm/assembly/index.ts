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

export { floatRows, f16HasNonFinite, prescaleForHalf } from "./float";
export { sumBytes } from "./probe";

/** Must be called once with 1 before anything else (see gOne in simd.ts). */
export function setup(one: i32): i32 {
  setOne(one);
  return gOne;
}

/** Scratch bytes `work` must hold for a ternary matmul of T tokens and K columns. */
export function ternaryWorkBytes(T: i32, K: i32): usize {
  return contextBytes(T, K) + gemmWorkBytes(K);
}

/**
 * out[T, r0..r1) of the ternary matmul described by the arguments (see ternary-scale.ts for their
 * meaning). `work` is this caller's own scratch: ternaryWorkBytes(T, K) bytes, 64-aligned.
 */
export function ternaryRows(
  format: i32, weights: usize, N: i32, K: i32, q: usize, T: i32, factors: usize, group: i32,
  uniform: f64, hasUniform: bool, outScale: f64, out: usize, work: usize, r0: i32, r1: i32,
): void {
  setContext(format, weights, N, K, q, T, factors, group, uniform, hasUniform, outScale, out, work);
  if (T == 1) gemvRows(0, r0, r1);
  else gemmRows(T, r0, r1, work + contextBytes(T, K));
}
