/**
 * The one table of names for BitNet / LLaMA-style models: GGUF tensor names, GGUF metadata keys,
 * and the matching Hugging Face (transformers `BitNetForCausalLM`) parameter names. The loader,
 * the writer, the converter and the trainer all use these, so a name is spelled in one place.
 *
 * GGUF names follow llama.cpp (src/llama-arch.cpp, architecture `bitnet`) and bitnet.cpp
 * (architecture `bitnet-b1.58`, as in the fixture written by its tools). HF names follow
 * transformers `models/bitnet/modeling_bitnet.py`; `weight_scale` is the per-matrix scale of
 * the packed checkpoints (`integrations/bitnet.py`), which GGUF calls `<tensor>.scale`.
 * It also records the value type llama.cpp expects for each known metadata key (it refuses a
 * u32 where it reads an f32), so writers need not remember that `rope.freq_base` is a float.
 * It does not know tensor shapes or types; model/config does.
 */
import { GGUFValueType as V, type GGUFValue, type GGUFValueTypeDescriptor } from "./value-types.ts";
import type { GGUFMetadataEntry } from "./writer.ts";

/** Architecture names as they appear in `general.architecture`. */
export const Arch = {
  /** llama.cpp's BitNet (SiLU gate). */
  bitnet: "bitnet",
  /** bitnet.cpp's BitNet b1.58 2B4T (ReLU² gate, tied head). */
  bitnetB158: "bitnet-b1.58",
  llama: "llama",
} as const;

export const GLOBAL_TENSORS = ["token_embd", "output_norm", "output"] as const;
export type GlobalTensor = (typeof GLOBAL_TENSORS)[number];

export const BLOCK_TENSORS = [
  "attn_norm",
  "attn_q",
  "attn_k",
  "attn_v",
  "attn_output",
  "attn_sub_norm",
  "ffn_norm",
  "ffn_gate",
  "ffn_up",
  "ffn_down",
  "ffn_sub_norm",
] as const;
export type BlockTensor = (typeof BLOCK_TENSORS)[number];

/** The block tensors that are BitLinear (ternary) matrices; the rest are RMSNorm weights. */
export const LINEAR_BLOCK_TENSORS: readonly BlockTensor[] = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];
export const NORM_BLOCK_TENSORS: readonly BlockTensor[] = ["attn_norm", "attn_sub_norm", "ffn_norm", "ffn_sub_norm"];

/** `weight` is the tensor itself; `scale` is llama.cpp's optional one-element per-matrix scale. */
export type TensorSuffix = "weight" | "scale";

/** `token_embd.weight`, `output.scale`, ... */
export function globalTensorName(base: GlobalTensor, suffix: TensorSuffix = "weight"): string {
  return `${base}.${suffix}`;
}

/** `blk.3.attn_q.weight`, `blk.3.attn_q.scale`, ... */
export function blockTensorName(layer: number, base: BlockTensor, suffix: TensorSuffix = "weight"): string {
  if (!Number.isInteger(layer) || layer < 0) throw new Error(`layer index must be a non-negative integer, got ${layer}`);
  return `blk.${layer}.${base}.${suffix}`;
}

export interface ParsedTensorName {
  /** Undefined for the global tensors. */
  layer?: number;
  base: GlobalTensor | BlockTensor;
  suffix: TensorSuffix;
}

const GLOBAL_RE = /^(token_embd|output_norm|output)\.(weight|scale)$/;
const BLOCK_RE = /^blk\.(0|[1-9]\d*)\.([a-z_]+)\.(weight|scale)$/;

/** The parts of a GGUF tensor name from this table, or undefined for any other name. */
export function parseTensorName(name: string): ParsedTensorName | undefined {
  const g = GLOBAL_RE.exec(name);
  if (g) return { base: g[1] as GlobalTensor, suffix: g[2] as TensorSuffix };
  const b = BLOCK_RE.exec(name);
  if (!b || !(BLOCK_TENSORS as readonly string[]).includes(b[2])) return undefined;
  return { layer: Number(b[1]), base: b[2] as BlockTensor, suffix: b[3] as TensorSuffix };
}

/** Hugging Face module paths of the global tensors. */
export const HF_GLOBAL: Record<GlobalTensor, string> = {
  token_embd: "model.embed_tokens",
  output_norm: "model.norm",
  output: "lm_head",
};

