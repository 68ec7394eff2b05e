// Activation quantizers against references written here: transformers' `activation_quant` in float32
// (per token), and a line-by-line transcription of ggml's `quantize_row_q8_K_ref` (per 256-block),
// including its float32 `nearest_int` bit trick.
import { test } from "node:test";
import assert from "node:assert/strict";
import { quantizeAbsmaxBlocks, quantizeAbsmaxRows } from "../../src/quant/absmax.ts";
import { gaussian, prng, randInt } from "../helpers/prng.ts";
import { rhe } from "../helpers/ref64.ts";

/** torch: scale = 127 / amax.clamp(min=1e-5); q = (x*scale).round().clamp(-128, 127), all float32. */
function refRows(x: Float32Array, rows: number, cols: number) {
  const q = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  const sums = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(x[r * cols + c]));
    const s = Math.fround(127 / Math.max(amax, Math.fround(1e-5)));
    scales[r] = s;
    for (let c = 0; c < cols; c++) {
      const v = Math.min(127, Math.max(-128, rhe(Math.fround(x[r * cols + c] * s))));
      q[r * cols + c] = v;
      sums[r] += v;
    }
  }
  return { q, scales, sums };
}

const nf = new Float32Array(1);
const ni = new Int32Array(nf.buffer);
/** ggml's nearest_int: float32 add of 1.5·2^23, then the low mantissa bits. */
function nearestInt(fval: number): number {
  nf[0] = Math.fround(fval) + 12582912;
  return (ni[0] & 0x007fffff) - 0x00400000;
}

/** quantize_row_q8_K_ref, transcribed (QK_K = 256), returning qs, d and per-block Σqs. */
function refQ8K(x: Float32Array, k: number) {
  const nb = k / 256;
  const qs = new Int8Array(k);
  const d = new Float32Array(nb);
  const sums = new Int32Array(nb);
  for (let i = 0; i < nb; i++) {
    let max = 0;
    let amax = 0;
    for (let j = 0; j < 256; j++) {
      const ax = Math.abs(x[i * 256 + j]);
      if (ax > amax) {
        amax = ax;
        max = x[i * 256 + j];
      }
    }
    if (!amax) continue; // d = 0, qs = 0
    const iscale = Math.fround(-127 / max);
    for (let j = 0; j < 256; j++) {
      const v = nearestInt(Math.fround(iscale * x[i * 256 + j]));
      qs[i * 256 + j] = Math.min(127, v); // the Int8Array store truncates like the C int8_t store
      sums[i] += qs[i * 256 + j];
    }
    d[i] = Math.fround(1 / iscale);
  }
  return { qs, d, sums };
}

