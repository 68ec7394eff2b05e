// The table-lookup GEMV (src/kernels/wasm/assembly/ternary-lut.ts, both builds) against ternaryMatmulRef,
// bit for bit: every format repacked into the LUT layout, TQ2_0 / I2_S also read in place; widths
// 256…6912 (I2_S also 128·odd), odd row counts (the last 16-row tile padded), both activation modes,
// uniform / per-block / zero-block scales, output scales, row ranges that cut tiles, and the extremes
// that overflow int8 sums. Then the decode path that uses it (WasmKernels.ternaryMatmul, one token),
// on one thread and split across three.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ternaryMatmulRef } from "../../src/kernels/ternary-ref.ts";
import type { QuantizedActivations, TernaryFormat, TernaryMatrix } from "../../src/kernels/types.ts";
import { createWasmKernels, type WasmKernels } from "../../src/kernels/wasm/kernels.ts";
import type { WasmSimd } from "../../src/kernels/wasm/module.ts";
import { createThreadedWasmKernels } from "../../src/node/wasm-threads.ts";
import { i2_s, tq1_0, tq2_0 } from "../../src/quant/codecs/index.ts";
import { prng } from "../helpers/prng.ts";
import { ACT_QUANT_MODES, firstBitDifference, randomActivations, randomTernary, ternaryCases, type ScaleKind } from "./helpers.ts";

const FORMAT = { tq2_0: 0, tq1_0: 1, i2_s: 2 } as const;
const CODECS = { tq2_0, tq1_0, i2_s } as const;

/**
 * out[rows r0..r1) of w·x (one token) by lutRows, from the LUT layout (lutRepack) or, with `packed`
 * false, from the file layout; rows outside the range must stay untouched.
 */
function lutMatmul(k: WasmKernels, w: TernaryMatrix, x: QuantizedActivations, out: Float32Array, packed: boolean, r0 = 0, r1 = w.rows): void {
  const lut = k.wasm;
  const { rows: N, cols: K } = w;
  const weights = k.arena.addressOf(w.data, w.name);
  assert.ok(weights !== null, "weights must live in the wasm memory");
  let at = 0;
  if (packed) {
    at = k.allocScratch(lut.lutBytes(N, K), 64).byteOffset;
    lut.lutRepack(FORMAT[w.format], weights, N, K, at, k.allocScratch(lut.lutRepackWorkBytes(K), 64).byteOffset);
  }
  const q = k.allocScratch(K, 64);
  new Int8Array(q.buffer, q.byteOffset, K).set(x.q);
  const factors = k.allocScratch(x.factors.byteLength, 64);
  new Float32Array(factors.buffer, factors.byteOffset, x.factors.length).set(x.factors);
  const y = k.allocScratch(N * 4, 64);
  const yf = new Float32Array(y.buffer, y.byteOffset, N).fill(NaN);
  const work = k.allocScratch(lut.lutWorkBytes(K), 64).byteOffset;
  lut.lutRows(FORMAT[w.format], weights, at, N, K, q.byteOffset, factors.byteOffset, x.group, w.uniformScale ?? 0, w.uniformScale !== null ? 1 : 0, w.outScale, y.byteOffset, work, r0, r1);
  out.set(yf.subarray(r0, r1), r0);
  assert.ok(yf.every((v, r) => (r >= r0 && r < r1) || Number.isNaN(v)), "rows outside [r0, r1) were written");
}

/** Both LUT paths against the reference (the file-layout path for TQ2_0 and I2_S only: TQ1_0 has none). */
function compare(k: WasmKernels, label: string, w: TernaryMatrix, x: QuantizedActivations, r0 = 0, r1 = w.rows): void {
  const want = new Float32Array(w.rows);
  ternaryMatmulRef(w, x, want);
  for (const packed of w.format === "tq1_0" ? [true] : [true, false]) {
    const got = new Float32Array(w.rows);
    lutMatmul(k, w, x, got, packed, r0, r1);
    const d = firstBitDifference(want.subarray(r0, r1), got.subarray(r0, r1), r1 - r0);
    assert.equal(d, -1, `${label} (${packed ? "LUT layout" : "file layout"}): row ${r0 + d} is ${got[r0 + d]}, the reference says ${want[r0 + d]}`);
  }
}

