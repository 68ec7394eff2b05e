/**
 * BitNet b1.58's weight quantizer (SPEC §1): one absmean scale γ for the whole matrix and ternary codes.
 *
 *   γ = max(mean|W|, 1e-5),   W̃ = clamp(roundHalfEven(W / γ), -1, 1),   W ≈ W̃·γ.
 *
 * Numeric choices, made so the result is deterministic and independent of summation order:
 * - mean|W| is accumulated in float64 (torch accumulates in float32 with its own blocking, which no
 *   other implementation can reproduce bit for bit), then clamped to 1e-5 and rounded once to float32.
 *   The returned `gamma` is that float32 value, which is what every file format stores.
 * - The code of each weight is roundHalfEven(w / γ) with the division done in float64 on the float32 γ.
 *   For float32 w and γ the quotient is exactly 0.5 only when w is exactly γ/2, so ties are real ties.
 *   (torch computes w·(1/γ) in float32; the two can differ only for weights within a float32 ulp of ±γ/2.)
 * This is the rule for training and for converting unquantized checkpoints; it is not the rule of any
 * GGUF quantizer (TQ uses per-block absmax and roundf, I2_S uses the sign; see codecs/).
 */

import { f32, roundHalfEven } from "./round.ts";

export interface AbsmeanResult {
  /** One code in {-1, 0, 1} per weight, in the order of `w`. */
  codes: Int8Array;
  /** γ as a float32 value: the dequantized weight is code·γ. */
  gamma: number;
}

/** The smallest γ (SPEC §1), so an all-zero matrix gets codes 0 instead of 0/0. */
export const ABSMEAN_EPS = 1e-5;

/** γ = max(mean|W|, 1e-5), mean accumulated in float64, result rounded to float32. */
export function absmeanGamma(w: Float32Array, what = "weights"): number {
  if (w.length === 0) throw new Error(`${what}: cannot quantize an empty tensor`);
  let sum = 0;
  for (let i = 0; i < w.length; i++) {
    const v = w[i];
    if (v - v !== 0) throw new Error(`${what}: non-finite value ${v} at index ${i}`);
    sum += Math.abs(v);
  }
  return f32(Math.max(sum / w.length, ABSMEAN_EPS));
}

/**
 * Quantize a whole matrix (any shape, flattened) with the absmean rule.
 * `what` names the tensor in error messages (NaN or ±Infinity in the input is an error).
 */
export function quantizeAbsmean(w: Float32Array, what = "weights", out?: Int8Array): AbsmeanResult {
  const gamma = absmeanGamma(w, what);
  const codes = out ?? new Int8Array(w.length);
  if (codes.length < w.length) throw new Error(`${what}: output holds ${codes.length} codes, need ${w.length}`);
  // Thresholds instead of a division per weight: |w/γ| > 0.5 exactly when |w| > γ/2 (γ/2 is exact in float64),
  // and a tie (|w| = γ/2) rounds to the even integer 0. Above that, clamping makes every code ±1.
  const half = gamma / 2;
  for (let i = 0; i < w.length; i++) {
    const v = w[i];
    codes[i] = v > half ? 1 : v < -half ? -1 : 0;
  }
  return { codes, gamma };
}

/** W̃·γ as float32 values: the fake-quantized weight the forward pass uses (straight-through estimator). */
export function dequantizeAbsmean(codes: Int8Array, gamma: number, out: Float32Array = new Float32Array(codes.length)): Float32Array {
  for (let i = 0; i < codes.length; i++) out[i] = codes[i] * gamma;
  return out;
}

/**
 * The same rule as transformers computes it at load for `quantization_mode: "online"` (AutoBitLinear's
 * WeightQuant) and as 1bitLLM's BitLinear does on every forward, in float32 throughout:
 *
 *   s = fl(1 / fl(max(mean|W|, 1e-5))),   code = clamp(roundHalfEven(fl(w·s)), -1, 1),   value = fl(code / s).
 *
 * So γ here is fl(1/s), which can differ from fl(mean|W|) in the last bit, and a weight within a float32 ulp of
 * ±γ/2 can round the other way than `quantizeAbsmean` rounds it. mean|W| is accumulated in float64 and rounded
 * once (torch's float32 reduction order is its own; the two differ by at most a rounding of the mean).
 */
export function quantizeAbsmeanOnline(w: Float32Array, what = "weights", out?: Int8Array): AbsmeanResult {
  const mean = absmeanGamma(w, what);
  const s = f32(1 / mean);
  const codes = out ?? new Int8Array(w.length);
  if (codes.length < w.length) throw new Error(`${what}: output holds ${codes.length} codes, need ${w.length}`);
  for (let i = 0; i < w.length; i++) {
    const q = roundHalfEven(f32(w[i] * s));
    codes[i] = q > 1 ? 1 : q < -1 ? -1 : q;
  }
  return { codes, gamma: f32(1 / s) };
}
