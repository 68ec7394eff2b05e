/**
 * GGUF writer round trips: every fixture read and written back is byte-identical; random
 * synthetic files (metadata of every type including nested arrays, tensors of f32, f16, tq2_0,
 * tq1_0 and i2_s) read back equal with our reader and with @huggingface/gguf; a vocabulary big
 * enough to span several header chunks; the type inference rule; streaming order and abort.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { readGGUF } from "../../src/formats/gguf/reader.ts";
import { encodeGGUFHeader, ggufMetadataEntries, writeGGUF, type GGUFMetadataEntry, type GGUFTensorSpec } from "../../src/formats/gguf/writer.ts";
import { GGUFValueType as V, type GGUFScalarTypeId, type GGUFValue, type GGUFValueTypeDescriptor } from "../../src/formats/gguf/value-types.ts";
import { bufferSource } from "../../src/formats/source.ts";
import { memorySink, type ByteSink } from "../../src/formats/sink.ts";
import { openFileSource } from "../../src/node/file-source.ts";
import { atomicFileSink } from "../../src/node/atomic-file-sink.ts";
import { fixtureGGUFs, readWithHuggingFace, rng, tempDir } from "./helpers.ts";

const tmp = tempDir("gguf-roundtrip");
after(() => tmp.remove());

describe("GGUF read -> write reproduces every fixture byte for byte", () => {
  for (const path of fixtureGGUFs) {
    it(basename(path), async () => {
      const original = readFileSync(path);
      const file = await readGGUF(bufferSource(original, path));
      const sink = memorySink();
      const layout = await writeGGUF(sink, { metadata: ggufMetadataEntries(file), tensors: file.tensors }, (i) => file.readTensor(file.tensors[i]));
      const written = sink.bytes();
      assert.equal(layout.fileSize, original.byteLength);
      assert.equal(layout.dataOffset, file.dataOffset);
      assert.ok(Buffer.from(written).equals(original), "bytes differ");
    });
  }
});

type Rand = ReturnType<typeof rng>;

const SCALARS: GGUFScalarTypeId[] = [V.UINT8, V.INT8, V.UINT16, V.INT16, V.UINT32, V.INT32, V.FLOAT32, V.BOOL, V.STRING, V.UINT64, V.INT64, V.FLOAT64];
const TEXTS = ["", "a", "hello world", "héllo", "日本語", "emoji 🦙", "<0x0A>", "▁the", "tab\tnew\nline", "\u0000nul"];

/** A random value of a scalar type, already in the form our reader returns (64-bit safe ints as numbers). */
function randomScalar(r: Rand, t: GGUFScalarTypeId): GGUFValue {
  const int = (lo: number, hi: number) => r.int(lo, hi);
  switch (t) {
    case V.UINT8:
      return int(0, 255);
    case V.INT8:
      return int(-128, 127);
    case V.UINT16:
      return int(0, 65535);
    case V.INT16:
      return int(-32768, 32767);
    case V.UINT32:
      return r.pick([0, 1, 0xffffffff, int(0, 0xffffffff)]);
    case V.INT32:
      return r.pick([-0x80000000, 0x7fffffff, int(-0x80000000, 0x7fffffff)]);
    case V.FLOAT32:
      return r.pick([NaN, Infinity, -Infinity, -0, Math.fround(1e-5), Math.fround((r.next() - 0.5) * 1e6)]);
    case V.FLOAT64:
      return r.pick([NaN, -0, 5e-324, 1.7976931348623157e308, (r.next() - 0.5) * 1e12]);
    case V.BOOL:
      return r.next() < 0.5;
    case V.STRING:
      return r.pick(TEXTS) + (r.next() < 0.3 ? String(int(0, 1e6)) : "");
    case V.UINT64:
      return r.pick<GGUFValue>([0, Number.MAX_SAFE_INTEGER, 2n ** 64n - 1n, 2n ** 53n, int(0, 1e9)]);
    case V.INT64:
      return r.pick<GGUFValue>([-(2n ** 63n), 2n ** 63n - 1n, -(2n ** 53n), Number.MIN_SAFE_INTEGER, int(-1e9, 1e9)]);
  }
}

