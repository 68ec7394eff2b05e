/**
 * bitnet-ts for Node.js: the browser-safe API of core.ts plus loading a model from a file path and
 * multi-threaded kernels (worker_threads over one shared WebAssembly memory).
 */
import { loadModelFrom, type ModelInput } from "./core.ts";
import type { BitNetModel, ModelOptions } from "./model/model.ts";
import type { GGUFFile } from "./formats/gguf/reader.ts";
import type { ByteSource } from "./formats/source.ts";
import { openFileSource } from "./node/file-source.ts";
import { isHFDir, openHFDir } from "./node/hf-dir.ts";
import { isHubName, resolveHubModel, type HubProgressEvent } from "./node/hub/resolve.ts";
import { defaultThreads, selectNodeKernels } from "./node/wasm-select.ts";

export * from "./core.ts";
export { openHFDir } from "./node/hf-dir.ts";
export { resolveHubModel, type HubProgressEvent, type ResolveOptions } from "./node/hub/resolve.ts";
export { cacheRoot, listCachedModels, removeCachedModel, parseHubName, type CachedModel } from "./node/hub/cache.ts";

export interface NodeModelOptions extends ModelOptions {
  /** Download progress of an `hf:` model (drawn by the CLI as a progress bar). */
  onDownload?: (event: HubProgressEvent) => void;
  /** Threads per matmul, the calling thread included (default: the number of cores). Ignored when `kernels` is given. */
  threads?: number;
}

/**
 * What a path string names: `hf:OWNER/REPO[:FILE]` (fetched from the Hugging Face Hub into the cache), a Hugging
 * Face checkpoint directory (read as a virtual GGUF), or a GGUF file.
 */
async function openModelPath(path: string, options: NodeModelOptions): Promise<ByteSource | GGUFFile> {
  const local = isHubName(path) ? await resolveHubModel(path, { onProgress: options.onDownload }) : path;
  if (await isHFDir(local)) return openHFDir(local);
  return openFileSource(local);
}

/**
 * Loads a model. A string is a GGUF file path (read tensor by tensor through a file handle), a Hugging Face
 * checkpoint directory, or `hf:OWNER/REPO[:FILE]`; bytes, Blobs and ByteSources work as in the browser.
 */
export async function loadModel(pathOrBuffer: string | ModelInput, options: NodeModelOptions = {}): Promise<BitNetModel> {
  const { threads = defaultThreads(), ...rest } = options;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
  const kernels = rest.kernels ?? (threads > 1 ? await selectNodeKernels({ threads }) : undefined);
  const source = typeof pathOrBuffer === "string" ? await openModelPath(pathOrBuffer, rest) : pathOrBuffer;
  try {
    const model = await loadModelFrom(source, { ...rest, kernels });
    if (kernels && !rest.kernels) model.adoptKernels();
    return model;
  } catch (e) {
    if (kernels && !rest.kernels) await kernels.close?.();
    throw e;
  }
}
