/**
 * What exportGGUF writes, read back with the independent @huggingface/gguf reader: architecture and hyperparameter
 * keys with the value types llama.cpp reads, the gpt2 tokenizer block, tensor names / shapes / types (no
 * `output.weight`), and ternary tensors that hold exactly the absmean codes of the training side with the γ the
 * format stores. Also the f16/f32 forms (codes·γ for a ternary model, the float weights of an fp model, which
 * then runs in our engine like the training forward), and the refusals. Engine parity of the ternary types is in
 * export-gguf-{silu,relu2}.test.ts, llama.cpp parity in export-llamacpp.test.ts.
 */

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf, GGUFValueType } from "@huggingface/gguf";
import { ternaryFromValues } from "../../src/convert/ternary-form.ts";
import { memorySink } from "../../src/formats/sink.ts";
import { GGMLType } from "../../src/formats/gguf/types.ts";
import { loadModel } from "../../src/index.ts";
import { atomicFileSink } from "../../src/node/atomic-file-sink.ts";
import { quantizeAbsmean } from "../../src/quant/absmean.ts";
import { codecFor, ternaryCodecFor } from "../../src/quant/codecs/index.ts";
import { f16ToF32, f32ToF16 } from "../../src/quant/half.ts";
import { createActivations } from "../../src/train/acts.ts";
import { exportGGUF, storedGamma, type ExportType } from "../../src/train/export-gguf.ts";
import { forward, greedyTokens } from "../../src/train/model.ts";
import { createParamSet, initParams, type ParamSet } from "../../src/train/params.ts";
import { margin, maxAbsDiff } from "../helpers/compare.ts";
import { greedyIds } from "../helpers/generate.ts";
import { CORPUS, encodeReference, testConfig, trainTestBpe, trainTiny } from "./export-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "bitnet-export-gguf-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const vocab = trainTestBpe(CORPUS, 24);
const VOCAB = 304;

function randomModel(activation: "silu" | "relu2", weights: "ternary" | "fp" = "ternary", seed = 5): ParamSet {
  const p = createParamSet(testConfig(activation, VOCAB, weights));
  initParams(p, seed);
  // Norm gains other than 1, so a norm written to the wrong slot would show.
  for (const s of p.layout) if (s.kind === "norm") for (let i = 0; i < s.size; i++) p.data[s.offset + i] = 1 + 0.01 * ((i % 7) - 3);
  return p;
}

async function exportToFile(p: ParamSet, type: ExportType, name: string, embeddingType?: "f32" | "f16"): Promise<string> {
  const path = join(dir, name);
  await exportGGUF(p, vocab, await atomicFileSink(path), { type, embeddingType, name: "export-test" });
  return path;
}

/** The file as the independent reader sees it, plus each tensor's bytes. */
async function readBack(path: string) {
  const r = await gguf(path, { allowLocalFile: true, typedMetadata: true });
  const bytes = new Uint8Array(readFileSync(path));
  const infos = r.tensorInfos.map((t) => ({ name: t.name, shape: t.shape.map(Number), type: Number(t.dtype), offset: Number(r.tensorDataOffset) + Number(t.offset) }));
  const data = (name: string): Uint8Array => {
    const i = infos.findIndex((t) => t.name === name);
    assert.ok(i >= 0, `tensor ${name} is in the file`);
    const end = i + 1 < infos.length ? infos[i + 1].offset : bytes.length;
    return bytes.subarray(infos[i].offset, end);
  };
  return { meta: r.typedMetadata as unknown as Record<string, { value: unknown; type: number; subType?: number }>, infos, data };
}