function randomValue(r: Rand, depth: number): { value: GGUFValue; type: GGUFValueTypeDescriptor } {
  const roll = r.next();
  if (roll < 0.55 || depth >= 3) {
    const t = r.pick(SCALARS);
    return { value: randomScalar(r, t), type: { type: t } };
  }
  const n = r.int(0, 6);
  if (roll < 0.85 || depth >= 2) {
    const sub = r.pick(SCALARS);
    return { value: Array.from({ length: n }, () => randomScalar(r, sub)), type: { type: V.ARRAY, subType: sub } };
  }
  return randomArrayOfArrays(r, n, 0);
}

/** An array whose items are arrays, each with its own element type; some items nest one level more. */
function randomArrayOfArrays(r: Rand, n: number, depth: number): { value: GGUFValue; type: GGUFValueTypeDescriptor } {
  const inner = Array.from({ length: n }, (): { value: GGUFValue; type: GGUFValueTypeDescriptor } => {
    if (depth < 1 && r.next() < 0.3) return randomArrayOfArrays(r, r.int(0, 3), depth + 1);
    const sub = r.pick(SCALARS);
    return { value: Array.from({ length: r.int(0, 4) }, () => randomScalar(r, sub)), type: { type: V.ARRAY, subType: sub } };
  });
  return { value: inner.map((x) => x.value), type: { type: V.ARRAY, subType: V.ARRAY, items: inner.map((x) => x.type) } };
}

const TENSOR_TYPES = [
  { id: 0, block: 1 },
  { id: 1, block: 1 },
  { id: 35, block: 256 },
  { id: 34, block: 256 },
  { id: 36, block: 128 },
];

function randomFile(seed: number): { metadata: GGUFMetadataEntry[]; tensors: GGUFTensorSpec[]; data: Uint8Array[]; alignment: number } {
  const r = rng(seed);
  const alignment = r.pick([32, 32, 16, 64, 128]);
  const metadata: GGUFMetadataEntry[] = [{ key: "general.architecture", value: "synthetic", type: { type: V.STRING } }];
  if (alignment !== 32 || r.next() < 0.3) metadata.push({ key: "general.alignment", value: alignment, type: { type: V.UINT32 } });
  const nKeys = r.int(0, 14);
  for (let i = 0; i < nKeys; i++) metadata.push({ key: `synthetic.k${i}.${r.int(0, 999)}`, ...randomValue(r, 0) });
  const tensors: GGUFTensorSpec[] = [];
  const nTensors = r.int(0, 6);
  for (let i = 0; i < nTensors; i++) {
    const tt = r.pick(TENSOR_TYPES);
    const ne0 = tt.block * r.int(1, tt.block === 1 ? 40 : 3);
    const shape = [ne0, ...Array.from({ length: r.int(0, 3) }, () => r.int(1, 3))];
    tensors.push({ name: `blk.${i}.t${r.int(0, 99)}.weight`, shape, type: tt.id });
  }
  const sizes = encodeGGUFHeader({ metadata, tensors }).tensors.map((t) => t.byteSize);
  const data = sizes.map((n) => Uint8Array.from({ length: n }, () => r.int(0, 255)));
  return { metadata, tensors, data, alignment };
}

