/**
 * A loaded model: config, packed weights, tokenizer, kernels, and the run state that many sequences share
 * (src/model/sequences.ts: one KV cache slot each, batched together step by step). This is what
 * `loadModel` returns. Its synchronous calls (evaluate, step, logits) run at once on a sequence of their
 * own, reusing the cached prefix of the previous call; `generate` and `chat` (src/generate) and explicit
 * sequences (`createSequence`) run through the scheduler, so concurrent calls are batched, not mixed up.
 * Browser-safe: it reads through a ByteSource, never a path.
 */
import { readGGUF, type GGUFFile } from "../formats/gguf/reader.ts";
import type { ByteSource } from "../formats/source.ts";
import type { CreatedKernels } from "../kernels/create.ts";
import { chooseKernels } from "../kernels/select.ts";
import type { ActQuantMode, Kernels } from "../kernels/types.ts";
import { tokenizerFromGGUF } from "../tokenizer/index.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import { chat, generate, type ChatOptions, type FinishReason, type GenerateOptions, type GeneratedToken, type GenerationHost } from "../generate/generate.ts";
import type { ChatMessage } from "../generate/chat-template.ts";
import { configFromMetadata, type ModelConfig } from "./config.ts";
import { DisposedError, InvalidArgumentError, InvalidFileError, MemoryLimitError } from "../errors.ts";
import { ForwardPass, RunState, type RunOptions } from "./forward.ts";
import { Sequence, SequenceEngine, SyncSequence, type StepStats } from "./sequences.ts";
import type { KVCacheType } from "./kv-cache.ts";
import { loadedWeightBytes, loadWeights, type HeadType, type ModelWeights } from "./weights.ts";

export type LoadProgressEvent =
  | { phase: "header"; file: string }
  | { phase: "weights"; file: string; loadedBytes: number; totalBytes: number; tensor: string }
  | { phase: "ready"; file: string; totalBytes: number };

export interface ModelOptions {
  /** Tokens each sequence's context holds (prompt + generated). Default: the model's training context, at most 4096. */
  contextLength?: number;
  /** Tokens evaluated per forward call (a prompt's chunks, or a batching step). Default 256. */
  batchSize?: number;
  /**
   * Sequences that can run at once (concurrent generations are batched together), each with a KV cache
   * slot of contextLength tokens, placed on first use. Default 4.
   */
  parallel?: number;
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
  /**
   * Kernel backend, owned by the caller (who closes it after disposing the model). Default: the model
   * creates the fastest this runtime supports (WebAssembly relaxed SIMD → SIMD128 → the TypeScript
   * reference) and closes it on dispose.
   */
  kernels?: Kernels;
  onProgress?: (event: LoadProgressEvent) => void;
}

const DEFAULT_PARALLEL = 4;

/** The run options the options ask for, checked (before anything is loaded) against the model. */
type ResolvedRunOptions = RunOptions & { batchSize: number };

function resolveRunOptions(config: ModelConfig, opts: ModelOptions): ResolvedRunOptions {
  const positive = (name: keyof ModelOptions, v: unknown): number => {
    if (!Number.isSafeInteger(v) || (v as number) < 1) throw InvalidArgumentError.forParam(name, `must be a positive integer, got ${String(v)}`);
    return v as number;
  };
  const contextLength = positive("contextLength", opts.contextLength ?? Math.min(config.contextLength, 4096));
  const batchSize = Math.min(positive("batchSize", opts.batchSize ?? 256), contextLength);
  const sequences = positive("parallel", opts.parallel ?? DEFAULT_PARALLEL);
  const kvCacheType = opts.kvCacheType ?? "f32";
  if (kvCacheType !== "f32" && kvCacheType !== "f16") throw InvalidArgumentError.forParam("kvCacheType", `must be "f32" or "f16", got ${String(kvCacheType)}`);
  const actQuant = opts.actQuant ?? "token";
  if (actQuant !== "token" && actQuant !== "block256") throw InvalidArgumentError.forParam("actQuant", `must be "token" or "block256", got ${String(actQuant)}`);
  // A step holds the next token of every sequence, so it is at least as wide as the number of sequences.
  return { contextLength, batchSize, maxBatch: Math.max(batchSize, sequences), sequences, kvCacheType, actQuant };
}

export class BitNetModel implements GenerationHost {
  readonly contextLength: number;
  readonly batchSize: number;
  /** Sequences that can run at once. */
  readonly parallel: number;
  /** Things about the options the caller may want to know (e.g. a context longer than the model was trained on). */
  readonly warnings: readonly string[];
  private readonly pass: ForwardPass;
  private readonly engine: SequenceEngine;
  private readonly sync: SyncSequence;
  private disposed = false;
  /** Whether the model created the kernels (and so must close them); a caller's kernels stay the caller's. */
  private readonly ownsKernels: boolean;
  /** Why the kernels are slower than the fastest this runtime could have (or use fewer threads than asked), if they are. */
  readonly fallbackReason: string | null;

