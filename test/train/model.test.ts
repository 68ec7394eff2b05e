// The composed model against the float64 whole-model reference of ref64.ts (SPEC §1 "Block"):
// - fp mode: loss and logits (rtol 1e-5), and gradients against central differences (h = 1e-5) of the
//   float64 model, on sampled elements of every tensor (rtol 1e-3) and along random directions
//   through all parameters (relative 1e-4);
// - ternary mode: loss and logits against the float64 SPEC re-implementation (rtol 1e-5), and
//   gradients against finite differences of the float64 straight-through surrogate (offsets
//   x_q − x and W_q − W frozen at the evaluation point), which is the STE gradient by definition.
// Also gradient accumulation, logitsAt, greedyTokens and input validation.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { TrainConfig } from "../../src/train/config.ts";
import { createParamSet, initParams, zeroGrads, type ParamSet } from "../../src/train/params.ts";
import { createActivations } from "../../src/train/acts.ts";
import { backward, forward, greedyTokens, logitsAt } from "../../src/train/model.ts";
import { assertClose } from "../helpers/compare.ts";
import { centralDiff } from "../helpers/finite-diff.ts";
import { randomF32 } from "../helpers/prng.ts";
import { model64, params64, params64Along, type Params64, type SteOffsets } from "../helpers/ref64.ts";

const base: TrainConfig = {
  vocabSize: 32, dim: 16, ffnDim: 24, nLayers: 2, nHeads: 4, nKvHeads: 2, seqLen: 6,
  ropeTheta: 10000, normEps: 1e-5, activation: "silu", weights: "fp", tiedEmbedding: true,
};
const B = 2, T = 5;
const inputs = Int32Array.from([1, 5, 9, 30, 2, 7, 7, 0, 31, 12]);
const targets = Int32Array.from([5, 9, 30, 2, 11, 7, 0, 31, 12, 3]);

/** Parameters large enough that every path carries signal: weights N(0, 0.3²), gains 1 ± 0.3. */
function makeParams(c: TrainConfig, seed: number): ParamSet {
  const p = createParamSet(c);
  initParams(p, seed, 0.3);
  const jitter = randomF32(p.data.length, seed + 1, 0.3);
  for (const s of p.layout) if (s.kind === "norm") for (let i = s.offset; i < s.offset + s.size; i++) p.data[i] += jitter[i];
  return p;
}

/** Loss and gradients from the trainer, with an arena larger than the batch (prefix use). */
function trainerGrads(p: ParamSet): { loss: number; grads: ParamSet; logits: Float32Array } {
  const acts = createActivations(p.config, B + 1, T + 1);
  const loss = forward(p, acts, inputs, targets, B, T);
  const logits = acts.logits.slice(0, B * T * p.config.vocabSize);
  const grads = createParamSet(p.config);
  backward(p, grads, acts, inputs, targets, B, T);
  return { loss, grads, logits };
}

/** FD of the float64 model at up to `per` evenly spread elements of every tensor, against the trainer's grads. */
function checkSampledGrads(p: ParamSet, grads: ParamSet, loss64: (P: Params64) => number, per: number, rtol: number): void {
  const P = params64(p);
  for (const spec of p.layout) {
    const t = P.get(spec.name) as Float64Array;
    const g = grads.byName.get(spec.name) as Float32Array;
    const step = Math.max(1, Math.floor(t.length / per));
    const got: number[] = [];
    const want: number[] = [];
    for (let i = 0; i < t.length; i += step) {
      got.push(g[i]);
      want.push(centralDiff(() => loss64(P), t, i, 1e-5));
    }
    assertClose(got, want, rtol, `d/d ${spec.name}`);
  }
}

/** FD along a random direction through all parameters vs the analytic directional derivative. */
function checkDirectional(p: ParamSet, grads: ParamSet, loss64: (P: Params64) => number, seed: number): void {
  const dir = randomF32(p.data.length, seed);
  let analytic = 0;
  for (let i = 0; i < dir.length; i++) analytic += dir[i] * grads.data[i];
  const h = 1e-5;
  const at = (eps: number): number => loss64(params64Along(p, dir, eps));
  const fd = (at(h) - at(-h)) / (2 * h);
  assert.ok(Math.abs(fd - analytic) <= 1e-4 * Math.abs(fd), `directional derivative: analytic ${analytic}, FD ${fd}`);
}

