/**
 * What every tensor codec shares: the codec interfaces, GGUF-order shape handling and input checks.
 *
 * Shapes are GGUF order: shape[0] = ne[0] = the contiguous row length (columns), and the rows are the
 * product of the remaining dims. Errors name the tensor (`what`) and say which rule was broken.
 * This file encodes nothing itself; one file per format does.
 */

/** A codec for one ggml type, as the loader and converter use it (no switch on the type needed). */
export interface TensorCodec {
  /** ggml type id (src/formats/gguf/types.ts). */
  typeId: number;
  /** ggml's lower-case type name. */
  name: string;
  /** Decode a whole tensor to float32. `bytes` starts with the tensor's data; anything after it is ignored. */
  dequantize(bytes: Uint8Array, shape: readonly number[], what?: string): Float32Array;
  /**
   * Decode one row (`cols` = ne[0] values) into out[0..cols), reading only that row's bytes.
   * For I2_S the bytes must be the whole tensor's data (n/4 + 32 bytes) because its one scale sits at the end.
   */
  dequantizeRow(bytes: Uint8Array, row: number, cols: number, out: Float32Array, what?: string): void;
  /** Encode float32 values with the format's reference quantizer (ggml's for TQ, bitnet.cpp's for I2_S). */
  quantize(values: Float32Array, shape: readonly number[], what?: string): Uint8Array;
}

/** Ternary codes with their scales, as a ternary format stores them. */
export interface TernaryUnpacked {
  /** One code in {-1, 0, 1} per value, row-major in GGUF order. */
  codes: Int8Array;
  /** Dequantization multipliers: value = code·scales[floor(index / scaleGroup)]. */
  scales: Float32Array;
  /** Values per scale: 256 for TQ1_0/TQ2_0, the whole tensor for I2_S. */
  scaleGroup: number;
}

/** A ternary GGUF format: the TensorCodec operations plus access to codes and scales. */
export interface TernaryCodec extends TensorCodec {
  /** Values per packed block: 256 for TQ1_0/TQ2_0, 128 for I2_S (whose one scale covers the whole tensor). */
  blockSize: number;
  /**
   * Pack ternary codes and their scales. `scales` has one entry per scale group, or a single entry
   * that every group shares (one absmean γ for the matrix).
   */
  pack(codes: Int8Array, scales: Float32Array, shape: readonly number[], what?: string): Uint8Array;
  unpack(bytes: Uint8Array, shape: readonly number[], what?: string): TernaryUnpacked;
}

export interface Dims {
  /** ne[0]: values per row. */
  cols: number;
  /** Product of ne[1..]. */
  rows: number;
  /** cols·rows. */
  n: number;
}

/** Validate a GGUF-order shape and return its row geometry. */
export function dims(shape: readonly number[], what: string): Dims {
  if (shape.length === 0) throw new Error(`${what}: empty shape`);
  let rows = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (!Number.isSafeInteger(d) || d <= 0) throw new Error(`${what}: bad dimension ne[${i}] = ${d}`);
    if (i > 0) rows *= d;
  }
  const cols = shape[0];
  const n = cols * rows;
  if (!Number.isSafeInteger(n)) throw new Error(`${what}: shape [${shape.join(", ")}] is too large`);
  return { cols, rows, n };
}

/** Like `dims`, and also require the row length to be a whole number of blocks. */
export function blockDims(shape: readonly number[], block: number, format: string, what: string): Dims {
  const d = dims(shape, what);
  if (d.cols % block !== 0) {
    throw new Error(`${what}: ${format} needs a row length (ne[0]) divisible by ${block}, got ${d.cols}`);
  }
  return d;
}

export function needBytes(bytes: Uint8Array, need: number, format: string, what: string): void {
  if (bytes.length < need) throw new Error(`${what}: ${format} data is ${bytes.length} bytes, shape needs ${need}`);
}

export function needValues(values: ArrayLike<number>, n: number, what: string): void {
  if (values.length < n) throw new Error(`${what}: has ${values.length} values, shape needs ${n}`);
}

export function checkRow(row: number, cols: number, out: Float32Array, what: string): void {
  if (!Number.isSafeInteger(row) || row < 0) throw new Error(`${what}: bad row index ${row}`);
  if (!Number.isSafeInteger(cols) || cols <= 0) throw new Error(`${what}: bad row length ${cols}`);
  if (out.length < cols) throw new Error(`${what}: output row holds ${out.length} values, need ${cols}`);
}

/** Throw if any code is not -1, 0 or 1. */
export function checkCodes(codes: Int8Array, n: number, what: string): void {
  needValues(codes, n, what);
  for (let i = 0; i < n; i++) {
    const c = codes[i];
    if (c < -1 || c > 1) throw new Error(`${what}: code ${c} at index ${i} is not ternary`);
  }
}

/** Throw if any value is NaN or ±Infinity (the reference quantizers give garbage for them). */
export function checkFinite(values: Float32Array, n: number, what: string): void {
  needValues(values, n, what);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v - v !== 0) throw new Error(`${what}: non-finite value ${v} at index ${i}`);
  }
}

/** `scales` must have one entry per group, or a single entry shared by all groups. */
export function checkScales(scales: Float32Array, groups: number, what: string): void {
  if (scales.length !== 1 && scales.length !== groups) {
    throw new Error(`${what}: expected 1 or ${groups} scales, got ${scales.length}`);
  }
}
