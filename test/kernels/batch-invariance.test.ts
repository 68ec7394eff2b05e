// Continuous batching puts several sequences' tokens into one matmul. A token's output must then be
// exactly the bits it gets alone: each kernel's per-token arithmetic may not depend on how many tokens share
// the call or where the token sits. Held here for every matmul a forward pass runs (f32, f16, bf16 and
// Q8_0 float matrices, the three ternary formats in both activation modes), for the wasm backends with one
// and two threads and for the reference, by comparing a T-token call row by row with T one-token calls.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { refKernels } from "../../src/kernels/ref.ts";
import type { ActQuantMode, FloatMatrix, Kernels, TernaryFormat } from "../../src/kernels/types.ts";
import { allocActivations, quantizeActivationsRef } from "../../src/kernels/activations.ts";
import { createWasmKernels } from "../../src/kernels/wasm/kernels.ts";
import { createThreadedWasmKernels } from "../../src/node/wasm-threads.ts";
import { q8_0 } from "../../src/quant/codecs/q8_0.ts";
import { f32ToF16 } from "../../src/quant/half.ts";
import { gaussian, prng } from "../helpers/prng.ts";
import { randomTernary } from "./helpers.ts";

const threaded = await createThreadedWasmKernels({ simd: "relaxed", threads: 2, minParallelWork: 0 });
after(() => threaded.close());

const backends: [string, Kernels][] = [
  ["ref", refKernels],
  ["wasm-relaxed-simd", await createWasmKernels({ simd: "relaxed", shared: true })],
  ["wasm-simd128", await createWasmKernels({ simd: "simd128", shared: true })],
  ["wasm-relaxed-simd ×2", threaded],
];

function place(k: Kernels, bytes: Uint8Array): Uint8Array {
  const out = k.allocWeights ? k.allocWeights(bytes.byteLength, 64) : new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

function floatMatrix(k: Kernels, format: FloatMatrix["format"], N: number, K: number, rand: () => number): FloatMatrix {
  const values = gaussian(rand, N * K, 0.05);
  let bytes: Uint8Array;
  if (format === "f32") bytes = new Uint8Array(values.buffer.slice(0));
  else if (format === "q8_0") bytes = q8_0.quantize(values, [K, N], "test");
  else {
    const half = new Uint16Array(N * K);
    for (let i = 0; i < half.length; i++) half[i] = format === "f16" ? f32ToF16(values[i]) : new Uint32Array(Float32Array.of(values[i]).buffer)[0] >>> 16;
    bytes = new Uint8Array(half.buffer);
  }
  const placed = place(k, bytes);
  const data = format === "q8_0" ? placed : format === "f32" ? new Float32Array(placed.buffer, placed.byteOffset, N * K) : new Uint16Array(placed.buffer, placed.byteOffset, N * K);
  return { kind: "float", format, name: `batch.${format}`, rows: N, cols: K, data, outScale: 1 };
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i]) assert.fail(`${what}: element ${i} is ${a[i]} in the batch, ${b[i]} alone`);
}

for (const [name, k] of backends) {
  test(`${name}: float matmuls give each token of a batch the bits it gets alone`, () => {
    const rand = prng(7);
    for (const format of ["f32", "f16", "bf16", "q8_0"] as const) {
      for (const [N, K] of [[37, 64], [64, 256], [19, 2560], [5, 96]]) {
        if (format === "q8_0" && K % 32 !== 0) continue;
        const w = floatMatrix(k, format, N, K, rand);
        for (const T of [2, 3, 5, 8]) {
          const x = gaussian(rand, T * K, 1);
          const batch = new Float32Array(T * N);
          k.floatMatmul(w, x, T, batch);
          const alone = new Float32Array(T * N);
          for (let t = 0; t < T; t++) k.floatMatmul(w, x.subarray(t * K, (t + 1) * K), 1, alone.subarray(t * N, (t + 1) * N));
          sameBits(batch, alone, `${format} [${N}, ${K}] T=${T}`);
        }
      }
    }
  });

  test(`${name}: ternary matmuls give each token of a batch the bits it gets alone`, () => {
    const rand = prng(8);
    for (const format of ["tq2_0", "tq1_0", "i2_s"] as TernaryFormat[]) {
      for (const mode of ["token", "block256"] as ActQuantMode[]) {
        for (const [N, K] of [[40, 256], [17, 768]]) {
          const w = randomTernary(format, N, K, rand, { alloc: k.allocWeights?.bind(k) });
          for (const T of [2, 5, 8]) {
            const x = gaussian(rand, T * K, 1);
            const acts = allocActivations(T, K);
            quantizeActivationsRef(x, T, K, mode, acts);
            const batch = new Float32Array(T * N);
            k.ternaryMatmul(w, acts, batch);
            const alone = new Float32Array(T * N);
            for (let t = 0; t < T; t++) {
              const one = allocActivations(1, K);
              quantizeActivationsRef(x.subarray(t * K, (t + 1) * K), 1, K, mode, one);
              k.ternaryMatmul(w, one, alone.subarray(t * N, (t + 1) * N));
            }
            sameBits(batch, alone, `${format} ${mode} [${N}, ${K}] T=${T}`);
          }
        }
      }
    }
  });
}
