// I2_S matrices whose rows are not whole 128-value blocks (the small reproduction sizes: width 192, ffn 704),
// which the loader repacks with each row padded to whole blocks (i2sPadRows) so that the fast kernels take
// them instead of the reference:
// - the padded tensor decodes, row by row, to the file's rows followed by zeros (the codec's own decoding of
//   the file layout is the independent side);
// - every backend's matmul of the padded matrix on zero-padded activations equals, bit for bit, the
//   reference's matmul of the file's layout on the real activations;
// - a model with such widths, exported from the training code and loaded on each backend, gives the training
//   forward's logits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { allocActivations, padActivations } from "../../src/kernels/activations.ts";
import { ternaryMatmulRef } from "../../src/kernels/ternary-ref.ts";
import type { TernaryMatrix } from "../../src/kernels/types.ts";
import { i2_s, i2sBytes, i2sPadRows, i2sPaddedCols } from "../../src/quant/codecs/i2_s.ts";
import { memorySink } from "../../src/formats/sink.ts";
import { loadModel } from "../../src/index.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import { createActivations } from "../../src/train/acts.ts";
import { exportGGUF } from "../../src/train/export-gguf.ts";
import { forward } from "../../src/train/model.ts";
import { createParamSet, initParams } from "../../src/train/params.ts";
import { maxAbsDiff } from "../helpers/compare.ts";
import { prng } from "../helpers/prng.ts";
import { BACKENDS, withKernels } from "./backends.ts";
import { firstBitDifference, randomActivations, randomTernary } from "./helpers.ts";
import { trainTestBpe, CORPUS, testConfig } from "../train/export-helpers.ts";

/** [rows, cols] shapes whose rows are not whole blocks (rows · cols still is, as I2_S needs). */
const SHAPES: [number, number][] = [
  [2, 192],
  [6, 704],
  [4, 96],
  [10, 320],
  [16, 200],
];

function padded(w: TernaryMatrix, alloc?: (bytes: number, align: number) => Uint8Array): TernaryMatrix {
  const cols = i2sPaddedCols(w.cols);
  const size = i2sBytes(w.rows * cols);
  const data = alloc ? alloc(size, 64) : new Uint8Array(size);
  i2sPadRows(w.data, w.rows, w.cols, data);
  return { ...w, cols, data, paddedFrom: w.cols };
}

test("i2sPadRows: each row decodes to the file's row, then zeros up to a whole block; the scale is kept", () => {
  const rand = prng(7);
  for (const [rows, cols] of SHAPES) {
    const w = randomTernary("i2_s", rows, cols, rand);
    const p = padded(w);
    assert.equal(p.cols % 128, 0);
    assert.equal(p.uniformScale, w.uniformScale);
    const want = new Float32Array(cols);
    const got = new Float32Array(p.cols);
    for (let r = 0; r < rows; r++) {
      i2_s.dequantizeRow(w.data, r, cols, want);
      i2_s.dequantizeRow(p.data, r, p.cols, got);
      assert.deepEqual([...got.subarray(0, cols)], [...want], `[${rows}, ${cols}] row ${r}`);
      assert.ok(got.subarray(cols).every((v) => v === 0), `[${rows}, ${cols}] row ${r}: the padding holds zero weights`);
    }
  }
  const w = randomTernary("i2_s", 2, 192, rand);
  assert.throws(() => i2sPadRows(w.data.subarray(0, 40), 2, 192, new Uint8Array(200)), /i2_s/);
  assert.throws(() => i2sPadRows(w.data, 2, 192, new Uint8Array(100)), /cannot hold 2 rows of 256/);
});

for (const [b, backend] of BACKENDS.entries()) {
  test(`${backend.label}: padded I2_S rows on padded activations give the reference's bits on the file's layout`, () =>
    withKernels(backend, (k) => {
      const rand = prng(31 + b);
      for (const [rows, cols] of SHAPES) {
        for (const T of [1, 3, 8]) {
          const w = randomTernary("i2_s", rows, cols, rand);
          const x = randomActivations(T, cols, "token", rand);
          const want = new Float32Array(T * rows);
          ternaryMatmulRef(w, x, want);
          const p = padded(w, (bytes, align) => k.allocWeights(bytes, align));
          const xp = allocActivations(T, p.cols);
          padActivations(x, p.cols, xp);
          const got = new Float32Array(T * rows).fill(NaN);
          k.ternaryMatmul(p, xp, got);
          const d = firstBitDifference(got, want, T * rows);
          assert.equal(d, -1, `[${rows}, ${cols}] T=${T}: element ${d} is ${got[d]}, the reference says ${want[d]}`);
        }
      }
    }));
}

test("padActivations refuses per-block activations and a buffer too small, naming both widths", () => {
  const x = randomActivations(2, 512, "block256", prng(3));
  assert.throws(() => padActivations(x, 640, allocActivations(2, 640)), /one scale per token, got groups of 256/);
  const t = randomActivations(2, 192, "token", prng(4));
  assert.throws(() => padActivations(t, 256, allocActivations(1, 256)), /\[2, 192\] do not fit .* 256 columns/);
});

test("a model 192 wide with ffn 704, exported as I2_S, gives the training forward's logits on every backend", async (t) => {
  const vocab = trainTestBpe(CORPUS, 24);
  const config = { ...testConfig("relu2", 304), dim: 192, ffnDim: 704, nHeads: 3, nKvHeads: 1 };
  const p = createParamSet(config);
  initParams(p, 9);
  const sink = memorySink();
  await exportGGUF(p, vocab, sink, { type: "i2_s" });
  const seq = Int32Array.from({ length: 24 }, (_, i) => (i * 37 + 5) % 272);
  const acts = createActivations(config, 1, seq.length);
  forward(p, acts, seq, null, 1, seq.length);
  const want = acts.logits.subarray(0, seq.length * 304);
  // Logits spread over a few units, so the tolerance below is small against them.
  const spread = Math.max(...want) - Math.min(...want);
  assert.ok(spread > 1, `the logits span ${spread}`);
  const kernelSets = [{ label: "reference", create: async () => refKernels }, ...BACKENDS.map((bk) => ({ label: bk.label, create: bk.create }))];
  for (const ks of kernelSets) {
    const kernels = await ks.create();
    const engine = await loadModel(sink.bytes(), { contextLength: 64, kernels });
    try {
      const got = engine.allLogits([...seq]);
      const d = maxAbsDiff(got, want);
      t.diagnostic(`${ks.label}: max |Δlogit| against the training forward ${d.toExponential(2)}`);
      assert.ok(d <= 2e-3, `${ks.label}: max |Δlogit| ${d}`);
    } finally {
      await engine.dispose();
      if (kernels !== refKernels) await (kernels as { close?: () => Promise<void> }).close?.();
    }
  }
});
