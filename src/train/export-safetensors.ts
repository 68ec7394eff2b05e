/**
 * Writes a trained model (a ParamSet) in the Hugging Face layout transformers loads as `BitNetForCausalLM`
 * (model_type "bitnet", the layout of BitNet b1.58 2B4T): `model.safetensors` plus the JSON files of the
 * directory (config, generation config, tokenizer). Browser-safe: it streams into a ByteSink and returns JSON
 * objects; src/node/export-hf-dir.ts puts them on disk.
 *
 * A ternary model is written packed, as 2B4T is: each BitLinear weight is uint8 [out/4, in] (hf-packed.ts, four
 * codes per byte along the output rows) with its absmean codes (`quantizeAbsmean`, as in training), and
 * `<module>.weight_scale` of shape [1] holds γ. config.json says `quantization_config = {quant_method "bitnet",
 * linear_class "autobitlinear", quantization_mode "offline"}`, the class that MULTIPLIES the output by
 * weight_scale (transformers' `BitLinear` divides; SPEC §6). An fp model is written as plain float weights with
 * no quantization_config, which transformers runs as ordinary linear layers.
 *
 * Float dtype (embedding, norms, weight_scale, fp weights): "f32" by default, which keeps every trained value and
 * γ exactly; "bf16" is what 2B4T ships, half the size, but rounds γ to 8 significant bits (up to 2⁻⁹ ≈ 0.2%
 * relative) and the embedding likewise. Names come from names.ts's HF table; the head is tied
 * (`tie_word_embeddings`), so there is no lm_head tensor. RoPE needs no permutation: training uses the
 * rotate-half pairing that transformers' BitNet uses.
 */

import { ggufToHFName } from "../formats/gguf/names.ts";
import { GGMLType } from "../formats/gguf/types.ts";
import type { ByteSink } from "../formats/sink.ts";
import { writeSafetensors, type SafetensorsTensorSpec } from "../formats/safetensors/writer.ts";
import { quantizeAbsmean, type AbsmeanResult } from "../quant/absmean.ts";
import { codecFor } from "../quant/codecs/index.ts";
import { packHf } from "../quant/codecs/hf-packed.ts";
import { headDim, type TrainConfig } from "./config.ts";
import { hfTokenizerConfig, hfTokenizerJson, type TrainedTokenizer } from "./export-tokenizer.ts";
import { ggufName, type ParamSet } from "./params.ts";

export interface ExportSafetensorsOptions {
  /** dtype of the embedding, norms, weight_scale and fp weights: "f32" (default) or "bf16" (2B4T's). */
  floatDtype?: "f32" | "bf16";
  onProgress?: (p: { index: number; count: number; name: string; bytesWritten: number; totalBytes: number }) => void;
}

/** The file name transformers reads for a single-shard checkpoint. */
export const HF_WEIGHTS_FILE = "model.safetensors";

/** transformers' quantization_config for packed ternary weights whose weight_scale multiplies the output. */
export const HF_QUANTIZATION_CONFIG = { quant_method: "bitnet", linear_class: "autobitlinear", quantization_mode: "offline" } as const;

interface PlannedTensor {
  spec: SafetensorsTensorSpec;
  bytes(): Uint8Array;
}

function hfName(ggufTensor: string): string {
  const name = ggufToHFName(ggufTensor);
  if (name === undefined) throw new Error(`safetensors export: tensor '${ggufTensor}' has no Hugging Face name`);
  return name;
}

