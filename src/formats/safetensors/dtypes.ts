/**
 * safetensors dtypes: the byte size of every dtype the format defines with whole-byte elements,
 * and which of them bitnet-ts reads and writes (F32, F16, BF16, U8, I8: what BitNet checkpoints
 * use, including the packed 2B4T weights, which are U8 with a BF16 `weight_scale`).
 * Knowing the other sizes lets the reader validate a file that holds, say, an I64 buffer,
 * and refuse only when that tensor is read.
 */

export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

export const SUPPORTED_SAFETENSORS_DTYPES = ["F32", "F16", "BF16", "U8", "I8"] as const;
export type SafetensorsDType = (typeof SUPPORTED_SAFETENSORS_DTYPES)[number];

export function isSupportedDtype(dtype: string): dtype is SafetensorsDType {
  return (SUPPORTED_SAFETENSORS_DTYPES as readonly string[]).includes(dtype);
}

/** Bytes per element, or undefined for a dtype this table does not know. */
export function dtypeBytes(dtype: string): number | undefined {
  return Object.hasOwn(SAFETENSORS_DTYPE_BYTES, dtype) ? SAFETENSORS_DTYPE_BYTES[dtype] : undefined;
}
