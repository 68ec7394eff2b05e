/**
 * Writes a trained model (a ParamSet) as a GGUF file that our engine and llama.cpp load, computing what the
 * training forward pass computed. One tensor at a time is quantized and handed to the GGUF writer.
 *
 * Architecture. A SiLU model is written as llama.cpp's `bitnet` (its graph hard-codes SiLU and the head tied to
 * token_embd, which is exactly our training model), a ReLU² model as bitnet.cpp's `bitnet-b1.58` (2B4T's name;
 * llama.cpp v0.5.0 does not know it, our engine does). `<arch>.feed_forward_activation` is always written, so the
 * activation never depends on a reader's default. There is no `output.weight`: the head is tied.
 *
 * Linear weights, by target type:
 * - tq2_0 / tq1_0 / i2_s (ternary model): the codes and γ of BitNet's absmean rule (`quantizeAbsmean`, the very
 *   function the training forward calls), packed by the format's codec with one γ for every block. I2_S keeps γ
 *   as f32, so it is exactly the training γ. TQ formats keep one fp16 d per 256-block, so the file holds
 *   fp16(γ): a relative change of at most 2⁻¹¹ ≈ 4.9e-4 (γ in fp16's normal range, ≥ 6.1e-5) that scales each
 *   BitLinear output by the same factor. Much of it is normalized away (a scaled v, up or ReLU² gate is undone by
 *   the sub-norm after it); the rest reaches the logits through the q·k scores, the SiLU gate and the residual
 *   sums of attn_output and ffn_down, and now and then flips an int8 activation code. Seen on the tests' tiny
 *   trained models: logits move by up to 7e-3 (SiLU) and 2.4e-2 (ReLU²). `storedGamma` gives the γ a file
 *   holds, so a reference can use exactly that.
 * - f16 / f32 of a ternary model: the fake-quantized weights codes·γ (γ rounded to f16 for f16). Every non-zero
 *   has the same magnitude, so `bitnet convert` recovers the codes and γ exactly (convert/ternary-form.ts)
 *   instead of re-running absmean on them, which would shrink γ to γ·(fraction of non-zeros). Engines run such
 *   tensors as float matrices WITHOUT int8 activation quantization, so f16/f32 of a ternary model is an
 *   interchange form, not what training computed; the ternary types are.
 * - f16 / f32 of an fp model (`weights: "fp"`): the trained float weights. Ternary types are refused for an fp
 *   model: absmean after the fact is post-training quantization, not the model that was trained.
 * The embedding (also the head) is f32 by default, which is what training used; f16 halves it and perturbs the
 * logits by f16 rounding. Norm gains are f32.
 * Who runs what: our engine runs every combination. llama.cpp v0.5.0 runs SiLU (`bitnet`) files as TQ1_0, TQ2_0,
 * f16 or f32, not I2_S (it retired type 36) and not `bitnet-b1.58`; bitnet.cpp is the reference for I2_S.
 * Tokenizer metadata: export-tokenizer.ts. This file does not train, and writes no other format.
 */

import { TARGET_FILE_TYPE, TARGET_TYPE_ID, type ConvertTarget } from "../convert/targets.ts";
import { Arch, GeneralKey, archKey, metadataEntry } from "../formats/gguf/names.ts";
import { GGMLType, tensorByteSize } from "../formats/gguf/types.ts";
import { writeGGUF, type GGUFMetadataEntry, type GGUFTensorSpec, type GGUFWriteHeader, type GGUFWriteProgress } from "../formats/gguf/writer.ts";
import type { ByteSink } from "../formats/sink.ts";
import { ACTIVATION_KEY, HIDDEN_ACTIVATION_KEY } from "../model/config.ts";
import { dequantizeAbsmean, quantizeAbsmean } from "../quant/absmean.ts";
import { codecFor, ternaryCodecFor } from "../quant/codecs/index.ts";
import { f16ToF32, f32ToF16 } from "../quant/half.ts";
import { headDim, type TrainConfig } from "./config.ts";
import { ggufTokenizerEntries, type TrainedTokenizer } from "./export-tokenizer.ts";
import { ggufName, type ParamSet, type TensorSpec } from "./params.ts";

export type ExportType = ConvertTarget;
export type { TrainedTokenizer } from "./export-tokenizer.ts";

export interface ExportGGUFOptions {
  /** Storage of the linear (BitLinear) weights. */
  type: ExportType;
  /** `general.name`; default "bitnet-ts". */
  name?: string;
  /** Storage of token_embd (also the head): "f32" (default, what training used) or "f16". */
  embeddingType?: "f32" | "f16";
  /** `<arch>.context_length`; default the config's seqLen. */
  contextLength?: number;
  onProgress?: (p: GGUFWriteProgress) => void;
}

const TERNARY_TYPES: readonly ExportType[] = ["tq2_0", "tq1_0", "i2_s"];

/** llama.cpp's `bitnet` for SiLU (its graph is SiLU-only), bitnet.cpp's `bitnet-b1.58` for ReLU². */
export function exportArchitecture(c: TrainConfig): string {
  return c.activation === "silu" ? Arch.bitnet : Arch.bitnetB158;
}

/**
 * The γ a file of `type` holds for a matrix whose absmean γ is `gamma`: fp16(γ) for TQ1_0, TQ2_0 and f16,
 * γ itself for I2_S and f32.
 */
export function storedGamma(gamma: number, type: ExportType): number {
  return type === "tq2_0" || type === "tq1_0" || type === "f16" ? f16ToF32(f32ToF16(gamma)) : gamma;
}

/** GGUF order: ne[0] (the contiguous row length) first. */
function ggufShape(s: TensorSpec): number[] {
  return s.shape.slice().reverse();
}

