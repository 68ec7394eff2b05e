// The fixture models (TQ2_0, TQ1_0, I2_S) run with the wasm kernels: weights load into wasm memory via
// allocWeights, and the logits match the reference kernels' — the ternary layers bit for bit, so the
// only difference is the float head's rounding (float32 sums instead of float64).
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadModel } from "../../src/index.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import { createWasmKernels } from "../../src/kernels/wasm/kernels.ts";
import type { ActQuantMode } from "../../src/kernels/types.ts";

const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;
const PROMPT = [1, 260, 300, 280, 400, 311, 270];

for (const file of ["bitnet-tiny-tq2_0.gguf", "bitnet-small-tq1_0.gguf", "bitnet-b158-tiny-i2_s.gguf"]) {
  for (const actQuant of ["token", "block256"] as ActQuantMode[]) {
    test(`${file} (${actQuant}): wasm logits match the reference`, async () => {
      const kernels = await createWasmKernels({ simd: "relaxed", shared: true });
      const ref = await loadModel(`${FIX}${file}`, { contextLength: 32, batchSize: 4, kernels: refKernels, actQuant });
      const wasm = await loadModel(`${FIX}${file}`, { contextLength: 32, batchSize: 4, kernels, actQuant });
      assert.ok(kernels.arena.used > ref.file.tensors.reduce((s, t) => s + t.byteSize, 0) / 2, "the weights went into wasm memory");
      const ids = PROMPT.filter((id) => id < ref.config.vocabSize);
      const want = Float32Array.from(ref.logits(ids));
      const got = wasm.logits(ids);
      let scale = 0;
      for (const v of want) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * scale, `logit ${i}: ${got[i]} vs ${want[i]}`);
      const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);
      assert.equal(argmax(got), argmax(want));
      await ref.dispose();
      await wasm.dispose();
    });
  }
}
