/**
 * Non-finite numbers in a model file (a NaN norm gain, an infinite block scale, a NaN in a float matrix or
 * the embedding) are found when the model loads, as one InvalidFileError line naming the file and the
 * tensor, not later as an anonymous "non-finite activation" in logits() or, with float weights, as NaN
 * logits returned without a word.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidFileError } from "../../src/errors.ts";
import type { SyntheticSpec } from "../../src/model/synthetic.ts";
import { loadBytes, modelBytes, TINY_SPEC } from "../helpers/model-bytes.ts";

const NAME = "poisoned.gguf";
const F32_NAN = [0x00, 0x00, 0xc0, 0x7f];
const F16_INF = [0x00, 0x7c];
const F16_NAN = [0x00, 0x7e];

/** The file with `bytes` written at `at` (negative: from the end) of tensor `tensor`. */
function poisoned(spec: SyntheticSpec, tensor: string, at: number, bytes: number[]): Promise<Uint8Array> {
  return modelBytes(spec, {
    data: (name, data) => {
      if (name === tensor) data.set(bytes, at < 0 ? data.length + at : at);
      return data;
    },
  });
}

async function refusedAtLoad(file: Uint8Array, tensor: string, re: RegExp): Promise<void> {
  await assert.rejects(loadBytes(file, NAME), (e: unknown) => {
    assert.ok(e instanceof InvalidFileError, String(e));
    assert.ok(e.message.startsWith(`${NAME}: tensor '${tensor}'`), e.message);
    assert.match(e.message, re);
    return true;
  });
}

describe("non-finite weights are refused at load, naming file and tensor", () => {
  it("an infinite TQ2_0 block scale", async () => {
    // A TQ2_0 block is 64 bytes of codes then its f16 scale d.
    await refusedAtLoad(await poisoned(TINY_SPEC, "blk.0.attn_q.weight", 64, F16_INF), "blk.0.attn_q.weight", /block 0 has scale Infinity/);
  });

  it("a NaN norm gain", async () => {
    await refusedAtLoad(await poisoned(TINY_SPEC, "blk.1.attn_norm.weight", 8, F32_NAN), "blk.1.attn_norm.weight", /value 2 is NaN/);
    await refusedAtLoad(await poisoned(TINY_SPEC, "output_norm.weight", 0, F32_NAN), "output_norm.weight", /value 0 is NaN/);
  });

  it("a NaN in an i2_s scale and in a .scale tensor", async () => {
    const i2s: SyntheticSpec = { ...TINY_SPEC, architecture: "bitnet-b1.58", linearType: "i2_s" };
    // I2_S stores its one f32 scale right after the packed codes (the tail of the tensor).
    await refusedAtLoad(await poisoned(i2s, "blk.0.ffn_up.weight", -32, F32_NAN), "blk.0.ffn_up.weight", /scale is NaN/);
    await refusedAtLoad(await poisoned({ ...TINY_SPEC, outputScales: true }, "blk.0.attn_v.scale", 0, F32_NAN), "blk.0.attn_v.scale", /value 0 is NaN/);
  });

  it("a NaN in a float linear matrix and in the embedding", async () => {
    const f16: SyntheticSpec = { ...TINY_SPEC, linearType: "f16", embeddingType: "f16" };
    await refusedAtLoad(await poisoned(f16, "blk.1.ffn_down.weight", 1000, F16_NAN), "blk.1.ffn_down.weight", /value 500 is NaN/);
    await refusedAtLoad(await poisoned(f16, "token_embd.weight", 6, F16_INF), "token_embd.weight", /value 3 is Infinity/);
    await refusedAtLoad(await poisoned(TINY_SPEC, "token_embd.weight", 400, F32_NAN), "token_embd.weight", /value 100 is NaN/);
  });

  it("an untouched file still loads and gives finite logits", async () => {
    const model = await loadBytes(await modelBytes(TINY_SPEC), NAME);
    assert.ok(model.logits([1, 2, 3]).every(Number.isFinite));
    await model.dispose();
  });
});

describe("finite weights that overflow float32 while running name the file and the tensor", () => {
  /** Every f32 value of `tensor` set to `value`. */
  const flooded = (spec: SyntheticSpec, tensor: string, value: number) =>
    modelBytes(spec, {
      data: (name, data) => (name === tensor ? new Uint8Array(new Float32Array(data.length / 4).fill(value).buffer) : data),
    });

  async function refusedWhileRunning(file: Uint8Array, re: RegExp): Promise<void> {
    const model = await loadBytes(file, NAME);
    try {
      assert.throws(
        () => model.logits([1, 2, 3]),
        (e: unknown) => e instanceof InvalidFileError && e.message.startsWith(`${NAME}: tensor '`) && re.test(e.message) && !e.message.includes("\n"),
      );
    } finally {
      await model.dispose();
    }
  }

  it("float weights: an overflow is an error, not NaN logits", async () => {
    const f32: SyntheticSpec = { ...TINY_SPEC, linearType: "f32", embeddingType: "f32" };
    await refusedWhileRunning(await flooded(f32, "blk.0.ffn_up.weight", 3e38), /^poisoned\.gguf: tensor 'blk\.0\.ffn_up\.weight' produces a non-finite value/);
  });

  it("ternary weights: the quantizer's complaint names the file and the tensor", async () => {
    await refusedWhileRunning(await flooded(TINY_SPEC, "blk.0.ffn_norm.weight", 3e38), /^poisoned\.gguf: tensor 'blk\.0\.[a-z_]+\.weight'.*not finite/);
  });
});
