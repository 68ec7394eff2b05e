/**
 * The page's side of the browser engine: `createBitNetWorker()` starts the engine in a dedicated Web
 * Worker (engine-worker.ts, which starts its own helper workers for threads) and returns an object whose
 * methods send it messages: load a model from bytes, a Blob or a URL; stream tokens back as an
 * AsyncIterable; dispose. Threads default to navigator.hardwareConcurrency; they need shared memory, so
 * a page that is not cross-origin isolated gets 1 thread and a `fallbackReason` saying which headers
 * to send. Not here: the engine itself (engine-worker.ts), the message types (protocol.ts).
 */
import { reviveError } from "../errors.ts";
import type { ChatMessage } from "../generate/chat-template.ts";
import type { GeneratedToken } from "../generate/generate.ts";
import { ENGINE_WORKER_SOURCE } from "./generated/engine-worker.ts";
import { absoluteUrl, checkModelCacheChoice, type ModelCacheChoice } from "./model-cache.ts";
import type {
  BitNetModelInfo, EngineHello, EngineReply, EngineRequest, EngineStats, FinishInfo, WebCacheMode, WebLoadProgressEvent, WorkerChatOptions, WorkerGenerateOptions, WorkerModelOptions,
} from "./protocol.ts";

export interface BitNetWorkerOptions {
  /** Threads per matmul, the engine worker included. Default: navigator.hardwareConcurrency. */
  threads?: number;
  /**
   * Where to load the engine worker from (dist/web/bitnet-worker.js), for pages whose Content Security
   * Policy forbids blob: workers. Default: the copy built into this bundle, started from a Blob URL.
   */
  workerUrl?: string | URL;
  /** Matmuls below this many multiply-adds stay on one thread (default 2²⁰). For tests and tuning. */
  minParallelWork?: number;
  /**
   * Where `load(url)` keeps downloaded models: "auto" (default: the Origin Private File System, else the
   * Cache API), "opfs", "cache-api", or "off". See model-cache.ts.
   */
  modelCache?: ModelCacheChoice;
}

export interface WebModelOptions extends WorkerModelOptions {
  onProgress?: (event: WebLoadProgressEvent) => void;
  /** The name errors use for bytes (default "<buffer>"), a Blob (default its file name) or a URL (default the URL). */
  name?: string;
  /**
   * For a URL: "use" (default: a cached copy is loaded with no request; else download and keep it),
   * "revalidate" (ask the server whether the cached copy is current), "reload" (download again) or "off".
   */
  cache?: WebCacheMode;
}

export type WebGenerateOptions = WorkerGenerateOptions & { signal?: AbortSignal };
export type WebChatOptions = WorkerChatOptions & { signal?: AbortSignal };
export type OnFinish = (reason: FinishInfo["reason"], promptTokens: number, generatedTokens: number) => void;

const ISOLATION_HINT =
  "this page is not cross-origin isolated, so it has no SharedArrayBuffer for threads: running on 1 thread " +
  "(serve the page with 'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp')";

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onProgress?(event: WebLoadProgressEvent): void;
  onToken?(token: GeneratedToken): void;
}

/** Starts the engine worker and waits until it answers. */
export async function createBitNetWorker(options: BitNetWorkerOptions = {}): Promise<BitNetWorker> {
  const requested = options.threads ?? (globalThis.navigator?.hardwareConcurrency || 1);
  if (!Number.isInteger(requested) || requested < 1) throw new Error(`threads must be a positive integer, got ${options.threads}`);
  const modelCache = options.modelCache ?? "auto";
  checkModelCacheChoice(modelCache);
  const isolated = globalThis.crossOriginIsolated === true;
  const threads = requested > 1 && !isolated ? 1 : requested;
  const url = options.workerUrl ?? URL.createObjectURL(new Blob([ENGINE_WORKER_SOURCE], { type: "text/javascript" }));
  const client = new BitNetWorker(new Worker(url, { name: "bitnet-engine" }), threads, threads < requested ? ISOLATION_HINT : null, options.minParallelWork, modelCache);
  try {
    await client.hello();
  } catch (e) {
    client.terminate();
    throw e;
  }
  return client;
}

export class BitNetWorker {
  /** Threads the next load will use (fewer, with a reason in `fallbackReason`, when the page is not isolated); after a load, the model's. */
  threads: number;
  /** Why fewer threads (or slower kernels) than asked for are in use, or null. */
  fallbackReason: string | null;
  /** The loaded model, or null. */
  info: BitNetModelInfo | null = null;
  private readonly worker: Worker;
  private readonly requestedThreads: number;
  private readonly minParallelWork: number | undefined;
  private readonly modelCache: ModelCacheChoice;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | null = null;

  constructor(worker: Worker, threads: number, fallbackReason: string | null, minParallelWork: number | undefined, modelCache: ModelCacheChoice = "auto") {
    this.worker = worker;
    this.modelCache = modelCache;
    this.threads = this.requestedThreads = threads;
    this.fallbackReason = fallbackReason;
    this.minParallelWork = minParallelWork;
    worker.onmessage = (e: MessageEvent<EngineReply>) => this.receive(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      this.fail(new Error(`the bitnet engine worker failed: ${e.message || "it could not be started (a Content Security Policy that forbids blob: workers? then pass workerUrl)"}`));
    };
  }