/** Hugging Face module paths inside `model.layers.N.` of each block tensor. */
export const HF_BLOCK: Record<BlockTensor, string> = {
  attn_norm: "input_layernorm",
  attn_q: "self_attn.q_proj",
  attn_k: "self_attn.k_proj",
  attn_v: "self_attn.v_proj",
  attn_output: "self_attn.o_proj",
  attn_sub_norm: "self_attn.attn_sub_norm",
  ffn_norm: "post_attention_layernorm",
  ffn_gate: "mlp.gate_proj",
  ffn_up: "mlp.up_proj",
  ffn_down: "mlp.down_proj",
  ffn_sub_norm: "mlp.ffn_sub_norm",
};

const HF_SUFFIX: Record<TensorSuffix, string> = { weight: "weight", scale: "weight_scale" };

/** `blk.3.attn_q.weight` -> `model.layers.3.self_attn.q_proj.weight`; `.scale` -> `.weight_scale`. */
export function ggufToHFName(name: string): string | undefined {
  const p = parseTensorName(name);
  if (!p) return undefined;
  const suffix = HF_SUFFIX[p.suffix];
  if (p.layer === undefined) return `${HF_GLOBAL[p.base as GlobalTensor]}.${suffix}`;
  return `model.layers.${p.layer}.${HF_BLOCK[p.base as BlockTensor]}.${suffix}`;
}

const HF_GLOBAL_REVERSE = new Map(Object.entries(HF_GLOBAL).map(([k, v]) => [v, k as GlobalTensor]));
const HF_BLOCK_REVERSE = new Map(Object.entries(HF_BLOCK).map(([k, v]) => [v, k as BlockTensor]));
const HF_LAYER_RE = /^model\.layers\.(0|[1-9]\d*)\.(.+)\.(weight|weight_scale)$/;
const HF_GLOBAL_RE = /^(.+)\.(weight|weight_scale)$/;

/** The inverse of `ggufToHFName`; undefined for names outside the table (rotary buffers, biases, ...). */
export function hfToGGUFName(name: string): string | undefined {
  const toSuffix = (s: string): TensorSuffix => (s === "weight_scale" ? "scale" : "weight");
  const l = HF_LAYER_RE.exec(name);
  if (l) {
    const base = HF_BLOCK_REVERSE.get(l[2]);
    return base ? blockTensorName(Number(l[1]), base, toSuffix(l[3])) : undefined;
  }
  const g = HF_GLOBAL_RE.exec(name);
  if (!g) return undefined;
  const base = HF_GLOBAL_REVERSE.get(g[1]);
  return base ? globalTensorName(base, toSuffix(g[2])) : undefined;
}

/** Keys under `general.`. */
export const GeneralKey = {
  architecture: "general.architecture",
  name: "general.name",
  alignment: "general.alignment",
  fileType: "general.file_type",
  quantizationVersion: "general.quantization_version",
} as const;

/** Keys under `tokenizer.` (llama.cpp src/llama-arch.cpp). */
export const TokenizerKey = {
  model: "tokenizer.ggml.model",
  pre: "tokenizer.ggml.pre",
  tokens: "tokenizer.ggml.tokens",
  tokenType: "tokenizer.ggml.token_type",
  scores: "tokenizer.ggml.scores",
  merges: "tokenizer.ggml.merges",
  bosTokenId: "tokenizer.ggml.bos_token_id",
  eosTokenId: "tokenizer.ggml.eos_token_id",
  eotTokenId: "tokenizer.ggml.eot_token_id",
  unknownTokenId: "tokenizer.ggml.unknown_token_id",
  paddingTokenId: "tokenizer.ggml.padding_token_id",
  addBosToken: "tokenizer.ggml.add_bos_token",
  addEosToken: "tokenizer.ggml.add_eos_token",
  addSpacePrefix: "tokenizer.ggml.add_space_prefix",
  chatTemplate: "tokenizer.chat_template",
} as const;

