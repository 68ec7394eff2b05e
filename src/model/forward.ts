/**
 * The forward pass: one function that reads top to bottom, for a batch of T tokens made of segments,
 * each segment some consecutive tokens of one sequence (its KV cache slot, its positions). A prompt run
 * alone is one segment; a continuous-batching step is many (the next token of every decoding sequence,
 * plus prompt chunks). Every op that treats tokens independently (norms, quantization, matmuls,
 * activations) runs once over all T rows, so the weights are read once per step for every sequence;
 * RoPE, the cache writes and attention run per segment. Each row's arithmetic does not depend on the
 * other rows (the kernels guarantee it), so a sequence gets the same bits in a batch as alone.
 * Kernel code lives in src/kernels; every op is a call on the kernel backend (`this.kernels`).
 *
 * Weights that are finite can still overflow float32 on the way (a file of huge but finite numbers): the
 * pass then stops with an InvalidFileError that names the file and the tensor where the values stopped
 * being finite, instead of an anonymous kernel error or, on the float path, NaN logits.
 *
 * Shape legend: T = tokens in this batch (≤ maxBatch), D = dim, F = ffnDim, KV = nKvHeads·headDim,
 * V = vocab, H = nHeads, hd = headDim, R = rows whose logits are wanted.
 */
import { InvalidFileError } from "../errors.ts";
import { activationPieces, allocActivations, padActivations } from "../kernels/activations.ts";
import { ropeTable, type RopeTable } from "../kernels/ops.ts";
import type { ActQuantMode, Kernels, QuantizedActivations, TernaryMatrix, WeightMatrix } from "../kernels/types.ts";
import type { ModelConfig } from "./config.ts";
import { KVCache, type KVCacheType } from "./kv-cache.ts";
import type { ModelWeights } from "./weights.ts";

export interface RunOptions {
  contextLength: number;
  maxBatch: number;
  kvCacheType: KVCacheType;
  actQuant: ActQuantMode;
  /** KV cache slots: sequences that can be resident at once. */
  sequences: number;
}

/** Consecutive tokens of one sequence within a batch. */
export interface BatchSegment {
  /** The sequence's KV cache slot. */
  slot: number;
  /** Position of the segment's first token. */
  pos0: number;
  /** Tokens in the segment (rows of the batch, in order). */
  count: number;
  /** Which of its rows get logits: none (a prompt chunk that is not the last), the last one, or all (scoring). */
  logits: "none" | "last" | "all";
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
  ];
}

/**
 * Every buffer the forward pass touches, allocated once per model; decoding allocates nothing.
 * With a backend that has memory of its own (Kernels.allocState: the wasm kernels), the activations,
 * the RoPE table and the KV cache slots are placed there, so that its kernels work on them in place; the
 * logits and the reference attention's scratch stay ordinary arrays. The first KV slot is placed now,
 * the others when a sequence first needs them (kv-cache.ts).
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
  readonly logits: Float32Array; // [T, V] (only the rows asked for are filled, first R rows)
  readonly actsD: QuantizedActivations; // int8 copy of a [T, D] input
  readonly actsF: QuantizedActivations; // int8 copy of a [T, F] input
  readonly rope: RopeTable;
  readonly cache: KVCache;
  /** Whether the buffers above live in the kernels' memory (see the class comment). */
  readonly inKernelMemory: boolean;

  /**
   * Bytes of kernel memory the run state takes when placed there, with `slots` KV cache slots: reserve them
   * before loading weights into an ordinary wasm memory.
   */
  static kernelBytes(cfg: ModelConfig, opts: RunOptions, slots = 1): number {
    return statePieces(cfg, opts).reduce((sum, b) => sum + align64(b), 0) + slots * align64(RunState.kvBytesPerSequence(cfg, opts));
  }

  static kvBytesPerSequence(cfg: ModelConfig, opts: RunOptions): number {
    return KVCache.bytesFor(cfg.nLayers, opts.contextLength, cfg.nKvHeads * cfg.headDim, opts.kvCacheType);
  }

  constructor(cfg: ModelConfig, opts: RunOptions, kernels?: Pick<Kernels, "allocState">) {
    const T = opts.maxBatch;
    const D = cfg.dim;
    const F = cfg.ffnDim;
    const KV = cfg.nKvHeads * cfg.headDim;
    const region = kernels?.allocState?.(RunState.kernelBytes(cfg, opts, 0), 64) ?? null;
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
    this.cache = new KVCache(cfg.nLayers, opts.contextLength, KV, opts.kvCacheType, opts.sequences, kernels?.allocState ? (bytes) => kernels.allocState?.(bytes, 64) ?? null : undefined);
    this.cache.place(0);
    if (region && at !== region.byteLength) throw new Error(`run state: placed ${at} bytes of ${region.byteLength} (statePieces is out of step with the constructor)`);
    this.scores = new Float32Array(opts.contextLength);
    this.logits = new Float32Array(T * cfg.vocabSize);
  }
}

/** Matrices that read the same input, with their outputs; `ternary` when all of them are ternary. */
interface MatmulGroup {
  ws: readonly WeightMatrix[];
  outs: readonly Float32Array[];
  ternary: readonly TernaryMatrix[] | null;
}

