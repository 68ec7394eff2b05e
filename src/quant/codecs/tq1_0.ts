/**
 * GGUF TQ1_0 (llama.cpp, ggml type 34): 256 values in 54 bytes, byte-identical to ggml.
 *
 * Block layout: qs[48], qh[4], d (fp16, little-endian). Codes c = w + 1 are base-3 digits ("trits"):
 * - qs[m], m < 32, holds elements m + 32n for n = 0..4 (n = 0 is the most significant trit);
 * - qs[32 + m], m < 16, holds elements 160 + m + 16n for n = 0..4;
 * - qh[j], j < 4, holds elements 240 + j + 4n for n = 0..3 (as the top four of five trits).
 * A byte stores ⌈t·256/243⌉ for its base-3 number t, so trit n decodes as ((byte·3^n mod 256)·3) >> 8.
 *
 * Quantizer: `quantize_row_tq1_0_ref` in ggml-quants.c (gguf-py agrees), described with the shared
 * block frame in block-ternary.ts. This file holds only the base-3 layout of the codes.
 */

import { GGMLType, knownType } from "../../formats/gguf/types.ts";
import { blockTernaryCodec, TQ_BLOCK } from "./block-ternary.ts";

export const TQ1_0_BLOCK = TQ_BLOCK;
export const TQ1_0_BLOCK_BYTES = knownType(GGMLType.TQ1_0).blockBytes;
const POW3 = [1, 3, 9, 27, 81, 243];

/** DIGIT[byte·5 + n] = code (trit − 1) of trit n of a stored byte, for every possible byte. */
const DIGIT = new Int8Array(256 * 5);
for (let b = 0; b < 256; b++) {
  for (let n = 0; n < 5; n++) DIGIT[b * 5 + n] = ((((b * POW3[n]) & 0xff) * 3) >> 8) - 1;
}

/**
 * The three byte runs of a block: `count` bytes from `at` (qs[0..32), qs[32..48), qh), where byte m holds
 * the `trits` elements first + m + count·n, n = 0 the most significant trit.
 */
const RUNS = [
  { at: 0, count: 32, trits: 5, first: 0 },
  { at: 32, count: 16, trits: 5, first: 160 },
  { at: 48, count: 4, trits: 4, first: 240 },
] as const;

/** Codes of one block in element order, which is ggml's: per run, trit n outer, byte m inner. */
function decodeCodes(bytes: Uint8Array, blockOff: number, out: Int8Array, outOff: number): void {
  for (let r = 0; r < RUNS.length; r++) {
    const { at, count, trits, first } = RUNS[r];
    const q = blockOff + at;
    let o = outOff + first;
    for (let n = 0; n < trits; n++) for (let m = 0; m < count; m++) out[o++] = DIGIT[bytes[q + m] * 5 + n];
  }
}

function encodeCodes(codes: Int8Array, codesOff: number, out: Uint8Array, blockOff: number): void {
  for (let r = 0; r < RUNS.length; r++) {
    const { at, count, trits, first } = RUNS[r];
    const c0 = codesOff + first;
    for (let m = 0; m < count; m++) {
      // Base-3 number, first trit most significant; qh bytes get a trailing 0 trit (ggml's q *= 3).
      let t = 0;
      for (let n = 0; n < 5; n++) t = t * 3 + (n < trits ? codes[c0 + m + count * n] + 1 : 0);
      out[blockOff + at + m] = Math.floor((t * 256 + 242) / 243); // ⌈t·256/243⌉
    }
  }
}

export const tq1_0 = blockTernaryCodec({
  typeId: GGMLType.TQ1_0,
  name: "tq1_0",
  blockBytes: TQ1_0_BLOCK_BYTES,
  decodeCodes,
  encodeCodes,
});
