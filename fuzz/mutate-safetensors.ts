/**
 * Structure-aware mutations of a safetensors file: its JSON header is parsed (seeds are valid) and changed
 * the way a hostile or broken file would be (a dtype, a shape, data offsets, names, `__metadata__`, deep
 * nesting, a flood of entries, overlaps and holes), then written back with a length prefix that is usually
 * right; or the bytes are changed directly (the prefix, the header text, truncation, trailing bytes).
 * Nothing here checks the result.
 */
import type { Random } from "./random.ts";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Header = Record<string, Json>;

interface Parts {
  header: Header;
  data: Uint8Array;
}

function parse(bytes: Uint8Array): Parts {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Header, data: bytes.subarray(8 + n) };
}

function assemble(r: Random, header: unknown, data: Uint8Array): Uint8Array {
  let text = expandNested(JSON.stringify(header));
  if (r.chance(0.3)) text += " ".repeat(r.int(0, 7)); // the writers' padding
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  let len = BigInt(json.length);
  if (r.chance(0.08)) len = r.pick([len + 1n, len - 1n, 0n, len * 2n, 100_000_001n, (1n << 64n) - 1n, 1n << 53n]);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, len), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const tensorNames = (h: Header) => Object.keys(h).filter((k) => k !== "__metadata__");

/** A stand-in for a list nested `depth` deep, expanded in the JSON text (JSON.stringify itself would overflow the stack). */
const nested = (depth: number): Json => `\u0001deep:${depth}`;
const expandNested = (text: string) => text.replace(/"\\u0001deep:(\d+)"/g, (_, d: string) => `${"[".repeat(Number(d))}1${"]".repeat(Number(d))}`);

const DTYPES = ["F32", "F16", "BF16", "U8", "I8", "I64", "F64", "BOOL", "F8_E4M3", "Q4", "", "f32"];

function oddNumber(r: Random, original: number): Json {
  return r.pick<Json>([0, -1, 1, original + 1, original - 1, original * 2, 1.5, 2 ** 53, 2 ** 64, 1e308, -0, "3", null, [original], original * 1000]);
}

/** A header changed in one way; returns the header to write (which may not be an object at all). */
function mutateHeader(r: Random, h: Header, dataSize: number): unknown {
  const names = tensorNames(h);
  const name = names.length > 0 ? r.pick(names) : undefined;
  const entry = name !== undefined ? (h[name] as { [k: string]: Json }) : undefined;
  switch (r.int(0, 13)) {
    case 0: // dtype
      if (entry) entry.dtype = r.chance(0.9) ? r.pick(DTYPES) : r.pick<Json>([1, null, ["F32"]]);
      return h;
    case 1: {
      // a shape dimension
      if (!entry || !Array.isArray(entry.shape)) return h;
      const shape = entry.shape as Json[];
      if (shape.length > 0 && r.chance(0.7)) {
        const i = r.int(0, shape.length - 1);
        shape[i] = oddNumber(r, Number(shape[i]));
      } else if (r.chance(0.5)) shape.push(r.pick([1, 0, 2]));
      else shape.pop();
      return h;
    }
    case 2: {
      // data offsets moved, swapped, out of range
      if (!entry || !Array.isArray(entry.data_offsets)) return h;
      const o = entry.data_offsets as number[];
      const i = r.int(0, 1);
      if (r.chance(0.3)) entry.data_offsets = [o[1], o[0]];
      else if (r.chance(0.2)) entry.data_offsets = r.pick<Json>([[o[0]], [o[0], o[1], o[1]], null, "0,4", [o[0], dataSize + 8]]);
      else o[i] = r.pick([o[i] + 1, o[i] - 1, o[i] + 4, 0, dataSize, dataSize + 1, 2 ** 53, -1, o[1 - i]]);
      return h;
    }
    case 3: // an entry removed: a hole in the data
      if (name !== undefined) delete h[name];
      return h;
    case 4: // an entry duplicated under a new name: an overlap
      if (entry) h[`${name}.copy`] = structuredClone(entry);
      return h;
    case 5: {
      // a zero-size entry somewhere in the data
      h[`zero.${r.int(0, 99)}`] = { dtype: "U8", shape: [0], data_offsets: [r.int(0, dataSize), 0] };
      const z = h[Object.keys(h).at(-1) as string] as { data_offsets: number[] };
      z.data_offsets[1] = z.data_offsets[0];
      return h;
    }
    case 6: // __metadata__ of every odd kind
      h.__metadata__ = r.pick<Json>([null, 1, "x", [], { a: 1 }, { a: { b: "c" } }, { format: "pt", state: "{not json" }, { [String.fromCharCode(10)]: "\u0000" }]);
      return h;
    case 7: // a name with control characters, a very long name, an empty name
      if (entry && name !== undefined) {
        delete h[name];
        h[r.pick(["", "a\nb", "x".repeat(r.int(200, 5000)), `${name}\u0000`, "__proto__", "constructor"])] = entry;
      }
      return h;
    case 8: {
      // a value nested deep (around the reader's limit, or far past it)
      const depth = r.pick([64, 127, 128, 129, 1000, 20000]);
      if (entry) entry[r.pick(["shape", "data_offsets", "dtype", "extra"])] = nested(depth);
      else h.deep = nested(depth);
      return h;
    }
    case 9: {
      // a flood of empty entries
      const n = r.pick([10, 1000, 131_071, 131_073]);
      for (let i = 0; i < n; i++) h[`e${i}`] = { dtype: "U8", shape: [0], data_offsets: [0, 0] };
      return h;
    }
    case 10: // not an object at all
      return r.pick<Json>([[], "x", 1, null, [h]]);
    case 11: // an extra field in an entry
      if (entry) entry[r.pick(["offsets", "extra", "shape "])] = r.pick<Json>([1, "x", [1, 2], { a: [] }]);
      return h;
    case 12: {
      // a tensor covering the whole data with a shape that claims it
      if (entry) {
        entry.dtype = "U8";
        entry.shape = [dataSize];
        entry.data_offsets = [0, dataSize];
      }
      return h;
    }
    default: {
      // two tensors' offsets exchanged
      if (names.length < 2) return h;
      const a = h[r.pick(names)] as { data_offsets: Json };
      const b = h[r.pick(names)] as { data_offsets: Json };
      [a.data_offsets, b.data_offsets] = [b.data_offsets, a.data_offsets];
      return h;
    }
  }
}

