/**
 * The model's hyperparameters, read from GGUF metadata into plain data.
 * One reader serves every architecture we run: llama.cpp's `bitnet`, bitnet.cpp's `bitnet-b1.58`
 * (BitNet b1.58 2B4T), and plain `llama` for an FP baseline of the same shape.
 * It decides the small switches of the forward pass (activation, RoPE pairing); it reads no tensors.
 */

import { InvalidFileError, UnsupportedModelError } from "../errors.ts";
import type { GateActivation, RopePairing } from "../kernels/types.ts";

export interface ModelConfig {
  architecture: string;
  dim: number; // embedding width (n_embd)
  ffnDim: number; // MLP hidden width (n_ff)
  nLayers: number;
  nHeads: number;
  nKvHeads: number; // < nHeads means grouped-query attention
  headDim: number; // dim / nHeads
  ropeDims: number; // rotated dims per head (n_rot), normally headDim
  vocabSize: number;
  contextLength: number; // the training context; the run context may be smaller
  normEps: number;
  ropeTheta: number;
  ropeStyle: RopePairing; // "neox": i pairs with i + d/2 (BitNet); "norm": 2i pairs with 2i+1 (llama)
  activation: GateActivation;
}

/** Architectures whose FFN activation is implied by the name when the file does not say. */
const DEFAULT_ACTIVATION: Record<string, GateActivation> = {
  bitnet: "silu", // llama.cpp's graph always uses SiLU for this name
  "bitnet-b1.58": "relu2", // bitnet.cpp's name for the 2B4T architecture
  "bitnet-25": "relu2",
  llama: "silu",
};

const ROPE_STYLE: Record<string, RopePairing> = {
  bitnet: "neox",
  "bitnet-b1.58": "neox",
  "bitnet-25": "neox",
  llama: "norm",
};

export const SUPPORTED_ARCHITECTURES = Object.keys(ROPE_STYLE);

/** The FFN activation an architecture runs when the file names none (undefined for architectures we do not run). */
export function defaultActivation(arch: string): GateActivation | undefined {
  return Object.hasOwn(DEFAULT_ACTIVATION, arch) ? DEFAULT_ACTIVATION[arch] : undefined;
}

/** Metadata key that states the FFN activation explicitly ("silu" | "relu2"); bitnet-ts writes it, others may not. */
export const ACTIVATION_KEY = (arch: string) => `${arch}.feed_forward_activation`;
/**
 * llama.cpp's key for the same fact (LLM_KV_HIDDEN_ACT, `%s.hidden_activation`), which its BitNet graph is
 * being taught to read ("relu2" for 2B4T); bitnet-ts writes both and reads either.
 */
export const HIDDEN_ACTIVATION_KEY = (arch: string) => `${arch}.hidden_activation`;
/** The values of `<arch>.hidden_activation` this engine runs, as llama.cpp names them. */
const HIDDEN_ACTIVATION_VALUES: Record<string, GateActivation> = { silu: "silu", swish: "silu", swiglu: "silu", relu2: "relu2" };

type Meta = Record<string, unknown>;

function num(meta: Meta, key: string, file: string, fallback?: number): number {
  const v = meta[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new InvalidFileError(`${file}: metadata key '${key}' is missing`);
  }
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n)) throw new InvalidFileError(`${file}: metadata key '${key}' should be a number, got ${JSON.stringify(String(v))}`);
  return n;
}

function positiveInt(meta: Meta, key: string, file: string, fallback?: number): number {
  const n = num(meta, key, file, fallback);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidFileError(`${file}: metadata key '${key}' should be a positive integer, got ${n}`);
  return n;
}

export function configFromMetadata(meta: Meta, file = "model"): ModelConfig {
  const arch = meta["general.architecture"];
  if (typeof arch !== "string") throw new InvalidFileError(`${file}: metadata key 'general.architecture' is missing`);
  if (!(arch in ROPE_STYLE)) {
    throw new UnsupportedModelError(`${file}: architecture '${arch}' is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`);
  }
  const k = (name: string) => `${arch}.${name}`;
  const dim = positiveInt(meta, k("embedding_length"), file);
  const nHeads = positiveInt(meta, k("attention.head_count"), file);
  const nKvHeads = positiveInt(meta, k("attention.head_count_kv"), file, nHeads);
  if (dim % nHeads !== 0) throw new InvalidFileError(`${file}: ${k("embedding_length")} ${dim} is not divisible by ${k("attention.head_count")} ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw new InvalidFileError(`${file}: ${k("attention.head_count")} ${nHeads} is not a multiple of ${k("attention.head_count_kv")} ${nKvHeads}`);
  const headDim = dim / nHeads;
  const tokens = meta["tokenizer.ggml.tokens"];
  const vocabFromTokens = Array.isArray(tokens) ? tokens.length : undefined;
  const vocabSize = positiveInt(meta, k("vocab_size"), file, vocabFromTokens);

  const declared = meta[ACTIVATION_KEY(arch)];
  let activation = DEFAULT_ACTIVATION[arch];
  if (declared !== undefined) {
    if (declared !== "silu" && declared !== "relu2") throw new InvalidFileError(`${file}: metadata key '${ACTIVATION_KEY(arch)}' should be "silu" or "relu2", got ${JSON.stringify(declared)}`);
    activation = declared;
  }
  const hidden = meta[HIDDEN_ACTIVATION_KEY(arch)];
  if (hidden !== undefined) {
    const act = typeof hidden === "string" && Object.hasOwn(HIDDEN_ACTIVATION_VALUES, hidden) ? HIDDEN_ACTIVATION_VALUES[hidden] : undefined;
    if (act === undefined) {
      throw new Error(`${file}: metadata key '${HIDDEN_ACTIVATION_KEY(arch)}' is ${JSON.stringify(String(hidden)).slice(0, 40)}; bitnet-ts runs ${Object.keys(HIDDEN_ACTIVATION_VALUES).join(", ")}`);
    }
    if (declared !== undefined && act !== declared) {
      throw new Error(`${file}: metadata keys '${ACTIVATION_KEY(arch)}' ("${declared}") and '${HIDDEN_ACTIVATION_KEY(arch)}' ("${String(hidden)}") disagree`);
    }
    activation = act;
  }
  const ropeDims = positiveInt(meta, k("rope.dimension_count"), file, headDim);
  if (ropeDims > headDim || ropeDims % 2 !== 0) throw new InvalidFileError(`${file}: ${k("rope.dimension_count")} ${ropeDims} must be even and at most the head size ${headDim}`);

  return {
    architecture: arch,
    dim,
    ffnDim: positiveInt(meta, k("feed_forward_length"), file),
    nLayers: positiveInt(meta, k("block_count"), file),
    nHeads,
    nKvHeads,
    headDim,
    ropeDims,
    vocabSize,
    contextLength: positiveInt(meta, k("context_length"), file, 2048),
    normEps: num(meta, k("attention.layer_norm_rms_epsilon"), file, 1e-5),
    ropeTheta: num(meta, k("rope.freq_base"), file, 10000),
    ropeStyle: ROPE_STYLE[arch],
    activation,
  };
}
