/**
 * The forward pass: one function that reads top to bottom, for a batch of T tokens at positions
 * pos0..pos0+T-1, writing keys/values into the cache and logits into the run state.
 * Kernel code lives in src/kernels; this file only says which op follows which.
 *
 * Shape legend: T = tokens in this batch (≤ maxBatch), D = dim, F = ffnDim, KV = nKvHeads·headDim,
 * V = vocab, H = nHeads, hd = headDim.
 */
import { allocActivations } from "../kernels/activations.ts";
import { attention } from "../kernels/attention.ts";
import { floatRow } from "../kernels/float-ref.ts";
import { addInPlace, gatedActivation, rmsnorm, rope, ropeTable, type RopeTable } from "../kernels/ops.ts";
import type { ActQuantMode, Kernels, QuantizedActivations, WeightMatrix } from "../kernels/types.ts";
import type { ModelConfig } from "./config.ts";
import { KVCache, type KVCacheType } from "./kv-cache.ts";
import type { ModelWeights } from "./weights.ts";

export interface RunOptions {
  contextLength: number;
  maxBatch: number;
  kvCacheType: KVCacheType;
  actQuant: ActQuantMode;
}

/** Every buffer the forward pass touches, allocated once per context; decoding allocates nothing. */
export class RunState {
  readonly x: Float32Array; // [T, D] residual stream
  readonly xb: Float32Array; // [T, max(D, F)] normalized input of the next matmul
  readonly q: Float32Array; // [T, D]
  readonly k: Float32Array; // [T, KV]
  readonly v: Float32Array; // [T, KV]
  readonly att: Float32Array; // [T, D] attention output
  readonly proj: Float32Array; // [T, D] output of attn_output / ffn_down before the residual add
  readonly gate: Float32Array; // [T, F]
  readonly up: Float32Array; // [T, F]
  readonly scores: Float32Array; // [ctx] attention scratch
  readonly logits: Float32Array; // [T, V] (only the rows asked for are filled)
  readonly actsD: QuantizedActivations; // int8 copy of a [T, D] input
  readonly actsF: QuantizedActivations; // int8 copy of a [T, F] input
  readonly rope: RopeTable;
  readonly cache: KVCache;

  constructor(cfg: ModelConfig, opts: RunOptions) {
    const T = opts.maxBatch;
    const D = cfg.dim;
    const F = cfg.ffnDim;
    const KV = cfg.nKvHeads * cfg.headDim;
    this.x = new Float32Array(T * D);
    this.xb = new Float32Array(T * Math.max(D, F));
    this.q = new Float32Array(T * D);
    this.k = new Float32Array(T * KV);
    this.v = new Float32Array(T * KV);
    this.att = new Float32Array(T * D);
    this.proj = new Float32Array(T * D);
    this.gate = new Float32Array(T * F);
    this.up = new Float32Array(T * F);
    this.scores = new Float32Array(opts.contextLength);
    this.logits = new Float32Array(T * cfg.vocabSize);
    this.actsD = allocActivations(T, D);
    this.actsF = allocActivations(T, F);
    this.rope = ropeTable(opts.contextLength, cfg.ropeDims, cfg.ropeTheta);
    this.cache = new KVCache(cfg.nLayers, opts.contextLength, KV, opts.kvCacheType);
  }
}

export class ForwardPass {
  readonly cfg: ModelConfig;
  readonly w: ModelWeights;
  readonly kernels: Kernels;
  readonly s: RunState;
  readonly actQuant: ActQuantMode;

  constructor(cfg: ModelConfig, w: ModelWeights, kernels: Kernels, s: RunState, actQuant: ActQuantMode) {
    this.cfg = cfg;
    this.w = w;
    this.kernels = kernels;
    this.s = s;
    this.actQuant = actQuant;
  }

  /**
   * out [T, N] = x [T, K] · Wᵀ. Ternary weights take the int8 path; `acts` holds x's quantized copy,
   * which is reused when `quantized` says it is already current (q, k and v share one input).
   */
  private matmul(out: Float32Array, x: Float32Array, T: number, w: WeightMatrix, acts: QuantizedActivations, quantized: boolean): void {
    if (w.kind === "float") {
      this.kernels.floatMatmul(w, x, T, out);
      return;
    }
    if (!quantized) this.kernels.quantizeActivations(x, T, w.cols, this.actQuant, acts);
    this.kernels.ternaryMatmul(w, acts, out);
  }

  /**
   * Runs T tokens starting at position pos0. Logits are computed for the last token only, or for every
   * token when `allLogits` (perplexity). Returns the logits buffer: row t at [t·V, (t+1)·V).
   */
  forward(tokens: ArrayLike<number>, pos0: number, allLogits = false): Float32Array {
    const { cfg, w, s } = this;
    const T = tokens.length;
    const D = cfg.dim;
    const F = cfg.ffnDim;

    for (let t = 0; t < T; t++) floatRow(w.token_embd, tokens[t], s.x, t * D);

    for (let l = 0; l < cfg.nLayers; l++) {
      const L = w.layers[l];
      // attention
      rmsnorm(s.xb, s.x, L.attn_norm, T, D, cfg.normEps);
      this.matmul(s.q, s.xb, T, L.attn_q, s.actsD, false);
      this.matmul(s.k, s.xb, T, L.attn_k, s.actsD, L.attn_q.kind === "ternary");
      this.matmul(s.v, s.xb, T, L.attn_v, s.actsD, L.attn_q.kind === "ternary" || L.attn_k.kind === "ternary");
      rope(s.q, T, cfg.nHeads, cfg.headDim, pos0, s.rope, cfg.ropeStyle);
      rope(s.k, T, cfg.nKvHeads, cfg.headDim, pos0, s.rope, cfg.ropeStyle);
      s.cache.store(l, pos0, T, s.k, s.v);
      attention(s.att, s.q, s.cache.keys[l], s.cache.values[l], pos0, T, cfg, s.scores);
      if (L.attn_sub_norm) rmsnorm(s.att, s.att, L.attn_sub_norm, T, D, cfg.normEps);
      this.matmul(s.proj, s.att, T, L.attn_output, s.actsD, false);
      addInPlace(s.x, s.proj, T * D);

      // feed-forward
      rmsnorm(s.xb, s.x, L.ffn_norm, T, D, cfg.normEps);
      this.matmul(s.gate, s.xb, T, L.ffn_gate, s.actsD, false);
      this.matmul(s.up, s.xb, T, L.ffn_up, s.actsD, L.ffn_gate.kind === "ternary");
      gatedActivation(s.gate, s.up, T * F, cfg.activation);
      if (L.ffn_sub_norm) rmsnorm(s.gate, s.gate, L.ffn_sub_norm, T, F, cfg.normEps);
      this.matmul(s.proj, s.gate, T, L.ffn_down, s.actsF, false);
      addInPlace(s.x, s.proj, T * D);
    }
    s.cache.length = pos0 + T;

    // head: only the rows whose logits are wanted
    const first = allLogits ? 0 : T - 1;
    const rows = T - first;
    const h = s.x.subarray(first * D, T * D);
    rmsnorm(h, h, w.output_norm, rows, D, cfg.normEps);
    const out = s.logits.subarray(0, rows * cfg.vocabSize);
    this.matmul(out, h, rows, w.output, s.actsD, false);
    return out;
  }
}