function matmulGroup(ws: WeightMatrix[], outs: Float32Array[]): MatmulGroup {
  const ternary = ws.filter((w): w is TernaryMatrix => w.kind === "ternary");
  return { ws, outs, ternary: ternary.length === ws.length ? ternary : null };
}

export class ForwardPass {
  readonly cfg: ModelConfig;
  readonly w: ModelWeights;
  /** The tensor the pass is computing (or feeding), for errors. */
  private at = "";
  readonly kernels: Kernels;
  readonly s: RunState;
  readonly actQuant: ActQuantMode;
  /**
   * Zero-padded copies of the activations, by width, for matrices whose rows were padded at load (only
   * small models have such widths; ordinary arrays, which kernels with memory of their own copy in).
   */
  private readonly padded = new Map<number, QuantizedActivations>();
  /** Which buffer each int8 activation buffer currently holds the quantized copy of (q, k and v share one input). */
  private readonly quantizedFrom = new Map<QuantizedActivations, Float32Array | null>();
  /** The one segment of forward(), reused: decoding allocates nothing. */
  private readonly single: BatchSegment[] = [{ slot: 0, pos0: 0, count: 0, logits: "last" }];
  /** Per layer, the matrices that read one input (q, k, v; gate, up) with their outputs, built once. */
  private readonly groups: { qkv: MatmulGroup; gateUp: MatmulGroup }[];

  constructor(cfg: ModelConfig, w: ModelWeights, kernels: Kernels, s: RunState, actQuant: ActQuantMode) {
    this.cfg = cfg;
    this.w = w;
    this.kernels = kernels;
    this.s = s;
    this.actQuant = actQuant;
    this.groups = w.layers.map((L) => ({
      qkv: matmulGroup([L.attn_q, L.attn_k, L.attn_v], [s.q, s.k, s.v]),
      gateUp: matmulGroup([L.ffn_gate, L.ffn_up], [s.gate, s.up]),
    }));
  }

  /**
   * out [T, N] = x [T, K] · Wᵀ. Ternary weights take the int8 path through `acts`, which is reused when
   * it already holds x's quantized copy (the norm before the matmul makes it).
   */
  private linear(out: Float32Array, x: Float32Array, T: number, w: WeightMatrix, acts: QuantizedActivations): void {
    this.at = w.name;
    if (w.kind === "float") {
      this.kernels.floatMatmul(w, x, T, out);
      // The float path has no quantizer to trip over an overflow; T·N checks against T·N·K multiply-adds.
      this.checkFinite(out, T * w.rows, w.name);
      return;
    }
    if (this.quantizedFrom.get(acts) !== x) {
      this.kernels.quantizeActivations(x, T, w.paddedFrom ?? w.cols, this.actQuant, acts);
      this.quantizedFrom.set(acts, x);
    }
    this.kernels.ternaryMatmul(w, this.inputFor(w, acts), out);
  }

  /** `acts`, or for a matrix whose rows were padded at load (TernaryMatrix.paddedFrom), a copy padded to match. */
  private inputFor(w: TernaryMatrix, acts: QuantizedActivations): QuantizedActivations {
    if (w.paddedFrom === undefined) return acts;
    let padded = this.padded.get(w.cols);
    if (!padded) {
      padded = allocActivations(this.s.actsD.q.length / this.cfg.dim, w.cols);
      this.padded.set(w.cols, padded);
    }
    padActivations(acts, w.cols, padded);
    return padded;
  }

  /** outs[i] = x · ws[i]ᵀ for matrices that read the same x: one kernel call where the backend groups them. */
  private linearGroup(g: MatmulGroup, x: Float32Array, T: number, acts: QuantizedActivations): void {
    if (!this.kernels.ternaryMatmulGroup || !g.ternary) {
      for (let i = 0; i < g.ws.length; i++) this.linear(g.outs[i], x, T, g.ws[i], acts);
      return;
    }
    this.at = g.ws[0].name;
    const w = g.ternary[0];
    if (this.quantizedFrom.get(acts) !== x) {
      this.kernels.quantizeActivations(x, T, w.paddedFrom ?? w.cols, this.actQuant, acts);
      this.quantizedFrom.set(acts, x);
    }
    this.kernels.ternaryMatmulGroup(g.ternary, this.inputFor(w, acts), g.outs);
  }

