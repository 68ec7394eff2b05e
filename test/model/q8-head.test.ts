/**
 * The int8 (Q8_0) output head end to end: a model whose tied embedding `bitnet convert --embedding-type
 * q8_0` wrote is read by @huggingface/gguf and run by llama.cpp (node-llama-cpp), whose logits and greedy
 * tokens we must reproduce; `headType: "q8_0"` at load gives exactly that file's weights without the
 * float copy; an untied head is quantized alone; the CLI flag and its errors.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { convertGGUF } from "../../src/convert/convert-gguf.ts";
import { readGGUF } from "../../src/formats/gguf/reader.ts";
import { GGMLType } from "../../src/formats/gguf/types.ts";
import { writeGGUF } from "../../src/formats/gguf/writer.ts";
import { loadModel } from "../../src/index.ts";
import { syntheticModel, type SyntheticSpec } from "../../src/model/synthetic.ts";
import { atomicFileSink } from "../../src/node/atomic-file-sink.ts";
import { openFileSource } from "../../src/node/file-source.ts";
import { bf16Codec, q8_0 } from "../../src/quant/codecs/index.ts";
import { q8_0Bytes } from "../../src/quant/codecs/q8_0.ts";
import { assertMatchesLlamaCpp, disposeLlamaCpp } from "../helpers/llamacpp.ts";
import { assertOneLineError, runCli } from "../cli/run-cli.ts";
import { maxAbsDiff } from "../helpers/compare.ts";

const PROMPT = [1, 261, 300, 333, 280, 295, 310];
const BITNET: SyntheticSpec = { architecture: "bitnet", linearType: "tq2_0", dim: 256, ffnDim: 512, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 384, embeddingType: "f32", seed: 881 };
const LLAMA: SyntheticSpec = { architecture: "llama", linearType: "f32", dim: 128, ffnDim: 256, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: 384, embeddingType: "f16", untiedOutput: true, seed: 882 };

/**
 * An int8 head approximates a float one: on these random models the logits move by up to ~5% of the
 * largest (llama.cpp's own Q8_0 head moves them as much), and the top choice stays.
 */
function assertCloseToFloatHead(q8: Float32Array, float: Float32Array): void {
  const scale = Math.max(...float.map(Math.abs));
  assert.ok(maxAbsDiff(q8, float) < 0.1 * scale, `max |Δlogit| ${maxAbsDiff(q8, float)} against the float head, whose largest |logit| is ${scale}`);
  assert.equal(q8.indexOf(Math.max(...q8)), float.indexOf(Math.max(...float)));
}

