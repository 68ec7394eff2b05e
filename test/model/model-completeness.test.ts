/**
 * A model must be complete and consistent, as llama.cpp's loader requires (src/llama-model-loader.cpp:
 * "wrong number of tensors"; "key not found" for required keys): a file whose block_count hides layers,
 * whose tensor names are misspelled, or that carries tensors the architecture does not have is refused
 * with one InvalidFileError line naming the file and the tensor, instead of running with logits that are
 * silently wrong. Required metadata is required; optional tensors (listed in src/model/weights.ts) stay
 * optional; tensors llama.cpp would compute with but we cannot are refused as unsupported.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidFileError, UnsupportedModelError } from "../../src/errors.ts";
import { archKey } from "../../src/formats/gguf/names.ts";
import { GGMLType } from "../../src/formats/gguf/types.ts";
import { GGUFValueType } from "../../src/formats/gguf/value-types.ts";
import type { SyntheticSpec } from "../../src/model/synthetic.ts";
import { fixtureGGUFs } from "../formats/helpers.ts";
import { loadBytes, modelBytes, setMeta, TINY_SPEC } from "../helpers/model-bytes.ts";

const NAME = "model.gguf";
const SPEC3: SyntheticSpec = { ...TINY_SPEC, nLayers: 3 };
const PROMPT = [1, 17, 42, 99, 5];

/** Refused with `Cls`, one line starting with the file name and matching `re`. */
async function refused(bytes: Uint8Array, Cls: typeof InvalidFileError | typeof UnsupportedModelError, re: RegExp, options = {}): Promise<void> {
  await assert.rejects(loadBytes(bytes, NAME, options), (e: unknown) => {
    assert.ok(e instanceof Cls, `expected ${Cls.name}, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${NAME}: `), e.message);
    assert.ok(!e.message.includes("\n"));
    assert.match(e.message, re);
    return true;
  });
}

async function logitsOf(bytes: Uint8Array, options = {}): Promise<Float32Array> {
  const model = await loadBytes(bytes, NAME, options);
  try {
    return model.logits(PROMPT);
  } finally {
    await model.dispose();
  }
}

describe("a model must be complete", () => {
  it("block_count = 1 on a 3-layer file is refused, naming a tensor of the hidden layers", async () => {
    const bytes = await modelBytes(SPEC3, { metadata: setMeta(archKey("bitnet", "blockCount"), 1, { type: { type: GGUFValueType.UINT32 } }) });
    await refused(bytes, InvalidFileError, /tensor 'blk\.1\.[a-z_]+\.weight' belongs to layer 1, but bitnet\.block_count is 1/);
  });

  it("a block_count far beyond the tensors is refused at once (found by the fuzzer: it took seconds and a gigabyte)", async () => {
    const bytes = await modelBytes(TINY_SPEC, { metadata: setMeta(archKey("bitnet", "blockCount"), 783_329, { type: { type: GGUFValueType.UINT32 } }) });
    const t0 = performance.now();
    await refused(bytes, InvalidFileError, /tensor 'blk\.2\.attn_norm\.weight' is missing/);
    assert.ok(performance.now() - t0 < 1000, `took ${(performance.now() - t0).toFixed(0)} ms`);
  });

  it("a sub-norm whose name differs by one byte is refused, not dropped", async () => {
    const bytes = await modelBytes(TINY_SPEC, {
      tensors: (ts) => ts.map((spec, from) => ({ spec: spec.name === "blk.1.ffn_sub_norm.weight" ? { ...spec, name: "blk.1.ffn_sub_norn.weight" } : spec, from })),
    });
    await refused(bytes, InvalidFileError, /tensor 'blk\.1\.ffn_sub_norm\.weight' is missing/);
  });

  it("an unknown extra tensor is refused, and loads with allowExtraTensors, computing what the file without it computes", async () => {
    const plain = await modelBytes(TINY_SPEC);
    const extra = await modelBytes(TINY_SPEC, { tensors: (ts) => [...ts.map((spec, from) => ({ spec, from })), { spec: { name: "mystery.weight", shape: [32], type: GGMLType.F32 }, from: -1 }] });
    await refused(extra, InvalidFileError, /tensor 'mystery\.weight' is not part of a bitnet model.*allowExtraTensors/);
    assert.deepStrictEqual(await logitsOf(extra, { allowExtraTensors: true }), await logitsOf(plain));
  });

  it("a bitnet file with an output.weight is refused (llama.cpp's bitnet graph ties the head and refuses it too)", async () => {
    const bytes = await modelBytes(TINY_SPEC, {
      tensors: (ts) => [...ts.map((spec, from) => ({ spec, from })), { spec: { name: "output.weight", shape: [256, 300], type: GGMLType.F32 }, from: -1 }],
    });
    await refused(bytes, InvalidFileError, /tensor 'output\.weight' is not part of a bitnet model/);
  });

  it("llama: an untied output.weight is optional; biases and rope_freqs are refused as unsupported", async () => {
    const llama: SyntheticSpec = { ...TINY_SPEC, architecture: "llama", linearType: "f16", untiedOutput: true };
    assert.equal((await logitsOf(await modelBytes(llama))).length, 300);
    const add = (name: string, n: number) =>
      modelBytes(llama, { tensors: (ts) => [...ts.map((spec, from) => ({ spec, from })), { spec: { name, shape: [n], type: GGMLType.F32 }, from: -1 }] });
    await refused(await add("blk.0.attn_q.bias", 256), UnsupportedModelError, /tensor 'blk\.0\.attn_q\.bias': bitnet-ts does not run llama models with bias vectors/);
    await refused(await add("rope_freqs.weight", 32), UnsupportedModelError, /tensor 'rope_freqs\.weight': bitnet-ts does not run llama models with RoPE frequency factors/);
    // Sub-norms are BitNet's; llama.cpp's llama loader does not take them.
    await refused(await add("blk.0.attn_sub_norm.weight", 256), InvalidFileError, /tensor 'blk\.0\.attn_sub_norm\.weight' is not part of a llama model/);
  });
});

