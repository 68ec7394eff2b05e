// Every backend's forward-pass ops other than matmuls and attention (test/kernels/backends.ts), against
// the TypeScript reference: RMSNorm fused with int8 quantization and quantization alone (both modes),
// RoPE (NEOX and NORM), ReLU², the residual add and f32 → f16, bit for bit; SiLU within 1 ulp (both
// backends use their own exp: src/kernels/wasm/assembly/pointwise.ts, native/bn_math.h). For the wasm
// kernels, buffers inside their memory (in place) and outside (copied). Also the wasm module's exp,
// and where a model's run state goes: into the wasm memory when it has room, ordinary arrays otherwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { allocActivations, quantizeActivationsRef, rmsnormQuantizeRef } from "../../src/kernels/activations.ts";
import { addInPlace, encodeF16, gatedActivation, rmsnorm, rope, ropeTable } from "../../src/kernels/ops.ts";
import type { ActQuantMode, QuantizedActivations } from "../../src/kernels/types.ts";
import type { Kernels } from "../../src/kernels/types.ts";
import { createWasmKernels } from "../../src/kernels/wasm/kernels.ts";
import { loadModel } from "../../src/index.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import { RunState } from "../../src/model/forward.ts";
import { f32FromBits } from "../../src/quant/half.ts";
import { gaussian, prng } from "../helpers/prng.ts";
import { BACKENDS, withKernels } from "./backends.ts";
import { firstBitDifference } from "./helpers.ts";
import { fixturePath } from "../helpers/fixtures.ts";

/** A Float32Array in the kernels' memory holding `src`, so that the op works in place; a copy for kernels without memory of their own. */
function resident(k: Kernels, src: Float32Array): Float32Array {
  const b = k.allocState?.(src.byteLength, 64);
  if (!b) return src.slice();
  const v = new Float32Array(b.buffer, b.byteOffset, src.length);
  v.set(src);
  return v;
}

/** Activations whose three arrays live in the kernels' memory (ordinary arrays for kernels without memory of their own). */
function residentActivations(k: Kernels, tokens: number, cols: number): QuantizedActivations {
  if (!k.allocState) return allocActivations(tokens, cols);
  return allocActivations(tokens, cols, (bytes) => {
    const b = k.allocState?.(bytes, 64);
    assert.ok(b);
    return b;
  });
}

function assertSameActivations(got: QuantizedActivations, want: QuantizedActivations, label: string): void {
  const groups = (want.tokens * want.cols) / want.group;
  assert.equal(got.tokens, want.tokens, `${label}: tokens`);
  assert.equal(got.cols, want.cols, `${label}: cols`);
  assert.equal(got.group, want.group, `${label}: group`);
  for (let i = 0; i < want.tokens * want.cols; i++) if (got.q[i] !== want.q[i]) assert.fail(`${label}: q[${i}] is ${got.q[i]}, the reference says ${want.q[i]}`);
  const d = firstBitDifference(got.factors, want.factors, groups);
  assert.equal(d, -1, `${label}: factor ${d} is ${got.factors[d]}, the reference says ${want.factors[d]}`);
  for (let g = 0; g < groups; g++) assert.equal(got.sums[g], want.sums[g], `${label}: sum ${g}`);
}

/** Rows with varied magnitudes: ordinary, tiny, huge, a few outliers, exact zeros and values at rounding ties. */
function activationRows(rand: () => number, T: number, n: number): Float32Array {
  const x = gaussian(rand, T * n);
  for (let t = 0; t < T; t++) {
    const scale = [1, 1e-3, 3e4, 1e-20, 7][t % 5];
    for (let i = 0; i < n; i++) {
      const j = t * n + i;
      x[j] *= scale;
      if (rand() < 0.01) x[j] *= 50; // outliers
      if (rand() < 0.02) x[j] = 0;
    }
  }
  return x;
}

