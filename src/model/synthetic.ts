/**
 * Random-weight models of any shape, written as real GGUF files: for tests (parity with llama.cpp on
 * shapes the fixtures do not cover) and for benchmarks (a 2B4T-shaped model generated on the fly).
 * Linear weights are ternary codes times one γ per matrix, as BitNet produces them, packed into the
 * requested format with that format's own quantizer; float formats store the same values.
 * Tensors are produced one at a time, so a multi-GB model never sits in memory whole.
 */
import { archKey, blockTensorName, TokenizerKey } from "../formats/gguf/names.ts";
import { GGMLType } from "../formats/gguf/types.ts";
import type { GGUFMetadataEntry, GGUFTensorSpec, GGUFWriteHeader } from "../formats/gguf/writer.ts";
import { GGUFValueType } from "../formats/gguf/value-types.ts";
import { Rng } from "../generate/rng.ts";
import { codecFor } from "../quant/codecs/index.ts";
import type { GateActivation } from "../kernels/types.ts";
import { ACTIVATION_KEY, HIDDEN_ACTIVATION_KEY } from "./config.ts";

export type SyntheticLinearType = "tq2_0" | "tq1_0" | "i2_s" | "f16" | "f32";

export interface SyntheticSpec {
  /** "llama" has no sub-norms and rotates adjacent pairs: the FP baseline layout llama.cpp runs as LLaMA. */
  architecture: "bitnet" | "bitnet-b1.58" | "llama";
  dim: number;
  ffnDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number; // at least 259: <unk>, <s>, </s> and the 256 byte tokens
  contextLength?: number;
  ropeTheta?: number;
  /** Written as `<arch>.feed_forward_activation` when given. */
  activation?: GateActivation;
  linearType: SyntheticLinearType;
  embeddingType: "f32" | "f16";
  /** Give every linear matrix a `.scale` companion (llama.cpp's optional per-tensor multiplier). */
  outputScales?: boolean;
  /** Write a separate `output.weight` instead of tying the head to the embedding ("llama" only). */
  untiedOutput?: boolean;
  seed: number;
}

const TYPE_ID: Record<SyntheticLinearType | "f32" | "f16", number> = {
  tq2_0: GGMLType.TQ2_0,
  tq1_0: GGMLType.TQ1_0,
  i2_s: GGMLType.I2_S,
  f16: GGMLType.F16,
  f32: GGMLType.F32,
};

/** A llama-type vocabulary like the fixtures': control tokens, 256 byte tokens, then filler word pieces. */
function vocabulary(size: number): GGUFMetadataEntry[] {
  if (size < 259) throw new Error(`synthetic model: vocabSize must be at least 259, got ${size}`);
  const tokens = ["<unk>", "<s>", "</s>"];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(6);
  }
  const letters = "etaoinshrdlucmfwypvbgkjqxz";
  for (let i = 0; tokens.length < size; i++) {
    let word = "";
    let n = i;
    do {
      word += letters[n % 26];
      n = Math.floor(n / 26);
    } while (n > 0);
    tokens.push(i % 2 === 0 ? `▁${word}` : word);
    types.push(1);
  }
  const scores = tokens.map((_, i) => (types[i] === 1 ? -i / size : 0));
  const f32Array = { type: GGUFValueType.ARRAY, subType: GGUFValueType.FLOAT32 } as const;
  const i32Array = { type: GGUFValueType.ARRAY, subType: GGUFValueType.INT32 } as const;
  return [
    { key: TokenizerKey.model, value: "llama" },
    { key: TokenizerKey.tokens, value: tokens },
    { key: TokenizerKey.scores, value: scores, type: f32Array },
    { key: TokenizerKey.tokenType, value: types, type: i32Array },
    { key: TokenizerKey.bosTokenId, value: 1, type: { type: GGUFValueType.UINT32 } },
    { key: TokenizerKey.eosTokenId, value: 2, type: { type: GGUFValueType.UINT32 } },
    { key: TokenizerKey.unknownTokenId, value: 0, type: { type: GGUFValueType.UINT32 } },
    { key: TokenizerKey.addBosToken, value: false },
  ];
}

interface TensorPlan extends GGUFTensorSpec {
  make(rng: Rng): Float32Array;
}

