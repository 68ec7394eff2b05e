/**
 * The GGUF reader against the independent @huggingface/gguf reader on every fixture (written by
 * gguf-py and bitnet.cpp's llama-quantize), plus tensor sizes from the format definitions,
 * lazy reading, and a header written by @huggingface/gguf's own serializer.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { GGUFValueType as TheirValueType, serializeGgufMetadata, type GGUFTypedMetadata } from "@huggingface/gguf";
import { readGGUF, type GGUFFile } from "../../src/formats/gguf/reader.ts";
import { bufferSource, type ByteSource } from "../../src/formats/source.ts";
import { openFileSource } from "../../src/node/file-source.ts";
import { fixtureGGUFs, readWithHuggingFace } from "./helpers.ts";

/** Bytes per tensor from the format definitions (SPEC.md §3, ggml): independent of types.ts. */
function specByteSize(type: number, shape: number[]): number {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (type) {
    case 0:
      return 4 * n; // f32
    case 1:
      return 2 * n; // f16
    case 34:
      return (n / 256) * 54; // tq1_0: qs[48] qh[4] d(f16)
    case 35:
      return (n / 256) * 66; // tq2_0: qs[64] d(f16)
    case 36:
      return n / 4 + 32; // i2_s: 2 bits a value, then a 32-byte tail holding the f32 scale
    default:
      throw new Error(`no spec size for type ${type}`);
  }
}

function ourTypes(file: GGUFFile): Record<string, { type: number; subType?: number }> {
  const out: Record<string, { type: number; subType?: number }> = {};
  for (const [k, d] of Object.entries(file.metadataTypes)) out[k] = "subType" in d ? { type: d.type, subType: d.subType } : { type: d.type };
  return out;
}

describe("GGUF reader agrees with @huggingface/gguf on the fixtures", () => {
  assert.ok(fixtureGGUFs.length >= 4, "fixtures found");
  for (const path of fixtureGGUFs) {
    it(basename(path), async () => {
      const source = await openFileSource(path);
      try {
        const ours = await readGGUF(source);
        const theirs = await readWithHuggingFace(path);
        assert.equal(ours.version, 3);
        assert.deepStrictEqual(ours.metadata, theirs.metadata);
        assert.deepStrictEqual(ourTypes(ours), theirs.types);
        assert.deepStrictEqual(ours.metadataKeys, Object.keys(theirs.metadata));
        assert.deepStrictEqual(
          ours.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type, absoluteOffset: ours.dataOffset + t.offset })),
          theirs.tensors,
        );
        for (const t of ours.tensors) assert.equal(t.byteSize, specByteSize(t.type, t.shape), t.name);
        assert.equal(ours.alignment, 32);
      } finally {
        await source.close();
      }
    });
  }
});

describe("GGUF reader reads tensor bytes", () => {
  it("readTensor returns exactly the bytes at the offset @huggingface/gguf computes", async () => {
    const path = fixtureGGUFs.find((p) => p.endsWith("bitnet-b158-tiny-i2_s.gguf")) as string;
    const whole = readFileSync(path);
    const theirs = await readWithHuggingFace(path);
    const file = await readGGUF(bufferSource(whole, path));
    for (const t of theirs.tensors) {
      const info = file.tensor(t.name);
      assert.ok(info, t.name);
      const bytes = await file.readTensor(t.name);
      assert.deepStrictEqual(bytes, new Uint8Array(whole.buffer, whole.byteOffset + t.absoluteOffset, info.byteSize));
    }
    await assert.rejects(file.readTensor("nope"), /bitnet-b158-tiny-i2_s\.gguf: no tensor named 'nope'/);
  });

  it("plain.f32 in tq-layout.gguf decodes to finite floats of the documented shape", async () => {
    const path = fixtureGGUFs.find((p) => p.endsWith("tq-layout.gguf")) as string;
    const file = await readGGUF(bufferSource(readFileSync(path), path));
    const t = file.tensor("plain.f32");
    assert.deepStrictEqual(t?.shape, [5]);
    const bytes = await file.readTensor("plain.f32");
    const values = new Float32Array(bytes.slice().buffer);
    assert.equal(values.length, 5);
    assert.ok(values.every(Number.isFinite));
  });

  it("parses the header without reading tensor data, and reads one tensor alone", async () => {
    const big = 4 << 20;
    const bytes = new Uint8Array(64 + big);
    const view = new DataView(bytes.buffer);
    const enc = new TextEncoder();
    bytes.set(enc.encode("GGUF"), 0);
    view.setUint32(4, 3, true);
    view.setBigUint64(8, 1n, true); // one tensor
    view.setBigUint64(16, 0n, true); // no metadata
    view.setBigUint64(24, 1n, true);
    bytes[32] = "w".charCodeAt(0);
    view.setUint32(33, 1, true); // n_dims
    view.setBigUint64(37, BigInt(big / 4), true);
    view.setUint32(45, 0, true); // f32
    view.setBigUint64(49, 0n, true); // offset; header ends at 57, data at 64
    bytes.fill(7, 64);
    const counted = countingSource(bufferSource(bytes, "big.gguf"));
    const file = await readGGUF(counted.source);
    assert.equal(file.dataOffset, 64);
    assert.ok(counted.bytesRead() <= (1 << 20) + 64, `header parse read ${counted.bytesRead()} bytes`);
    const before = counted.bytesRead();
    const t = await file.readTensor("w");
    assert.equal(counted.bytesRead() - before, big);
    assert.ok(t.every((b) => b === 7));
  });
});

