/**
 * GGUF TQ1_0 (llama.cpp, ggml type 34): 256 values in 54 bytes, byte-identical to ggml.
 *
 * Block layout: qs[48], qh[4], d (fp16, little-endian). Codes c = w + 1 are base-3 digits ("trits"):
 * - qs[m], m < 32, holds elements m + 32n for n = 0..4 (n = 0 is the most significant trit);
 * - qs[32 + m], m < 16, holds elements 160 + m + 16n for n = 0..4;
 * - qh[j], j < 4, holds elements 240 + j + 4n for n = 0..3 (as the top four of five trits).
 * A byte stores ⌈t·256/243⌉ for its base-3 number t, so trit n decodes as ((byte·3^n mod 256)·3) >> 8.
 *
 * Quantizer (`quantize_row_tq1_0_ref` in ggml-quants.c; gguf-py agrees): d = block absmax in float32,
 * id = d ? f32(1/d) : 0, c = lroundf(f32(x·id)) + 1 (ties away from zero), d stored as fp16.
 * Decoding is (c-1)·d in float32, which is exact.
 */

import { GGMLType } from "../../formats/gguf/types.ts";
import { f16ToF32, f32ToF16 } from "../half.ts";
import { roundHalfAway } from "../round.ts";
import {
  blockDims,
  checkCodes,
  checkFinite,
  checkRow,
  checkScales,
  needBytes,
  type TernaryCodec,
  type TernaryUnpacked,
} from "./common.ts";

export const TQ1_0_BLOCK = 256;
export const TQ1_0_BLOCK_BYTES = 54;
const FORMAT = "tq1_0";
const QS_BYTES = 48;
const QH_BYTES = 4;
const D_OFFSET = QS_BYTES + QH_BYTES;
const POW3 = [1, 3, 9, 27, 81, 243];

/** DIGIT[byte·5 + n] = code (trit − 1) of trit n of a stored byte, for every possible byte. */
const DIGIT = new Int8Array(256 * 5);
for (let b = 0; b < 256; b++) {
  for (let n = 0; n < 5; n++) DIGIT[b * 5 + n] = ((((b * POW3[n]) & 0xff) * 3) >> 8) - 1;
}

/** Byte (within the block) holding element e. */
function byteOf(e: number): number {
  if (e < 160) return e & 31;
  if (e < 240) return 32 + ((e - 160) & 15);
  return QS_BYTES + ((e - 240) & 3);
}

/** Trit position (0 = most significant) of element e in its byte. */
function tritOf(e: number): number {
  if (e < 160) return e >> 5;
  if (e < 240) return (e - 160) >> 4;
  return (e - 240) >> 2;
}

function readD(bytes: Uint8Array, blockOff: number): number {
  return f16ToF32(bytes[blockOff + D_OFFSET] | (bytes[blockOff + D_OFFSET + 1] << 8));
}

function decodeBlocks(bytes: Uint8Array, off: number, nb: number, out: Float32Array, outOff: number): void {
  for (let b = 0; b < nb; b++) {
    const bo = off + b * TQ1_0_BLOCK_BYTES;
    const d = readD(bytes, bo);
    let o = outOff + b * TQ1_0_BLOCK;
    // ggml's order: for each byte run (32, 16, 4 bytes), trit n outer, byte m inner.
    for (let n = 0; n < 5; n++) for (let m = 0; m < 32; m++) out[o++] = DIGIT[bytes[bo + m] * 5 + n] * d;
    for (let n = 0; n < 5; n++) for (let m = 0; m < 16; m++) out[o++] = DIGIT[bytes[bo + 32 + m] * 5 + n] * d;
    for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) out[o++] = DIGIT[bytes[bo + QS_BYTES + j] * 5 + n] * d;
  }
}

function dequantize(bytes: Uint8Array, shape: readonly number[], what = "tensor"): Float32Array {
  const { n } = blockDims(shape, TQ1_0_BLOCK, FORMAT, what);
  const nb = n / TQ1_0_BLOCK;
  needBytes(bytes, nb * TQ1_0_BLOCK_BYTES, FORMAT, what);
  const out = new Float32Array(n);
  decodeBlocks(bytes, 0, nb, out, 0);
  return out;
}

