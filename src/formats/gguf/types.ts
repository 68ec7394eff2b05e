/**
 * The ggml tensor types bitnet-ts knows: ids, names, block geometry and byte sizes.
 * One table serves the GGUF reader, the writer, the codecs and `bitnet info`.
 * It does not decode anything; the codecs in src/quant/codecs do.
 *
 * Ids 36..39 collide between bitnet.cpp's ggml fork (I2_S = 36, TL1 = 38, TL2 = 39)
 * and upstream ggml, which retired 36..38 and reuses 39 for MXFP4. We read 36 as I2_S
 * because no upstream file uses it any more; 39 stays unknown until a file tells us
 * which one it means.
 */
import { InvalidFileError, UnsupportedModelError } from "../../errors.ts";

export const GGMLType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  I2_S: 36,
} as const;
export type GGMLTypeId = (typeof GGMLType)[keyof typeof GGMLType];

export interface GGMLTypeInfo {
  id: number;
  /** ggml's name in lower case, as `bitnet info --json` prints it. */
  name: string;
  /** Elements per block; a row's length (ne[0]) must be a multiple of it. */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
  /** Bytes a whole tensor carries after its blocks (I2_S keeps its scale there). */
  tailBytes: number;
  /** Whether bitnet-ts can decode it (the rest are listed so that `info` can name them). */
  supported: boolean;
}

function info(id: number, name: string, blockSize: number, blockBytes: number, supported: boolean, tailBytes = 0): GGMLTypeInfo {
  return { id, name, blockSize, blockBytes, tailBytes, supported };
}

/** The I2_S tail: one f32 scale, padded to 32 bytes (bitnet.cpp leaves the padding uninitialised). */
export const I2S_TAIL_BYTES = 32;
/** Values per I2_S block: 128 values in 32 bytes, as bitnet.cpp writes it on x86. */
export const I2S_BLOCK = 128;

const TABLE: GGMLTypeInfo[] = [
  info(0, "f32", 1, 4, true),
  info(1, "f16", 1, 2, true),
  info(2, "q4_0", 32, 18, false),
  info(3, "q4_1", 32, 20, false),
  info(6, "q5_0", 32, 22, false),
  info(7, "q5_1", 32, 24, false),
  info(8, "q8_0", 32, 34, true),
  info(9, "q8_1", 32, 36, false),
  info(10, "q2_k", 256, 84, false),
  info(11, "q3_k", 256, 110, false),
  info(12, "q4_k", 256, 144, false),
  info(13, "q5_k", 256, 176, false),
  info(14, "q6_k", 256, 210, false),
  info(15, "q8_k", 256, 292, false),
  info(24, "i8", 1, 1, true),
  info(25, "i16", 1, 2, false),
  info(26, "i32", 1, 4, false),
  info(27, "i64", 1, 8, false),
  info(28, "f64", 1, 8, false),
  info(30, "bf16", 1, 2, true),
  info(34, "tq1_0", 256, 54, true),
  info(35, "tq2_0", 256, 66, true),
  // I2_S is 2 bits a value; a "block" here is the 128-value group bitnet.cpp packs into 32 bytes.
  info(36, "i2_s", I2S_BLOCK, 32, true, I2S_TAIL_BYTES),
];

const BY_ID = new Map(TABLE.map((t) => [t.id, t]));
const BY_NAME = new Map(TABLE.map((t) => [t.name, t]));

export function typeInfo(id: number): GGMLTypeInfo | undefined {
  return BY_ID.get(id);
}

/** The table's entry for a type every build knows (the constants above); the codecs take their block geometry from here. */
export function knownType(id: GGMLTypeId): GGMLTypeInfo {
  return BY_ID.get(id) as GGMLTypeInfo;
}

export function typeByName(name: string): GGMLTypeInfo | undefined {
  return BY_NAME.get(name.toLowerCase());
}

export function typeName(id: number): string {
  return BY_ID.get(id)?.name ?? `unknown(${id})`;
}

/** Number of elements of a tensor with GGUF dims (ne[0] first). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Bytes a tensor of this type and shape occupies in a file.
 * Throws a message naming `what` when the row length is not a multiple of the block size.
 */
export function tensorByteSize(typeId: number, shape: readonly number[], what = "tensor"): number {
  const t = BY_ID.get(typeId);
  if (!t) throw new UnsupportedModelError(`${what}: unknown ggml type id ${typeId}`);
  const ne0 = shape.length > 0 ? shape[0] : 1;
  const n = elementCount(shape);
  if (typeId === GGMLType.I2_S) {
    // bitnet.cpp cuts the whole flattened tensor into 128-value blocks, not each row.
    if (n % I2S_BLOCK !== 0) throw new InvalidFileError(`${what}: i2_s needs an element count divisible by ${I2S_BLOCK}, got ${n}`);
    return n / 4 + I2S_TAIL_BYTES;
  }
  if (ne0 % t.blockSize !== 0) {
    throw new InvalidFileError(`${what}: ${t.name} needs a row length (ne[0]) divisible by ${t.blockSize}, got ${ne0}`);
  }
  return (n / t.blockSize) * t.blockBytes + t.tailBytes;
}
