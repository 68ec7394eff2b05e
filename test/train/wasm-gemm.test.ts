// The WebAssembly training GEMM (src/train/wasm-gemm.ts over assembly/f32-gemm.ts), over a shared and
// over an ordinary memory (the two module builds it runs from):
// - the three products against a float64 product on odd shapes (1, 3, 5, 17, 33, 257, and past every
//   block size: K > 256, M > 64, J > 512), within the bound the kernel states,
//   |C − exact| ≤ (256 + ⌈K/256⌉ + 2)·2⁻²⁴·(|C₀| + Σ|a·b|), and against the naive JS products;
// - exact integer products (BitLinear's codes, several K blocks), bit-identical repeats, and results
//   that do not depend on where the operands live (in the module's memory or copied in) or on the build;
// - an ordinary (non-shared) memory: alloc stops handing out views when the reservation is used up, and
//   nothing handed out is detached;
// - the model and the trainer on it: loss against the float64 model, gradients against the JS backend's
//   and against finite differences of the float64 model, bit-identical runs and an exact resume.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createActivations } from "../../src/train/acts.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../../src/train/checkpoint.ts";
import { trainBpe } from "../../src/train/bpe-trainer.ts";
import type { TrainConfig } from "../../src/train/config.ts";
import { jsGemm, matmulBackwardInputNaive, matmulBackwardWeightNaive, matmulForwardNaive, type Gemm } from "../../src/train/matmul.ts";
import { backward, forward } from "../../src/train/model.ts";
import { createParamSet, initParams, type ParamSet } from "../../src/train/params.ts";
import { resolveRunConfig, runPresets } from "../../src/train/run-config.ts";
import { Trainer, type TrainData } from "../../src/train/trainer.ts";
import { createWasmGemm, gemmSelfTest, selectGemm, type WasmGemm } from "../../src/train/wasm-gemm.ts";
import { assertClose } from "../helpers/compare.ts";
import { randomF32 } from "../helpers/prng.ts";
import { model64, params64, params64Along } from "../helpers/ref64.ts";

const builds = { shared: await createWasmGemm({ shared: true }), plain: await createWasmGemm({ shared: false, initialBytes: 64 << 20 }) };

/** C₀ + A·B in float64 (products of float32 values are exact in float64) and Σ|a·b| per element. */
function exact(c0: Float32Array | null, M: number, J: number, K: number, A: (m: number, k: number) => number, Bv: (k: number, j: number) => number): { want: Float64Array; mag: Float64Array } {
  const want = new Float64Array(M * J);
  const mag = new Float64Array(M * J);
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < J; j++) {
      let s = c0 === null ? 0 : c0[m * J + j];
      let a = c0 === null ? 0 : Math.abs(s);
      for (let k = 0; k < K; k++) {
        const p = A(m, k) * Bv(k, j);
        s += p;
        a += Math.abs(p);
      }
      want[m * J + j] = s;
      mag[m * J + j] = a;
    }
  }
  return { want, mag };
}

function assertWithinBound(got: Float32Array, e: { want: Float64Array; mag: Float64Array }, K: number, label: string): void {
  const gamma = (256 + Math.ceil(K / 256) + 2) * 2 ** -24;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - e.want[i]);
    // The last term is float32's own rounding of the stored result, which the bound's first order omits.
    assert.ok(err <= gamma * e.mag[i] + 2 ** -24 * Math.abs(e.want[i]), `${label}[${i}]: ${got[i]} vs ${e.want[i]}, error ${err.toExponential(2)} > bound ${(gamma * e.mag[i]).toExponential(2)}`);
  }
}

/** Operands of one shape, either as views of the gemm's memory or as ordinary arrays. */
function operands(g: Gemm, inMemory: boolean, N: number, I: number, O: number, seed: number) {
  const make = (src: Float32Array): Float32Array => {
    if (!inMemory) return src.slice();
    const v = g.alloc(src.length);
    v.set(src);
    return v;
  };
  return {
    inp: make(randomF32(N * I, seed)), w: make(randomF32(O * I, seed + 1)), dout: make(randomF32(N * O, seed + 2)),
    out: make(new Float32Array(N * O).fill(NaN)), dinp: make(randomF32(N * I, seed + 3)), dw: make(randomF32(O * I, seed + 4)),
  };
}