  readonly file: GGUFFile;
  readonly fileName: string;
  readonly config: ModelConfig;
  readonly weights: ModelWeights;
  readonly tokenizer: Tokenizer;

  private constructor(file: GGUFFile, fileName: string, config: ModelConfig, weights: ModelWeights, tokenizer: Tokenizer, run: ResolvedRunOptions, kernels: Kernels, owned: CreatedKernels | undefined) {
    this.file = file;
    this.ownsKernels = owned !== undefined;
    this.fallbackReason = owned?.fallbackReason ?? null;
    this.fileName = fileName;
    this.config = config;
    this.weights = weights;
    this.tokenizer = tokenizer;
    this.contextLength = run.contextLength;
    this.batchSize = run.batchSize;
    this.parallel = run.sequences;
    this.warnings =
      run.contextLength > config.contextLength
        ? [`${fileName}: a context of ${run.contextLength} tokens is longer than the ${config.contextLength} the model was trained on; quality may drop past ${config.contextLength}`]
        : [];
    const state = new RunState(config, run, kernels);
    this.pass = new ForwardPass(config, weights, kernels, state, run.actQuant);
    this.engine = new SequenceEngine(this.pass, { contextLength: run.contextLength, maxBatch: run.maxBatch, slots: run.sequences, vocabSize: config.vocabSize, name: fileName });
    this.sync = new SyncSequence(this.engine);
  }

  /** Reads a GGUF file from `source` and loads it (see fromFile). The source is closed on failure or dispose. */
  static async load(source: ByteSource, opts: ModelOptions = {}, created?: CreatedKernels): Promise<BitNetModel> {
    let file: GGUFFile;
    try {
      opts.onProgress?.({ phase: "header", file: source.name });
      file = await readGGUF(source);
    } catch (e) {
      await source.close();
      if (created) await created.kernels.close?.();
      throw e;
    }
    return BitNetModel.fromFile(file, opts, created);
  }

  /**
   * Loads a model from an opened GGUFFile (or anything that reads like one, e.g. a Hugging Face checkpoint
   * presented in GGUF terms). Kernels: `opts.kernels` (the caller's), else `created` (handed over: the
   * model closes them), else the fastest single-threaded ones this runtime has (the model's too). On
   * failure the file's source and any kernels the model would have owned are closed.
   */
  static async fromFile(file: GGUFFile, opts: ModelOptions = {}, created?: CreatedKernels): Promise<BitNetModel> {
    const name = file.source.name;
    let owned = opts.kernels ? undefined : created;
    try {
      const config = configFromMetadata(file.metadata, name);
      const tokenizer = tokenizerFromGGUF(file.metadata, name);
      if (tokenizer.vocabSize !== config.vocabSize) {
        throw new InvalidFileError(`${name}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${config.vocabSize}`);
      }
      const totalBytes = file.tensors.reduce((s, t) => s + t.byteSize, 0);
      const weightBytes = loadedWeightBytes(file, config, opts.headType);
      const run = resolveRunOptions(config, opts);
      owned ??= opts.kernels ? undefined : await chooseKernels();
      const kernels = opts.kernels ?? (owned as CreatedKernels).kernels;
      reserveMemory(kernels, weightBytes, config, run, name, opts.headType);
      const weights = await loadWeights(file, config, name, (p) => opts.onProgress?.({ file: name, ...p }), kernels.allocWeights?.bind(kernels), opts.headType, opts.allowExtraTensors);
      opts.onProgress?.({ phase: "ready", file: name, totalBytes });
      return new BitNetModel(file, name, config, weights, tokenizer, run, kernels, owned);
    } catch (e) {
      // A model that failed to load must not keep its file open, nor threads it started.
      await file.source.close();
      await owned?.kernels.close?.();
      throw e;
    }
  }

  get metadata(): GGUFFile["metadata"] {
    return this.file.metadata;
  }

  /** The kernel backend in use ("wasm-relaxed-simd", "wasm-simd128", "ref", …). */
  get backend(): string {
    return this.pass.kernels.name;
  }

  /** Threads each matmul runs on, the calling thread included. */
  get threads(): number {
    return this.pass.kernels.threads;
  }

  /** Bytes the KV cache slots placed so far hold. */
  get kvCacheBytes(): number {
    return this.pass.s.cache.bytes;
  }

  /** Bytes of KV cache one sequence takes: layers · 2 · contextLength · KV · (4 for F32, 2 for F16). */
  get kvBytesPerSequence(): number {
    return this.pass.s.cache.bytesPerSequence;
  }

  /** Sequences running now, callers waiting for one, and a hook called after every batching step. */
  get sequenceStats(): { busy: number; waiting: number; slots: number } {
    return { busy: this.engine.busySlots, waiting: this.engine.waiting, slots: this.engine.slotCount };
  }