function dequantizeRow(bytes: Uint8Array, row: number, cols: number, out: Float32Array, what = "tensor"): void {
  checkRow(row, cols, out, what);
  blockDims([cols], TQ1_0_BLOCK, FORMAT, what);
  const nb = cols / TQ1_0_BLOCK;
  const off = row * nb * TQ1_0_BLOCK_BYTES;
  needBytes(bytes, off + nb * TQ1_0_BLOCK_BYTES, FORMAT, `${what} row ${row}`);
  decodeBlocks(bytes, off, nb, out, 0);
}

function unpack(bytes: Uint8Array, shape: readonly number[], what = "tensor"): TernaryUnpacked {
  const { n } = blockDims(shape, TQ1_0_BLOCK, FORMAT, what);
  const nb = n / TQ1_0_BLOCK;
  needBytes(bytes, nb * TQ1_0_BLOCK_BYTES, FORMAT, what);
  const codes = new Int8Array(n);
  const scales = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const bo = b * TQ1_0_BLOCK_BYTES;
    scales[b] = readD(bytes, bo);
    for (let e = 0; e < TQ1_0_BLOCK; e++) codes[b * TQ1_0_BLOCK + e] = DIGIT[bytes[bo + byteOf(e)] * 5 + tritOf(e)];
  }
  return { codes, scales, scaleGroup: TQ1_0_BLOCK };
}

const scratch = new Uint16Array(D_OFFSET);

/** Write one block from codes+1 in {0,1,2} (read through `code(e)`) and its scale. */
function writeBlock(out: Uint8Array, bo: number, code: (e: number) => number, d: number): void {
  // Base-3 numbers per byte, first trit most significant; qh bytes get a trailing 0 trit (ggml's q *= 3).
  const t = scratch.fill(0);
  for (let e = 0; e < TQ1_0_BLOCK; e++) t[byteOf(e)] += code(e) * POW3[4 - tritOf(e)];
  for (let k = 0; k < D_OFFSET; k++) out[bo + k] = Math.floor((t[k] * 256 + 242) / 243); // ⌈t·256/243⌉
  const h = f32ToF16(d);
  out[bo + D_OFFSET] = h & 0xff;
  out[bo + D_OFFSET + 1] = h >>> 8;
}

function pack(codes: Int8Array, scales: Float32Array, shape: readonly number[], what = "tensor"): Uint8Array {
  const { n } = blockDims(shape, TQ1_0_BLOCK, FORMAT, what);
  const nb = n / TQ1_0_BLOCK;
  checkCodes(codes, n, what);
  checkScales(scales, nb, what);
  const out = new Uint8Array(nb * TQ1_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const x0 = b * TQ1_0_BLOCK;
    writeBlock(out, b * TQ1_0_BLOCK_BYTES, (e) => codes[x0 + e] + 1, scales.length === 1 ? scales[0] : scales[b]);
  }
  return out;
}

function quantize(values: Float32Array, shape: readonly number[], what = "tensor"): Uint8Array {
  const { n } = blockDims(shape, TQ1_0_BLOCK, FORMAT, what);
  checkFinite(values, n, what);
  const nb = n / TQ1_0_BLOCK;
  const out = new Uint8Array(nb * TQ1_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const x0 = b * TQ1_0_BLOCK;
    let amax = 0;
    for (let e = 0; e < TQ1_0_BLOCK; e++) amax = Math.max(amax, Math.abs(values[x0 + e]));
    const id = amax !== 0 ? Math.fround(1 / amax) : 0;
    writeBlock(out, b * TQ1_0_BLOCK_BYTES, (e) => roundHalfAway(Math.fround(values[x0 + e] * id)) + 1, amax);
  }
  return out;
}

export const tq1_0: TernaryCodec = {
  typeId: GGMLType.TQ1_0,
  name: FORMAT,
  blockSize: TQ1_0_BLOCK,
  dequantize,
  dequantizeRow,
  quantize,
  pack,
  unpack,
};
