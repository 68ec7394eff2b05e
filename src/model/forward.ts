/**
 * The forward pass: one function that reads top to bottom, for a batch of T tokens at positions
 * pos0..pos0+T-1, writing keys/values into the cache and logits into the run state.
 * Kernel code lives in src/kernels; this file only says which op follows which, and every op is a call
 * on the kernel backend (`this.kernels`), so a fast backend runs the whole layer.
 *
 * Weights that are finite can still overflow float32 on the way (a file of huge but finite numbers): the
 * pass then stops with an InvalidFileError that names the file and the tensor where the values stopped
 * being finite, instead of an anonymous kernel error or, on the float path, NaN logits.
 *
 * Shape legend: T = tokens in this batch (≤ maxBatch), D = dim, F = ffnDim, KV = nKvHeads·headDim,
 * V = vocab, H = nHeads, hd = headDim.
 */
import { InvalidFileError } from "../errors.ts";
import { activationPieces, allocActivations } from "../kernels/activations.ts";
import { floatRow } from "../kernels/float-ref.ts";
import { ropeTable, type RopeTable } from "../kernels/ops.ts";
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

function align64(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

/** Sizes in bytes of the pieces of a RunState that live in the kernels' memory, in the order they are placed. */
function statePieces(cfg: ModelConfig, opts: RunOptions): number[] {
  const T = opts.maxBatch;
  const D = cfg.dim;
  const F = cfg.ffnDim;
  const KV = cfg.nKvHeads * cfg.headDim;
  return [
    ...[T * D, T * Math.max(D, F), T * D, T * KV, T * KV, T * D, T * D, T * F, T * F].map((n) => 4 * n), // x … up
    ...activationPieces(T, D),
    ...activationPieces(T, F),
    8 * opts.contextLength * (cfg.ropeDims / 2), // RoPE cos, sin
    KVCache.bytesFor(cfg.nLayers, opts.contextLength, KV, opts.kvCacheType),
  ];
}

/**
 * Every buffer the forward pass touches, allocated once per context; decoding allocates nothing.
 * With a backend that has memory of its own (Kernels.allocState: the wasm kernels), the activations,
 * the RoPE table and the KV cache are placed there, so that its kernels work on them in place; the
 * logits and the reference attention's scratch stay ordinary arrays.
 */
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
  /** Whether the buffers above live in the kernels' memory (see the class comment). */
  readonly inKernelMemory: boolean;

  /** Bytes of kernel memory the run state takes when placed there: reserve them before loading weights into an ordinary wasm memory. */
  static kernelBytes(cfg: ModelConfig, opts: RunOptions): number {
    return statePieces(cfg, opts).reduce((sum, b) => sum + align64(b), 0);
  }

  constructor(cfg: ModelConfig, opts: RunOptions, kernels?: Pick<Kernels, "allocState">) {
    const T = opts.maxBatch;
    const D = cfg.dim;
    const F = cfg.ffnDim;
    const KV = cfg.nKvHeads * cfg.headDim;
    const region = kernels?.allocState?.(RunState.kernelBytes(cfg, opts), 64) ?? null;
    this.inKernelMemory = region !== null;
    let at = 0;
    const take = (bytes: number): Uint8Array => {
      if (!region) return new Uint8Array(bytes);
      const piece = region.subarray(at, at + bytes);
      at += align64(bytes);
      return piece;
    };
    const f32 = (n: number): Float32Array => {
      const b = take(4 * n);
      return new Float32Array(b.buffer, b.byteOffset, n);
    };
    this.x = f32(T * D);
    this.xb = f32(T * Math.max(D, F));
    this.q = f32(T * D);
    this.k = f32(T * KV);
    this.v = f32(T * KV);
    this.att = f32(T * D);
    this.proj = f32(T * D);
    this.gate = f32(T * F);
    this.up = f32(T * F);
    this.actsD = allocActivations(T, D, take);
    this.actsF = allocActivations(T, F, take);
    this.rope = ropeTable(opts.contextLength, cfg.ropeDims, cfg.ropeTheta, take);
    this.cache = new KVCache(cfg.nLayers, opts.contextLength, KV, opts.kvCacheType, region ? take(KVCache.bytesFor(cfg.nLayers, opts.contextLength, KV, opts.kvCacheType)) : undefined);
    if (region && at !== region.byteLength) throw new Error(`run state: placed ${at} bytes of ${region.byteLength} (statePieces is out of step with the constructor)`);
    this.scores = new Float32Array(opts.contextLength);
    this.logits = new Float32Array(T * cfg.vocabSize);
  }
}

export class ForwardPass {
  readonly cfg: ModelConfig;
  readonly w: ModelWeights;
  /** The tensor the pass is computing (or feeding), for errors. */
  private at = "";
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
   * Returns whether `acts` now holds x's quantized copy.
   */
  private matmul(out: Float32Array, x: Float32Array, T: number, w: WeightMatrix, acts: QuantizedActivations, quantized: boolean): boolean {
    this.at = w.name;
    if (w.kind === "float") {
      this.kernels.floatMatmul(w, x, T, out);
      // The float path has no quantizer to trip over an overflow; T·N checks against T·N·K multiply-adds.
      this.checkFinite(out, T * w.rows, w.name);
      return quantized;
    }
    if (!quantized) this.kernels.quantizeActivations(x, T, w.cols, this.actQuant, acts);
    this.kernels.ternaryMatmul(w, acts, out);
    return true;
  }

