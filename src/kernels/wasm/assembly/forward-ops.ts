/**
 * The forward pass's kernels other than matmuls, gathered for index.ts's one export line: attention,
 * RMSNorm with int8 quantization, RoPE, and the element-wise ops. Each lives in its own file; row-ranges.ts
 * cuts them into pool jobs.
 */
export { attention, attentionRange, attentionUnits, attentionWorkBytes } from "./attention";
export { rmsnormQuantize, quantizeRows } from "./norm-quant";
export { rope } from "./rope";
export { gatedActivation, addInPlace, f32ToF16, expF64Scalar } from "./pointwise";
export { rmsnormQuantizeRange, quantizeRowsRange, ropeRange, gatedActivationRange, addInPlaceRange, f32ToF16Range } from "./row-ranges";