describe("GGUF reader on a header written by @huggingface/gguf's serializer", () => {
  it("reads every scalar and array type back", async () => {
    const T = TheirValueType;
    const typed = {
      version: { value: 3, type: T.UINT32 },
      tensor_count: { value: 0n, type: T.UINT64 },
      kv_count: { value: 0n, type: T.UINT64 },
      "t.u8": { value: 200, type: T.UINT8 },
      "t.i8": { value: -100, type: T.INT8 },
      "t.u16": { value: 60000, type: T.UINT16 },
      "t.i16": { value: -30000, type: T.INT16 },
      "t.u32": { value: 4000000000, type: T.UINT32 },
      "t.i32": { value: -2000000000, type: T.INT32 },
      "t.f32": { value: Math.fround(0.1), type: T.FLOAT32 },
      "t.bool": { value: true, type: T.BOOL },
      "t.str": { value: "héllo ✓", type: T.STRING },
      "t.u64": { value: 18446744073709551615n, type: T.UINT64 },
      "t.i64": { value: -5n, type: T.INT64 },
      "t.f64": { value: 1e-300, type: T.FLOAT64 },
      "t.arr_str": { value: ["a", "", "ü"], type: T.ARRAY, subType: T.STRING },
      "t.arr_i32": { value: [1, -2, 3], type: T.ARRAY, subType: T.INT32 },
    } as unknown as GGUFTypedMetadata; // their type demands the model-specific keys; a plain test header has none
    const bytes = serializeGgufMetadata(typed);
    const file = await readGGUF(bufferSource(bytes, "hf-serialized.gguf"));
    assert.deepStrictEqual(file.metadata, {
      "t.u8": 200,
      "t.i8": -100,
      "t.u16": 60000,
      "t.i16": -30000,
      "t.u32": 4000000000,
      "t.i32": -2000000000,
      "t.f32": Math.fround(0.1),
      "t.bool": true,
      "t.str": "héllo ✓",
      "t.u64": 18446744073709551615n,
      "t.i64": -5,
      "t.f64": 1e-300,
      "t.arr_str": ["a", "", "ü"],
      "t.arr_i32": [1, -2, 3],
    });
    assert.deepStrictEqual(file.metadataTypes["t.arr_i32"], { type: 9, subType: 5 });
    assert.deepStrictEqual(file.metadataTypes["t.u64"], { type: 10 });
    assert.equal(file.tensors.length, 0);
  });
});

function countingSource(inner: ByteSource): { source: ByteSource; bytesRead(): number } {
  let n = 0;
  return {
    source: {
      name: inner.name,
      size: inner.size,
      read: (o, l) => {
        n += l;
        return inner.read(o, l);
      },
      close: () => inner.close(),
    },
    bytesRead: () => n,
  };
}
