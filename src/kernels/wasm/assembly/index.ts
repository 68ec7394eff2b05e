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
export { attention, attentionRange, attentionUnits, attentionWorkBytes, rmsnormQuantize, quantizeRows, rope, gatedActivation, addInPlace, f32ToF16, expF64Scalar } from "./forward-ops";
export { rmsnormQuantizeRange, quantizeRowsRange, ropeRange, gatedActivationRange, addInPlaceRange, f32ToF16Range } from "./forward-ops";

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

/** f64 values per matrix in a ternaryGroupRows descriptor: ternaryRows' arguments before `work`. */
const GROUP_ARGS: usize = 12;

/**
 * Rows [r0, r1) of `count` ternary matmuls that read the same activations, taken as one matrix whose
 * rows are theirs one after another (q, k and v, or gate and up: one pooled job instead of several).
 * `desc` holds count × GROUP_ARGS f64 values, each matrix's ternaryRows arguments from format to out;
 * they share T and K, so one `work` serves them all in turn.
 */
export function ternaryGroupRows(desc: usize, count: i32, work: usize, r0: i32, r1: i32): void {
  let base = 0;
  for (let i = 0; i < count; i++) {
    const d = desc + <usize>i * GROUP_ARGS * 8;
    const N = <i32>load<f64>(d, 16);
    const lo = max(r0, base);
    const hi = min(r1, base + N);
    if (lo < hi) {
      ternaryRows(
        <i32>load<f64>(d), <usize>load<f64>(d, 8), N, <i32>load<f64>(d, 24), <usize>load<f64>(d, 32), <i32>load<f64>(d, 40),
        <usize>load<f64>(d, 48), <i32>load<f64>(d, 56), load<f64>(d, 64), load<f64>(d, 72) != 0, load<f64>(d, 80),
        <usize>load<f64>(d, 88), work, lo - base, hi - base,
      );
    }
    base += N;
  }
}