  /**
   * out = rmsnorm(x)·weight over T rows of n; when `next` (the matmul that reads out) is ternary, out is
   * quantized into `acts` in the same pass. Returns whether it was.
   */
  private rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, T: number, n: number, acts: QuantizedActivations, next: WeightMatrix): boolean {
    this.at = next.name;
    if (next.kind === "float") {
      this.kernels.rmsnorm(out, x, weight, T, n, this.cfg.normEps);
      return false;
    }
    this.kernels.rmsnormQuantize(out, x, weight, T, n, this.cfg.normEps, this.actQuant, acts);
    return true;
  }

  /**
   * Runs T tokens starting at position pos0. Logits are computed for the last token only, or for every
   * token when `allLogits` (perplexity). Returns the logits buffer: row t at [t·V, (t+1)·V).
   */
  forward(tokens: ArrayLike<number>, pos0: number, allLogits = false): Float32Array {
    try {
      return this.run(tokens, pos0, allLogits);
    } catch (e) {
      // The int8 path refuses non-finite activations; say which file and which tensor they were headed for.
      if (e instanceof Error && !(e instanceof InvalidFileError) && /non-finite/.test(e.message)) {
        throw new InvalidFileError(`${this.w.file}: tensor '${this.at}': its input is not finite (${e.message}): the weights before it overflow float32`, { cause: e });
      }
      throw e;
    }
  }

  /** Throws when the first `n` values of `x` are not all finite, blaming the tensor that produced them. */
  private checkFinite(x: Float32Array, n: number, producer: string): void {
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(x[i])) throw new InvalidFileError(`${this.w.file}: tensor '${producer}' produces a non-finite value (${x[i]}): the weights overflow float32`);
    }
  }

  private run(tokens: ArrayLike<number>, pos0: number, allLogits: boolean): Float32Array {
    const { cfg, w, s } = this;
    const T = tokens.length;
    const D = cfg.dim;
    const F = cfg.ffnDim;

    for (let t = 0; t < T; t++) floatRow(w.token_embd, tokens[t], s.x, t * D);

    const k = this.kernels;
    for (let l = 0; l < cfg.nLayers; l++) {
      const L = w.layers[l];
      // attention
      let q8 = this.rmsnorm(s.xb, s.x, L.attn_norm, T, D, s.actsD, L.attn_q);
      q8 = this.matmul(s.q, s.xb, T, L.attn_q, s.actsD, q8);
      q8 = this.matmul(s.k, s.xb, T, L.attn_k, s.actsD, q8);
      this.matmul(s.v, s.xb, T, L.attn_v, s.actsD, q8);
      k.rope(s.q, T, cfg.nHeads, cfg.headDim, pos0, s.rope, cfg.ropeStyle);
      k.rope(s.k, T, cfg.nKvHeads, cfg.headDim, pos0, s.rope, cfg.ropeStyle);
      s.cache.store(l, pos0, T, s.k, s.v, k);
      k.attention(s.att, s.q, s.cache.keys[l], s.cache.values[l], pos0, T, cfg, s.scores);
      q8 = L.attn_sub_norm ? this.rmsnorm(s.att, s.att, L.attn_sub_norm, T, D, s.actsD, L.attn_output) : false;
      this.matmul(s.proj, s.att, T, L.attn_output, s.actsD, q8);
      k.addInPlace(s.x, s.proj, T * D);

      // feed-forward
      q8 = this.rmsnorm(s.xb, s.x, L.ffn_norm, T, D, s.actsD, L.ffn_gate);
      q8 = this.matmul(s.gate, s.xb, T, L.ffn_gate, s.actsD, q8);
      this.matmul(s.up, s.xb, T, L.ffn_up, s.actsD, q8);
      k.gatedActivation(s.gate, s.up, T * F, cfg.activation);
      q8 = L.ffn_sub_norm ? this.rmsnorm(s.gate, s.gate, L.ffn_sub_norm, T, F, s.actsF, L.ffn_down) : false;
      this.matmul(s.proj, s.gate, T, L.ffn_down, s.actsF, q8);
      k.addInPlace(s.x, s.proj, T * D);
      // One pass over the residual per layer (1/D of the layer's matmul work) keeps the float path honest.
      this.checkFinite(s.x, T * D, L.ffn_down.name);
    }
    s.cache.length = pos0 + T;

    // head: only the rows whose logits are wanted
    const first = allLogits ? 0 : T - 1;
    const rows = T - first;
    const h = s.x.subarray(first * D, T * D);
    const q8 = this.rmsnorm(h, h, w.output_norm, rows, D, s.actsD, w.output);
    const out = s.logits.subarray(0, rows * cfg.vocabSize);
    this.matmul(out, h, rows, w.output, s.actsD, q8);
    this.checkFinite(out, out.length, w.output.name);
    return out;
  }
}
