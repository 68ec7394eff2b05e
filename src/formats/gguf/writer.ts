/**
 * The GGUF writer: streams a v3 (or v2) little-endian GGUF file into a ByteSink. The header is
 * built in memory (it is small next to the weights), then each tensor's bytes are requested from
 * the caller only when it is their turn, so a multi-GB model is never held twice. Offsets come
 * from `tensorByteSize`; every tensor is padded to the alignment, as ggml and gguf-py do, so a
 * file read with reader.ts and written back with the same metadata types is byte-identical.
 * The sink is committed at the end and aborted on any error (the frame shared with safetensors is
 * in ../tensor-stream.ts).
 * It does not quantize or convert anything: callers hand it finished bytes.
 */
import { InvalidArgumentError } from "../../errors.ts";
import type { ByteSink } from "../sink.ts";
import { streamTensorFile, type TensorWriteProgress } from "../tensor-stream.ts";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAX_DIMS, alignUp, unknownTypeText, type GGUFTensorInfo } from "./reader.ts";
import { tensorByteSize, typeInfo } from "./types.ts";
import {
  GGUFValueType,
  checkValue,
  describeType,
  inferType,
  type GGUFScalarTypeId,
  type GGUFValue,
  type GGUFValueTypeDescriptor,
} from "./value-types.ts";

export interface GGUFMetadataEntry {
  key: string;
  value: GGUFValue;
  /** The exact type to write; when omitted it is inferred (see `inferType` in value-types.ts). */
  type?: GGUFValueTypeDescriptor;
}

export interface GGUFTensorSpec {
  name: string;
  /** GGUF order: ne[0] (the row length) first. */
  shape: readonly number[];
  /** ggml type id (see types.ts). */
  type: number;
}

export interface GGUFWriteHeader {
  /** Entries are written in this order. A plain record gets inferred types. */
  metadata: readonly GGUFMetadataEntry[] | Record<string, GGUFValue>;
  /** Tensor infos and data are written in this order. */
  tensors: readonly GGUFTensorSpec[];
  /**
   * Data alignment (default: `general.alignment` from the metadata, else 32). A value other than
   * 32 that the metadata does not carry is appended as `general.alignment` (u32).
   */
  alignment?: number;
  version?: 2 | 3;
}

export interface GGUFLayout {
  /** The header bytes, padded to the alignment. */
  header: Uint8Array;
  alignment: number;
  dataOffset: number;
  /** Each tensor with its offset (relative to `dataOffset`) and byte size. */
  tensors: GGUFTensorInfo[];
  /** Size of the whole file. */
  fileSize: number;
}

export type GGUFTensorData = (index: number, tensor: GGUFTensorInfo) => Promise<Uint8Array> | Uint8Array;

export type GGUFWriteProgress = TensorWriteProgress;

/** ggml's GGML_MAX_NAME: llama.cpp refuses tensor names of this many bytes or more. */
const GGML_MAX_NAME = 64;

const utf8 = new TextEncoder();

/** Metadata entries of a parsed file, with their exact types, ready to write back. */
export function ggufMetadataEntries(file: {
  metadata: Record<string, GGUFValue>;
  metadataTypes: Record<string, GGUFValueTypeDescriptor>;
  metadataKeys?: readonly string[];
}): GGUFMetadataEntry[] {
  const keys = file.metadataKeys ?? Object.keys(file.metadata);
  return keys.map((key) => ({ key, value: file.metadata[key], type: file.metadataTypes[key] }));
}

/** Validates the header and computes every offset, without writing anything. */
export function encodeGGUFHeader(h: GGUFWriteHeader): GGUFLayout {
  const entries = normalizeMetadata(h.metadata);
  const alignment = resolveAlignment(entries, h.alignment);
  const version = h.version ?? 3;
  if (version !== 2 && version !== 3) throw new InvalidArgumentError(`GGUF writer: version must be 2 or 3, got ${String(version)}`);

  const tensors = planTensors(h.tensors, alignment);
  const w = new ByteWriter();
  w.bytes(utf8.encode("GGUF"));
  w.u32(version);
  w.u64(BigInt(tensors.length));
  w.u64(BigInt(entries.length));
  for (const e of entries) {
    w.string(e.key);
    w.u32(e.type.type);
    writeValue(w, e.value, e.type);
  }
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of t.shape) w.u64(BigInt(d));
    w.u32(t.type);
    w.u64(BigInt(t.offset));
  }
  const dataOffset = alignUp(w.length, alignment);
  w.zeros(dataOffset - w.length);
  const last = tensors[tensors.length - 1];
  const fileSize = dataOffset + (last ? alignUp(last.offset + last.byteSize, alignment) : 0);
  return { header: w.result(), alignment, dataOffset, tensors, fileSize };
}