describe("random synthetic GGUF files: write, then read with ours and @huggingface/gguf", () => {
  it("the seeds cover every value type, nested arrays, every tensor type and several alignments", () => {
    const valueTypes = new Set<string>();
    const tensorTypes = new Set<number>();
    const alignments = new Set<number>();
    const visit = (d: GGUFValueTypeDescriptor, depth: number) => {
      valueTypes.add(d.type === V.ARRAY ? `array<${d.subType}>@${Math.min(depth, 1)}` : String(d.type));
      if (d.type === V.ARRAY && d.subType === V.ARRAY) d.items.forEach((x) => visit(x, depth + 1));
    };
    for (let seed = 1; seed <= 24; seed++) {
      const spec = randomFile(seed);
      spec.metadata.forEach((e) => visit(e.type as GGUFValueTypeDescriptor, 0));
      spec.tensors.forEach((t) => tensorTypes.add(t.type));
      alignments.add(spec.alignment);
    }
    for (const t of SCALARS) {
      assert.ok(valueTypes.has(String(t)), `scalar ${t}`);
      assert.ok(valueTypes.has(`array<${t}>@0`), `array of ${t}`);
    }
    assert.ok(valueTypes.has(`array<${V.ARRAY}>@0`) && valueTypes.has(`array<${V.ARRAY}>@1`), "nested arrays, two levels");
    assert.deepStrictEqual([...tensorTypes].sort((a, b) => a - b), [0, 1, 34, 35, 36]);
    assert.ok(alignments.size >= 3);
  });

  for (let seed = 1; seed <= 24; seed++) {
    it(`seed ${seed}`, async () => {
      const spec = randomFile(seed);
      const path = join(tmp.path, `synthetic-${seed}.gguf`);
      const sink = await atomicFileSink(path);
      await writeGGUF(sink, { metadata: spec.metadata, tensors: spec.tensors }, (i) => spec.data[i]);

      const source = await openFileSource(path);
      const ours = await readGGUF(source);
      try {
        assert.equal(ours.alignment, spec.alignment);
        assert.deepStrictEqual(ours.metadataKeys, spec.metadata.map((e) => e.key));
        for (const e of spec.metadata) {
          assert.deepStrictEqual(ours.metadata[e.key], e.value, e.key);
          assert.deepStrictEqual(ours.metadataTypes[e.key], e.type, e.key);
        }
        assert.deepStrictEqual(
          ours.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type })),
          spec.tensors.map((t) => ({ ...t, shape: [...t.shape] })),
        );
        for (let i = 0; i < spec.tensors.length; i++) {
          assert.deepStrictEqual(await ours.readTensor(spec.tensors[i].name), spec.data[i]);
          assert.equal(ours.tensors[i].offset % spec.alignment, 0);
        }

        const theirs = await readWithHuggingFace(path);
        assert.deepStrictEqual(theirs.metadata, ours.metadata);
        for (const e of spec.metadata) {
          const d = e.type as { type: number; subType?: number };
          assert.deepStrictEqual(theirs.types[e.key], d.subType === undefined ? { type: d.type } : { type: d.type, subType: d.subType }, e.key);
        }
        assert.deepStrictEqual(
          theirs.tensors,
          ours.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type, absoluteOffset: ours.dataOffset + t.offset })),
        );

        // And the written file survives its own round trip unchanged.
        const again = memorySink();
        await writeGGUF(again, { metadata: ggufMetadataEntries(ours), tensors: ours.tensors }, (i) => ours.readTensor(ours.tensors[i]));
        assert.ok(Buffer.from(again.bytes()).equals(readFileSync(path)));
      } finally {
        await source.close();
      }
    });
  }
});

describe("a header larger than the reader's chunk", () => {
  it("an 80k-token vocabulary (several 1 MiB chunks) reads back equal, and @huggingface/gguf agrees", async () => {
    const r = rng(99);
    const tokens = Array.from({ length: 80_000 }, (_, i) => `tok${i}${"▁ab日"[i % 4].repeat(r.int(0, 24))}`);
    const scores = tokens.map(() => Math.fround(r.next() * -20));
    const types = tokens.map((_, i) => (i < 3 ? 3 : 1));
    const metadata: GGUFMetadataEntry[] = [
      { key: "general.architecture", value: "llama" },
      { key: "tokenizer.ggml.tokens", value: tokens },
      { key: "tokenizer.ggml.scores", value: scores, type: { type: V.ARRAY, subType: V.FLOAT32 } },
      { key: "tokenizer.ggml.token_type", value: types, type: { type: V.ARRAY, subType: V.INT32 } },
    ];
    const tensors: GGUFTensorSpec[] = [{ name: "token_embd.weight", shape: [8, 4], type: 0 }];
    const path = join(tmp.path, "big-vocab.gguf");
    await writeGGUF(await atomicFileSink(path), { metadata, tensors }, () => new Uint8Array(128).fill(3));
    const source = await openFileSource(path);
    try {
      const file = await readGGUF(source);
      assert.ok(file.dataOffset > 2 << 20, `header is ${file.dataOffset} bytes`);
      assert.deepStrictEqual(file.metadata["tokenizer.ggml.tokens"], tokens);
      assert.deepStrictEqual(file.metadata["tokenizer.ggml.scores"], scores);
      assert.deepStrictEqual(file.metadata["tokenizer.ggml.token_type"], types);
      const theirs = await readWithHuggingFace(path);
      assert.deepStrictEqual(theirs.metadata, file.metadata);
      assert.equal(theirs.tensors[0].absoluteOffset, file.dataOffset);
      await assert.rejects(readGGUF(source, { maxHeaderBytes: 1 << 20 }), /big-vocab\.gguf: .*maxHeaderBytes \(1048576\)/);
    } finally {
      await source.close();
    }
  });
});