for (const activation of ["silu", "relu2"] as const) {
  test(`model fp (${activation}): loss/logits = float64 model, gradients = FD of it`, () => {
    const c: TrainConfig = { ...base, activation };
    const p = makeParams(c, 40);
    const { loss, grads, logits } = trainerGrads(p);
    const ref = model64(c, params64(p), inputs, targets, B, T);
    assert.ok(Math.abs(loss - ref.loss) <= 1e-5 * ref.loss, `loss ${loss} vs ${ref.loss}`);
    assertClose(logits, ref.logits, 1e-5, "logits");
    const loss64 = (P: Params64): number => model64(c, P, inputs, targets, B, T).loss;
    checkSampledGrads(p, grads, loss64, 12, 1e-3);
    checkDirectional(p, grads, loss64, 41);
    checkDirectional(p, grads, loss64, 42);
  });
}

for (const activation of ["silu", "relu2"] as const) {
  test(`model ternary (${activation}): loss/logits = float64 SPEC model, gradients = FD of the STE surrogate`, () => {
    const c: TrainConfig = { ...base, activation, weights: "ternary" };
    const p = makeParams(c, 50);
    const { loss, grads, logits } = trainerGrads(p);
    const ref = model64(c, params64(p), inputs, targets, B, T);
    assert.ok(Math.abs(loss - ref.loss) <= 1e-5 * ref.loss, `loss ${loss} vs ${ref.loss}`);
    assertClose(logits, ref.logits, 1e-5, "logits");
    const ste: SteOffsets = { record: true, offsets: new Map() };
    const recorded = model64(c, params64(p), inputs, targets, B, T, ste);
    assert.equal(recorded.loss, ref.loss, "the surrogate equals the model at the recording point");
    ste.record = false;
    const loss64 = (P: Params64): number => model64(c, P, inputs, targets, B, T, ste).loss;
    checkSampledGrads(p, grads, loss64, 12, 1e-3);
    checkDirectional(p, grads, loss64, 51);
  });
}

test("gradient accumulation: two half-batches with lossScale 1/2 = one full batch", () => {
  for (const weights of ["fp", "ternary"] as const) {
    const c: TrainConfig = { ...base, weights };
    const p = makeParams(c, 60);
    const full = trainerGrads(p).grads;
    const acc = createParamSet(c);
    zeroGrads(acc);
    const acts = createActivations(c, 1, T);
    for (let b = 0; b < B; b++) {
      const inp = inputs.subarray(b * T, (b + 1) * T);
      const tgt = targets.subarray(b * T, (b + 1) * T);
      forward(p, acts, inp, tgt, 1, T);
      backward(p, acc, acts, inp, tgt, 1, T, 0.5);
    }
    assertClose(acc.data, full.data, 1e-5, `${weights} accumulated grads`);
  }
});

test("logitsAt and greedyTokens agree with the float64 model", () => {
  for (const weights of ["fp", "ternary"] as const) {
    const c: TrainConfig = { ...base, weights };
    const p = makeParams(c, 70);
    const acts = createActivations(c, 1, 8);
    const prompt = Int32Array.from([3, 14, 15]);
    const at = logitsAt(p, acts, prompt);
    const ref = model64(c, params64(p), prompt, null, 1, prompt.length).logits;
    assertClose(at, ref.subarray(2 * c.vocabSize), 1e-5, `${weights} logitsAt last`);
    assertClose(logitsAt(p, acts, prompt, 0), ref.subarray(0, c.vocabSize), 1e-5, `${weights} logitsAt 0`);

    const got = greedyTokens(p, acts, prompt, 5);
    const seq = Array.from(prompt);
    for (let i = 0; i < 5; i++) {
      const l = model64(c, params64(p), seq, null, 1, seq.length).logits.subarray((seq.length - 1) * c.vocabSize);
      let best = 0;
      for (let v = 1; v < l.length; v++) if (l[v] > l[best]) best = v;
      seq.push(best);
    }
    assert.deepEqual(Array.from(got), seq.slice(prompt.length), `${weights} greedy tokens`);
  }
});

test("forward rejects a batch larger than the arena and ids outside the vocabulary", () => {
  const p = makeParams(base, 80);
  const acts = createActivations(base, 1, 4);
  assert.throws(() => forward(p, acts, inputs, targets, 1, 5), /does not fit the activation arena 1×4/);
  assert.throws(() => forward(p, acts, Int32Array.from([0, 1, 32, 2]), null, 1, 4), /token id 32 at position 2/);
  const other = createActivations({ ...base }, 1, 4);
  assert.throws(() => forward(p, other, inputs, null, 1, 4), /different config/);
});
