/**
 * Engine behaviour that must hold whatever the weights: batching, cache reuse, KV types, context
 * limits, seeds, stop strings, and clear errors for files the engine cannot run.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeGGUF, type GGUFWriteHeader } from "../../src/formats/gguf/writer.ts";
import { GGMLType, tensorByteSize } from "../../src/formats/gguf/types.ts";
import { loadModel, ContextOverflowError } from "../../src/index.ts";
import type { BitNetModel } from "../../src/model/model.ts";
import { syntheticModel, type SyntheticSpec } from "../../src/model/synthetic.ts";
import { atomicFileSink } from "../../src/node/atomic-file-sink.ts";
import { FIXTURES_DIR as FIX } from "../helpers/fixtures.ts";
import { maxAbsDiff } from "../helpers/compare.ts";
import { tokenIds } from "../helpers/generate.ts";
const TINY = `${FIX}bitnet-tiny-tq2_0.gguf`;
const PROMPT = [1, 260, 300, 280, 400, 311, 270];

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

describe("engine", () => {
  let model: BitNetModel;
  before(async () => {
    model = await loadModel(TINY, { contextLength: 64 });
  });
  after(() => model.dispose());

  it("batched prompt processing gives the same bits as one token at a time", async () => {
    const one = await loadModel(TINY, { contextLength: 64, batchSize: 1 });
    const three = await loadModel(TINY, { contextLength: 64, batchSize: 3 });
    const want = bits(model.logits(PROMPT));
    assert.deepEqual(bits(one.logits(PROMPT)), want);
    assert.deepEqual(bits(three.logits(PROMPT)), want);
    await one.dispose();
    await three.dispose();
  });

  it("reuses the cached prefix and still gives the logits of a fresh evaluation", () => {
    const fresh = bits(model.logits([...PROMPT, 290, 291]));
    model.reset();
    model.logits(PROMPT);
    assert.deepEqual(bits(model.logits([...PROMPT, 290, 291])), fresh);
    model.logits([1, 500]); // a different prefix invalidates the cache
    assert.deepEqual(bits(model.logits([...PROMPT, 290, 291])), fresh);
  });

  it("an F16 KV cache stays close to F32 and is half the size", async () => {
    const f16 = await loadModel(TINY, { contextLength: 64, kvCacheType: "f16" });
    const a = model.logits(PROMPT);
    const b = f16.logits(PROMPT);
    const d = maxAbsDiff(a, b);
    assert.ok(d > 0 && d < 0.05, `max |Δ| ${d}`);
    assert.equal(f16.kvCacheBytes * 2, model.kvCacheBytes);
    await f16.dispose();
  });

  it("refuses a prompt plus n_predict longer than the context, or truncates when asked", async () => {
    const long = Array.from({ length: 60 }, (_, i) => 260 + i);
    await assert.rejects(tokenIds(model.generate(long, { maxTokens: 8, temperature: 0 })), (e: Error) => e instanceof ContextOverflowError && /60 tokens.*8.*64/.test(e.message));
    const got = await tokenIds(model.generate(long, { maxTokens: 8, temperature: 0, overflow: "truncate", ignoreEos: true }));
    assert.equal(got.length, 8);
    assert.throws(() => model.logits(Array.from({ length: 65 }, () => 5)), ContextOverflowError);
  });

  it("rejects token ids outside the vocabulary", () => {
    assert.throws(() => model.logits([1, 512]), /token id 512 is outside the vocabulary \[0, 512\)/);
    assert.throws(() => model.logits([1, -1]), /token id -1/);
  });

  it("the same seed gives the same tokens, and sampling is not greedy", async () => {
    const opts = { temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: 42, maxTokens: 24, ignoreEos: true };
    const a = await tokenIds(model.generate(PROMPT, opts));
    const b = await tokenIds(model.generate(PROMPT, opts));
    const c = await tokenIds(model.generate(PROMPT, { ...opts, seed: 43 }));
    const greedy = await tokenIds(model.generate(PROMPT, { temperature: 0, maxTokens: 24, ignoreEos: true }));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.notDeepEqual(a, greedy);
  });

  it("stops at a stop string and never emits it", async () => {
    let full = "";
    for await (const p of model.generate(PROMPT, { temperature: 0, maxTokens: 24, ignoreEos: true })) full += p.text;
    assert.ok(full.length > 8, JSON.stringify(full));
    const stop = full.slice(5, 8);
    let cut = "";
    for await (const p of model.generate(PROMPT, { temperature: 0, maxTokens: 24, ignoreEos: true, stop: [stop] })) cut += p.text;
    assert.equal(cut, full.slice(0, full.indexOf(stop)));
  });

  it("streams text that concatenates to the detokenized ids", async () => {
    let text = "";
    const ids: number[] = [];
    for await (const p of model.generate("hello world", { temperature: 0, maxTokens: 16, ignoreEos: true })) {
      text += p.text;
      if (p.token >= 0) ids.push(p.token);
    }
    const prompt = model.tokenize("hello world");
    assert.equal(text, model.detokenize([...prompt, ...ids]).slice(model.detokenize(prompt).length));
  });

  it("chat renders the conversation through a template and generates a reply", async () => {
    const reply = await tokenIds(model.chat([{ role: "user", content: "hi" }], { temperature: 0, maxTokens: 4, ignoreEos: true }));
    assert.equal(reply.length, 4);
  });
});

describe("files the engine cannot run", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "bitnet-bad-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const spec: SyntheticSpec = { architecture: "bitnet", dim: 256, ffnDim: 256, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: 300, linearType: "tq2_0", embeddingType: "f32", seed: 1 };

  async function write(name: string, edit: (h: GGUFWriteHeader) => GGUFWriteHeader, data?: (i: number) => Uint8Array): Promise<string> {
    const m = syntheticModel(spec);
    const path = join(dir, name);
    await writeGGUF(await atomicFileSink(path), edit(m.header), data ?? m.data);
    return path;
  }

  it("a truncated file names the file", async () => {
    const path = join(dir, "truncated.gguf");
    const bytes = readFileSync(TINY);
    writeFileSync(path, bytes.subarray(0, bytes.length - 1000));
    await assert.rejects(loadModel(path), (e: Error) => e.message.includes("truncated.gguf"));
  });

  it("a wrong tensor shape names the tensor", async () => {
    const path = await write("shape.gguf", (h) => ({ ...h, tensors: h.tensors.map((t) => (t.name === "blk.0.ffn_up.weight" ? { ...t, shape: [256, 512] } : t)) }), (i) => {
      const m = syntheticModel(spec);
      const t = m.header.tensors[i];
      return t.name === "blk.0.ffn_up.weight" ? new Uint8Array(tensorByteSize(t.type, [256, 512])) : m.data(i);
    });
    await assert.rejects(loadModel(path), /tensor 'blk\.0\.ffn_up\.weight' has shape \[256, 512\], expected \[256, 256\]/);
  });

  it("a quantization type the engine has no kernel for names the tensor and the type", async () => {
    const path = await write("q4.gguf", (h) => ({ ...h, tensors: h.tensors.map((t) => (t.name === "blk.0.attn_v.weight" ? { ...t, type: GGMLType.Q4_0 } : t)) }), (i) => {
      const m = syntheticModel(spec);
      const t = m.header.tensors[i];
      return t.name === "blk.0.attn_v.weight" ? new Uint8Array(tensorByteSize(GGMLType.Q4_0, t.shape)) : m.data(i);
    });
    await assert.rejects(loadModel(path), /tensor 'blk\.0\.attn_v\.weight' has type q4_0, which bitnet-ts cannot run/);
  });

  it("an unknown architecture and a missing tensor are named", async () => {
    const arch = await write("arch.gguf", (h) => ({ ...h, metadata: (h.metadata as { key: string; value: unknown }[]).map((e) => (e.key === "general.architecture" ? { ...e, value: "mamba" } : e)) as GGUFWriteHeader["metadata"] }));
    await assert.rejects(loadModel(arch), /architecture 'mamba' is not supported/);
    const m = syntheticModel(spec);
    const keep = m.header.tensors.findIndex((t) => t.name === "blk.0.ffn_norm.weight");
    const missing = await write("missing.gguf", (h) => ({ ...h, tensors: h.tensors.filter((_, i) => i !== keep) }), (i) => m.data(i >= keep ? i + 1 : i));
    await assert.rejects(loadModel(missing), /tensor 'blk\.0\.ffn_norm\.weight' is missing/);
  });
});