const shapes: [number, number, number][] = [
  [1, 1, 1], [3, 5, 17], [5, 33, 3], [17, 3, 257], [33, 257, 5], [257, 17, 33], [4, 8, 8], [130, 600, 9], [6, 9, 1030], [520, 7, 70],
];

for (const [name, g] of Object.entries(builds)) {
  test(`${name} memory: forward, backward input and backward weight within the stated bound on odd shapes`, () => {
    for (const [N, I, O] of shapes) {
      const o = operands(g, N % 2 === 1, N, I, O, N * 7 + I * 3 + O);
      const dinp0 = o.dinp.slice();
      const dw0 = o.dw.slice();
      const label = `${name} ${N}×${I}×${O}`;
      g.forward(o.out, o.inp, o.w, N, I, O);
      assertWithinBound(o.out, exact(null, N, O, I, (n, i) => o.inp[n * I + i], (i, j) => o.w[j * I + i]), I, `${label} forward`);
      g.backwardInput(o.dinp, o.dout, o.w, N, I, O);
      assertWithinBound(o.dinp, exact(dinp0, N, I, O, (n, k) => o.dout[n * O + k], (k, i) => o.w[k * I + i]), O, `${label} backward input`);
      g.backwardWeight(o.dw, o.dout, o.inp, N, I, O);
      assertWithinBound(o.dw, exact(dw0, O, I, N, (m, k) => o.dout[k * O + m], (k, i) => o.inp[k * I + i]), N, `${label} backward weight`);

      // And against the naive JS products beside the fast ones.
      const out = new Float32Array(N * O);
      matmulForwardNaive(out, o.inp, o.w, N, I, O);
      assertClose(o.out, out, 1e-5, `${label} forward vs naive`);
      const dinp = dinp0.slice();
      matmulBackwardInputNaive(dinp, o.dout, o.w, N, I, O);
      assertClose(o.dinp, dinp, 1e-5, `${label} backward input vs naive`);
      const dw = dw0.slice();
      matmulBackwardWeightNaive(dw, o.dout, o.inp, N, I, O);
      assertClose(o.dw, dw, 1e-5, `${label} backward weight vs naive`);
    }
  });

  test(`${name} memory: integer codes multiply exactly over several K blocks (BitLinear's forward)`, () => {
    const N = 7, I = 1100, O = 19; // 127·1100 < 2^24
    const q = randomF32(N * I, 11, 128).map((v, i) => (i % 13 === 0 ? -128 : i % 17 === 0 ? 127 : Math.max(-128, Math.min(127, Math.trunc(v)))));
    const c = randomF32(O * I, 12, 1.5).map((v) => Math.trunc(v));
    const out = g.alloc(N * O);
    g.forward(out, q, c, N, I, O);
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < O; o++) {
        let s = 0;
        for (let i = 0; i < I; i++) s += q[n * I + i] * c[o * I + i];
        assert.equal(out[n * O + o], s, `[${n}, ${o}]`);
      }
    }
  });

  test(`${name} memory: bit-identical on repeats and wherever the operands live`, () => {
    const [N, I, O] = [37, 300, 45];
    const a = operands(g, true, N, I, O, 5);
    const b = operands(g, false, N, I, O, 5);
    const c = operands(g, true, N, I, O, 5);
    for (const o of [a, b, c]) {
      g.forward(o.out, o.inp, o.w, N, I, O);
      g.backwardInput(o.dinp, o.dout, o.w, N, I, O);
      g.backwardWeight(o.dw, o.dout, o.inp, N, I, O);
    }
    for (const k of ["out", "dinp", "dw"] as const) {
      assert.deepEqual(b[k], a[k], `${k}: copied operands`);
      assert.deepEqual(c[k], a[k], `${k}: repeat`);
    }
  });
}