for (const [activation, arch] of [["silu", "bitnet"], ["relu2", "bitnet-b1.58"]] as const) {
  test(`${activation} model as tq2_0: ${arch} metadata with llama.cpp's value types, gpt2 tokenizer, tied head`, async () => {
    const p = randomModel(activation);
    const { meta, infos } = await readBack(await exportToFile(p, "tq2_0", `${activation}.gguf`));
    const c = p.config;
    const expect: [string, unknown, number][] = [
      ["general.architecture", arch, GGUFValueType.STRING],
      ["general.name", "export-test", GGUFValueType.STRING],
      ["general.file_type", 37, GGUFValueType.UINT32],
      [`${arch}.vocab_size`, VOCAB, GGUFValueType.UINT32],
      [`${arch}.context_length`, c.seqLen, GGUFValueType.UINT32],
      [`${arch}.embedding_length`, 256, GGUFValueType.UINT32],
      [`${arch}.block_count`, 2, GGUFValueType.UINT32],
      [`${arch}.feed_forward_length`, 256, GGUFValueType.UINT32],
      [`${arch}.attention.head_count`, 4, GGUFValueType.UINT32],
      [`${arch}.attention.head_count_kv`, 2, GGUFValueType.UINT32],
      [`${arch}.rope.dimension_count`, 64, GGUFValueType.UINT32],
      [`${arch}.rope.freq_base`, 10000, GGUFValueType.FLOAT32],
      [`${arch}.attention.layer_norm_rms_epsilon`, Math.fround(1e-5), GGUFValueType.FLOAT32],
      [`${arch}.feed_forward_activation`, activation, GGUFValueType.STRING],
      [`${arch}.hidden_activation`, activation, GGUFValueType.STRING],
      ["tokenizer.ggml.model", "gpt2", GGUFValueType.STRING],
      ["tokenizer.ggml.pre", "gpt-2", GGUFValueType.STRING],
      ["tokenizer.ggml.bos_token_id", vocab.bos, GGUFValueType.UINT32],
      ["tokenizer.ggml.eos_token_id", vocab.eos, GGUFValueType.UINT32],
      ["tokenizer.ggml.add_bos_token", false, GGUFValueType.BOOL],
    ];
    for (const [key, value, type] of expect) {
      assert.ok(meta[key], `${key} is present`);
      assert.equal(meta[key].type, type, `${key} type`);
      assert.equal(Number.isFinite(value as number) ? Number(meta[key].value) : meta[key].value, value, `${key} value`);
    }
    const tokens = meta["tokenizer.ggml.tokens"].value as string[];
    const types = meta["tokenizer.ggml.token_type"].value as number[];
    assert.equal(meta["tokenizer.ggml.token_type"].subType, GGUFValueType.INT32);
    assert.equal(tokens.length, VOCAB, "padded to the embedding rows");
    assert.deepEqual(tokens.slice(0, vocab.tokens.length), vocab.tokens);
    assert.deepEqual(tokens.slice(vocab.tokens.length), Array.from({ length: VOCAB - vocab.tokens.length }, (_, i) => `<|unused_${i}|>`));
    types.forEach((t, id) => assert.equal(t, id === vocab.bos || id === vocab.eos || id >= vocab.tokens.length ? 3 : 1, `token_type[${id}]`));
    assert.deepEqual(meta["tokenizer.ggml.merges"].value, vocab.merges);

    const byName = new Map(infos.map((t) => [t.name, t]));
    assert.equal(byName.has("output.weight"), false, "tied head: no output.weight");
    assert.equal(infos.length, 1 + 2 * 11 + 1);
    assert.deepEqual(byName.get("token_embd.weight")?.shape, [256, VOCAB]);
    assert.equal(byName.get("token_embd.weight")?.type, GGMLType.F32);
    assert.deepEqual(byName.get("blk.1.attn_k.weight")?.shape, [256, 128]);
    assert.deepEqual(byName.get("blk.0.ffn_down.weight")?.shape, [256, 256]);
    assert.equal(byName.get("blk.0.ffn_sub_norm.weight")?.type, GGMLType.F32);
    for (const t of infos) if (/attn_[qkvo]|attn_output|ffn_(gate|up|down)\.weight/.test(t.name)) assert.equal(t.type, GGMLType.TQ2_0, t.name);
  });
}

