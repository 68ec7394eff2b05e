/**
 * A ternary matrix in a format-independent form: codes in {-1, 0, 1} and one non-negative scale per
 * group of consecutive values. The converter moves a matrix between TQ1_0, TQ2_0 and I2_S through this
 * form, so a matrix that is already ternary keeps its codes and its own scale (re-running absmean would
 * change γ). This file finds the form (from packed bytes, from float values, or with absmean) and fits it
 * to a target's scale grouping; it packs nothing (the codecs do).
 */
import type { TernaryCodec } from "../quant/codecs/index.ts";
import { quantizeAbsmean } from "../quant/absmean.ts";
import { f16ToF32, f32ToF16 } from "../quant/half.ts";

export interface TernaryForm {
  /** One code in {-1, 0, 1} per value, row-major in GGUF order. */
  codes: Int8Array;
  /** One finite, non-negative scale per group: value = code·scales[floor(index / group)]. */
  scales: Float32Array;
  /** Values per scale: 256 for TQ1_0/TQ2_0, the whole tensor for I2_S and for one-scale matrices. */
  group: number;
}

/**
 * The codes and scales stored in a ternary tensor. A negative scale (which no quantizer writes, but a
 * file may hold) is made positive by flipping its group's codes, so the values are unchanged.
 */
export function ternaryFromPacked(codec: TernaryCodec, bytes: Uint8Array, shape: readonly number[], what: string): TernaryForm {
  const u = codec.unpack(bytes, shape, what);
  const codes = u.codes;
  const scales = Float32Array.from(u.scales);
  const group = u.scaleGroup;
  for (let g = 0; g < scales.length; g++) {
    const s = scales[g];
    if (s - s !== 0) {
      if (hasNonzero(codes, g * group, group)) throw new Error(`${what}: scale group ${g} has the non-finite scale ${s}`);
      scales[g] = 0; // every code is 0, so the junk scale carries no weight
      continue;
    }
    if (s < 0) for (let i = g * group; i < (g + 1) * group; i++) codes[i] = -codes[i];
    scales[g] = Math.abs(s);
  }
  return { codes, scales, group };
}

/**
 * The form of float values that are already ternary with one scale for the whole tensor: every non-zero
 * value has the same magnitude c. Undefined when they are not (such values get absmean instead).
 * An all-zero tensor is ternary with c = 0.
 */
export function ternaryFromValues(values: Float32Array): TernaryForm | undefined {
  let c = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a === 0) continue;
    if (c === 0) c = a;
    else if (a !== c) return undefined;
  }
  if (c - c !== 0) return undefined;
  const codes = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) codes[i] = values[i] > 0 ? 1 : values[i] < 0 ? -1 : 0;
  return { codes, scales: Float32Array.of(c), group: values.length };
}

/** BitNet's absmean rule over the whole tensor (SPEC §1): codes and one γ. */
export function ternaryFromAbsmean(values: Float32Array, what: string): TernaryForm {
  const { codes, gamma } = quantizeAbsmean(values, what);
  return { codes, scales: Float32Array.of(gamma), group: values.length };
}

/** The values the form stands for, as float32 (what the source's dequantizer gives, up to the sign of zero). */
export function ternaryValues(form: TernaryForm): Float32Array {
  const out = new Float32Array(form.codes.length);
  for (let i = 0; i < out.length; i++) out[i] = form.codes[i] * form.scales[Math.floor(i / form.group)];
  return out;
}

export interface BlockScales {
  /** One scale per target block: the block's own scale, or 0 for a block whose codes are all 0. */
  scales: Float32Array;
  /** The largest relative change of a scale when the target stores it as fp16 (0 when all are exact). */
  fp16Change: number;
}

/**
 * Scales for a target with one fp16 scale per `block` values (TQ1_0, TQ2_0). A block with no non-zero
 * code gets 0, as ggml's absmax quantizer gives it, so repacking a ggml-written file reproduces its bytes.
 * Throws when a scale does not fit in fp16.
 */
export function blockScales(form: TernaryForm, block: number, what: string): BlockScales {
  if (form.group % block !== 0) throw new Error(`${what}: internal: scale groups of ${form.group} values do not hold whole ${block}-value blocks`);
  const nb = form.codes.length / block;
  const scales = new Float32Array(nb);
  let fp16Change = 0;
  for (let b = 0; b < nb; b++) {
    if (!hasNonzero(form.codes, b * block, block)) continue;
    const s = form.scales[Math.floor((b * block) / form.group)];
    const stored = f16ToF32(f32ToF16(s));
    if (!Number.isFinite(stored)) throw new Error(`${what}: scale ${s} is too large for the fp16 scale of the target format`);
    if (s !== 0) fp16Change = Math.max(fp16Change, Math.abs(stored - s) / s);
    scales[b] = s;
  }
  return { scales, fp16Change };
}

/**
 * The one scale of a target with a single scale per tensor (I2_S): the common scale of every group
 * that has a non-zero code (0 for an all-zero tensor), or undefined when those scales differ.
 */
export function singleScale(form: TernaryForm): number | undefined {
  let c: number | undefined;
  for (let g = 0; g < form.scales.length; g++) {
    if (!hasNonzero(form.codes, g * form.group, form.group)) continue;
    if (c === undefined) c = form.scales[g];
    else if (form.scales[g] !== c) return undefined;
  }
  return c ?? 0;
}

/** How many distinct scales the groups with a non-zero code use (for error messages). */
export function distinctScales(form: TernaryForm): number {
  const seen = new Set<number>();
  for (let g = 0; g < form.scales.length; g++) if (hasNonzero(form.codes, g * form.group, form.group)) seen.add(form.scales[g]);
  return seen.size;
}

function hasNonzero(codes: Int8Array, from: number, count: number): boolean {
  const end = Math.min(from + count, codes.length);
  for (let i = from; i < end; i++) if (codes[i] !== 0) return true;
  return false;
}