/**
 * Writes a whole GGUF file: the header, then each tensor's bytes (asked for with `data(i, info)`
 * just before they are written, and checked against the expected size), each padded to the
 * alignment. Commits the sink on success, aborts it on any error and rethrows.
 */
export async function writeGGUF(
  sink: ByteSink,
  header: GGUFWriteHeader,
  data: GGUFTensorData,
  onProgress?: (p: GGUFWriteProgress) => void,
): Promise<Omit<GGUFLayout, "header">> {
  return streamTensorFile(sink, () => encodeGGUFHeader(header), data, {
    writer: "GGUF writer",
    typeName: (t) => typeInfo(t.type)?.name,
    onProgress,
  });
}

function normalizeMetadata(metadata: GGUFWriteHeader["metadata"]): Required<GGUFMetadataEntry>[] {
  const list: readonly GGUFMetadataEntry[] = Array.isArray(metadata)
    ? metadata
    : Object.entries(metadata as Record<string, GGUFValue>).map(([key, value]) => ({ key, value }));
  const seen = new Set<string>();
  return list.map(({ key, value, type }) => {
    if (typeof key !== "string" || key.length === 0) throw new InvalidArgumentError(`GGUF writer: metadata key ${JSON.stringify(key)} is not a non-empty string`);
    if (seen.has(key)) throw new InvalidArgumentError(`GGUF writer: metadata key '${key}' appears twice`);
    seen.add(key);
    const what = `GGUF writer: metadata key '${key}'`;
    const t = type ?? inferType(value, what);
    checkValue(value, t, what);
    return { key, value, type: t };
  });
}

function resolveAlignment(entries: Required<GGUFMetadataEntry>[], requested: number | undefined): number {
  const entry = entries.find((e) => e.key === "general.alignment");
  const fromMeta = entry?.value;
  if (entry && (typeof fromMeta !== "number" || entry.type.type === GGUFValueType.ARRAY)) {
    throw new InvalidArgumentError(`GGUF writer: metadata key 'general.alignment' must be an integer, got ${describeType(entry.type)}`);
  }
  const alignment = requested ?? (fromMeta as number | undefined) ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment > 2 ** 30 || (alignment & (alignment - 1)) !== 0) {
    throw new InvalidArgumentError(`GGUF writer: alignment must be a non-zero power of two, got ${alignment}`);
  }
  if (fromMeta !== undefined && fromMeta !== alignment) {
    throw new InvalidArgumentError(`GGUF writer: alignment ${alignment} disagrees with metadata key 'general.alignment' = ${String(fromMeta)}`);
  }
  if (!entry && alignment !== GGUF_DEFAULT_ALIGNMENT) {
    entries.push({ key: "general.alignment", value: alignment, type: { type: GGUFValueType.UINT32 } });
  }
  return alignment;
}

