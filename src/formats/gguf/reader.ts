/**
 * The GGUF reader: parses the header of a v2 or v3 little-endian GGUF file (metadata, tensor
 * infos, alignment) from a ByteSource and gives lazy access to each tensor's bytes.
 * Every count, length and offset in the file is untrusted: each is checked against the bytes
 * that remain before anything is allocated, and every error is one line naming the file and
 * the field. It does not decode tensor data (the codecs in src/quant do) and does not interpret
 * metadata beyond `general.alignment` (the model config code does, with the getters below).
 *
 * Shapes follow GGUF/ggml order: `shape[0]` is ne[0], the contiguous row length (the number of
 * columns). safetensors and PyTorch list the same matrix as [rows, columns], the reverse.
 */
import { InvalidFileError, UnsupportedModelError } from "../../errors.ts";
import { printable } from "../describe.ts";
import type { ByteSource } from "../source.ts";
import { tensorByteSize, typeInfo } from "./types.ts";
import { HeaderCursor } from "./header-cursor.ts";
import {
  GGUFValueType,
  int64Value,
  isValueTypeId,
  minValueBytes,
  scalarByteSize,
  valueTypeName,
  type GGUFScalarTypeId,
  type GGUFValue,
  type GGUFValueTypeDescriptor,
  type GGUFValueTypeId,
} from "./value-types.ts";

export type { GGUFScalar, GGUFValue, GGUFValueTypeDescriptor } from "./value-types.ts";

export const GGUF_MAGIC = "GGUF";
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;
/** Headers beyond this are refused unless the caller raises it (a 128k-token vocabulary is a few MB). */
export const GGUF_DEFAULT_MAX_HEADER_BYTES = 256 * 1024 * 1024;
/** Deepest array-of-array nesting accepted; real files use none (llama.cpp rejects any). */
const MAX_ARRAY_DEPTH = 8;

export interface GGUFTensorInfo {
  name: string;
  /** GGUF order: ne[0] (the row length) first. */
  shape: number[];
  /** ggml type id (see types.ts). */
  type: number;
  /** Byte offset relative to the start of the data section (`GGUFFile.dataOffset`). */
  offset: number;
  /** Bytes of tensor data, from `tensorByteSize`. */
  byteSize: number;
}

export interface GGUFFile {
  source: ByteSource;
  version: number;
  alignment: number;
  /** Absolute offset of the data section: the end of the header rounded up to `alignment`. */
  dataOffset: number;
  /** Plain JS values. 64-bit integers outside the safe range are bigints; all other numbers are numbers. */
  metadata: Record<string, GGUFValue>;
  /** The exact on-disk type of each metadata value, enough to write the same bytes back. */
  metadataTypes: Record<string, GGUFValueTypeDescriptor>;
  /** Metadata keys in file order (object key order is not reliable for keys that look like integers). */
  metadataKeys: string[];
  /** In file order (the order of the tensor infos, not necessarily of the data). */
  tensors: GGUFTensorInfo[];
  tensor(name: string): GGUFTensorInfo | undefined;
  /** Reads only this tensor's bytes. */
  readTensor(t: GGUFTensorInfo | string): Promise<Uint8Array>;
  /** Reads this tensor's bytes into `dst` (exactly its size), where the source can do so without a copy. */
  readTensorInto?(t: GGUFTensorInfo | string, dst: Uint8Array): Promise<void>;
}

export interface ReadGGUFOptions {
  /** Refuse headers longer than this many bytes (default 256 MiB). */
  maxHeaderBytes?: number;
}

const MIN_KV_BYTES = 8 + 4 + 1; // key length, value type, smallest value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8; // name length, n_dims, type, offset

