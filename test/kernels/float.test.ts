// Every backend's float matmul (f32, f16, bf16 weights) against floatMatmulRef, which accumulates in
// float64: within the bound both backends state (src/kernels/wasm/kernels.ts, src/node/native/kernels.ts),
// |y − ref| ≤ (K/8 + 8)·2⁻²⁴·Σ|w·x|. Also every finite f16 value widened exactly (one-hot inputs), f16
// Inf/NaN where the reference puts them, and, for the backends that promise it, the same bits for a
// token whether it is computed alone or with others (what continuous batching needs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { floatMatmulRef } from "../../src/kernels/float-ref.ts";
import { bf16Table, f16Table } from "../../src/kernels/half-tables.ts";
import type { FloatMatrix } from "../../src/kernels/types.ts";
import { gaussian, prng } from "../helpers/prng.ts";
import { BACKENDS, type TestKernels, withKernels } from "./backends.ts";
import { firstBitDifference } from "./helpers.ts";

type Format = FloatMatrix["format"];

function randomFloat(k: TestKernels, format: Format, N: number, K: number, rand: () => number, outScale: number): { w: FloatMatrix; values: Float32Array } {
  const bytes = k.allocWeights(N * K * (format === "f32" ? 4 : 2), 64);
  const values = new Float32Array(N * K);
  let data: Float32Array | Uint16Array;
  if (format === "f32") {
    data = new Float32Array(bytes.buffer, bytes.byteOffset, N * K);
    data.set(gaussian(rand, N * K, 0.05));
    values.set(data);
  } else {
    data = new Uint16Array(bytes.buffer, bytes.byteOffset, N * K);
    const table = format === "f16" ? f16Table() : bf16Table();
    for (let i = 0; i < N * K; i++) {
      // Random bits with the top exponent bit clear: f16 subnormals and zeros included, never Inf/NaN.
      data[i] = Math.floor(rand() * 65536) & 0xbfff;
      values[i] = table[data[i]];
    }
  }
  return { w: { kind: "float", format, name: `test.${format}`, rows: N, cols: K, data, outScale }, values };
}

