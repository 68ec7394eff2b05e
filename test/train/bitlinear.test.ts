// BitLinear in training. Its true function is piecewise constant, so it is checked in two parts:
// - the forward against a float64 re-implementation of SPEC §1 written in ref64.ts (absmean γ over
//   the whole matrix, round half to even, clamp; absmax per token), codes exactly, outputs rtol 1e-6;
// - the backward against the DEFINITION of the straight-through estimator: it must equal the plain
//   linear layer's backward evaluated at the quantized operands (x_q = Q/s, W_q = C·γ), rtol 1e-5,
//   and the float64 formulas dx = dy·W_q, dW = dyᵀ·x_q.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bitlinearBackward, bitlinearForward, quantizeActivationsForward, quantizeWeightsTernary } from "../../src/train/bitlinear.ts";
import { linearBackward } from "../../src/train/linear.ts";
import { assertClose } from "../helpers/compare.ts";
import { randomF32 } from "../helpers/prng.ts";
import { absmax64, absmean64, bitlinear64, linear64 } from "../helpers/ref64.ts";

function run(x: Float32Array, W: Float32Array, N: number, I: number, O: number) {
  const xCodes = new Float32Array(N * I);
  const xScales = new Float32Array(N);
  quantizeActivationsForward(xCodes, xScales, x, N, I, { q: new Int8Array(N * I), sums: new Int32Array(N) });
  const wCodes = new Float32Array(O * I);
  const gamma = quantizeWeightsTernary(wCodes, W, new Int8Array(O * I), "test weight");
  const y = new Float32Array(N * O);
  bitlinearForward(y, xCodes, xScales, wCodes, gamma, N, I, O);
  return { xCodes, xScales, wCodes, gamma, y };
}

test("bitlinear forward = SPEC §1 in float64 (codes exact, y rtol 1e-6)", () => {
  const N = 6, I = 37, O = 11;
  const x = randomF32(N * I, 21, 3);
  const W = randomF32(O * I, 22, 0.05);
  const r = run(x, W, N, I, O);
  const ref = absmean64(W);
  const act = absmax64(x, N, I);
  assert.deepEqual(Array.from(r.wCodes), Array.from(ref.codes), "ternary codes");
  assert.ok(Math.abs(r.gamma - ref.gamma) <= 1e-7 * ref.gamma, `gamma ${r.gamma} vs ${ref.gamma}`);
  assert.deepEqual(Array.from(r.xCodes), Array.from(act.q), "int8 codes");
  assertClose(r.xScales, act.s, 1e-7, "scales");
  assertClose(r.y, bitlinear64(x, W, N, I, O), 1e-6, "y");
  // Sanity of the test data: all three ternary values occur.
  for (const v of [-1, 0, 1]) assert.ok(ref.codes.includes(v), `code ${v} occurs`);
});

test("bitlinear forward rounds exact ties half to even (weights and activations)", () => {
  // W: mean|W| = 1 = γ, so W/γ = W; ±0.5 round to 0 and 1.5 to 2 (then clamps to 1).
  const W = Float32Array.from([2.5, 0.5, -0.5, 0.5, 1.5, -1.5, 0, -1]);
  // x: max|x| = 127, so s = 1 and x·s = x; 0.5 → 0, 1.5 → 2, 2.5 → 2, -2.5 → -2, 3.5 → 4.
  const x = Float32Array.from([127, 0.5, 1.5, 2.5, -2.5, 3.5, -0.5, 0]);
  const r = run(x, W, 1, 8, 1);
  assert.equal(r.gamma, 1);
  assert.deepEqual(Array.from(r.wCodes), [1, 0, 0, 0, 1, -1, 0, -1]);
  assert.deepEqual(Array.from(r.xCodes).map((v) => v + 0), [127, 0, 2, 2, -2, 4, 0, 0]);
  assert.equal(r.y[0], 127 * 1 + -2 * 1 + 4 * -1);
  assertClose(r.y, bitlinear64(x, W, 1, 8, 1), 1e-7, "y with ties");
});

test("bitlinear backward = plain linear backward at (x_q, W_q) (straight-through estimator)", () => {
  const N = 5, I = 19, O = 7;
  const x = randomF32(N * I, 23, 2);
  const W = randomF32(O * I, 24, 0.1);
  const r = run(x, W, N, I, O);
  const dy = randomF32(N * O, 25);

  const dx = new Float32Array(N * I);
  const dW = new Float32Array(O * I);
  bitlinearBackward(dx, dW, dy, r.xCodes, r.xScales, r.wCodes, r.gamma, N, I, O, new Float32Array(N * O));

  // The quantized operands, from the float64 reference quantizers.
  const ref = absmean64(W);
  const act = absmax64(x, N, I);
  const xq = new Float32Array(N * I);
  for (let n = 0; n < N; n++) for (let i = 0; i < I; i++) xq[n * I + i] = act.q[n * I + i] / act.s[n];
  const Wq = Float32Array.from(ref.codes, (c) => c * ref.gamma);
  const dxLin = new Float32Array(N * I);
  const dWLin = new Float32Array(O * I);
  linearBackward(dxLin, dWLin, dy, xq, Wq, N, I, O);
  assertClose(dx, dxLin, 1e-5, "dx vs linear backward at W_q");
  assertClose(dW, dWLin, 1e-5, "dW vs linear backward at x_q");

  // The same in float64: dx = dy · W_q, dW = dyᵀ · x_q (never the latent W or the unquantized x).
  const dx64 = new Float64Array(N * I);
  const dW64 = new Float64Array(O * I);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) {
    dx64[n * I + i] += dy[n * O + o] * ref.codes[o * I + i] * ref.gamma;
    dW64[o * I + i] += dy[n * O + o] * (act.q[n * I + i] / act.s[n]);
  }
  assertClose(dx, dx64, 1e-6, "dx float64");
  assertClose(dW, dW64, 1e-6, "dW float64");
  // And it is not the backward at the latent operands (the test would be vacuous if it were).
  const dxLatent = linear64(dy, transpose(W, O, I), N, O, I);
  assert.ok(Math.abs(dxLatent[0] - dx[0]) > 1e-4, "dx differs from dy · W (latent)");
});

test("bitlinear backward with dx = null only fills dW, and accumulates", () => {
  const N = 3, I = 8, O = 4;
  const r = run(randomF32(N * I, 26), randomF32(O * I, 27), N, I, O);
  const dy = randomF32(N * O, 28);
  const once = new Float32Array(O * I);
  bitlinearBackward(null, once, dy, r.xCodes, r.xScales, r.wCodes, r.gamma, N, I, O, new Float32Array(N * O));
  const twice = new Float32Array(O * I);
  bitlinearBackward(null, twice, dy, r.xCodes, r.xScales, r.wCodes, r.gamma, N, I, O, new Float32Array(N * O));
  bitlinearBackward(null, twice, dy, r.xCodes, r.xScales, r.wCodes, r.gamma, N, I, O, new Float32Array(N * O));
  assertClose(twice, once.map((v) => 2 * v), 1e-6, "accumulated dW");
});

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}