describe("GGUF writer", () => {
  it("infers u32, i32, f32, u64, i64, bool, string and array types by the documented rule", async () => {
    const meta: Record<string, GGUFValue> = {
      u32: 7,
      u32max: 0xffffffff,
      i32: -7,
      f32: 0.5,
      bigU: 2 ** 40,
      bigI: -(2 ** 40),
      u64: 5n,
      i64: -5n,
      bool: true,
      str: "x",
      arrU: [1, 2, 3],
      arrI: [1, -2],
      arrF: [1, 2.5],
      arrS: ["a", "b"],
      arrB: [true, false],
      nested: [[1], ["a", "b"]],
    };
    const sink = memorySink();
    await writeGGUF(sink, { metadata: meta, tensors: [] }, () => new Uint8Array(0));
    const file = await readGGUF(bufferSource(sink.bytes(), "inferred.gguf"));
    const t = (k: string) => file.metadataTypes[k];
    assert.deepStrictEqual(t("u32"), { type: V.UINT32 });
    assert.deepStrictEqual(t("u32max"), { type: V.UINT32 });
    assert.deepStrictEqual(t("i32"), { type: V.INT32 });
    assert.deepStrictEqual(t("f32"), { type: V.FLOAT32 });
    assert.deepStrictEqual(t("bigU"), { type: V.UINT64 });
    assert.deepStrictEqual(t("bigI"), { type: V.INT64 });
    assert.deepStrictEqual(t("u64"), { type: V.UINT64 });
    assert.deepStrictEqual(t("i64"), { type: V.INT64 });
    assert.deepStrictEqual(t("bool"), { type: V.BOOL });
    assert.deepStrictEqual(t("str"), { type: V.STRING });
    assert.deepStrictEqual(t("arrU"), { type: V.ARRAY, subType: V.UINT32 });
    assert.deepStrictEqual(t("arrI"), { type: V.ARRAY, subType: V.INT32 });
    assert.deepStrictEqual(t("arrF"), { type: V.ARRAY, subType: V.FLOAT32 });
    assert.deepStrictEqual(t("arrS"), { type: V.ARRAY, subType: V.STRING });
    assert.deepStrictEqual(t("arrB"), { type: V.ARRAY, subType: V.BOOL });
    assert.deepStrictEqual(t("nested"), { type: V.ARRAY, subType: V.ARRAY, items: [{ type: V.ARRAY, subType: V.UINT32 }, { type: V.ARRAY, subType: V.STRING }] });
    assert.equal(file.metadata.u64, 5);
    assert.equal(file.metadata.bigI, -(2 ** 40));
  });

  it("refuses values that do not fit their type, naming the key", async () => {
    const bad: [GGUFMetadataEntry, RegExp][] = [
      [{ key: "a.u8", value: 256, type: { type: V.UINT8 } }, /metadata key 'a\.u8': 256 is out of range for u8/],
      [{ key: "a.i32", value: 1.5, type: { type: V.INT32 } }, /metadata key 'a\.i32': 1\.5 is not an integer/],
      [{ key: "a.s", value: 3, type: { type: V.STRING } }, /metadata key 'a\.s': expected a string/],
      [{ key: "a.arr", value: [1, "x"], type: { type: V.ARRAY, subType: V.UINT32 } }, /metadata key 'a\.arr'\[1\]/],
      [{ key: "a.empty", value: [] }, /metadata key 'a\.empty': cannot infer the element type of an empty array/],
      [{ key: "a.mixed", value: [1, "x"] }, /metadata key 'a\.mixed': an array mixes/],
      [{ key: "general.alignment", value: 48, type: { type: V.UINT32 } }, /alignment must be a non-zero power of two, got 48/],
    ];
    for (const [entry, re] of bad) {
      assert.throws(() => encodeGGUFHeader({ metadata: [entry], tensors: [] }), re);
    }
    assert.throws(() => encodeGGUFHeader({ metadata: [{ key: "k", value: 1 }, { key: "k", value: 2 }], tensors: [] }), /metadata key 'k' appears twice/);
  });

  it("refuses bad tensors, naming the tensor", () => {
    const check = (t: GGUFTensorSpec, re: RegExp) => assert.throws(() => encodeGGUFHeader({ metadata: {}, tensors: [t] }), re);
    check({ name: "w", shape: [100], type: 35 }, /tensor 'w': tq2_0 needs a row length \(ne\[0\]\) divisible by 256, got 100/);
    check({ name: "w", shape: [4, 0], type: 0 }, /tensor 'w': dimension 1 is 0/);
    check({ name: "w", shape: [1, 1, 1, 1, 1], type: 0 }, /tensor 'w': has 5 dimensions, more than 4/);
    check({ name: "w", shape: [4], type: 39 }, /tensor 'w': unknown ggml type id 39 \(ids 36-39 differ/);
    check({ name: "x".repeat(64), shape: [4], type: 0 }, /name is 64 bytes or longer/);
    assert.throws(
      () => encodeGGUFHeader({ metadata: {}, tensors: [{ name: "w", shape: [4], type: 0 }, { name: "w", shape: [4], type: 0 }] }),
      /tensor 'w': appears twice/,
    );
  });

  it("asks for each tensor's data only after the previous one is written", async () => {
    const written: number[] = [];
    const events: string[] = [];
    const sink: ByteSink = {
      write: async (c) => {
        written.push(c.byteLength);
      },
      commit: async () => {
        events.push("commit");
      },
      abort: async () => {
        events.push("abort");
      },
    };
    const tensors = [0, 1, 2].map((i) => ({ name: `t${i}`, shape: [8], type: 0 }));
    const totals: number[] = [];
    await writeGGUF(sink, { metadata: {}, tensors }, (i) => {
      totals.push(written.reduce((a, b) => a + b, 0));
      events.push(`data ${i}`);
      return new Uint8Array(32);
    });
    assert.deepStrictEqual(events, ["data 0", "data 1", "data 2", "commit"]);
    const layout = encodeGGUFHeader({ metadata: {}, tensors });
    assert.deepStrictEqual(totals, [layout.dataOffset, layout.dataOffset + 32, layout.dataOffset + 64]);
  });

  it("aborts the sink when a tensor's data has the wrong length, leaving no file", async () => {
    const path = join(tmp.path, "aborted.gguf");
    const sink = await atomicFileSink(path);
    await assert.rejects(
      writeGGUF(sink, { metadata: {}, tensors: [{ name: "w", shape: [256, 2], type: 35 }] }, () => new Uint8Array(10)),
      /tensor 'w': got 10 bytes of data, expected 132/,
    );
    assert.equal(existsSync(path), false);
    assert.deepStrictEqual(readdirSync(tmp.path).filter((f) => f.includes("aborted")), []);
  });

  it("writes a non-default alignment into general.alignment and aligns every tensor to it", async () => {
    const sink = memorySink();
    const tensors = [
      { name: "a", shape: [3], type: 0 },
      { name: "b", shape: [5], type: 1 },
    ];
    await writeGGUF(sink, { metadata: { "general.architecture": "x" }, tensors, alignment: 256 }, (i) => new Uint8Array(i === 0 ? 12 : 10));
    const file = await readGGUF(bufferSource(sink.bytes(), "aligned.gguf"));
    assert.equal(file.metadata["general.alignment"], 256);
    assert.equal(file.alignment, 256);
    assert.equal(file.dataOffset % 256, 0);
    assert.deepStrictEqual(file.tensors.map((t) => t.offset), [0, 256]);
    assert.equal(sink.bytes().byteLength, file.dataOffset + 512);
  });
});