export async function readGGUF(source: ByteSource, options: ReadGGUFOptions = {}): Promise<GGUFFile> {
  const file = source.name;
  const c = new HeaderCursor(source, options.maxHeaderBytes ?? GGUF_DEFAULT_MAX_HEADER_BYTES);

  await c.need(8, "magic and version");
  const magic = c.bytes(4);
  if (String.fromCharCode(...magic) !== GGUF_MAGIC) {
    const shown = [...magic].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("");
    throw new InvalidFileError(`${file}: not a GGUF file (magic is "${shown}", expected "GGUF")`);
  }
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    const hint = swapped === 2 || swapped === 3 ? " (this looks like a big-endian GGUF, which bitnet-ts does not read)" : version === 1 ? " (GGUF v1 is obsolete: re-convert the model)" : "";
    throw new InvalidFileError(`${file}: unsupported GGUF version ${version >>> 0}${hint}; bitnet-ts reads versions 2 and 3`);
  }

  await c.need(16, "tensor and metadata counts");
  const tensorCount = c.u64Approx();
  const kvCount = c.u64Approx();
  if (kvCount * MIN_KV_BYTES > c.remaining) {
    throw new InvalidFileError(`${file}: metadata count ${kvCount} is impossible: ${c.remaining} bytes left cannot hold that many key-value pairs`);
  }
  if (tensorCount * MIN_TENSOR_INFO_BYTES + kvCount * MIN_KV_BYTES > c.remaining) {
    throw new InvalidFileError(`${file}: tensor count ${tensorCount} is impossible: ${c.remaining} bytes left cannot hold that many tensor infos`);
  }

  const metadata: Record<string, GGUFValue> = {};
  const metadataTypes: Record<string, GGUFValueTypeDescriptor> = {};
  const metadataKeys: string[] = [];
  for (let i = 0; i < kvCount; i++) {
    const key = await readName(c, `metadata key #${i}`);
    if (Object.hasOwn(metadata, key)) throw new InvalidFileError(`${file}: metadata key '${printable(key)}' appears twice`);
    await c.need(4, `metadata key '${printable(key)}' value type`);
    const type = c.u32();
    if (!isValueTypeId(type)) throw new InvalidFileError(`${file}: metadata key '${printable(key)}': unknown value type ${type}`);
    const { value, desc } = await readValue(c, type, `metadata key '${printable(key)}'`, 0);
    setOwn(metadata, key, value);
    setOwn(metadataTypes, key, desc);
    metadataKeys.push(key);
  }

  const alignment = readAlignment(file, metadata, metadataTypes);

  const tensors: GGUFTensorInfo[] = [];
  const byName = new Map<string, GGUFTensorInfo>();
  for (let i = 0; i < tensorCount; i++) {
    const t = await readTensorInfo(c, i);
    if (byName.has(t.name)) throw new InvalidFileError(`${file}: tensor '${printable(t.name)}' appears twice in the tensor infos`);
    byName.set(t.name, t);
    tensors.push(t);
  }

  const dataOffset = alignUp(c.pos, alignment);
  checkTensorPlacement(file, source.size, dataOffset, alignment, tensors);

  const resolve = (t: GGUFTensorInfo | string): GGUFTensorInfo => {
    if (typeof t !== "string") return t;
    const found = byName.get(t);
    if (!found) throw new InvalidFileError(`${file}: no tensor named '${printable(t)}'`);
    return found;
  };
  return {
    source,
    version,
    alignment,
    dataOffset,
    metadata,
    metadataTypes,
    metadataKeys,
    tensors,
    tensor: (name) => byName.get(name),
    readTensor: async (t) => {
      const info = resolve(t);
      return source.read(dataOffset + info.offset, info.byteSize);
    },
    ...(source.readInto && {
      readTensorInto: async (t: GGUFTensorInfo | string, dst: Uint8Array) => {
        const info = resolve(t);
        if (dst.byteLength !== info.byteSize) throw new RangeError(`${file}: tensor '${printable(info.name)}' is ${info.byteSize} bytes, the buffer ${dst.byteLength}`);
        await source.readInto?.(dataOffset + info.offset, dst);
      },
    }),
  };
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Defines an own property even for keys such as `__proto__`, which plain assignment would not. */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

async function readLength(c: HeaderCursor, what: string): Promise<number> {
  await c.need(8, `${what} length`);
  const n = c.u64Approx();
  if (n > c.remaining) {
    throw new InvalidFileError(`${c.source.name}: ${what}: string length ${n} is larger than the ${c.remaining} bytes left in the file`);
  }
  return n;
}