for (const [b, backend] of BACKENDS.entries()) {
  test(`${backend.label}: rmsnorm + quantization is bit-identical to rmsnorm then quantizeActivations, both modes`, () => withKernels(backend, (k) => {
    const rand = prng(1 + b);
    for (const mode of ["token", "block256"] as ActQuantMode[]) {
      const widths = mode === "token" ? [4, 7, 100, 256, 1000, 2560] : [256, 512, 2560, 6912];
      for (const n of widths) {
        for (const T of [1, 3, 4, 5, 9]) {
          const label = `${mode} T=${T} n=${n}`;
          const x = activationRows(rand, T, n);
          const w = gaussian(rand, n, 0.5);
          const eps = rand() < 0.5 ? 1e-5 : 1e-6;
          const want = new Float32Array(T * n);
          const wantActs = allocActivations(T, n);
          rmsnormQuantizeRef(want, x, w, T, n, eps, mode, wantActs);
          // outside the kernels' memory, and inside it (in place, as the forward pass runs)
          const got = new Float32Array(T * n);
          const gotActs = allocActivations(T, n);
          k.rmsnormQuantize(got, x, w, T, n, eps, mode, gotActs);
          assert.equal(firstBitDifference(got, want, T * n), -1, `${label}: normalized values`);
          assertSameActivations(gotActs, wantActs, label);
          const xr = resident(k, x);
          const residentActs = residentActivations(k, T, n);
          k.rmsnormQuantize(xr, xr, resident(k, w), T, n, eps, mode, residentActs);
          assert.equal(firstBitDifference(xr, want, T * n), -1, `${label}: normalized values, in place`);
          assertSameActivations(residentActs, wantActs, `${label}, in place`);
          // rmsnorm alone
          const alone = new Float32Array(T * n);
          k.rmsnorm(alone, x, w, T, n, eps);
          const wantAlone = new Float32Array(T * n);
          rmsnorm(wantAlone, x, w, T, n, eps);
          assert.equal(firstBitDifference(alone, wantAlone, T * n), -1, `${label}: rmsnorm alone`);
        }
      }
    }
  }));

  test(`${backend.label}: rmsnorm + block quantization where an early row has a block the kernel hands to the reference: every row still right`, () => withKernels(backend, (k) => {
    const rand = prng(11 + b);
    const T = 9;
    const n = 512;
    const x = activationRows(rand, T, n);
    // row 1's first block stays subnormal after the norm, so its -127/max overflows (ggml's exact path)
    for (let i = 0; i < 256; i++) x[n + i] = (rand() - 0.5) * 1e-39;
    const w = gaussian(rand, n, 0.5);
    const want = new Float32Array(T * n);
    const wantActs = allocActivations(T, n);
    rmsnormQuantizeRef(want, x, w, T, n, 1e-5, "block256", wantActs);
    const xr = resident(k, x);
    const gotActs = residentActivations(k, T, n);
    k.rmsnormQuantize(xr, xr, resident(k, w), T, n, 1e-5, "block256", gotActs);
    const d = firstBitDifference(xr, want, T * n);
    assert.equal(d, -1, `normalized value ${d} (row ${Math.floor(d / n)}) is ${xr[d]}, the reference says ${want[d]}`);
    assertSameActivations(gotActs, wantActs, "block256 with a subnormal block in row 1");
  }));

  test(`${backend.label}: quantizeActivations is bit-identical, including ties, zero rows and blocks, and tiny block maxima`, () => withKernels(backend, (k) => {
    const rand = prng(3 + b);
    const n = 512;
    const rows: Float32Array[] = [];
    // ties: with amax 127 the per-token scale is 1 (and the block scale -1), so k + 0.5 is a tie
    rows.push(Float32Array.from({ length: n }, (_, i) => (i === 0 ? 127 : i % 2 ? ((i % 50) - 25) + 0.5 : -((i % 40) + 0.5))));
    rows.push(new Float32Array(n)); // all zero
    const half = Float32Array.from({ length: n }, (_, i) => (i < 256 ? 0 : rand() - 0.5)); // one zero block
    rows.push(half);
    // a block whose maximum is subnormal: -127/max overflows float32 and ggml's exact path applies
    rows.push(Float32Array.from({ length: n }, (_, i) => (i < 256 ? (rand() - 0.5) * 1e-39 : rand() - 0.5)));
    // ties for the first-maximum rule: -3 and 3 both reach amax
    rows.push(Float32Array.from({ length: n }, (_, i) => (i === 10 ? -3 : i === 20 ? 3 : rand() * 2 - 1)));
    for (let r = 0; r < 6; r++) rows.push(activationRows(rand, 1, n));
    for (const mode of ["token", "block256"] as ActQuantMode[]) {
      for (const [i, row] of rows.entries()) {
        const want = allocActivations(1, n);
        quantizeActivationsRef(row, 1, n, mode, want);
        const got = allocActivations(1, n);
        k.quantizeActivations(row, 1, n, mode, got);
        assertSameActivations(got, want, `${mode} row ${i}`);
      }
      const all = new Float32Array(rows.length * n);
      rows.forEach((row, i) => all.set(row, i * n));
      const want = allocActivations(rows.length, n);
      quantizeActivationsRef(all, rows.length, n, mode, want);
      const got = residentActivations(k, rows.length, n);
      k.quantizeActivations(resident(k, all), rows.length, n, mode, got);
      assertSameActivations(got, want, `${mode}, all rows, in place`);
    }
  }));
}

