// Each layer's forward against a float64 re-implementation of SPEC §1 (ref64.ts), and its backward
// against central finite differences (h = 1e-6) of that float64 reference: the scalar differentiated
// is Σ r ⊙ y for a random r, so the analytic backward is called with dy = r.
// Tolerances (see assertClose): forward rtol 1e-6, gradients rtol 1e-4.
import { test } from "node:test";
import assert from "node:assert/strict";
import { embeddingBackward, embeddingForward } from "../../src/train/embedding.ts";
import { rmsnormBackward, rmsnormForward } from "../../src/train/rmsnorm.ts";
import { linearBackward, linearForward } from "../../src/train/linear.ts";
import { ropeBackward, ropeForward, ropeTables } from "../../src/train/rope.ts";
import { attentionBackward, attentionForward } from "../../src/train/attention.ts";
import { gatedActBackward, gatedActForward } from "../../src/train/mlp.ts";
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from "../../src/train/crossentropy.ts";
import { assertClose } from "../helpers/compare.ts";
import { dot64, fdGradient } from "../helpers/finite-diff.ts";
import { randomF32 } from "../helpers/prng.ts";
import { attention64, crossEntropy64, gatedAct64, linear64, rmsnorm64, rope64 } from "../helpers/ref64.ts";

const FWD = 1e-6;
const GRAD = 1e-4;
const f64 = (a: Float32Array): Float64Array => Float64Array.from(a);

test("embedding: forward copies rows, backward scatter-adds (FD)", () => {
  const N = 5, D = 3, V = 4;
  const table = randomF32(V * D, 1);
  const tokens = Int32Array.from([2, 0, 2, 3, 1]);
  const out = new Float32Array(N * D);
  embeddingForward(out, tokens, table, N, D, V);
  for (let n = 0; n < N; n++) for (let i = 0; i < D; i++) assert.equal(out[n * D + i], table[tokens[n] * D + i]);
  const r = randomF32(N * D, 2);
  const dtable = new Float32Array(V * D);
  embeddingBackward(dtable, r, tokens, N, D);
  const t64 = f64(table);
  const fd = fdGradient(() => {
    const y = new Float64Array(N * D);
    for (let n = 0; n < N; n++) for (let i = 0; i < D; i++) y[n * D + i] = t64[tokens[n] * D + i];
    return dot64(r, y);
  }, t64);
  assertClose(dtable, fd, GRAD, "dtable");
  assert.throws(() => embeddingForward(out, Int32Array.from([4]), table, 1, D, V), /token id 4 at position 0/);
});

test("rmsnorm: forward and backward (dx, dgain) against float64 FD; backward accumulates", () => {
  const N = 3, C = 7, eps = 1e-5;
  const x = randomF32(N * C, 3, 2);
  const g = randomF32(C, 4).map((v) => 1 + 0.5 * v);
  const out = new Float32Array(N * C);
  const rstd = new Float32Array(N);
  rmsnormForward(out, rstd, x, g, N, C, eps);
  assertClose(out, rmsnorm64(f64(x), g, N, C, eps), FWD, "rmsnorm out");
  const r = randomF32(N * C, 5);
  const dx = new Float32Array(N * C).fill(0.25);
  const dg = new Float32Array(C);
  rmsnormBackward(dx, dg, r, x, g, rstd, N, C);
  const x64 = f64(x);
  const g64 = f64(g);
  const loss = () => dot64(r, rmsnorm64(x64, g64, N, C, eps));
  assertClose(dx.map((v) => v - 0.25), fdGradient(loss, x64), GRAD, "rmsnorm dx");
  assertClose(dg, fdGradient(loss, g64), GRAD, "rmsnorm dgain");
});

test("linear (fp): forward and backward (dx, dW) against float64 FD", () => {
  const N = 5, I = 7, O = 3;
  const x = randomF32(N * I, 6);
  const W = randomF32(O * I, 7);
  const y = new Float32Array(N * O);
  linearForward(y, x, W, N, I, O);
  assertClose(y, linear64(x, W, N, I, O), FWD, "linear out");
  const r = randomF32(N * O, 8);
  const dx = new Float32Array(N * I);
  const dW = new Float32Array(O * I);
  linearBackward(dx, dW, r, x, W, N, I, O);
  const x64 = f64(x);
  const W64 = f64(W);
  const loss = () => dot64(r, linear64(x64, W64, N, I, O));
  assertClose(dx, fdGradient(loss, x64), GRAD, "linear dx");
  assertClose(dW, fdGradient(loss, W64), GRAD, "linear dW");
});