test("both builds give the same bits", () => {
  const [N, I, O] = [29, 530, 70];
  const a = operands(builds.shared, true, N, I, O, 8);
  const b = operands(builds.plain, true, N, I, O, 8);
  for (const [g, o] of [[builds.shared, a], [builds.plain, b]] as const) {
    g.forward(o.out, o.inp, o.w, N, I, O);
    g.backwardInput(o.dinp, o.dout, o.w, N, I, O);
    g.backwardWeight(o.dw, o.dout, o.inp, N, I, O);
  }
  for (const k of ["out", "dinp", "dw"] as const) assert.deepEqual(Array.from(b[k]), Array.from(a[k]), k);
});

test("row ranges computed separately (as threads would) give the same bits as one call", () => {
  const g = builds.shared;
  const [M, J, K] = [70, 45, 300];
  const a = g.alloc(M * K), b = g.alloc(K * J), whole = g.alloc(M * J), parts = g.alloc(M * J);
  a.set(randomF32(M * K, 31));
  b.set(randomF32(K * J, 32));
  const work = g.arena.alloc(g.wasm.f32GemmWorkBytes(), 64, "test work");
  const at = (v: Float32Array): number => g.arena.addressOf(v, "operand") as number;
  const call = (c: Float32Array, m0: number, m1: number): void => g.wasm.f32Gemm(J, K, at(a), K, 1, at(b), J, 1, at(c), J, 0, work, m0, m1);
  call(whole, 0, M);
  for (const [m0, m1] of [[0, 8], [8, 37], [37, 70]]) call(parts, m0, m1);
  assert.deepEqual(Array.from(parts), Array.from(whole));
});

test("short operands and bad sizes are errors that name them", () => {
  const g = builds.shared;
  assert.throws(() => g.forward(new Float32Array(5), new Float32Array(6), new Float32Array(6), 2, 3, 3), /forward: out holds 5 values, \[N=2, I=3, O=3\] needs 6/);
  assert.throws(() => g.backwardWeight(new Float32Array(9), new Float32Array(6), new Float32Array(5), 2, 3, 3), /backward weight: inp holds 5 values/);
  assert.throws(() => g.backwardInput(new Float32Array(6), new Float32Array(6), new Float32Array(9), 2, 3.5, 3), /backward input: I = 3.5 is not a size/);
  const buf = g.alloc(20);
  assert.throws(() => g.forward(buf.subarray(4), buf, new Float32Array(9), 2, 3, 3), /output overlaps an input/);
});

test("an ordinary memory: views only within the reservation, none detached, results still right", async () => {
  const g = await createWasmGemm({ shared: false, initialBytes: 2 << 20 });
  const inside = g.alloc(1000);
  assert.equal(g.arena.addressOf(inside, "inside") !== null, true);
  const outside = g.alloc(1 << 20); // 4 MiB does not fit what is left
  assert.equal(g.arena.addressOf(outside, "outside"), null);
  const [N, I, O] = [600, 65, 700]; // copying these in needs more scratch than the reservation has left
  const o = operands(g, false, N, I, O, 9);
  g.forward(o.out, o.inp, o.w, N, I, O);
  const want = new Float32Array(N * O);
  jsGemm.forward(want, o.inp, o.w, N, I, O);
  assert.deepEqual(o.out, want, "the call ran on the JavaScript backend");
  assert.equal(inside.length, 1000, "the view handed out is still attached");
  inside[3] = 2;
  assert.equal(inside[3], 2);
});

test("selectGemm picks the WebAssembly GEMM here, which passes its self-test; prefer js gives jsGemm", async () => {
  const { gemm, fallbackReason } = await selectGemm();
  assert.equal(gemm.name, "wasm-simd128", `fell back: ${fallbackReason}`);
  assert.equal(gemmSelfTest(gemm), null);
  assert.equal(gemmSelfTest(jsGemm), null);
  assert.equal((await selectGemm({ prefer: "js" })).gemm, jsGemm);
});

