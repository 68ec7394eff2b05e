/**
 * GGUF → GGUF conversion of a BitNet model between ternary formats (TQ2_0, TQ1_0, I2_S) and floats,
 * streamed: the writer asks for each output tensor in turn and only then is it read and converted, so
 * the whole model is never in memory. Browser-safe (it reads a GGUFFile and writes a ByteSink).
 *
 * Which tensors change:
 * - the linear matrices `blk.N.{attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down}.weight` get the
 *   target type, by the rules in linear.ts;
 * - `token_embd.weight` and `output.weight` keep their type, or get `embeddingType` (a float type, or
 *   q8_0 for an int8 head, quantized as ggml's quantize_row_q8_0_ref does);
 * - everything else (norms, `.scale` tensors, unknown names) is copied byte for byte.
 * Metadata is copied with its exact types and order; only `general.file_type` is set to the target's
 * llama_ftype (appended as u32 when the file has none). Every shape and type problem is found before the
 * first byte is written, except a ternary matrix whose scales do not fit I2_S, which needs its data.
 * It does not open files or draw progress (src/cli/convert.ts does).
 */
import { InvalidArgumentError, UnsupportedModelError } from "../errors.ts";
import type { GGUFFile, GGUFTensorInfo } from "../formats/gguf/reader.ts";
import { GeneralKey, LINEAR_BLOCK_TENSORS, parseTensorName, type BlockTensor } from "../formats/gguf/names.ts";
import { tensorByteSize, typeName } from "../formats/gguf/types.ts";
import { GGUFValueType, integerRange } from "../formats/gguf/value-types.ts";
import { ggufMetadataEntries, writeGGUF, type GGUFMetadataEntry, type GGUFWriteProgress } from "../formats/gguf/writer.ts";
import type { ByteSink } from "../formats/sink.ts";
import { ACTIVATION_KEY, HIDDEN_ACTIVATION_KEY, defaultActivation } from "../model/config.ts";
import { hasCodec } from "../quant/codecs/index.ts";
import { castTensor } from "./float-cast.ts";
import { convertLinear, type ConvertMethod } from "./linear.ts";
import { CONVERT_TARGETS, EMBEDDING_TYPE_ID, EMBEDDING_TYPES, TARGET_FILE_TYPE, TARGET_TYPE_ID, isConvertTarget, isEmbeddingType, type ConvertTarget, type EmbeddingType } from "./targets.ts";

export interface ConvertOptions {
  /** Type of the linear matrices. */
  type: ConvertTarget;
  /** Type of `token_embd` and `output` (default `keep`). */
  embeddingType?: EmbeddingType;
  /** Allow re-quantizing (absmean, lossy) a ternary matrix whose scales the target cannot hold (I2_S). */
  requantize?: boolean;
  onProgress?: (p: GGUFWriteProgress) => void;
}

export type TensorRole = "linear" | "embedding" | "other";

export interface PlannedTensor {
  name: string;
  /** GGUF order (ne[0] first). */
  shape: number[];
  role: TensorRole;
  sourceType: number;
  targetType: number;
}

export interface ConvertedTensor extends PlannedTensor {
  method: ConvertMethod;
  /** For a ternary repack into TQ1_0/TQ2_0: the largest relative change of a scale rounded to fp16 (0 = lossless). */
  scaleChange: number;
}

export interface ConvertResult {
  fileSize: number;
  tensors: ConvertedTensor[];
}

const EMBEDDING_NAMES: readonly string[] = ["token_embd.weight", "output.weight"];

export function tensorRole(name: string): TensorRole {
  if (EMBEDDING_NAMES.includes(name)) return "embedding";
  const p = parseTensorName(name);
  if (p && p.layer !== undefined && p.suffix === "weight" && LINEAR_BLOCK_TENSORS.includes(p.base as BlockTensor)) return "linear";
  return "other";
}

/** Each tensor's role and output type, after checking every shape and source type; throws naming the tensor. */
export function planConversion(input: GGUFFile, options: ConvertOptions): PlannedTensor[] {
  const file = input.source.name;
  if (!isConvertTarget(options.type)) throw new Error(`unknown target type '${String(options.type)}'; expected one of ${CONVERT_TARGETS.join(", ")}`);
  const embeddingType = options.embeddingType ?? "keep";
  if (!isEmbeddingType(embeddingType)) throw new InvalidArgumentError(`unknown embedding type '${String(embeddingType)}'; expected one of ${EMBEDDING_TYPES.join(", ")}`);
  const linearType = TARGET_TYPE_ID[options.type];
  return input.tensors.map((t) => {
    const role = tensorRole(t.name);
    const targetType = role === "linear" ? linearType : role === "embedding" && embeddingType !== "keep" ? EMBEDDING_TYPE_ID[embeddingType] : t.type;
    const what = `${file}: tensor '${t.name}'`;
    if (targetType !== t.type) {
      if (!hasCodec(t.type)) throw new UnsupportedModelError(`${what} is ${typeName(t.type)}, which bitnet-ts cannot decode, so it cannot become ${typeName(targetType)}`);
      try {
        tensorByteSize(targetType, t.shape, `${what} (shape [${t.shape.join(", ")}]) cannot become ${typeName(targetType)}`);
      } catch (e) {
        throw new UnsupportedModelError((e as Error).message);
      }
    }
    return { name: t.name, shape: [...t.shape], role, sourceType: t.type, targetType };
  });
}

