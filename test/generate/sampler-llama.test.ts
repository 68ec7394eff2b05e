// Sampler against llama.cpp's own sampler chain, run by node-llama-cpp on the tiny fixture model:
// penalized logits bit for bit, the greedy choice, and the surviving candidates and their
// probabilities after top-k / top-p / min-p / temperature.
//
// node-llama-cpp reports `logits` / `probabilities` from the candidate array after its chain
// (penalties -> top-k -> top-p -> min-p -> temperature -> dist, or penalties -> greedy at T = 0),
// which is the same order as llama.cpp's common sampler. With T = 0 and no penalties the chain
// leaves every logit untouched, which gives us the raw row to feed our sampler.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { getLlama, type Llama, type LlamaModel, type LlamaContext, type LlamaContextSequence } from "node-llama-cpp";
import { Sampler } from "../../src/generate/sampler.ts";

import { FIXTURES_DIR as FIXTURES } from "../helpers/fixtures.ts";
const prompt: number[] = JSON.parse(readFileSync(`${FIXTURES}/bitnet-tiny-tq2_0.ref.json`, "utf8")).prompt;
const VOCAB = 512;

let llama: Llama;
let model: LlamaModel;
let context: LlamaContext;
let sequence: LlamaContextSequence;
let raw: Float32Array;
let ranked: number[];

type LlamaSampling = {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  seed?: number;
  repeatPenalty?: { punishTokens: number[]; penalty: number; frequencyPenalty: number; presencePenalty: number };
};

/** Evaluates the prompt afresh and asks llama.cpp for the next token under `options`. */
async function next(options: LlamaSampling) {
  await sequence.clearHistory();
  const last: [number, object] = [prompt.at(-1)!, { generateNext: { token: true, logits: true, probabilities: true, options } }];
  const out = await sequence.controlledEvaluate([...prompt.slice(0, -1), last] as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
  const result = out.at(-1)?.next;
  assert.ok(result?.logits && result.probabilities, "node-llama-cpp returned no logits");
  return result as { token: number; logits: Map<number, number>; probabilities: Map<number, number> };
}

before(async () => {
  llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: "error" as never });
  model = await llama.loadModel({ modelPath: `${FIXTURES}/bitnet-tiny-tq2_0.gguf` });
  context = await model.createContext({ contextSize: 256, threads: 1 });
  sequence = context.getSequence();
  const plain = await next({ temperature: 0 });
  assert.equal(plain.logits.size, VOCAB);
  raw = new Float32Array(VOCAB);
  for (const [token, logit] of plain.logits) raw[token] = logit;
  ranked = [...plain.logits.keys()]; // highest logit first
});

after(async () => {
  await context?.dispose();
  await model?.dispose();
  await llama?.dispose();
});

/** A history that repeats the current favourites, so the penalties move the ranking. */
function makeHistory(): number[] {
  return [...prompt, ranked[0], ranked[0], ranked[1], ranked[3], 5, 5, 5, ranked[0]];
}

const PENALTY_SETS = [
  { penalty: 1.3, frequencyPenalty: 0.2, presencePenalty: 0.4 },
  { penalty: 1.1, frequencyPenalty: 0, presencePenalty: 0 },
  { penalty: 1, frequencyPenalty: 0.35, presencePenalty: -0.1 },
];

test("penalized logits equal llama.cpp's bit for bit, and so does the greedy token", async () => {
  const history = makeHistory();
  for (const p of PENALTY_SETS) {
    const theirs = await next({ temperature: 0, repeatPenalty: { punishTokens: history, ...p } });
    const sampler = new Sampler(VOCAB, {
      temperature: 0,
      repeatPenalty: p.penalty,
      frequencyPenalty: p.frequencyPenalty,
      presencePenalty: p.presencePenalty,
      penaltyLastN: -1,
      seed: 1,
    });
    const ours = sampler.penalizedLogits(raw, history);
    for (const [token, logit] of theirs.logits) assert.equal(ours[token], logit, `token ${token} with ${JSON.stringify(p)}`);
    assert.equal(sampler.sample(raw, history), theirs.token, JSON.stringify(p));
  }
  // The first set is strong enough to knock the unpenalized favourite off the top.
  const strong = await next({ temperature: 0, repeatPenalty: { punishTokens: history, ...PENALTY_SETS[0] } });
  assert.notEqual(strong.token, ranked[0]);
});

test("penaltyLastN = N penalizes what llama.cpp penalizes for the last N tokens", async () => {
  const history = makeHistory();
  for (const n of [1, 3, 6]) {
    const p = PENALTY_SETS[0];
    const theirs = await next({ temperature: 0, repeatPenalty: { punishTokens: history.slice(-n), ...p } });
    const sampler = new Sampler(VOCAB, { temperature: 0, repeatPenalty: p.penalty, frequencyPenalty: p.frequencyPenalty, presencePenalty: p.presencePenalty, penaltyLastN: n, seed: 1 });
    const ours = sampler.penalizedLogits(raw, history);
    for (const [token, logit] of theirs.logits) assert.equal(ours[token], logit, `token ${token}, last ${n}`);
  }
});

test("top-k / top-p / min-p / temperature keep the same candidates with the same probabilities", async () => {
  const history = makeHistory();
  const configs = [
    { temperature: 0.7, topK: 20, topP: 0.9, minP: 0.05 },
    { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 },
    { temperature: 1.3, topK: 0, topP: 0.5, minP: 0 },
    { temperature: 0.5, topK: 0, topP: 1, minP: 0.2 },
    { temperature: 1.0, topK: 7, topP: 1, minP: 0 },
    { temperature: 2.0, topK: 0, topP: 1, minP: 0 },
  ];
  for (const config of configs) {
    for (const p of [undefined, PENALTY_SETS[0]]) {
      const theirs = await next({ ...config, seed: 3, ...(p ? { repeatPenalty: { punishTokens: history, ...p } } : {}) });
      const sampler = new Sampler(VOCAB, {
        ...config,
        ...(p ? { repeatPenalty: p.penalty, frequencyPenalty: p.frequencyPenalty, presencePenalty: p.presencePenalty, penaltyLastN: -1 } : {}),
        seed: 1,
      });
      const ours = sampler.distribution(raw, history);
      const label = `${JSON.stringify(config)} penalties ${p ? "on" : "off"}`;
      assert.deepEqual(new Set(ours.ids), new Set(theirs.probabilities.keys()), label);
      ours.ids.forEach((token, i) => {
        const expected = theirs.probabilities.get(token)!;
        assert.ok(Math.abs(ours.probs[i] - expected) < 1e-6, `${label}: token ${token} ${ours.probs[i]} vs ${expected}`);
      });
      assert.ok(new Set(ours.ids).has(theirs.token), `${label}: llama.cpp drew a token we filtered out`);
    }
  }
});
