/**
 * The codec registry: ggml type id → how to decode and encode tensors of that type, so the GGUF loader,
 * writer and converter never switch on types themselves. Ternary formats also expose pack/unpack
 * (codes + scales) through `ternaryCodecFor`. The Hugging Face packed format has no ggml id; it lives in
 * hf-packed.ts.
 */

import { typeName } from "../../formats/gguf/types.ts";
import type { TensorCodec, TernaryCodec } from "./common.ts";
import { bf16Codec, f16Codec, f32Codec } from "./float.ts";
import { i2_s } from "./i2_s.ts";
import { q8_0 } from "./q8_0.ts";
import { tq1_0 } from "./tq1_0.ts";
import { tq2_0 } from "./tq2_0.ts";

export type { TensorCodec, TernaryCodec, TernaryUnpacked } from "./common.ts";
export { tq1_0, tq2_0, i2_s, q8_0, f32Codec, f16Codec, bf16Codec };

const TERNARY: readonly TernaryCodec[] = [tq1_0, tq2_0, i2_s];
const CODECS = new Map<number, TensorCodec>([f32Codec, f16Codec, bf16Codec, q8_0, ...TERNARY].map((c) => [c.typeId, c]));
const TERNARY_BY_ID = new Map<number, TernaryCodec>(TERNARY.map((c) => [c.typeId, c]));

/** The codec for a ggml type id; throws naming the type (and `what`) when bitnet-ts cannot decode it. */
export function codecFor(typeId: number, what = "tensor"): TensorCodec {
  const c = CODECS.get(typeId);
  if (!c) throw new Error(`${what}: no codec for ggml type ${typeName(typeId)} (id ${typeId})`);
  return c;
}

/** The ternary codec for a ggml type id (tq1_0, tq2_0, i2_s); throws for any other type. */
export function ternaryCodecFor(typeId: number, what = "tensor"): TernaryCodec {
  const c = TERNARY_BY_ID.get(typeId);
  if (!c) throw new Error(`${what}: ggml type ${typeName(typeId)} (id ${typeId}) is not a ternary format`);
  return c;
}

/** Whether `typeId` has a codec here. */
export function hasCodec(typeId: number): boolean {
  return CODECS.has(typeId);
}
