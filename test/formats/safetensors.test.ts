/**
 * safetensors reader and writer: a file whose bytes are built by hand in this test from the
 * format specification (8-byte little-endian header length, compact JSON with `__metadata__`
 * first, space padding to a multiple of 8, data back to back) is read correctly and is exactly
 * what our writer produces; round trips for every supported dtype; and each malformed case is
 * refused with a message naming the file and tensor.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "../../src/formats/safetensors/reader.ts";
import { encodeSafetensorsHeader, writeSafetensors, type SafetensorsTensorSpec } from "../../src/formats/safetensors/writer.ts";
import { SUPPORTED_SAFETENSORS_DTYPES } from "../../src/formats/safetensors/dtypes.ts";
import { bufferSource } from "../../src/formats/source.ts";
import { memorySink } from "../../src/formats/sink.ts";
import { rng } from "./helpers.ts";

/** A safetensors file assembled directly from the spec. */
function handMade(json: string, data: number[]): Uint8Array {
  const text = new TextEncoder().encode(json);
  const padded = Math.ceil(text.length / 8) * 8;
  const out = new Uint8Array(8 + padded + data.length);
  let n = padded;
  for (let i = 0; i < 8; i++) {
    out[i] = n % 256;
    n = Math.floor(n / 256);
  }
  out.set(text, 8);
  out.fill(0x20, 8 + text.length, 8 + padded);
  out.set(data, 8 + padded);
  return out;
}

const f32 = (xs: number[]) => [...new Uint8Array(new Float32Array(xs).buffer)];

describe("safetensors: a hand-built file", () => {
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"a.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},' +
    '"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]},' +
    '"c":{"dtype":"U8","shape":[2,1],"data_offsets":[22,24]}}';
  const data = [...f32([1, 2, 3, -4]), 0x80, 0x3f, 0x00, 0x40, 0x40, 0xc0, 7, 9];
  const bytes = handMade(json, data);

  it("is read as the spec says", async () => {
    const file = await readSafetensors(bufferSource(bytes, "hand.safetensors"));
    assert.deepStrictEqual(file.metadata, { format: "pt" });
    const headerLen = Math.ceil(json.length / 8) * 8;
    assert.equal(file.dataOffset, 8 + headerLen);
    assert.deepStrictEqual(
      file.tensors.map((t) => [t.name, t.dtype, t.shape, t.offset - file.dataOffset, t.byteSize]),
      [
        ["a.weight", "F32", [2, 2], 0, 16],
        ["b", "BF16", [3], 16, 6],
        ["c", "U8", [2, 1], 22, 2],
      ],
    );
    assert.deepStrictEqual([...new Float32Array((await file.readTensor("a.weight")).slice().buffer)], [1, 2, 3, -4]);
    assert.deepStrictEqual([...(await file.readTensor("b"))], [0x80, 0x3f, 0x00, 0x40, 0x40, 0xc0]);
    assert.deepStrictEqual([...(await file.readTensor("c"))], [7, 9]);
  });

  it("is byte for byte what our writer produces for the same tensors", async () => {
    const sink = memorySink();
    const specs: SafetensorsTensorSpec[] = [
      { name: "a.weight", dtype: "F32", shape: [2, 2] },
      { name: "b", dtype: "BF16", shape: [3] },
      { name: "c", dtype: "U8", shape: [2, 1] },
    ];
    const chunks = [data.slice(0, 16), data.slice(16, 22), data.slice(22)].map((d) => Uint8Array.from(d));
    await writeSafetensors(sink, specs, (i) => chunks[i], { metadata: { format: "pt" } });
    assert.deepStrictEqual(sink.bytes(), bytes);
  });
});

describe("safetensors: write -> read round trip for each dtype", () => {
  for (const dtype of SUPPORTED_SAFETENSORS_DTYPES) {
    it(dtype, async () => {
      const r = rng(dtype.length * 31 + dtype.charCodeAt(0));
      const item = dtype === "F32" ? 4 : dtype === "U8" || dtype === "I8" ? 1 : 2;
      const specs: SafetensorsTensorSpec[] = [
        { name: "model.layers.0.mlp.up_proj.weight", dtype, shape: [3, 5] },
        { name: "scalar", dtype, shape: [] },
        { name: "empty", dtype, shape: [0, 4] },
        { name: "7", dtype, shape: [4] }, // looks like an integer: JSON key order must not move it
      ];
      const data = specs.map((s) => Uint8Array.from({ length: s.shape.reduce((a, b) => a * b, 1) * item }, () => r.int(0, 255)));
      const sink = memorySink();
      await writeSafetensors(sink, specs, (i) => data[i]);
      const out = sink.bytes();
      const headerLen = Number(new DataView(out.buffer).getBigUint64(0, true));
      assert.equal(headerLen % 8, 0);
      const file = await readSafetensors(bufferSource(out, `${dtype}.safetensors`));
      assert.deepStrictEqual(
        file.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
        specs.map((s) => ({ ...s, shape: [...s.shape] })),
      );
      for (let i = 0; i < specs.length; i++) assert.deepStrictEqual(await file.readTensor(specs[i].name), data[i]);
    });
  }
});

