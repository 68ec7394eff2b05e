/**
 * The measurements the reproduction records about a trained model, beyond its validation loss:
 * - the shares of -1, 0 and +1 among the absmean codes of its latent linear weights (what its BitLinear
 *   layers compute with; src/quant/absmean.ts, the quantizer the training forward calls);
 * - the share of exact zeros in the input of ffn_down on validation text;
 * - the training loss just before and just after BitNet's stage switch.
 * Pure functions of parameters, tokens and metric records; no files, no training.
 */

import { quantizeAbsmean } from "../quant/absmean.ts";
import { createActivations } from "./acts.ts";
import { validationWindows } from "./data.ts";
import type { Gemm } from "./matmul.ts";
import type { MetricRecord } from "./metrics.ts";
import { forward } from "./model.ts";
import { LINEAR_TENSOR_NAMES, type ParamSet } from "./params.ts";
import type { DownInputZeros, StageSwitchDrop, TernaryFractions } from "./reproduce.ts";

function fractions(counts: readonly [number, number, number]): TernaryFractions {
  const n = counts[0] + counts[1] + counts[2];
  return { minus: counts[0] / n, zero: counts[1] / n, plus: counts[2] / n };
}

/**
 * The shares of the absmean codes -1, 0, +1 over every linear weight of `p` (each matrix with its own γ,
 * as BitLinear quantizes it), in total and per tensor name (attn_q … ffn_down, summed over the blocks).
 */
export function ternaryFractions(p: ParamSet): TernaryFractions & { byTensor: Record<string, TernaryFractions> } {
  const total: [number, number, number] = [0, 0, 0];
  const byName = new Map<string, [number, number, number]>();
  for (let l = 0; l < p.config.nLayers; l++) {
    for (const name of LINEAR_TENSOR_NAMES) {
      const { codes } = quantizeAbsmean(p.tensors.blk[l][name], `blk.${l}.${name}`);
      const c = byName.get(name) ?? [0, 0, 0];
      for (let i = 0; i < codes.length; i++) c[codes[i] + 1]++;
      byName.set(name, c);
    }
  }
  const byTensor: Record<string, TernaryFractions> = {};
  for (const [name, c] of byName) {
    byTensor[name] = fractions(c);
    for (let k = 0; k < 3; k++) total[k] += c[k];
  }
  return { ...fractions(total), byTensor };
}

function countZeros(x: Float32Array, n: number): number {
  let z = 0;
  for (let i = 0; i < n; i++) if (x[i] === 0) z++;
  return z;
}

/**
 * Runs `p` on up to `maxTokens` tokens of validation windows (data.ts validationWindows, the evaluation's
 * own rule) and counts exact zeros in the input of every ffn_down: the int8 codes of ffn_sub_norm's output
 * for a ternary model (what BitLinear multiplies), the float output for an fp model; and, for both, in
 * act(gate) ⊙ up before the sub-norm (zero there exactly when zero after the norm, whose gain is not 0).
 * `-0` counts as zero. B is the batch of the forward passes; `gemm` their products' backend.
 */
export function downInputZeros(p: ParamSet, validation: Int32Array, T: number, maxTokens: number, B = 4, gemm?: Gemm): DownInputZeros {
  const c = p.config;
  const starts = validationWindows(validation.length, T, maxTokens);
  if (starts.length === 0) throw new Error(`downInputZeros: the validation stream (${validation.length} tokens) holds no window of ${T + 1} tokens`);
  const acts = createActivations(c, Math.min(B, starts.length), T, gemm);
  const inputs = new Int32Array(acts.B * T);
  const F = c.ffnDim;
  const zeros = new Array<number>(c.nLayers).fill(0);
  let zerosBefore = 0;
  for (let i = 0; i < starts.length; i += acts.B) {
    const b = Math.min(acts.B, starts.length - i);
    for (let j = 0; j < b; j++) inputs.set(validation.subarray(starts[i + j], starts[i + j] + T), j * T);
    forward(p, acts, inputs, null, b, T);
    const n = b * T * F;
    for (let l = 0; l < c.nLayers; l++) {
      const la = acts.layers[l];
      zeros[l] += countZeros(c.weights === "ternary" ? la.xf : la.nf, n);
      zerosBefore += countZeros(la.m, n);
    }
  }
  const perLayerCount = starts.length * T * F;
  const perLayer = zeros.map((z) => z / perLayerCount);
  return {
    zeros: zeros.reduce((a, z) => a + z, 0) / (perLayerCount * c.nLayers),
    zerosBeforeQuant: zerosBefore / (perLayerCount * c.nLayers),
    perLayer,
    tokens: starts.length * T,
  };
}

/** The first 0-based step of the two-stage schedule's stage 2 (schedule.ts: step ≥ 0.5·total). */
export function stageSwitchStep(totalSteps: number): number {
  return Math.ceil(totalSteps / 2);
}

/** Steps averaged on each side of the switch: 5% of the run, at least 2, at most 50. */
export function stageSwitchWindow(totalSteps: number): number {
  return Math.min(50, Math.max(2, Math.round(totalSteps / 20)));
}

/**
 * Mean training loss over `window` steps before and after the switch at 0-based step s. A metric
 * record's loss (step k, 1-based) is measured before update k−1, on parameters that updates 0 … k−2 made,
 * so the losses of records k ≤ s+1 have seen only stage 1 and those of k ≥ s+2 have seen stage 2:
 * "before" averages records s+2−window … s+1, "after" records s+2 … s+1+window. Throws when the records
 * do not cover both windows.
 */
export function lossDropAround(metrics: readonly MetricRecord[], switchStep: number, window: number): StageSwitchDrop {
  const loss = new Map<number, number>();
  for (const m of metrics) if (m.type === "train") loss.set(m.step, m.loss);
  const mean = (from: number, to: number): number => {
    let sum = 0;
    for (let k = from; k <= to; k++) {
      const v = loss.get(k);
      if (v === undefined) throw new Error(`stage switch: no training loss recorded for step ${k} (window ${from}…${to})`);
      sum += v;
    }
    return sum / (to - from + 1);
  };
  const before = mean(switchStep + 2 - window, switchStep + 1);
  const after = mean(switchStep + 2, switchStep + 1 + window);
  return { switchStep, window, before, after, drop: before - after };
}
