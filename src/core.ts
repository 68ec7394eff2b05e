/**
 * The browser-safe public API: everything except loading from a file path.
 * Node users import the package root (src/index.ts), which adds paths on top of this.
 */
import { blobSource, bufferSource, type ByteSource } from "./formats/source.ts";
import type { GGUFFile } from "./formats/gguf/reader.ts";
import { BitNetModel, type ModelOptions } from "./model/model.ts";

export { BitNetModel, type LoadProgressEvent, type ModelOptions } from "./model/model.ts";
export * from "./errors.ts";
export type { ModelConfig } from "./model/config.ts";
export type { ChatMessage } from "./generate/chat-template.ts";
export type { ChatOptions, FinishReason, GenerateOptions, GeneratedToken } from "./generate/generate.ts";
export type { SamplingOptions } from "./generate/sampler.ts";
export type { Tokenizer } from "./tokenizer/types.ts";
export { readGGUF, type GGUFFile, type GGUFTensorInfo } from "./formats/gguf/reader.ts";
export { bufferSource, blobSource, type ByteSource } from "./formats/source.ts";
export { openHFCheckpoint, memoryDirectory, type HFCheckpoint, type HFDirectory } from "./formats/hf/index.ts";
export type { Kernels } from "./kernels/types.ts";
export { refKernels } from "./kernels/ref.ts";
export { selectKernels, type SelectKernelsOptions } from "./kernels/select.ts";
export { createKernels, type CreateKernelsOptions, type CreatedKernels } from "./kernels/create.ts";

export type ModelInput = ByteSource | ArrayBuffer | Uint8Array | Blob;

export function toByteSource(input: ModelInput): ByteSource {
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) return bufferSource(input);
  if (typeof Blob !== "undefined" && input instanceof Blob) return blobSource(input);
  return input as ByteSource;
}

/** Loads a GGUF model from bytes, a Blob (a browser File), any ByteSource, or an opened GGUFFile (e.g. `openHFCheckpoint`). */
export function loadModelFrom(input: ModelInput | GGUFFile, options?: ModelOptions): Promise<BitNetModel> {
  return isGGUFFile(input) ? BitNetModel.fromFile(input, options) : BitNetModel.load(toByteSource(input), options);
}

export function isGGUFFile(input: unknown): input is GGUFFile {
  return typeof input === "object" && input !== null && "readTensor" in input && "tensors" in input;
}
