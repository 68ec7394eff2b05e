/**
 * Proves the llama.cpp harness (test/helpers/llamacpp.ts) runs with the settings the
 * `*.ref.json` fixtures were made with: it must reproduce their greedy continuations
 * exactly and their last-position logits to 1e-4. If this fails, the engine's parity
 * tests that use the harness cannot be trusted either.
 *
 * It tests the harness and the fixtures against each other, not bitnet-ts.
 */

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { argmax, disposeLlamaCpp, llamaCppGreedy, llamaCppLastLogits, llamaCppTokenize } from "../helpers/llamacpp.ts";

import { FIXTURES_DIR as fixturesDir } from "../helpers/fixtures.ts";
import { maxAbsDiff } from "../helpers/compare.ts";
const logitTolerance = 1e-4;

interface LlamaCppReference {
  model: string;
  prompt: number[];
  greedy: number[];
  lastLogits: number[];
}

function readReference(name: string): LlamaCppReference {
  return JSON.parse(readFileSync(`${fixturesDir}${name}.ref.json`, "utf8")) as LlamaCppReference;
}

after(disposeLlamaCpp);

for (const name of ["bitnet-tiny-tq2_0", "bitnet-small-tq1_0"]) {
  describe(`llama.cpp harness reproduces ${name}.ref.json`, () => {
    const ref = readReference(name);
    const modelPath = `${fixturesDir}${ref.model}`;

    it("last-position logits within 1e-4", async () => {
      const logits = await llamaCppLastLogits(modelPath, ref.prompt);
      assert.equal(logits.length, ref.lastLogits.length);
      const diff = maxAbsDiff(logits, ref.lastLogits);
      assert.ok(diff <= logitTolerance, `max |Δlogit| = ${diff}`);
      assert.equal(argmax(logits), ref.greedy[0]);
    });

    it("greedy continuation token for token", async () => {
      const { tokens, lastLogits } = await llamaCppGreedy(modelPath, ref.prompt, ref.greedy.length);
      assert.deepEqual(tokens, ref.greedy);
      assert.equal(argmax(lastLogits), ref.greedy[ref.greedy.length - 1]);
    });

    // Without this the 1e-4 match would prove nothing about the settings: the fixture must reject the wrong ones.
    it("does not match with F16 K/V caches or with flash attention", async () => {
      const f16 = await llamaCppLastLogits(modelPath, ref.prompt, { kvCacheType: "F16" });
      assert.ok(maxAbsDiff(f16, ref.lastLogits) > 100 * logitTolerance, "F16 caches reproduced the fixture");
      const flash = await llamaCppLastLogits(modelPath, ref.prompt, { flashAttention: true });
      assert.ok(maxAbsDiff(flash, ref.lastLogits) > 100 * logitTolerance, "flash attention reproduced the fixture");
    });

    it("greedy of length 1 ends on the prompt's logits", async () => {
      const { tokens, lastLogits } = await llamaCppGreedy(modelPath, ref.prompt, 1);
      assert.deepEqual(tokens, ref.greedy.slice(0, 1));
      assert.ok(maxAbsDiff(lastLogits, ref.lastLogits) <= logitTolerance);
    });
  });
}

describe("llama.cpp harness tokenizer", () => {
  const modelPath = `${fixturesDir}bitnet-tiny-tq2_0.gguf`;

  it("maps special text to special ids only when asked", async () => {
    assert.deepEqual(await llamaCppTokenize(modelPath, "</s>", true), [2]);
    const plain = await llamaCppTokenize(modelPath, "</s>", false);
    assert.ok(!plain.includes(2), `plain tokenization of "</s>" gave ${JSON.stringify(plain)}`);
  });

  it("falls back to byte tokens (<0xNN> = 3 + NN) for text the vocabulary lacks", async () => {
    // "\u00ff" is two UTF-8 bytes, C3 BF; the fixture vocabulary holds byte tokens at 3..258.
    const ids = await llamaCppTokenize(modelPath, "\u00ff", false);
    assert.ok(ids.length >= 2, JSON.stringify(ids));
    assert.deepEqual(ids.slice(-2), [3 + 0xc3, 3 + 0xbf]);
  });
});
