/**
 * Raw float tensors in GGUF (F32, F16, BF16): little-endian bytes ⇄ Float32Array.
 *
 * Bytes may sit at any byteOffset (a GGUF tensor inside a file buffer often does): aligned data on a
 * little-endian host is read through a typed-array view, anything else through a DataView copy.
 * The f16/bf16 rounding rules are in ../half.ts (round to nearest even, ggml's NaN handling).
 * The `*View` helpers return a zero-copy view when they can, for loaders that map weights in place.
 */

import { GGMLType } from "../../formats/gguf/types.ts";
import { f16ArrayToF32, f16ToF32, f32ArrayToBf16, f32ArrayToF16, bf16ArrayToF32 } from "../half.ts";
import { checkRow, dims, needBytes, needValues, type TensorCodec } from "./common.ts";

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * `count` float32 values from `bytes` (little-endian). A view into `bytes` when aligned on a little-endian
 * host (no copy: writes go through to the buffer), else a copy.
 */
export function f32View(bytes: Uint8Array, count: number, what = "tensor"): Float32Array {
  needBytes(bytes, count * 4, "f32", what);
  if (LITTLE_ENDIAN_HOST && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, count * 4);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

/** `count` raw 16-bit patterns (f16 or bf16) from `bytes`; a view when aligned on a little-endian host. */
export function u16View(bytes: Uint8Array, count: number, what = "tensor"): Uint16Array {
  needBytes(bytes, count * 2, "16-bit", what);
  if (LITTLE_ENDIAN_HOST && bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i++) out[i] = bytes[2 * i] | (bytes[2 * i + 1] << 8);
  return out;
}

/** Little-endian bytes of 16-bit patterns. */
function u16Bytes(bits: Uint16Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
  const out = new Uint8Array(bits.length * 2);
  for (let i = 0; i < bits.length; i++) {
    out[2 * i] = bits[i] & 0xff;
    out[2 * i + 1] = bits[i] >>> 8;
  }
  return out;
}

/** Decode `count` F32 values into a new array (always a copy). */
export function decodeF32(bytes: Uint8Array, count: number, what = "tensor"): Float32Array {
  return Float32Array.from(f32View(bytes, count, what));
}

/** Decode `count` F16 values into a new array. */
export function decodeF16(bytes: Uint8Array, count: number, what = "tensor"): Float32Array {
  return f16ArrayToF32(u16View(bytes, count, what));
}

/** Decode `count` BF16 values into a new array. */
export function decodeBf16(bytes: Uint8Array, count: number, what = "tensor"): Float32Array {
  return bf16ArrayToF32(u16View(bytes, count, what));
}

/** Encode float32 values as F32 little-endian bytes (a copy). */
export function encodeF32(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  } else {
    const dv = new DataView(out.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
  }
  return out;
}

/** Encode as F16 (round to nearest even). */
export function encodeF16(values: Float32Array): Uint8Array {
  return u16Bytes(f32ArrayToF16(values));
}

/** Encode as BF16 (round to nearest even, as ggml). */
export function encodeBf16(values: Float32Array): Uint8Array {
  return u16Bytes(f32ArrayToBf16(values));
}

/** Decode `count` values of `bytes` into out[0..count), allocating nothing big. */
type DecodeInto = (bytes: Uint8Array, count: number, out: Float32Array, what: string) => void;

function floatCodec(typeId: number, name: string, width: number, decodeInto: DecodeInto, encode: (v: Float32Array) => Uint8Array): TensorCodec {
  return {
    typeId,
    name,
    dequantize(bytes, shape, what = "tensor") {
      const { n } = dims(shape, what);
      const out = new Float32Array(n);
      decodeInto(bytes, n, out, what);
      return out;
    },
    dequantizeRow(bytes, row, cols, out, what = "tensor") {
      checkRow(row, cols, out, what);
      const off = row * cols * width;
      needBytes(bytes, off + cols * width, name, `${what} row ${row}`);
      decodeInto(bytes.subarray(off, off + cols * width), cols, out, what);
    },
    quantize(values, shape, what = "tensor") {
      const { n } = dims(shape, what);
      needValues(values, n, what);
      return encode(values.subarray(0, n));
    },
  };
}

export const f32Codec: TensorCodec = floatCodec(GGMLType.F32, "f32", 4, (b, n, out, w) => out.set(f32View(b, n, w)), encodeF32);
export const f16Codec: TensorCodec = floatCodec(GGMLType.F16, "f16", 2, (b, n, out, w) => void f16ArrayToF32(u16View(b, n, w), out), encodeF16);
export const bf16Codec: TensorCodec = floatCodec(GGMLType.BF16, "bf16", 2, (b, n, out, w) => void bf16ArrayToF32(u16View(b, n, w), out), encodeBf16);

/** One f16 value at element index i of little-endian bytes (for callers that need a single value). */
export function readF16(bytes: Uint8Array, i: number): number {
  return f16ToF32(bytes[2 * i] | (bytes[2 * i + 1] << 8));
}
