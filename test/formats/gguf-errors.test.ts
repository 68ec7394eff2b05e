/**
 * Every malformed-GGUF case the reader must refuse, each built byte by byte with the independent
 * RawGGUF builder, and each error checked to be one line naming the file and the field at fault.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readGGUF } from "../../src/formats/gguf/reader.ts";
import { bufferSource } from "../../src/formats/source.ts";
import { fixtureGGUFs } from "./helpers.ts";
import { RawGGUF } from "./raw-gguf.ts";

const NAME = "bad.gguf";

async function expectError(bytes: Uint8Array, re: RegExp, options?: { maxHeaderBytes?: number }): Promise<void> {
  await assert.rejects(readGGUF(bufferSource(bytes, NAME), options), (err: unknown) => {
    assert.ok(err instanceof Error, "an Error");
    assert.ok(err.message.startsWith(`${NAME}: `), `names the file: ${err.message}`);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    assert.match(err.message, re);
    return true;
  });
}

/** A file with one f32 tensor of `shape` at `offset`, padded so the data fits unless told otherwise. */
function oneTensor(name: string, shape: (number | bigint)[], type: number, offset: number | bigint, dataBytes = 64): Uint8Array {
  return new RawGGUF().header(1, 0).tensorInfo(name, shape, type, offset).pad(32).zeros(dataBytes).bytes();
}

