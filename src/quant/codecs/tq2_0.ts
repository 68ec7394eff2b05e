/**
 * GGUF TQ2_0 (llama.cpp, ggml type 35): 256 values in 66 bytes, byte-identical to ggml.
 *
 * Block layout: qs[64] then d (fp16, little-endian). Element e of a block (0..255) has its code
 * c = w + 1 in bits 2l..2l+1 of qs[32·(e >> 7) + (e & 31)], where l = (e >> 5) & 3. Value = (c - 1)·d.
 *
 * Quantizer (`quantize_row_tq2_0_ref` in ggml-quants.c, and gguf-py's TQ2_0, which agrees):
 * d = absmax of the block in float32, id = d ? f32(1/d) : 0, c = lroundf(f32(x·id)) + 1 (ties away from
 * zero), d stored as fp16 (round to nearest even). Note id uses the float32 d, not its fp16 rounding.
 * Decoding is (c-1)·d in float32, which is exact; a 0 code times a negative d gives -0 as in C.
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

export const TQ2_0_BLOCK = 256;
export const TQ2_0_BLOCK_BYTES = 66;
const FORMAT = "tq2_0";

/** Byte within qs that holds element e of a block (its bit shift is ((e >> 5) & 3)·2). */
function byteOf(e: number): number {
  return ((e >> 7) << 5) | (e & 31);
}

function readD(bytes: Uint8Array, blockOff: number): number {
  return f16ToF32(bytes[blockOff + 64] | (bytes[blockOff + 65] << 8));
}

function writeD(out: Uint8Array, blockOff: number, d: number): void {
  const h = f32ToF16(d);
  out[blockOff + 64] = h & 0xff;
  out[blockOff + 65] = h >>> 8;
}

/** Decode `nb` consecutive blocks starting at byte `off` into out[outOff..]. */
function decodeBlocks(bytes: Uint8Array, off: number, nb: number, out: Float32Array, outOff: number): void {
  for (let b = 0; b < nb; b++) {
    const bo = off + b * TQ2_0_BLOCK_BYTES;
    const d = readD(bytes, bo);
    const base = outOff + b * TQ2_0_BLOCK;
    // Walk the layout in ggml's order: half j (128 values), shift l (32 values), byte m.
    for (let j = 0; j < 2; j++) {
      for (let l = 0; l < 4; l++) {
        const o = base + j * 128 + l * 32;
        const shift = l * 2;
        const qo = bo + j * 32;
        for (let m = 0; m < 32; m++) out[o + m] = (((bytes[qo + m] >> shift) & 3) - 1) * d;
      }
    }
  }
}

function dequantize(bytes: Uint8Array, shape: readonly number[], what = "tensor"): Float32Array {
  const { n } = blockDims(shape, TQ2_0_BLOCK, FORMAT, what);
  const nb = n / TQ2_0_BLOCK;
  needBytes(bytes, nb * TQ2_0_BLOCK_BYTES, FORMAT, what);
  const out = new Float32Array(n);
  decodeBlocks(bytes, 0, nb, out, 0);
  return out;
}

function dequantizeRow(bytes: Uint8Array, row: number, cols: number, out: Float32Array, what = "tensor"): void {
  checkRow(row, cols, out, what);
  blockDims([cols], TQ2_0_BLOCK, FORMAT, what);
  const nb = cols / TQ2_0_BLOCK;
  const off = row * nb * TQ2_0_BLOCK_BYTES;
  needBytes(bytes, off + nb * TQ2_0_BLOCK_BYTES, FORMAT, `${what} row ${row}`);
  decodeBlocks(bytes, off, nb, out, 0);
}

function unpack(bytes: Uint8Array, shape: readonly number[], what = "tensor"): TernaryUnpacked {
  const { n } = blockDims(shape, TQ2_0_BLOCK, FORMAT, what);
  const nb = n / TQ2_0_BLOCK;
  needBytes(bytes, nb * TQ2_0_BLOCK_BYTES, FORMAT, what);
  const codes = new Int8Array(n);
  const scales = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const bo = b * TQ2_0_BLOCK_BYTES;
    scales[b] = readD(bytes, bo);
    for (let e = 0; e < TQ2_0_BLOCK; e++) {
      const c = (bytes[bo + byteOf(e)] >> (((e >> 5) & 3) << 1)) & 3;
      // Code 3 never comes out of ggml's quantizer; ggml's decoder would read it as +2.
      if (c === 3) throw new Error(`${what}: ${FORMAT} block ${b} element ${e} holds the invalid code 3`);
      codes[b * TQ2_0_BLOCK + e] = c - 1;
    }
  }
  return { codes, scales, scaleGroup: TQ2_0_BLOCK };
}

function pack(codes: Int8Array, scales: Float32Array, shape: readonly number[], what = "tensor"): Uint8Array {
  const { n } = blockDims(shape, TQ2_0_BLOCK, FORMAT, what);
  const nb = n / TQ2_0_BLOCK;
  checkCodes(codes, n, what);
  checkScales(scales, nb, what);
  const out = new Uint8Array(nb * TQ2_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const bo = b * TQ2_0_BLOCK_BYTES;
    for (let e = 0; e < TQ2_0_BLOCK; e++) {
      out[bo + byteOf(e)] |= (codes[b * TQ2_0_BLOCK + e] + 1) << (((e >> 5) & 3) << 1);
    }
    writeD(out, bo, scales.length === 1 ? scales[0] : scales[b]);
  }
  return out;
}

function quantize(values: Float32Array, shape: readonly number[], what = "tensor"): Uint8Array {
  const { n } = blockDims(shape, TQ2_0_BLOCK, FORMAT, what);
  checkFinite(values, n, what);
  const nb = n / TQ2_0_BLOCK;
  const out = new Uint8Array(nb * TQ2_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const x0 = b * TQ2_0_BLOCK;
    let amax = 0;
    for (let e = 0; e < TQ2_0_BLOCK; e++) amax = Math.max(amax, Math.abs(values[x0 + e]));
    const id = amax !== 0 ? Math.fround(1 / amax) : 0;
    const bo = b * TQ2_0_BLOCK_BYTES;
    for (let e = 0; e < TQ2_0_BLOCK; e++) {
      const c = roundHalfAway(Math.fround(values[x0 + e] * id)) + 1;
      out[bo + byteOf(e)] |= (c & 3) << (((e >> 5) & 3) << 1);
    }
    writeD(out, bo, amax);
  }
  return out;
}

export const tq2_0: TernaryCodec = {
  typeId: GGMLType.TQ2_0,
  name: FORMAT,
  blockSize: TQ2_0_BLOCK,
  dequantize,
  dequantizeRow,
  quantize,
  pack,
  unpack,
};
