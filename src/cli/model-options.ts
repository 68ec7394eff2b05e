/**
 * Flags every model-running command shares (-m, --ctx, --kv-type, --act-quant, --head-type, --threads, --batch),
 * and the one place that turns them into a loaded model with a progress bar.
 */
import type { Command } from "commander";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadModel } from "../index.ts";
import type { BitNetModel } from "../model/model.ts";
import { HEAD_TYPES } from "../model/weights.ts";
import { defaultModelPath } from "../node/default-model.ts";
import { loadProgressBar } from "./progress.ts";
import { isHubName } from "../node/hub/resolve.ts";
import { pullWithProgress } from "./pull.ts";

export interface ModelFlags {
  model?: string;
  ctx?: string;
  kvType?: string;
  actQuant?: string;
  headType?: string;
  threads?: string;
  batch?: string;
  allowExtraTensors?: boolean;
}

export function addModelFlags(cmd: Command): Command {
  return cmd
    .option("-m, --model <file>", "GGUF model file, Hugging Face checkpoint directory, or hf:OWNER/REPO[:FILE] (default: the embedded model)")
    .option("-c, --ctx <n>", "context length in tokens (default: the model's, at most 4096)")
    .option("--kv-type <type>", "KV cache type: f32 or f16", "f32")
    .option("--act-quant <mode>", "activation quantization: token (BitNet) or block256 (llama.cpp's Q8_K)", "token")
    .option("--head-type <type>", "output head storage: keep (as the file has it) or q8_0 (int8, quantized at load: half the memory and bytes per token)", "keep")
    .option("-t, --threads <n>", "threads per matmul (WebAssembly kernels with shared memory; default: the number of cores)")
    .option("-b, --batch <n>", "prompt tokens per forward pass", "256")
    .option("--allow-extra-tensors", "load a file that holds tensors its architecture does not have, ignoring them (llama.cpp refuses such files)");
}

export function parseIntFlag(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got '${value}'`);
  return n;
}

export function parseFloatFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${value}'`);
  return n;
}

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`--${name} must be one of ${allowed.join(", ")}, got '${value}'`);
  return value as T;
}

/** "a,b,c" as a list, each item through `parse` (which names the flag); an empty list is an error. */
export function parseListFlag<T>(name: string, value: string, parse: (item: string) => T): T[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new Error(`--${name} needs at least one value, got '${value}'`);
  return items.map(parse);
}

export async function openModel(flags: ModelFlags, extra: { parallel?: number } = {}): Promise<BitNetModel> {
  const path = flags.model ?? defaultModelPath();
  if (!path) throw new Error("no model given: pass -m FILE (no embedded default model is installed)");
  const local = isHubName(path) ? await pullWithProgress(path) : path;
  if (!existsSync(local)) throw new Error(`${local}: no such file`);
  if (statSync(local).isDirectory() && !existsSync(join(local, "config.json"))) {
    throw new Error(`${local}: is a directory without config.json: neither a GGUF file nor a Hugging Face checkpoint`);
  }
  const bar = loadProgressBar();
  let model: BitNetModel;
  try {
    model = await loadModel(local, {
      threads: parseIntFlag("threads", flags.threads, 1),
      contextLength: parseIntFlag("ctx", flags.ctx, 1),
      batchSize: parseIntFlag("batch", flags.batch, 1),
      kvCacheType: oneOf("kv-type", flags.kvType, ["f32", "f16"] as const),
      actQuant: oneOf("act-quant", flags.actQuant, ["token", "block256"] as const),
      headType: oneOf("head-type", flags.headType, HEAD_TYPES),
      parallel: extra.parallel,
      allowExtraTensors: flags.allowExtraTensors === true,
      onProgress: bar.update,
    });
  } finally {
    bar.stop();
  }
  for (const w of model.warnings) process.stderr.write(`bitnet: warning: ${w}\n`);
  return model;
}

/** Parses "1,2,3" into token ids. */
export function parseIds(text: string): number[] {
  const ids = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`--prompt-ids must be comma-separated token ids, got '${text}'`);
  return ids;
}
