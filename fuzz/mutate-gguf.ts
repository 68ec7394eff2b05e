/**
 * Structure-aware mutations of a GGUF file. The seed is walked once (from the format description, not with
 * the reader under test) into its fields: magic, version, counts, every key and value, every tensor info
 * (name, n_dims, dims, type, offset) and the data of every tensor. A mutation then changes one thing a
 * hostile or broken file would: a count, a length, a type, a dimension, an offset, a name, a metadata
 * value, a tensor's numbers; it removes, duplicates or renames an entry (re-padding so that the data stays
 * where the offsets say); it truncates or splices two files. Nothing here checks the result.
 */
import type { Random } from "./random.ts";

type FieldKind = "magic" | "version" | "count" | "length" | "vtype" | "scalar" | "atype" | "acount" | "ndims" | "dim" | "ttype" | "offset" | "name";

interface Field {
  pos: number;
  size: number;
  kind: FieldKind;
  /** For scalars: the GGUF value type. */
  vtype?: number;
}

interface Entry {
  start: number;
  end: number;
  name: { pos: number; size: number };
}

interface TensorData {
  start: number;
  size: number;
  type: number;
}

export interface GGUFLayout {
  fields: Field[];
  kvs: Entry[];
  infos: Entry[];
  headerEnd: number;
  alignment: number;
  dataStart: number;
  tensors: TensorData[];
}

const SCALAR_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];
const STRING = 8;
const ARRAY = 9;
/** Bytes per block and elements per block of the types the seeds use, to find each tensor's data. */
const TYPE_BLOCK: Record<number, [bytes: number, elems: number]> = { 0: [4, 1], 1: [2, 1], 8: [34, 32], 30: [2, 1], 34: [54, 256], 35: [66, 256] };

/** Walks a valid GGUF file into its fields. */
export function ggufLayout(bytes: Uint8Array): GGUFLayout {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Field[] = [];
  let p = 0;
  const field = (size: number, kind: FieldKind, vtype?: number) => {
    fields.push({ pos: p, size, kind, vtype });
    p += size;
  };
  const u64 = (at: number) => Number(v.getBigUint64(at, true));
  const str = (kind: FieldKind = "name") => {
    const n = u64(p);
    field(8, "length");
    const at = p;
    field(n, kind);
    return { pos: at, size: n };
  };
  field(4, "magic");
  field(4, "version");
  const nTensors = u64(p);
  field(8, "count");
  const nKv = u64(p);
  field(8, "count");
  const kvs: Entry[] = [];
  let alignment = 32;
  const value = (type: number) => {
    if (type === STRING) str();
    else if (type === ARRAY) {
      const sub = v.getUint32(p, true);
      field(4, "atype");
      const count = u64(p);
      field(8, "acount");
      for (let i = 0; i < count; i++) value(sub);
    } else field(SCALAR_BYTES[type], "scalar", type);
  };
  for (let i = 0; i < nKv; i++) {
    const start = p;
    const name = str();
    const key = new TextDecoder().decode(bytes.subarray(name.pos, name.pos + name.size));
    const type = v.getUint32(p, true);
    field(4, "vtype");
    if (key === "general.alignment") alignment = v.getUint32(p, true);
    value(type);
    kvs.push({ start, end: p, name });
  }
  const infos: Entry[] = [];
  const shapes: { dims: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const start = p;
    const name = str();
    const nd = v.getUint32(p, true);
    field(4, "ndims");
    const dims: number[] = [];
    for (let d = 0; d < nd; d++) {
      dims.push(u64(p));
      field(8, "dim");
    }
    const type = v.getUint32(p, true);
    field(4, "ttype");
    const offset = u64(p);
    field(8, "offset");
    infos.push({ start, end: p, name });
    shapes.push({ dims, type, offset });
  }
  const headerEnd = p;
  const dataStart = Math.ceil(headerEnd / alignment) * alignment;
  const tensors: TensorData[] = shapes.map(({ dims, type, offset }) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const block = TYPE_BLOCK[type];
    const size = type === 36 ? n / 4 + 32 : block ? (n / block[1]) * block[0] : 0;
    return { start: dataStart + offset, size, type };
  });
  return { fields, kvs, infos, headerEnd, alignment, dataStart, tensors };
}

/** Values that break assumptions: edges of every width, the file's own size, and near misses. */
function interesting(r: Random, size: number, original: bigint, fileSize: number): bigint {
  const max = (1n << BigInt(8 * size)) - 1n;
  const candidates = [0n, 1n, 2n, original + 1n, original - 1n, original * 2n, original / 2n, original << 16n, max, max >> 1n, (max >> 1n) + 1n, 255n, 256n, 65535n, 65536n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 32n, 1n << 53n, BigInt(fileSize), BigInt(fileSize) + 1n, BigInt(fileSize) - 1n, BigInt(r.int(0, 2 ** 31))];
  return BigInt.asUintN(8 * size, r.pick(candidates));
}

function writeUint(v: DataView, pos: number, size: number, value: bigint): void {
  for (let i = 0; i < size; i++) v.setUint8(pos + i, Number((value >> BigInt(8 * i)) & 0xffn));
}