  /** out = rmsnorm(x)·weight over T rows of n; quantized into `acts` in the same pass when `next` (the matmul that reads out) is ternary. */
  private rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, T: number, n: number, acts: QuantizedActivations, next: WeightMatrix): void {
    this.at = next.name;
    if (next.kind === "float") {
      this.kernels.rmsnorm(out, x, weight, T, n, this.cfg.normEps);
      this.quantizedFrom.set(acts, null);
      return;
    }
    this.kernels.rmsnormQuantize(out, x, weight, T, n, this.cfg.normEps, this.actQuant, acts);
    this.quantizedFrom.set(acts, out);
  }

  /** `buf` was written by an op other than rmsnorm: no int8 buffer holds its quantized copy any more. */
  private overwritten(buf: Float32Array): void {
    for (const [acts, from] of this.quantizedFrom) if (from === buf) this.quantizedFrom.set(acts, null);
  }

  /**
   * Runs T tokens of one sequence (KV slot 0) starting at position pos0. Logits are computed for the last
   * token only, or for every token when `allLogits` (perplexity). Returns the logits: row t at [t·V, (t+1)·V).
   */
  forward(tokens: ArrayLike<number>, pos0: number, allLogits = false, slot = 0): Float32Array {
    const seg = this.single[0];
    seg.slot = slot;
    seg.pos0 = pos0;
    seg.count = tokens.length;
    seg.logits = allLogits ? "all" : "last";
    return this.forwardBatch(tokens, this.single);
  }

  /**
   * Runs a batch: `tokens` holds the segments' tokens one after the other. Returns the logits of the rows
   * the segments ask for, in order (a segment's "last" is one row, "all" is `count` rows).
   */
  forwardBatch(tokens: ArrayLike<number>, segments: readonly BatchSegment[]): Float32Array {
    try {
      return this.run(tokens, segments);
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

  private run(tokens: ArrayLike<number>, segments: readonly BatchSegment[]): Float32Array {
    const { cfg, w, s } = this;
    const T = tokens.length;
    const D = cfg.dim;
    const F = cfg.ffnDim;
    const KV = cfg.nKvHeads * cfg.headDim;
    const k = this.kernels;
    let rows = 0;
    for (const seg of segments) rows += seg.count;
    if (rows !== T) throw new RangeError(`forward: the segments cover ${rows} tokens, the batch has ${T}`);

    k.embed(w.token_embd, tokens, s.x);
    for (let l = 0; l < cfg.nLayers; l++) {
      const L = w.layers[l];
      // attention
      this.rmsnorm(s.xb, s.x, L.attn_norm, T, D, s.actsD, L.attn_q);
      this.linearGroup(this.groups[l].qkv, s.xb, T, s.actsD);
      let row = 0;
      for (const seg of segments) {
        // RoPE, the cache and attention are per sequence: its own slot and positions.
        const q = row === 0 ? s.q : s.q.subarray(row * D);
        const kk = row === 0 ? s.k : s.k.subarray(row * KV);
        k.rope(q, seg.count, cfg.nHeads, cfg.headDim, seg.pos0, s.rope, cfg.ropeStyle);
        k.rope(kk, seg.count, cfg.nKvHeads, cfg.headDim, seg.pos0, s.rope, cfg.ropeStyle);
        s.cache.store(seg.slot, l, seg.pos0, seg.count, s.k, s.v, row, k);
        const att = row === 0 ? s.att : s.att.subarray(row * D);
        k.attention(att, q, s.cache.keys(seg.slot, l), s.cache.values(seg.slot, l), seg.pos0, seg.count, cfg, s.scores);
        row += seg.count;
      }
      this.overwritten(s.att);
      if (L.attn_sub_norm) this.rmsnorm(s.att, s.att, L.attn_sub_norm, T, D, s.actsD, L.attn_output);
      this.linear(s.proj, s.att, T, L.attn_output, s.actsD);
      k.addInPlace(s.x, s.proj, T * D);

      // feed-forward
      this.rmsnorm(s.xb, s.x, L.ffn_norm, T, D, s.actsD, L.ffn_gate);
      this.linearGroup(this.groups[l].gateUp, s.xb, T, s.actsD);
      k.gatedActivation(s.gate, s.up, T * F, cfg.activation);
      this.overwritten(s.gate);
      if (L.ffn_sub_norm) this.rmsnorm(s.gate, s.gate, L.ffn_sub_norm, T, F, s.actsF, L.ffn_down);
      this.linear(s.proj, s.gate, T, L.ffn_down, s.actsF);
      k.addInPlace(s.x, s.proj, T * D);
      // One pass over the residual per layer (1/D of the layer's matmul work) keeps the float path honest.
      this.checkFinite(s.x, T * D, L.ffn_down.name);
    }

    // head: only the rows whose logits are wanted, moved to the front of x (x is not needed after this)
    const R = this.gatherLogitRows(segments);
    const h = s.x.subarray(0, R * D);
    this.rmsnorm(h, h, w.output_norm, R, D, s.actsD, w.output);
    const out = s.logits.subarray(0, R * cfg.vocabSize);
    this.linear(out, h, R, w.output, s.actsD); // a float matrix: linear() checks that the logits are finite
    return out;
  }

  /** Moves the rows the segments want logits for to rows 0..R-1 of x, in order, and returns R. */
  private gatherLogitRows(segments: readonly BatchSegment[]): number {
    const x = this.s.x;
    const D = this.cfg.dim;
    let row = 0;
    let R = 0;
    for (const seg of segments) {
      const first = seg.logits === "all" ? row : seg.logits === "last" ? row + seg.count - 1 : row + seg.count;
      for (let r = first; r < row + seg.count; r++, R++) if (r !== R) x.copyWithin(R * D, r * D, (r + 1) * D);
      row += seg.count;
    }
    return R;
  }
}
