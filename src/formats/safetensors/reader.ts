/**
 * The safetensors reader: parses the header (8-byte little-endian length, then a JSON object)
 * from a ByteSource, validates every tensor entry against the file, and reads tensors lazily.
 *
 * Shapes here are PyTorch order: rows first (`[out_features, in_features]` for a Linear weight),
 * the reverse of GGUF, whose `shape[0]` (ne[0]) is the row length. Convert with `.reverse()`.
 *
 * Like the reference implementation (Hugging Face safetensors), it requires the tensors to cover the
 * data exactly, from 0 to the end, with no overlap, hole or trailing byte, and it bounds the header
 * (size, bracket depth, entry count) before parsing it, since the header is untrusted JSON.
 *
 * It does not convert dtypes or names (the converter does, with names.ts) and does not open
 * directories of shards (src/node/safetensors-dir.ts does).
 */
import { InvalidFileError, TruncatedFileError, UnsupportedModelError } from "../../errors.ts";
import { describeValue, printable, quoted } from "../describe.ts";
import { scanJson } from "../json-bounds.ts";
import type { ByteSource } from "../source.ts";
import { dtypeBytes, isSupportedDtype } from "./dtypes.ts";

/** The reference implementation's cap on header size. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;
/**
 * Deepest bracket nesting a header may have. A valid header needs 3 levels ({ "t": { "shape": [ ] } });
 * the reference's JSON parser (serde_json) stops at 128, and so do we, before parsing.
 */
export const SAFETENSORS_MAX_DEPTH = 128;
/**
 * Most entries (tensors plus `__metadata__`) one file may list. Checked before parsing: a header of a
 * million empty tensors otherwise costs seconds and gigabytes. Real shards hold a few thousand at most.
 */
