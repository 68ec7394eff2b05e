/**
 * lm-evaluation-harness's multiple-choice scoring (src/eval/lm-eval.ts):
 * - a hand-computed example from the harness's formulas (task.py's process_results, metrics.py's
 *   mean_stderr): acc, acc_norm (length in characters, Python's count), first-wins ties, stderr with n − 1;
 * - _encode_pair: the trailing space moves into the continuation, the continuation's tokens come from the
 *   whole string's tokenization, BOS as the vocabulary says, an empty context, left truncation;
 * - WinoGrande's partial scoring: two contexts, one continuation;
 * - against llama.cpp: per-choice log-likelihoods equal within 1e-4 to those llama.cpp's logits give on the
 *   tiny fixture; on the default model (KJV items, which share contexts: our scorer reuses the cache across
 *   choices) the same decisions and LLs within int8 rounding (see llParity).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  choiceItem, encodePair, multipleInputItem, pairRequest, pythonLength, scoreItem, scoreItems, taskMetrics, type EvalTokenizer, type McItem,
} from "../../src/eval/lm-eval.ts";
import { ModelScorer } from "../../src/eval/scorer.ts";
import { meanStderr } from "../../src/eval/stats.ts";
import { kjvItems } from "../../src/eval/tasks/kjv.ts";
import { loadModel } from "../../src/index.ts";
import { heldOutChapters } from "../../src/node/task-files.ts";
import { disposeLlamaCpp } from "../helpers/llamacpp.ts";
import { DEFAULT_MODEL, fixturePath } from "../helpers/fixtures.ts";
import { FakeScorer, LlamaCppScorer } from "./helpers.ts";

after(() => disposeLlamaCpp());

const TINY = fixturePath("bitnet-tiny-tq2_0.gguf");
const DEFAULT = DEFAULT_MODEL;

/** One token per character, BOS = 1 first: every token boundary is visible in a test. */
const chars: EvalTokenizer = {
  bos: 1,
  eos: 2,
  encode: (text, o) => [...(o?.addBos ?? true ? [1] : []), ...Array.from(text, (c) => c.codePointAt(0) as number)],
};

test("a hand-computed example: acc, acc_norm and their standard errors as the harness computes them", async () => {
  const items: McItem[] = [
    choiceItem("Q: 1+1?\nA:", ["2", "eleven"], 1, "i1"), // LL −1, −3: acc picks 0 (wrong); per char −1 vs −0.5 picks 1 (right)
    choiceItem("Pick", ["a", "b", "c"], 2, "i2"), // LL −2, −2, −1: both right
    choiceItem("Tie", ["x", "y"], 0, "i3"), // LL −1, −1: the first wins (numpy.argmax), both right
    choiceItem("Long", ["long answer", "no"], 0, "i4"), // LL −5.5, −2: acc wrong; −0.5 vs −1 per char: right
  ];
  const lls = [[-1, -3], [-2, -2, -1], [-1, -1], [-5.5, -2]].flat();
  // The whole LL on the first scored token, 0 on the rest: the sum is what the test says.
  const fake = new FakeScorer((r, i) => ({ logprobs: r.tokens.slice(r.from).map((_, j) => (j === 0 ? lls[i] : 0)) }));
  const scores = await scoreItems(fake, chars, items, { block: 3 });
  assert.deepEqual(scores.map((s) => s.ll), [[-1, -3], [-2, -2, -1], [-1, -1], [-5.5, -2]]);
  assert.deepEqual(scores.map((s) => [s.acc, s.accNorm]), [[0, 1], [1, 1], [1, 1], [0, 1]]);
  const m = taskMetrics(scores, ["acc", "acc_norm"]);
  assert.equal(m.acc, 0.5);
  assert.ok(Math.abs((m.acc_stderr as number) - Math.sqrt(1 / 3) / 2) < 1e-15, "sqrt(Σ(x − 0.5)² / (n − 1)) / sqrt(n) = sqrt(1/3) / 2");
  assert.deepEqual([m.acc_norm, m.acc_norm_stderr, m.n], [1, 0, 4]);
  assert.deepEqual(taskMetrics(scores, ["acc"]).acc_norm, null, "tasks without acc_norm report none");
  assert.equal(meanStderr([1]), null, "one item: the harness's N/A");
  // The requests: context tokens then " " + choice, each character a token, BOS first.
  assert.deepEqual(fake.seen[1].tokens, chars.encode("Q: 1+1?\nA: eleven"));
  assert.equal(fake.seen[1].from, chars.encode("Q: 1+1?\nA:").length);
});

