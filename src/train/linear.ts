/**
 * The full-precision linear layer (no bias): y = x · Wᵀ with W [out, in]. It is the layer of the
 * "fp" baseline and the definition BitLinear's straight-through backward is checked against.
 * The arithmetic is in matmul.ts.
 */

import { matmulBackwardInput, matmulBackwardWeight, matmulForward } from "./matmul.ts";

/** out[N, O] = inp[N, I] · w[O, I]ᵀ. */
export function linearForward(out: Float32Array, inp: Float32Array, w: Float32Array, N: number, I: number, O: number): void {
  matmulForward(out, inp, w, N, I, O);
}

/** Accumulates dinp += dout · W (skipped when dinp is null) and dw += doutᵀ · inp. */
export function linearBackward(dinp: Float32Array | null, dw: Float32Array, dout: Float32Array, inp: Float32Array, w: Float32Array, N: number, I: number, O: number): void {
  if (dinp !== null) matmulBackwardInput(dinp, dout, w, N, I, O);
  matmulBackwardWeight(dw, dout, inp, N, I, O);
}
