/**
 * The messages between a page (client.ts) and the engine's Web Worker (engine-worker.ts), and the plain
 * data both sides share. Every message is structured-cloneable: no functions, no AbortSignals.
 * Not here: sending or handling them.
 */
import type { ChatMessage } from "../generate/chat-template.ts";
import type { ChatOptions, FinishReason, GenerateOptions } from "../generate/generate.ts";
import type { ModelConfig } from "../model/config.ts";
import type { LoadProgressEvent, ModelOptions } from "../model/model.ts";
import type { ModelCacheChoice } from "./model-cache.ts";

/** Model options that can cross to the worker (kernels are the worker's, progress comes back as messages). */
export type WorkerModelOptions = Omit<ModelOptions, "kernels" | "onProgress">;
export type WorkerGenerateOptions = Omit<GenerateOptions, "signal">;
export type WorkerChatOptions = Omit<ChatOptions, "signal">;

/**
 * Loading progress: the model's own events (header, weights, ready), and before them, for a URL, either
 * "download" events as bytes arrive or one "cache" event when the model is read from the model cache.
 */
export type WebLoadProgressEvent =
  | LoadProgressEvent
  | { phase: "download"; file: string; loadedBytes: number; totalBytes: number | null }
  | { phase: "cache"; file: string; totalBytes: number };

/** How `load(url)` uses the model cache (see model-download.ts): "use" (default), "revalidate", "reload" or "off". */
export type WebCacheMode = "use" | "revalidate" | "reload" | "off";

/** What `load` resolves to. */
export interface BitNetModelInfo {
  fileName: string;
  config: ModelConfig;
  contextLength: number;
  /** The kernel backend in use: "wasm-relaxed-simd", "wasm-simd128" or "ref". */
  kernels: string;
  /** Threads that compute each matmul, the engine worker's own included. */
  threads: number;
  /** Why fewer threads (or slower kernels) than asked for are in use, or null. */
  fallbackReason: string | null;
  /** Size of the model file in bytes. */
  fileBytes: number;
  /** Where the bytes came from: the model cache (no request made), the network, or the caller (bytes, Blob). */
  source: "cache" | "network" | "input";
  /** Why a downloaded model was not kept in the model cache, or null. */
  cacheError: string | null;
}

export interface FinishInfo {
  reason: FinishReason;
  promptTokens: number;
  generatedTokens: number;
}

/** Counters for tests and tuning. */
export interface EngineStats {
  threads: number;
  /** Matmuls (or other pooled jobs) split across threads since the model was loaded. */
  splitJobs: number;
}

export type ModelSource = ArrayBuffer | Uint8Array | Blob | { url: string };

export type EngineRequest =
  | { type: "hello"; id: number }
  | {
      type: "load";
      id: number;
      source: ModelSource;
      name?: string;
      options: WorkerModelOptions;
      threads: number;
      minParallelWork?: number;
      fallbackReason: string | null;
      cache: WebCacheMode;
      modelCache: ModelCacheChoice;
    }
  | { type: "generate"; id: number; prompt: string | number[]; options: WorkerGenerateOptions }
  | { type: "chat"; id: number; messages: ChatMessage[]; options: WorkerChatOptions }
  | { type: "tokenize"; id: number; text: string; addBos?: boolean; special?: boolean }
  | { type: "stats"; id: number }
  /** Stops generation `target`; answered by that generation's own error reply. */
  | { type: "abort"; id: number; target: number }
  | { type: "dispose"; id: number };

export type EngineReply =
  | { type: "progress"; id: number; event: WebLoadProgressEvent }
  | { type: "token"; id: number; token: number; text: string }
  | { type: "result"; id: number; value: unknown }
  | { type: "error"; id: number; name: string; message: string };

/** The worker's answer to "hello". */
export interface EngineHello {
  crossOriginIsolated: boolean;
}
