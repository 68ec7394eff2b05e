/**
 * llama-perplexity's protocol (src/eval/perplexity.ts):
 * - on a fake scorer whose log-probabilities the test writes, the chunks, the BOS in each chunk's first
 *   position, the scored positions, the running estimates and the final PPL ± stderr, all computed by hand;
 * - bad input: an empty text, a text shorter than 2·ctx, a ctx larger than the model's context;
 * - against llama.cpp: its logits (node-llama-cpp, F32 K/V, flash attention off) put through the same
 *   protocol give our PPL within 1e-3 relative, on the tiny fixture and on the default model, with our
 *   engine in block256 mode (llama.cpp's activation rule) — and llama.cpp tokenizes the text as we do.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "../../src/errors.ts";
import { formatPerplexity, NllAccumulator, perplexity, textPerplexity } from "../../src/eval/perplexity.ts";
import { ModelScorer } from "../../src/eval/scorer.ts";
import { loadModel } from "../../src/index.ts";
import { heldOutText } from "../../src/node/task-files.ts";
import { disposeLlamaCpp, llamaCppTokenize } from "../helpers/llamacpp.ts";
import { FakeScorer, LlamaCppScorer } from "./helpers.ts";

after(() => disposeLlamaCpp());

const TINY = fileURLToPath(new URL("../../../shared/fixtures/bitnet-tiny-tq2_0.gguf", import.meta.url));
const DEFAULT = fileURLToPath(new URL("../../models/bitnet-default.gguf", import.meta.url));

test("protocol: chunks, BOS, the scored second halves, running estimates and llama.cpp's stderr, by hand", async () => {
  const tokens = Array.from({ length: 19 }, (_, i) => i); // 19 tokens, ctx 8: ⌊19/8⌋ = 2 chunks
  const fake = new FakeScorer((r) => ({ logprobs: r.tokens.slice(r.from).map((t) => -t / 100) }));
  const seen: number[] = [];
  const r = await perplexity(fake, tokens, { ctx: 8, bos: 999, sequences: 3 }, (e) => seen.push(e.ppl));
  assert.deepEqual(fake.seen.map((q) => [...q.tokens]), [[999, 1, 2, 3, 4, 5, 6, 7], [999, 9, 10, 11, 12, 13, 14, 15]]);
  assert.deepEqual(fake.seen.map((q) => q.from), [5, 5]); // positions ctx/2 + 1 … ctx − 1
  // nll: 0.05 0.06 0.07 | 0.13 0.14 0.15
  assert.equal(r.count, 6);
  assert.equal(r.chunks, 2);
  assert.ok(Math.abs(r.estimates[0] - Math.exp(0.06)) < 1e-12);
  assert.ok(Math.abs(r.ppl - Math.exp(0.1)) < 1e-12);
  assert.deepEqual(seen, r.estimates);
  const meanSq = (0.05 ** 2 + 0.06 ** 2 + 0.07 ** 2 + 0.13 ** 2 + 0.14 ** 2 + 0.15 ** 2) / 6;
  const nllStderr = Math.sqrt((meanSq - 0.01) / 5);
  assert.ok(Math.abs(r.nllStderr - nllStderr) < 1e-12);
  assert.ok(Math.abs(r.stderr - nllStderr * Math.exp(0.1)) < 1e-12);
  assert.equal(formatPerplexity(r), `[1]${Math.exp(0.06).toFixed(4)},[2]${Math.exp(0.1).toFixed(4)},\nFinal estimate: PPL = ${Math.exp(0.1).toFixed(4)} +/- ${r.stderr.toFixed(5)}`);
});

test("protocol: --chunks caps the count, an odd ctx scores from ⌊ctx/2⌋ + 1, no BOS keeps the first token", async () => {
  const tokens = Array.from({ length: 40 }, (_, i) => i);
  const fake = new FakeScorer((r) => ({ logprobs: r.tokens.slice(r.from).map(() => -1) }));
  const r = await perplexity(fake, tokens, { ctx: 9, bos: undefined, chunks: 2, sequences: 1 });
  assert.equal(r.chunks, 2);
  assert.deepEqual(fake.seen.map((q) => [q.tokens[0], q.from, q.tokens.length]), [[0, 5, 9], [9, 5, 9]]);
  assert.equal(r.count, 8);
  assert.ok(Math.abs(r.ppl - Math.E) < 1e-12);
  assert.ok(Number.isNaN(r.stderr), "a zero variance has no standard error (llama.cpp prints an error there)");
});

test("the accumulator keeps llama.cpp's running sums", () => {
  const a = new NllAccumulator();
  for (const lp of [-1, -2, -3]) a.add(lp);
  assert.deepEqual([a.nll, a.nll2, a.count], [6, 14, 3]);
  assert.ok(Math.abs(a.final().nllStderr - Math.sqrt((14 / 3 - 4) / 2)) < 1e-15);
});

test("bad input: an empty text, fewer than 2·ctx tokens, a ctx over the model's context, a bad ctx", async () => {
  const fake = new FakeScorer(() => ({ logprobs: [] }), 100);
  const tok = { addBos: true, bos: 1, encode: (t: string) => [1, ...Array.from(t, (c) => c.charCodeAt(0))] };
  await assert.rejects(textPerplexity(fake, tok, "", { ctx: 8, what: "empty.txt" }), (e: Error) => e instanceof InvalidArgumentError && /empty\.txt: the text is empty/.test(e.message));
  await assert.rejects(perplexity(fake, [1], { ctx: 8, bos: 1, what: "bos-only.txt" }), /bos-only\.txt: the text is empty/);
  await assert.rejects(textPerplexity(fake, tok, "short text", { ctx: 8, what: "short.txt" }), (e: Error) => e instanceof InvalidArgumentError && e.message === "short.txt: 11 tokens, but perplexity with a context of 8 needs at least 16 (2 × ctx); use a longer text or a smaller --ctx");
  await assert.rejects(perplexity(fake, Array(1000).fill(5), { ctx: 200, bos: 1 }), /ctx 200 is larger than the model's context of 100/);
  await assert.rejects(perplexity(fake, Array(1000).fill(5), { ctx: 3, bos: 1 }), /ctx must be an integer ≥ 4/);
  await assert.rejects(perplexity(fake, Array(1000).fill(5), { ctx: 8, bos: 1, chunks: 0 }), /chunks must be a positive integer/);
  await assert.rejects(perplexity(fake, Array(1000).fill(5), { ctx: 8, bos: 1, sequences: 0 }), /sequences must be a positive integer/);
});

const KJV_EXCERPT = [
  "In the beginning God created the heaven and the earth.",
  "And the earth was without form, and void; and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters.",
  "And God said, Let there be light: and there was light.",
  "And God saw the light, that it was good: and God divided the light from the darkness.",
  "And God called the light Day, and the darkness he called Night. And the evening and the morning were the first day.",
].join("\n");

async function parity(t: import("node:test").TestContext, path: string, text: string, ctx: number, chunks: number): Promise<void> {
  const model = await loadModel(path, { actQuant: "block256", contextLength: ctx, threads: 1 });
  try {
    const tokens = model.tokenize(text);
    const bos = model.tokenizer.addBos ? [model.tokenizer.bos as number] : [];
    assert.deepEqual([...bos, ...(await llamaCppTokenize(path, text))], tokens, "llama.cpp tokenizes the text as we do (with BOS when the vocabulary adds it)");
    const ours = await textPerplexity(new ModelScorer(model), model.tokenizer, text, { ctx, chunks });
    const theirs = await perplexity(new LlamaCppScorer(path, model.config.vocabSize, ctx), tokens, { ctx, chunks, bos: model.tokenizer.addBos ? model.tokenizer.bos : undefined });
    t.diagnostic(`${path}: ours ${formatPerplexity(ours).split("\n")[1]}, llama.cpp's logits ${formatPerplexity(theirs).split("\n")[1]}`);
    assert.equal(ours.count, theirs.count);
    ours.estimates.forEach((p, i) => assert.ok(Math.abs(p / theirs.estimates[i] - 1) < 1e-3, `chunk ${i + 1}: ${p} vs ${theirs.estimates[i]}`));
    assert.ok(Math.abs(ours.ppl / theirs.ppl - 1) < 1e-3, `PPL ${ours.ppl} vs llama.cpp ${theirs.ppl}`);
    assert.ok(Math.abs(ours.stderr / theirs.stderr - 1) < 1e-2, `stderr ${ours.stderr} vs llama.cpp ${theirs.stderr}`);
  } finally {
    await model.dispose();
  }
}

test("llama.cpp parity: the tiny fixture, 3 chunks of 128", async (t) => {
  await parity(t, TINY, KJV_EXCERPT.repeat(4), 128, 3);
});

test("llama.cpp parity: the default model on the held-out KJV text, 2 chunks of 256", { skip: existsSync(DEFAULT) ? false : "models/bitnet-default.gguf is absent" }, async (t) => {
  await parity(t, DEFAULT, (await heldOutText()).slice(0, 20000), 256, 2);
});
