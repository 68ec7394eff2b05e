/**
 * Test helper: read tensors of the reference GGUF fixtures with the independent reader @huggingface/gguf
 * (tensor table) and node:fs (bytes), so no bitnet-ts GGUF code is involved.
 */
import { readFileSync } from "node:fs";
import { gguf } from "@huggingface/gguf";

import { FIXTURES_DIR as FIXTURES } from "../helpers/fixtures.ts";
export { FIXTURES };

export interface FixtureTensor {
  name: string;
  /** GGUF order: shape[0] = ne[0]. */
  shape: number[];
  type: number;
  /** Exactly the tensor's data bytes. */
  bytes: Uint8Array;
}

/** Byte size of a tensor as the file lays it out (for the types the fixtures use). */
function byteSize(type: number, shape: number[]): number {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (type) {
    case 0: return n * 4;
    case 1: return n * 2;
    case 34: return (n / 256) * 54;
    case 35: return (n / 256) * 66;
    case 36: return n / 4 + 32;
    default: throw new Error(`fixture helper: type ${type} not handled`);
  }
}

export async function readFixture(file: string): Promise<Map<string, FixtureTensor>> {
  const path = `${FIXTURES}/${file}`;
  const parsed = await gguf(path, { allowLocalFile: true });
  const data = readFileSync(path);
  const base = Number(parsed.tensorDataOffset);
  const out = new Map<string, FixtureTensor>();
  for (const t of parsed.tensorInfos) {
    const shape = t.shape.map(Number);
    const type = Number(t.dtype);
    const off = base + Number(t.offset);
    const size = byteSize(type, shape);
    // A fresh copy so that each tensor starts at byteOffset 0 of its own buffer.
    const bytes = new Uint8Array(data.buffer.slice(data.byteOffset + off, data.byteOffset + off + size));
    out.set(t.name, { name: t.name, shape, type, bytes });
  }
  return out;
}

/** Float32 values of an F32 fixture tensor. */
export function f32Of(t: FixtureTensor): Float32Array {
  if (t.type !== 0) throw new Error(`${t.name} is not F32`);
  return new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.length / 4);
}