function gaussian(rng: Rng): number {
  const u = Math.max(rng.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

function ternaryValues(rng: Rng, n: number): Float32Array {
  const gamma = 0.02 + 0.08 * rng.next();
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((rng.nextUint32() % 3) - 1) * gamma;
  return out;
}

function normValues(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 1 + 0.1 * gaussian(rng);
  return out;
}

function embeddingValues(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.05 * gaussian(rng);
  return out;
}

/** The header and a per-tensor data callback for `writeGGUF`. Data is deterministic in `seed`. */
export function syntheticModel(spec: SyntheticSpec): { header: GGUFWriteHeader; data: (index: number) => Uint8Array } {
  const { architecture: arch, dim: D, ffnDim: F, nLayers, nHeads, nKvHeads, vocabSize: V } = spec;
  if (D % nHeads !== 0 || nHeads % nKvHeads !== 0) throw new Error(`synthetic model: dim ${D}, heads ${nHeads} and kv heads ${nKvHeads} do not divide`);
  const KV = (D / nHeads) * nKvHeads;
  const u32 = { type: GGUFValueType.UINT32 } as const;
  const f32 = { type: GGUFValueType.FLOAT32 } as const;
  const metadata: GGUFMetadataEntry[] = [
    { key: "general.architecture", value: arch },
    { key: "general.name", value: `synthetic-${arch}-${D}x${nLayers}` },
    { key: archKey(arch, "vocabSize"), value: V, type: u32 },
    { key: archKey(arch, "contextLength"), value: spec.contextLength ?? 4096, type: u32 },
    { key: archKey(arch, "embeddingLength"), value: D, type: u32 },
    { key: archKey(arch, "blockCount"), value: nLayers, type: u32 },
    { key: archKey(arch, "feedForwardLength"), value: F, type: u32 },
    { key: archKey(arch, "ropeDimensionCount"), value: D / nHeads, type: u32 },
    { key: archKey(arch, "headCount"), value: nHeads, type: u32 },
    { key: archKey(arch, "headCountKv"), value: nKvHeads, type: u32 },
    { key: archKey(arch, "rmsEpsilon"), value: 1e-5, type: f32 },
    { key: archKey(arch, "ropeFreqBase"), value: spec.ropeTheta ?? 500000, type: f32 },
    ...(spec.activation ? [{ key: ACTIVATION_KEY(arch), value: spec.activation }, { key: HIDDEN_ACTIVATION_KEY(arch), value: spec.activation }] : []),
    ...vocabulary(V),
  ];
  const lin = TYPE_ID[spec.linearType];
  const plans: TensorPlan[] = [
    { name: "token_embd.weight", shape: [D, V], type: TYPE_ID[spec.embeddingType], make: (r) => embeddingValues(r, D * V) },
    { name: "output_norm.weight", shape: [D], type: GGMLType.F32, make: (r) => normValues(r, D) },
  ];
  if (spec.untiedOutput) {
    if (arch !== "llama") throw new Error(`synthetic model: an untied output head needs architecture llama (llama.cpp's bitnet graph ignores it)`);
    plans.push({ name: "output.weight", shape: [D, V], type: TYPE_ID[spec.embeddingType], make: (r) => embeddingValues(r, D * V) });
  }
  const subNorms = arch !== "llama";
  for (let l = 0; l < nLayers; l++) {
    const norm = (name: "attn_norm" | "attn_sub_norm" | "ffn_norm" | "ffn_sub_norm", n: number): TensorPlan => ({
      name: blockTensorName(l, name),
      shape: [n],
      type: GGMLType.F32,
      make: (r) => normValues(r, n),
    });
    const linear = (name: "attn_q" | "attn_k" | "attn_v" | "attn_output" | "ffn_gate" | "ffn_up" | "ffn_down", rows: number, cols: number): TensorPlan[] => [
      { name: blockTensorName(l, name), shape: [cols, rows], type: lin, make: (r) => ternaryValues(r, rows * cols) },
      ...(spec.outputScales ? [{ name: blockTensorName(l, name, "scale"), shape: [1], type: GGMLType.F32, make: (r: Rng) => Float32Array.of(0.5 + r.next()) }] : []),
    ];
    plans.push(
      norm("attn_norm", D),
      ...linear("attn_q", D, D),
      ...linear("attn_k", KV, D),
      ...linear("attn_v", KV, D),
      ...(subNorms ? [norm("attn_sub_norm", D)] : []),
      ...linear("attn_output", D, D),
      norm("ffn_norm", D),
      ...linear("ffn_gate", F, D),
      ...linear("ffn_up", F, D),
      ...(subNorms ? [norm("ffn_sub_norm", F)] : []),
      ...linear("ffn_down", D, F),
    );
  }
  return {
    header: { metadata, tensors: plans.map(({ name, shape, type }) => ({ name, shape, type })) },
    // Each tensor gets its own stream so that any one can be regenerated without the others.
    data: (i) => {
      const p = plans[i];
      return codecFor(p.type, p.name).quantize(p.make(new Rng((spec.seed * 7919 + i * 104729) >>> 0)), p.shape, p.name);
    },
  };
}
