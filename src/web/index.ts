/**
 * bitnet-ts for web pages: the engine in a Web Worker, with threads when the page is cross-origin
 * isolated (see client.ts). `npm run build:web` bundles this entry as dist/web/bitnet.js.
 * Not here: running the engine on the page's own thread (import bitnet-ts/core for that: one thread).
 */
export { BitNetWorker, createBitNetWorker, type BitNetWorkerOptions, type OnFinish, type WebChatOptions, type WebGenerateOptions, type WebModelOptions } from "./client.ts";
export type { BitNetModelInfo, EngineStats, FinishInfo, WebCacheMode, WebLoadProgressEvent } from "./protocol.ts";
export { clearModelCache, deleteCachedModel, listCachedModels, type CachedModel, type ModelCacheChoice, type ModelCacheOptions, type ModelCacheStore } from "./model-cache.ts";
export type { ChatMessage } from "../generate/chat-template.ts";
export type { GeneratedToken } from "../generate/generate.ts";
export type { ModelConfig } from "../model/config.ts";
export * from "../errors.ts";