for (const theta of [10000, 10]) {
  test(`rope (NEOX, θ=${theta}): forward and backward against float64 FD`, () => {
    const B = 2, T = 5, H = 3, hd = 8;
    const x = randomF32(B * T * H * hd, 9);
    const cos = new Float32Array((T * hd) / 2);
    const sin = new Float32Array((T * hd) / 2);
    ropeTables(cos, sin, T, hd, theta);
    const y = x.slice();
    ropeForward(y, cos, sin, B, T, H, hd);
    assertClose(y, rope64(x, B, T, H, hd, theta), FWD, "rope out");
    // Position 0 is the identity, and element i pairs with i + hd/2 (not with i + 1).
    for (let i = 0; i < H * hd; i++) assert.equal(y[i], x[i]);
    const r = randomF32(x.length, 10);
    const dx = r.slice();
    ropeBackward(dx, cos, sin, B, T, H, hd);
    const x64 = f64(x);
    assertClose(dx, fdGradient(() => dot64(r, rope64(x64, B, T, H, hd, theta)), x64), GRAD, "rope dx");
  });
}

for (const [Hq, Hk] of [[4, 2], [2, 2], [3, 1]] as const) {
  test(`attention (causal, Hq=${Hq}, Hk=${Hk}): forward and backward (dq, dk, dv) against float64 FD`, () => {
    const B = 2, T = 4, hd = 4;
    const q = randomF32(B * T * Hq * hd, 11, 1.5);
    const k = randomF32(B * T * Hk * hd, 12, 1.5);
    const v = randomF32(B * T * Hk * hd, 13);
    const out = new Float32Array(q.length);
    const att = new Float32Array(B * Hq * T * T);
    attentionForward(out, att, q, k, v, B, T, Hq, Hk, hd);
    assertClose(out, attention64(q, k, v, B, T, Hq, Hk, hd), FWD, "attention out");
    const r = randomF32(q.length, 14);
    const dq = new Float32Array(q.length);
    const dk = new Float32Array(k.length);
    const dv = new Float32Array(v.length);
    attentionBackward(dq, dk, dv, r, q, k, v, att, B, T, Hq, Hk, hd, new Float32Array(T));
    const q64 = f64(q);
    const k64 = f64(k);
    const v64 = f64(v);
    const loss = () => dot64(r, attention64(q64, k64, v64, B, T, Hq, Hk, hd));
    assertClose(dq, fdGradient(loss, q64), GRAD, "attention dq");
    assertClose(dk, fdGradient(loss, k64), GRAD, "attention dk");
    assertClose(dv, fdGradient(loss, v64), GRAD, "attention dv");
  });
}

for (const act of ["silu", "relu2"] as const) {
  test(`gated MLP activation (${act}): forward and backward (dgate, dup) against float64 FD`, () => {
    const n = 40;
    // Keep gates away from ReLU²'s kink at 0, where the derivative is only one-sided.
    const gate = randomF32(n, 15, 3).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v));
    const up = randomF32(n, 16, 2);
    const out = new Float32Array(n);
    gatedActForward(out, gate, up, n, act);
    assertClose(out, gatedAct64(gate, up, act), FWD, "act out");
    const r = randomF32(n, 17);
    const dg = new Float32Array(n);
    const du = new Float32Array(n);
    gatedActBackward(dg, du, r, gate, up, n, act);
    const g64 = f64(gate);
    const u64 = f64(up);
    const loss = () => dot64(r, gatedAct64(g64, u64, act));
    assertClose(dg, fdGradient(loss, g64), GRAD, "dgate");
    assertClose(du, fdGradient(loss, u64), GRAD, "dup");
  });
}

test("softmax cross-entropy: mean loss over counted targets and dlogits against float64 FD", () => {
  const N = 5, V = 7;
  const logits = randomF32(N * V, 18, 4);
  const targets = Int32Array.from([3, -1, 0, 6, 2]);
  const probs = new Float32Array(N * V);
  const losses = new Float32Array(N);
  const loss = softmaxCrossEntropyForward(probs, losses, logits, targets, N, V);
  const ref = crossEntropy64(logits, targets, N, V);
  assert.ok(Math.abs(loss - ref) <= 1e-6 * ref, `loss ${loss} vs ${ref}`);
  assert.equal(losses[1], 0);
  softmaxCrossEntropyBackward(probs, targets, N, V, 1);
  const l64 = f64(logits);
  assertClose(probs, fdGradient(() => crossEntropy64(l64, targets, N, V), l64), GRAD, "dlogits");
  for (let i = 0; i < V; i++) assert.equal(probs[V + i], 0, "an uncounted row gets no gradient");
  assert.throws(() => softmaxCrossEntropyForward(probs, losses, logits, Int32Array.from([7]), 1, V), /target 7 at position 0/);
});