for (const backend of BACKENDS.filter((b) => b.threads === 1)) {
  test(`${backend.label}: non-finite activations raise the reference's error, fused or not`, () => withKernels(backend, (k) => {
    const x = new Float32Array(512).fill(1);
    x[300] = NaN;
    for (const mode of ["token", "block256"] as ActQuantMode[]) {
      assert.throws(() => k.quantizeActivations(x, 1, 512, mode, allocActivations(1, 512)), /activations: non-finite activation NaN at index 300/);
      const y = new Float32Array(512).fill(1);
      y[7] = Infinity; // the row's scale becomes 0, and ∞·0 is NaN
      const w = new Float32Array(512).fill(1);
      assert.throws(() => rmsnormQuantizeRef(new Float32Array(512), y, w, 1, 512, 1e-5, mode, allocActivations(1, 512)), /activations: non-finite activation NaN at index 7$/);
      assert.throws(() => k.rmsnormQuantize(new Float32Array(512), y, w, 1, 512, 1e-5, mode, allocActivations(1, 512)), /activations: non-finite activation NaN at index 7$/);
    }
    assert.throws(() => k.quantizeActivations(new Float32Array(300), 1, 300, "block256", allocActivations(1, 300)), /not a multiple of the block size 256/);
  }));
}

for (const [b, backend] of BACKENDS.entries()) {
  test(`${backend.label}: RoPE is bit-identical in both pairings, for full and partial rotary dims`, () => withKernels(backend, (k) => {
    const rand = prng(5 + b);
    for (const [hd, dims] of [[64, 64], [128, 128], [64, 32], [16, 6], [8, 2]]) {
      const table = ropeTable(300, dims, 10000 + 490000 * rand());
      const residentTable = ropeTable(300, dims, 10000, k.allocState ? (bytes) => k.allocState?.(bytes, 64) as Uint8Array : undefined);
      residentTable.cos.set(table.cos);
      residentTable.sin.set(table.sin);
      for (const pairing of ["neox", "norm"] as const) {
        for (const [T, heads, pos0] of [[1, 4, 0], [5, 3, 17], [3, 20, 296]]) {
          const x = gaussian(rand, T * heads * hd, 3);
          const want = x.slice();
          rope(want, T, heads, hd, pos0, table, pairing);
          const got = x.slice();
          k.rope(got, T, heads, hd, pos0, table, pairing);
          assert.equal(firstBitDifference(got, want, want.length), -1, `hd ${hd} dims ${dims} ${pairing} T ${T} pos0 ${pos0}`);
          const inPlace = resident(k, x);
          k.rope(inPlace, T, heads, hd, pos0, residentTable, pairing);
          assert.equal(firstBitDifference(inPlace, want, want.length), -1, `hd ${hd} dims ${dims} ${pairing} T ${T} pos0 ${pos0}, in place`);
        }
      }
    }
  }));

  test(`${backend.label}: ReLU², the residual add and f32 → f16 are bit-identical; SiLU within 1 ulp`, () => withKernels(backend, (k) => {
    const rand = prng(7 + b);
    const n = 200_003;
    const special = [0, -0, NaN, Infinity, -Infinity, 1e-40, -1e-40, 88, -88, 100, -100, 745, -745, 1e30, -1e30, 3.4e38];
    const gate = gaussian(rand, n, 4);
    gate.set(special);
    const up = gaussian(rand, n);
    for (const act of ["relu2", "silu"] as const) {
      const want = gate.slice();
      gatedActivation(want, up, n, act);
      const got = gate.slice();
      k.gatedActivation(got, up, n, act);
      if (act === "relu2") {
        assert.equal(firstBitDifference(got, want, n), -1, "ReLU²");
        continue;
      }
      const wb = new Int32Array(want.buffer), gb = new Int32Array(got.buffer);
      let differ = 0;
      for (let i = 0; i < n; i++) {
        if (Object.is(got[i], want[i])) continue;
        assert.ok(Math.abs(wb[i] - gb[i]) <= 1 && Math.sign(got[i]) === Math.sign(want[i]), `SiLU of ${gate[i]}·${up[i]}: ${got[i]} vs ${want[i]}`);
        differ++;
      }
      // Expected about one value in 10^8 (forward-ops.ts); allow a handful.
      assert.ok(differ <= 3, `SiLU: ${differ} of ${n} values differ by 1 ulp`);
    }
    const x = gaussian(rand, 1001), y = gaussian(rand, 1001);
    const sum = x.slice();
    addInPlace(sum, y, 1001);
    const got = x.slice();
    k.addInPlace(got, y, 1001);
    assert.equal(firstBitDifference(got, sum, 1001), -1, "add");
    const big = gaussian(rand, 300_001), bigY = gaussian(rand, 300_001); // large enough to be split across threads
    const bigSum = big.slice();
    addInPlace(bigSum, bigY, 300_001);
    k.addInPlace(big, bigY, 300_001);
    assert.equal(firstBitDifference(big, bigSum, 300_001), -1, "add, 300001 values");
  }));

  test(`${backend.label}: f32 → f16 matches src/quant/half.ts bit for bit near every rounding boundary`, () => withKernels(backend, (k) => {
    const rand = prng(9 + b);
    const values: number[] = [NaN, -NaN, Infinity, -Infinity, 0, -0, 65504, 65519.996, 65520, -65520, 2 ** -24, 2 ** -25, 2 ** -26, 3 * 2 ** -26];
    // every exponent, with the low 13 mantissa bits around the half-way point, and odd/even kept bits
    for (let e = 0; e < 256; e++) {
      for (const low of [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff]) {
        for (const kept of [0, 1, 0x3ff]) values.push(f32FromBits(((e << 23) | (kept << 13) | low) >>> 0), -f32FromBits(((e << 23) | (kept << 13) | low) >>> 0));
      }
    }
    for (let i = 0; i < 20000; i++) values.push(f32FromBits(Math.floor(rand() * 2 ** 32)));
    const src = Float32Array.from(values);
    const want = new Uint16Array(src.length + 5);
    encodeF16(src, want, 5, src.length);
    const got = new Uint16Array(src.length + 5);
    k.f32ToF16(src, got, 5, src.length);
    for (let i = 0; i < want.length; i++) assert.equal(got[i], want[i], `f16 of ${src[i - 5]}: ${got[i].toString(16)} vs ${want[i].toString(16)}`);
  }));
}