/** A key or tensor name: must be valid UTF-8. */
async function readName(c: HeaderCursor, what: string): Promise<string> {
  const n = await readLength(c, what);
  await c.need(n, what);
  const s = c.text(n, true);
  if (s === undefined) throw new InvalidFileError(`${c.source.name}: ${what} is not valid UTF-8 (at offset ${c.pos - n})`);
  return s;
}

async function readValue(c: HeaderCursor, type: GGUFValueTypeId, what: string, depth: number): Promise<{ value: GGUFValue; desc: GGUFValueTypeDescriptor }> {
  if (type === GGUFValueType.ARRAY) return readArray(c, what, depth);
  if (type === GGUFValueType.STRING) {
    const n = await readLength(c, what);
    await c.need(n, what);
    return { value: c.text(n, false) as string, desc: { type } };
  }
  await c.need(scalarByteSize(type), what);
  return { value: readScalar(c, type), desc: { type } };
}

/** One fixed-size scalar; the caller has made its bytes available. */
function readScalar(c: HeaderCursor, type: GGUFScalarTypeId): number | bigint | boolean {
  switch (type) {
    case GGUFValueType.UINT8:
      return c.u8();
    case GGUFValueType.INT8:
      return c.i8();
    case GGUFValueType.UINT16:
      return c.u16();
    case GGUFValueType.INT16:
      return c.i16();
    case GGUFValueType.UINT32:
      return c.u32();
    case GGUFValueType.INT32:
      return c.i32();
    case GGUFValueType.FLOAT32:
      return c.f32();
    case GGUFValueType.BOOL:
      return c.u8() !== 0;
    case GGUFValueType.UINT64:
      return int64Value(c.u64());
    case GGUFValueType.INT64:
      return int64Value(c.i64());
    case GGUFValueType.FLOAT64:
      return c.f64();
    default:
      throw new Error(`${c.source.name}: internal: ${valueTypeName(type)} is not a fixed-size scalar`);
  }
}

async function readArray(c: HeaderCursor, what: string, depth: number): Promise<{ value: GGUFValue[]; desc: GGUFValueTypeDescriptor }> {
  const file = c.source.name;
  if (depth >= MAX_ARRAY_DEPTH) throw new InvalidFileError(`${file}: ${what}: arrays nested deeper than ${MAX_ARRAY_DEPTH} levels`);
  await c.need(12, `${what} array header`);
  const sub = c.u32();
  if (!isValueTypeId(sub)) throw new InvalidFileError(`${file}: ${what}: unknown array element type ${sub}`);
  const count = c.u64Approx();
  if (count * minValueBytes(sub) > c.remaining) {
    throw new InvalidFileError(`${file}: ${what}: array length ${count} of ${valueTypeName(sub)} is larger than the ${c.remaining} bytes left could hold`);
  }
  if (c.pos + count * minValueBytes(sub) > c.limit) {
    throw new InvalidFileError(`${file}: ${what}: array length ${count} would take the header past maxHeaderBytes (${c.limit})`);
  }
  const value: GGUFValue[] = [];
  if (sub === GGUFValueType.ARRAY) {
    const items: GGUFValueTypeDescriptor[] = [];
    for (let i = 0; i < count; i++) {
      const r = await readArray(c, `${what}[${i}]`, depth + 1);
      value.push(r.value);
      items.push(r.desc);
    }
    return { value, desc: { type: GGUFValueType.ARRAY, subType: GGUFValueType.ARRAY, items } };
  }
  if (sub === GGUFValueType.STRING) {
    for (let i = 0; i < count; i++) {
      if (!c.has(8)) await c.fill(8, `${what}[${i}] length`);
      const n = c.u64Approx();
      if (n > c.remaining) throw new InvalidFileError(`${file}: ${what}[${i}]: string length ${n} is larger than the ${c.remaining} bytes left in the file`);
      if (!c.has(n)) await c.fill(n, `${what}[${i}]`);
      value.push(c.text(n, false) as string);
    }
    return { value, desc: { type: GGUFValueType.ARRAY, subType: sub } };
  }
  await c.need(count * scalarByteSize(sub), what);
  for (let i = 0; i < count; i++) value.push(readScalar(c, sub));
  return { value, desc: { type: GGUFValueType.ARRAY, subType: sub } };
}

