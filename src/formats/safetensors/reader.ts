/**
 * The safetensors reader: parses the header (8-byte little-endian length, then a JSON object)
 * from a ByteSource, validates every tensor entry against the file, and reads tensors lazily.
 *
 * Shapes here are PyTorch order: rows first (`[out_features, in_features]` for a Linear weight),
 * the reverse of GGUF, whose `shape[0]` (ne[0]) is the row length. Convert with `.reverse()`.
 *
 * It does not convert dtypes or names (the converter does, with names.ts) and does not open
 * directories of shards (src/node/safetensors-dir.ts does).
 */
import type { ByteSource } from "../source.ts";
import { dtypeBytes, isSupportedDtype } from "./dtypes.ts";

/** The reference implementation's cap on header size. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  name: string;
  dtype: string;
  /** PyTorch order: rows first. */
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  byteSize: number;
  /** Whether bitnet-ts reads this dtype (F32, F16, BF16, U8, I8); reading the others throws. */
  supported: boolean;
}

export interface SafetensorsFile {
  source: ByteSource;
  /** The string-to-string `__metadata__` map (empty when absent). */
  metadata: Record<string, string>;
  /** Absolute offset of the data buffer (8 + header length). */
  dataOffset: number;
  /** In data order. */
  tensors: SafetensorsTensorInfo[];
  tensor(name: string): SafetensorsTensorInfo | undefined;
  readTensor(t: SafetensorsTensorInfo | string): Promise<Uint8Array>;
}

export interface ReadSafetensorsOptions {
  /** Refuse headers longer than this (default 100 MB, as the reference implementation does). */
  maxHeaderBytes?: number;
}

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

export async function readSafetensors(source: ByteSource, options: ReadSafetensorsOptions = {}): Promise<SafetensorsFile> {
  const file = source.name;
  const maxHeader = options.maxHeaderBytes ?? SAFETENSORS_MAX_HEADER_BYTES;
  if (source.size < 8) throw new Error(`${file}: truncated: a safetensors file needs at least 8 bytes, this one has ${source.size}`);
  const lenBytes = await source.read(0, 8);
  const view = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLen > maxHeader) throw new Error(`${file}: safetensors header length ${headerLen} is larger than the limit of ${maxHeader} bytes`);
  if (8 + headerLen > source.size) {
    throw new Error(`${file}: truncated: safetensors header length ${headerLen} goes past the end of the file (${source.size} bytes)`);
  }
  const dataOffset = 8 + headerLen;
  const dataSize = source.size - dataOffset;

  let text: string;
  try {
    text = utf8Strict.decode(await source.read(8, headerLen));
  } catch {
    throw new Error(`${file}: safetensors header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(header)) throw new Error(`${file}: safetensors header is not a JSON object`);

  const metadata = parseMetadata(file, header["__metadata__"]);
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    tensors.push(parseEntry(file, name, entry, dataOffset, dataSize));
  }
  // Data order, as the reference implementation sorts it: JSON key order is lost for integer-like names.
  tensors.sort((a, b) => a.offset - b.offset || a.byteSize - b.byteSize);
  for (let i = 1; i < tensors.length; i++) {
    const prev = tensors[i - 1];
    const cur = tensors[i];
    if (cur.byteSize > 0 && cur.offset < prev.offset + prev.byteSize) {
      throw new Error(`${file}: tensor '${cur.name}' overlaps tensor '${prev.name}' in the data buffer`);
    }
  }

  const byName = new Map(tensors.map((t) => [t.name, t]));
  return {
    source,
    metadata,
    dataOffset,
    tensors,
    tensor: (name) => byName.get(name),
    readTensor: async (t) => {
      const info = typeof t === "string" ? byName.get(t) : t;
      if (!info) throw new Error(`${file}: no tensor named '${String(t)}'`);
      if (!info.supported) {
        throw new Error(`${file}: tensor '${info.name}' has dtype ${info.dtype}, which bitnet-ts does not read (it reads F32, F16, BF16, U8, I8)`);
      }
      return source.read(info.offset, info.byteSize);
    },
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) throw new Error(`${file}: safetensors __metadata__ is not an object of strings`);
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") throw new Error(`${file}: safetensors __metadata__ entry '${k}' is not a string`);
  }
  return raw as Record<string, string>;
}

function parseEntry(file: string, name: string, entry: unknown, dataOffset: number, dataSize: number): SafetensorsTensorInfo {
  const what = `${file}: tensor '${name}'`;
  if (!isPlainObject(entry)) throw new Error(`${what}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== "string") throw new Error(`${what}: dtype is missing or not a string`);
  const itemSize = dtypeBytes(dtype);
  if (itemSize === undefined) throw new Error(`${what}: unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${what}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new Error(`${what}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new Error(`${what}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataSize) throw new Error(`${what}: data_offsets [${begin}, ${end}] go past the end of the data (${dataSize} bytes); the file is truncated`);
  let numel = 1;
  for (const d of shape as number[]) numel *= d;
  const expected = numel * itemSize;
  if (!Number.isSafeInteger(expected) || end - begin !== expected) {
    throw new Error(`${what}: data_offsets cover ${end - begin} bytes but shape [${shape.join(", ")}] of ${dtype} needs ${expected}`);
  }
  return { name, dtype, shape: [...(shape as number[])], offset: dataOffset + begin, byteSize: end - begin, supported: isSupportedDtype(dtype) };
}
