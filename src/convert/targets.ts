/**
 * What `convert` can produce: the target types of the linear (BitLinear) matrices, the types the
 * embedding (and output head) may be cast to (float, or Q8_0: an int8 head llama.cpp reads too), and the llama_ftype number written to `general.file_type` for each target.
 * It converts nothing itself (convert-gguf.ts does).
 *
 * The ftype numbers: llama.cpp's include/llama.h (release v0.5.0, the one node-llama-cpp bundles) has
 * ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_TQ1_0 = 36, MOSTLY_TQ2_0 = 37. I2_S exists only in bitnet.cpp's
 * llama.cpp fork, whose include/llama.h has LLAMA_FTYPE_MOSTLY_I2_S = 40 (its converter
 * utils/convert-hf-to-gguf-bitnet.py writes 40 too, as does the I2_S fixture). Upstream llama.cpp has
 * since given 40 to MOSTLY_Q1_0, so 40 means I2_S only in a file whose tensors say so.
 */
import { GGMLType } from "../formats/gguf/types.ts";

export const CONVERT_TARGETS = ["tq2_0", "tq1_0", "i2_s", "f16", "f32"] as const;
export type ConvertTarget = (typeof CONVERT_TARGETS)[number];

export const EMBEDDING_TYPES = ["keep", "f32", "f16", "bf16", "q8_0"] as const;
export type EmbeddingType = (typeof EMBEDDING_TYPES)[number];

/** ggml type id of each target. */
export const TARGET_TYPE_ID: Record<ConvertTarget, number> = {
  tq2_0: GGMLType.TQ2_0,
  tq1_0: GGMLType.TQ1_0,
  i2_s: GGMLType.I2_S,
  f16: GGMLType.F16,
  f32: GGMLType.F32,
};

/** ggml type id of each embedding cast (`keep` has none). */
export const EMBEDDING_TYPE_ID: Record<Exclude<EmbeddingType, "keep">, number> = {
  f32: GGMLType.F32,
  f16: GGMLType.F16,
  bf16: GGMLType.BF16,
  q8_0: GGMLType.Q8_0,
};

/** The llama_ftype written to `general.file_type` (see the file comment for where each number comes from). */
export const TARGET_FILE_TYPE: Record<ConvertTarget, number> = {
  f32: 0,
  f16: 1,
  tq1_0: 36,
  tq2_0: 37,
  i2_s: 40,
};

export function isConvertTarget(s: string): s is ConvertTarget {
  return (CONVERT_TARGETS as readonly string[]).includes(s);
}

export function isEmbeddingType(s: string): s is EmbeddingType {
  return (EMBEDDING_TYPES as readonly string[]).includes(s);
}
