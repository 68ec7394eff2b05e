/**
 * The reference kernel set: plain TypeScript, no SIMD, no threads. It defines what every fast
 * backend must compute and is the fallback where WebAssembly is unavailable.
 */
import { quantizeActivationsRef } from "./activations.ts";
import { floatMatmulRef } from "./float-ref.ts";
import { ternaryMatmulRef } from "./ternary-ref.ts";
import type { Kernels } from "./types.ts";

export const refKernels: Kernels = {
  name: "ref",
  quantizeActivations: quantizeActivationsRef,
  ternaryMatmul: ternaryMatmulRef,
  floatMatmul: floatMatmulRef,
};
