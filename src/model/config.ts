/**
 * The model's hyperparameters, read from GGUF metadata into plain data.
 * One reader serves every architecture we run: llama.cpp's `bitnet`, bitnet.cpp's `bitnet-b1.58`
 * (BitNet b1.58 2B4T), and plain `llama` for an FP baseline of the same shape.
 * It decides the small switches of the forward pass (activation, RoPE pairing); it reads no tensors.
 *
 * Which keys are required follows llama.cpp's loader (src/llama-model.cpp `load_hparams` and the arch's
 * `load_arch_hparams`, in the release we compare against): the context length, embedding length, block
 * count and RMS epsilon must be present ("key not found"); feed_forward_length and head_count are optional
 * there but default to 0, which no tensor shape survives, so they are required here; head_count_kv
 * defaults to head_count, rope.dimension_count to the head size, rope.freq_base to 10000, vocab_size to the
 * tokenizer's. Keys that would change the arithmetic in ways this engine does not implement (a head size
 * other than embedding/heads, RoPE scaling) are refused rather than ignored.
 */
import { InvalidFileError, UnsupportedModelError } from "../errors.ts";
import { describeValue, printable } from "../formats/describe.ts";
import { archKey, type ArchKeyName } from "../formats/gguf/names.ts";
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
  if (typeof n !== "number" || !Number.isFinite(n)) throw new InvalidFileError(`${file}: metadata key '${key}' should be a number, got ${describeValue(v)}`);
  return n;
}

function positiveInt(meta: Meta, key: string, file: string, fallback?: number): number {
  const n = num(meta, key, file, fallback);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidFileError(`${file}: metadata key '${key}' should be a positive integer, got ${n}`);
  return n;
}

/** A key this engine ignores in its arithmetic, accepted only with a value that changes nothing. */
function onlyNeutral(meta: Meta, key: string, file: string, neutral: readonly unknown[], why: string): void {
  const v = meta[key];
  const n = typeof v === "bigint" ? Number(v) : v;
  if (v !== undefined && !neutral.includes(n)) throw new UnsupportedModelError(`${file}: metadata key '${key}' is ${describeValue(v)}; bitnet-ts supports ${why}`);
}

export function configFromMetadata(meta: Meta, file = "model"): ModelConfig {
  const arch = meta["general.architecture"];
  if (arch === undefined) throw new InvalidFileError(`${file}: metadata key 'general.architecture' is missing`);
  if (typeof arch !== "string") throw new InvalidFileError(`${file}: metadata key 'general.architecture' should be a string, got ${describeValue(arch)}`);
  if (!Object.hasOwn(ROPE_STYLE, arch)) {
    throw new UnsupportedModelError(`${file}: architecture '${printable(arch)}' is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`);
  }
  const k = (name: ArchKeyName): string => archKey(arch, name);
  const dim = positiveInt(meta, k("embeddingLength"), file);
  const nHeads = positiveInt(meta, k("headCount"), file);
  const nKvHeads = positiveInt(meta, k("headCountKv"), file, nHeads);
  if (dim % nHeads !== 0) throw new InvalidFileError(`${file}: ${k("embeddingLength")} ${dim} is not divisible by ${k("headCount")} ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw new InvalidFileError(`${file}: ${k("headCount")} ${nHeads} is not a multiple of ${k("headCountKv")} ${nKvHeads}`);
  const headDim = dim / nHeads;
  for (const key of ["keyLength", "valueLength"] as const) onlyNeutral(meta, k(key), file, [headDim], `only heads of embedding_length / head_count = ${headDim} values`);
  onlyNeutral(meta, k("ropeScalingType"), file, ["none", "linear"], "no RoPE scaling");
  onlyNeutral(meta, k("ropeScalingFactor"), file, [0, 1], "no RoPE scaling");
  const tokens = meta["tokenizer.ggml.tokens"];
  const vocabFromTokens = Array.isArray(tokens) ? tokens.length : undefined;
  const vocabSize = positiveInt(meta, k("vocabSize"), file, vocabFromTokens);

  const declared = meta[ACTIVATION_KEY(arch)];
  let activation = DEFAULT_ACTIVATION[arch];
  if (declared !== undefined) {
    if (declared !== "silu" && declared !== "relu2") throw new InvalidFileError(`${file}: metadata key '${ACTIVATION_KEY(arch)}' should be "silu" or "relu2", got ${describeValue(declared)}`);
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
  const ropeDims = positiveInt(meta, k("ropeDimensionCount"), file, headDim);
  if (ropeDims > headDim || ropeDims % 2 !== 0) throw new InvalidFileError(`${file}: ${k("ropeDimensionCount")} ${ropeDims} must be even and at most the head size ${headDim}`);
  // llama.cpp's llama loader insists on full rotation ("invalid n_rot"); its bitnet graph rotates n_rot dims.
  if (arch === "llama" && ropeDims !== headDim) throw new InvalidFileError(`${file}: metadata key '${k("ropeDimensionCount")}' is ${ropeDims}, but llama needs the head size ${headDim}`);

  return {
    architecture: arch,
    dim,
    ffnDim: positiveInt(meta, k("feedForwardLength"), file),
    nLayers: positiveInt(meta, k("blockCount"), file),
    nHeads,
    nKvHeads,
    headDim,
    ropeDims,
    vocabSize,
    contextLength: positiveInt(meta, k("contextLength"), file),
    normEps: num(meta, k("rmsEpsilon"), file),
    ropeTheta: num(meta, k("ropeFreqBase"), file, 10000),
    ropeStyle: ROPE_STYLE[arch],
    activation,
  };
}