test("the module's float64 exp is within 1 ulp of Math.exp, with the same overflow, underflow and NaN", async () => {
  const k = await createWasmKernels({ simd: "relaxed", shared: true });
  const work = k.allocState(512, 64);
  assert.ok(work);
  const wasmExp = (k.wasm as unknown as { expF64Scalar(x: number, work: number): number }).expF64Scalar;
  const exp = (x: number) => wasmExp(x, work.byteOffset);
  const rand = prng(11);
  const bits = new BigInt64Array(2);
  const f = new Float64Array(bits.buffer);
  for (let i = 0; i < 100000; i++) {
    const x = i < 50000 ? (rand() - 0.5) * 80 : (rand() - 0.5) * 1500;
    f[0] = exp(x);
    f[1] = Math.exp(x);
    const ulps = Number(bits[0] - bits[1]);
    assert.ok(Math.abs(ulps) <= 1 || (f[1] < 2 ** -1022 && Math.abs(f[0] - f[1]) <= 2 ** -1074), `exp(${x}) = ${f[0]}, Math.exp says ${f[1]}`);
  }
  for (const x of [710, 1000, Infinity]) assert.equal(exp(x), Infinity);
  for (const x of [-746, -1000, -Infinity]) assert.equal(exp(x), 0);
  assert.ok(Number.isNaN(exp(NaN)));
  assert.equal(exp(0), 1);
});

