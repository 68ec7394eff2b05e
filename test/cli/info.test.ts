/**
 * `bitnet info` through the real CLI (src/cli/main.ts in a child process). `--json` on every fixture is held
 * to the independent @huggingface/gguf reader (architecture, metadata, tensor names, shapes, types) and to
 * byte sizes and bits per weight computed from the format definitions (SPEC §3); the text output is
 * checked for its sections; bad files give one line on stderr, exit code 1 and no stack trace.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fixtureGGUFs, readWithHuggingFace, tempDir } from "../formats/helpers.ts";
import { assertOneLineError, runCli } from "./run-cli.ts";

const tmp = tempDir("cli-info");
after(() => tmp.remove());

/** ggml type names and sizes from ggml.h / SPEC §3, independent of src/formats/gguf/types.ts. */
const TYPES: Record<number, { name: string; bytes: (n: number) => number }> = {
  0: { name: "f32", bytes: (n) => 4 * n },
  1: { name: "f16", bytes: (n) => 2 * n },
  34: { name: "tq1_0", bytes: (n) => (n / 256) * 54 },
  35: { name: "tq2_0", bytes: (n) => (n / 256) * 66 },
  36: { name: "i2_s", bytes: (n) => n / 4 + 32 },
};
/** 66·8/256 for TQ2_0, 54·8/256 for TQ1_0, 2 bits plus a 32-byte tail per matrix for I2_S (14 matrices, 1,507,328 weights). */
const EXPECTED_BITS: Record<string, number | null> = {
  "bitnet-tiny-tq2_0.gguf": 2.0625,
  "bitnet-small-tq1_0.gguf": 1.6875,
  "bitnet-b158-tiny-i2_s.gguf": (8 * (1507328 / 4 + 14 * 32)) / 1507328,
  "tq-layout.gguf": null,
};
const LINEAR = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;

interface InfoJson {
  architecture: string | null;
  version: number;
  metadata: Record<string, unknown>;
  tensors: { name: string; shape: number[]; type: string; bytes: number }[];
  parameters: number;
  total_bytes: number;
  linear_bits_per_weight: number | null;
  tokenizer: { vocab_size: number; bos_token_id: number; bos_token: string; eos_token_id: number; merges: number; chat_template: boolean } | null;
}

describe("bitnet info --json agrees with @huggingface/gguf on every fixture", { concurrency: true }, () => {
  assert.ok(fixtureGGUFs.length >= 4);
  for (const path of fixtureGGUFs) {
    it(basename(path), async () => {
      const [r, theirs] = await Promise.all([runCli(["info", "--json", path]), readWithHuggingFace(path)]);
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse(r.stdout) as InfoJson;
      assert.equal(info.version, 3);
      assert.equal(info.architecture, theirs.metadata["general.architecture"]);
      assert.deepEqual(
        info.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type })),
        theirs.tensors.map((t) => ({ name: t.name, shape: t.shape, type: TYPES[t.type].name })),
      );

      // Metadata: every key in order; arrays longer than 16 are summarized with their length.
      assert.deepEqual(Object.keys(info.metadata), Object.keys(theirs.metadata));
      for (const [k, v] of Object.entries(theirs.metadata)) {
        const ours = info.metadata[k];
        if (Array.isArray(v) && v.length > 16) {
          assert.deepEqual(ours, { type: "array", element_type: elementTypeName(theirs.types[k].subType), length: v.length }, k);
        } else {
          assert.deepEqual(ours, typeof v === "bigint" ? v.toString() : v, k);
        }
      }

      let params = 0;
      let bytes = 0;
      let linParams = 0;
      let linBytes = 0;
      for (const [i, t] of theirs.tensors.entries()) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        const b = TYPES[t.type].bytes(n);
        assert.equal(info.tensors[i].bytes, b, t.name);
        params += n;
        bytes += b;
        if (LINEAR.test(t.name)) {
          linParams += n;
          linBytes += b;
        }
      }
      assert.equal(info.parameters, params);
      assert.equal(info.total_bytes, bytes);
      assert.equal(info.linear_bits_per_weight, linParams > 0 ? (8 * linBytes) / linParams : null);
      assert.equal(info.linear_bits_per_weight, EXPECTED_BITS[basename(path)], "bits per weight from the format definitions");

      if (info.tokenizer) {
        const tokens = theirs.metadata["tokenizer.ggml.tokens"] as string[];
        assert.equal(info.tokenizer.vocab_size, tokens.length);
        assert.equal(info.tokenizer.bos_token_id, theirs.metadata["tokenizer.ggml.bos_token_id"]);
        assert.equal(info.tokenizer.bos_token, tokens[info.tokenizer.bos_token_id]);
        assert.equal(info.tokenizer.merges, 0);
        assert.equal(info.tokenizer.chat_template, false);
      } else {
        assert.ok(!Object.keys(theirs.metadata).some((k) => k.startsWith("tokenizer.")));
      }
    });
  }
});

