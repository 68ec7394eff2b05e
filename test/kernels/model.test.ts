// The fixture models (TQ2_0, TQ1_0, I2_S) run with every backend (test/kernels/backends.ts): weights
// load through the backend's allocWeights, and the logits match the reference kernels' (the ternary
// layers bit for bit, so the only differences are the float head's and attention's rounding). For the
// native kernels, loaded from bytes through bitnet-ts/core's loadModelFrom:
// - with the reference's own code for everything but the float ops, the logits are the same bits
//   (every integer kernel, the norms, RoPE and the adds bit-exact in place, not only in unit tests);
// - llama.cpp's greedy path on its TQ2_0 fixture is reproduced;
// - every position's logits are the same bits whether the prompt runs as one batch, in chunks, or token
//   by token, and whatever the thread count (what continuous batching needs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadModelFrom } from "../../src/core.ts";
import { loadModel } from "../../src/index.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import type { ActQuantMode, Kernels } from "../../src/kernels/types.ts";
import type { BitNetModel } from "../../src/model/model.ts";
import { createNativeKernels } from "../../src/node/native/kernels.ts";
import { BACKENDS, NATIVE_ISAS } from "./backends.ts";
import { firstBitDifference } from "./helpers.ts";

const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;
const PROMPT = [1, 260, 300, 280, 400, 311, 270];
const FILES = ["bitnet-tiny-tq2_0.gguf", "bitnet-small-tq1_0.gguf", "bitnet-b158-tiny-i2_s.gguf"];
const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);
const bytes = new Map(FILES.map((f) => [f, readFileSync(`${FIX}${f}`)]));

async function greedy(model: BitNetModel, prompt: number[], n: number): Promise<number[]> {
  const out: number[] = [];
  for await (const piece of model.generate(prompt, { temperature: 0, maxTokens: n, ignoreEos: true })) out.push(piece.token);
  return out;
}

for (const backend of BACKENDS.filter((b) => b.threads === 1)) {
  for (const file of FILES) {
    for (const actQuant of ["token", "block256"] as ActQuantMode[]) {
      test(`${backend.label}: ${file} (${actQuant}) logits and greedy tokens match the reference kernels'`, async () => {
        const kernels = await backend.create();
        const ref = await loadModel(`${FIX}${file}`, { contextLength: 32, batchSize: 4, kernels: refKernels, actQuant });
        const model = backend.kind === "native"
          ? await loadModelFrom(bytes.get(file) as Uint8Array, { contextLength: 32, batchSize: 4, kernels, actQuant })
          : await loadModel(`${FIX}${file}`, { contextLength: 32, batchSize: 4, kernels, actQuant });
        try {
          assert.equal(model.backend, kernels.name);
          const ids = PROMPT.filter((id) => id < ref.config.vocabSize);
          const want = Float32Array.from(ref.logits(ids));
          const got = model.logits(ids);
          let scale = 0;
          for (const v of want) scale = Math.max(scale, Math.abs(v));
          for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * scale, `logit ${i}: ${got[i]} vs ${want[i]}`);
          assert.equal(argmax(got), argmax(want));
          if (backend.kind === "native") assert.deepEqual(await greedy(model, ids, 8), await greedy(ref, ids, 8));
        } finally {
          await ref.dispose();
          await model.dispose();
          await kernels.close?.();
        }
      });
    }
  }
}

for (const isa of NATIVE_ISAS) {
  test(`native ${isa}: with the reference's code for all but the float ops, the models' logits are the same bits`, async () => {
    const native = await createNativeKernels({ isa, threads: 2 });
    // the float ops (head, attention, SiLU) are the only ones allowed to round differently: borrow them
    const hybrid: Kernels = {
      ...refKernels,
      name: "ref with native float ops",
      floatMatmul: (w, x, T, out) => native.floatMatmul(w, x, T, out),
      attention: (out, q, k, v, pos0, T, shape, scores) => native.attention(out, q, k, v, pos0, T, shape, scores),
      gatedActivation: (g, u, n, act) => native.gatedActivation(g, u, n, act),
    };
    try {
      for (const file of FILES) {
        for (const actQuant of ["token", "block256"] as ActQuantMode[]) {
          const a = await loadModelFrom(bytes.get(file) as Uint8Array, { contextLength: 64, batchSize: 8, kernels: native, actQuant });
          const b = await loadModelFrom(bytes.get(file) as Uint8Array, { contextLength: 64, batchSize: 8, kernels: hybrid, actQuant });
          const ids = [...PROMPT, 5, 6, 7, 8, 9, 10].filter((id) => id < a.config.vocabSize);
          const x = a.allLogits(ids);
          const y = b.allLogits(ids);
          assert.equal(firstBitDifference(x, y, x.length), -1, `${file} ${actQuant}`);
          await a.dispose();
          await b.dispose();
        }
      }
    } finally {
      await native.close();
    }
  });
}

if (NATIVE_ISAS.length > 0) {
  test("native: llama.cpp's greedy path on its TQ2_0 fixture, from bytes", async () => {
    const ref = JSON.parse(readFileSync(`${FIX}bitnet-tiny-tq2_0.ref.json`, "utf8")) as { prompt: number[]; greedy: number[] };
    const kernels = await createNativeKernels({ threads: 2 });
    const model = await loadModelFrom(bytes.get("bitnet-tiny-tq2_0.gguf") as Uint8Array, { contextLength: 256, kernels });
    try {
      assert.deepEqual(await greedy(model, ref.prompt, ref.greedy.length), ref.greedy);
    } finally {
      await model.dispose();
      await kernels.close();
    }
  });

  test("native: a position's logits are the same bits in one batch, in chunks, token by token, and on 1 or 3 threads", async () => {
    for (const isa of NATIVE_ISAS) {
      for (const file of FILES) {
        const ids = [...PROMPT, 11, 12, 13, 14, 15, 16, 17, 18, 19].filter((id) => id < 512);
        let first: Float32Array | null = null;
        for (const [threads, batchSize] of [[1, 16], [3, 16], [1, 5], [3, 1]]) {
          const kernels = await createNativeKernels({ isa, threads, minParallelWork: threads > 1 ? 0 : undefined });
          const model = await loadModelFrom(bytes.get(file) as Uint8Array, { contextLength: 64, batchSize, kernels, kvCacheType: "f16" });
          const all = model.allLogits(ids);
          await model.dispose();
          await kernels.close();
          if (!first) first = all;
          else assert.equal(firstBitDifference(first, all, all.length), -1, `${isa} ${file}: ${threads} thread(s), batches of ${batchSize}`);
        }
      }
    }
  });
}