export const SAFETENSORS_MAX_ENTRIES = 131_072;

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
  if (source.size < 8) throw new TruncatedFileError(`${file}: truncated: a safetensors file needs at least 8 bytes, this one has ${source.size}`);
  const lenBytes = await source.read(0, 8);
  const view = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLen > maxHeader) throw new InvalidFileError(`${file}: safetensors header length ${headerLen} is larger than the limit of ${maxHeader} bytes`);
  if (8 + headerLen > source.size) {
    throw new TruncatedFileError(`${file}: truncated: safetensors header length ${headerLen} goes past the end of the file (${source.size} bytes)`);
  }
  const dataOffset = 8 + headerLen;
  const dataSize = source.size - dataOffset;

  const headerBytes = await source.read(8, headerLen);
  const bounds = scanJson(headerBytes, SAFETENSORS_MAX_DEPTH, SAFETENSORS_MAX_ENTRIES);
  if (bounds.tooDeepAt >= 0) throw new InvalidFileError(`${file}: safetensors header is nested more than ${SAFETENSORS_MAX_DEPTH} levels deep (at byte ${8 + bounds.tooDeepAt})`);
  if (bounds.topLevelKeys > SAFETENSORS_MAX_ENTRIES) throw new InvalidFileError(`${file}: safetensors header lists more than ${SAFETENSORS_MAX_ENTRIES} entries`);
  let text: string;
  try {
    text = utf8Strict.decode(headerBytes);
  } catch {
    throw new InvalidFileError(`${file}: safetensors header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw new InvalidFileError(`${file}: safetensors header is not valid JSON (${printable((err as Error).message, 100)})`);
  }
  if (!isPlainObject(header)) throw new InvalidFileError(`${file}: safetensors header is not a JSON object`);

  const metadata = parseMetadata(file, header["__metadata__"]);
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    tensors.push(parseEntry(file, name, entry, dataOffset, dataSize));
  }
  // Data order, as the reference implementation sorts it (by begin, then end): JSON key order is lost for integer-like names.
  tensors.sort((a, b) => a.offset - b.offset || a.byteSize - b.byteSize);
  checkCoverage(file, tensors, dataOffset, dataSize);

  const byName = new Map(tensors.map((t) => [t.name, t]));
  return {
    source,
    metadata,
    dataOffset,
    tensors,
    tensor: (name) => byName.get(name),
    readTensor: async (t) => {
      const info = typeof t === "string" ? byName.get(t) : t;
      if (!info) throw new InvalidFileError(`${file}: no tensor named '${printable(String(t))}'`);
      if (!info.supported) {
        throw new UnsupportedModelError(`${file}: tensor '${printable(info.name)}' has dtype ${info.dtype}, which bitnet-ts does not read (it reads F32, F16, BF16, U8, I8)`);
      }
      return source.read(info.offset, info.byteSize);
    },
  };
}

/**
 * The tensors (sorted by begin, then end) must cover the data exactly: each begins where the one
 * before ended, and the last ends at the end of the file, as the reference implementation requires.
 * A zero-size tensor therefore sits at a boundary, and nothing is read by two tensors or by none.
 */
function checkCoverage(file: string, tensors: SafetensorsTensorInfo[], dataOffset: number, dataSize: number): void {
  let cursor = 0;
  let last: SafetensorsTensorInfo | undefined;
  for (const t of tensors) {
    const begin = t.offset - dataOffset;
    const end = begin + t.byteSize;
    if (begin > cursor) throw new InvalidFileError(`${file}: safetensors data: bytes [${cursor}, ${begin}) of the data belong to no tensor (before tensor '${printable(t.name)}')`);
    if (begin < cursor && last) {
      const lastBegin = last.offset - dataOffset;
      throw new InvalidFileError(
        `${file}: tensor '${printable(t.name)}' (data_offsets [${begin}, ${end}]) overlaps tensor '${printable(last.name)}' ([${lastBegin}, ${lastBegin + last.byteSize}]) in the data buffer`,
      );
    }
    if (t.byteSize > 0) last = t;
    cursor = end;
  }
  if (cursor < dataSize) throw new InvalidFileError(`${file}: safetensors data: bytes [${cursor}, ${dataSize}) of the data belong to no tensor (after the last tensor)`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {}; // the reference reads it as an optional map, so null is "none"
  if (!isPlainObject(raw)) throw new InvalidFileError(`${file}: safetensors __metadata__ is ${describeValue(raw)}, not an object of strings`);
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") throw new InvalidFileError(`${file}: safetensors __metadata__ entry '${printable(k)}' is ${describeValue(v)}, not a string`);
  }
  return raw as Record<string, string>;
}

function parseEntry(file: string, name: string, entry: unknown, dataOffset: number, dataSize: number): SafetensorsTensorInfo {
  const what = `${file}: tensor '${printable(name)}'`;
  if (!isPlainObject(entry)) throw new InvalidFileError(`${what}: header entry is ${describeValue(entry)}, not an object`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== "string") throw new InvalidFileError(`${what}: dtype is ${describeValue(dtype)}, not a string`);
  const itemSize = dtypeBytes(dtype);
  if (itemSize === undefined) throw new InvalidFileError(`${what}: unknown dtype ${quoted(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new InvalidFileError(`${what}: shape is ${describeValue(shape)}, not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new InvalidFileError(`${what}: data_offsets is ${describeValue(offsets)}, not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new InvalidFileError(`${what}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataSize) throw new TruncatedFileError(`${what}: data_offsets [${begin}, ${end}] go past the end of the data (${dataSize} bytes); the file is truncated`);
  let numel = 1;
  for (const d of shape as number[]) numel *= d;
  const expected = numel * itemSize;
  if (!Number.isSafeInteger(expected) || end - begin !== expected) {
    const dims = shape.length <= 8 ? `[${shape.join(", ")}]` : `of ${shape.length} dimensions`;
    throw new InvalidFileError(`${what}: data_offsets cover ${end - begin} bytes but shape ${dims} of ${dtype} needs ${expected}`);
  }
  return { name, dtype, shape: [...(shape as number[])], offset: dataOffset + begin, byteSize: end - begin, supported: isSupportedDtype(dtype) };
}
