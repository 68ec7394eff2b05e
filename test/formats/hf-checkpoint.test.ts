/**
 * Hugging Face checkpoint directories against transformers itself: for each committed fixture layout
 * (test/fixtures/hf, written by scripts/hf-fixtures), our engine on the directory and on its I2_S `convert`
 * output must give transformers' token ids for the prompts, its logits within 1e-3 and its greedy tokens.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { loadModelFrom } from "../../src/core.ts";
import { convertGGUF } from "../../src/convert/convert-gguf.ts";
import { readGGUF } from "../../src/formats/gguf/reader.ts";
import { memorySink } from "../../src/formats/sink.ts";
import { bufferSource } from "../../src/formats/source.ts";
import type { BitNetModel } from "../../src/model/model.ts";
import { openHFDir } from "../../src/node/hf-dir.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import { HF_FIXTURES, HF_LAYOUTS as LAYOUTS } from "../helpers/hf-fixtures.ts";


interface Reference {
  prompts: { prompt: string; ids: number[]; positions: number[]; logits: number[][]; greedy: number[] }[];
}

function reference(layout: string): Reference {
  return JSON.parse(readFileSync(`${HF_FIXTURES}${layout}/reference.json`, "utf8")) as Reference;
}

async function greedy(model: BitNetModel, ids: number[], n: number): Promise<number[]> {
  const out: number[] = [];
  for await (const t of model.generate(ids, { maxTokens: n, temperature: 0, ignoreEos: true })) if (t.token >= 0) out.push(t.token);
  return out;
}

async function checkAgainstTransformers(model: BitNetModel, ref: Reference, what: string): Promise<void> {
  const V = model.config.vocabSize;
  for (const p of ref.prompts) {
    assert.deepEqual(model.tokenize(p.prompt), p.ids, `${what}: token ids of ${JSON.stringify(p.prompt)}`);
    const all = model.allLogits(p.ids);
    p.positions.forEach((pos, k) => {
      let worst = 0;
      for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(all[pos * V + v] - p.logits[k][v]));
      assert.ok(worst < 1e-3, `${what}: ${JSON.stringify(p.prompt)} position ${pos}: logits differ by ${worst}`);
    });
    assert.deepEqual(await greedy(model, p.ids, p.greedy.length), p.greedy, `${what}: greedy tokens of ${JSON.stringify(p.prompt)}`);
  }
}

for (const layout of LAYOUTS) {
  test(`${layout}: the directory matches transformers (ids, logits within 1e-3, greedy tokens)`, async () => {
    const model = await loadModelFrom(await openHFDir(`${HF_FIXTURES}${layout}`), { kernels: refKernels });
    try {
      await checkAgainstTransformers(model, reference(layout), layout);
    } finally {
      await model.dispose();
    }
  });

  test(`${layout}: its I2_S conversion matches transformers too`, async () => {
    const ckpt = await openHFDir(`${HF_FIXTURES}${layout}`);
    const sink = memorySink();
    try {
      await convertGGUF(ckpt, sink, { type: "i2_s" });
    } finally {
      await ckpt.source.close();
    }
    const file = await readGGUF(bufferSource(sink.bytes(), `${layout}.gguf`));
    const arch = file.metadata["general.architecture"] as string;
    assert.equal(file.metadata[`${arch}.hidden_activation`], file.metadata[`${arch}.feed_forward_activation`]);
    const model = await loadModelFrom(sink.bytes());
    try {
      await checkAgainstTransformers(model, reference(layout), `${layout} → i2_s`);
    } finally {
      await model.dispose();
    }
  });
}
