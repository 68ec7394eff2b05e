/**
 * Export → llama.cpp → same tokens. A SiLU model (llama.cpp's `bitnet` architecture) trained here for 30 steps is
 * exported as TQ2_0 and TQ1_0 and run by llama.cpp v0.5.0 (node-llama-cpp, F32 KV cache, one thread). Every
 * BitLinear input is 256 wide, so llama.cpp's Q8_K activation blocks give the same integers as BitNet's
 * per-token rule, and three implementations must agree on 20 greedy tokens: llama.cpp, our engine in its
 * `block256` mode, and the training forward at the γ the file stores (fp16; see export-engine-parity.ts).
 * Logits at the prompt: llama.cpp vs our engine within 1e-3 (as in test/model/llamacpp-parity.test.ts), llama.cpp
 * vs the training forward within 2e-3. Also the tokenizer: llama.cpp's, ours (both from the exported file) and the
 * trainer side's ids (the test's reference BPE encoder, and bpe-trainer.ts's own vocabulary and segmentation)
 * agree.
 */

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel } from "../../src/index.ts";
import { atomicFileSink } from "../../src/node/atomic-file-sink.ts";
import { createActivations } from "../../src/train/acts.ts";
import { exportGGUF } from "../../src/train/export-gguf.ts";
import { greedyTokens, logitsAt } from "../../src/train/model.ts";
import { encodeWithMerges, trainBpe } from "../../src/train/bpe-trainer.ts";
import { createParamSet, initParams, type ParamSet } from "../../src/train/params.ts";
import { disposeLlamaCpp, llamaCppGreedy, llamaCppLastLogits, llamaCppTokenize } from "../helpers/llamacpp.ts";
import { maxAbsDiff } from "../helpers/compare.ts";
import { greedyIds } from "../helpers/generate.ts";
import { CORPUS, encodeReference, testConfig, trainTestBpe, trainTiny, withStoredGammas } from "./export-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "bitnet-export-llamacpp-"));
after(async () => {
  await disposeLlamaCpp();
  rmSync(dir, { recursive: true, force: true });
});

const vocab = trainTestBpe(CORPUS, 24);
const config = testConfig("silu", 304);
const STEPS = 20;
const prompt = encodeReference(vocab, "the cat sat");
let trained: ParamSet | undefined;
const model = (): ParamSet => (trained ??= trainTiny(config, encodeReference(vocab, CORPUS.repeat(8)), { seed: 6, steps: 30, B: 1, T: 32, lr: 1e-2 }));

for (const type of ["tq2_0", "tq1_0"] as const) {
  test(`silu model as ${type}: llama.cpp, our engine (block256) and the training forward give the same 20 greedy tokens`, async (t) => {
    const p = model();
    const path = join(dir, `silu-${type}.gguf`);
    await exportGGUF(p, vocab, await atomicFileSink(path), { type });

    const llama = await llamaCppGreedy(path, prompt, STEPS);
    const llamaLogits = await llamaCppLastLogits(path, prompt);

    const ref = withStoredGammas(p, type);
    const acts = createActivations(config, 1, prompt.length + STEPS);
    const training = [...greedyTokens(ref, acts, Int32Array.from(prompt), STEPS)];
    const trainingLogits = logitsAt(ref, acts, Int32Array.from(prompt));

    const engine = await loadModel(path, { contextLength: 64, actQuant: "block256" });
    try {
      const ours = await greedyIds(engine, prompt, STEPS);
      const oursLogits = engine.logits(prompt);
      const dEngine = maxAbsDiff(oursLogits, llamaLogits);
      const dTraining = maxAbsDiff(trainingLogits, llamaLogits);
      t.diagnostic(`prompt logits: |ours − llama.cpp| ${dEngine.toExponential(2)}, |training − llama.cpp| ${dTraining.toExponential(2)}; text ${JSON.stringify(engine.detokenize(ours))}`);
      assert.deepEqual(llama.tokens, training, "llama.cpp vs the training forward");
      assert.deepEqual(ours, training, "our engine (block256) vs the training forward");
      assert.ok(dEngine < 1e-3, `our engine vs llama.cpp: max |Δlogit| ${dEngine}`);
      assert.ok(dTraining < 2e-3, `training forward vs llama.cpp: max |Δlogit| ${dTraining}`);
    } finally {
      await engine.dispose();
    }
  });
}

test("tokenizer round trip: llama.cpp, our tokenizer (from the exported file) and the reference encoder agree", async () => {
  const path = join(dir, "silu-tq2_0.gguf");
  const texts = [
    "the cat sat on the mat.",
    "isn't it? that's the end; the dog's log",
    "  two  spaces, a tab\tand\na newline\n\n",
    "dog123 4,567 cats!! (x) -- y",
    "The Cat SAT",
  ];
  const engine = await loadModel(path);
  try {
    for (const text of texts) {
      const want = encodeReference(vocab, text);
      assert.deepEqual(engine.tokenize(text), want, `ours: ${JSON.stringify(text)}`);
      assert.deepEqual(await llamaCppTokenize(path, text), want, `llama.cpp: ${JSON.stringify(text)}`);
      assert.equal(engine.detokenize(want), text, `decode: ${JSON.stringify(text)}`);
    }
    // The specials are control tokens: matched only when asked to parse specials, as in llama.cpp.
    const special = "<|begin_of_text|>the cat<|end_of_text|>";
    assert.deepEqual(engine.tokenize(special, { special: true }), [vocab.bos, ...encodeReference(vocab, "the cat"), vocab.eos]);
    assert.deepEqual(await llamaCppTokenize(path, special, true), [vocab.bos, ...encodeReference(vocab, "the cat"), vocab.eos]);
  } finally {
    await engine.dispose();
  }
});

test("a vocabulary from bpe-trainer.ts: llama.cpp and our tokenizer (from the exported file) give encodeWithMerges' ids", async () => {
  const texts = [CORPUS, "Numbers 1234 and 56, UPPER case, naïve café — ünïcödé ✓ and   spaces\n\tend."];
  const bpe = trainBpe(texts, { vocabSize: 300 });
  const p = createParamSet(testConfig("silu", 300));
  initParams(p, 3);
  const path = join(dir, "trainer-vocab.gguf");
  await exportGGUF(p, bpe, await atomicFileSink(path), { type: "tq2_0" });
  const engine = await loadModel(path);
  try {
    for (const text of [...texts, "the naïve cat's 99 café", "  \n\n x"]) {
      const want = encodeWithMerges(bpe, text);
      assert.deepEqual(engine.tokenize(text), want, `ours: ${JSON.stringify(text)}`);
      assert.deepEqual(await llamaCppTokenize(path, text), want, `llama.cpp: ${JSON.stringify(text)}`);
    }
  } finally {
    await engine.dispose();
  }
});
