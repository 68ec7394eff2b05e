/**
 * Activation quantization for the kernel interface: wraps the quantizers of src/quant into the
 * QuantizedActivations shape (int8 values, a dequantization factor per group, and Σq per group).
 * The factor for BitNet's per-token rule is f32(1/s), so that y = Σw·q · f32(γ·factor).
 */
import { quantizeAbsmaxBlocks, quantizeAbsmaxRows } from "../quant/absmax.ts";
import type { ActQuantMode, QuantizedActivations } from "./types.ts";

/** Preallocates activations for up to `tokens` tokens of `cols` features in either mode. */
export function allocActivations(tokens: number, cols: number): QuantizedActivations {
  const groups = tokens * Math.max(1, Math.ceil(cols / 256));
  return { tokens: 0, cols, q: new Int8Array(tokens * cols), group: cols, factors: new Float32Array(groups), sums: new Int32Array(groups) };
}

export function quantizeActivationsRef(x: Float32Array, tokens: number, cols: number, mode: ActQuantMode, out: QuantizedActivations): void {
  out.tokens = tokens;
  out.cols = cols;
  if (mode === "token") {
    // The row quantizer writes s into `factors`; turn it into the multiplier 1/s in place.
    quantizeAbsmaxRows(x, tokens, cols, { q: out.q, scales: out.factors, sums: out.sums }, "activations");
    for (let t = 0; t < tokens; t++) out.factors[t] = Math.fround(1 / out.factors[t]);
    out.group = cols;
  } else {
    quantizeAbsmaxBlocks(x, tokens, cols, 256, { q: out.q, d: out.factors, sums: out.sums }, "activations");
    out.group = 256;
  }
}
