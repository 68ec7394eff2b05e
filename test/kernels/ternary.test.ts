// Every backend's ternary kernels (test/kernels/backends.ts: wasm relaxed SIMD, SIMD128, threaded; native
// per kernel set and threaded) against ternaryMatmulRef, bit for bit: every format, edge widths (TQ
// K = 256…2560, I2_S K = 128·k including widths that are not a multiple of 256), odd row counts, 1–7
// tokens, both activation modes, uniform / per-block / zero-block scales, and output scales. Plus the
// worst case for intermediate overflow, several matrices in one call, and the reference's errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ternaryMatmulRef } from "../../src/kernels/ternary-ref.ts";
import type { TernaryFormat } from "../../src/kernels/types.ts";
import { i2_s, tq1_0, tq2_0 } from "../../src/quant/codecs/index.ts";
import { createNativeKernels } from "../../src/node/native/kernels.ts";
import { prng } from "../helpers/prng.ts";
import { BACKENDS, NATIVE_ISAS, withKernels, type TestKernels } from "./backends.ts";
import { ACT_QUANT_MODES, assertTernaryMatchesRef, firstBitDifference, randomActivations, randomTernary, type ScaleKind } from "./helpers.ts";

const WIDTHS: Record<TernaryFormat, number[]> = { tq2_0: [256, 512, 768, 2560], tq1_0: [256, 512, 768, 2560], i2_s: [128, 384, 512, 2560] };
const ROWS = [1, 3, 5, 17];
const TOKENS = [1, 2, 3, 7];

for (const [i, backend] of BACKENDS.entries()) {
  test(`${backend.label}: ternary matmuls bit-identical to the reference over formats, widths, rows, tokens, modes and scales`, () =>
    withKernels(backend, (k) => {
      const rand = prng(101 + i);
      let cases = 0;
      for (const format of ["tq2_0", "tq1_0", "i2_s"] as TernaryFormat[]) {
        const scaleKinds: ScaleKind[] = format === "i2_s" ? ["uniform"] : ["uniform", "per-block", "zero-blocks"];
        for (const K of WIDTHS[format]) {
          for (const mode of ACT_QUANT_MODES) {
            if (mode === "block256" && K % 256 !== 0) continue; // the reference rejects it; tested below
            for (const scales of scaleKinds) {
              for (const N of ROWS) {
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
            }
          }
        }
      }
      assert.ok(cases > 400, `ran ${cases} cases`);
    }));

  test(`${backend.label}: extreme activations (±127, -128) against all-plus / all-minus rows do not overflow`, () =>
    withKernels(backend, (k) => {
      const rand = prng(7);
      for (const format of ["tq2_0", "tq1_0", "i2_s"] as TernaryFormat[]) {
        const K = 6912;
        const w = randomTernary(format, 4, K, rand, { alloc: (b, a) => k.allocWeights(b, a) });
        // Rows: all +1, all -1, all 0, alternating; rebuilt through the codec so the layout stays the file's.
        const codes = new Int8Array(4 * K);
        for (let i = 0; i < K; i++) {
          codes[i] = 1;
          codes[K + i] = -1;
          codes[3 * K + i] = i % 2 ? 1 : -1;
        }
        w.data.set({ tq2_0, tq1_0, i2_s }[format].pack(codes, Float32Array.of(1), [K, 4], "extremes"));
        for (const fill of [-128, 127]) {
          for (const T of [1, 3, 9]) {
            const x = randomActivations(T, K, "token", rand);
            x.q.fill(fill);
            assertTernaryMatchesRef(k, `${format} all q = ${fill}, T=${T}`, w, x);
          }
        }
      }
    }));

  test(`${backend.label}: large matrices, split across threads where there are any, with the caller's sums ignored`, () =>
    withKernels(backend, (k) => {
      const rand = prng(31 + i);
      for (const format of ["tq2_0", "tq1_0", "i2_s"] as TernaryFormat[]) {
        // 1030 rows: not a multiple of any row tile, and large enough (with K = 1024) to be split.
        for (const T of [1, 5]) {
          const w = randomTernary(format, 1030, 1024, rand, { alloc: (b, a) => k.allocWeights(b, a), scales: format === "i2_s" ? "uniform" : "per-block" });
          const x = randomActivations(T, 1024, T === 1 ? "token" : "block256", rand);
          x.sums.fill(12345); // the reference never reads them, so neither may the kernels
          assertTernaryMatchesRef(k, `${format} [1030, 1024] T=${T}`, w, x);
        }
      }
    }));
}

/** Checks ternaryMatmulGroup against the reference, matrix by matrix, on groups that take the grouped path and one that cannot. */
function checkGroups(k: TestKernels, seed: number): void {
  assert.ok(k.ternaryMatmulGroup, "the backend groups matmuls");
  const rand = prng(seed);
  for (const mode of ACT_QUANT_MODES) {
    for (const T of [1, 6]) {
      const groups = [
        [randomTernary("tq2_0", 40, 512, rand, { alloc: (b, a) => k.allocWeights(b, a) }), randomTernary("tq2_0", 9, 512, rand, { scales: "per-block" }), randomTernary("tq1_0", 13, 512, rand, { outScale: 0.5 })],
        [randomTernary("i2_s", 36, 512, rand, { alloc: (b, a) => k.allocWeights(b, a) }), randomTernary("i2_s", 8, 512, rand)],
        // 384 wide: I2_S rows the wasm module leaves to the reference, so the group goes one by one
        ...(mode === "token" ? [[randomTernary("i2_s", 5, 384, rand), randomTernary("i2_s", 7, 384, rand)]] : []),
      ];
      for (const [g, ws] of groups.entries()) {
        const x = randomActivations(T, ws[0].cols, mode, rand);
        const outs = ws.map((w) => new Float32Array(T * w.rows).fill(NaN));
        k.ternaryMatmulGroup?.(ws, x, outs);
        ws.forEach((w, j) => {
          const want = new Float32Array(T * w.rows);
          ternaryMatmulRef(w, x, want);
          assert.equal(firstBitDifference(want, outs[j], want.length), -1, `${mode} T=${T} group ${g} matrix ${j}`);
        });
      }
    }
  }
}

for (const isa of NATIVE_ISAS) {
  test(`native ${isa} ×2: ternaryMatmulGroup (q, k, v in one call) gives each matrix's own results`, async () => {
    const k = await createNativeKernels({ isa, threads: 2, minParallelWork: 0 });
    try {
      checkGroups(k, 55);
    } finally {
      await k.close();
    }
  });
}

for (const backend of BACKENDS.filter((b) => b.kind === "wasm" && b.threads > 1)) {
  test(`${backend.label}: ternaryMatmulGroup (q, k, v in one pooled job) gives each matrix's own results`, () => withKernels(backend, (k) => checkGroups(k, 56)));
}

for (const backend of BACKENDS.filter((b) => b.threads === 1)) {
  test(`${backend.label}: raises the reference's errors for shapes it rejects`, () =>
    withKernels(backend, (k) => {
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
      assert.throws(() => k.ternaryMatmul(randomTernary("tq2_0", 3, 256, rand), randomActivations(2, 256, "token", rand), new Float32Array(5)), /output holds 5 values, needs 6/);
    }));
}