describe("required metadata is required", () => {
  for (const key of ["attention.layer_norm_rms_epsilon", "context_length"]) {
    it(`a missing bitnet.${key} is refused`, async () => {
      const bytes = await modelBytes(TINY_SPEC, { metadata: setMeta(`bitnet.${key}`, undefined) });
      await refused(bytes, InvalidFileError, new RegExp(`metadata key 'bitnet\\.${key.replace(/\./g, "\\.")}' is missing`));
    });
  }

  it("a missing rope.freq_base means 10000, as in llama.cpp (it is optional there)", async () => {
    const model = await loadBytes(await modelBytes(TINY_SPEC, { metadata: setMeta("bitnet.rope.freq_base", undefined) }), NAME);
    assert.equal(model.config.ropeTheta, 10000);
    await model.dispose();
  });

  it("hyperparameters this engine would silently get wrong are refused", async () => {
    const u32 = { type: { type: GGUFValueType.UINT32 } };
    const f32 = { type: { type: GGUFValueType.FLOAT32 } };
    await refused(await modelBytes(TINY_SPEC, { metadata: setMeta("bitnet.attention.key_length", 32, u32) }), UnsupportedModelError, /'bitnet\.attention\.key_length' is 32/);
    await refused(await modelBytes(TINY_SPEC, { metadata: setMeta("bitnet.rope.scaling.factor", 4, f32) }), UnsupportedModelError, /'bitnet\.rope\.scaling\.factor' is 4/);
    await refused(await modelBytes(TINY_SPEC, { metadata: setMeta("bitnet.rope.scaling.type", "yarn") }), UnsupportedModelError, /'bitnet\.rope\.scaling\.type' is "yarn"/);
    const llama: SyntheticSpec = { ...TINY_SPEC, architecture: "llama", linearType: "f16" };
    await refused(await modelBytes(llama, { metadata: setMeta("llama.rope.dimension_count", 32, u32) }), InvalidFileError, /'llama\.rope\.dimension_count' is 32, but llama needs the head size 64/);
    // The same values that change nothing are accepted.
    const same = await modelBytes(TINY_SPEC, { metadata: (e) => setMeta("bitnet.rope.scaling.type", "none")(setMeta("bitnet.attention.key_length", 64, u32)(e)) });
    assert.equal((await logitsOf(same)).length, 300);
  });
});

describe("every file our own code writes is complete", () => {
  const defaultModel = fileURLToPath(new URL("../../models/bitnet-default.gguf", import.meta.url));
  for (const path of [...fixtureGGUFs.filter((p) => !p.endsWith("tq-layout.gguf")), defaultModel]) {
    it(basename(path), async () => {
      const model = await loadBytes(new Uint8Array(readFileSync(path)), basename(path), { contextLength: 64 });
      assert.ok(model.logits([1, 2, 3]).every(Number.isFinite));
      await model.dispose();
    });
  }
  for (const spec of [
    { ...TINY_SPEC, outputScales: true },
    { ...TINY_SPEC, architecture: "bitnet-b1.58", linearType: "i2_s", activation: "relu2" },
    { ...TINY_SPEC, architecture: "llama", linearType: "f32", untiedOutput: true },
  ] satisfies SyntheticSpec[]) {
    it(`synthetic ${spec.architecture} ${spec.linearType}${spec.outputScales ? " with .scale tensors" : ""}`, async () => {
      assert.ok((await logitsOf(await modelBytes(spec))).every(Number.isFinite));
    });
  }
});
