/**
 * bitnet-ts for Node.js: the browser-safe API of core.ts, plus loading a model from a file path,
 * multi-threaded kernels (worker_threads over one shared WebAssembly memory), and training runs that
 * write their files to disk.
 */
import { toByteSource, type ModelInput } from "./core.ts";
import type { BitNetModel, ModelOptions } from "./model/model.ts";
import { BitNetModel as Model } from "./model/model.ts";
import { openFileSource } from "./node/file-source.ts";
import { createNodeKernels, type KernelBackend } from "./node/kernels.ts";
import { InvalidArgumentError } from "./errors.ts";

export * from "./core.ts";
export { createNodeKernels, defaultThreads, KERNEL_BACKENDS, type KernelBackend, type NodeKernelOptions } from "./node/kernels.ts";
export { train, type SessionResult as TrainResult, type TrainOptions, type TrainRunEvent } from "./node/train-run.ts";
export { defaultModelPath } from "./node/default-model.ts";

export interface NodeModelOptions extends ModelOptions {
  /**
   * Threads per matmul, the calling thread included (default: the number of cores). The model creates
   * these kernels and closes them on dispose. Not with `kernels`, which are the caller's.
   */
  threads?: number;
  /** The kernel backend the model creates (default: the BITNET_KERNELS environment variable, else the fastest). Not with `kernels`. */
  backend?: KernelBackend;
}

/**
 * Loads a GGUF model. A string is a file path, read tensor by tensor through a file handle;
 * bytes, Blobs and ByteSources work as in the browser.
 */
export async function loadModel(pathOrBuffer: string | ModelInput, options: NodeModelOptions = {}): Promise<BitNetModel> {
  const { threads, backend, ...rest } = options;
  if (rest.kernels && (threads !== undefined || backend !== undefined)) {
    throw new InvalidArgumentError("loadModel: pass either kernels (yours to close) or threads/backend (the model creates and closes its kernels), not both");
  }
  const created = rest.kernels ? undefined : await createNodeKernels({ threads, backend });
  let source;
  try {
    source = typeof pathOrBuffer === "string" ? await openFileSource(pathOrBuffer) : toByteSource(pathOrBuffer);
  } catch (e) {
    await created?.kernels.close?.();
    throw e;
  }
  return Model.load(source, rest, created);
}
