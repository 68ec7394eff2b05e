// Sampler against hand-computed examples (each filter, the chain order, penalties), a statistical
// check of the draw, determinism, a 128k vocabulary checked against a full sort, and option validation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_SAMPLING, Sampler, resolveSamplingOptions, type SamplingOptions } from "../../src/generate/sampler.ts";
import { Rng } from "../../src/generate/rng.ts";

const NO_FILTERS = { topK: 0, topP: 1, minP: 0 } as const;

function dist(logits: number[], options: SamplingOptions, history: number[] = []) {
  const sampler = new Sampler(logits.length, { seed: 1, ...options });
  const d = sampler.distribution(Float32Array.from(logits), history);
  return { ids: [...d.ids], probs: [...d.probs] };
}

/** Softmax in float64 over the given logits (already divided by the temperature). */
function softmax(values: number[]): number[] {
  const max = values.reduce((m, v) => Math.max(m, v), -Infinity);
  const e = values.map((v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function assertClose(actual: number[], expected: number[], tol = 1e-6) {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol, `index ${i}: ${a} vs ${expected[i]}`));
}

// Ids 0..4 with logits 2, 1, 0, -1, 3: by logit the order is 4, 0, 1, 2, 3.
const FIVE = [2, 1, 0, -1, 3];

test("defaults are llama.cpp's common_params_sampling", () => {
  const r = resolveSamplingOptions({ seed: 3 });
  assert.deepEqual(
    { temperature: r.temperature, topK: r.topK, topP: r.topP, minP: r.minP, repeatPenalty: r.repeatPenalty, penaltyLastN: r.penaltyLastN },
    { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, penaltyLastN: 64 },
  );
  assert.equal(DEFAULT_SAMPLING.presencePenalty, 0);
  assert.equal(DEFAULT_SAMPLING.frequencyPenalty, 0);
  assert.ok(Number.isInteger(resolveSamplingOptions().seed), "a random seed is chosen when none is given");
});

test("greedy (temperature 0) returns the argmax, ties to the lowest id, whatever the seed", () => {
  for (const seed of [1, 2, 3]) {
    const s = new Sampler(5, { temperature: 0, seed });
    assert.equal(s.sample(Float32Array.from(FIVE), []), 4);
    assert.equal(s.sample(Float32Array.from([0, 5, 1, 5, 5]), []), 1);
    assert.equal(s.sample(Float32Array.from([-Infinity, -3, -Infinity, -2.5, -9]), []), 3);
  }
});

test("top-k keeps the k highest logits, renormalized", () => {
  const d = dist(FIVE, { ...NO_FILTERS, temperature: 1, topK: 2 });
  assert.deepEqual(d.ids, [4, 0]);
  // Two survivors one logit apart: p = 1 / (1 + e^-1).
  assertClose(d.probs, [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1))]);
  // k larger than the vocabulary keeps everything.
  assert.equal(dist(FIVE, { ...NO_FILTERS, temperature: 1, topK: 99 }).ids.length, 5);
});

test("top-k ties at the boundary keep the lower id", () => {
  assert.deepEqual(dist([1, 3, 2, 3, 3], { ...NO_FILTERS, temperature: 1, topK: 2 }).ids, [1, 3]);
});

test("top-p keeps the shortest prefix whose probability reaches p", () => {
  // Softmax of FIVE, by descending logit: 0.6364, 0.2341, 0.0861, 0.0317, 0.0117.
  // Running sums: 0.6364, 0.8705, 0.9566, 0.9883, 1.
  assert.deepEqual(dist(FIVE, { ...NO_FILTERS, temperature: 1, topP: 0.6 }).ids, [4]);
  assert.deepEqual(dist(FIVE, { ...NO_FILTERS, temperature: 1, topP: 0.8 }).ids, [4, 0]);
  assert.deepEqual(dist(FIVE, { ...NO_FILTERS, temperature: 1, topP: 0.9 }).ids, [4, 0, 1]);
  assert.deepEqual(dist(FIVE, { ...NO_FILTERS, temperature: 1, topP: 0.99 }).ids, [4, 0, 1, 2, 3]);
  const d = dist(FIVE, { ...NO_FILTERS, temperature: 1, topP: 0.9 });
  assertClose(d.probs, softmax([3, 2, 1]));
});