/**
 * The input's metadata, exact types kept, with `general.file_type` set to the target's llama_ftype, and the FFN
 * activation stated under llama.cpp's key (`<arch>.hidden_activation`) next to ours whenever the file states it,
 * or when the architecture's activation is not SiLU (llama.cpp's default for a BitNet graph without the key).
 * A file that names no activation and runs SiLU keeps its metadata as it is.
 */
export function convertedMetadata(input: GGUFFile, target: ConvertTarget): GGUFMetadataEntry[] {
  const fileType = TARGET_FILE_TYPE[target];
  const entries = ggufMetadataEntries(input);
  for (const e of activationEntries(input)) entries.push(e);
  const at = entries.findIndex((e) => e.key === GeneralKey.fileType);
  if (at < 0) return [...entries, { key: GeneralKey.fileType, value: fileType, type: { type: GGUFValueType.UINT32 } }];
  const old = entries[at];
  const range = old.type && old.type.type !== GGUFValueType.ARRAY ? integerRange(old.type.type) : undefined;
  const keepType = range !== undefined && BigInt(fileType) >= range[0] && BigInt(fileType) <= range[1];
  entries[at] = { key: old.key, value: fileType, type: keepType ? old.type : { type: GGUFValueType.UINT32 } };
  return entries;
}

/**
 * Writes `input` converted to `sink` (committed on success, aborted on any error). Each output tensor is
 * computed only when the writer asks for it.
 */
export async function convertGGUF(input: GGUFFile, sink: ByteSink, options: ConvertOptions): Promise<ConvertResult> {
  let plan: PlannedTensor[];
  let metadata: GGUFMetadataEntry[];
  try {
    plan = planConversion(input, options);
    metadata = convertedMetadata(input, options.type);
  } catch (err) {
    await sink.abort().catch(() => undefined);
    throw err;
  }
  const file = input.source.name;
  const done: ConvertedTensor[] = [];
  const data = async (i: number): Promise<Uint8Array> => {
    const p = plan[i];
    const t: GGUFTensorInfo = input.tensors[i];
    const what = `${file}: tensor '${t.name}'`;
    if (p.targetType === p.sourceType) {
      done.push({ ...p, method: "copy", scaleChange: 0 });
      return input.readTensor(t);
    }
    if (p.role !== "linear") {
      done.push({ ...p, method: "cast", scaleChange: 0 });
      return castTensor(input, t, p.targetType, what);
    }
    const r = convertLinear(await input.readTensor(t), p.sourceType, p.targetType, p.shape, what, options.requantize ?? false);
    done.push({ ...p, method: r.method, scaleChange: r.scaleChange });
    return r.bytes;
  };
  const layout = await writeGGUF(
    sink,
    { metadata, tensors: plan.map((p) => ({ name: p.name, shape: p.shape, type: p.targetType })), version: input.version === 2 ? 2 : 3 },
    data,
    options.onProgress,
  );
  return { fileSize: layout.fileSize, tensors: done };
}

/** The activation keys `convertedMetadata` adds (our `feed_forward_activation` and llama.cpp's `hidden_activation`). */
export function activationEntries(input: GGUFFile): GGUFMetadataEntry[] {
  const arch = input.metadata[GeneralKey.architecture];
  if (typeof arch !== "string") return [];
  const ours = input.metadata[ACTIVATION_KEY(arch)];
  const theirs = input.metadata[HIDDEN_ACTIVATION_KEY(arch)];
  const mapped = theirs === "relu2" ? "relu2" : theirs === "silu" || theirs === "swish" || theirs === "swiglu" ? "silu" : undefined;
  const activation = typeof ours === "string" ? ours : (mapped ?? defaultActivation(arch));
  if (activation === undefined || (ours === undefined && theirs === undefined && activation === "silu")) return [];
  const out: GGUFMetadataEntry[] = [];
  if (ours === undefined) out.push({ key: ACTIVATION_KEY(arch), value: activation, type: { type: GGUFValueType.STRING } });
  if (theirs === undefined) out.push({ key: HIDDEN_ACTIVATION_KEY(arch), value: activation, type: { type: GGUFValueType.STRING } });
  return out;
}

/** One-line warnings about what a conversion lost (empty when it lost nothing it was not asked to). */
export function conversionWarnings(result: ConvertResult): string[] {
  const warnings: string[] = [];
  const rounded = result.tensors.filter((t) => t.scaleChange > 0);
  if (rounded.length > 0) {
    const worst = rounded.reduce((a, b) => (b.scaleChange > a.scaleChange ? b : a));
    warnings.push(
      `${rounded.length} ternary tensor(s) had scales that are not fp16 values and ${typeName(worst.targetType)} stores them rounded to fp16 (codes unchanged; largest relative change ${worst.scaleChange.toExponential(2)}, in '${worst.name}')`,
    );
  }
  const requantized = result.tensors.filter((t) => t.method === "requantize");
  if (requantized.length > 0) {
    warnings.push(`${requantized.length} ternary tensor(s) with several scales were re-quantized with absmean (lossy), first '${requantized[0].name}'`);
  }
  return warnings;
}