for (const simd of ["relaxed", "simd128"] as WasmSimd[]) {
  test(`${simd}: LUT GEMV is bit-identical to the reference over formats, widths, rows, modes and scales`, async () => {
    const k = await createWasmKernels({ simd, shared: false, initialBytes: 64 << 20 });
    const rand = prng(simd === "relaxed" ? 11 : 22);
    let cases = 0;
    for (const { format, K, mode, scales, N } of ternaryCases()) {
      const outScale = [1, 1, 0.75, 1 / 3][cases % 4];
      const w = randomTernary(format, N, K, rand, { scales, outScale, alloc: (b, a) => k.allocWeights(b, a) });
      const x = randomActivations(1, K, mode, rand);
      compare(k, `${format} [${N}, ${K}] ${mode} ${scales} outScale=${outScale}`, w, x);
      cases++;
    }
    assert.ok(cases > 150, `ran ${cases} cases`);
  });

  test(`${simd}: LUT GEMV over row ranges that cut 16-row tiles`, async () => {
    const k = await createWasmKernels({ simd, shared: false, initialBytes: 16 << 20 });
    const rand = prng(5);
    for (const format of ["tq2_0", "tq1_0", "i2_s"] as TernaryFormat[]) {
      const w = randomTernary(format, 53, 512, rand, { alloc: (b, a) => k.allocWeights(b, a) });
      for (const mode of ACT_QUANT_MODES) {
        const x = randomActivations(1, 512, mode, rand);
        for (const [r0, r1] of [[0, 4], [4, 20], [15, 17], [20, 53], [52, 53]]) compare(k, `${format} ${mode} rows [${r0}, ${r1})`, w, x, r0, r1);
      }
    }
  });

  test(`${simd}: LUT GEMV with extreme activations (±127, -128) and all-plus / all-minus / all-zero rows`, async () => {
    const k = await createWasmKernels({ simd, shared: false, initialBytes: 16 << 20 });
    const rand = prng(7);
    for (const format of ["tq2_0", "tq1_0", "i2_s"] as TernaryFormat[]) {
      const K = 6912;
      const N = 5;
      // Rows: all +1, all -1, all 0, alternating, random; packed by the codec so the layout is the file's.
      const codes = new Int8Array(N * K);
      for (let i = 0; i < K; i++) {
        codes[i] = 1;
        codes[K + i] = -1;
        codes[3 * K + i] = i % 2 ? 1 : -1;
        codes[4 * K + i] = Math.floor(rand() * 3) - 1;
      }
      const packed = CODECS[format].pack(codes, Float32Array.of(1), [K, N], "extremes");
      const data = k.allocWeights(packed.length, 64);
      data.set(packed);
      const w: TernaryMatrix = { kind: "ternary", format, name: `extremes.${format}`, rows: N, cols: K, data, blockScales: new Float32Array(N * K / 256).fill(1), uniformScale: 1, outScale: 1 };
      for (const mode of ACT_QUANT_MODES) {
        for (const fill of [-128, 127]) {
          const x = randomActivations(1, K, mode, rand);
          x.q.fill(fill);
          compare(k, `${format} ${mode} all q = ${fill}`, w, x);
        }
        const x = randomActivations(1, K, mode, rand);
        for (let i = 0; i < K; i++) x.q[i] = i % 2 ? 127 : -128;
        compare(k, `${format} ${mode} q alternating 127 / -128`, w, x);
      }
    }
  });
}

/** One matmul on another matrix, so that the kernels' scratch (allocated on first use) is not counted below. */
function warmScratch(k: WasmKernels, format: TernaryFormat, N: number, K: number, rand: () => number): void {
  const w = randomTernary(format, N, K, rand, { alloc: (b, a) => k.allocWeights(b, a) });
  k.ternaryMatmul(w, randomActivations(1, K, "token", rand), new Float32Array(N));
}