  /** @internal Checks that the worker runs. */
  async hello(): Promise<EngineHello> {
    return (await this.request({ type: "hello", id: this.nextId++ })) as EngineHello;
  }

  /**
   * Loads a GGUF model (replacing the one loaded before) from bytes, a Blob (a File from a picker) or a
   * URL (fetched by the worker, relative to this page, and kept in the model cache: see `cache`).
   */
  async load(input: ArrayBuffer | Uint8Array | Blob | string | URL, options: WebModelOptions = {}): Promise<BitNetModelInfo> {
    const { onProgress, name, cache = "use", ...modelOptions } = options;
    const source = typeof input === "string" || input instanceof URL ? { url: absoluteUrl(input) } : input;
    const id = this.nextId++;
    const msg: EngineRequest = {
      type: "load", id, source, name, options: modelOptions, threads: this.requestedThreads, minParallelWork: this.minParallelWork, fallbackReason: this.fallbackReason,
      cache, modelCache: this.modelCache,
    };
    const info = (await this.request(msg, { onProgress })) as BitNetModelInfo;
    this.info = info;
    this.threads = info.threads;
    this.fallbackReason = info.fallbackReason;
    return info;
  }

  /** Streams a continuation of `prompt` (text, or token ids), as BitNetModel.generate does. */
  generate(prompt: string | readonly number[], options: WebGenerateOptions = {}, onFinish?: OnFinish): AsyncGenerator<GeneratedToken> {
    const { signal, ...rest } = options;
    return this.stream({ type: "generate", id: this.nextId++, prompt: typeof prompt === "string" ? prompt : [...prompt], options: rest }, signal, onFinish);
  }

  /** Streams the assistant's reply to `messages`, as BitNetModel.chat does. */
  chat(messages: ChatMessage[], options: WebChatOptions = {}, onFinish?: OnFinish): AsyncGenerator<GeneratedToken> {
    const { signal, ...rest } = options;
    return this.stream({ type: "chat", id: this.nextId++, messages, options: rest }, signal, onFinish);
  }

  async tokenize(text: string, options: { addBos?: boolean; special?: boolean } = {}): Promise<number[]> {
    return (await this.request({ type: "tokenize", id: this.nextId++, text, ...options })) as number[];
  }

  /** Thread counters: how many threads, and how many jobs were split across them. */
  async stats(): Promise<EngineStats> {
    return (await this.request({ type: "stats", id: this.nextId++ })) as EngineStats;
  }

  /** Frees the model and stops every worker. The object cannot be used afterwards. */
  async dispose(): Promise<void> {
    if (this.failure) return;
    try {
      await this.request({ type: "dispose", id: this.nextId++ });
    } finally {
      this.terminate();
    }
  }

  /** @internal Stops the worker at once. */
  terminate(): void {
    this.worker.terminate();
    this.fail(new Error("the bitnet engine worker was disposed"));
  }

  private async *stream(msg: Extract<EngineRequest, { type: "generate" | "chat" }>, signal: AbortSignal | undefined, onFinish: OnFinish | undefined): AsyncGenerator<GeneratedToken> {
    signal?.throwIfAborted();
    const tokens: GeneratedToken[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let result: FinishInfo | null = null;
    let error: Error | null = null;
    this.request(msg, { onToken: (t) => (tokens.push(t), wake?.()) }).then(
      (value) => ((result = value as FinishInfo), (finished = true), wake?.()),
      (e: Error) => ((error = e), (finished = true), wake?.()),
    );
    const abort = (): void => this.post({ type: "abort", id: this.nextId++, target: msg.id });
    signal?.addEventListener("abort", abort);
    try {
      for (;;) {
        // Tokens the worker sent before it saw the abort are not handed out: an aborted stream stops at once.
        if (signal?.aborted) throw signal.reason ?? new DOMException("generation aborted", "AbortError");
        const next = tokens.shift();
        if (next) {
          yield next;
          continue;
        }
        if (finished) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
      if (error) throw signal?.aborted ? (signal.reason ?? error) : error;
      const r = result as FinishInfo | null;
      if (r) onFinish?.(r.reason, r.promptTokens, r.generatedTokens);
    } finally {
      signal?.removeEventListener("abort", abort);
      // The consumer stopped early (break, return, throw): stop generating.
      if (!finished) abort();
    }
  }

  private request(msg: EngineRequest, handlers: Pick<Pending, "onProgress" | "onToken"> = {}): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject, ...handlers });
      this.post(msg);
    });
  }

  private post(msg: EngineRequest): void {
    if (!this.failure) this.worker.postMessage(msg);
  }

  private receive(reply: EngineReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    if (reply.type === "progress") p.onProgress?.(reply.event);
    else if (reply.type === "token") p.onToken?.({ token: reply.token, text: reply.text });
    else {
      this.pending.delete(reply.id);
      if (reply.type === "result") p.resolve(reply.value);
      else p.reject(reviveError(reply));
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
