/**
 * A tiny training loop for the tests and the throughput script: byte-level ids of a repeated
 * sentence, windows of T+1 bytes at shifting offsets, AdamW with a warm-up + linear schedule and
 * clipping at 1. Deterministic for a seed. Also the training tests themselves, shared by the two
 * training-*.test.ts files, including the acceptance run on held-out text (kjvByteData, Trainer).
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { splitDocuments, splitTrainValidation, tokenStream } from "../../src/train/data.ts";
import { resolveRunConfig, runPresets } from "../../src/train/run-config.ts";
import { Trainer, type TrainData } from "../../src/train/trainer.ts";
import { selectGemm } from "../../src/train/wasm-gemm.ts";
import { presets, type TrainConfig, type WeightMode } from "../../src/train/config.ts";
import { createParamSet, initParams, zeroGrads, type ParamSet } from "../../src/train/params.ts";
import { createActivations } from "../../src/train/acts.ts";
import { backward, forward } from "../../src/train/model.ts";
import { adamwStep, createAdamW } from "../../src/train/adamw.ts";
import { clipGradNorm } from "../../src/train/clip.ts";
import { scheduleAt } from "../../src/train/schedule.ts";
import { model64, params64 } from "../helpers/ref64.ts";

export const CORPUS = "one two three four five six seven eight nine ten. ";

/** Batch `step`: B windows of T+1 bytes of the repeated CORPUS, starting 13 bytes apart. */
export function fillBatch(inp: Int32Array, tgt: Int32Array, step: number, B: number, T: number): void {
  const bytes = new TextEncoder().encode(CORPUS.repeat(Math.ceil((T + 2) / CORPUS.length) + 1));
  for (let b = 0; b < B; b++) {
    const start = ((step * B + b) * 13) % CORPUS.length;
    for (let t = 0; t < T; t++) {
      inp[b * T + t] = bytes[start + t];
      tgt[b * T + t] = bytes[start + t + 1];
    }
  }
}

export interface RunResult {
  losses: number[];
  params: ParamSet;
  seconds: number;
  tokens: number;
}

/** Fills batch `step` of B windows of T inputs and their next-token targets. */
export type BatchFill = (inp: Int32Array, tgt: Int32Array, step: number, B: number, T: number) => void;

export function tinyRun(c: TrainConfig, opts: { seed: number; steps: number; B: number; T: number; lr: number }, fill: BatchFill = fillBatch): RunResult {
  const { seed, steps, B, T, lr } = opts;
  const p = createParamSet(c);
  initParams(p, seed);
  const g = createParamSet(c);
  const acts = createActivations(c, B, T);
  const opt = createAdamW(p);
  const inp = new Int32Array(B * T);
  const tgt = new Int32Array(B * T);
  const losses: number[] = [];
  const t0 = performance.now();
  for (let step = 0; step < steps; step++) {
    fill(inp, tgt, step, B, T);
    losses.push(forward(p, acts, inp, tgt, B, T));
    zeroGrads(g);
    backward(p, g, acts, inp, tgt, B, T);
    clipGradNorm(g.data, 1);
    const s = scheduleAt({ kind: "linear", peak: lr, warmup: 5, total: steps, final: lr / 10, weightDecay: 0.01 }, step);
    adamwStep(opt, p.data, g.data, s.lr, s.weightDecay);
  }
  return { losses, params: p, seconds: (performance.now() - t0) / 1000, tokens: steps * B * T };
}

/**
 * The training tests of one variant (one file per variant so they run in parallel):
 * the tiny preset (0.13M parameters) on byte ids of CORPUS, B=4 × T=16, AdamW lr 1e-2 (warm-up 5,
 * linear decay to 1e-3), seed 1, 100 steps. Bound: the mean of the last 5 losses is below 1.6 nats,
 * well under the corpus's unigram entropy (2.47 nats, the plateau a model without context stalls on;
 * the bigram entropy is 1.13) and a quarter of the first loss (≈ ln 512 = 6.24); and the first loss
 * equals the float64 model's (ref64.ts) at the same initial parameters (rtol 1e-5).
 * Seen on the dev machine, seeds 1…6: ternary 0.53–1.10 (seed 1: 1.10), fp 0.25–0.89 (seed 1: 0.83).
 * Determinism: two runs with the same seed give bit-identical losses and parameters.
 * Held-out text: the Trainer's validation loss falls below a stated bound (VAL_STEPS, VAL_BOUND below).
 */
