export { ContextOverflowError } from "../errors.ts";

/**
 * A loaded model: config, packed weights, tokenizer and one evaluation context (run state + KV cache).
 * This is what `loadModel` returns. It knows how to turn token ids into logits, reusing the cached
 * prefix of the previous call; text generation on top of it lives in src/generate.
 * Browser-safe: it reads through a ByteSource, never a path.
 */
import { readGGUF, type GGUFFile } from "../formats/gguf/reader.ts";
import type { ByteSource } from "../formats/source.ts";
import { selectKernels } from "../kernels/select.ts";
import type { ActQuantMode, Kernels } from "../kernels/types.ts";
import { tokenizerFromGGUF } from "../tokenizer/index.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import { chat, generate, type ChatOptions, type FinishReason, type GenerateOptions, type GeneratedToken } from "../generate/generate.ts";
import type { ChatMessage } from "../generate/chat-template.ts";
import { configFromMetadata, type ModelConfig } from "./config.ts";
import { ContextOverflowError } from "../errors.ts";
import { ForwardPass, RunState } from "./forward.ts";
import type { KVCacheType } from "./kv-cache.ts";
import { loadedWeightBytes, loadWeights, type HeadType, type ModelWeights } from "./weights.ts";

export type LoadProgressEvent =
  | { phase: "header"; file: string }
  | { phase: "weights"; file: string; loadedBytes: number; totalBytes: number; tensor: string }
  | { phase: "ready"; file: string; totalBytes: number };

export interface ModelOptions {
  /** Tokens the context holds (prompt + generated). Default: the model's training context, at most 4096. */
  contextLength?: number;
  /** Tokens evaluated per forward call during prompt processing. Default 256. */
  batchSize?: number;
  /** KV cache element type. Default "f32". */
  kvCacheType?: KVCacheType;
  /** Activation quantization before ternary matmuls: "token" (BitNet, default) or "block256" (llama.cpp's Q8_K). */
  actQuant?: ActQuantMode;
  /**
   * The output head's storage: "keep" (default) as the file has it, or "q8_0" to quantize an f32/f16/bf16
   * head (and the embedding tied to it) to int8 at load, as llama.cpp's Q8_0: half an F16 head's memory
   * and bytes read per token, for a small loss of accuracy.
   */
  headType?: HeadType;
  /**
   * Load a file that holds tensors its architecture does not have (llama.cpp refuses it: "wrong number of
   * tensors"), ignoring them. Default false. Layers beyond block_count are refused either way.
   */
  allowExtraTensors?: boolean;
  /** Kernel backend. Default: the fastest this runtime supports (WebAssembly relaxed SIMD → SIMD128 → the TypeScript reference). */
  kernels?: Kernels;
  onProgress?: (event: LoadProgressEvent) => void;
}

export class BitNetModel {
  readonly contextLength: number;
  readonly batchSize: number;
  private readonly pass: ForwardPass;
  /** Tokens whose keys and values are in the cache, in order. */
  private cached: number[] = [];
  private disposed = false;
  /** Whether load() created the kernels (and so must close them); a caller's kernels stay the caller's. */
  private ownsKernels = false;

  readonly file: GGUFFile;
  readonly fileName: string;
  readonly config: ModelConfig;
  readonly weights: ModelWeights;
  readonly tokenizer: Tokenizer;

