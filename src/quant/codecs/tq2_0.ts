/**
 * GGUF TQ2_0 (llama.cpp, ggml type 35): 256 values in 66 bytes, byte-identical to ggml.
 *
 * Block layout: qs[64] then d (fp16, little-endian). Element e of a block (0..255) has its code
 * c = w + 1 in bits 2l..2l+1 of qs[32·(e >> 7) + (e & 31)], where l = (e >> 5) & 3. Value = (c - 1)·d.
 * Code 3 never comes out of ggml's quantizer; unpack refuses it, dequantize reads it as +2 like ggml.
 *
 * Quantizer: `quantize_row_tq2_0_ref` in ggml-quants.c (gguf-py's TQ2_0 agrees), described with the
 * shared block frame in block-ternary.ts. This file holds only the bit layout of the codes.
 */

import { GGMLType, knownType } from "../../formats/gguf/types.ts";
import { blockTernaryCodec, TQ_BLOCK } from "./block-ternary.ts";

export const TQ2_0_BLOCK = TQ_BLOCK;
export const TQ2_0_BLOCK_BYTES = knownType(GGMLType.TQ2_0).blockBytes;

/** Codes of one block in ggml's order: half j (128 values), shift l (32 values), byte m. */
function decodeCodes(bytes: Uint8Array, blockOff: number, out: Int8Array, outOff: number): void {
  for (let j = 0; j < 2; j++) {
    const qo = blockOff + j * 32;
    for (let l = 0; l < 4; l++) {
      const o = outOff + j * 128 + l * 32;
      const shift = l * 2;
      for (let m = 0; m < 32; m++) out[o + m] = ((bytes[qo + m] >> shift) & 3) - 1;
    }
  }
}

/** qs[32j + m] packs elements 128j + m + 32l for l = 0..3, element l in bits 2l..2l+1. */
function encodeCodes(codes: Int8Array, codesOff: number, out: Uint8Array, blockOff: number): void {
  for (let j = 0; j < 2; j++) {
    const c0 = codesOff + j * 128;
    for (let m = 0; m < 32; m++) {
      const c = c0 + m;
      out[blockOff + j * 32 + m] =
        (codes[c] + 1) | ((codes[c + 32] + 1) << 2) | ((codes[c + 64] + 1) << 4) | ((codes[c + 96] + 1) << 6);
    }
  }
}

export const tq2_0 = blockTernaryCodec({
  typeId: GGMLType.TQ2_0,
  name: "tq2_0",
  blockBytes: TQ2_0_BLOCK_BYTES,
  decodeCodes,
  encodeCodes,
});