describe("bitnet info (text)", { concurrency: true }, () => {
  it("bitnet-tiny-tq2_0: header, hyperparameters, tokenizer, tensor table, totals", async () => {
    const r = await runCli(["info", fixtureGGUFs.find((p) => p.endsWith("bitnet-tiny-tq2_0.gguf")) as string]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^gguf version: +3/m);
    assert.match(r.stdout, /^architecture: +bitnet$/m);
    assert.match(r.stdout, /^file type: +37 \(mostly tq2_0\)$/m);
    assert.match(r.stdout, /^ +embedding_length +256$/m);
    assert.match(r.stdout, /^ +attention\.layer_norm_rms_epsilon +0\.00001$/m);
    assert.match(r.stdout, /^ +vocab size +512$/m);
    assert.match(r.stdout, /^ +bos +1 "<s>"$/m);
    assert.match(r.stdout, /^tensors \(24\):$/m);
    assert.match(r.stdout, /^ +blk\.0\.attn_q\.weight +\[256, 256\] +tq2_0 +16,896$/m);
    assert.match(r.stdout, /^ +parameters +1,050,880$/m);
    assert.match(r.stdout, /^ +linear bits\/weight +2\.0625 /m);
  });

  it("tq-layout: no hyperparameters, no tokenizer, no linear layers", async () => {
    const r = await runCli(["info", fixtureGGUFs.find((p) => p.endsWith("tq-layout.gguf")) as string]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^architecture: +layout-fixture$/m);
    assert.match(r.stdout, /^hyperparameters: \(none\)$/m);
    assert.match(r.stdout, /^tokenizer: \(none\)$/m);
    assert.match(r.stdout, /^ +plain\.f32 +\[5\] +f32 +20$/m);
    assert.match(r.stdout, /^ +linear bits\/weight +\(no linear layers\)$/m);
  });

  it("bad files: one line on stderr naming the file, exit code 1, no stack trace", async () => {
    const tiny = readFileSync(fixtureGGUFs.find((p) => p.endsWith("bitnet-tiny-tq2_0.gguf")) as string);
    const truncated = join(tmp.path, "truncated.gguf");
    writeFileSync(truncated, tiny.subarray(0, tiny.length - 1000));
    const badMagic = join(tmp.path, "bad-magic.gguf");
    writeFileSync(badMagic, Buffer.concat([Buffer.from("GGML"), tiny.subarray(4)]));
    const unknownType = join(tmp.path, "unknown-type.gguf");
    writeFileSync(unknownType, withTensorType(tiny, "output_norm.weight", 99));
    const missing = join(tmp.path, "missing.gguf");
    const results = await Promise.all([truncated, badMagic, unknownType, missing, tmp.path].map((p) => runCli(["info", p])));
    for (const [i, p] of [truncated, badMagic, unknownType, missing, tmp.path].entries()) assertOneLineError(results[i], p);
    assert.match(results[0].stderr, /extends past the end of the file/);
    assert.match(results[1].stderr, /not a GGUF file/);
    assert.match(results[2].stderr, /'output_norm\.weight': unknown ggml type id 99/);
    assert.match(results[3].stderr, /no such file/);
  });
});

/** A copy of a GGUF file with one tensor's type field overwritten (found after its name in the tensor infos). */
function withTensorType(file: Buffer, name: string, type: number): Buffer {
  const out = Buffer.from(file);
  const nameBytes = Buffer.from(name);
  let at = -1;
  for (let from = 0; ; from = at + 1) {
    at = out.indexOf(nameBytes, from);
    assert.ok(at >= 8, `tensor info for ${name}`);
    if (out.readBigUInt64LE(at - 8) === BigInt(nameBytes.length)) break;
  }
  const dimsAt = at + nameBytes.length;
  const nDims = out.readUInt32LE(dimsAt);
  out.writeUInt32LE(type, dimsAt + 4 + 8 * nDims);
  return out;
}

function elementTypeName(subType: number | undefined): string {
  return ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"][subType ?? -1] ?? "?";
}