test("min-p keeps tokens with probability >= minP times the top one", () => {
  // Ratios to the top token are e^(l - 3): 1, 0.368, 0.135, 0.0498, 0.0183.
  assert.deepEqual(dist(FIVE, { ...NO_FILTERS, temperature: 1, minP: 0.4 }).ids, [4]);
  assert.deepEqual(dist(FIVE, { ...NO_FILTERS, temperature: 1, minP: 0.1 }).ids, [4, 0, 1]);
  assert.deepEqual(dist(FIVE, { ...NO_FILTERS, temperature: 1, minP: 0.05 }).ids, [4, 0, 1]);
  assert.deepEqual(dist(FIVE, { ...NO_FILTERS, temperature: 1, minP: 0.04 }).ids, [4, 0, 1, 2]);
  assert.deepEqual(dist(FIVE, { ...NO_FILTERS, temperature: 1, minP: 1 }).ids, [4]);
});

test("top-p runs after top-k, on the renormalized top-k set", () => {
  // Over all five tokens top-p 0.9 keeps three (see above). After top-k 3 the probabilities are
  // softmax(3, 2, 1) = 0.6652, 0.2447, 0.0900, whose running sum reaches 0.9 at the second token.
  assert.deepEqual(dist(FIVE, { temperature: 1, topK: 3, topP: 0.9, minP: 0 }).ids, [4, 0]);
});

test("temperature divides the logits after the filters, which see the unscaled logits", () => {
  const d = dist(FIVE, { ...NO_FILTERS, temperature: 2, topK: 2 });
  assert.deepEqual(d.ids, [4, 0]);
  assertClose(d.probs, softmax([3 / 2, 2 / 2]));
  // min-p 0.3 on unscaled logits keeps e^-1 = 0.37 but not e^-2 = 0.14. Had it seen logits / 10,
  // token 1's ratio would be e^-0.2 = 0.82 and it would survive.
  const hot = dist(FIVE, { ...NO_FILTERS, temperature: 10, minP: 0.3 });
  assert.deepEqual(hot.ids, [4, 0]);
  assertClose(hot.probs, softmax([0.3, 0.2]));
  // No filter: all ids in id order, softmax(logits / T).
  const all = dist(FIVE, { ...NO_FILTERS, temperature: 0.5 });
  assert.deepEqual(all.ids, [0, 1, 2, 3, 4]);
  assertClose(all.probs, softmax(FIVE.map((l) => l / 0.5)));
});

test("penalties: divide positive / multiply non-positive logits, then subtract count*freq + presence", () => {
  const logits = Float32Array.from([2.0, -1.0, 0.5, 0.0, 3.0]);
  const history = [0, 1, 1, 3, 0, 0]; // counts: id0 3, id1 2, id3 1
  const s = new Sampler(5, { repeatPenalty: 1.5, frequencyPenalty: 0.1, presencePenalty: 0.2, penaltyLastN: 64, seed: 1 });
  const out = [...s.penalizedLogits(logits, history)];
  // id0: 2 / 1.5 - (3 * 0.1 + 0.2) = 0.8333; id1: -1 * 1.5 - (2 * 0.1 + 0.2) = -1.9;
  // id3: 0 * 1.5 - (0.1 + 0.2) = -0.3; ids 2 and 4 were not seen.
  assertClose(out, [2 / 1.5 - 0.5, -1.9, 0.5, -0.3, 3.0], 1e-6);
  // The input row is not modified.
  assert.deepEqual([...logits], [2.0, -1.0, 0.5, 0.0, 3.0]);
});