function typeOf(s: TensorSpec, options: ExportGGUFOptions): number {
  if (s.kind === "norm") return GGMLType.F32;
  if (s.kind === "embedding") return options.embeddingType === "f16" ? GGMLType.F16 : GGMLType.F32;
  return TARGET_TYPE_ID[options.type];
}

function hyperparameters(c: TrainConfig, arch: string, contextLength: number): GGUFMetadataEntry[] {
  const hd = headDim(c);
  return [
    metadataEntry(archKey(arch, "vocabSize"), c.vocabSize),
    metadataEntry(archKey(arch, "contextLength"), contextLength),
    metadataEntry(archKey(arch, "embeddingLength"), c.dim),
    metadataEntry(archKey(arch, "blockCount"), c.nLayers),
    metadataEntry(archKey(arch, "feedForwardLength"), c.ffnDim),
    metadataEntry(archKey(arch, "headCount"), c.nHeads),
    metadataEntry(archKey(arch, "headCountKv"), c.nKvHeads),
    metadataEntry(archKey(arch, "keyLength"), hd),
    metadataEntry(archKey(arch, "valueLength"), hd),
    metadataEntry(archKey(arch, "ropeDimensionCount"), hd),
    metadataEntry(archKey(arch, "ropeFreqBase"), c.ropeTheta),
    metadataEntry(archKey(arch, "rmsEpsilon"), c.normEps),
    { key: ACTIVATION_KEY(arch), value: c.activation },
    // llama.cpp's spelling of the same fact, so that its BitNet graph runs ReLU² models with ReLU².
    { key: HIDDEN_ACTIVATION_KEY(arch), value: c.activation },
  ];
}

/** The header `exportGGUF` writes (metadata and tensor table), after checking the model fits `options.type`. */
export function ggufExportHeader(params: ParamSet, tokenizer: TrainedTokenizer, options: ExportGGUFOptions): GGUFWriteHeader {
  const c = params.config;
  const type = options.type;
  if (!Object.hasOwn(TARGET_TYPE_ID, type)) throw new Error(`export: unknown type "${String(type)}" (expected ${Object.keys(TARGET_TYPE_ID).join(", ")})`);
  if (options.embeddingType !== undefined && options.embeddingType !== "f32" && options.embeddingType !== "f16") {
    throw new Error(`export: embeddingType must be "f32" or "f16", got "${String(options.embeddingType)}"`);
  }
  if (c.weights === "fp" && TERNARY_TYPES.includes(type)) {
    throw new Error(`export: the model was trained with full-precision weights; export it as f16 or f32, not ${type} (absmean now would be post-training quantization)`);
  }
  const contextLength = options.contextLength ?? c.seqLen;
  if (!Number.isInteger(contextLength) || contextLength <= 0) throw new Error(`export: contextLength must be a positive integer, got ${contextLength}`);
  const arch = exportArchitecture(c);
  const tensors: GGUFTensorSpec[] = params.layout.map((s) => {
    const spec = { name: ggufName(s.name), shape: ggufShape(s), type: typeOf(s, options) };
    const hint = s.kind === "linear" ? ` (choose a dim/ffnDim that fits ${type}, or another type)` : "";
    try {
      tensorByteSize(spec.type, spec.shape, `export: tensor '${spec.name}' [${s.shape.join(", ")}]`);
    } catch (err) {
      throw new Error(`${(err as Error).message}${hint}`, { cause: err });
    }
    return spec;
  });
  const quantized = TERNARY_TYPES.includes(type);
  const metadata: GGUFMetadataEntry[] = [
    metadataEntry(GeneralKey.architecture, arch),
    metadataEntry(GeneralKey.name, options.name ?? "bitnet-ts"),
    metadataEntry(GeneralKey.fileType, TARGET_FILE_TYPE[type]),
    ...(quantized ? [metadataEntry(GeneralKey.quantizationVersion, 2)] : []),
    ...hyperparameters(c, arch, contextLength),
    ...ggufTokenizerEntries(tokenizer, c.vocabSize),
  ];
  return { metadata, tensors };
}

/** The bytes of one tensor as `type` stores it (see the file comment for what each type holds). */
function tensorBytes(params: ParamSet, s: TensorSpec, typeId: number, ternaryModel: boolean): Uint8Array {
  const values = params.data.subarray(s.offset, s.offset + s.size);
  const shape = ggufShape(s);
  const name = ggufName(s.name);
  if (s.kind !== "linear" || !ternaryModel) return codecFor(typeId, name).quantize(values, shape, name);
  const { codes, gamma } = quantizeAbsmean(values, name);
  if (typeId === GGMLType.F32 || typeId === GGMLType.F16) return codecFor(typeId, name).quantize(dequantizeAbsmean(codes, gamma), shape, name);
  return ternaryCodecFor(typeId, name).pack(codes, Float32Array.of(gamma), shape, name);
}

/**
 * Writes `params` with `tokenizer` as a GGUF file into `sink` (committed on success, aborted on any error,
 * including a model that does not fit `options.type`).
 */
export async function exportGGUF(
  params: ParamSet,
  tokenizer: TrainedTokenizer,
  sink: ByteSink,
  options: ExportGGUFOptions,
): Promise<void> {
  let header: GGUFWriteHeader;
  try {
    header = ggufExportHeader(params, tokenizer, options);
  } catch (err) {
    await sink.abort().catch(() => undefined);
    throw err;
  }
  const ternaryModel = params.config.weights === "ternary";
  await writeGGUF(sink, header, (i, t) => tensorBytes(params, params.layout[i], t.type, ternaryModel), options.onProgress);
}
