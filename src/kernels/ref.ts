/**
 * The reference kernel set: plain TypeScript, no SIMD, no threads. It defines what every fast
 * backend must compute and is the fallback where WebAssembly is unavailable.
 */
import { quantizeActivationsRef, rmsnormQuantizeRef } from "./activations.ts";
import { attention } from "./attention.ts";
import { embedRef, floatMatmulRef } from "./float-ref.ts";
import { addInPlace, encodeF16, gatedActivation, rmsnorm, rope } from "./ops.ts";
import { ternaryMatmulRef } from "./ternary-ref.ts";
import type { Kernels } from "./types.ts";

export const refKernels: Kernels = {
  name: "ref",
  threads: 1,
  quantizeActivations: quantizeActivationsRef,
  ternaryMatmul: ternaryMatmulRef,
  floatMatmul: floatMatmulRef,
  embed: embedRef,
  rmsnorm,
  rmsnormQuantize: rmsnormQuantizeRef,
  rope,
  attention,
  gatedActivation,
  addInPlace,
  f32ToF16: encodeF16,
};
