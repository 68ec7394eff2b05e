/**
 * bitnet.cpp's I2_S (ggml type 36 in its fork), x86 layout: 2-bit codes for the whole tensor, one f32 scale.
 *
 * The tensor is flattened row-major (ne[0] contiguous) and cut into blocks of 128 values, 32 bytes each.
 * In block k, byte j (0..31) = c[j]<<6 | c[32+j]<<4 | c[64+j]<<2 | c[96+j], with c = w + 1 ∈ {0,1,2}.
 * After the n/4 code bytes comes a 32-byte tail whose first 4 bytes are the scale (f32, little-endian);
 * bitnet.cpp leaves the other 28 uninitialised, we write zeros and never read them. Value = (c-1)·scale.
 *
 * Quantizer: `quantize_i2_s` in microsoft/BitNet src/ggml-bitnet-mad.cpp (the ACT_PARALLEL branch, which
 * include/gemm-config.h enables by default). It is not absmean: scale = max|W| over the whole tensor
 * (computed in double, so it is exactly one of the float32 inputs), and each weight becomes its sign:
 * code 1 (zero) when |w| < 1e-6, else 2 when w·scale > 0 and 0 otherwise. Fed a BitNet matrix W̃·γ it
 * returns W̃ and γ exactly; fed anything else it is a sign quantizer, which is what bitnet.cpp does.
 * (bitnet.cpp's non-default 1x4 branch interleaves four rows per byte instead; it is not supported here,
 * and ARM builds use 64-value blocks, which SPEC §6 warns about.)
 */

import { GGMLType, I2S_BLOCK, I2S_TAIL_BYTES } from "../../formats/gguf/types.ts";
import { checkCodes, checkFinite, checkRow, checkScales, dims, needBytes, type TernaryCodec, type TernaryUnpacked } from "./common.ts";

const FORMAT = "i2_s";
/** bitnet.cpp's zero threshold, compared in double. */
const ZERO_EPS = 1e-6;

function i2sDims(shape: readonly number[], what: string): { n: number; codeBytes: number } {
  const { n } = dims(shape, what);
  if (n % I2S_BLOCK !== 0) throw new Error(`${what}: ${FORMAT} needs an element count divisible by ${I2S_BLOCK}, got ${n}`);
  return { n, codeBytes: n / 4 };
}

function readScale(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getFloat32(0, true);
}

/** The tensor's scale (the f32 after the n/4 code bytes). */
export function i2sScale(bytes: Uint8Array, shape: readonly number[], what = "tensor"): number {
  const { codeBytes } = i2sDims(shape, what);
  needBytes(bytes, codeBytes + 4, FORMAT, what);
  return readScale(bytes, codeBytes);
}

/** Decode elements [from, from+count) of the flattened tensor into out[0..count). */
function decodeRange(bytes: Uint8Array, from: number, count: number, scale: number, out: Float32Array): void {
  let i = 0;
  while (i < count) {
    const e = from + i;
    const p = e & 127;
    const blockByte = (e >> 7) << 5;
    // Run to the end of this 32-value group: same byte offsets, same shift.
    const shift = 6 - ((p >> 5) << 1);
    const run = Math.min(32 - (p & 31), count - i);
    const b0 = blockByte + (p & 31);
    for (let k = 0; k < run; k++) out[i + k] = (((bytes[b0 + k] >> shift) & 3) - 1) * scale;
    i += run;
  }
}

function dequantize(bytes: Uint8Array, shape: readonly number[], what = "tensor"): Float32Array {
  const { n, codeBytes } = i2sDims(shape, what);
  needBytes(bytes, codeBytes + 4, FORMAT, what);
  const out = new Float32Array(n);
  decodeRange(bytes, 0, n, readScale(bytes, codeBytes), out);
  return out;
}

/** `bytes` must be exactly the tensor's data (n/4 + 32 bytes): the scale is read 32 bytes before its end. */
function dequantizeRow(bytes: Uint8Array, row: number, cols: number, out: Float32Array, what = "tensor"): void {
  checkRow(row, cols, out, what);
  const codeBytes = bytes.length - I2S_TAIL_BYTES;
  if (codeBytes <= 0 || codeBytes % 32 !== 0) {
    throw new Error(`${what}: ${FORMAT} data of ${bytes.length} bytes is not n/4 + ${I2S_TAIL_BYTES} for a multiple of ${I2S_BLOCK} values`);
  }
  if ((row + 1) * cols > codeBytes * 4) throw new Error(`${what}: ${FORMAT} row ${row} of length ${cols} is past the end of the data`);
  decodeRange(bytes, row * cols, cols, readScale(bytes, codeBytes), out);
}

