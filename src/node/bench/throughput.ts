/**
 * Prefill and decode throughput of one GGUF file in two engines behind one interface: ours
 * (loadModel) and llama.cpp through node-llama-cpp. Both are timed the same way, with greedy token
 * choice, so that their figures can be set side by side:
 *
 * - prefill(n): from an empty context, evaluate an n-token prompt in batches and pick the next token
 *   greedily (so the output head runs once, for the last position, in both engines);
 * - decode(n): evaluate a short prompt (not timed), then n single-token steps, each feeding back the
 *   greedy choice of the previous one.
 *
 * Used by bench/run.ts and by `bitnet bench`. node-llama-cpp is a dev dependency, so it is imported
 * lazily: without it, or when it cannot load the file, openLlamaCpp says why instead of throwing.
 * Not here: which models are measured, interleaving and statistics (run.ts).
 */
import type { Kernels } from "../../kernels/types.ts";
import type { KernelBackend } from "../kernels.ts";
import { timeDecode, timePrefill, type Timing } from "../../eval/speed.ts";
import { loadModel } from "../../index.ts";
import type { KVCacheType } from "../../model/kv-cache.ts";
import type { HeadType } from "../../model/weights.ts";

export interface EngineOptions {
  threads: number;
  /** Tokens the context holds: at least the prompt plus the decoded tokens. */
  contextLength: number;
  /** Tokens per forward call while prefilling. */
  batchSize: number;
  /** Our KV cache type (llama.cpp keeps its default, F16). */
  kvCacheType?: KVCacheType;
  /** Our output head's storage ("q8_0": the int8 head, quantized at load). */
  headType?: HeadType;
  /** Our kernels, when the caller wants to pass its own (e.g. a timing wrapper). */
  kernels?: Kernels;
  /** Our kernel backend, when not the default choice (ignored when `kernels` is given). */
  backend?: KernelBackend;
}

export type { Timing };

export interface Engine {
  /** "bitnet-ts (wasm-relaxed-simd ×2)", "llama.cpp b… (CPU)". */
  readonly label: string;
  /** Seconds to evaluate `prompt` from an empty context and choose the next token. */
  prefill(prompt: readonly number[]): Promise<number>;
  /**
   * Greedy single-token steps after `prompt` (which is not timed): `steps` of them, or fewer when
   * `maxSeconds` runs out first (an overloaded machine can make a step take seconds).
   */
  decode(prompt: readonly number[], steps: number, maxSeconds?: number): Promise<Timing>;
  dispose(): Promise<void>;
}

export { argmax, benchPrompt } from "../../eval/speed.ts";

export async function openOurs(path: string, o: EngineOptions): Promise<Engine & { vocabSize: number }> {
  const own = o.kernels ? { kernels: o.kernels } : { threads: o.threads, backend: o.backend };
  const model = await loadModel(path, { ...own, contextLength: o.contextLength, batchSize: o.batchSize, kvCacheType: o.kvCacheType, headType: o.headType });
  const threads = o.kernels ? "" : ` ×${o.threads}`;
  const head = o.headType === "q8_0" ? ", q8_0 head" : "";
  return {
    label: `bitnet-ts (${model.backend}${threads}${head})`,
    vocabSize: model.config.vocabSize,
    prefill: async (prompt) => timePrefill(model, prompt),
    decode: async (prompt, steps, maxSeconds) => timeDecode(model, prompt, steps, maxSeconds),
    dispose: () => model.dispose(),
  };
}

type NodeLlamaCpp = typeof import("node-llama-cpp");

let llamaModule: Promise<NodeLlamaCpp> | undefined;
let llamaInstance: Promise<import("node-llama-cpp").Llama> | undefined;

/** node-llama-cpp's prebuilt CPU llama.cpp, offline; one instance per process. */
async function getLlamaCpp(): Promise<{ lib: NodeLlamaCpp; llama: import("node-llama-cpp").Llama }> {
  llamaModule ??= import("node-llama-cpp");
  const lib = await llamaModule;
  llamaInstance ??= lib.getLlama({ gpu: false, build: "never", skipDownload: true, progressLogs: false, logLevel: lib.LlamaLogLevel.error });
  return { lib, llama: await llamaInstance };
}

/** llama.cpp's release tag and build as node-llama-cpp reports them, or null without node-llama-cpp. */
export async function llamaCppVersion(): Promise<string | null> {
  try {
    const { llama } = await getLlamaCpp();
    return `${llama.llamaCppRelease.release} (${llama.buildType}, ${llama.gpu === false ? "CPU" : llama.gpu})`;
  } catch {
    return null;
  }
}

/**
 * llama.cpp on the same file: F16 K/V caches (its default), flash attention off, `threads` threads,
 * one batch for the whole prompt. Returns a reason string when it cannot run the file.
 */
export async function openLlamaCpp(path: string, o: EngineOptions): Promise<Engine | string> {
  let lib: NodeLlamaCpp;
  let llama: import("node-llama-cpp").Llama;
  try {
    ({ lib, llama } = await getLlamaCpp());
  } catch (e) {
    return `node-llama-cpp is not available (${(e as Error).message.split("\n")[0]})`;
  }
  let model: import("node-llama-cpp").LlamaModel;
  try {
    model = await llama.loadModel({ modelPath: path, gpuLayers: 0, defaultContextFlashAttention: false });
  } catch (e) {
    return `llama.cpp cannot load ${path} (${(e as Error).message.split("\n")[0]})`;
  }
  const context = await model.createContext({
    contextSize: o.contextLength,
    batchSize: o.batchSize,
    threads: { ideal: o.threads, min: o.threads },
    sequences: 1,
    flashAttention: false,
  });
  const sequence = context.getSequence();
  type Input = import("node-llama-cpp").ControlledEvaluateInputItem;
  type Token = import("node-llama-cpp").Token;
  // Greedy choice made inside llama.cpp (temperature 0 is its greedy sampler): no 128k-entry map crosses into JS.
  const greedy = { generateNext: { token: true, options: { temperature: 0 } } } as const;
  const run = async (tokens: readonly number[]): Promise<number> => {
    const last = tokens.length - 1;
    const input: Input[] = tokens.map((t, i) => (i === last ? [t as Token, greedy] : (t as Token)));
    const out = await sequence.controlledEvaluate(input);
    const token = out[last]?.next.token;
    if (token == null) throw new Error(`llama.cpp returned no token for ${path}`);
    return token;
  };
  return {
    label: `llama.cpp ${llama.llamaCppRelease.release} (CPU ×${context.currentThreads}, ${lib.GgmlType[context.kvCacheKeyType]} KV)`,
    async prefill(prompt) {
      await sequence.clearHistory();
      const t0 = performance.now();
      await run(prompt);
      return (performance.now() - t0) / 1000;
    },
    async decode(prompt, steps, maxSeconds = Infinity) {
      await sequence.clearHistory();
      let next = await run(prompt);
      const t0 = performance.now();
      let n = 0;
      while (n < steps && performance.now() - t0 < maxSeconds * 1000) {
        next = await run([next]);
        n++;
      }
      return { tokens: n, seconds: (performance.now() - t0) / 1000 };
    },
    async dispose() {
      await context.dispose();
      await model.dispose();
    },
  };
}

/** Frees node-llama-cpp's backend, if it was loaded (otherwise its threads keep the process alive). */
export async function closeLlamaCpp(): Promise<void> {
  const instance = llamaInstance;
  llamaInstance = undefined;
  if (instance) await (await instance.catch(() => undefined))?.dispose();
}