test("penalties only look at the last penaltyLastN tokens (0 disables, -1 = all)", () => {
  const logits = Float32Array.from([2.0, -1.0, 0.5, 0.0, 3.0]);
  const history = [1, 1, 3, 0, 0];
  const opts = { repeatPenalty: 2, frequencyPenalty: 0, presencePenalty: 0, seed: 1 };
  assert.deepEqual([...new Sampler(5, { ...opts, penaltyLastN: 2 }).penalizedLogits(logits, history)], [1.0, -1.0, 0.5, 0.0, 3.0]);
  assert.deepEqual([...new Sampler(5, { ...opts, penaltyLastN: 3 }).penalizedLogits(logits, history)], [1.0, -1.0, 0.5, 0.0, 3.0]);
  assert.deepEqual([...new Sampler(5, { ...opts, penaltyLastN: 4 }).penalizedLogits(logits, history)], [1.0, -2.0, 0.5, 0.0, 3.0]);
  assert.deepEqual([...new Sampler(5, { ...opts, penaltyLastN: 0 }).penalizedLogits(logits, history)], [2.0, -1.0, 0.5, 0.0, 3.0]);
  assert.deepEqual([...new Sampler(5, { ...opts, penaltyLastN: -1 }).penalizedLogits(logits, history)], [1.0, -2.0, 0.5, 0.0, 3.0]);
  // Repeated calls leave no stale counts behind.
  const s = new Sampler(5, { ...opts, frequencyPenalty: 1, penaltyLastN: -1 });
  const first = [...s.penalizedLogits(logits, history)];
  assert.deepEqual([...s.penalizedLogits(logits, history)], first);
  assert.deepEqual([...s.penalizedLogits(logits, [])], [...logits]);
});

test("a repeat penalty can change the greedy choice", () => {
  const s = new Sampler(2, { temperature: 0, repeatPenalty: 1.2, seed: 1 });
  assert.equal(s.sample(Float32Array.from([1.0, 0.9]), []), 0);
  assert.equal(s.sample(Float32Array.from([1.0, 0.9]), [0]), 1); // 1 / 1.2 = 0.833 < 0.9
});

test("draw frequencies match the softmax probabilities (chi-square, fixed seed)", () => {
  const cases: { logits: number[]; options: SamplingOptions; expected: number[] }[] = [
    // Plain softmax over six tokens at T = 1.
    { logits: [1.0, 0.5, 0.0, -0.5, 2.0, 1.5], options: { ...NO_FILTERS, temperature: 1 }, expected: softmax([1.0, 0.5, 0.0, -0.5, 2.0, 1.5]) },
    // top-k 3 at T = 0.7: only ids 4, 5, 0 can appear.
    {
      logits: [1.0, 0.5, 0.0, -0.5, 2.0, 1.5],
      options: { temperature: 0.7, topK: 3, topP: 1, minP: 0 },
      expected: (() => {
        const p = softmax([1.0 / 0.7, 2.0 / 0.7, 1.5 / 0.7]);
        return [p[0], 0, 0, 0, p[1], p[2]];
      })(),
    },
  ];
  for (const { logits, options, expected } of cases) {
    const s = new Sampler(logits.length, { ...options, seed: 2024 });
    const row = Float32Array.from(logits);
    const n = 60000;
    const counts = new Array(logits.length).fill(0);
    for (let i = 0; i < n; i++) counts[s.sample(row, [])]++;
    let chi2 = 0;
    let df = -1;
    counts.forEach((o, i) => {
      if (expected[i] === 0) {
        assert.equal(o, 0, `token ${i} was filtered out but drawn ${o} times`);
        return;
      }
      chi2 += (o - n * expected[i]) ** 2 / (n * expected[i]);
      df++;
    });
    // 0.001 critical values: df 5 -> 20.52, df 2 -> 13.82.
    const critical = df === 5 ? 20.52 : 13.82;
    assert.ok(chi2 < critical, `chi2 ${chi2.toFixed(2)} (df ${df}) for ${JSON.stringify(options)}`);
  }
});

test("same seed gives the same tokens; reseed restarts; another seed differs", () => {
  const rng = new Rng(99);
  const rows = Array.from({ length: 50 }, () => Float32Array.from({ length: 300 }, () => (rng.next() - 0.5) * 6));
  const run = (s: Sampler) => rows.map((r) => s.sample(r, []));
  const opts = { temperature: 1.0, topK: 0, topP: 1, minP: 0 };
  const a = new Sampler(300, { ...opts, seed: 5 });
  const first = run(a);
  assert.deepEqual(run(new Sampler(300, { ...opts, seed: 5 })), first);
  a.reseed(5);
  assert.deepEqual(run(a), first);
  assert.notDeepEqual(run(new Sampler(300, { ...opts, seed: 6 })), first);
});

