/**
 * safetensors files built to hurt the reader: a shape nested thousands of levels deep, a zero-size
 * tensor that hides an overlap, holes and trailing bytes in the data, a header of nested brackets
 * and a header of a huge number of empty tensors. Each is refused quickly with one InvalidFileError
 * line naming the file, as the reference implementation (Hugging Face safetensors) refuses them;
 * `"__metadata__": null`, which the reference accepts, is accepted.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { InvalidFileError } from "../../src/errors.ts";
import { readSafetensors } from "../../src/formats/safetensors/reader.ts";
import { bufferSource } from "../../src/formats/source.ts";
import { openSafetensors } from "../../src/node/safetensors-dir.ts";
import { tempDir } from "./helpers.ts";

const NAME = "hostile.safetensors";

/** 8-byte length, the JSON text as given (no padding), then the data. */
function file(json: string, dataBytes: number): Uint8Array {
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return out;
}

const entry = (dtype: string, shape: number[], offsets: [number, number]) => JSON.stringify({ dtype, shape, data_offsets: offsets });

/** Refused with a one-line InvalidFileError that names the file and matches `re`, within `ms`. */
async function refused(bytes: Uint8Array, re: RegExp, ms = 1000): Promise<void> {
  const t0 = performance.now();
  await assert.rejects(readSafetensors(bufferSource(bytes, NAME)), (err: unknown) => {
    assert.ok(err instanceof InvalidFileError, `expected an InvalidFileError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${NAME}: `), err.message);
    assert.ok(!err.message.includes("\n"), "one line");
    assert.ok(err.message.length < 300, `a short message, got ${err.message.length} characters`);
    assert.match(err.message, re);
    return true;
  });
  const took = performance.now() - t0;
  assert.ok(took < ms, `took ${took.toFixed(0)} ms`);
}

describe("safetensors reader: hostile headers", () => {
  it("a shape nested 5000 levels deep is described, not stringified", async () => {
    const shape = "[".repeat(5000) + "]".repeat(5000);
    await refused(file(`{"w":{"dtype":"F32","shape":${shape},"data_offsets":[0,4]}}`, 4), /nested|shape/);
    // Shallow enough to parse: the message describes the value briefly.
    await refused(file(`{"w":{"dtype":"F32","shape":[[[1]]],"data_offsets":[0,4]}}`, 4), /tensor 'w': shape is a list of 1 item, not a list of non-negative integers/);
    await refused(file(`{"w":{"dtype":"${"F".repeat(5000)}","shape":[1],"data_offsets":[0,4]}}`, 4), /tensor 'w': unknown dtype "F{20,60}…"/);
  });

  it("a zero-size tensor inside tensor a does not hide tensor b overlapping a", async () => {
    const json = `{"a":${entry("F32", [2], [0, 8])},"z":${entry("U8", [0], [4, 4])},"b":${entry("F32", [1], [4, 8])}}`;
    await refused(file(json, 8), /tensor 'z' \(data_offsets \[4, 4\]\) overlaps tensor 'a' \(\[0, 8\]\)/);
    // Without the zero-size tensor the overlap was already found; it still is.
    await refused(file(`{"a":${entry("F32", [2], [0, 8])},"b":${entry("F32", [1], [4, 8])}}`, 8), /tensor 'b' \(data_offsets \[4, 8\]\) overlaps tensor 'a'/);
  });

  it("a hole between tensors, a hole before the first, and trailing bytes after the last", async () => {
    await refused(file(`{"a":${entry("F32", [1], [0, 4])},"b":${entry("F32", [1], [8, 12])}}`, 12), /bytes \[4, 8\) of the data belong to no tensor \(before tensor 'b'\)/);
    await refused(file(`{"b":${entry("F32", [1], [4, 8])}}`, 8), /bytes \[0, 4\) of the data belong to no tensor \(before tensor 'b'\)/);
    await refused(file(`{"a":${entry("F32", [1], [0, 4])}}`, 8), /bytes \[4, 8\) of the data belong to no tensor \(after the last tensor\)/);
    await refused(file(`{}`, 3), /bytes \[0, 3\) of the data belong to no tensor/);
  });

  it("zero-size tensors at a tensor boundary are fine, as in the reference", async () => {
    const json = `{"e0":${entry("F32", [0], [0, 0])},"a":${entry("F32", [1], [0, 4])},"e1":${entry("U8", [0, 3], [4, 4])},"b":${entry("F16", [2], [4, 8])},"e2":${entry("I8", [0], [8, 8])}}`;
    const f = await readSafetensors(bufferSource(file(json, 8), NAME));
    assert.deepStrictEqual(
      f.tensors.map((t) => t.name),
      ["e0", "a", "e1", "b", "e2"],
    );
  });

  it("an 8 MB header of nested brackets is refused at once", async () => {
    const n = 4_000_000;
    await refused(file(`{"x":${"[".repeat(n)}${"]".repeat(n)}}`, 0), /nested more than \d+ levels deep/, 1500);
    // Brackets inside strings do not count.
    const f = await readSafetensors(bufferSource(file(`{"__metadata__":{"k":"${"[{".repeat(1000)}"}}`, 0), NAME));
    assert.equal(f.metadata.k.length, 2000);
  });

  it("a header of 200,000 empty tensors is refused before it is parsed", async () => {
    const parts: string[] = [];
    for (let i = 0; i < 200_000; i++) parts.push(`"t${i}":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`);
    await refused(file(`{${parts.join(",")}}`, 0), /header lists more than \d+ entries/, 1500);
  });

  it('"__metadata__": null is accepted, as the reference accepts it', async () => {
    const f = await readSafetensors(bufferSource(file(`{"__metadata__":null,"a":${entry("U8", [2], [0, 2])}}`, 2), NAME));
    assert.deepStrictEqual(f.metadata, {});
    assert.equal(f.tensors.length, 1);
  });
});

describe("sharded safetensors: a hostile index", () => {
  it("a deeply nested weight_map value gives one line naming the index", async () => {
    const tmp = tempDir("st-hostile");
    try {
      const index = join(tmp.path, "model.safetensors.index.json");
      writeFileSync(index, `{"weight_map":{"x":${"[".repeat(20000)}${"]".repeat(20000)}}}`);
      await assert.rejects(openSafetensors(tmp.path), (err: unknown) => {
        assert.ok(err instanceof InvalidFileError, String(err));
        assert.ok(err.message.startsWith(`${index}: `), err.message);
        assert.ok(err.message.length < 300 + index.length, err.message);
        return true;
      });
      writeFileSync(index, `{"weight_map":{"x":[[["a"]]]}}`);
      await assert.rejects(openSafetensors(tmp.path), /weight_map entry 'x' names a list of 1 item, not a file in this directory/);
    } finally {
      tmp.remove();
    }
  });
});
