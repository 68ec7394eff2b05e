/**
 * bitnet-ts for Node.js: the browser-safe API of core.ts plus loading a model from a file path.
 */
import { loadModelFrom, type ModelInput } from "./core.ts";
import type { BitNetModel, ModelOptions } from "./model/model.ts";
import { openFileSource } from "./node/file-source.ts";

export * from "./core.ts";

/**
 * Loads a GGUF model. A string is a file path, read tensor by tensor through a file handle;
 * bytes, Blobs and ByteSources work as in the browser.
 */
export async function loadModel(pathOrBuffer: string | ModelInput, options?: ModelOptions): Promise<BitNetModel> {
  if (typeof pathOrBuffer === "string") return loadModelFrom(await openFileSource(pathOrBuffer), options);
  return loadModelFrom(pathOrBuffer, options);
}