test("acc_norm divides by the choice's length in characters as Python counts them (code points), without the delimiter", () => {
  assert.equal(pythonLength("😀a"), 2);
  assert.equal(pythonLength("naïve"), 5);
  const item = choiceItem("c", ["😀😀", "abc"], 0, "emoji");
  // −2.2 / 2 = −1.1 beats −3.6 / 3 = −1.2 only when the emoji count as one character each.
  assert.equal(scoreItem(item, [-2.2, -3.6], [false, false]).accNorm, 1);
});

test("_encode_pair: the trailing space moves into the continuation; the continuation is the whole string's tail", async () => {
  assert.deepEqual(encodePair(chars, "The cat ", "sat"), encodePair(chars, "The cat", " sat"));
  assert.deepEqual(encodePair(chars, "Hi", " x").context, [1, 72, 105], "BOS as the vocabulary says (lm-eval ≥ 0.4.10)");
  assert.deepEqual(encodePair(chars, "Hi", " x", false).context, [72, 105], "no BOS: lm-eval 0.4.0–0.4.9's default for causal models");
  assert.deepEqual(encodePair(chars, "Q:\n\t ", "x"), { context: chars.encode("Q:"), continuation: Array.from("\n\t x", (c) => c.codePointAt(0)) });
  // A tokenizer that merges across the boundary: "ab" is one token (9) only when both letters are there.
  const merging: EvalTokenizer = {
    bos: 1, eos: 2,
    encode: (t, o) => [...(o?.addBos ?? true ? [1] : []), ...t.replace(/ab/g, "\u0009").split("").map((c) => (c === "\u0009" ? 9 : c.charCodeAt(0)))],
  };
  const enc = encodePair(merging, "xa", "b");
  assert.deepEqual(enc.context, [1, 120, 97]);
  assert.deepEqual(enc.continuation, [], "whole = [1, x, ab] has nothing after the context's 3 tokens");
  assert.throws(() => pairRequest(merging, "xa", "b", 100, "item 7: choice 0"), /item 7: choice 0: the continuation "b" has no tokens of its own/);
  const enc2 = encodePair(merging, "xa", "bc");
  assert.deepEqual(enc2.continuation, [99], "whole [1, x, ab, c] after 3 context tokens");
  assert.deepEqual(pairRequest(merging, "xa", "bc", 100, "x").tokens, [1, 120, 97, 99], "the model reads context tokens + continuation tokens, as the harness feeds them");
});

test("an empty context is the BOS token alone; a long request is left-truncated to the context + 1", () => {
  assert.deepEqual(encodePair(chars, "", " hi"), { context: [1], continuation: [32, 104, 105] });
  // BOS + 10 context characters + " ab": the last 6 + 1 tokens are kept (the model reads 6).
  const r = pairRequest(chars, "0123456789", " ab", 6, "t");
  assert.deepEqual(r.tokens, Array.from("6789 ab", (c) => c.charCodeAt(0)));
  assert.equal(r.from, 4);
  assert.throws(() => pairRequest(chars, "ctx", " a very long continuation", 8, "item 3: choice 1"), /item 3: choice 1: the continuation has 25 tokens, more than the context of 8/);
});