test("the decode path (ternaryMatmul, one token) uses a LUT copy for SIMD128 and for relaxed TQ1_0, made once", async () => {
  const rand = prng(9);
  const N = 40, K = 768;
  const cases: [WasmSimd, TernaryFormat, ScaleKind, boolean][] = [
    ["simd128", "tq2_0", "uniform", true],
    ["simd128", "tq1_0", "uniform", true],
    ["simd128", "i2_s", "uniform", true],
    ["simd128", "tq2_0", "per-block", false], // the LUT layout keeps no block scales
    ["relaxed", "tq1_0", "uniform", true],
    ["relaxed", "tq2_0", "uniform", false], // the relaxed dot is faster
    ["relaxed", "i2_s", "uniform", false],
  ];
  for (const [simd, format, scales, wired] of cases) {
    const k = await createWasmKernels({ simd, shared: true });
    const lut = k.wasm;
    const w = randomTernary(format, N, K, rand, { scales, alloc: (b, a) => k.allocWeights(b, a) });
    warmScratch(k, format, N, K, rand);
    const label = `${simd} ${format} ${scales}`;
    for (const mode of ACT_QUANT_MODES) {
      const x = randomActivations(1, K, mode, rand);
      const want = new Float32Array(N);
      ternaryMatmulRef(w, x, want);
      const before = k.arena.used;
      const got = new Float32Array(N);
      k.ternaryMatmul(w, x, got);
      assert.equal(firstBitDifference(want, got, N), -1, `${label} ${mode}`);
      const grew = k.arena.used - before;
      const first = mode === ACT_QUANT_MODES[0];
      if (wired && first) assert.ok(grew >= lut.lutBytes(N, K), `${label}: no LUT copy was made (${grew} bytes allocated)`);
      else assert.ok(grew < lut.lutBytes(N, K), `${label} ${mode}: allocated ${grew} bytes`);
    }
    // Several tokens (prefill) still read the file layout, and agree.
    const x = randomActivations(3, K, "token", rand);
    const want = new Float32Array(3 * N);
    const got = new Float32Array(3 * N);
    ternaryMatmulRef(w, x, want);
    k.ternaryMatmul(w, x, got);
    assert.equal(firstBitDifference(want, got, 3 * N), -1, `${label} T=3`);
  }
  // An ordinary memory never gets a copy: growing it would detach the weights.
  const k = await createWasmKernels({ simd: "simd128", shared: false, initialBytes: 8 << 20 });
  const w = randomTernary("tq2_0", N, K, rand, { alloc: (b, a) => k.allocWeights(b, a) });
  warmScratch(k, "tq2_0", N, K, rand);
  const x = randomActivations(1, K, "token", rand);
  const want = new Float32Array(N);
  const got = new Float32Array(N);
  ternaryMatmulRef(w, x, want);
  const before = k.arena.used;
  k.ternaryMatmul(w, x, got);
  assert.equal(firstBitDifference(want, got, N), -1, "simd128, ordinary memory");
  assert.ok(k.arena.used - before < k.wasm.lutBytes(N, K), "simd128, ordinary memory: a LUT copy was made");
});

test("threads split the LUT decode path at rows that cut tiles, bit for bit like the reference", async () => {
  const rand = prng(13);
  for (const [simd, format] of [["simd128", "tq2_0"], ["simd128", "i2_s"], ["relaxed", "tq1_0"]] as [WasmSimd, TernaryFormat][]) {
    const k = await createThreadedWasmKernels({ simd, threads: 3 });
    try {
      // 1030 rows × 1024 columns is split (at rows 344 and 688, inside 16-row tiles).
      const w = randomTernary(format, 1030, 1024, rand, { alloc: (b, a) => k.allocWeights(b, a) });
      for (const mode of ACT_QUANT_MODES) {
        const x = randomActivations(1, 1024, mode, rand);
        const want = new Float32Array(w.rows);
        const got = new Float32Array(w.rows).fill(NaN);
        ternaryMatmulRef(w, x, want);
        k.ternaryMatmul(w, x, got);
        const d = firstBitDifference(want, got, w.rows);
        assert.equal(d, -1, `${simd} ${format} ${mode}: row ${d} is ${got[d]}, the reference says ${want[d]}`);
      }
      assert.ok(k.pool.splitJobs >= ACT_QUANT_MODES.length, `${simd} ${format}: the rows were not split`);
    } finally {
      await k.close();
    }
  }
});
