/**
 * The program of the engine's Web Worker: one model, its kernels and its thread pool, driven by the
 * page's messages (protocol.ts). The forward pass is synchronous and blocks in Atomics.wait while the
 * helper workers compute their rows, which only a worker may do; the page stays responsive.
 * Requests run one at a time in arrival order, except "abort" (and the abort that "dispose" implies),
 * which act at once: generation yields between tokens, so an abort is seen before the next one.
 * `npm run build:web` bundles this file into a string (generated/engine-worker.ts) that client.ts starts
 * from a Blob URL. Not here: the page's API (client.ts), the pool (src/kernels/wasm/pool.ts).
 */
import { blobSource, bufferSource, loadModelFrom, type BitNetModel, type ByteSource } from "../core.ts";
import type { FinishReason } from "../generate/generate.ts";
import { createKernels, type CreatedKernels } from "../kernels/create.ts";
import type { Kernels } from "../kernels/types.ts";
import { ThreadedWasmKernels } from "../kernels/wasm/threaded.ts";
import { serializeError } from "../errors.ts";
import { spawnWebWorkerHelper } from "./helper-workers.ts";
import { openModelUrl, type OpenedModel } from "./model-download.ts";
import type { BitNetModelInfo, EngineHello, EngineReply, EngineRequest, EngineStats, FinishInfo, WebLoadProgressEvent } from "./protocol.ts";

/** The parts of DedicatedWorkerGlobalScope used here (the DOM library types `self` as a Window). */
interface WorkerScope {
  onmessage: ((e: MessageEvent<EngineRequest>) => void) | null;
  postMessage(message: EngineReply): void;
  crossOriginIsolated?: boolean;
}

const scope = globalThis as unknown as WorkerScope;
let model: BitNetModel | null = null;
let kernels: Kernels | null = null;
const generations = new Map<number, AbortController>();
let queue: Promise<void> = Promise.resolve();

const post = (reply: EngineReply): void => scope.postMessage(reply);

scope.onmessage = (e) => {
  const req = e.data;
  if (req.type === "abort") {
    generations.get(req.target)?.abort(new DOMException("generation aborted", "AbortError"));
    return;
  }
  // Disposing must not wait for running generations to finish on their own.
  if (req.type === "dispose") for (const g of generations.values()) g.abort(new DOMException("the engine was disposed", "AbortError"));
  queue = queue.then(() =>
    handle(req).then(
      (value) => post({ type: "result", id: req.id, value }),
      (err: unknown) => post({ type: "error", id: req.id, ...serializeError(err) }),
    ),
  );
};

async function handle(req: Exclude<EngineRequest, { type: "abort" }>): Promise<unknown> {
  switch (req.type) {
    case "hello":
      return { crossOriginIsolated: scope.crossOriginIsolated === true } satisfies EngineHello;
    case "load":
      return load(req);
    case "generate":
      return stream(req.id, (signal, onFinish) => loaded().generate(req.prompt, { ...req.options, signal }, onFinish));
    case "chat":
      return stream(req.id, (signal, onFinish) => loaded().chat(req.messages, { ...req.options, signal }, onFinish));
    case "tokenize":
      return loaded().tokenize(req.text, { addBos: req.addBos, special: req.special });
    case "stats":
      return {
        threads: kernels?.threads ?? 1,
        splitJobs: kernels instanceof ThreadedWasmKernels ? kernels.pool.splitJobs : 0,
      } satisfies EngineStats;
    case "dispose":
      await unload();
      return null;
  }
}

function loaded(): BitNetModel {
  if (!model) throw new Error("no model is loaded: call load() first");
  return model;
}

/** Disposes the model, then closes the kernels: the engine created them, so they are its to close. */
async function unload(): Promise<void> {
  const old = model;
  const oldKernels = kernels;
  model = null;
  kernels = null;
  await old?.dispose();
  await oldKernels?.close?.();
}

async function load(req: Extract<EngineRequest, { type: "load" }>): Promise<BitNetModelInfo> {
  await unload();
  const onProgress = (event: WebLoadProgressEvent): void => post({ type: "progress", id: req.id, event });
  const opened = await openSource(req, onProgress);
  const chosen = await chooseKernels(req.threads, req.minParallelWork);
  try {
    model = await loadModelFrom(opened.source, { ...req.options, kernels: chosen.kernels, onProgress });
  } catch (e) {
    await chosen.kernels.close?.();
    // A cached file that does not load (an error page served as the model, a file the engine cannot
    // run) must not be served again on the next load.
    if (opened.cache && "url" in req.source) await opened.cache.delete(req.source.url).catch(() => undefined);
    throw e;
  }
  kernels = chosen.kernels;
  const reasons = [req.fallbackReason, chosen.fallbackReason].filter((r) => r !== null);
  return {
    fileName: model.fileName,
    config: model.config,
    contextLength: model.contextLength,
    kernels: model.backend,
    threads: chosen.kernels.threads,
    fallbackReason: reasons.length > 0 ? reasons.join("; ") : null,
    fileBytes: opened.source.size,
    source: opened.from,
    cacheError: opened.cacheError,
  };
}

/** A byte source for the model: bytes and Blobs as they are; a URL through the model cache, with progress. */
async function openSource(req: Extract<EngineRequest, { type: "load" }>, onProgress: (e: WebLoadProgressEvent) => void): Promise<Omit<OpenedModel, "from"> & { from: BitNetModelInfo["source"] }> {
  const { source, name } = req;
  const input = (s: ByteSource) => ({ source: s, from: "input" as const, cache: null, cacheError: null });
  if (source instanceof Blob) return input(name ? blobSource(source, name) : blobSource(source));
  if (!("url" in source)) return input(bufferSource(source, name));
  return openModelUrl(source.url, name ?? source.url, req.cache, req.modelCache, onProgress);
}

/**
 * The fastest kernels with up to `threads` threads. A pool that fails to start or to compute right costs
 * speed, not the page: the engine then runs on one thread, and says why.
 */
function chooseKernels(threads: number, minParallelWork: number | undefined): Promise<CreatedKernels> {
  if (threads > 1 && scope.crossOriginIsolated !== true) {
    return createKernels().then((c) => ({
      ...c,
      fallbackReason: ["the engine's worker is not cross-origin isolated, so it has no shared memory: running on 1 thread", c.fallbackReason].filter((r) => r !== null).join("; "),
    }));
  }
  return createKernels({ threads, spawn: spawnWebWorkerHelper, minParallelWork });
}

/** Runs one generation, posting each token as it comes; resolves to how it ended. */
async function stream(
  id: number,
  start: (signal: AbortSignal, onFinish: (reason: FinishReason, promptTokens: number, generatedTokens: number) => void) => AsyncIterable<{ token: number; text: string }>,
): Promise<FinishInfo> {
  const controller = new AbortController();
  generations.set(id, controller);
  let finish: FinishInfo | null = null;
  try {
    const tokens = start(controller.signal, (reason, promptTokens, generatedTokens) => {
      finish = { reason, promptTokens, generatedTokens };
    });
    for await (const { token, text } of tokens) post({ type: "token", id, token, text });
  } finally {
    generations.delete(id);
  }
  if (!finish) throw new Error("generation ended without a finish reason");
  return finish;
}