  private constructor(file: GGUFFile, fileName: string, config: ModelConfig, weights: ModelWeights, tokenizer: Tokenizer, opts: ModelOptions) {
    this.file = file;
    this.fileName = fileName;
    this.config = config;
    this.weights = weights;
    this.tokenizer = tokenizer;
    const ctx = opts.contextLength ?? Math.min(config.contextLength, 4096);
    if (!Number.isInteger(ctx) || ctx < 1) throw new Error(`contextLength must be a positive integer, got ${opts.contextLength}`);
    this.contextLength = ctx;
    this.batchSize = Math.min(opts.batchSize ?? 256, ctx);
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${opts.batchSize}`);
    const state = new RunState(config, { contextLength: ctx, maxBatch: this.batchSize, kvCacheType: opts.kvCacheType ?? "f32", actQuant: opts.actQuant ?? "token" }, opts.kernels);
    this.pass = new ForwardPass(config, weights, opts.kernels as Kernels, state, opts.actQuant ?? "token");
  }

  static async load(source: ByteSource, opts: ModelOptions = {}): Promise<BitNetModel> {
    const name = source.name;
    try {
      opts.onProgress?.({ phase: "header", file: name });
      const file = await readGGUF(source);
      const config = configFromMetadata(file.metadata, name);
      const tokenizer = tokenizerFromGGUF(file.metadata, name);
      if (tokenizer.vocabSize !== config.vocabSize) {
        throw new Error(`${name}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${config.vocabSize}`);
      }
      const totalBytes = file.tensors.reduce((s, t) => s + t.byteSize, 0);
      const weightBytes = loadedWeightBytes(file, config, opts.headType);
      const kernels = opts.kernels ?? (await selectKernels());
      // Room for the run state too (RunState places it in the kernels' memory when it fits), without
      // which an ordinary wasm memory would have to grow after the weights and detach them.
      const ctx = opts.contextLength ?? Math.min(config.contextLength, 4096);
      const run = { contextLength: ctx, maxBatch: Math.min(opts.batchSize ?? 256, ctx), kvCacheType: opts.kvCacheType ?? "f32", actQuant: opts.actQuant ?? "token" } as const;
      const stateBytes = Number.isInteger(ctx) && ctx > 0 ? RunState.kernelBytes(config, run) : 0;
      try {
        kernels.reserve?.(weightBytes + stateBytes + 64 * 2 ** 20);
      } catch {
        try {
          kernels.reserve?.(weightBytes + 64 * 2 ** 20); // over wasm32's 4 GiB with it: the run state stays in ordinary arrays
        } catch (e) {
          const gib = (weightBytes / 2 ** 30).toFixed(2);
          throw new Error(
            `${name}: ${gib} GiB of weights do not fit in WebAssembly's 4 GiB (wasm32) with the ${kernels.name} kernels` +
              `${opts.headType === "q8_0" ? "" : '; headType "q8_0" (--head-type q8_0) halves an F16 head'}; the reference kernels (kernels: refKernels) have no such limit but are slow ` +
              `(${(e as Error).message})`,
          );
        }
      }
      const weights = await loadWeights(file, config, name, (p) => opts.onProgress?.({ file: name, ...p }), kernels.allocWeights?.bind(kernels), opts.headType, opts.allowExtraTensors);
      opts.onProgress?.({ phase: "ready", file: name, totalBytes });
      const model = new BitNetModel(file, name, config, weights, tokenizer, { ...opts, kernels });
      model.ownsKernels = opts.kernels === undefined;
      return model;
    } catch (e) {
      // A model that failed to load must not keep its file open.
      await source.close();
      throw e;
    }
  }

  get metadata(): GGUFFile["metadata"] {
    return this.file.metadata;
  }

  /** Makes dispose() close the kernels: for loaders that created them on the caller's behalf. */
  adoptKernels(): void {
    this.ownsKernels = true;
  }

  /** The kernel backend in use ("wasm-relaxed-simd", "wasm-simd128", "ref", …). */
  get kernels(): string {
    return this.pass.kernels.name;
  }

  /** Bytes held by the KV cache. */
  get kvCacheBytes(): number {
    return this.pass.s.cache.bytes;
  }

  private check(): void {
    if (this.disposed) throw new Error(`${this.fileName}: the model was disposed`);
  }

  private checkIds(ids: readonly number[]): void {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new Error(`${this.fileName}: token id ${id} is outside the vocabulary [0, ${this.config.vocabSize})`);
      }
    }
  }

  /**
   * Makes the cache hold exactly `ids` and returns the logits after the last one (a view into the run
   * state, valid until the next call). The longest prefix already in the cache is not recomputed.
   */
  evaluate(ids: readonly number[]): Float32Array {
    this.check();
    if (ids.length === 0) throw new Error("evaluate: no tokens given");
    if (ids.length > this.contextLength) {
      throw new ContextOverflowError(`${ids.length} tokens do not fit the context of ${this.contextLength}`);
    }
    this.checkIds(ids);
    let keep = 0;
    const max = Math.min(this.cached.length, ids.length - 1); // at least the last token is run, to get its logits
    while (keep < max && this.cached[keep] === ids[keep]) keep++;
    this.cached.length = keep;
    let logits: Float32Array | null = null;
    for (let p = keep; p < ids.length; p += this.batchSize) {
      const batch = ids.slice(p, Math.min(ids.length, p + this.batchSize));
      logits = this.pass.forward(batch, p);
      for (const id of batch) this.cached.push(id);
    }
    return logits as Float32Array;
  }

  /** Appends one token to the cached sequence and returns the next logits (the decode step). */
  step(id: number): Float32Array {
    this.check();
    if (this.cached.length >= this.contextLength) throw new ContextOverflowError(`the context of ${this.contextLength} tokens is full`);
    this.checkIds([id]);
    const logits = this.pass.forward([id], this.cached.length);
    this.cached.push(id);
    return logits;
  }

  /** The logits after the last of `tokens` (a fresh copy), evaluated from the start of the context. */
  logits(tokens: readonly number[]): Float32Array {
    return this.evaluate(tokens).slice();
  }

  /** Logits at every position of `tokens`, [T, V], for perplexity. Clears the cache first. */
  allLogits(tokens: readonly number[]): Float32Array {
    this.check();
    if (tokens.length > this.contextLength) throw new ContextOverflowError(`${tokens.length} tokens do not fit the context of ${this.contextLength}`);
    this.checkIds(tokens);
    this.cached = [];
    const V = this.config.vocabSize;
    const out = new Float32Array(tokens.length * V);
    for (let p = 0; p < tokens.length; p += this.batchSize) {
      const batch = tokens.slice(p, Math.min(tokens.length, p + this.batchSize));
      out.set(this.pass.forward(batch, p, true), p * V);
      for (const id of batch) this.cached.push(id);
    }
    return out;
  }

  /** Streams a continuation of `prompt` (text, or token ids), one token at a time. */
  generate(prompt: string | readonly number[], options?: GenerateOptions, onFinish?: (reason: FinishReason, promptTokens: number, generatedTokens: number) => void): AsyncGenerator<GeneratedToken> {
    return generate(this, prompt, options, onFinish);
  }

  /** Streams the assistant's reply to `messages`, formatted by the chat template. */
  chat(messages: ChatMessage[], options?: ChatOptions, onFinish?: (reason: FinishReason, promptTokens: number, generatedTokens: number) => void): AsyncGenerator<GeneratedToken> {
    return chat(this, messages, options, onFinish);
  }

  tokenize(text: string, options?: { addBos?: boolean; special?: boolean }): number[] {
    return this.tokenizer.encode(text, { addBos: options?.addBos, parseSpecial: options?.special });
  }

  detokenize(ids: readonly number[]): string {
    return this.tokenizer.decode(ids);
  }

  /** Forgets the cached sequence (the next call starts at position 0). */
  reset(): void {
    this.cached = [];
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.cached = [];
    if (this.ownsKernels) await this.pass.kernels.close?.();
    await this.file.source.close();
  }
}
