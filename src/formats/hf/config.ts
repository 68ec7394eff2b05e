/**
 * config.json of a Hugging Face checkpoint, read into what the engine needs: which family of model it is,
 * its hyperparameters, and how its linear weights are stored (packed uint8 with weight_scale, or latent floats
 * quantized at load), as a typed record plus the GGUF metadata keys the engine's config reader expects.
 *
 * Families (the `architectures` entry, else `model_type`):
 * - `BitNetForCausalLM` (model_type "bitnet", BitNet b1.58 2B4T): sub-norms, ReLU² by `hidden_act`, GGUF
 *   architecture `bitnet-b1.58` (bitnet.cpp's name for it). Its linear layers are BitNet only through
 *   `quantization_config` (quant_method "bitnet"); without it transformers runs plain float layers, which
 *   this engine does not.
 * - `BitnetForCausalLM` (lower-case n, 1bitLLM's remote code): sub-norms named `inner_attn_ln` and
 *   `ffn_layernorm`, SiLU, fp16 latent weights that its own BitLinear quantizes on every forward (the same
 *   absmean arithmetic as transformers' online AutoBitLinear). GGUF architecture `bitnet` (llama.cpp's, which
 *   always ties the head) when the head is tied, else `bitnet-b1.58` with the activation key saying SiLU.
 * - `LlamaForCausalLM` with quantization_config "bitnet" (HF1BitLLM's Llama3-8B-1.58, TII's Falcon3-1.58bit
 *   and Falcon-E): no sub-norms, GGUF architecture `llama`, whose RoPE pairs adjacent dims, so q and k rows
 *   are permuted on read exactly as llama.cpp's converter does.
 * Everything else, and every option this engine cannot honour (attention bias, RoPE scaling, a per-layer
 * RMSNorm inside BitLinear), is refused with one line naming config.json and the key.
 */
import { InvalidFileError, UnsupportedModelError } from "../../errors.ts";
import type { GateActivation } from "../../kernels/types.ts";
import { ACTIVATION_KEY, HIDDEN_ACTIVATION_KEY } from "../../model/config.ts";
import { archKey, GeneralKey } from "../gguf/names.ts";
import type { GGUFValue } from "../gguf/value-types.ts";

export type HFFamily = "bitnet" | "1bitllm" | "llama";

/** How `weight_scale` applies to the packed codes (transformers' two BitLinear classes). */
export type LinearClass = "autobitlinear" | "bitlinear";

export interface HFModelSpec {
  family: HFFamily;
  /** `general.architecture` of the virtual GGUF. */
  arch: string;
  /** The `architectures[0]` or model_type the family was chosen from, for messages. */
  declared: string;
  dim: number;
  ffnDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  vocabSize: number;
  contextLength: number;
  normEps: number;
  ropeTheta: number;
  activation: GateActivation;
  tied: boolean;
  /** transformers' class for packed weights ("bitlinear" divides by weight_scale); undefined without quantization_config. */
  linearClass: LinearClass | undefined;
  /** "online": float weights are quantized by absmean at load; "offline": weights are ternary already. */
  quantizationMode: "online" | "offline";
  bosTokenId: number | undefined;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

class ConfigReader {
  readonly file: string;
  readonly json: Json;
  constructor(file: string, json: Json) {
    this.file = file;
    this.json = json;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.json, key) && this.json[key] !== null;
  }

  int(key: string, fallback?: number): number {
    if (!this.has(key)) {
      if (fallback !== undefined) return fallback;
      throw new InvalidFileError(`${this.file}: key '${key}' is missing`);
    }
    const v = this.json[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) throw new InvalidFileError(`${this.file}: key '${key}' should be a positive integer, got ${short(v)}`);
    return v;
  }

