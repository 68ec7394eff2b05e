/**
 * Hugging Face's packed ternary weights (transformers `integrations/bitnet.py`, used by BitNet b1.58 2B4T).
 *
 * A linear weight W with `out` rows and `in` columns (torch [out, in]; GGUF order [in, out]) is stored as
 * uint8 [out/4, in]. With R = out/4, byte (r, c) holds in bits 2i..2i+1 the code W[i·R + r][c] + 1, i = 0..3:
 * the packing runs along the output dimension, in four contiguous slabs of R rows.
 * The scale is a separate tensor `weight_scale` (shape [1], bf16), so these functions take γ explicitly.
 * Which way weight_scale applies depends on the layer class (see `gammaFromWeightScale`).
 *
 * transformers' `pack_weights` also accepts out % 4 ≠ 0 (it pads), but its unpacker and BitLinear assume
 * out % 4 = 0; so do we, and say so when it is not.
 * This file only converts bytes; reading safetensors is src/formats/safetensors' job.
 */

import { quantizeAbsmean } from "../absmean.ts";
import { checkCodes, checkFinite, checkRow, dims, needBytes } from "./common.ts";

const FORMAT = "hf-packed ternary";

/** W's geometry from its GGUF-order shape [in, out]. */
function hfDims(shape: readonly number[], what: string): { cols: number; rows: number; n: number; slab: number } {
  if (shape.length !== 2) throw new Error(`${what}: ${FORMAT} weights are 2-D, got shape [${shape.join(", ")}]`);
  const { cols, rows, n } = dims(shape, what);
  if (rows % 4 !== 0) throw new Error(`${what}: ${FORMAT} needs an output count (ne[1]) divisible by 4, got ${rows}`);
  return { cols, rows, n, slab: rows / 4 };
}

/** Bytes of the packed uint8 tensor for a weight of GGUF shape [in, out]: in·out/4. */
export function hfPackedByteSize(shape: readonly number[], what = "tensor"): number {
  return hfDims(shape, what).n / 4;
}

/** Pack codes in {-1,0,1} (row-major [out][in]) into the uint8 [out/4, in] tensor. */
export function packHf(codes: Int8Array, shape: readonly number[], what = "tensor"): Uint8Array {
  const { cols, n, slab } = hfDims(shape, what);
  checkCodes(codes, n, what);
  const out = new Uint8Array(n / 4);
  for (let i = 0; i < 4; i++) {
    for (let r = 0; r < slab; r++) {
      const src = (i * slab + r) * cols;
      const dst = r * cols;
      for (let c = 0; c < cols; c++) out[dst + c] |= (codes[src + c] + 1) << (2 * i);
    }
  }
  return out;
}

/** Unpack to codes in {-1,0,1}, row-major [out][in]. Code 3 is rejected (transformers would read it as +2). */
export function unpackHf(bytes: Uint8Array, shape: readonly number[], what = "tensor"): Int8Array {
  const { cols, n, slab } = hfDims(shape, what);
  needBytes(bytes, n / 4, FORMAT, what);
  const codes = new Int8Array(n);
  for (let r = 0; r < slab; r++) {
    for (let c = 0; c < cols; c++) {
      const b = bytes[r * cols + c];
      for (let i = 0; i < 4; i++) {
        const code = (b >> (2 * i)) & 3;
        if (code === 3) throw new Error(`${what}: ${FORMAT} byte (${r}, ${c}) holds the invalid code 3`);
        codes[(i * slab + r) * cols + c] = code - 1;
      }
    }
  }
  return codes;
}

/** Dequantize the whole weight: W = code·γ, row-major [out][in]. */
export function dequantizeHf(bytes: Uint8Array, shape: readonly number[], gamma: number, what = "tensor"): Float32Array {
  const { cols, rows } = hfDims(shape, what);
  needBytes(bytes, (cols * rows) / 4, FORMAT, what);
  const out = new Float32Array(cols * rows);
  for (let row = 0; row < rows; row++) dequantizeRowHf(bytes, row, shape, gamma, out.subarray(row * cols), what);
  return out;
}

/** Dequantize output row `row` (`in` values) into out[0..in), reading only byte row (row mod out/4). */
export function dequantizeRowHf(bytes: Uint8Array, row: number, shape: readonly number[], gamma: number, out: Float32Array, what = "tensor"): void {
  const { cols, rows, slab } = hfDims(shape, what);
  checkRow(row, cols, out, what);
  if (row >= rows) throw new Error(`${what}: row ${row} is past the last row ${rows - 1}`);
  const r = row % slab;
  const shift = 2 * Math.floor(row / slab);
  needBytes(bytes, (r + 1) * cols, FORMAT, what);
  const base = r * cols;
  for (let c = 0; c < cols; c++) out[c] = (((bytes[base + c] >> shift) & 3) - 1) * gamma;
}

/**
 * Quantize float weights the BitNet way (absmean, see absmean.ts) and pack them.
 * Returns the uint8 tensor and the γ to store as `weight_scale` for a multiplying (AutoBitLinear) layer.
 */
export function quantizeHf(values: Float32Array, shape: readonly number[], what = "tensor"): { weight: Uint8Array; weightScale: number } {
  const { n } = hfDims(shape, what);
  checkFinite(values, n, what);
  const { codes, gamma } = quantizeAbsmean(values.subarray(0, n), what);
  return { weight: packHf(codes, shape, what), weightScale: gamma };
}

/**
 * γ (the multiplier of the ternary codes) from a checkpoint's `weight_scale`.
 * transformers' `AutoBitLinear` multiplies the output by weight_scale, while its `BitLinear` divides by it
 * (`post_quant_process`). The class comes from `quantization_config.linear_class`; anything else is refused
 * rather than guessed. For 2B4T, bitnet.cpp's converter (utils/convert-hf-to-gguf-bitnet.py) uses
 * weight_scale directly as the I2_S multiplier ("≈ mean|W|"), i.e. the multiplying convention.
 */
export function gammaFromWeightScale(weightScale: number, linearClass: string, what = "weight_scale"): number {
  if (!Number.isFinite(weightScale) || weightScale <= 0) throw new Error(`${what}: weight_scale ${weightScale} is not a positive number`);
  if (linearClass === "autobitlinear") return weightScale;
  if (linearClass === "bitlinear") return Math.fround(1 / weightScale);
  throw new Error(`${what}: unknown quantization_config.linear_class "${linearClass}" (expected "autobitlinear" or "bitlinear")`);
}
