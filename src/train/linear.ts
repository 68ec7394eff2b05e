/**
 * The full-precision linear layer (no bias): y = x · Wᵀ with W [out, in]. It is the layer of the
 * "fp" baseline and the definition BitLinear's straight-through backward is checked against.
 * The arithmetic is the Gemm's (matmul.ts; JavaScript unless another backend is passed).
 */

import { jsGemm, type Gemm } from "./matmul.ts";

/** out[N, O] = inp[N, I] · w[O, I]ᵀ. */
export function linearForward(out: Float32Array, inp: Float32Array, w: Float32Array, N: number, I: number, O: number, gemm: Gemm = jsGemm): void {
  gemm.forward(out, inp, w, N, I, O);
}

/** Accumulates dinp += dout · W (skipped when dinp is null) and dw += doutᵀ · inp. */
export function linearBackward(dinp: Float32Array | null, dw: Float32Array, dout: Float32Array, inp: Float32Array, w: Float32Array, N: number, I: number, O: number, gemm: Gemm = jsGemm): void {
  if (dinp !== null) gemm.backwardInput(dinp, dout, w, N, I, O);
  gemm.backwardWeight(dw, dout, inp, N, I, O);
}