export function defineTrainingTests(weights: WeightMode): void {
  const run = { seed: 1, steps: 100, B: 4, T: 16, lr: 1e-2 };
  test(`tiny ${weights} training lowers the loss well below its start`, () => {
    const { losses } = tinyRun({ ...presets.tiny, weights }, run);
    const first = losses[0];
    // The first loss against the float64 SPEC model at the same initial parameters and batch.
    const c = { ...presets.tiny, weights };
    const p0 = createParamSet(c);
    initParams(p0, run.seed);
    const inp = new Int32Array(run.B * run.T);
    const tgt = new Int32Array(run.B * run.T);
    fillBatch(inp, tgt, 0, run.B, run.T);
    const ref = model64(c, params64(p0), inp, tgt, run.B, run.T).loss;
    assert.ok(Math.abs(first - ref) <= 1e-5 * ref, `first loss ${first} vs float64 model ${ref}`);
    assert.ok(Math.abs(first - Math.log(512)) < 0.2, `first loss ${first} is near ln(512)`);
    const tail = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    assert.ok(tail < 1.6, `${weights}: final loss ${tail.toFixed(3)} (first ${first.toFixed(3)})`);
  });

  test(`tiny ${weights} training is deterministic for a fixed seed (bit-identical losses)`, () => {
    const a = tinyRun({ ...presets.tiny, weights }, { ...run, steps: 4 });
    const b = tinyRun({ ...presets.tiny, weights }, { ...run, steps: 4 });
    assert.deepEqual(a.losses, b.losses);
    assert.deepEqual(a.params.data, b.params.data);
    const c = tinyRun({ ...presets.tiny, weights }, { ...run, steps: 4, seed: 2 });
    assert.notDeepEqual(c.losses, a.losses, "another seed gives other losses");
  });
  test(`tiny ${weights} run through the Trainer brings the VALIDATION loss on held-out text below ${VAL_BOUND} nats in ${VAL_STEPS} steps`, async () => {
    const data = kjvByteData();
    const unigram = unigramCrossEntropy(data);
    assert.ok(unigram > 2.95, `the bound means something: a model without context scores ${unigram.toFixed(3)} on this validation text`);
    const config = resolveRunConfig(runPresets.tiny, { weights, steps: VAL_STEPS, batchSize: 16, seqLen: 32, evalTokens: 4096, seed: 1 });
    const trainer = new Trainer(config, data, undefined, { gemm: (await selectGemm()).gemm });
    const initial = trainer.evaluate();
    assert.ok(Math.abs(initial - Math.log(512)) < 0.2, `the untrained model's validation loss ${initial} is near ln(512)`);
    for (let i = 0; i < VAL_STEPS; i++) trainer.trainStep();
    const val = trainer.evaluate();
    assert.ok(val < VAL_BOUND, `${weights}: validation loss ${val.toFixed(3)} after ${VAL_STEPS} steps (unigram baseline ${unigram.toFixed(3)}, start ${initial.toFixed(3)})`);
  });
}

/**
 * The acceptance run on held-out text, through the Trainer that `bitnet train` uses, with the tiny preset's
 * recipe for each side (BitNet: two-stage from 1e-2; FP: cosine from 2.5e-3) and the training products
 * `selectGemm` picks: B=16 × T=32 byte ids, seed 1, VAL_STEPS steps (102k tokens), then the validation
 * loss over 4096 held-out tokens must be below VAL_BOUND. The text: the first 60,000 characters of the
 * bundled KJV, lines split 9:1 by data.ts's rule (456 training lines, 50 validation lines), each line
 * framed by bos (256) and eos (257). On it, a model that ignores context scores about 3.02 nats (the
 * validation bytes under the training bytes' unigram distribution, checked in the test; the text's
 * bigram conditional entropy is 2.19); the untrained model ln 512 = 6.24. Seen on the dev machine (wasm
 * products), seeds 1–3: BitNet 2.19–2.29, FP 2.09–2.22 (seed 1: 2.29 and 2.09); both sit on the unigram plateau (≈3.07)
 * until about step 75, which is why a run much shorter than 200 steps is not a test of anything.
 */
const VAL_STEPS = 200;
const VAL_BOUND = 2.6;

/** Byte ids of the first 60,000 characters of the KJV, split into training and validation lines. */
export function kjvByteData(): TrainData {
  const text = gunzipSync(readFileSync(new URL("../../data/kjv.txt.gz", import.meta.url))).toString("utf8").slice(0, 60_000);
  const split = splitTrainValidation(splitDocuments([text]), 0.1);
  const bytes = (t: string): number[] => Array.from(new TextEncoder().encode(t));
  return { train: tokenStream(split.train, bytes, 256, 257), validation: tokenStream(split.validation, bytes, 256, 257) };
}

/** Mean −ln p of the validation ids under the training ids' unigram frequencies (add-one smoothed over 258 ids). */
function unigramCrossEntropy(d: TrainData): number {
  const counts = new Float64Array(258).fill(1);
  for (const t of d.train) counts[t]++;
  const total = counts.reduce((a, b) => a + b, 0);
  let sum = 0;
  for (const t of d.validation) sum -= Math.log(counts[t] / total);
  return sum / d.validation.length;
}