function readUint(bytes: Uint8Array, pos: number, size: number): bigint {
  let out = 0n;
  for (let i = size - 1; i >= 0; i--) out = (out << 8n) | BigInt(bytes[pos + i]);
  return out;
}

const F32_SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 1e-45, 3.4e38, -3.4e38, 1e30, -1, 1e-30];

/** Overwrites a scalar metadata value with an edge of its type. */
function scalarValue(r: Random, out: Uint8Array, f: Field, fileSize: number): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (f.vtype === 6) v.setFloat32(f.pos, r.pick(F32_SPECIALS), true);
  else if (f.vtype === 12) v.setFloat64(f.pos, r.pick(F32_SPECIALS), true);
  else if (f.vtype === 7) v.setUint8(f.pos, r.pick([0, 1, 2, 255]));
  else writeUint(v, f.pos, f.size, interesting(r, f.size, readUint(out, f.pos, f.size), fileSize));
}

/** One byte of a name changed: a digit, a letter, a dot, a control character, invalid UTF-8. */
function editName(r: Random, out: Uint8Array, pos: number, size: number): void {
  if (size === 0) return;
  const at = pos + r.int(0, size - 1);
  const c = out[at];
  out[at] = c >= 0x30 && c <= 0x39 ? r.int(0x30, 0x39) : r.pick([c ^ 1, c + 1, 0x2e, 0x0a, 0x00, 0xff, 0xc3, r.int(0x61, 0x7a)]) & 0xff;
}

const F16_SPECIALS = [0x7c00, 0xfc00, 0x7e00, 0x7bff, 0xfbff];

/** NaN, infinities or huge values written into a tensor's numbers (or random bytes into ternary codes). */
function poisonTensor(r: Random, out: Uint8Array, t: TensorData): void {
  if (t.size <= 0 || t.start + t.size > out.length) return;
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const n = r.int(1, 4);
  for (let k = 0; k < n; k++) {
    if (t.type === 0) v.setFloat32(t.start + 4 * r.int(0, t.size / 4 - 1), r.pick(F32_SPECIALS), true);
    else if (t.type === 1 || t.type === 30) v.setUint16(t.start + 2 * r.int(0, t.size / 2 - 1), r.pick(t.type === 1 ? F16_SPECIALS : [0x7f80, 0xff80, 0x7fc0, 0x7f7f]), true);
    else if (t.type === 35 || t.type === 34) {
      const block = t.type === 35 ? 66 : 54;
      v.setUint16(t.start + block * r.int(0, t.size / block - 1) + block - 2, r.pick(F16_SPECIALS), true); // a block's scale d
    } else if (t.type === 36) v.setFloat32(t.start + t.size - 32, r.pick(F32_SPECIALS), true); // I2_S's scale
    else out[t.start + r.int(0, t.size - 1)] = r.int(0, 255);
  }
}

/** The file rebuilt from its parts: header, entries, padding to the alignment, then the data section unchanged. */
function assemble(bytes: Uint8Array, layout: GGUFLayout, kvs: Uint8Array[], infos: Uint8Array[], counts: { tensors: bigint; kvs: bigint }): Uint8Array {
  const head = bytes.slice(0, 24);
  const hv = new DataView(head.buffer);
  hv.setBigUint64(8, counts.tensors, true);
  hv.setBigUint64(16, counts.kvs, true);
  const headerLen = 24 + kvs.reduce((n, b) => n + b.length, 0) + infos.reduce((n, b) => n + b.length, 0);
  const dataStart = Math.ceil(headerLen / layout.alignment) * layout.alignment;
  const data = bytes.subarray(Math.min(layout.dataStart, bytes.length));
  const out = new Uint8Array(dataStart + data.length);
  out.set(head, 0);
  let p = 24;
  for (const b of [...kvs, ...infos]) {
    out.set(b, p);
    p += b.length;
  }
  out.set(data, dataStart);
  return out;
}

/** A string field's bytes replaced by `text` (its length prefix with them). */
function withName(entry: Uint8Array, entryStart: number, name: { pos: number; size: number }, text: Uint8Array): Uint8Array {
  const rel = name.pos - entryStart - 8;
  const out = new Uint8Array(entry.length - name.size + text.length);
  out.set(entry.subarray(0, rel), 0);
  new DataView(out.buffer).setBigUint64(rel, BigInt(text.length), true);
  out.set(text, rel + 8);
  out.set(entry.subarray(rel + 8 + name.size), rel + 8 + text.length);
  return out;
}

export type GGUFMutation = (r: Random, bytes: Uint8Array, layout: GGUFLayout, other: Uint8Array) => Uint8Array;

const inHeader = (layout: GGUFLayout, kinds: readonly FieldKind[]) => layout.fields.filter((f) => kinds.includes(f.kind));