describe("GGUF reader refuses malformed files with a message naming the file and field", () => {
  it("truncated header", async () => {
    const fixture = readFileSync(fixtureGGUFs[0]);
    await expectError(fixture.subarray(0, 6), /truncated: magic and version needs 8 bytes at offset 0/);
    await expectError(fixture.subarray(0, 5000), /truncated: .*metadata key 'tokenizer\.ggml\.(tokens|scores|token_type)'/);
    await expectError(new RawGGUF().header(1, 0).str("a_long_tensor_name").u32(2).u64(4).bytes(), /truncated: tensor 'a_long_tensor_name' dims, type and offset needs 28 bytes/);
  });

  it("truncated data (tensor extends past the end of the file)", async () => {
    await expectError(oneTensor("w", [64], 0, 0, 100), /tensor 'w': data at \d+\.\.\d+ extends past the end of the file/);
  });

  it("wrong magic", async () => {
    await expectError(new RawGGUF().header(0, 0, 3, "GGML").bytes(), /not a GGUF file \(magic is "GGML", expected "GGUF"\)/);
    await expectError(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), /not a GGUF file \(magic is "\\x89PNG"/);
  });

  it("unsupported versions", async () => {
    await expectError(new RawGGUF().header(0, 0, 1).bytes(), /unsupported GGUF version 1 \(GGUF v1 is obsolete/);
    await expectError(new RawGGUF().header(0, 0, 4).bytes(), /unsupported GGUF version 4; bitnet-ts reads versions 2 and 3/);
    await expectError(new RawGGUF().header(0, 0, 0x03000000).bytes(), /unsupported GGUF version 50331648 \(this looks like a big-endian GGUF/);
  });

  it("version 2 is read", async () => {
    const file = await readGGUF(bufferSource(new RawGGUF().header(0, 1, 2).kvU32("a.b", 5).bytes(), NAME));
    assert.equal(file.version, 2);
    assert.deepStrictEqual(file.metadata, { "a.b": 5 });
  });

  it("absurd counts", async () => {
    await expectError(new RawGGUF().header(0, 2n ** 62n).bytes(), /metadata count \d+ is impossible/);
    await expectError(new RawGGUF().header(1_000_000, 0).zeros(100).bytes(), /tensor count 1000000 is impossible/);
  });

  it("absurd string and array lengths", async () => {
    await expectError(new RawGGUF().header(0, 1).u64(2n ** 60n).zeros(8).bytes(), /metadata key #0: string length \d+ is larger than the 8 bytes left/);
    await expectError(new RawGGUF().header(0, 1).str("k").u32(8).u64(1e9).zeros(16).bytes(), /metadata key 'k': string length 1000000000 is larger than the 16 bytes left/);
    await expectError(new RawGGUF().header(0, 1).str("k").u32(9).u32(6).u64(1e6).zeros(16).bytes(), /metadata key 'k': array length 1000000 of f32 is larger than the 16 bytes left could hold/);
    await expectError(new RawGGUF().header(0, 1).str("k").u32(9).u32(8).u64(3).zeros(16).bytes(), /metadata key 'k': array length 3 of string is larger than/);
    await expectError(new RawGGUF().header(1, 0).u64(2n ** 40n).zeros(40).bytes(), /tensor info #0 name: string length \d+ is larger than/);
  });

  it("unknown metadata value and element types", async () => {
    await expectError(new RawGGUF().header(0, 1).str("k").u32(13).zeros(8).bytes(), /metadata key 'k': unknown value type 13/);
    await expectError(new RawGGUF().header(0, 1).str("k").u32(9).u32(77).u64(0).bytes(), /metadata key 'k': unknown array element type 77/);
  });

  it("arrays nested too deeply", async () => {
    const raw = new RawGGUF().header(0, 1).str("deep").u32(9);
    for (let i = 0; i < 9; i++) raw.u32(9).u64(1);
    raw.u32(4).u64(0);
    await expectError(raw.bytes(), /metadata key 'deep'(\[0\])+: arrays nested deeper than 8 levels/);
  });

  it("duplicate metadata keys", async () => {
    await expectError(new RawGGUF().header(0, 2).kvU32("a", 1).kvU32("a", 2).bytes(), /metadata key 'a' appears twice/);
  });

  it("bad general.alignment", async () => {
    await expectError(new RawGGUF().header(0, 1).kvU32("general.alignment", 48).bytes(), /metadata key 'general\.alignment' must be a non-zero power of two integer, got 48/);
    await expectError(new RawGGUF().header(0, 1).kvU32("general.alignment", 0).bytes(), /'general\.alignment' must be a non-zero power of two integer, got 0/);
    await expectError(new RawGGUF().header(0, 1).kvString("general.alignment", "32").bytes(), /'general\.alignment' must be .* got 32 \(string\)/);
  });

  it("n_dims > 4", async () => {
    await expectError(oneTensor("w5", [1, 1, 1, 1, 1], 0, 0), /tensor 'w5': n_dims is 5, more than 4/);
  });

  it("zero and negative dimensions", async () => {
    await expectError(oneTensor("w", [4, 0], 0, 0), /tensor 'w': dimension 1 is 0/);
    await expectError(oneTensor("w", [-3n], 0, 0), /tensor 'w': dimension 0 is -3 \(negative or too large\)/);
    await expectError(oneTensor("w", [2n ** 40n, 2n ** 40n], 0, 0), /tensor 'w': shape \[1099511627776, 1099511627776\] has too many elements/);
  });

  it("duplicate tensor names", async () => {
    const bytes = new RawGGUF().header(2, 0).tensorInfo("w", [8], 0, 0).tensorInfo("w", [8], 0, 32).pad(32).zeros(64).bytes();
    await expectError(bytes, /tensor 'w' appears twice in the tensor infos/);
  });

  it("unknown tensor type ids, with the 36-39 caveat", async () => {
    await expectError(oneTensor("blk.0.attn_q.weight", [128], 39, 0), /tensor 'blk\.0\.attn_q\.weight': unknown ggml type id 39 \(ids 36-39 differ between bitnet\.cpp's ggml fork.*MXFP4/);
    await expectError(oneTensor("w", [128], 38, 0), /unknown ggml type id 38 \(ids 36-39 differ/);
    await expectError(oneTensor("w", [128], 100, 0), /tensor 'w': unknown ggml type id 100$/);
  });

  it("row length not divisible by the block size", async () => {
    await expectError(oneTensor("w", [100, 2], 35, 0), /tensor 'w': tq2_0 needs a row length \(ne\[0\]\) divisible by 256, got 100/);
    await expectError(oneTensor("w", [100], 36, 0), /tensor 'w': i2_s needs an element count divisible by 128, got 100/);
  });

  it("misaligned offsets", async () => {
    await expectError(oneTensor("w", [4], 0, 8), /tensor 'w': offset 8 is not a multiple of the alignment 32/);
  });

  it("overlapping tensors", async () => {
    const bytes = new RawGGUF().header(2, 0).tensorInfo("a", [16], 0, 0).tensorInfo("b", [16], 0, 32).pad(32).zeros(128).bytes();
    await expectError(bytes, /tensor 'b' \(offset 32\) overlaps tensor 'a' \(offset 0, 64 bytes\)/);
  });

  it("offsets past the end of the file", async () => {
    await expectError(oneTensor("w", [4], 0, 2n ** 60n), /tensor 'w': offset \d+ is beyond any file/);
    await expectError(oneTensor("w", [4], 0, 1024), /tensor 'w': data at \d+\.\.\d+ extends past the end of the file/);
  });

  it("tensor names that are not UTF-8", async () => {
    const bytes = new RawGGUF().header(1, 0).u64(2).raw([0xc3, 0x28]).u32(1).u64(4).u32(0).u64(0).pad(32).zeros(32).bytes();
    await expectError(bytes, /tensor info #0 name is not valid UTF-8/);
  });

  it("headers over maxHeaderBytes", async () => {
    const bytes = new RawGGUF().header(0, 1).kvString("k", "x".repeat(5000)).bytes();
    await expectError(bytes, /header is larger than maxHeaderBytes \(1024\) at metadata key 'k'/, { maxHeaderBytes: 1024 });
  });

  it("keys such as __proto__ stay plain data", async () => {
    const file = await readGGUF(bufferSource(new RawGGUF().header(0, 2).kvU32("__proto__", 1).kvU32("2", 2).bytes(), NAME));
    assert.equal(Object.getPrototypeOf(file.metadata), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(file.metadata, "__proto__")?.value, 1);
    assert.deepStrictEqual(file.metadataKeys, ["__proto__", "2"]);
  });
});
