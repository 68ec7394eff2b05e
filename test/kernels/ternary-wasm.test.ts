// The wasm ternary kernels (relaxed SIMD and SIMD128) against ternaryMatmulRef, bit for bit: every
// format, edge widths (TQ K = 256…2560, I2_S K = 128·k including widths that are not a multiple of
// 256), odd row counts, 1–7 tokens, both activation modes, uniform / per-block / zero-block scales, and
// output scales. Plus the worst case for intermediate overflow, and the reference's errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ternaryMatmulRef } from "../../src/kernels/ternary-ref.ts";
import type { TernaryFormat } from "../../src/kernels/types.ts";
import { createWasmKernels } from "../../src/kernels/wasm/kernels.ts";
import type { WasmSimd } from "../../src/kernels/wasm/module.ts";
import { prng } from "../helpers/prng.ts";
import { assertTernaryMatchesRef, randomActivations, randomTernary, ternaryCases } from "./helpers.ts";

const TOKENS = [1, 2, 3, 7];

for (const simd of ["relaxed", "simd128"] as WasmSimd[]) {
  test(`${simd}: bit-identical to the reference over formats, widths, rows, tokens, modes and scales`, async () => {
    const k = await createWasmKernels({ simd, shared: true });
    const rand = prng(simd === "relaxed" ? 101 : 202);
    let cases = 0;
    for (const { format, K, mode, scales, N } of ternaryCases()) { // block256 with other widths: tested below
      for (const T of TOKENS) {
        // Keep the largest combinations occasional so the test stays fast.
        if (K === 2560 && N * T > 20 && rand() < 0.75) continue;
        const outScale = [1, 1, 0.75, 1 / 3][cases % 4]; // 1/3 is not a float32: the f64 rounding path matters
        const w = randomTernary(format, N, K, rand, { scales, outScale, alloc: (b, a) => k.allocWeights(b, a) });
        const x = randomActivations(T, K, mode, rand);
        assertTernaryMatchesRef(k, `${format} [${N}, ${K}] T=${T} ${mode} ${scales} outScale=${outScale}`, w, x);
        cases++;
      }
    }
    assert.ok(cases > 400, `ran ${cases} cases`);
  });

  test(`${simd}: extreme activations (±127, -128) against all-plus / all-minus rows do not overflow`, async () => {
    const k = await createWasmKernels({ simd, shared: true });
    const rand = prng(7);
    for (const format of ["tq2_0", "tq1_0", "i2_s"] as TernaryFormat[]) {
      const K = 6912;
      const w = randomTernary(format, 4, K, rand, { alloc: (b, a) => k.allocWeights(b, a) });
      // Rows: all +1, all -1, all 0, alternating; rebuilt through the codec so the layout stays the file's.
      const { tq2_0, tq1_0, i2_s } = await import("../../src/quant/codecs/index.ts");
      const codes = new Int8Array(4 * K);
      for (let i = 0; i < K; i++) {
        codes[i] = 1;
        codes[K + i] = -1;
        codes[3 * K + i] = i % 2 ? 1 : -1;
      }
      w.data.set({ tq2_0, tq1_0, i2_s }[format].pack(codes, Float32Array.of(1), [K, 4], "extremes"));
      for (const fill of [-128, 127]) {
        for (const T of [1, 3]) {
          const x = randomActivations(T, K, "token", rand);
          x.q.fill(fill);
          assertTernaryMatchesRef(k, `${format} all q = ${fill}, T=${T}`, w, x);
        }
      }
    }
  });
}

test("wasm kernels raise the reference's errors for shapes it rejects", async () => {
  const k = await createWasmKernels({ simd: "relaxed", shared: true });
  const rand = prng(3);
  const w = randomTernary("i2_s", 2, 384, rand, { alloc: (b, a) => k.allocWeights(b, a) });
  const x = randomActivations(1, 384, "token", rand);
  x.group = 256; // block256 over a width that is not a multiple of 256
  x.factors = new Float32Array(2);
  assert.throws(() => ternaryMatmulRef(w, x, new Float32Array(2)), /per-block scaling needs 256-wide rows/);
  assert.throws(() => k.ternaryMatmul(w, x, new Float32Array(2)), /per-block scaling needs 256-wide rows/);
  const narrow = randomActivations(1, 256, "token", rand);
  assert.throws(() => k.ternaryMatmul(w, narrow, new Float32Array(2)), /activation width 256 does not match the weight's 384 columns/);
  const short = randomTernary("tq2_0", 2, 256, rand);
  short.data = short.data.subarray(0, 100);
  assert.throws(() => k.ternaryMatmul(short, randomActivations(1, 256, "token", rand), new Float32Array(2)), /tq2_0 data is 100 bytes, \[2, 256\] needs 132/);
});