export const GGUF_MUTATIONS: Record<string, GGUFMutation> = {
  /** A count, length, type, dimension, offset, version or magic set to an edge value. */
  field(r, bytes, layout) {
    const out = bytes.slice();
    const f = r.pick(inHeader(layout, ["magic", "version", "count", "length", "vtype", "atype", "acount", "ndims", "dim", "ttype", "offset"]));
    if (f.kind === "magic") out.set(r.pick([[0x47, 0x47, 0x55, 0x46].reverse(), [0, 0, 0, 0], [0x47, 0x47, 0x4d, 0x4c]]), f.pos);
    else if (f.kind === "vtype" || f.kind === "atype" || f.kind === "ttype") new DataView(out.buffer).setUint32(f.pos, r.pick([r.int(0, 40), 0xffffffff, 13, 9, 8, 36, 39, 2]), true);
    else writeUint(new DataView(out.buffer), f.pos, f.size, interesting(r, f.size, readUint(out, f.pos, f.size), bytes.length));
    return out;
  },
  /** A metadata value (a hyperparameter, a token id, a score, a flag) set to an edge of its type. */
  metadata(r, bytes, layout) {
    const out = bytes.slice();
    const scalars = layout.fields.filter((f) => f.kind === "scalar" && f.pos < layout.headerEnd);
    if (scalars.length > 0) scalarValue(r, out, r.pick(scalars), bytes.length);
    return out;
  },
  /** One byte of a key, a tensor name or a string value changed in place. */
  name(r, bytes, layout) {
    const out = bytes.slice();
    const f = r.pick(layout.fields.filter((x) => x.kind === "name"));
    editName(r, out, f.pos, f.size);
    return out;
  },
  /** A tensor renamed: to another tensor's name, or one character longer or shorter. */
  rename(r, bytes, layout) {
    if (layout.infos.length === 0) return bytes;
    const i = r.int(0, layout.infos.length - 1);
    const e = layout.infos[i];
    const old = bytes.subarray(e.name.pos, e.name.pos + e.name.size);
    const other = layout.infos[r.int(0, layout.infos.length - 1)].name;
    const text = r.pick([bytes.slice(other.pos, other.pos + other.size), old.slice(0, Math.max(0, old.length - 1)), Uint8Array.from([...old, 0x78])]);
    const infos = layout.infos.map((x, j) => (j === i ? withName(bytes.slice(x.start, x.end), x.start, x.name, text) : bytes.slice(x.start, x.end)));
    return assemble(bytes, layout, layout.kvs.map((x) => bytes.slice(x.start, x.end)), infos, { tensors: BigInt(layout.infos.length), kvs: BigInt(layout.kvs.length) });
  },
  /** A metadata entry or a tensor info removed or duplicated, the count updated (mostly) or not. */
  entries(r, bytes, layout) {
    const kvs = layout.kvs.map((x) => bytes.slice(x.start, x.end));
    const infos = layout.infos.map((x) => bytes.slice(x.start, x.end));
    const list = r.chance(0.5) && infos.length > 0 ? infos : kvs;
    if (list.length === 0) return bytes;
    const i = r.int(0, list.length - 1);
    if (r.chance(0.6)) list.splice(i, 1);
    else list.splice(i, 0, list[i]);
    const fix = r.chance(0.85);
    return assemble(bytes, layout, kvs, infos, { tensors: BigInt(fix ? infos.length : layout.infos.length), kvs: BigInt(fix ? kvs.length : layout.kvs.length) });
  },
  /** NaN, infinities or extremes written into a tensor's numbers or scales. */
  data(r, bytes, layout) {
    const out = bytes.slice();
    if (layout.tensors.length > 0) poisonTensor(r, out, r.pick(layout.tensors));
    return out;
  },
  /** Cut at a field boundary (give or take a byte) or anywhere. */
  truncate(r, bytes, layout) {
    const at = r.chance(0.7) ? r.pick(layout.fields).pos + r.int(-1, 1) : r.int(0, Math.max(0, bytes.length - 1));
    return bytes.slice(0, Math.max(0, Math.min(bytes.length - 1, at)));
  },
  /** This file's start with another file's end, joined at field boundaries. */
  splice(r, bytes, layout, other) {
    const at = r.pick(layout.fields).pos;
    const from = r.int(0, Math.max(0, other.length - 1));
    const out = new Uint8Array(at + other.length - from);
    out.set(bytes.subarray(0, at), 0);
    out.set(other.subarray(from), at);
    return out;
  },
  /** A few random bytes, mostly in the header. */
  bytes(r, bytes, layout) {
    const out = bytes.slice();
    for (let k = r.int(1, 6); k > 0; k--) {
      if (out.length === 0) return out;
      const at = r.chance(0.8) ? r.int(0, Math.min(out.length, layout.headerEnd) - 1) : r.int(0, out.length - 1);
      out[at] = r.chance(0.5) ? out[at] ^ (1 << r.int(0, 7)) : r.int(0, 255);
    }
    return out;
  },
  /** Bytes appended after the last tensor. */
  append(r, bytes) {
    const out = new Uint8Array(bytes.length + r.pick([1, 31, 32, 4096]));
    out.set(bytes, 0);
    return out;
  },
};