describe("the Q8_0 output head", () => {
  let dir: string;
  let f32Path: string;
  let q8Path: string;
  let llamaPath: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "bitnet-q8head-"));
    f32Path = join(dir, "f32.gguf");
    q8Path = join(dir, "q8.gguf");
    llamaPath = join(dir, "llama.gguf");
    for (const [spec, path] of [[BITNET, f32Path], [LLAMA, llamaPath]] as const) {
      const { header, data } = syntheticModel(spec);
      await writeGGUF(await atomicFileSink(path), header, data);
    }
    const source = await openFileSource(f32Path);
    try {
      await convertGGUF(await readGGUF(source), await atomicFileSink(q8Path), { type: "tq2_0", embeddingType: "q8_0" });
    } finally {
      await source.close();
    }
  });
  after(async () => {
    await disposeLlamaCpp();
    rmSync(dir, { recursive: true, force: true });
  });

  it("convert --embedding-type q8_0 writes a Q8_0 token_embd that @huggingface/gguf reads", async () => {
    const { tensorInfos } = await gguf(q8Path, { allowLocalFile: true });
    const t = tensorInfos.find((x) => x.name === "token_embd.weight");
    assert.ok(t);
    assert.equal(Number(t.dtype), GGMLType.Q8_0);
    assert.deepEqual(t.shape.map(Number), [BITNET.dim, BITNET.vocabSize]);
    const ours = await readGGUF(await openFileSource(q8Path));
    assert.equal(ours.tensor("token_embd.weight")?.byteSize, q8_0Bytes(BITNET.vocabSize, BITNET.dim));
    await ours.source.close();
  });

  it("llama.cpp's logits and greedy tokens on that file (its Q8_0 embedding rows and Q8_0 × Q8_0 head)", async () => {
    const model = await loadModel(q8Path, { contextLength: 256, actQuant: "block256" });
    try {
      assert.equal(model.weights.output.kind === "float" && model.weights.output.format, "q8_0");
      // The same integer dots; only the float32 summation order differs (2.4e-7 seen).
      await assertMatchesLlamaCpp(model, q8Path, PROMPT, 24, 1e-5);
    } finally {
      await model.dispose();
    }
  });

  it("headType q8_0 at load gives that file's weights and logits exactly, and keeps no float copy", async () => {
    const converted = await loadModel(q8Path, { contextLength: 64 });
    const atLoad = await loadModel(f32Path, { contextLength: 64, headType: "q8_0" });
    const kept = await loadModel(f32Path, { contextLength: 64 });
    try {
      const w = atLoad.weights;
      assert.equal(w.token_embd.format, "q8_0");
      assert.equal(w.output, w.token_embd, "tied: one matrix serves both");
      assert.equal(w.token_embd.data.byteLength, q8_0Bytes(BITNET.vocabSize, BITNET.dim));
      assert.deepEqual(new Uint8Array(w.token_embd.data.buffer, w.token_embd.data.byteOffset, w.token_embd.data.byteLength), converted.weights.token_embd.data);
      const q8 = atLoad.logits(PROMPT);
      assert.deepEqual(q8, converted.logits(PROMPT));
      assertCloseToFloatHead(q8, kept.logits(PROMPT));
    } finally {
      await Promise.all([converted.dispose(), atLoad.dispose(), kept.dispose()]);
    }
  });

  it("a bf16 head quantizes like its values passed to the codec", async () => {
    const bf16Path = join(dir, "bf16.gguf");
    const source = await openFileSource(f32Path);
    try {
      await convertGGUF(await readGGUF(source), await atomicFileSink(bf16Path), { type: "tq2_0", embeddingType: "bf16" });
    } finally {
      await source.close();
    }
    const file = await readGGUF(await openFileSource(bf16Path));
    const values = bf16Codec.dequantize(await file.readTensor("token_embd.weight"), [BITNET.dim, BITNET.vocabSize]);
    await file.source.close();
    const model = await loadModel(bf16Path, { contextLength: 64, headType: "q8_0" });
    try {
      const d = model.weights.token_embd.data;
      assert.deepEqual(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), q8_0.quantize(values, [BITNET.dim, BITNET.vocabSize]));
    } finally {
      await model.dispose();
    }
  });

  it("an untied head is quantized alone; the embedding keeps its type", async () => {
    const model = await loadModel(llamaPath, { contextLength: 64, headType: "q8_0" });
    const kept = await loadModel(llamaPath, { contextLength: 64 });
    try {
      assert.equal(model.weights.tied, false);
      assert.equal(model.weights.output.kind === "float" && model.weights.output.format, "q8_0");
      assert.equal(model.weights.token_embd.format, "f16");
      assertCloseToFloatHead(model.logits(PROMPT), kept.logits(PROMPT));
    } finally {
      await Promise.all([model.dispose(), kept.dispose()]);
    }
  });

  it("a bad headType is a clear error", async () => {
    await assert.rejects(loadModel(f32Path, { headType: "q4_0" as "q8_0" }), /headType must be one of keep, q8_0, got 'q4_0'/);
  });

  it("the CLI: --head-type q8_0 gives the converted file's logits; a bad value is one line", async () => {
    const [a, b, bad] = await Promise.all([
      runCli(["logits", "-m", f32Path, "--head-type", "q8_0", "--prompt-ids", PROMPT.join(","), "--json"]),
      runCli(["logits", "-m", q8Path, "--prompt-ids", PROMPT.join(","), "--json"]),
      runCli(["logits", "-m", f32Path, "--head-type", "int8", "--prompt-ids", "1"]),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(JSON.parse(a.stdout), JSON.parse(b.stdout));
    assertOneLineError(bad, "--head-type must be one of keep, q8_0, got 'int8'");
  });
});
