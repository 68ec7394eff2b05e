// The blocked matmuls against the naive ones beside them, on odd shapes that exercise every
// unrolled body and remainder loop, and both against a float64 product. Tolerance: rtol 1e-6
// (both do float64 arithmetic with one float32 rounding per stored value, so they differ only
// by summation order and by the per-step rounding of accumulated outputs).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  matmulBackwardInput, matmulBackwardInputNaive, matmulBackwardWeight, matmulBackwardWeightNaive, matmulForward, matmulForwardNaive,
} from "../../src/train/matmul.ts";
import { assertClose } from "../helpers/compare.ts";
import { randomF32 } from "../helpers/prng.ts";

const shapes: [number, number, number][] = [[1, 1, 1], [3, 5, 2], [4, 4, 4], [7, 13, 5], [9, 6, 11], [17, 33, 10], [8, 64, 19]];

for (const [N, I, O] of shapes) {
  test(`matmul ${N}×${I}×${O}: blocked == naive == float64`, () => {
    const inp = randomF32(N * I, N * 1000 + I);
    const w = randomF32(O * I, O * 1000 + I + 7);
    const dout = randomF32(N * O, N * 77 + O);

    const ref = new Float64Array(N * O);
    for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) ref[n * O + o] += inp[n * I + i] * w[o * I + i];
    const fast = new Float32Array(N * O);
    const naive = new Float32Array(N * O);
    matmulForward(fast, inp, w, N, I, O);
    matmulForwardNaive(naive, inp, w, N, I, O);
    assertClose(fast, naive, 1e-6, "forward fast vs naive");
    assertClose(naive, ref, 1e-6, "forward naive vs float64");

    // Backward products accumulate: start from a non-zero buffer and check the increment.
    const refDx = new Float64Array(N * I);
    for (let n = 0; n < N; n++) for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) refDx[n * I + i] += dout[n * O + o] * w[o * I + i];
    const dxFast = new Float32Array(N * I).fill(1);
    const dxNaive = new Float32Array(N * I).fill(1);
    matmulBackwardInput(dxFast, dout, w, N, I, O);
    matmulBackwardInputNaive(dxNaive, dout, w, N, I, O);
    assertClose(dxFast, dxNaive, 1e-6, "dinp fast vs naive");
    assertClose(dxNaive.map((v) => v - 1), refDx, 1e-6, "dinp naive vs float64");

    const refDw = new Float64Array(O * I);
    for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let n = 0; n < N; n++) refDw[o * I + i] += dout[n * O + o] * inp[n * I + i];
    const dwFast = new Float32Array(O * I).fill(-1);
    const dwNaive = new Float32Array(O * I).fill(-1);
    matmulBackwardWeight(dwFast, dout, inp, N, I, O);
    matmulBackwardWeightNaive(dwNaive, dout, inp, N, I, O);
    assertClose(dwFast, dwNaive, 1e-6, "dw fast vs naive");
    assertClose(dwNaive.map((v) => v + 1), refDw, 1e-6, "dw naive vs float64");
  });
}

test("matmul forward of integer codes is exact (the BitLinear integer product)", () => {
  const N = 6, I = 517, O = 9;
  const q = randomF32(N * I, 5, 128).map((v) => Math.max(-128, Math.min(127, Math.trunc(v))));
  const c = randomF32(O * I, 6, 1.5).map((v) => Math.trunc(v));
  const out = new Float32Array(N * O);
  matmulForward(out, q, c, N, I, O);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) {
    let s = 0;
    for (let i = 0; i < I; i++) s += q[n * I + i] * c[o * I + i];
    assert.equal(out[n * O + o], s);
  }
});