  set onStep(f: ((s: StepStats) => void) | null) {
    this.engine.onStep = f;
  }

  /**
   * For servers: a request is on its way in, so the next batching step waits for it (briefly) instead of
   * starting without it. Call the returned function once the request is read or gone; calling it again
   * does nothing.
   */
  expectArrival(): () => void {
    return this.engine.expectArrival();
  }

  private check(): void {
    if (this.disposed) throw new DisposedError(`${this.fileName}: the model was disposed`);
  }

  /**
   * A sequence of its own for a caller that drives evaluation itself (scoring many requests at once, a
   * server). Resolves when one of the `parallel` KV cache slots is free; `hint` (the first tokens) picks the
   * slot that already holds most of them. Dispose it to give the slot back.
   */
  async createSequence(options: { hint?: readonly number[]; signal?: AbortSignal } = {}): Promise<Sequence> {
    this.check();
    return Sequence.open(this.engine, options.hint ?? [], options.signal);
  }

  /**
   * Makes this model's own sequence hold exactly `ids` and returns the logits after the last one (a view
   * into the run state, valid until the next call). The longest prefix already cached is not recomputed.
   */
  evaluate(ids: readonly number[]): Float32Array {
    this.check();
    return this.sync.evaluate(ids);
  }

  /** Appends one token to the model's own sequence and returns the next logits (the decode step). */
  step(id: number): Float32Array {
    this.check();
    return this.sync.step(id);
  }

  /** The logits after the last of `tokens` (a fresh copy). */
  logits(tokens: readonly number[]): Float32Array {
    return this.evaluate(tokens).slice();
  }

  /** Logits at every position of `tokens`, [T, V], for perplexity. */
  allLogits(tokens: readonly number[]): Float32Array {
    this.check();
    const V = this.config.vocabSize;
    const out = new Float32Array(tokens.length * V);
    this.sync.evaluate(tokens, 0, (row, p) => out.set(row, p * V));
    return out;
  }

  /** Streams a continuation of `prompt` (text, or token ids), one token at a time, on a sequence of its own. */
  generate(prompt: string | readonly number[], options?: GenerateOptions, onFinish?: (reason: FinishReason, promptTokens: number, generatedTokens: number) => void): AsyncGenerator<GeneratedToken> {
    return generate(this, prompt, options, onFinish);
  }

  /** Streams the assistant's reply to `messages`, formatted by the chat template. */
  chat(messages: ChatMessage[], options?: ChatOptions, onFinish?: (reason: FinishReason, promptTokens: number, generatedTokens: number) => void): AsyncGenerator<GeneratedToken> {
    return chat(this, messages, options, onFinish);
  }

  tokenize(text: string, options?: { addBos?: boolean; special?: boolean }): number[] {
    if (typeof text !== "string") throw InvalidArgumentError.forParam("text", `must be a string, got ${text === null ? "null" : typeof text}`);
    return this.tokenizer.encode(text, { addBos: options?.addBos, parseSpecial: options?.special });
  }

  detokenize(ids: readonly number[]): string {
    return this.tokenizer.decode(ids);
  }

  /** Forgets what the model's own sequence holds (the next synchronous call starts at position 0). */
  reset(): void {
    this.sync.reset();
  }

  /** Ends pending work (its promises reject with a DisposedError), then frees the kernels if the model made them, and the file. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.close();
    if (this.ownsKernels) await this.pass.kernels.close?.();
    await this.file.source.close();
  }
}

/**
 * Grows the kernels' memory once, before the weights arrive, for the weights and the run state (every KV
 * slot if it fits, else one): an ordinary wasm memory detaches what it holds when it grows later. Over
 * wasm32's 4 GiB, the run state goes to ordinary arrays; weights alone over it are a MemoryLimitError.
 */
function reserveMemory(kernels: Kernels, weightBytes: number, config: ModelConfig, run: RunOptions, name: string, headType: HeadType | undefined): void {
  if (!kernels.reserve) return;
  const slack = 64 * 2 ** 20;
  for (const slots of [run.sequences, 1]) {
    try {
      kernels.reserve(weightBytes + RunState.kernelBytes(config, run, slots) + slack);
      return;
    } catch {
      // fewer slots next
    }
  }
  try {
    kernels.reserve(weightBytes + slack);
  } catch (e) {
    const gib = (weightBytes / 2 ** 30).toFixed(2);
    throw new MemoryLimitError(
      `${name}: ${gib} GiB of weights do not fit in WebAssembly's 4 GiB (wasm32) with the ${kernels.name} kernels` +
        `${headType === "q8_0" ? "" : '; headType "q8_0" (--head-type q8_0) halves an F16 head'}; the reference kernels (kernels: refKernels) have no such limit but are slow ` +
        `(${(e as Error).message})`,
    );
  }
}