for (const type of ["tq2_0", "tq1_0", "i2_s"] as const) {
  test(`${type}: every linear tensor holds the training side's absmean codes and the γ ${type} stores; other tensors are exact`, async () => {
    const p = randomModel("silu");
    const { infos, data } = await readBack(await exportToFile(p, type, `codes-${type}.gguf`));
    let linear = 0;
    for (const s of p.layout) {
      const name = `${s.name}.weight`;
      const info = infos.find((t) => t.name === name);
      assert.ok(info, name);
      const latent = p.data.subarray(s.offset, s.offset + s.size);
      if (s.kind !== "linear") {
        assert.deepEqual(codecFor(GGMLType.F32).dequantize(data(name), info.shape), latent, `${name} is the float32 parameter`);
        continue;
      }
      linear++;
      const { codes, gamma } = quantizeAbsmean(latent, name);
      const u = ternaryCodecFor(info.type).unpack(data(name), info.shape, name);
      assert.deepEqual(u.codes, codes, `${name} codes`);
      const want = storedGamma(gamma, type);
      assert.ok(u.scales.every((d) => d === want), `${name}: every block scale is ${want} (γ ${gamma})`);
      if (type !== "i2_s") assert.ok(Math.abs(want - gamma) <= gamma * 2 ** -11, `${name}: fp16(γ) within 2^-11 relative`);
    }
    assert.equal(linear, 14);
  });
}

test("a ternary model as f32 / f16 holds codes·γ, which the converter recognizes as ternary with the same codes", async () => {
  const p = randomModel("relu2");
  for (const [type, typeId] of [["f32", GGMLType.F32], ["f16", GGMLType.F16]] as const) {
    const { infos, data } = await readBack(await exportToFile(p, type, `ternary-${type}.gguf`));
    for (const name of ["blk.0.attn_q", "blk.1.ffn_down"]) {
      const info = infos.find((t) => t.name === `${name}.weight`);
      assert.equal(info?.type, typeId);
      const values = codecFor(typeId).dequantize(data(`${name}.weight`), info.shape);
      const { codes, gamma } = quantizeAbsmean(p.byName.get(name) as Float32Array);
      const form = ternaryFromValues(values);
      assert.ok(form, `${type} ${name} is recognizably ternary`);
      assert.deepEqual(form.codes, codes);
      assert.equal(form.scales[0], type === "f16" ? f16ToF32(f32ToF16(gamma)) : gamma);
    }
  }
});

test("an fp model as f32 runs in our engine like the training forward (logits within 1e-4, same 16 greedy tokens)", async () => {
  const ids = encodeReference(vocab, CORPUS.repeat(8));
  const p = trainTiny(testConfig("silu", VOCAB, "fp"), ids, { seed: 2, steps: 12, B: 1, T: 32, lr: 3e-3 });
  const sink = memorySink();
  await exportGGUF(p, vocab, sink, { type: "f32" });
  const engine = await loadModel(sink.bytes(), { contextLength: 64 });
  try {
    for (const s of p.layout.filter((x) => x.kind === "linear").slice(0, 3)) {
      assert.equal(engine.file.tensor(`${s.name}.weight`)?.type, GGMLType.F32, "fp weights stay float");
    }
    const prompt = Int32Array.from(encodeReference(vocab, "a dog"));
    const acts = createActivations(p.config, 1, prompt.length + 16);
    const want = [...greedyTokens(p, acts, prompt, 16)];
    assert.deepEqual(await greedyIds(engine, [...prompt], 16), want);
    const seq = Int32Array.from([...prompt, ...want.slice(0, 15)]);
    forward(p, acts, seq, null, 1, seq.length);
    const all = engine.allLogits([...seq]);
    let d = 0;
    let m = Infinity;
    for (let t = prompt.length - 1; t < seq.length; t++) {
      const row = acts.logits.subarray(t * VOCAB, (t + 1) * VOCAB);
      d = Math.max(d, maxAbsDiff(all.subarray(t * VOCAB, (t + 1) * VOCAB), row));
      m = Math.min(m, margin(row));
    }
    assert.ok(d < 1e-4, `max |Δlogit| ${d}`);
    assert.ok(m > 2 * d, `greedy margins ${m} are clear of ${d}`);
  } finally {
    await engine.dispose();
  }
});

