/**
 * bitnet-ts for Node.js: the browser-safe API of core.ts plus loading a model from a file path and
 * multi-threaded kernels (worker_threads over one shared WebAssembly memory).
 */
import { loadModelFrom, type ModelInput } from "./core.ts";
import type { BitNetModel, ModelOptions } from "./model/model.ts";
import { openFileSource } from "./node/file-source.ts";
import { defaultThreads, selectNodeKernels } from "./node/wasm-select.ts";

export * from "./core.ts";

export interface NodeModelOptions extends ModelOptions {
  /** Threads per matmul, the calling thread included (default: the number of cores). Ignored when `kernels` is given. */
  threads?: number;
}

/**
 * Loads a GGUF model. A string is a file path, read tensor by tensor through a file handle;
 * bytes, Blobs and ByteSources work as in the browser.
 */
export async function loadModel(pathOrBuffer: string | ModelInput, options: NodeModelOptions = {}): Promise<BitNetModel> {
  const { threads = defaultThreads(), ...rest } = options;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
  const kernels = rest.kernels ?? (threads > 1 ? await selectNodeKernels({ threads }) : undefined);
  const source = typeof pathOrBuffer === "string" ? await openFileSource(pathOrBuffer) : pathOrBuffer;
  try {
    const model = await loadModelFrom(source, { ...rest, kernels });
    if (kernels && !rest.kernels) model.adoptKernels();
    return model;
  } catch (e) {
    if (kernels && !rest.kernels) await kernels.close?.();
    throw e;
  }
}