test("sampled tokens always come from the filtered distribution", () => {
  const rng = new Rng(3);
  const s = new Sampler(200, { temperature: 0.9, topK: 10, topP: 0.8, minP: 0.1, repeatPenalty: 1.3, seed: 11 });
  for (let step = 0; step < 200; step++) {
    const row = Float32Array.from({ length: 200 }, () => (rng.next() - 0.5) * 8);
    const history = Array.from({ length: 20 }, () => rng.nextUint32() % 200);
    const allowed = new Set(s.distribution(row, history).ids);
    assert.ok(allowed.has(s.sample(row, history)));
  }
});

test("a 128k vocabulary: top-k, top-p and min-p select what a full sort selects", () => {
  const V = 128256;
  const rng = new Rng(42);
  const row = Float32Array.from({ length: V }, () => (rng.next() - 0.5) * 20);
  row[777] = row[778] = 15; // a tie at the top goes to the lower id
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);

  const topK = new Sampler(V, { temperature: 1, topK: 40, topP: 1, minP: 0, seed: 1 }).distribution(row, []);
  assert.deepEqual([...topK.ids], order.slice(0, 40));
  assertClose([...topK.probs], softmax(order.slice(0, 40).map((i) => row[i])), 1e-9);

  // top-p alone over the whole vocabulary: the prefix whose float64 running sum first reaches p.
  const all = softmax(order.map((i) => row[i]));
  let cum = 0;
  let keep = 0;
  while (keep < V && cum < 0.9) cum += all[keep++];
  const topP = new Sampler(V, { temperature: 1, topK: 0, topP: 0.9, minP: 0, seed: 1 }).distribution(row, []);
  assert.deepEqual([...topP.ids], order.slice(0, keep));

  const minP = new Sampler(V, { temperature: 1, topK: 0, topP: 1, minP: 0.001, seed: 1 }).distribution(row, []);
  const threshold = 15 + Math.log(0.001);
  assert.deepEqual([...minP.ids], order.filter((i) => row[i] >= threshold));

  // The default chain samples such a row quickly enough for a decode loop.
  const s = new Sampler(V, { seed: 1 });
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) s.sample(row, order.slice(0, 64));
  assert.ok(performance.now() - t0 < 2000);
});

test("bad options give an error naming the option", () => {
  const bad: [SamplingOptions, RegExp][] = [
    [{ temperature: -0.1 }, /temperature/],
    [{ temperature: NaN }, /temperature/],
    [{ topK: -1 }, /topK/],
    [{ topK: 2.5 }, /topK/],
    [{ topP: 0 }, /topP/],
    [{ topP: 1.01 }, /topP/],
    [{ minP: -0.1 }, /minP/],
    [{ minP: 1.5 }, /minP/],
    [{ repeatPenalty: 0 }, /repeatPenalty/],
    [{ presencePenalty: Infinity }, /presencePenalty/],
    [{ frequencyPenalty: NaN }, /frequencyPenalty/],
    [{ penaltyLastN: -2 }, /penaltyLastN/],
    [{ penaltyLastN: 1.5 }, /penaltyLastN/],
    [{ seed: -1 }, /seed/],
    [{ seed: 2 ** 32 }, /seed/],
    [{ top_k: 5 } as SamplingOptions, /top_k.*topK/],
  ];
  for (const [options, pattern] of bad) assert.throws(() => new Sampler(10, options), pattern, JSON.stringify(options));
  assert.throws(() => new Sampler(0), /vocabSize/);
  // Unrelated keys (generation settings passed along) are ignored.
  assert.doesNotThrow(() => new Sampler(10, { maxTokens: 5 } as SamplingOptions));
});

test("bad inputs give clear errors", () => {
  const s = new Sampler(4, { seed: 1 });
  assert.throws(() => s.sample(new Float32Array(5), []), /logits has 5 entries, expected vocabSize 4/);
  assert.throws(() => s.sample(Float32Array.from([0, NaN, 0, 0]), []), /logits\[1\] is NaN/);
  assert.throws(() => s.sample(Float32Array.from([-Infinity, -Infinity, -Infinity, -Infinity]), []), /-Infinity/);
  const p = new Sampler(4, { repeatPenalty: 1.1, seed: 1 });
  assert.throws(() => p.sample(new Float32Array(4), [1, 4]), /history\[1\] = 4/);
  // The failed call left no counts behind.
  assert.deepEqual([...p.penalizedLogits(Float32Array.from([1, 1, 1, 1]), [])], [1, 1, 1, 1]);
});