test("WinoGrande's partial scoring: one request per context, the same continuation after each", async () => {
  const item = multipleInputItem(["The trophy didn't fit: the trophy", "The trophy didn't fit: the suitcase"], "was too big.", 0, "wg");
  assert.deepEqual(item.requests.map((r) => r.continuation), [" was too big.", " was too big."]);
  assert.deepEqual(item.choices, ["The trophy didn't fit: the trophy", "The trophy didn't fit: the suitcase"]);
  const fake = new FakeScorer((r) => ({ logprobs: r.tokens.slice(r.from).map(() => -0.1) }));
  await scoreItems(fake, chars, [item]);
  assert.deepEqual(fake.seen.map((r) => r.tokens.length - r.from), [13, 13], "both score the 13 characters of ' was too big.'");
});

/**
 * Our per-choice LL against llama.cpp's. `strict`: every choice within 1e-4. Otherwise (a trained ternary
 * model with int8 activations) a choice may differ by more where an activation lands within an ulp of
 * an int8 rounding boundary and the two engines round it apart (RMSNorm's float arithmetic differs
 * slightly; llama.cpp's vectorized expf in SiLU is not correctly rounded): then most choices must still
 * agree within 1e-4, none by more than 5e-3, and every item's acc and acc_norm decisions must be equal.
 */
async function llParity(t: import("node:test").TestContext, path: string, items: McItem[], ctx: number, strict: boolean): Promise<void> {
  const model = await loadModel(path, { actQuant: "block256", contextLength: ctx, threads: 1 });
  try {
    const ours = await scoreItems(new ModelScorer(model), model.tokenizer, items);
    const theirs = await scoreItems(new LlamaCppScorer(path, model.config.vocabSize, ctx), model.tokenizer, items);
    const diffs: number[] = [];
    ours.forEach((s, i) => s.ll.forEach((ll, c) => {
      const d = Math.abs(ll - theirs[i].ll[c]);
      diffs.push(d);
      assert.ok(d < (strict ? 1e-4 : 5e-3), `${items[i].source} choice ${c}: LL ${ll} vs llama.cpp ${theirs[i].ll[c]}`);
      if (strict) assert.equal(s.greedy[c], theirs[i].greedy[c], `${items[i].source} choice ${c}: is_greedy`);
    }));
    ours.forEach((s, i) => assert.deepEqual([s.acc, s.accNorm], [theirs[i].acc, theirs[i].accNorm], `${items[i].source}: the same decisions`));
    const within = diffs.filter((d) => d < 1e-4).length;
    if (!strict) assert.ok(within >= 0.5 * diffs.length, `${within} of ${diffs.length} choices within 1e-4`);
    t.diagnostic(`${path}: ${ours.length} items, ${within} of ${diffs.length} choices within 1e-4 of llama.cpp, largest |ΔLL| ${Math.max(...diffs).toExponential(2)}`);
  } finally {
    await model.dispose();
  }
}

test("llama.cpp parity: per-choice LL on KJV items with the default model (cache reused across choices)", { skip: existsSync(DEFAULT) ? false : "models/bitnet-default.gguf is absent" }, async (t) => {
  const items = kjvItems(await heldOutChapters()).slice(0, 4);
  items.push(choiceItem("And God said, Let there be", ["light", "darkness upon the face of the deep and the waters"], 0, "generic"));
  // A long continuation: many rows scored in one evaluation.
  items.push(choiceItem("In the beginning", [Array(48).fill("and the earth").join(" ")], 0, "long"));
  await llParity(t, DEFAULT, items, 256, false);
});

test("llama.cpp parity: per-choice LL on the tiny fixture (SentencePiece vocabulary, BOS added)", async (t) => {
  const items = [
    choiceItem("Question: What is the first book?\nAnswer:", ["Genesis", "Exodus", "the book of the law"], 0, "q1"),
    choiceItem("The cat sat on the ", ["mat", "hat"], 1, "q2"), // trailing space moves into the continuation
    multipleInputItem(["Ann gave Sue the book because Ann", "Ann gave Sue the book because Sue"], "wanted it.", 1, "wg"),
  ];
  await llParity(t, TINY, items, 128, true);
});