test("allocState places the run state in a shared memory, and refuses to grow an ordinary one", async () => {
  const shared = await createWasmKernels({ simd: "relaxed", shared: true });
  assert.ok(shared.allocState(64 * 2 ** 20, 64));
  const plain = await createWasmKernels({ simd: "relaxed", shared: false, initialBytes: 4 * 2 ** 20 });
  assert.ok(plain.allocState(2 ** 20, 64), "room that was reserved is handed out");
  assert.equal(plain.allocState(64 * 2 ** 20, 64), null, "growing would detach earlier views");
});

test("a model on an ordinary (non-shared) memory gets its run state placed there too, and computes what the shared one does", async () => {
  const file = fixturePath("bitnet-tiny-tq2_0.gguf");
  const plainKernels = await createWasmKernels({ simd: "relaxed", shared: false });
  const sharedKernels = await createWasmKernels({ simd: "relaxed", shared: true });
  const plain = await loadModel(file, { contextLength: 64, batchSize: 4, kernels: plainKernels, kvCacheType: "f16" });
  const shared = await loadModel(file, { contextLength: 64, batchSize: 4, kernels: sharedKernels, kvCacheType: "f16" });
  try {
    const weightBytes = plain.file.tensors.reduce((s, t) => s + t.byteSize, 0);
    assert.ok(plainKernels.arena.used > weightBytes + plain.kvCacheBytes, "weights and the KV cache are in the wasm memory");
    const ids = [1, 260, 300, 280, 400, 311, 270, 5, 6, 7];
    const a = plain.logits(ids);
    const b = shared.logits(ids);
    assert.equal(firstBitDifference(a, b, a.length), -1);
  } finally {
    await plain.dispose();
    await shared.dispose();
  }
});

test("without room in an ordinary memory, the run state stays in ordinary arrays and the kernels copy", async () => {
  const file = fixturePath("bitnet-tiny-tq2_0.gguf");
  const k = await createWasmKernels({ simd: "relaxed", shared: false });
  const model = await loadModel(file, { contextLength: 64, batchSize: 4, kernels: refKernels });
  try {
    const state = new RunState(model.config, { contextLength: 4096, maxBatch: 64, kvCacheType: "f32", actQuant: "token", sequences: 1 }, k);
    assert.equal(state.inKernelMemory, false);
    assert.equal(k.arena.addressOf(state.cache.keys(0, 0), "keys"), null);
  } finally {
    await model.dispose();
  }
});
