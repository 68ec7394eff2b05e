/**
 * What a GGUF file holds, summarized from its header only (no tensor data): version, architecture,
 * every metadata key (long arrays summarized), a tokenizer summary, every tensor with its shape, type
 * and bytes, and totals, including the bits per weight of the linear (ternary) layers. `bitnet info`
 * prints it (as text or JSON); benchmarks record it. The JSON shape is documented in src/cli/info.ts.
 */
import { tensorRole } from "../../convert/convert-gguf.ts";
import type { GGUFFile } from "./reader.ts";
import { elementCount, typeName } from "./types.ts";
import { GGUFValueType, describeType, type GGUFValue, type GGUFValueTypeDescriptor } from "./value-types.ts";

/** Arrays longer than this are summarized in `--json` and in the text output. */
export const METADATA_ARRAY_LIMIT = 16;

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface InfoTensor {
  name: string;
  shape: number[];
  type: string;
  bytes: number;
}

export interface TokenizerSummary {
  model: string | null;
  pre: string | null;
  vocab_size: number | null;
  bos_token_id: number | null;
  bos_token: string | null;
  eos_token_id: number | null;
  eos_token: string | null;
  merges: number;
  chat_template: boolean;
}

export interface ModelInfo {
  /** "gguf", or "hf-checkpoint" for a Hugging Face directory summarized as the GGUF bitnet-ts reads it as. */
  format?: "gguf" | "hf-checkpoint";
  /** The safetensors files of a checkpoint directory. */
  shards?: string[];
  file: string;
  file_size: number;
  version: number;
  alignment: number;
  data_offset: number;
  architecture: string | null;
  metadata: Record<string, Json>;
  tokenizer: TokenizerSummary | null;
  tensors: InfoTensor[];
  parameters: number;
  total_bytes: number;
  linear_parameters: number;
  linear_bytes: number;
  linear_bits_per_weight: number | null;
}

export function summarizeGGUF(file: GGUFFile): ModelInfo {
  // fromEntries defines own properties, so even a key named `__proto__` survives.
  const metadata: Record<string, Json> = Object.fromEntries(file.metadataKeys.map((k) => [k, jsonValue(file.metadata[k], file.metadataTypes[k])]));
  const tensors = file.tensors.map((t) => ({ name: t.name, shape: [...t.shape], type: typeName(t.type), bytes: t.byteSize }));
  let parameters = 0;
  let totalBytes = 0;
  let linearParameters = 0;
  let linearBytes = 0;
  for (const t of file.tensors) {
    const n = elementCount(t.shape);
    parameters += n;
    totalBytes += t.byteSize;
    if (tensorRole(t.name) === "linear") {
      linearParameters += n;
      linearBytes += t.byteSize;
    }
  }
  const arch = own(file.metadata, "general.architecture");
  return {
    file: file.source.name,
    file_size: file.source.size,
    version: file.version,
    alignment: file.alignment,
    data_offset: file.dataOffset,
    architecture: typeof arch === "string" ? arch : null,
    metadata,
    tokenizer: tokenizerSummary(file),
    tensors,
    parameters,
    total_bytes: totalBytes,
    linear_parameters: linearParameters,
    linear_bytes: linearBytes,
    linear_bits_per_weight: linearParameters > 0 ? (8 * linearBytes) / linearParameters : null,
  };
}

function own(obj: Record<string, GGUFValue>, key: string): GGUFValue | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function tokenizerSummary(file: GGUFFile): TokenizerSummary | null {
  const m = file.metadata;
  if (!file.metadataKeys.some((k) => k.startsWith("tokenizer."))) return null;
  const str = (k: string): string | null => {
    const v = own(m, k);
    return typeof v === "string" ? v : null;
  };
  const int = (k: string): number | null => {
    const v = own(m, k);
    return typeof v === "number" ? v : null;
  };
  const len = (k: string): number | null => {
    const v = own(m, k);
    return Array.isArray(v) ? v.length : null;
  };
  const tokens = own(m, "tokenizer.ggml.tokens");
  const piece = (id: number | null): string | null => (id !== null && Array.isArray(tokens) && typeof tokens[id] === "string" ? tokens[id] : null);
  const bos = int("tokenizer.ggml.bos_token_id");
  const eos = int("tokenizer.ggml.eos_token_id");
  return {
    model: str("tokenizer.ggml.model"),
    pre: str("tokenizer.ggml.pre"),
    vocab_size: len("tokenizer.ggml.tokens"),
    bos_token_id: bos,
    bos_token: piece(bos),
    eos_token_id: eos,
    eos_token: piece(eos),
    merges: len("tokenizer.ggml.merges") ?? 0,
    chat_template: typeof own(m, "tokenizer.chat_template") === "string",
  };
}

/** A metadata value for JSON, with long arrays summarized (see the file comment for the rule). */
function jsonValue(v: GGUFValue, type: GGUFValueTypeDescriptor | undefined): Json {
  if (Array.isArray(v)) {
    const elementType = type && type.type === GGUFValueType.ARRAY ? describeType(type).replace(/^array<(.*)>$/, "$1") : "unknown";
    if (v.length > METADATA_ARRAY_LIMIT) return { type: "array", element_type: elementType, length: v.length };
    const items = type && type.type === GGUFValueType.ARRAY && type.subType === GGUFValueType.ARRAY ? type.items : undefined;
    return v.map((x, i) => jsonValue(x, items?.[i]));
  }
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  return v;
}