/** Hyperparameter keys, each prefixed with the architecture name (`bitnet.embedding_length`). */
export const ARCH_KEY_SUFFIXES = {
  vocabSize: "vocab_size",
  contextLength: "context_length",
  embeddingLength: "embedding_length",
  blockCount: "block_count",
  feedForwardLength: "feed_forward_length",
  headCount: "attention.head_count",
  headCountKv: "attention.head_count_kv",
  keyLength: "attention.key_length",
  valueLength: "attention.value_length",
  rmsEpsilon: "attention.layer_norm_rms_epsilon",
  ropeDimensionCount: "rope.dimension_count",
  ropeFreqBase: "rope.freq_base",
  ropeScalingType: "rope.scaling.type",
  ropeScalingFactor: "rope.scaling.factor",
} as const;
export type ArchKeyName = keyof typeof ARCH_KEY_SUFFIXES;

/** `archKey("bitnet", "embeddingLength")` -> `"bitnet.embedding_length"`. */
export function archKey(arch: string, key: ArchKeyName): string {
  return `${arch}.${ARCH_KEY_SUFFIXES[key]}`;
}

/** Every hyperparameter key of one architecture, for code that reads or writes a whole config. */
export function archKeys(arch: string): Record<ArchKeyName, string> {
  const out = {} as Record<ArchKeyName, string>;
  for (const k of Object.keys(ARCH_KEY_SUFFIXES) as ArchKeyName[]) out[k] = archKey(arch, k);
  return out;
}

const U32 = { type: V.UINT32 } as const;
const F32 = { type: V.FLOAT32 } as const;
const STR = { type: V.STRING } as const;
const BOOL = { type: V.BOOL } as const;

const ARCH_KEY_TYPES: Record<ArchKeyName, GGUFValueTypeDescriptor> = {
  vocabSize: U32,
  contextLength: U32,
  embeddingLength: U32,
  blockCount: U32,
  feedForwardLength: U32,
  headCount: U32,
  headCountKv: U32,
  keyLength: U32,
  valueLength: U32,
  rmsEpsilon: F32,
  ropeDimensionCount: U32,
  ropeFreqBase: F32,
  ropeScalingType: STR,
  ropeScalingFactor: F32,
};

const FIXED_KEY_TYPES: Record<string, GGUFValueTypeDescriptor> = {
  [GeneralKey.architecture]: STR,
  [GeneralKey.name]: STR,
  [GeneralKey.alignment]: U32,
  [GeneralKey.fileType]: U32,
  [GeneralKey.quantizationVersion]: U32,
  [TokenizerKey.model]: STR,
  [TokenizerKey.pre]: STR,
  [TokenizerKey.tokens]: { type: V.ARRAY, subType: V.STRING },
  [TokenizerKey.tokenType]: { type: V.ARRAY, subType: V.INT32 },
  [TokenizerKey.scores]: { type: V.ARRAY, subType: V.FLOAT32 },
  [TokenizerKey.merges]: { type: V.ARRAY, subType: V.STRING },
  [TokenizerKey.bosTokenId]: U32,
  [TokenizerKey.eosTokenId]: U32,
  [TokenizerKey.eotTokenId]: U32,
  [TokenizerKey.unknownTokenId]: U32,
  [TokenizerKey.paddingTokenId]: U32,
  [TokenizerKey.addBosToken]: BOOL,
  [TokenizerKey.addEosToken]: BOOL,
  [TokenizerKey.addSpacePrefix]: BOOL,
  [TokenizerKey.chatTemplate]: STR,
};

/**
 * The value type llama.cpp (and gguf-py) use for a known key: `general.*`, `tokenizer.*`, or
 * `<arch>.<hyperparameter>` for any architecture name (which may itself contain dots, as in
 * `bitnet-b1.58`). Undefined for keys outside the table.
 */
export function knownValueType(key: string): GGUFValueTypeDescriptor | undefined {
  if (Object.hasOwn(FIXED_KEY_TYPES, key)) return FIXED_KEY_TYPES[key];
  for (const [name, suffix] of Object.entries(ARCH_KEY_SUFFIXES)) {
    if (key.length > suffix.length + 1 && key.endsWith(`.${suffix}`)) return ARCH_KEY_TYPES[name as ArchKeyName];
  }
  return undefined;
}

/** A metadata entry typed from the table when the key is known, else left to the writer's inference. */
export function metadataEntry(key: string, value: GGUFValue): GGUFMetadataEntry {
  const type = knownValueType(key);
  return type ? { key, value, type } : { key, value };
}