for (const [b, backend] of BACKENDS.entries()) {
  test(`${backend.label}: float matmul within (K/8 + 8)·2⁻²⁴·Σ|w·x| of the float64 reference`, () =>
    withKernels(backend, (k) => {
      const rand = prng(11 + b);
      let worst = 0;
      for (const format of ["f32", "f16", "bf16"] as Format[]) {
        for (const [N, K] of [[1, 1], [3, 7], [5, 8], [17, 13], [2, 256], [9, 2560], [40, 100]]) {
          for (const T of [1, 2, 3, 5, 9]) {
            const outScale = T % 2 ? 1 : 0.5;
            const { w, values } = randomFloat(k, format, N, K, rand, outScale);
            const x = gaussian(rand, T * K, 1);
            if (T === 5) x[T * K - 1] = 40000; // past the wasm's prescaleForHalf limit: its plain f16 path
            const want = new Float32Array(T * N);
            const got = new Float32Array(T * N).fill(NaN);
            floatMatmulRef(w, x, T, want);
            k.floatMatmul(w, x, T, got);
            for (let t = 0; t < T; t++) {
              for (let n = 0; n < N; n++) {
                let magnitude = 0;
                for (let j = 0; j < K; j++) magnitude += Math.abs(values[n * K + j] * x[t * K + j]);
                magnitude *= outScale;
                const err = Math.abs(got[t * N + n] - want[t * N + n]);
                const bound = (K / 8 + 8) * 2 ** -24 * magnitude + 1e-37;
                assert.ok(err <= bound, `${format} [${N}, ${K}] T=${T}: out[${t}, ${n}] = ${got[t * N + n]}, reference ${want[t * N + n]}, error ${err} > ${bound}`);
                if (magnitude > 0) worst = Math.max(worst, err / magnitude);
              }
            }
          }
        }
      }
      assert.ok(worst < 1e-5, `worst relative error ${worst}`);
    }));

  test(`${backend.label}: every finite f16 value is widened exactly (one-hot inputs pick single weights)`, () =>
    withKernels(backend, (k) => {
      const K = 8;
      const N = 65536 / K;
      const bytes = k.allocWeights(N * K * 2, 64);
      const data = new Uint16Array(bytes.buffer, bytes.byteOffset, N * K);
      for (let h = 0; h < 65536; h++) data[h] = (h & 0x7c00) === 0x7c00 ? 0x3c00 : h; // Inf/NaN replaced by 1.0
      const w: FloatMatrix = { kind: "float", format: "f16", name: "all halves", rows: N, cols: K, data, outScale: 1 };
      // One = 1 takes the wasm's prescaled-input path; 65536 (≥ 2^15) the plain one. Both are exact powers of two.
      for (const one of [1, 65536]) {
        const x = new Float32Array(K * K);
        for (let t = 0; t < K; t++) x[t * K + t] = one; // token t selects column t
        const got = new Float32Array(K * N);
        k.floatMatmul(w, x, K, got);
        const table = f16Table();
        for (let n = 0; n < N; n++) {
          for (let t = 0; t < K; t++) {
            const h = data[n * K + t];
            // == rather than Object.is: a -0 weight times +1 plus +0 products may sum to +0.
            assert.ok(got[t * N + n] === table[h] * one, `f16 0x${h.toString(16)} × ${one} became ${got[t * N + n]}, expected ${table[h] * one}`);
          }
        }
      }
    }));

  test(`${backend.label}: f16 matrices holding Inf or NaN give non-finite outputs where the reference does`, () =>
    withKernels(backend, (k) => {
      const rand = prng(5);
      const { w } = randomFloat(k, "f16", 4, 32, rand, 1);
      const data = w.data as Uint16Array;
      data[5] = 0x7c00; // +Inf
      data[40] = 0x7e01; // NaN
      const x = gaussian(rand, 2 * 32, 1);
      const want = new Float32Array(8);
      const got = new Float32Array(8);
      floatMatmulRef(w, x, 2, want);
      k.floatMatmul(w, x, 2, got);
      assert.ok(got.some((v) => !Number.isFinite(v)));
      // the wasm kernels send such matrices to the reference; the native ones widen Inf and NaN exactly
      if (backend.kind === "wasm") assert.deepEqual(Array.from(got), Array.from(want));
      for (let i = 0; i < 8; i++) {
        if (Number.isFinite(want[i])) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `out ${i}: ${got[i]} vs ${want[i]}`);
        else assert.ok(Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i])), `out ${i}: ${got[i]} vs ${want[i]}`);
      }
    }));
}

for (const backend of BACKENDS.filter((b) => b.batchInvariant)) {
  test(`${backend.label}: a token's float results are the same bits alone and in a batch, at any position`, () =>
    withKernels(backend, (k) => {
      const rand = prng(77);
      for (const format of ["f32", "f16", "bf16"] as Format[]) {
        for (const [N, K] of [[37, 2560], [130, 129], [5, 7], [9, 1000]]) {
          const { w } = randomFloat(k, format, N, K, rand, format === "bf16" ? 0.3 : 1);
          const T = 11;
          const x = gaussian(rand, T * K, 1);
          const all = new Float32Array(T * N);
          k.floatMatmul(w, x, T, all);
          for (let t = 0; t < T; t++) {
            const one = new Float32Array(N);
            k.floatMatmul(w, x.subarray(t * K, (t + 1) * K), 1, one);
            assert.equal(firstBitDifference(one, all.subarray(t * N, (t + 1) * N), N), -1, `${format} [${N}, ${K}] token ${t} of ${T}`);
          }
          // and in batches of other sizes, shifted (kernels may cut a batch into chunks of tokens)
          for (const [from, size] of [[3, 4], [1, 2], [2, 8], [0, 7]]) {
            const some = new Float32Array(size * N);
            k.floatMatmul(w, x.subarray(from * K, (from + size) * K), size, some);
            assert.equal(firstBitDifference(some, all.subarray(from * N, (from + size) * N), size * N), -1, `${format} [${N}, ${K}] tokens ${from}..${from + size - 1} as a batch of ${size}`);
          }
        }
      }
    }));
}