function readAlignment(file: string, metadata: Record<string, GGUFValue>, types: Record<string, GGUFValueTypeDescriptor>): number {
  if (!Object.hasOwn(metadata, "general.alignment")) return GGUF_DEFAULT_ALIGNMENT;
  const v = metadata["general.alignment"];
  const t = types["general.alignment"].type;
  const integer = t !== GGUFValueType.ARRAY && t !== GGUFValueType.STRING && t !== GGUFValueType.BOOL && t !== GGUFValueType.FLOAT32 && t !== GGUFValueType.FLOAT64;
  if (!integer || typeof v !== "number" || v <= 0 || v > 2 ** 30 || (v & (v - 1)) !== 0) {
    throw new InvalidFileError(`${file}: metadata key 'general.alignment' must be a non-zero power of two integer, got ${String(v)} (${valueTypeName(t)})`);
  }
  return v;
}

async function readTensorInfo(c: HeaderCursor, index: number): Promise<GGUFTensorInfo> {
  const file = c.source.name;
  const name = await readName(c, `tensor info #${index} name`);
  const what = `tensor '${printable(name)}'`;
  await c.need(4, `${what} n_dims`);
  const nDims = c.u32();
  if (nDims > GGUF_MAX_DIMS) throw new InvalidFileError(`${file}: ${what}: n_dims is ${nDims}, more than ${GGUF_MAX_DIMS}`);
  await c.need(8 * nDims + 12, `${what} dims, type and offset`);
  const shape: number[] = [];
  for (let j = 0; j < nDims; j++) {
    const d = c.u64();
    if (d === 0n) throw new InvalidFileError(`${file}: ${what}: dimension ${j} is 0`);
    if (d > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidFileError(`${file}: ${what}: dimension ${j} is ${BigInt.asIntN(64, d)} (negative or too large)`);
    shape.push(Number(d));
  }
  const type = c.u32();
  const offset64 = c.u64();
  if (!typeInfo(type)) throw new UnsupportedModelError(`${file}: ${what}: ${unknownTypeText(type)}`);
  if (offset64 > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidFileError(`${file}: ${what}: offset ${offset64} is beyond any file`);
  let elements = 1;
  for (const d of shape) elements *= d;
  if (!Number.isSafeInteger(elements)) throw new InvalidFileError(`${file}: ${what}: shape [${shape.join(", ")}] has too many elements`);
  const byteSize = tensorByteSize(type, shape, `${file}: ${what}`);
  return { name, shape, type, offset: Number(offset64), byteSize };
}

/** The error text for a ggml type id bitnet-ts does not know, with the 36..39 caveat. */
export function unknownTypeText(type: number): string {
  const caveat =
    type >= 36 && type <= 39
      ? ` (ids 36-39 differ between bitnet.cpp's ggml fork, where 36 = I2_S, 37 = I8_S, 38 = TL1, 39 = TL2, and upstream ggml, which retired 36-38 and uses 39 for MXFP4; bitnet-ts reads only 36, as I2_S)`
      : "";
  return `unknown ggml type id ${type}${caveat}`;
}

function checkTensorPlacement(file: string, size: number, dataOffset: number, alignment: number, tensors: GGUFTensorInfo[]): void {
  for (const t of tensors) {
    if (t.offset % alignment !== 0) {
      throw new InvalidFileError(`${file}: tensor '${printable(t.name)}': offset ${t.offset} is not a multiple of the alignment ${alignment}`);
    }
    if (dataOffset + t.offset + t.byteSize > size) {
      throw new InvalidFileError(
        `${file}: tensor '${printable(t.name)}': data at ${dataOffset + t.offset}..${dataOffset + t.offset + t.byteSize} extends past the end of the file (${size} bytes); the file is truncated or the offset is wrong`,
      );
    }
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (cur.offset < prev.offset + prev.byteSize) {
      throw new InvalidFileError(`${file}: tensor '${printable(cur.name)}' (offset ${cur.offset}) overlaps tensor '${printable(prev.name)}' (offset ${prev.offset}, ${prev.byteSize} bytes)`);
    }
  }
}
