/**
 * The shape of a model we train: plain data, one comment per field, plus named presets.
 *
 * This is the trainer's view of a BitNet b1.58 model (SPEC §1 "Block"): a LLaMA-style decoder with
 * RMSNorm before every BitLinear, sub-norms before attn_output and ffn_down, NEOX RoPE, GQA, a gated
 * MLP (SiLU or ReLU²) and a head tied to the token embedding. It says nothing about optimization
 * (see schedule.ts, adamw.ts) or about files (the GGUF writer maps these fields onto its metadata).
 */

import type { GateActivation } from "../kernels/types.ts";

/** "ternary": every BitLinear fake-quantizes (W absmean ternary, x absmax int8); "fp": plain linear layers. */
export type WeightMode = "ternary" | "fp";

export interface TrainConfig {
  /** Number of token ids; the embedding and the tied output head have this many rows. */
  vocabSize: number;
  /** Width of the residual stream (hidden size). Must equal nHeads · headDim. */
  dim: number;
  /** Width of the MLP's inner layer (gate/up output, down input). */
  ffnDim: number;
  /** Number of transformer blocks. */
  nLayers: number;
  /** Number of query heads; headDim = dim / nHeads and must be even (RoPE pairs i with i + headDim/2). */
  nHeads: number;
  /** Number of key/value heads (GQA); must divide nHeads. Query head h reads kv head ⌊h / (nHeads/nKvHeads)⌋. */
  nKvHeads: number;
  /** Longest sequence the model is trained on (and the default activation arena length). */
  seqLen: number;
  /** RoPE base θ: 10000 (1bitLLM) or 500000 (2B4T). */
  ropeTheta: number;
  /** RMSNorm epsilon, added to mean(x²) before the square root (SPEC §1: 1e-5). */
  normEps: number;
  /** MLP gate activation. */
  activation: GateActivation;
  /** Whether the linear layers are BitLinear (ternary) or full precision (the FP baseline). */
  weights: WeightMode;
  /** The output head is the token embedding (logits = h · token_embdᵀ). Always true for now. */
  tiedEmbedding: true;
}

/** headDim = dim / nHeads. */
export function headDim(c: TrainConfig): number {
  return c.dim / c.nHeads;
}

/** The sizes every layer works with: D = dim, F = ffnDim, V = vocabSize, hd = head size, KV = nKvHeads·hd. */
export function dimsOf(c: TrainConfig): { D: number; F: number; V: number; hd: number; KV: number } {
  const hd = headDim(c);
  return { D: c.dim, F: c.ffnDim, V: c.vocabSize, hd, KV: c.nKvHeads * hd };
}

/** Throws with the offending field named if the config cannot describe a model. */
export function validateConfig(c: TrainConfig): void {
  const positiveInts = ["vocabSize", "dim", "ffnDim", "nLayers", "nHeads", "nKvHeads", "seqLen"] as const;
  for (const k of positiveInts) {
    const v = c[k];
    if (!Number.isInteger(v) || v <= 0) throw new Error(`train config: ${k} must be a positive integer, got ${v}`);
  }
  if (c.dim % c.nHeads !== 0) throw new Error(`train config: dim ${c.dim} is not a multiple of nHeads ${c.nHeads}`);
  if ((c.dim / c.nHeads) % 2 !== 0) throw new Error(`train config: headDim ${c.dim / c.nHeads} must be even for RoPE`);
  if (c.nHeads % c.nKvHeads !== 0) throw new Error(`train config: nKvHeads ${c.nKvHeads} does not divide nHeads ${c.nHeads}`);
  if (!(c.ropeTheta > 0)) throw new Error(`train config: ropeTheta must be > 0, got ${c.ropeTheta}`);
  if (!(c.normEps > 0)) throw new Error(`train config: normEps must be > 0, got ${c.normEps}`);
  if (c.activation !== "silu" && c.activation !== "relu2") throw new Error(`train config: activation must be "silu" or "relu2", got ${String(c.activation)}`);
  if (c.weights !== "ternary" && c.weights !== "fp") throw new Error(`train config: weights must be "ternary" or "fp", got ${String(c.weights)}`);
  if (c.tiedEmbedding !== true) throw new Error("train config: tiedEmbedding must be true (untied heads are not supported yet)");
}

/** 131 904 parameters: for tests and quick experiments (byte-level vocab fits in 512). */
const tiny: TrainConfig = {
  vocabSize: 512, dim: 64, ffnDim: 192, nLayers: 2, nHeads: 4, nKvHeads: 2, seqLen: 64,
  ropeTheta: 10000, normEps: 1e-5, activation: "relu2", weights: "ternary", tiedEmbedding: true,
};

/** 1 051 776 parameters. */
const small: TrainConfig = {
  vocabSize: 2048, dim: 128, ffnDim: 384, nLayers: 4, nHeads: 4, nKvHeads: 2, seqLen: 128,
  ropeTheta: 10000, normEps: 1e-5, activation: "relu2", weights: "ternary", tiedEmbedding: true,
};

/** 5 776 640 parameters. */
const base: TrainConfig = {
  vocabSize: 4096, dim: 256, ffnDim: 768, nLayers: 6, nHeads: 8, nKvHeads: 4, seqLen: 256,
  ropeTheta: 10000, normEps: 1e-5, activation: "relu2", weights: "ternary", tiedEmbedding: true,
};

/** Named presets; copy one (`{ ...presets.tiny, weights: "fp" }`) to vary it. */
export const presets = { tiny, small, base } as const satisfies Record<string, TrainConfig>;

export type PresetName = keyof typeof presets;
