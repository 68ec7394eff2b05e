// How the wasm kernels use their memory: weights placed with allocWeights are read in place, weights
// from elsewhere are copied in once, run-state views (allocScratch) are used without copies, ordinary
// (non-shared) memories report detached views clearly, and wasm32's 4 GiB limit gives a clear error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ternaryMatmulRef } from "../../src/kernels/ternary-ref.ts";
import type { QuantizedActivations } from "../../src/kernels/types.ts";
import { createWasmKernels } from "../../src/kernels/wasm/kernels.ts";
import type { WasmSimd } from "../../src/kernels/wasm/module.ts";
import { prng } from "../helpers/prng.ts";
import { assertTernaryMatchesRef, firstBitDifference, randomActivations, randomTernary } from "./helpers.ts";

test("all four builds (relaxed / SIMD128, shared / ordinary memory) agree with the reference", async () => {
  const rand = prng(21);
  for (const simd of ["relaxed", "simd128"] as WasmSimd[]) {
    for (const shared of [true, false]) {
      const k = await createWasmKernels({ simd, shared });
      assert.equal(k.arena.memory.buffer instanceof SharedArrayBuffer, shared);
      for (const format of ["tq2_0", "tq1_0", "i2_s"] as const) {
        const w = randomTernary(format, 5, 512, rand, { alloc: (b, a) => k.allocWeights(b, a) });
        assertTernaryMatchesRef(k, `${simd} ${shared ? "shared" : "ordinary"} ${format}`, w, randomActivations(3, 512, "token", rand));
      }
    }
  }
});

test("weights placed elsewhere are copied in once, then reused", async () => {
  const k = await createWasmKernels({ simd: "relaxed", shared: true });
  const rand = prng(22);
  const w = randomTernary("tq2_0", 3, 256, rand); // a plain Uint8Array, not wasm memory
  const x = randomActivations(1, 256, "token", rand);
  const want = new Float32Array(3);
  const got = new Float32Array(3);
  ternaryMatmulRef(w, x, want);
  const before = k.arena.used;
  k.ternaryMatmul(w, x, got);
  const afterFirst = k.arena.used;
  k.ternaryMatmul(w, x, got);
  assert.equal(firstBitDifference(want, got, 3), -1);
  assert.ok(afterFirst > before, "the first call copies the weights in");
  assert.equal(k.arena.used, afterFirst, "the second call reuses the copy");
});

test("activations and outputs that live in wasm memory are used in place", async () => {
  const k = await createWasmKernels({ simd: "relaxed", shared: true });
  const rand = prng(23);
  const T = 2, K = 512, N = 3;
  const w = randomTernary("i2_s", N, K, rand, { alloc: (b, a) => k.allocWeights(b, a) });
  const plain = randomActivations(T, K, "block256", rand);
  const qBytes = k.allocScratch(T * K, 64);
  const fBytes = k.allocScratch(plain.factors.byteLength, 64);
  const oBytes = k.allocScratch(T * N * 4, 64);
  const x: QuantizedActivations = {
    ...plain,
    q: new Int8Array(qBytes.buffer, qBytes.byteOffset, T * K),
    factors: new Float32Array(fBytes.buffer, fBytes.byteOffset, plain.factors.length),
  };
  x.q.set(plain.q);
  x.factors.set(plain.factors);
  const out = new Float32Array(oBytes.buffer, oBytes.byteOffset, T * N);
  const want = new Float32Array(T * N);
  ternaryMatmulRef(w, plain, want);
  k.ternaryMatmul(w, x, new Float32Array(T * N)); // warms the scratch up
  const used = k.arena.used;
  k.ternaryMatmul(w, x, out);
  assert.equal(firstBitDifference(want, out, T * N), -1);
  assert.equal(k.arena.used, used);
});

test("an ordinary memory that grew reports detached weights instead of reading garbage", async () => {
  const k = await createWasmKernels({ simd: "simd128", shared: false });
  const rand = prng(24);
  const w = randomTernary("tq2_0", 2, 256, rand, { alloc: (b, a) => k.allocWeights(b, a) });
  k.allocWeights(64 * 2 ** 20, 64); // forces growth, which detaches every earlier view
  assert.throws(() => k.ternaryMatmul(w, randomActivations(1, 256, "token", rand), new Float32Array(2)), /before it grew, and growth detached it/);
});

test("an ordinary memory with room reserved up front keeps its views", async () => {
  const k = await createWasmKernels({ simd: "relaxed", shared: false, initialBytes: 8 * 2 ** 20 });
  const rand = prng(25);
  const w = randomTernary("tq1_0", 2, 256, rand, { alloc: (b, a) => k.allocWeights(b, a) });
  assertTernaryMatchesRef(k, "tq1_0 [2, 256]", w, randomActivations(4, 256, "token", rand));
});

test("an ordinary memory reserved before loading keeps its views", async () => {
  const k = await createWasmKernels({ simd: "relaxed", shared: false });
  k.reserve(4 * 2 ** 20);
  const rand = prng(26);
  const w = randomTernary("tq2_0", 64, 2560, rand, { alloc: (b, a) => k.allocWeights(b, a) });
  assertTernaryMatchesRef(k, "tq2_0 [64, 2560]", w, randomActivations(2, 2560, "token", rand));
  assert.throws(() => k.reserve(5 * 2 ** 30), /wasm32 stops at 4 GiB/);
});

test("asking for more than wasm32's 4 GiB says what did not fit", async () => {
  const k = await createWasmKernels({ simd: "relaxed", shared: true });
  assert.throws(() => k.allocWeights(5 * 2 ** 30, 64), /weights needs 5120\.0 MiB but the WebAssembly memory already holds .* wasm32 stops at 4 GiB/);
  assert.throws(() => k.allocWeights(-1, 64), /bad allocation size -1/);
});
