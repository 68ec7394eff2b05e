/**
 * Converts one linear (BitLinear) matrix from its stored type to the target type, in memory.
 * The rules, in order:
 * - same type: the bytes are copied unchanged;
 * - to f16/f32: dequantize, then encode (`cast`);
 * - to a ternary type from a matrix that is already ternary (a ternary type, or float values that are
 *   exactly {-c, 0, +c} with one c): the codes and the matrix's own scales are repacked (`repack`),
 *   losslessly except that TQ1_0/TQ2_0 store their scales as fp16 (reported as `scaleChange`);
 * - to a ternary type from other float values: BitNet's absmean rule over the whole matrix (`absmean`);
 * - to I2_S, which has one scale per tensor, from a ternary matrix whose scale groups differ: an error,
 *   unless `requantize` is set, which re-runs absmean on its values (`requantize`).
 * It does not read files or decide which tensors are linear; convert-gguf.ts does.
 */
import { GGMLType, typeName } from "../formats/gguf/types.ts";
import { codecFor, ternaryCodecFor, type TernaryCodec } from "../quant/codecs/index.ts";
import { blockScales, distinctScales, singleScale, ternaryFromAbsmean, ternaryFromPacked, ternaryFromValues, ternaryValues, type TernaryForm } from "./ternary-form.ts";

export type ConvertMethod = "copy" | "cast" | "repack" | "absmean" | "requantize";

export interface LinearConversion {
  bytes: Uint8Array;
  method: ConvertMethod;
  /** For `repack` into TQ1_0/TQ2_0: the largest relative change of a scale rounded to fp16 (0 = lossless). */
  scaleChange: number;
}

const TERNARY_IDS: readonly number[] = [GGMLType.TQ1_0, GGMLType.TQ2_0, GGMLType.I2_S];

export function isTernaryType(typeId: number): boolean {
  return TERNARY_IDS.includes(typeId);
}

/**
 * `bytes` is the tensor's stored data (`sourceType`, GGUF-order `shape`); `what` names the tensor in errors.
 */
export function convertLinear(bytes: Uint8Array, sourceType: number, targetType: number, shape: readonly number[], what: string, requantize = false): LinearConversion {
  if (sourceType === targetType) return { bytes, method: "copy", scaleChange: 0 };
  const source = codecFor(sourceType, what);
  if (!isTernaryType(targetType)) {
    return { bytes: codecFor(targetType, what).quantize(source.dequantize(bytes, shape, what), shape, what), method: "cast", scaleChange: 0 };
  }
  const target = ternaryCodecFor(targetType, what);
  let form: TernaryForm;
  let method: ConvertMethod = "repack";
  if (isTernaryType(sourceType)) {
    form = ternaryFromPacked(ternaryCodecFor(sourceType, what), bytes, shape, what);
  } else {
    const values = source.dequantize(bytes, shape, what);
    const exact = ternaryFromValues(values);
    if (exact) form = exact;
    else {
      form = ternaryFromAbsmean(values, what);
      method = "absmean";
    }
  }
  if (targetType === GGMLType.I2_S) {
    const c = singleScale(form);
    if (c === undefined) {
      if (!requantize) {
        throw new Error(
          `${what}: ${typeName(sourceType)} scale groups use ${distinctScales(form)} different scales, but i2_s has one scale per tensor; pass --requantize to re-quantize it with absmean (lossy)`,
        );
      }
      const q = ternaryFromAbsmean(ternaryValues(form), what);
      return { bytes: target.pack(q.codes, q.scales, shape, what), method: "requantize", scaleChange: 0 };
    }
    return { bytes: target.pack(form.codes, Float32Array.of(c), shape, what), method, scaleChange: 0 };
  }
  return packBlocks(target, form, shape, what, method);
}

function packBlocks(target: TernaryCodec, form: TernaryForm, shape: readonly number[], what: string, method: ConvertMethod): LinearConversion {
  const { scales, fp16Change } = blockScales(form, target.blockSize, what);
  return { bytes: target.pack(form.codes, scales, shape, what), method, scaleChange: method === "repack" ? fp16Change : 0 };
}
