/**
 * The frame ggml's two ternary block formats (TQ1_0, TQ2_0) share: blocks of 256 values, each the block's
 * code bytes followed by its scale d (fp16, little-endian, last two bytes of the block). This file does the
 * shape and buffer checks, the scale, whole-tensor and row decoding, pack/unpack and the quantizer; it does
 * not know where a code sits in a block's bytes, which is all that tq1_0.ts and tq2_0.ts describe.
 *
 * Quantizer (`quantize_row_tq1_0_ref` / `quantize_row_tq2_0_ref` in ggml-quants.c; gguf-py agrees):
 * d = block absmax in float32, id = d ? f32(1/d) : 0, code = lroundf(f32(x·id)) (ties away from zero),
 * d stored as fp16 (round to nearest even). Note id uses the float32 d, not its fp16 rounding.
 * Decoding is code·d in float32, which is exact; a 0 code times a negative d gives -0 as in C.
 */

import { GGMLType, knownType } from "../../formats/gguf/types.ts";
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

/** Values per block in both TQ formats. */
export const TQ_BLOCK = knownType(GGMLType.TQ2_0).blockSize;

/** Where one format keeps a block's codes; everything else is shared. */
export interface BlockTernaryLayout {
  /** ggml type id (src/formats/gguf/types.ts). */
  typeId: number;
  /** ggml's lower-case type name, used in error messages. */
  name: string;
  /** Bytes per block, the trailing 2-byte scale included. */
  blockBytes: number;
  /**
   * Write the 256 codes of the block at bytes[blockOff..] to out[outOff..] in element order. A code is the
   * stored digit minus 1; it is 2 where a layout can hold a digit ggml's quantizer never writes.
   */
  decodeCodes(bytes: Uint8Array, blockOff: number, out: Int8Array, outOff: number): void;
  /** Write a block's code bytes (all but its scale) from codes[codesOff..codesOff+256), each in {-1, 0, 1}. */
  encodeCodes(codes: Int8Array, codesOff: number, out: Uint8Array, blockOff: number): void;
}

/** A TernaryCodec for a 256-value block format with a trailing fp16 scale. */
export function blockTernaryCodec(layout: BlockTernaryLayout): TernaryCodec {
  const { typeId, name, blockBytes, decodeCodes, encodeCodes } = layout;
  const dOff = blockBytes - 2;
  // One block's codes between the layout and the float side; codecs run synchronously, so one is enough.
  const blockCodes = new Int8Array(TQ_BLOCK);

  function readD(bytes: Uint8Array, blockOff: number): number {
    return f16ToF32(bytes[blockOff + dOff] | (bytes[blockOff + dOff + 1] << 8));
  }

  function writeD(out: Uint8Array, blockOff: number, d: number): void {
    const h = f32ToF16(d);
    out[blockOff + dOff] = h & 0xff;
    out[blockOff + dOff + 1] = h >>> 8;
  }

  /** Decode `nb` consecutive blocks starting at byte `off` into out[0..nb·256). */
  function decodeBlocks(bytes: Uint8Array, off: number, nb: number, out: Float32Array): void {
    for (let b = 0; b < nb; b++) {
      const bo = off + b * blockBytes;
      const d = readD(bytes, bo);
      decodeCodes(bytes, bo, blockCodes, 0);
      const o = b * TQ_BLOCK;
      for (let e = 0; e < TQ_BLOCK; e++) out[o + e] = blockCodes[e] * d;
    }
  }

  function dequantize(bytes: Uint8Array, shape: readonly number[], what = "tensor"): Float32Array {
    const { n } = blockDims(shape, TQ_BLOCK, name, what);
    const nb = n / TQ_BLOCK;
    needBytes(bytes, nb * blockBytes, name, what);
    const out = new Float32Array(n);
    decodeBlocks(bytes, 0, nb, out);
    return out;
  }

  function dequantizeRow(bytes: Uint8Array, row: number, cols: number, out: Float32Array, what = "tensor"): void {
    checkRow(row, cols, out, what);
    blockDims([cols], TQ_BLOCK, name, what);
    const nb = cols / TQ_BLOCK;
    const off = row * nb * blockBytes;
    needBytes(bytes, off + nb * blockBytes, name, `${what} row ${row}`);
    decodeBlocks(bytes, off, nb, out);
  }

  function unpack(bytes: Uint8Array, shape: readonly number[], what = "tensor"): TernaryUnpacked {
    const { n } = blockDims(shape, TQ_BLOCK, name, what);
    const nb = n / TQ_BLOCK;
    needBytes(bytes, nb * blockBytes, name, what);
    const codes = new Int8Array(n);
    const scales = new Float32Array(nb);
    for (let b = 0; b < nb; b++) {
      const bo = b * blockBytes;
      scales[b] = readD(bytes, bo);
      const x0 = b * TQ_BLOCK;
      decodeCodes(bytes, bo, codes, x0);
      for (let e = 0; e < TQ_BLOCK; e++) {
        // A digit ggml's quantizer never writes (TQ2_0's 3); ggml's decoder would read it as +2.
        const c = codes[x0 + e];
        if (c > 1) throw new Error(`${what}: ${name} block ${b} element ${e} holds the invalid code ${c + 1}`);
      }
    }
    return { codes, scales, scaleGroup: TQ_BLOCK };
  }

  function pack(codes: Int8Array, scales: Float32Array, shape: readonly number[], what = "tensor"): Uint8Array {
    const { n } = blockDims(shape, TQ_BLOCK, name, what);
    const nb = n / TQ_BLOCK;
    checkCodes(codes, n, what);
    checkScales(scales, nb, what);
    const out = new Uint8Array(nb * blockBytes);
    for (let b = 0; b < nb; b++) {
      const bo = b * blockBytes;
      encodeCodes(codes, b * TQ_BLOCK, out, bo);
      writeD(out, bo, scales.length === 1 ? scales[0] : scales[b]);
    }
    return out;
  }

  function quantize(values: Float32Array, shape: readonly number[], what = "tensor"): Uint8Array {
    const { n } = blockDims(shape, TQ_BLOCK, name, what);
    checkFinite(values, n, what);
    const nb = n / TQ_BLOCK;
    const out = new Uint8Array(nb * blockBytes);
    for (let b = 0; b < nb; b++) {
      const x0 = b * TQ_BLOCK;
      let amax = 0;
      for (let e = 0; e < TQ_BLOCK; e++) amax = Math.max(amax, Math.abs(values[x0 + e]));
      const id = amax !== 0 ? Math.fround(1 / amax) : 0;
      for (let e = 0; e < TQ_BLOCK; e++) blockCodes[e] = roundHalfAway(Math.fround(values[x0 + e] * id));
      const bo = b * blockBytes;
      encodeCodes(blockCodes, 0, out, bo);
      writeD(out, bo, amax);
    }
    return out;
  }

  return { typeId, name, blockSize: TQ_BLOCK, dequantize, dequantizeRow, quantize, pack, unpack };
}
