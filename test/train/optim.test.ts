// AdamW against a scalar float64 transcription of torch.optim.AdamW's update (decoupled decay
// p ← p·(1 − lr·wd), then p ← p − lr·m̂/(√v̂ + eps)), the decay mask, global-norm clipping, and the
// learning-rate schedules at their defining points.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createAdamW, adamwStep } from "../../src/train/adamw.ts";
import { clipGradNorm, gradNorm } from "../../src/train/clip.ts";
import { scheduleAt, type ScheduleConfig } from "../../src/train/schedule.ts";
import { presets } from "../../src/train/config.ts";
import { createParamSet, initParams } from "../../src/train/params.ts";
import { randomF32 } from "../helpers/prng.ts";

test("adamw: three steps equal torch's AdamW formula in float64; decay only on linear weights", () => {
  const c = { ...presets.tiny, vocabSize: 16, dim: 8, ffnDim: 12, nLayers: 1, nHeads: 2, nKvHeads: 1 };
  const p = createParamSet(c);
  initParams(p, 3);
  const state = createAdamW(p);
  const ref = Float64Array.from(p.data);
  const m = new Float64Array(ref.length);
  const v = new Float64Array(ref.length);
  const decays = (i: number): boolean => p.layout.some((s) => s.kind === "linear" && i >= s.offset && i < s.offset + s.size);
  const [b1, b2, eps] = [0.9, 0.95, 1e-8];
  for (let t = 1; t <= 3; t++) {
    const g = randomF32(ref.length, 100 + t, 0.01 * t);
    const lr = 1e-2 / t;
    const wd = 0.1;
    adamwStep(state, p.data, g, lr, wd);
    for (let i = 0; i < ref.length; i++) {
      if (decays(i)) ref[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      ref[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
    }
    for (let i = 0; i < ref.length; i++) {
      assert.ok(Math.abs(p.data[i] - ref[i]) <= 1e-6 * Math.abs(ref[i]) + 1e-9, `step ${t} param ${i}: ${p.data[i]} vs ${ref[i]}`);
    }
  }
  assert.equal(state.step, 3);
  // The mask: norms and the embedding are not decayed, every linear weight is.
  for (const s of p.layout) assert.equal(state.decayMask[s.offset], s.kind === "linear" ? 1 : 0, s.name);
});

test("adamw: with zero gradients only decoupled weight decay moves the weights", () => {
  const c = { ...presets.tiny, vocabSize: 8, dim: 4, ffnDim: 4, nLayers: 1, nHeads: 2, nKvHeads: 1 };
  const p = createParamSet(c);
  initParams(p, 4, 1);
  const before = p.data.slice();
  adamwStep(createAdamW(p), p.data, new Float32Array(p.data.length), 0.5, 0.1);
  for (const s of p.layout) {
    const i = s.offset;
    assert.equal(p.data[i], s.kind === "linear" ? Math.fround(before[i] - 0.5 * 0.1 * before[i]) : before[i], s.name);
  }
});

test("clip: global norm, scaled to maxNorm only when above it", () => {
  const g = Float32Array.from([3, 4, 0, 0]);
  assert.equal(gradNorm(g), 5);
  assert.equal(clipGradNorm(g, 10), 5);
  assert.deepEqual(Array.from(g), [3, 4, 0, 0]);
  assert.equal(clipGradNorm(g, 1), 5);
  assert.ok(Math.abs(gradNorm(g) - 1) < 1e-6);
  assert.throws(() => clipGradNorm(Float32Array.from([NaN]), 1), /gradient norm is NaN/);
});

test("schedules: warm-up, linear, cosine and the BitNet two-stage shape", () => {
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b), `${a} vs ${b}`);
  const lin: ScheduleConfig = { kind: "linear", peak: 1e-3, warmup: 10, total: 110, final: 1e-4 };
  close(scheduleAt(lin, 0).lr, 1e-4);
  close(scheduleAt(lin, 9).lr, 1e-3);
  close(scheduleAt(lin, 10).lr, 1e-3);
  close(scheduleAt(lin, 60).lr, 5.5e-4);
  close(scheduleAt(lin, 110).lr, 1e-4);
  close(scheduleAt(lin, 500).lr, 1e-4);

  const cos: ScheduleConfig = { kind: "cosine", peak: 2, warmup: 0, total: 100 };
  close(scheduleAt(cos, 0).lr, 2);
  close(scheduleAt(cos, 50).lr, 1);
  close(scheduleAt(cos, 100).lr, 0);

  // FAQ: 1.5e-3 then, at the midpoint, a drop onto a line with peak 1e-3 that ends at 0; wd 0.1 then 0.
  const two: ScheduleConfig = { kind: "twoStage", peak1: 1.5e-3, peak2: 1e-3, warmup: 0, total: 1000 };
  close(scheduleAt(two, 0).lr, 1.5e-3);
  close(scheduleAt(two, 499).lr, 1.5e-3 * (1 - 499 / 1000));
  close(scheduleAt(two, 500).lr, 1e-3 * 0.5);
  close(scheduleAt(two, 1000).lr, 0);
  assert.equal(scheduleAt(two, 499).weightDecay, 0.1);
  assert.equal(scheduleAt(two, 500).weightDecay, 0);
  assert.ok(scheduleAt(two, 500).lr < scheduleAt(two, 499).lr, "the midpoint is a drop");
  for (let s = 1; s < 1000; s++) if (s !== 500) assert.ok(scheduleAt(two, s).lr <= scheduleAt(two, s - 1).lr, `monotone at ${s}`);
  const warm: ScheduleConfig = { kind: "twoStage", peak1: 1.5e-3, peak2: 1e-3, warmup: 375, total: 10000 };
  close(scheduleAt(warm, 374).lr, 1.5e-3);
  close(scheduleAt(warm, 186).lr, (1.5e-3 * 187) / 375);
});