/** Every tensor of the checkpoint, in layout order, each with a function that produces its bytes. */
function planTensors(params: ParamSet, options: ExportSafetensorsOptions): PlannedTensor[] {
  const dtype = options.floatDtype ?? "f32";
  if (dtype !== "f32" && dtype !== "bf16") throw new Error(`safetensors export: floatDtype must be "f32" or "bf16", got "${String(dtype)}"`);
  const floatType = dtype === "f32" ? GGMLType.F32 : GGMLType.BF16;
  const floatDtype = dtype === "f32" ? "F32" : "BF16";
  const ternary = params.config.weights === "ternary";
  const floatBytes = (values: Float32Array, what: string): Uint8Array => codecFor(floatType, what).quantize(values, [values.length], what);
  const out: PlannedTensor[] = [];
  for (const s of params.layout) {
    const values = params.data.subarray(s.offset, s.offset + s.size);
    const name = hfName(ggufName(s.name));
    if (s.kind !== "linear" || !ternary) {
      out.push({ spec: { name, dtype: floatDtype, shape: s.shape }, bytes: () => floatBytes(values, name) });
      continue;
    }
    const [rows, cols] = s.shape;
    if (rows % 4 !== 0) throw new Error(`safetensors export: tensor '${name}' has ${rows} output rows; packed ternary weights need a multiple of 4`);
    // Quantized once, when the weight or its scale is first written.
    let q: AbsmeanResult | undefined;
    const quantized = (): AbsmeanResult => (q ??= quantizeAbsmean(values, name));
    const scaleName = hfName(`${s.name}.scale`);
    out.push({ spec: { name, dtype: "U8", shape: [rows / 4, cols] }, bytes: () => packHf(quantized().codes, [cols, rows], name) });
    out.push({ spec: { name: scaleName, dtype: floatDtype, shape: [1] }, bytes: () => floatBytes(Float32Array.of(quantized().gamma), scaleName) });
  }
  return out;
}

/** The tensor table `exportSafetensors` writes (PyTorch order: rows first). */
export function hfTensorSpecs(params: ParamSet, options: ExportSafetensorsOptions = {}): SafetensorsTensorSpec[] {
  return planTensors(params, options).map((t) => t.spec);
}

/** Writes `model.safetensors` into `sink` (committed on success, aborted on any error). */
export async function exportSafetensors(params: ParamSet, sink: ByteSink, options: ExportSafetensorsOptions = {}): Promise<void> {
  let plan: PlannedTensor[];
  try {
    plan = planTensors(params, options);
  } catch (err) {
    await sink.abort().catch(() => undefined);
    throw err;
  }
  await writeSafetensors(sink, plan.map((t) => t.spec), (i) => plan[i].bytes(), { metadata: { format: "pt" }, onProgress: options.onProgress });
}

/** config.json for transformers' BitNetForCausalLM. */
export function hfConfig(c: TrainConfig, tokenizer: Pick<TrainedTokenizer, "bos" | "eos">, options: ExportSafetensorsOptions = {}): Record<string, unknown> {
  return {
    architectures: ["BitNetForCausalLM"],
    model_type: "bitnet",
    vocab_size: c.vocabSize,
    hidden_size: c.dim,
    intermediate_size: c.ffnDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: headDim(c),
    hidden_act: c.activation,
    max_position_embeddings: c.seqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: true,
    attention_bias: false,
    attention_dropout: 0.0,
    initializer_range: 0.02,
    use_cache: true,
    bos_token_id: tokenizer.bos,
    eos_token_id: tokenizer.eos,
    torch_dtype: (options.floatDtype ?? "f32") === "f32" ? "float32" : "bfloat16",
    ...(c.weights === "ternary" ? { quantization_config: { ...HF_QUANTIZATION_CONFIG } } : {}),
  };
}

/** The JSON files of a Hugging Face model directory, by file name (model.safetensors is written separately). */
export function hfJsonFiles(params: ParamSet, tokenizer: TrainedTokenizer, options: ExportSafetensorsOptions = {}): Record<string, Record<string, unknown>> {
  const c = params.config;
  const tokenizerJson = hfTokenizerJson(tokenizer, c.vocabSize);
  return {
    "config.json": hfConfig(c, tokenizer, options),
    "generation_config.json": { bos_token_id: tokenizer.bos, eos_token_id: tokenizer.eos },
    "tokenizer.json": tokenizerJson,
    "tokenizer_config.json": hfTokenizerConfig(tokenizer, c.seqLen),
    "special_tokens_map.json": { bos_token: tokenizer.tokens[tokenizer.bos], eos_token: tokenizer.tokens[tokenizer.eos] },
  };
}
