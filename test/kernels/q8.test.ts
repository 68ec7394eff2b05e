// The Q8_0 matmul (int8 output head): the reference (src/kernels/q8-ref.ts) against a float64 sum of the
// same per-block products, and every backend (test/kernels/backends.ts) against the reference bit for
// bit, including the cases the wasm side sends to the reference (a code -128, an Inf/NaN scale),
// non-finite activations, and large matrices split across threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { q8MatmulRef } from "../../src/kernels/q8-ref.ts";
import type { FloatMatrix } from "../../src/kernels/types.ts";
import { q8_0 } from "../../src/quant/codecs/index.ts";
import { quantizeQ8_0Activations } from "../../src/quant/codecs/q8_0.ts";
import { f16ToF32 } from "../../src/quant/half.ts";
import { gaussian, prng } from "../helpers/prng.ts";
import { BACKENDS, withKernels } from "./backends.ts";
import { firstBitDifference } from "./helpers.ts";

type Alloc = (bytes: number, align: number) => Uint8Array;

function randomQ8(N: number, K: number, rand: () => number, alloc?: Alloc, outScale = 1): FloatMatrix {
  const values = gaussian(rand, N * K, 0.05);
  // Some blocks far larger or smaller than the rest, and some all zero.
  for (let b = 0; b < (N * K) / 32; b++) {
    const r = rand();
    const f = r < 0.05 ? 0 : r < 0.1 ? 1e-4 : r < 0.15 ? 300 : 1;
    for (let j = 0; j < 32; j++) values[b * 32 + j] *= f;
  }
  const packed = q8_0.quantize(values, [K, N], "test");
  const data = alloc ? alloc(packed.length, 64) : new Uint8Array(packed.length);
  data.set(packed);
  return { kind: "float", format: "q8_0", name: `test.q8_0.${N}x${K}`, rows: N, cols: K, data, outScale };
}

function inputs(T: number, K: number, rand: () => number): Float32Array {
  const x = gaussian(rand, T * K, 1);
  for (let i = 0; i < 32 && i < x.length; i++) x[i] *= 1e-3; // one small block
  return x;
}

test("the Q8_0 reference agrees with a float64 sum of dot·d_w·d_x per block", () => {
  const rand = prng(401);
  for (const [N, K, T] of [[5, 32, 1], [7, 96, 2], [9, 160, 3], [4, 2560, 2]]) {
    const w = randomQ8(N, K, rand, undefined, T === 2 ? 0.37 : 1);
    const x = inputs(T, K, rand);
    const out = new Float32Array(T * N);
    q8MatmulRef(w, x, T, out);
    const q = new Int8Array(T * K);
    const s = new Float32Array((T * K) / 32);
    quantizeQ8_0Activations(x, T, K, q, s);
    const bytes = w.data as Uint8Array;
    for (let t = 0; t < T; t++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        let mag = 0;
        for (let b = 0; b < K / 32; b++) {
          const p = (n * K / 32 + b) * 34;
          let dot = 0;
          for (let j = 0; j < 32; j++) dot += ((bytes[p + 2 + j] << 24) >> 24) * q[t * K + b * 32 + j];
          const term = dot * f16ToF32(bytes[p] | (bytes[p + 1] << 8)) * s[t * (K / 32) + b];
          sum += term;
          mag += Math.abs(term);
        }
        const err = Math.abs(out[t * N + n] - sum * w.outScale);
        assert.ok(err <= (K / 32 + 3) * 2 ** -24 * mag * w.outScale + 1e-30, `[${N}, ${K}] T=${T} out[${t}, ${n}] = ${out[t * N + n]}, float64 ${sum * w.outScale}`);
      }
    }
  }
});