function unpack(bytes: Uint8Array, shape: readonly number[], what = "tensor"): TernaryUnpacked {
  const { n, codeBytes } = i2sDims(shape, what);
  needBytes(bytes, codeBytes + 4, FORMAT, what);
  const codes = new Int8Array(n);
  for (let e = 0; e < n; e++) {
    const p = e & 127;
    const c = (bytes[((e >> 7) << 5) + (p & 31)] >> (6 - ((p >> 5) << 1))) & 3;
    if (c === 3) throw new Error(`${what}: ${FORMAT} element ${e} holds the invalid code 3`);
    codes[e] = c - 1;
  }
  return { codes, scales: Float32Array.of(readScale(bytes, codeBytes)), scaleGroup: n };
}

/** Pack codes c+1 (given through `code(e)`) and the scale into n/4 + 32 bytes. */
function write(n: number, code: (e: number) => number, scale: number): Uint8Array {
  const codeBytes = n / 4;
  const out = new Uint8Array(codeBytes + I2S_TAIL_BYTES);
  for (let e = 0; e < n; e++) {
    const p = e & 127;
    out[((e >> 7) << 5) + (p & 31)] |= code(e) << (6 - ((p >> 5) << 1));
  }
  new DataView(out.buffer, codeBytes, 4).setFloat32(0, scale, true);
  return out;
}

function pack(codes: Int8Array, scales: Float32Array, shape: readonly number[], what = "tensor"): Uint8Array {
  const { n } = i2sDims(shape, what);
  checkCodes(codes, n, what);
  checkScales(scales, 1, what);
  return write(n, (e) => codes[e] + 1, scales[0]);
}

function quantize(values: Float32Array, shape: readonly number[], what = "tensor"): Uint8Array {
  const { n } = i2sDims(shape, what);
  checkFinite(values, n, what);
  let max = 0;
  for (let e = 0; e < n; e++) max = Math.max(max, Math.abs(values[e]));
  const code = (e: number): number => {
    const v = values[e];
    if (Math.abs(v) < ZERO_EPS) return 1;
    return v * max > 0 ? 2 : 0;
  };
  return write(n, code, max);
}

/** A row width rounded up to whole 128-value blocks. */
export function i2sPaddedCols(cols: number): number {
  return Math.ceil(cols / I2S_BLOCK) * I2S_BLOCK;
}

/** Bytes of an I2_S tensor of n values: the codes and the tail. */
export function i2sBytes(n: number): number {
  return n / 4 + I2S_TAIL_BYTES;
}

/** The zero weight's code (1) in all four 2-bit fields of a byte. */
const ZERO_CODES = 0x55;

/**
 * The I2_S tensor [rows, cols] (`bytes`, as the file has it) rewritten as [rows, i2sPaddedCols(cols)], each
 * row followed by zero weights up to a whole block, into `out` (i2sBytes(rows · paddedCols) bytes). When
 * cols is not a multiple of 128, the file's blocks run across row ends; padded, every row starts at a
 * block, as the fast kernels read it. With zero activations in the padding, w · x is unchanged.
 */
export function i2sPadRows(bytes: Uint8Array, rows: number, cols: number, out: Uint8Array, what = "tensor"): Uint8Array {
  const n = rows * cols;
  const padded = i2sPaddedCols(cols);
  const codeBytes = (rows * padded) / 4;
  if (n % I2S_BLOCK !== 0) throw new Error(`${what}: ${FORMAT} needs an element count divisible by ${I2S_BLOCK}, got ${n}`);
  needBytes(bytes, n / 4 + 4, FORMAT, what);
  if (out.length < codeBytes + I2S_TAIL_BYTES) throw new Error(`${what}: ${out.length} bytes cannot hold ${rows} rows of ${padded} ${FORMAT} values`);
  out.fill(ZERO_CODES, 0, codeBytes);
  out.fill(0, codeBytes, codeBytes + I2S_TAIL_BYTES);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < cols; i++) {
      const e = r * cols + i;
      const p = e & 127;
      const c = (bytes[((e >> 7) << 5) + (p & 31)] >> (6 - ((p >> 5) << 1))) & 3;
      const d = r * padded + i;
      const dp = d & 127;
      const at = ((d >> 7) << 5) + (dp & 31);
      const shift = 6 - ((dp >> 5) << 1);
      out[at] = (out[at] & ~(3 << shift)) | (c << shift);
    }
  }
  out.set(bytes.subarray(n / 4, n / 4 + 4), codeBytes);
  return out;
}

export const i2_s: TernaryCodec = {
  typeId: GGMLType.I2_S,
  name: FORMAT,
  blockSize: I2S_BLOCK,
  dequantize,
  dequantizeRow,
  quantize,
  pack,
  unpack,
};