/** Where the header ends, as the length prefix says, within the bytes there are (the file may be cut). */
function headerEnd(bytes: Uint8Array): number {
  if (bytes.length < 8) return bytes.length;
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  return Number(BigInt(Math.min(bytes.length, 2 ** 53)) < 8n + n ? BigInt(bytes.length) : 8n + n);
}

export type SafetensorsMutation = (r: Random, bytes: Uint8Array) => Uint8Array;

export const SAFETENSORS_MUTATIONS: Record<string, SafetensorsMutation> = {
  header(r, bytes) {
    const { header, data } = parse(bytes);
    return assemble(r, mutateHeader(r, header, data.length), data);
  },
  /** The same header changed twice. */
  header2(r, bytes) {
    const { header, data } = parse(bytes);
    const once = mutateHeader(r, header, data.length);
    const twice = once !== null && typeof once === "object" && !Array.isArray(once) ? mutateHeader(r, once as Header, data.length) : once;
    return assemble(r, twice, data);
  },
  /** Bytes of the length prefix or the header text changed (the JSON may break). */
  bytes(r, bytes) {
    const out = bytes.slice();
    if (out.length === 0) return out;
    const end = Math.max(1, headerEnd(out));
    for (let k = r.int(1, 4); k > 0; k--) {
      const at = r.chance(0.2) ? r.int(0, Math.min(7, out.length - 1)) : r.int(0, end - 1);
      out[at] = r.chance(0.5) ? out[at] ^ (1 << r.int(0, 7)) : r.pick([0x22, 0x5b, 0x5d, 0x7b, 0x7d, 0x3a, 0x2c, 0x5c, 0x30, 0xff, 0x00, r.int(0, 255)]);
    }
    return out;
  },
  truncate(r, bytes) {
    return bytes.slice(0, r.int(0, Math.max(0, bytes.length - 1)));
  },
  /** Bytes appended after the last tensor. */
  append(r, bytes) {
    const out = new Uint8Array(bytes.length + r.pick([1, 7, 8, 100]));
    out.set(bytes, 0);
    return out;
  },
  /** Random bytes in the data (the reader must not care; a checkpoint reader gets odd numbers). */
  data(r, bytes) {
    const out = bytes.slice();
    const end = headerEnd(out);
    if (end >= out.length) return out;
    for (let k = r.int(1, 8); k > 0; k--) out[r.int(end, out.length - 1)] = r.pick([0xff, 0x7f, 0x80, 0x00, r.int(0, 255)]);
    return out;
  },
};