test("options: f16 embedding, contextLength and name; progress reports every tensor in file order", async () => {
  const p = randomModel("silu");
  const seen: string[] = [];
  const sink = memorySink();
  await exportGGUF(p, vocab, sink, { type: "tq2_0", embeddingType: "f16", contextLength: 2048, name: "tiny", onProgress: (e) => seen.push(e.name) });
  assert.deepEqual(seen, p.layout.map((s) => `${s.name}.weight`));
  const engine = await loadModel(sink.bytes(), { contextLength: 32 });
  try {
    assert.equal(engine.metadata["bitnet.context_length"], 2048);
    assert.equal(engine.metadata["general.name"], "tiny");
    const embd = engine.file.tensor("token_embd.weight");
    assert.equal(embd?.type, GGMLType.F16);
    const values = codecFor(GGMLType.F16).dequantize(await engine.file.readTensor(embd), embd.shape);
    assert.deepEqual(values, Float32Array.from(p.tensors.token_embd, (v) => f16ToF32(f32ToF16(v))));
  } finally {
    await engine.dispose();
  }
});

test("refusals: an fp model as a ternary type, and a shape the type cannot hold, each abort the sink", async () => {
  const fp = randomModel("silu", "fp");
  const sink = memorySink();
  await assert.rejects(exportGGUF(fp, vocab, sink, { type: "tq2_0" }), /full-precision weights; export it as f16 or f32, not tq2_0/);
  assert.throws(() => sink.bytes(), /aborted/);

  const narrow = createParamSet({ ...testConfig("silu", VOCAB), dim: 64, nHeads: 2, nKvHeads: 1, ffnDim: 128 });
  initParams(narrow, 1);
  const sink2 = memorySink();
  await assert.rejects(exportGGUF(narrow, vocab, sink2, { type: "tq1_0" }), /'blk\.0\.attn_q\.weight'.*divisible by 256, got 64/);
  assert.throws(() => sink2.bytes(), /aborted/);
  // The same model fits i2_s (whole-tensor 128-blocks) and float types.
  for (const type of ["i2_s", "f16"] as const) {
    const ok = memorySink();
    await exportGGUF(narrow, vocab, ok, { type });
    assert.ok(ok.bytes().length > 0);
  }
});

test("tokenizer checks: unknown pre-tokenizer, missing byte symbol, bad merge, bad bos, too many tokens; gpt2 becomes gpt-2", async () => {
  const p = randomModel("silu");
  const bad: [object, RegExp][] = [
    [{ pre: "no-such-pre" }, /pre-tokenizer "no-such-pre" is not supported/],
    [{ tokens: vocab.tokens.filter((t) => t !== "Ġ") }, /no entry for byte 0x20/],
    [{ merges: [...vocab.merges, "Ġ zz"] }, new RegExp(`merges\\[${vocab.merges.length}\\] "Ġ zz" is not "left right"`)],
    [{ bos: 9999 }, /bos 9999 is not a token id/],
    [{ tokens: [...vocab.tokens, ...Array.from({ length: 40 }, (_, i) => `x${i}x`)] }, new RegExp(`${vocab.tokens.length + 40} tokens but the model has only 304 embedding rows`)],
    [{ tokens: [...vocab.tokens.slice(0, -1), "a"] }, new RegExp(`tokens\\[${vocab.tokens.length - 1}\\] "a" repeats tokens\\[${"a".charCodeAt(0)}\\]`)],
  ];
  for (const [patch, re] of bad) {
    await assert.rejects(exportGGUF(p, { ...vocab, ...patch }, memorySink(), { type: "i2_s" }), re);
  }
  const sink = memorySink();
  await exportGGUF(p, { ...vocab, pre: "gpt2" }, sink, { type: "i2_s" });
  const engine = await loadModel(sink.bytes());
  assert.equal(engine.metadata["tokenizer.ggml.pre"], "gpt-2");
  await engine.dispose();
});