  num(key: string, fallback: number): number {
    if (!this.has(key)) return fallback;
    const v = this.json[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new InvalidFileError(`${this.file}: key '${key}' should be a positive number, got ${short(v)}`);
    return v;
  }

  str(key: string, fallback?: string): string | undefined {
    if (!this.has(key)) return fallback;
    const v = this.json[key];
    if (typeof v !== "string") throw new InvalidFileError(`${this.file}: key '${key}' should be a string, got ${short(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const v = this.json[key];
    if (typeof v !== "boolean") throw new InvalidFileError(`${this.file}: key '${key}' should be true or false, got ${short(v)}`);
    return v;
  }
}

/** A value shown in a message: short, and never a JSON.stringify of a deep structure. */
export function short(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (isObject(v)) return "an object";
  return String(v);
}

const FAMILY_BY_ARCHITECTURE: Record<string, HFFamily> = {
  BitNetForCausalLM: "bitnet",
  BitnetForCausalLM: "1bitllm",
  LlamaForCausalLM: "llama",
  LLaMAForCausalLM: "llama",
};
const FAMILY_BY_MODEL_TYPE: Record<string, HFFamily> = { bitnet: "bitnet", llama: "llama" };

function family(c: ConfigReader): { family: HFFamily; declared: string } {
  const archs = c.json.architectures;
  if (archs !== undefined && archs !== null) {
    if (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== "string") throw new InvalidFileError(`${c.file}: key 'architectures' should be a list of class names`);
    const f = Object.hasOwn(FAMILY_BY_ARCHITECTURE, archs[0]) ? FAMILY_BY_ARCHITECTURE[archs[0]] : undefined;
    if (!f) {
      throw new UnsupportedModelError(
        `${c.file}: architecture '${archs[0]}' is not supported (bitnet-ts reads ${Object.keys(FAMILY_BY_ARCHITECTURE).join(", ")} with BitNet weights)`,
      );
    }
    return { family: f, declared: archs[0] };
  }
  const mt = c.str("model_type");
  if (mt === undefined) throw new InvalidFileError(`${c.file}: neither 'architectures' nor 'model_type' says what model this is`);
  const f = Object.hasOwn(FAMILY_BY_MODEL_TYPE, mt) ? FAMILY_BY_MODEL_TYPE[mt] : undefined;
  if (!f) throw new UnsupportedModelError(`${c.file}: model_type '${mt}' is not supported (bitnet-ts reads bitnet and llama models with BitNet weights)`);
  return { family: f, declared: mt };
}

function quantization(c: ConfigReader, fam: HFFamily): { linearClass: LinearClass | undefined; mode: "online" | "offline" } {
  const q = c.json.quantization_config;
  if (q === undefined || q === null) {
    // 1bitLLM's own modeling code quantizes its latent weights on every forward; nothing says so in config.json.
    if (fam === "1bitllm") return { linearClass: undefined, mode: "online" };
    throw new UnsupportedModelError(
      `${c.file}: no quantization_config, so transformers runs this ${fam === "bitnet" ? "BitNet" : "Llama"} model with plain float linear layers; bitnet-ts runs only ternary (quant_method "bitnet") models`,
    );
  }
  if (!isObject(q)) throw new InvalidFileError(`${c.file}: key 'quantization_config' should be an object`);
  const qc = new ConfigReader(`${c.file}: quantization_config`, q);
  const method = qc.str("quant_method");
  if (method !== "bitnet") throw new UnsupportedModelError(`${c.file}: quantization_config.quant_method ${short(method)} is not supported (bitnet-ts reads "bitnet")`);
  const linearClass = qc.str("linear_class", "bitlinear");
  if (linearClass !== "bitlinear" && linearClass !== "autobitlinear") {
    throw new UnsupportedModelError(`${c.file}: quantization_config.linear_class ${short(linearClass)} is not supported (expected "autobitlinear" or "bitlinear")`);
  }
  const mode = qc.str("quantization_mode", "offline");
  if (mode !== "online" && mode !== "offline") throw new UnsupportedModelError(`${c.file}: quantization_config.quantization_mode ${short(mode)} is not supported (expected "offline" or "online")`);
  if (mode === "online" && linearClass !== "autobitlinear") {
    throw new UnsupportedModelError(`${c.file}: quantization_config.quantization_mode "online" needs linear_class "autobitlinear" (transformers' BitLinear is offline only)`);
  }
  if (qc.bool("use_rms_norm", false)) {
    throw new UnsupportedModelError(`${c.file}: quantization_config.use_rms_norm is true (an RMSNorm inside every BitLinear), which bitnet-ts does not run`);
  }
  const skip = q.modules_to_not_convert;
  if (Array.isArray(skip)) {
    const inBlocks = skip.find((m) => typeof m === "string" && /(^|\.)layers\.\d+\./.test(m));
    if (inBlocks !== undefined) throw new UnsupportedModelError(`${c.file}: quantization_config.modules_to_not_convert keeps '${inBlocks}' in float, which bitnet-ts does not run`);
  }
  return { linearClass, mode };
}

function ropeTheta(c: ConfigReader, fallback: number): number {
  const params = c.json.rope_parameters;
  let theta = c.num("rope_theta", fallback);
  let type: unknown;
  if (isObject(params)) {
    const rp = new ConfigReader(`${c.file}: rope_parameters`, params);
    theta = rp.num("rope_theta", theta);
    type = params.rope_type ?? params.type;
  }
  const scaling = c.json.rope_scaling;
  if (isObject(scaling)) type = scaling.rope_type ?? scaling.type;
  if (type !== undefined && type !== null && type !== "default") {
    throw new UnsupportedModelError(`${c.file}: RoPE scaling type ${short(type)} is not supported (bitnet-ts runs plain RoPE)`);
  }
  return theta;
}

function tokenIds(c: ConfigReader, key: string): number[] {
  const v = c.json[key];
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const id of list) if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) throw new InvalidFileError(`${c.file}: key '${key}' should be a token id or a list of them, got ${short(v)}`);
  return list as number[];
}

/** Reads a parsed config.json (`file` names it in messages). */
export function parseHFConfig(json: Json, file: string): HFModelSpec {
  const c = new ConfigReader(file, json);
  const { family: fam, declared } = family(c);
  const { linearClass, mode } = quantization(c, fam);
  const dim = c.int("hidden_size");
  const nHeads = c.int("num_attention_heads");
  const nKvHeads = c.int("num_key_value_heads", nHeads);
  if (dim % nHeads !== 0) throw new UnsupportedModelError(`${file}: hidden_size ${dim} is not divisible by num_attention_heads ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw new InvalidFileError(`${file}: num_attention_heads ${nHeads} is not a multiple of num_key_value_heads ${nKvHeads}`);
  const headDim = c.int("head_dim", dim / nHeads);
  if (headDim * nHeads !== dim) throw new UnsupportedModelError(`${file}: head_dim ${headDim} × num_attention_heads ${nHeads} is not hidden_size ${dim}, which bitnet-ts does not run`);
  for (const key of ["attention_bias", "mlp_bias"]) {
    if (c.bool(key, false)) throw new UnsupportedModelError(`${file}: key '${key}' is true; bitnet-ts runs linear layers without bias`);
  }
  const hiddenAct = c.str("hidden_act", fam === "bitnet" ? "relu2" : "silu");
  if (hiddenAct !== "silu" && hiddenAct !== "relu2") throw new UnsupportedModelError(`${file}: hidden_act ${short(hiddenAct)} is not supported (bitnet-ts runs "silu" and "relu2")`);
  const tied = c.bool("tie_word_embeddings", fam === "1bitllm");
  const arch = fam === "llama" ? "llama" : fam === "1bitllm" && tied ? "bitnet" : "bitnet-b1.58";
  return {
    family: fam,
    arch,
    declared,
    dim,
    ffnDim: c.int("intermediate_size"),
    nLayers: c.int("num_hidden_layers"),
    nHeads,
    nKvHeads,
    headDim,
    vocabSize: c.int("vocab_size"),
    contextLength: c.int("max_position_embeddings", 2048),
    normEps: c.num("rms_norm_eps", fam === "llama" ? 1e-6 : 1e-5),
    ropeTheta: ropeTheta(c, fam === "bitnet" ? 500000 : 10000),
    activation: hiddenAct,
    tied,
    linearClass,
    quantizationMode: mode,
    bosTokenId: tokenIds(c, "bos_token_id")[0],
    eosTokenIds: tokenIds(c, "eos_token_id"),
  };
}

/** The `general.*` and `<arch>.*` metadata for a spec, in the order llama.cpp's converter writes them. */
export function archMetadata(spec: HFModelSpec, name: string): [string, GGUFValue][] {
  const a = spec.arch;
  return [
    [GeneralKey.architecture, a],
    [GeneralKey.name, name],
    [archKey(a, "vocabSize"), spec.vocabSize],
    [archKey(a, "contextLength"), spec.contextLength],
    [archKey(a, "embeddingLength"), spec.dim],
    [archKey(a, "blockCount"), spec.nLayers],
    [archKey(a, "feedForwardLength"), spec.ffnDim],
    [archKey(a, "headCount"), spec.nHeads],
    [archKey(a, "headCountKv"), spec.nKvHeads],
    [archKey(a, "rmsEpsilon"), spec.normEps],
    [archKey(a, "ropeFreqBase"), spec.ropeTheta],
    [archKey(a, "ropeDimensionCount"), spec.headDim],
    [ACTIVATION_KEY(a), spec.activation],
    [HIDDEN_ACTIVATION_KEY(a), spec.activation],
  ];
}