for (const [i, backend] of BACKENDS.entries()) {
  test(`${backend.label}: the Q8_0 matmul is bit-identical to the reference`, () =>
    withKernels(backend, (k) => {
      const rand = prng(402 + i);
      const alloc: Alloc = (b, a) => k.allocWeights(b, a);
      for (const [N, K] of [[1, 32], [3, 96], [5, 160], [6, 224], [17, 512], [33, 2560]]) {
        for (const T of [1, 2, 3, 5]) {
          const w = randomQ8(N, K, rand, alloc, T === 3 ? 0.37 : 1);
          const x = inputs(T, K, rand);
          if (T === 5) x[K + 1] = NaN; // token 1, block 0: a NaN scale, so token 1's outputs are NaN in both
          const want = new Float32Array(T * N);
          const got = new Float32Array(T * N).fill(-1);
          q8MatmulRef(w, x, T, want);
          k.floatMatmul(w, x, T, got);
          const d = firstBitDifference(want, got, T * N);
          assert.equal(d, -1, `[${N}, ${K}] T=${T}: element ${d} is ${got[d]}, the reference says ${want[d]}`);
          if (T === 5) assert.ok(Number.isNaN(got[N]) && !Number.isNaN(got[0]));
        }
      }
    }));

  test(`${backend.label}: Q8_0 matrices with a code -128 or an Inf scale (never written by ggml) still match the reference`, () =>
    withKernels(backend, (k) => {
      const rand = prng(404);
      const N = 8, K = 256, T = 2;
      for (const spoil of [(b: Uint8Array) => void (b[34 * 5 + 2 + 7] = 0x80), (b: Uint8Array) => void ((b[34 * 9] = 0x00), (b[34 * 9 + 1] = 0x7c))]) {
        const w = randomQ8(N, K, rand, (b, a) => k.allocWeights(b, a));
        spoil(w.data as Uint8Array);
        const x = inputs(T, K, rand);
        const want = new Float32Array(T * N);
        const got = new Float32Array(T * N);
        q8MatmulRef(w, x, T, want);
        k.floatMatmul(w, x, T, got);
        assert.equal(firstBitDifference(want, got, T * N), -1);
      }
      const w = randomQ8(N, K, rand);
      (w.data as Uint8Array)[34 * 3 + 2] = 0x80; // -128 times a negative activation: the case a sign flip gets wrong
      const x = new Float32Array(T * K).fill(-1);
      const got = new Float32Array(T * N);
      k.floatMatmul(w, x, T, got);
      const want = new Float32Array(T * N);
      q8MatmulRef(w, x, T, want);
      assert.equal(firstBitDifference(want, got, T * N), -1);
    }));

  test(`${backend.label}: large Q8_0 matrices (split across threads where there are any) match the reference`, () =>
    withKernels(backend, (k) => {
      const rand = prng(406);
      // Large enough (N·K ≥ 2^20) to be split across threads; N not a multiple of any row group.
      const N = 1030, K = 1280;
      const w = randomQ8(N, K, rand, (b, a) => k.allocWeights(b, a));
      for (const T of [1, 3]) {
        const x = inputs(T, K, rand);
        const want = new Float32Array(T * N);
        const got = new Float32Array(T * N).fill(-1);
        q8MatmulRef(w, x, T, want);
        k.floatMatmul(w, x, T, got);
        const d = firstBitDifference(want, got, T * N);
        assert.equal(d, -1, `T=${T}: element ${d} is ${got[d]}, the reference says ${want[d]}`);
      }
    }));
}

for (const backend of BACKENDS.filter((b) => b.threads === 1)) {
  test(`${backend.label}: Q8_0 errors name the matrix`, () =>
    withKernels(backend, (k) => {
      const w = randomQ8(4, 64, prng(405));
      const short: FloatMatrix = { ...w, data: (w.data as Uint8Array).subarray(0, 100) };
      for (const run of [(m: FloatMatrix, x: Float32Array, o: Float32Array) => q8MatmulRef(m, x, 1, o), (m: FloatMatrix, x: Float32Array, o: Float32Array) => k.floatMatmul(m, x, 1, o)]) {
        assert.throws(() => run(short, new Float32Array(64), new Float32Array(4)), /test\.q8_0\.4x64: q8_0 data is 100 bytes, \[4, 64\] needs 272/);
        assert.throws(() => run(w, new Float32Array(63), new Float32Array(4)), /test\.q8_0\.4x64: input holds 63 values, needs 64/);
        assert.throws(() => run(w, new Float32Array(64), new Float32Array(3)), /test\.q8_0\.4x64: output holds 3 values, needs 4/);
      }
    }));
}