function planTensors(specs: readonly GGUFTensorSpec[], alignment: number): GGUFTensorInfo[] {
  const names = new Set<string>();
  let offset = 0;
  return specs.map((s) => {
    const what = `GGUF writer: tensor '${s.name}'`;
    if (typeof s.name !== "string" || s.name.length === 0) throw new InvalidArgumentError(`GGUF writer: tensor name ${JSON.stringify(s.name)} is not a non-empty string`);
    if (utf8.encode(s.name).byteLength >= GGML_MAX_NAME) throw new InvalidArgumentError(`${what}: name is ${GGML_MAX_NAME} bytes or longer, which llama.cpp refuses`);
    if (names.has(s.name)) throw new InvalidArgumentError(`${what}: appears twice`);
    names.add(s.name);
    if (s.shape.length > GGUF_MAX_DIMS) throw new InvalidArgumentError(`${what}: has ${s.shape.length} dimensions, more than ${GGUF_MAX_DIMS}`);
    s.shape.forEach((d, j) => {
      if (!Number.isSafeInteger(d) || d <= 0) throw new InvalidArgumentError(`${what}: dimension ${j} is ${d}, expected a positive integer`);
    });
    if (!typeInfo(s.type)) throw new InvalidArgumentError(`${what}: ${unknownTypeText(s.type)}`);
    const byteSize = tensorByteSize(s.type, s.shape, what);
    const info: GGUFTensorInfo = { name: s.name, shape: [...s.shape], type: s.type, offset, byteSize };
    offset = alignUp(offset + byteSize, alignment);
    return info;
  });
}

function writeValue(w: ByteWriter, value: GGUFValue, d: GGUFValueTypeDescriptor): void {
  if (d.type !== GGUFValueType.ARRAY) {
    writeScalar(w, value, d.type);
    return;
  }
  const items = value as GGUFValue[];
  w.u32(d.subType);
  w.length64(items.length);
  if (d.subType === GGUFValueType.ARRAY) {
    const nested = (d as { items: GGUFValueTypeDescriptor[] }).items;
    items.forEach((v, i) => writeValue(w, v, nested[i]));
  } else {
    for (const v of items) writeScalar(w, v, d.subType);
  }
}

function writeScalar(w: ByteWriter, v: GGUFValue, type: GGUFScalarTypeId): void {
  switch (type) {
    case GGUFValueType.UINT8:
      return w.u8(Number(v));
    case GGUFValueType.INT8:
      return w.i8(Number(v));
    case GGUFValueType.UINT16:
      return w.u16(Number(v));
    case GGUFValueType.INT16:
      return w.i16(Number(v));
    case GGUFValueType.UINT32:
      return w.u32(Number(v));
    case GGUFValueType.INT32:
      return w.i32(Number(v));
    case GGUFValueType.FLOAT32:
      return w.f32(v as number);
    case GGUFValueType.BOOL:
      return w.u8(v ? 1 : 0);
    case GGUFValueType.STRING:
      return w.string(v as string);
    case GGUFValueType.UINT64:
      return w.u64(BigInt(v as number | bigint));
    case GGUFValueType.INT64:
      return w.i64(BigInt(v as number | bigint));
    case GGUFValueType.FLOAT64:
      return w.f64(v as number);
  }
}

/**
 * A growable little-endian buffer for the header. Every setter reserves first and only then
 * touches `buf`/`view`, because `reserve` may replace them.
 */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  /** Makes room for `n` more bytes without claiming them. */
  private ensure(n: number): void {
    const at = this.length;
    if (at + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < at + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, at));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  private reserve(n: number): number {
    this.ensure(n);
    const at = this.length;
    this.length += n;
    return at;
  }
  u8(v: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.reserve(1);
    this.view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.reserve(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, v, true);
  }
  f32(v: number): void {
    const at = this.reserve(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.reserve(8);
    this.view.setFloat64(at, v, true);
  }
  u64(v: bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, v, true);
  }
  i64(v: bigint): void {
    const at = this.reserve(8);
    this.view.setBigInt64(at, v, true);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.byteLength);
    this.buf.set(b, at);
  }
  zeros(n: number): void {
    this.reserve(n); // fresh capacity is already zero
  }
  /** A u64 length from a number (avoids a BigInt per string in big vocabularies). */
  length64(n: number): void {
    const at = this.reserve(8);
    this.view.setUint32(at, n % 2 ** 32, true);
    this.view.setUint32(at + 4, Math.floor(n / 2 ** 32), true);
  }
  string(s: string): void {
    // Encode straight into the buffer (a UTF-16 unit never needs more than 3 UTF-8 bytes).
    this.ensure(8 + 3 * s.length);
    const at = this.length;
    const { written } = utf8.encodeInto(s, this.buf.subarray(at + 8));
    this.length64(written);
    this.length += written;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
