/**
 * BitLinear for training (SPEC §1): absmax int8 fake-quantization of each input row, absmean ternary
 * fake-quantization of the latent weight matrix, and the straight-through estimator (STE) backward.
 * The quantizers themselves are src/quant/absmax.ts and src/quant/absmean.ts; this file only applies them.
 *
 * Forward, with s_n = 127/max|x_n| the row scales, Q = the int8 codes of x and C, γ the ternary codes
 * and scale of W:
 *   x_q = Q / s (per row),   W_q = C · γ,   y = x_q · W_qᵀ = (Q · Cᵀ) · γ / s.
 * We compute the integer product Q · Cᵀ first, exactly: the codes are stored as float32 integers,
 * every partial sum is an integer below 127 · in < 2^24 (so in ≤ 132 000), and float32/float64 hold
 * those exactly in any summation order, which is all that a Gemm backend (matmul.ts) may change.
 * The output then equals the int32 kernel's (Σ W̃·x̃) · γ / s, which is what the exported model computes.
 *
 * Backward (STE). The forward is written x_q = x + stopgrad(quant(x) − x) and likewise
 * W_q = W + stopgrad(quant(W) − W), so ∂x_q/∂x = I and ∂W_q/∂W = I, while the product that is
 * differentiated is the one the forward actually computed, y = x_q · W_qᵀ. Hence:
 *   dx = dy · W_q      (the QUANTIZED weight: it is the other operand of the product),
 *   dW = dyᵀ · x_q     (the QUANTIZED input, for the same reason),
 * and these gradients are applied unchanged to the latent x and latent W. Neither the latent W nor
 * the unquantized x appears in any gradient. This is exactly the plain linear backward evaluated at
 * (x_q, W_q), which is how the tests check it.
 */

import { quantizeAbsmaxRows, type AbsmaxRows } from "../quant/absmax.ts";
import { quantizeAbsmean } from "../quant/absmean.ts";
import { jsGemm, type Gemm } from "./matmul.ts";

/** Room for the int8 codes (≥ N·I) and row sums (≥ N) the absmax quantizer writes. */
export type ActQuantScratch = Pick<AbsmaxRows, "q" | "sums">;

/**
 * Quantize N input rows of width I: codes[n,i] = Q[n,i] (integers, as float32), scales[n] = s_n.
 * `scratch` holds the int8 codes and sums between the quantizer and this copy (≥ N·I and ≥ N).
 */
export function quantizeActivationsForward(codes: Float32Array, scales: Float32Array, x: Float32Array, N: number, I: number, scratch: ActQuantScratch, what = "bitlinear input"): void {
  const r = quantizeAbsmaxRows(x, N, I, { q: scratch.q, scales, sums: scratch.sums }, what);
  const q = r.q;
  for (let i = 0; i < N * I; i++) codes[i] = q[i];
}

/** codes[o,i] = C[o,i] ∈ {-1, 0, 1} as float32; returns γ. `scratch` must hold ≥ w.length int8 codes. */
export function quantizeWeightsTernary(codes: Float32Array, w: Float32Array, scratch: Int8Array, what: string): number {
  const { codes: c, gamma } = quantizeAbsmean(w, what, scratch);
  for (let i = 0; i < w.length; i++) codes[i] = c[i];
  return gamma;
}

/** out[N, O] = (xCodes · wCodesᵀ) · γ / s_n. */
export function bitlinearForward(out: Float32Array, xCodes: Float32Array, xScales: Float32Array, wCodes: Float32Array, gamma: number, N: number, I: number, O: number, gemm: Gemm = jsGemm): void {
  gemm.forward(out, xCodes, wCodes, N, I, O);
  for (let n = 0; n < N; n++) {
    const s = xScales[n];
    const r = n * O;
    for (let o = 0; o < O; o++) out[r + o] = (out[r + o] * gamma) / s;
  }
}

/**
 * STE backward (see the file comment). Accumulates
 *   dx += dy · W_q = (γ·dy) · C          (skipped when dx is null),
 *   dW += dyᵀ · x_q = (dy / s)ᵀ · Q      (into the LATENT weight's gradient).
 * `scratch` holds N·O floats.
 */
export function bitlinearBackward(
  dx: Float32Array | null, dw: Float32Array, dy: Float32Array,
  xCodes: Float32Array, xScales: Float32Array, wCodes: Float32Array, gamma: number,
  N: number, I: number, O: number, scratch: Float32Array, gemm: Gemm = jsGemm,
): void {
  if (dx !== null) {
    for (let i = 0; i < N * O; i++) scratch[i] = dy[i] * gamma;
    gemm.backwardInput(dx, scratch, wCodes, N, I, O);
  }
  for (let n = 0; n < N; n++) {
    const s = xScales[n];
    const r = n * O;
    for (let o = 0; o < O; o++) scratch[r + o] = dy[r + o] / s;
  }
  gemm.backwardWeight(dw, scratch, xCodes, N, I, O);
}
