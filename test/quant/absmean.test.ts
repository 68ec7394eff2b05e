// The absmean weight quantizer against a float64 re-implementation of SPEC §1 written here
// (pairwise mean, explicit division, and the float64 reference's floor-based half-to-even), plus hand-computed ties.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ABSMEAN_EPS, absmeanGamma, dequantizeAbsmean, quantizeAbsmean } from "../../src/quant/absmean.ts";
import { gaussian, prng } from "../helpers/prng.ts";
import { rhe } from "../helpers/ref64.ts";

function pairwiseSum(a: ArrayLike<number>, lo: number, hi: number): number {
  if (hi - lo <= 8) {
    let s = 0;
    for (let i = lo; i < hi; i++) s += Math.abs(a[i]);
    return s;
  }
  const mid = (lo + hi) >> 1;
  return pairwiseSum(a, lo, mid) + pairwiseSum(a, mid, hi);
}

function reference(w: Float32Array): { codes: number[]; gamma: number } {
  const gamma = Math.fround(Math.max(pairwiseSum(w, 0, w.length) / w.length, 1e-5));
  const codes = Array.from(w, (v) => Math.min(1, Math.max(-1, rhe(v / gamma))) + 0);
  return { codes, gamma };
}

test("quantizeAbsmean matches the float64 reference on Gaussian matrices of several scales", () => {
  const rand = prng(101);
  for (const [n, std] of [[1, 1], [7, 0.02], [256, 1], [1000, 1e-3], [4096, 5e-6], [12345, 3]] as const) {
    const w = gaussian(rand, n, std);
    const got = quantizeAbsmean(w, "w");
    const want = reference(w);
    assert.equal(got.gamma, want.gamma, `gamma for n=${n} std=${std}`);
    assert.deepEqual(Array.from(got.codes), want.codes, `codes for n=${n} std=${std}`);
    // Roughly a third of each code for Gaussian weights (about 0.31 / 0.38 / 0.31), a sanity check on the rule.
    if (n >= 1000 && std > 1e-4) {
      const zeros = got.codes.filter((c) => c === 0).length / n;
      assert.ok(zeros > 0.3 && zeros < 0.46, `zero fraction ${zeros}`);
    }
  }
});

test("ties at exactly ±γ/2 round to 0 and ±3γ/2 clamps to ±1 (half to even, not Math.round)", () => {
  // mean|W| = (0.5+0.5+1.5+1.5+2.5+2.5+0+0+0.25+0.75) / 10 = 10/10 = 1
  const w = Float32Array.of(0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0, -0, 0.25, 0.75);
  const { codes, gamma } = quantizeAbsmean(w);
  assert.equal(gamma, 1);
  assert.deepEqual(Array.from(codes), [0, 0, 1, -1, 1, -1, 0, 0, 0, 1]);
  // mean = (0.4375·2 + 1.3125·2) / 4 = 0.875 exactly: ±0.4375 are ties → 0, ±1.3125 = ±1.5γ → ±2 → clamped.
  const w2 = Float32Array.of(0.4375, -0.4375, 1.3125, -1.3125);
  const r2 = quantizeAbsmean(w2);
  assert.equal(r2.gamma, 0.875);
  assert.equal(absmeanGamma(w2), 0.875);
  assert.deepEqual(Array.from(r2.codes), [0, 0, 1, -1]);
  // One float32 ulp past the tie goes to ±1 (γ = 0.875 + 2^-27 in float64 still rounds to 0.875 in float32).
  const up = Math.fround(0.4375 + 2 ** -25);
  assert.ok(up > 0.4375);
  const w3 = Float32Array.of(up, -0.4375, 1.3125, -1.3125);
  const r3 = quantizeAbsmean(w3);
  assert.equal(r3.gamma, 0.875);
  assert.deepEqual(Array.from(r3.codes), [1, 0, 1, -1]);
});

test("an all-zero or tiny matrix uses γ = 1e-5 (as float32) and gives the codes of W / 1e-5", () => {
  const zero = new Float32Array(64);
  const z = quantizeAbsmean(zero);
  assert.equal(z.gamma, Math.fround(ABSMEAN_EPS));
  assert.ok(z.codes.every((c) => c === 0));
  const tiny = Float32Array.of(1e-7, -1e-7, 6e-6, -6e-6, 4e-6, 1e-40, -1e-40, 0);
  const t = quantizeAbsmean(tiny);
  assert.equal(t.gamma, Math.fround(1e-5));
  assert.deepEqual(Array.from(t.codes), reference(tiny).codes);
  assert.deepEqual(Array.from(t.codes), [0, 0, 1, -1, 0, 0, 0, 0]);
});

test("dequantizeAbsmean gives code·γ and quantize writes into a caller buffer", () => {
  const w = gaussian(prng(5), 300);
  const out = new Int8Array(300);
  const r = quantizeAbsmean(w, "w", out);
  assert.equal(r.codes, out);
  const dq = dequantizeAbsmean(r.codes, r.gamma);
  for (let i = 0; i < w.length; i++) assert.equal(dq[i], Math.fround(r.codes[i] * r.gamma));
});

test("NaN, Infinity and empty input are errors naming the tensor", () => {
  assert.throws(() => quantizeAbsmean(Float32Array.of(1, NaN), "blk.0.attn_q.weight"), /blk\.0\.attn_q\.weight: non-finite value NaN at index 1/);
  assert.throws(() => quantizeAbsmean(Float32Array.of(-Infinity), "w"), /w: non-finite value -Infinity/);
  assert.throws(() => quantizeAbsmean(new Float32Array(0), "w"), /w: cannot quantize an empty tensor/);
  assert.throws(() => quantizeAbsmean(new Float32Array(4), "w", new Int8Array(3)), /w: output holds 3 codes, need 4/);
});