const small: TrainConfig = {
  vocabSize: 40, dim: 16, ffnDim: 24, nLayers: 2, nHeads: 4, nKvHeads: 2, seqLen: 7,
  ropeTheta: 10000, normEps: 1e-5, activation: "silu", weights: "fp", tiedEmbedding: true,
};
const B = 2, T = 6;
const inputs = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 40);
const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 11 + 5) % 40);

function lossAndGrads(c: TrainConfig, g: Gemm): { loss: number; grads: ParamSet; params: ParamSet } {
  const p = createParamSet(c, g.alloc(createParamSet(c).data.length));
  initParams(p, 3, 0.3);
  const acts = createActivations(c, B, T, g);
  const loss = forward(p, acts, inputs, targets, B, T);
  const grads = createParamSet(c);
  backward(p, grads, acts, inputs, targets, B, T);
  return { loss, grads, params: p };
}

for (const weights of ["fp", "ternary"] as const) {
  test(`model (${weights}) on the wasm GEMM: loss as the float64 model's, gradients as the JS backend's`, () => {
    const c = { ...small, weights };
    const js = lossAndGrads(c, jsGemm);
    for (const g of Object.values(builds)) {
      const w = lossAndGrads(c, g);
      const ref = model64(c, params64(w.params), inputs, targets, B, T).loss;
      assert.ok(Math.abs(w.loss - ref) <= 1e-5 * ref, `${g.name}: loss ${w.loss} vs float64 ${ref}`);
      assertClose(w.grads.data, js.grads.data, 1e-4, `${g.name} ${weights} gradients vs js`);
    }
  });
}

test("model (fp) on the wasm GEMM: directional derivative against finite differences of the float64 model", () => {
  const w = lossAndGrads(small, builds.shared);
  const dir = randomF32(w.params.data.length, 21);
  let analytic = 0;
  for (let i = 0; i < dir.length; i++) analytic += dir[i] * w.grads.data[i];
  const lossAt = (eps: number): number => {
    return model64(small, params64Along(w.params, dir, eps), inputs, targets, B, T).loss;
  };
  const h = 1e-5;
  const fd = (lossAt(h) - lossAt(-h)) / (2 * h);
  assert.ok(Math.abs(analytic - fd) <= 1e-4 * Math.abs(fd), `analytic ${analytic} vs finite difference ${fd}`);
});

const TEXT = "In the beginning God created the heaven and the earth. And the earth was without form, and void; ";
function byteData(): TrainData {
  const all = Int32Array.from(new TextEncoder().encode(TEXT.repeat(24)));
  return { train: all.subarray(0, 2000), validation: all.subarray(2000) };
}
const runConfig = resolveRunConfig(runPresets.tiny, { steps: 10, batchSize: 4, seqLen: 32, warmup: 3, evalEvery: 5, evalTokens: 256, lr: 1e-2, lr2: 6e-3 });

function losses(t: Trainer, n: number): number[] {
  return Array.from({ length: n }, () => t.trainStep().loss);
}

test("trainer on the wasm GEMM: bit-identical runs, and a resume through checkpoint bytes continues exactly", async () => {
  const gemm: WasmGemm = builds.shared;
  const a = new Trainer(runConfig, byteData(), undefined, { gemm });
  const b = new Trainer(runConfig, byteData(), undefined, { gemm });
  assert.equal(gemm.arena.addressOf(a.params.data, "params") !== null, true, "parameters live in the wasm memory");
  const all = losses(a, 5);
  assert.deepEqual(losses(b, 5), all);
  a.evaluate();
  b.evaluate();
  const bytes = await encodeCheckpoint(b.snapshot(trainBpe([TEXT], { vocabSize: 300 })));
  all.push(...losses(a, 5));
  const state = await decodeCheckpoint(bytes, "wasm-resume.ckpt");
  const resumed = new Trainer(state.config, byteData(), state, { gemm });
  assert.deepEqual([...all.slice(0, 5), ...losses(resumed, 5)], all);
  assert.deepEqual(Array.from(resumed.params.data), Array.from(a.params.data));
  assert.ok(all[9] < all[0], `the loss falls: ${all.map((x) => x.toFixed(3)).join(" ")}`);
});
