/**
 * bitnet-ts for Node.js: the browser-safe API of core.ts, plus loading a model from a file path,
 * multi-threaded kernels (worker_threads over one shared WebAssembly memory), and training runs that
 * write their files to disk.
 */
import { isGGUFFile, toByteSource, type ModelInput } from "./core.ts";
import type { GGUFFile } from "./formats/gguf/reader.ts";
import type { ByteSource } from "./formats/source.ts";
import type { BitNetModel, ModelOptions } from "./model/model.ts";
import { BitNetModel as Model } from "./model/model.ts";
import { openFileSource } from "./node/file-source.ts";
import { isHFDir, openHFDir } from "./node/hf-dir.ts";
import { isHubName, resolveHubModel, type HubProgressEvent } from "./node/hub/resolve.ts";
import { createNodeKernels, type KernelBackend } from "./node/kernels.ts";
import { InvalidArgumentError } from "./errors.ts";

export * from "./core.ts";
export { createNodeKernels, defaultThreads, KERNEL_BACKENDS, type KernelBackend, type NodeKernelOptions } from "./node/kernels.ts";
export { createNativeKernels, nativeKernelsStatus, type NativeKernelOptions } from "./node/native/kernels.ts";
export { train, type SessionResult as TrainResult, type TrainOptions, type TrainRunEvent } from "./node/train-run.ts";
export { defaultModelPath } from "./node/default-model.ts";
export { openHFDir } from "./node/hf-dir.ts";
export { resolveHubModel, type HubProgressEvent, type ResolveOptions } from "./node/hub/resolve.ts";
export { cacheRoot, listCachedModels, removeCachedModel, parseHubName, type CachedModel } from "./node/hub/cache.ts";

export interface NodeModelOptions extends ModelOptions {
  /**
   * Threads per matmul, the calling thread included (default: the number of cores). The model creates
   * these kernels and closes them on dispose. Not with `kernels`, which are the caller's.
   */
  threads?: number;
  /** The kernel backend the model creates (default: the BITNET_KERNELS environment variable, else the fastest). Not with `kernels`. */
  backend?: KernelBackend;
  /** Download progress of an `hf:` model (drawn by the CLI as a progress bar). */
  onDownload?: (event: HubProgressEvent) => void;
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
 * checkpoint directory, or `hf:OWNER/REPO[:FILE]`; bytes, Blobs, ByteSources and opened GGUF files work as in the browser.
 */
export async function loadModel(pathOrBuffer: string | ModelInput | GGUFFile, options: NodeModelOptions = {}): Promise<BitNetModel> {
  const { threads, backend, onDownload, ...rest } = options;
  if (rest.kernels && (threads !== undefined || backend !== undefined)) {
    throw new InvalidArgumentError("loadModel: pass either kernels (yours to close) or threads/backend (the model creates and closes its kernels), not both");
  }
  const created = rest.kernels ? undefined : await createNodeKernels({ threads, backend });
  let source: ByteSource | GGUFFile;
  try {
    source = typeof pathOrBuffer === "string" ? await openModelPath(pathOrBuffer, { onDownload }) : isGGUFFile(pathOrBuffer) ? pathOrBuffer : toByteSource(pathOrBuffer);
  } catch (e) {
    await created?.kernels.close?.();
    throw e;
  }
  return isGGUFFile(source) ? Model.fromFile(source, rest, created) : Model.load(source, rest, created);
}
