/**
 * A GGUF file's header alone (config and tensor shapes), without loading its weights: what
 * `bitnet energy` counts and what the evaluation commands need to choose a context before loading.
 */
import { existsSync } from "node:fs";
import { readGGUF, type GGUFTensorInfo } from "../formats/gguf/reader.ts";
import { configFromMetadata, type ModelConfig } from "../model/config.ts";
import { InvalidArgumentError } from "../errors.ts";
import { openFileSource } from "./file-source.ts";

export interface ModelHeader {
  config: ModelConfig;
  tensors: GGUFTensorInfo[];
  fileBytes: number;
}

export async function readModelHeader(path: string): Promise<ModelHeader> {
  if (!existsSync(path)) throw new InvalidArgumentError(`${path}: no such file`);
  const source = await openFileSource(path);
  try {
    const file = await readGGUF(source);
    return { config: configFromMetadata(file.metadata, path), tensors: file.tensors, fileBytes: source.size };
  } finally {
    await source.close();
  }
}
