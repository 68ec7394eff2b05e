/**
 * All trainable parameters in ONE flat Float32Array, with named views into it (llm.c style), so that
 * AdamW, gradient clipping and checkpoints are single loops over one array. Gradients use the same
 * layout in a second ParamSet.
 *
 * Names are the GGUF tensor names without the ".weight" suffix (`token_embd`, `blk.N.attn_q`, …,
 * `output_norm`); `ggufName` adds it. Shapes are written [rows, cols] row-major, a linear weight is
 * [out, in] with `in` contiguous, which is GGUF's ne = [in, out]. There is no `output` tensor: the head
 * is tied to `token_embd`.
 *
 * Shape legend: V vocabSize, D dim, F ffnDim, KV = nKvHeads · headDim.
 */

import { headDim, validateConfig, type TrainConfig } from "./config.ts";
import { createRng, fillNormal } from "./rng.ts";

/** What a tensor is, which decides its init, its weight decay and whether BitLinear quantizes it. */
export type TensorKind = "embedding" | "norm" | "linear";

export interface TensorSpec {
  /** GGUF name without ".weight", e.g. "blk.0.attn_q". */
  name: string;
  kind: TensorKind;
  /** [rows, cols] for matrices ([out, in] for linear weights), [n] for norm gains. */
  shape: readonly number[];
  /** Index of the first element in the flat array. */
  offset: number;
  /** Number of elements. */
  size: number;
}

export interface LayerTensors {
  attn_norm: Float32Array; // [D]
  attn_q: Float32Array; // [D, D]
  attn_k: Float32Array; // [KV, D]
  attn_v: Float32Array; // [KV, D]
  attn_sub_norm: Float32Array; // [D]
  attn_output: Float32Array; // [D, D]
  ffn_norm: Float32Array; // [D]
  ffn_gate: Float32Array; // [F, D]
  ffn_up: Float32Array; // [F, D]
  ffn_sub_norm: Float32Array; // [F]
  ffn_down: Float32Array; // [D, F]
}

export const LAYER_TENSOR_NAMES = [
  "attn_norm", "attn_q", "attn_k", "attn_v", "attn_sub_norm", "attn_output",
  "ffn_norm", "ffn_gate", "ffn_up", "ffn_sub_norm", "ffn_down",
] as const satisfies readonly (keyof LayerTensors)[];

/** The seven BitLinear weights of a block (the ones the ternary mode quantizes). */
export const LINEAR_TENSOR_NAMES = [
  "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
] as const satisfies readonly (keyof LayerTensors)[];

export interface ModelTensors {
  token_embd: Float32Array; // [V, D], also the output head
  blk: LayerTensors[];
  output_norm: Float32Array; // [D]
}

export interface ParamSet {
  config: TrainConfig;
  layout: readonly TensorSpec[];
  /** Every parameter, in layout order. */
  data: Float32Array;
  /** Views into `data`. */
  tensors: ModelTensors;
  /** The same views by name. */
  byName: ReadonlyMap<string, Float32Array>;
}

/** "blk.3.attn_q" → "blk.3.attn_q.weight" (every tensor of this architecture is a weight). */
export function ggufName(name: string): string {
  return `${name}.weight`;
}

/** The tensor table, in GGUF order: token_embd, blk.0.* … blk.{L-1}.*, output_norm. */
export function paramLayout(c: TrainConfig): { specs: TensorSpec[]; total: number } {
  validateConfig(c);
  const D = c.dim;
  const F = c.ffnDim;
  const KV = c.nKvHeads * headDim(c);
  const shapes: Record<keyof LayerTensors, [TensorKind, number[]]> = {
    attn_norm: ["norm", [D]],
    attn_q: ["linear", [D, D]],
    attn_k: ["linear", [KV, D]],
    attn_v: ["linear", [KV, D]],
    attn_sub_norm: ["norm", [D]],
    attn_output: ["linear", [D, D]],
    ffn_norm: ["norm", [D]],
    ffn_gate: ["linear", [F, D]],
    ffn_up: ["linear", [F, D]],
    ffn_sub_norm: ["norm", [F]],
    ffn_down: ["linear", [D, F]],
  };
  const specs: TensorSpec[] = [];
  let offset = 0;
  const add = (name: string, kind: TensorKind, shape: number[]): void => {
    const size = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, kind, shape, offset, size });
    offset += size;
  };
  add("token_embd", "embedding", [c.vocabSize, D]);
  for (let l = 0; l < c.nLayers; l++) {
    for (const n of LAYER_TENSOR_NAMES) add(`blk.${l}.${n}`, shapes[n][0], shapes[n][1]);
  }
  add("output_norm", "norm", [D]);
  return { specs, total: offset };
}

/** Number of parameters of a config. */
export function countParams(c: TrainConfig): number {
  return paramLayout(c).total;
}

/**
 * A ParamSet over `data` (allocated, zero-filled, when omitted). Use it twice, once for the
 * parameters and once for their gradients.
 */
export function createParamSet(c: TrainConfig, data?: Float32Array): ParamSet {
  const { specs, total } = paramLayout(c);
  if (data !== undefined && data.length !== total) throw new Error(`params: flat array holds ${data.length} values, the config needs ${total}`);
  const flat = data ?? new Float32Array(total);
  const byName = new Map<string, Float32Array>();
  for (const s of specs) byName.set(s.name, flat.subarray(s.offset, s.offset + s.size));
  const get = (name: string): Float32Array => byName.get(name) as Float32Array; // every name comes from the same table
  const blk: LayerTensors[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const t = {} as Record<keyof LayerTensors, Float32Array>;
    for (const n of LAYER_TENSOR_NAMES) t[n] = get(`blk.${l}.${n}`);
    blk.push(t);
  }
  return { config: c, layout: specs, data: flat, tensors: { token_embd: get("token_embd"), blk, output_norm: get("output_norm") }, byName };
}

/**
 * Seeded initialization. Scheme: every embedding and linear weight ~ N(0, 0.02²) (GPT-2/LLaMA
 * practice; for ternary weights the scale only sets how far a weight must move to flip its code,
 * since absmean divides it out), every norm gain = 1. Tensors are filled in layout order from one
 * generator, so a seed fixes every value.
 */
export function initParams(p: ParamSet, seed: number, std = 0.02): void {
  const rng = createRng(seed);
  for (const s of p.layout) {
    const view = p.data.subarray(s.offset, s.offset + s.size);
    if (s.kind === "norm") view.fill(1);
    else fillNormal(rng, view, std);
  }
}

/** Zero a gradient set before accumulating a new step's micro-batches. */
export function zeroGrads(g: ParamSet): void {
  g.data.fill(0);
}
