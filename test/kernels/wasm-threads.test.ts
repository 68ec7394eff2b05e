// Threaded wasm kernels (src/node/wasm-threads.ts): rows split between the caller and worker threads
// over one shared memory give the reference's bits for ternary matmuls and the single-threaded kernels'
// bits for float ones, above and below the size at which work is split.
import { test } from "node:test";
import assert from "node:assert/strict";
import { floatMatmulRef } from "../../src/kernels/float-ref.ts";
import type { FloatMatrix, TernaryFormat } from "../../src/kernels/types.ts";
import { createWasmKernels } from "../../src/kernels/wasm/kernels.ts";
import { createThreadedWasmKernels } from "../../src/node/wasm-threads.ts";
import { gaussian, prng } from "../helpers/prng.ts";
import { assertTernaryMatchesRef, firstBitDifference, randomActivations, randomTernary } from "./helpers.ts";

test("three threads compute ternary matmuls bit for bit like the reference", async () => {
  const k = await createThreadedWasmKernels({ simd: "relaxed", threads: 3 });
  assert.equal(k.lanes, 3);
  const rand = prng(31);
  try {
    for (const format of ["tq2_0", "tq1_0", "i2_s"] as TernaryFormat[]) {
      // 1030 rows: not a multiple of the row groups, and large enough (with K = 1024) to be split.
      for (const [N, K] of [[1030, 1024], [7, 256]]) {
        for (const T of [1, 5]) {
          const w = randomTernary(format, N, K, rand, { alloc: (b, a) => k.allocWeights(b, a), scales: format === "i2_s" ? "uniform" : "per-block" });
          assertTernaryMatchesRef(k, `${format} [${N}, ${K}] T=${T}`, w, randomActivations(T, K, T === 1 ? "token" : "block256", rand));
        }
      }
    }
  } finally {
    await k.close();
  }
});

test("two threads compute float matmuls exactly like one thread", async () => {
  const threaded = await createThreadedWasmKernels({ simd: "relaxed", threads: 2 });
  const single = await createWasmKernels({ simd: "relaxed", shared: true });
  const rand = prng(32);
  try {
    const N = 3001, K = 512;
    const bits = new Uint16Array(N * K).map(() => Math.floor(rand() * 65536) & 0xbfff);
    for (const T of [1, 6]) {
      const x = gaussian(rand, T * K, 1);
      const results = [threaded, single].map((k) => {
        const bytes = k.allocWeights(bits.byteLength, 64);
        const data = new Uint16Array(bytes.buffer, bytes.byteOffset, bits.length);
        data.set(bits);
        const w: FloatMatrix = { kind: "float", format: "f16", name: "head", rows: N, cols: K, data, outScale: 1 };
        const out = new Float32Array(T * N);
        k.floatMatmul(w, x, T, out);
        return { out, w };
      });
      assert.equal(firstBitDifference(results[0].out, results[1].out, T * N), -1, `T=${T}`);
      const ref = new Float32Array(T * N);
      floatMatmulRef(results[1].w, x, T, ref);
      for (let i = 0; i < T * N; i++) assert.ok(Math.abs(ref[i] - results[0].out[i]) <= 1e-4 * (1 + Math.abs(ref[i])));
    }
  } finally {
    await threaded.close();
  }
});

test("createNodeKernels adds threads to the wasm choice, and leaves the reference alone", async () => {
  const { createNodeKernels } = await import("../../src/node/kernels.ts");
  const { ThreadedWasmKernels } = await import("../../src/node/wasm-threads.ts");
  const { refKernels } = await import("../../src/kernels/ref.ts");
  const two = await createNodeKernels({ threads: 2, backend: "wasm" });
  assert.ok(two.kernels instanceof ThreadedWasmKernels);
  assert.equal(two.kernels.name, "wasm-relaxed-simd");
  assert.equal(two.kernels.threads, 2);
  assert.equal(two.fallbackReason, null);
  await two.kernels.close?.();
  const one = await createNodeKernels({ threads: 1, backend: "wasm" });
  assert.ok(!(one.kernels instanceof ThreadedWasmKernels));
  assert.equal(one.kernels.threads, 1);
  const ref = await createNodeKernels({ backend: "ref", threads: 4 });
  assert.equal(ref.kernels, refKernels);
  assert.match(ref.fallbackReason ?? "", /the ref kernels run on 1 thread/);
});

test("createKernels without a way to start threads runs on one, and says why", async () => {
  const { createKernels } = await import("../../src/kernels/create.ts");
  const c = await createKernels({ threads: 3 });
  assert.equal(c.kernels.threads, 1);
  assert.match(c.fallbackReason ?? "", /no way to start threads/);
});

test("BITNET_KERNELS picks the backend, and a bad value is an error naming the variable", async () => {
  const { backendFromEnv } = await import("../../src/node/kernels.ts");
  assert.equal(backendFromEnv({ BITNET_KERNELS: "ref" }), "ref");
  assert.equal(backendFromEnv({}), undefined);
  assert.throws(() => backendFromEnv({ BITNET_KERNELS: "gpu" }), /BITNET_KERNELS must be one of native, wasm, ref, got "gpu"/);
});