describe("safetensors reader refuses malformed files", () => {
  const NAME = "bad.safetensors";
  const expectError = async (bytes: Uint8Array, re: RegExp) =>
    assert.rejects(readSafetensors(bufferSource(bytes, NAME)), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.ok(err.message.startsWith(`${NAME}: `), err.message);
      assert.match(err.message, re);
      return true;
    });
  const entry = (dtype: string, shape: number[], offsets: number[]) => JSON.stringify({ dtype, shape, data_offsets: offsets });

  it("truncated before the header length", async () => {
    await expectError(new Uint8Array(5), /truncated: a safetensors file needs at least 8 bytes/);
  });
  it("header length over the cap or past the end", async () => {
    const big = new Uint8Array(16);
    new DataView(big.buffer).setBigUint64(0, 200_000_000n, true);
    await expectError(big, /header length 200000000 is larger than the limit of 100000000 bytes/);
    const past = new Uint8Array(16);
    new DataView(past.buffer).setBigUint64(0, 64n, true);
    await expectError(past, /truncated: safetensors header length 64 goes past the end of the file \(16 bytes\)/);
  });
  it("header that is not JSON or not an object", async () => {
    await expectError(handMade("{nope", []), /header is not valid JSON/);
    await expectError(handMade("[1,2]", []), /header is not a JSON object/);
    await expectError(handMade('{"__metadata__":{"a":1}}', []), /__metadata__ entry 'a' is 1, not a string/);
  });
  it("unknown dtype", async () => {
    await expectError(handMade(`{"w":${entry("F7", [1], [0, 1])}}`, [0]), /tensor 'w': unknown dtype "F7"/);
  });
  it("a dtype bitnet-ts does not read is refused when read, naming tensor and dtype", async () => {
    const file = await readSafetensors(bufferSource(handMade(`{"ids":${entry("I64", [2], [0, 16])}}`, new Array(16).fill(0)), NAME));
    assert.equal(file.tensors[0].supported, false);
    await assert.rejects(file.readTensor("ids"), /bad\.safetensors: tensor 'ids' has dtype I64, which bitnet-ts does not read/);
  });
  it("data offsets out of range, reversed, or not matching the shape", async () => {
    await expectError(handMade(`{"w":${entry("F32", [2], [0, 8])}}`, [0, 0, 0, 0]), /tensor 'w': data_offsets \[0, 8\] go past the end of the data \(4 bytes\)/);
    await expectError(handMade(`{"w":${entry("F32", [1], [4, 0])}}`, [0, 0, 0, 0]), /tensor 'w': data_offsets \[4, 0\] end before they begin/);
    await expectError(handMade(`{"w":${entry("F32", [2], [0, 4])}}`, [0, 0, 0, 0]), /tensor 'w': data_offsets cover 4 bytes but shape \[2\] of F32 needs 8/);
    await expectError(handMade(`{"w":${entry("F32", [-1], [0, 4])}}`, [0, 0, 0, 0]), /tensor 'w': shape is \[-1\], not a list of non-negative integers/);
    await expectError(handMade(`{"w":{"dtype":"F32","shape":[1]}}`, [0, 0, 0, 0]), /tensor 'w': data_offsets is missing, not a pair/);
  });
  it("overlapping tensors", async () => {
    await expectError(handMade(`{"a":${entry("F32", [2], [0, 8])},"b":${entry("F32", [1], [4, 8])}}`, new Array(8).fill(0)), /tensor 'b' \(data_offsets \[4, 8\]\) overlaps tensor 'a' \(\[0, 8\]\)/);
  });
});

describe("safetensors writer", () => {
  it("refuses bad specs and wrong data lengths, aborting the sink", async () => {
    assert.throws(() => encodeSafetensorsHeader([{ name: "w", dtype: "F32", shape: [1] }, { name: "w", dtype: "F32", shape: [1] }]), /tensor 'w': appears twice/);
    assert.throws(() => encodeSafetensorsHeader([{ name: "__metadata__", dtype: "F32", shape: [1] }]), /invalid tensor name/);
    assert.throws(() => encodeSafetensorsHeader([{ name: "w", dtype: "Q4" as "F32", shape: [1] }]), /tensor 'w': unknown dtype "Q4"/);
    assert.throws(() => encodeSafetensorsHeader([{ name: "w", dtype: "F32", shape: [1.5] }]), /tensor 'w': dimension 0 is 1\.5/);
    const sink = memorySink();
    await assert.rejects(writeSafetensors(sink, [{ name: "w", dtype: "F16", shape: [3] }], () => new Uint8Array(4)), /tensor 'w': got 4 bytes of data, expected 6/);
    assert.throws(() => sink.bytes(), /aborted/);
  });
});