function sameF32(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test("per-token absmax matches transformers' float32 rule on random rows of odd lengths", () => {
  const rand = prng(7);
  for (let t = 0; t < 30; t++) {
    const rows = randInt(rand, 1, 5);
    const cols = randInt(rand, 1, 700);
    const x = gaussian(rand, rows * cols, 10 ** randInt(rand, -3, 2));
    const got = quantizeAbsmaxRows(x, rows, cols);
    const want = refRows(x, rows, cols);
    assert.deepEqual(got.q, want.q);
    sameF32(got.scales, want.scales, "scales");
    assert.deepEqual(got.sums, want.sums);
  }
});

test("per-token absmax: exact .5 ties round to even, zero rows, ±0, denormals, one element", () => {
  // amax = 127 → s = 1 exactly, so x·s are the values themselves.
  const x = Float32Array.of(127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, -127, 126.5, -0);
  const r = quantizeAbsmaxRows(x, 1, x.length);
  assert.equal(r.scales[0], 1);
  assert.deepEqual(Array.from(r.q), [127, 0, 2, 2, 0, -2, -2, -127, 126, 0]);
  assert.equal(r.sums[0], 127 + 2 + 2 - 2 - 2 - 127 + 126);
  // An all-zero row and a row of denormals both use the 1e-5 floor and quantize to 0.
  const z = quantizeAbsmaxRows(Float32Array.of(0, -0, 0, 1e-40, -1e-42, 3e-45), 2, 3);
  assert.deepEqual(Array.from(z.q), [0, 0, 0, 0, 0, 0]);
  assert.equal(z.scales[0], Math.fround(127 / Math.fround(1e-5)));
  assert.deepEqual(Array.from(z.sums), [0, 0]);
  // A single element always maps to ±127.
  const one = quantizeAbsmaxRows(Float32Array.of(-3.25), 1, 1);
  assert.deepEqual(Array.from(one.q), [-127]);
  assert.equal(one.sums[0], -127);
});

test("per-token absmax fills a preallocated output and rejects bad input with a named error", () => {
  const out = { q: new Int8Array(12), scales: new Float32Array(3), sums: new Int32Array(3) };
  const x = gaussian(prng(9), 12);
  const r = quantizeAbsmaxRows(x, 3, 4, out);
  assert.equal(r, out);
  assert.deepEqual(r.q, refRows(x, 3, 4).q);
  assert.throws(() => quantizeAbsmaxRows(Float32Array.of(1, NaN, 2, 3), 2, 2, undefined, "blk.3.ffn_down input"), /blk\.3\.ffn_down input: non-finite activation NaN at index 1/);
  assert.throws(() => quantizeAbsmaxRows(Float32Array.of(1, 2, 3, Infinity), 2, 2), /activations: non-finite activation Infinity at index 3/);
  assert.throws(() => quantizeAbsmaxRows(new Float32Array(3), 2, 2), /has 3 values, shape needs 4/);
  assert.throws(() => quantizeAbsmaxRows(new Float32Array(4), 2, 2, { q: new Int8Array(4), scales: new Float32Array(1), sums: new Int32Array(2) }), /out\.scales holds 1, need 2/);
});

test("per-block quantization reproduces ggml's quantize_row_q8_K_ref bit for bit", () => {
  const rand = prng(21);
  for (let t = 0; t < 20; t++) {
    const rows = randInt(rand, 1, 3);
    const cols = 256 * randInt(rand, 1, 4);
    const x = gaussian(rand, rows * cols, 10 ** randInt(rand, -4, 3));
    // Sprinkle exact zeros, negative zeros and denormals.
    for (let i = 0; i < x.length; i += 37) x[i] = [0, -0, 1e-40, -3e-39][i % 4];
    const got = quantizeAbsmaxBlocks(x, rows, cols);
    const want = refQ8K(x, rows * cols);
    assert.deepEqual(got.q, want.qs);
    sameF32(got.d, want.d, "d");
    assert.deepEqual(got.sums, want.sums);
  }
});

test("per-block quantization: signed max, first-occurrence ties, zero blocks, denormal maxima", () => {
  const x = new Float32Array(256 * 4);
  // Block 0: largest magnitude is negative → iscale > 0, codes keep the sign of x.
  x[0] = 0.5; x[1] = -2; x[2] = 1; x[3] = 2; // -2 comes first among |x| = 2
  // Block 1: largest magnitude positive → d < 0 and codes are negated.
  x[256] = 4; x[257] = -1; x[258] = 2;
  // Block 2: all zero (with a -0). Block 3: maximum is a denormal, so -127/max overflows to -Inf in float32.
  x[512] = -0;
  x[768] = 1e-39; x[769] = -5e-40;
  const r = quantizeAbsmaxBlocks(x, 1, 1024);
  assert.deepEqual([r.q[0], r.q[1], r.q[2], r.q[3]], [32, -127, 64, 127]);
  assert.equal(r.d[0], Math.fround(1 / Math.fround(127 / 2)));
  assert.deepEqual([r.q[256], r.q[257], r.q[258]], [-127, 32, -64]);
  assert.ok(r.d[1] < 0);
  assert.ok(r.q.subarray(512, 768).every((v) => v === 0));
  assert.equal(r.d[2], 0);
  assert.ok(r.q.subarray(768).every((v) => v === 0), "ggml's nearest_int of ±Inf/NaN stores 0");
  assert.ok(Object.is(r.d[3], -0));
  sameF32(r.d, refQ8K(x, 1024).d, "d");
  assert.deepEqual(r.q, refQ8K(x, 1024).qs);
});

test("for 256-wide rows the per-block integers are the per-token ones, up to ggml's sign flip", () => {
  const rand = prng(33);
  const x = gaussian(rand, 256 * 6, 0.7);
  const rowsQ = quantizeAbsmaxRows(x, 6, 256);
  const blockQ = quantizeAbsmaxBlocks(x, 6, 256);
  for (let r = 0; r < 6; r++) {
    const sign = blockQ.d[r] < 0 ? -1 : 1;
    for (let c = 0; c < 256; c++) assert.equal(blockQ.q[r * 256 + c], sign * rowsQ.q[r * 256 + c] + 0);
    assert.equal(blockQ.sums[r], sign * rowsQ.sums[r]);
  }
});

test("per-block quantization fills a preallocated output and rejects bad shapes", () => {
  const out = { q: new Int8Array(512), d: new Float32Array(2), sums: new Int32Array(2) };
  const x = gaussian(prng(4), 512);
  assert.equal(quantizeAbsmaxBlocks(x, 2, 256, 256, out), out);
  assert.throws(() => quantizeAbsmaxBlocks(new Float32Array(300), 1, 300), /activations: row length 300 is not a multiple of the block size 256/);
  assert.throws(() => quantizeAbsmaxBlocks(Float32Array.from({ length: 256 }, (_, i) => (i === 9 ? NaN : 1)), 1, 256, 256, undefined, "x"), /x: non-finite activation NaN at index 9/);
  // Other block sizes apply the same rule (used to emulate llama.cpp on non-256 layouts in tests).
  const small = quantizeAbsmaxBlocks(Float32Array.of(1, -2, 0.5, 0.25), 1, 4, 2);
  assert.deepEqual(Array.from(small.q), [64, -127, -127, -64]);
});
