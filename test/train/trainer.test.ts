// The training loop on the tiny preset: the first loss against the float64 reference model (ref64.ts) on the
// batch the data order says comes first, bit-identical trajectories for a seed, exact resume through a
// serialized checkpoint (12 steps straight = 6 + checkpoint bytes + 6), gradient accumulation equal to one
// big batch, the schedule in the metrics, and the event stream.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Batcher, START_CURSOR } from "../../src/train/data.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../../src/train/checkpoint.ts";
import { createParamSet, initParams } from "../../src/train/params.ts";
import { modelConfigOf, resolveRunConfig, runPresets, scheduleOf, type RunConfig } from "../../src/train/run-config.ts";
import { scheduleAt } from "../../src/train/schedule.ts";
import { Trainer, trainingEvents, type TrainData, type TrainEvent } from "../../src/train/trainer.ts";
import { trainBpe } from "../../src/train/bpe-trainer.ts";
import { model64, params64 } from "../helpers/ref64.ts";

const TEXT = "In the beginning God created the heaven and the earth. And the earth was without form, and void; "
  + "and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. ";

/** Byte ids of repeated text (the tiny vocabulary has 512 rows; bytes use the first 256). */
function byteData(): TrainData {
  const bytes = new TextEncoder().encode(TEXT.repeat(12));
  const all = Int32Array.from(bytes);
  return { train: all.subarray(0, 2000), validation: all.subarray(2000) };
}

const config: RunConfig = resolveRunConfig(runPresets.tiny, { steps: 12, batchSize: 4, seqLen: 32, warmup: 3, evalEvery: 4, evalTokens: 256, lr: 1e-2, lr2: 6e-3 });

function losses(t: Trainer, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(t.trainStep().loss);
  return out;
}

test("the first loss equals the float64 reference model's on the first batch of the data order", () => {
  const data = byteData();
  const t = new Trainer(config, data);
  const first = t.trainStep().loss;
  const p = createParamSet(modelConfigOf(config));
  initParams(p, config.seed, config.initStd);
  const B = config.batchSize;
  const T = config.seqLen;
  const inp = new Int32Array(B * T);
  const tgt = new Int32Array(B * T);
  new Batcher(data.train, T, config.seed, START_CURSOR).next(inp, tgt, B);
  const ref = model64(modelConfigOf(config), params64(p), inp, tgt, B, T).loss;
  assert.ok(Math.abs(first - ref) <= 1e-5 * ref, `trainer ${first} vs float64 ${ref}`);
});

test("same seed and config give bit-identical losses and parameters; another seed does not", () => {
  const a = new Trainer(config, byteData());
  const b = new Trainer(config, byteData());
  const la = losses(a, 5);
  assert.deepEqual(losses(b, 5), la);
  assert.deepEqual(b.params.data, a.params.data);
  const c = new Trainer({ ...config, seed: 2 }, byteData());
  assert.notDeepEqual(losses(c, 5), la);
  assert.ok(la[4] < la[0], `the loss falls: ${la.map((x) => x.toFixed(3)).join(" ")}`);
});

test("resume is exact: 12 steps straight = 6 steps, a checkpoint through bytes, 6 more", async () => {
  const vocab = trainBpe([TEXT], { vocabSize: 300 });
  const straight = new Trainer(config, byteData());
  const all = losses(straight, 6);
  straight.evaluate();
  all.push(...losses(straight, 6));

  const first = new Trainer(config, byteData());
  const part1 = losses(first, 6);
  first.evaluate();
  const bytes = await encodeCheckpoint(first.snapshot(vocab));
  losses(first, 3); // the stopped run may go on; the checkpoint holds step 6
  const state = await decodeCheckpoint(bytes, "resume-test.ckpt");
  assert.equal(state.step, 6);
  assert.deepEqual(state.config, config);
  assert.deepEqual(state.tokenizer, vocab);
  const resumed = new Trainer(state.config, byteData(), state);
  const part2 = losses(resumed, 6);
  assert.deepEqual([...part1, ...part2], all);
  assert.deepEqual(resumed.params.data, straight.params.data);
  assert.deepEqual(resumed.optimizer.m, straight.optimizer.m);
  assert.deepEqual(resumed.optimizer.v, straight.optimizer.v);
  assert.equal(resumed.optimizer.step, 12);
  assert.deepEqual(resumed.cursor, straight.cursor);
  assert.deepEqual(resumed.metrics.map((m) => [m.type, m.step]), straight.metrics.map((m) => [m.type, m.step]));
});

test("gradient accumulation: 2 micro-batches of 4 give the gradient of one batch of 8", () => {
  const big = new Trainer({ ...config, batchSize: 8, gradAccum: 1, gradClip: 0 }, byteData());
  const acc = new Trainer({ ...config, batchSize: 4, gradAccum: 2, gradClip: 0 }, byteData());
  const lb = big.trainStep();
  const la = acc.trainStep();
  assert.ok(Math.abs(lb.loss - la.loss) < 1e-6, `loss ${lb.loss} vs ${la.loss}`);
  assert.ok(Math.abs(lb.grad_norm - la.grad_norm) < 1e-6 * lb.grad_norm, `grad norm ${lb.grad_norm} vs ${la.grad_norm}`);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < big.grads.data.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(big.grads.data[i] - acc.grads.data[i]));
    maxAbs = Math.max(maxAbs, Math.abs(big.grads.data[i]));
  }
  assert.ok(maxDiff <= 1e-5 * maxAbs, `max gradient difference ${maxDiff} (max |g| ${maxAbs})`);
});

test("metrics follow the two-stage schedule (lr and weight decay 0.1 → 0 at the midpoint) and clip at gradClip", () => {
  const t = new Trainer(config, byteData());
  const recs = Array.from({ length: 12 }, () => t.trainStep());
  recs.forEach((r, i) => {
    const s = scheduleAt(scheduleOf(config), i);
    assert.equal(r.step, i + 1);
    assert.equal(r.lr, s.lr);
    assert.equal(r.wd, s.weightDecay);
    assert.equal(r.tokens, (i + 1) * config.batchSize * config.seqLen);
  });
  assert.equal(recs[5].wd, 0.1);
  assert.equal(recs[6].wd, 0);
  assert.ok(recs[6].lr < recs[5].lr, "the LR drops at the midpoint");
});

test("trainingEvents: start, the initial evaluation, steps with validation losses every evalEvery, done; abort stops", async () => {
  const t = new Trainer(config, byteData());
  const events: TrainEvent[] = [];
  for await (const e of trainingEvents(t)) events.push(e);
  assert.equal(events[0].type, "start");
  assert.deepEqual(events[1].type === "eval" && events[1].step, 0);
  const steps = events.filter((e) => e.type === "step");
  assert.equal(steps.length, 12);
  assert.deepEqual(steps.filter((e) => e.valLoss !== undefined).map((e) => e.metric.step), [4, 8, 12]);
  assert.ok(steps.every((e) => e.etaSeconds >= 0 && e.metric.tokens_per_s > 0));
  assert.equal(events.at(-1)?.type, "done");
  assert.deepEqual(t.metrics.filter((m) => m.type === "val").map((m) => m.step), [0, 4, 8, 12]);

  const ac = new AbortController();
  const u = new Trainer(config, byteData());
  const seen: string[] = [];
  for await (const e of trainingEvents(u, { signal: ac.signal })) {
    seen.push(e.type);
    if (e.type === "step" && e.metric.step === 2) ac.abort();
  }
  assert.equal(seen.at(-1), "stopped");
  assert.equal(u.step, 2);
});
