// Every backend's attention (test/kernels/backends.ts) against the reference (src/kernels/attention.ts)
// over random shapes: odd token counts, pos0 > 0, GQA ratios 1/2/4, head sizes 64/128, contexts up to
// 2048, F32 and F16 caches, and for the wasm kernels inputs both inside their memory (in place) and
// outside it (copied). Tolerance: the bound stated in src/kernels/wasm/forward-ops.ts (the native kernels
// state the same, native/attention_impl.h), with its scale Σ_p w_p·|v_p| and the score magnitude computed
// here in float64, independently of the implementations. For the backends that promise it, a prompt
// processed in chunks of any size gives every position the same bits as one call.
import { test } from "node:test";
import assert from "node:assert/strict";
import { attention } from "../../src/kernels/attention.ts";
import type { AttentionShape, Kernels } from "../../src/kernels/types.ts";
import { f16ToF32, f32ArrayToF16 } from "../../src/quant/half.ts";
import { gaussian, prng } from "../helpers/prng.ts";
import { BACKENDS, withKernels } from "./backends.ts";
import { firstBitDifference } from "./helpers.ts";

const U = 2 ** -24;

interface Case {
  shape: AttentionShape;
  T: number;
  pos0: number;
  half: boolean;
  /** Standard deviation of q: larger values make the softmax peakier. */
  qStd: number;
}

/** Per output element, the bound |o − o_ref| ≤ (2Δs + 2^-19 + (len + 64)·2^-23)·Σ_p w_p·|v_p| (forward-ops.ts). */
function bounds(c: Case, q: Float32Array, keys: Float32Array, values: Float32Array): Float64Array {
  const { nHeads: H, nKvHeads: HKV, headDim: hd } = c.shape;
  const KV = HKV * hd;
  const scale = 1 / Math.sqrt(hd);
  const out = new Float64Array(c.T * H * hd);
  for (let t = 0; t < c.T; t++) {
    const len = c.pos0 + t + 1;
    for (let h = 0; h < H; h++) {
      const qo = (t * H + h) * hd;
      const ko = Math.floor(h / (H / HKV)) * hd;
      const s = new Float64Array(len);
      let maxAbs = 0;
      for (let p = 0; p < len; p++) {
        let dot = 0;
        let abs = 0;
        for (let i = 0; i < hd; i++) {
          dot += q[qo + i] * keys[p * KV + ko + i];
          abs += Math.abs(q[qo + i] * keys[p * KV + ko + i]);
        }
        s[p] = dot * scale;
        maxAbs = Math.max(maxAbs, abs * scale);
      }
      const m = Math.max(...s);
      let sum = 0;
      for (let p = 0; p < len; p++) sum += s[p] = Math.exp(s[p] - m);
      const ds = (hd + 4) * U * maxAbs;
      const rel = 2 * ds + 2 ** -19 + (len + 64) * 2 ** -23;
      for (let i = 0; i < hd; i++) {
        let a = 0;
        for (let p = 0; p < len; p++) a += (s[p] / sum) * Math.abs(values[p * KV + ko + i]);
        out[qo + i] = rel * a + 1e-30;
      }
    }
  }
  return out;
}

/** A view of fresh kernel memory holding a copy of `src` (so that the kernel works in place); a copy for kernels without memory of their own. */
function resident<A extends Float32Array | Uint16Array>(k: Kernels, src: A): A {
  if (!k.allocState) return src.slice() as A;
  const bytes = k.allocState(src.byteLength, 64);
  assert.ok(bytes, "shared memories always have room");
  const view = (src instanceof Float32Array ? new Float32Array(bytes.buffer, bytes.byteOffset, src.length) : new Uint16Array(bytes.buffer, bytes.byteOffset, src.length)) as A;
  view.set(src);
  return view;
}

interface Prepared {
  ctx: number;
  q: Float32Array;
  keys: Float32Array | Uint16Array;
  values: Float32Array | Uint16Array;
  want: Float32Array;
  bound: Float64Array;
}

/** Inputs, reference output and bounds per case and seed, computed once for all backends (the float64 bounds are the slow part). */
const prepared = new Map<string, Prepared>();

function prepare(c: Case, seed: number): Prepared {
  const key = `${JSON.stringify(c)} ${seed}`;
  const hit = prepared.get(key);
  if (hit) return hit;
  const rand = prng(seed);
  const { nHeads: H, nKvHeads: HKV, headDim: hd } = c.shape;
  const len = c.pos0 + c.T;
  const ctx = len + 3; // rows past the last position must not be read: fill them with NaN
  const KV = HKV * hd;
  const kf = gaussian(rand, ctx * KV);
  const vf = gaussian(rand, ctx * KV);
  kf.fill(NaN, len * KV);
  vf.fill(NaN, len * KV);
  const q = gaussian(rand, c.T * H * hd, c.qStd);
  let keys: Float32Array | Uint16Array = kf;
  let values: Float32Array | Uint16Array = vf;
  if (c.half) {
    keys = f32ArrayToF16(kf);
    values = f32ArrayToF16(vf);
    // the bound is about the values the cache holds
    for (let i = 0; i < kf.length; i++) kf[i] = f16ToF32(keys[i]);
    for (let i = 0; i < vf.length; i++) vf[i] = f16ToF32(values[i]);
  }
  const want = new Float32Array(c.T * H * hd);
  attention(want, q, keys, values, c.pos0, c.T, c.shape, new Float32Array(ctx));
  const p = { ctx, q, keys, values, want, bound: bounds(c, q, kf, vf) };
  prepared.set(key, p);
  return p;
}

/** Runs one case through the kernels and the reference; returns the largest error relative to the bound. */
function runCase(k: Kernels, c: Case, seed: number, inPlace: boolean): number {
  const H = c.shape.nHeads, hd = c.shape.headDim;
  const { ctx, q, keys, values, want, bound } = prepare(c, seed);
  const got = inPlace ? resident(k, new Float32Array(c.T * H * hd)) : new Float32Array(c.T * H * hd);
  // scores: the scratch the reference needs (a backend that sends a shape there uses it)
  if (inPlace) k.attention(got, resident(k, q), resident(k, keys), resident(k, values), c.pos0, c.T, c.shape, new Float32Array(ctx));
  else k.attention(got, q, keys, values, c.pos0, c.T, c.shape, new Float32Array(ctx));
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    assert.ok(err <= bound[i], `${JSON.stringify(c)} element ${i}: ${got[i]} vs ${want[i]}, error ${err} over the bound ${bound[i]}`);
    worst = Math.max(worst, err / bound[i]);
  }
  return worst;
}

const SHAPES: AttentionShape[] = [
  { nHeads: 4, nKvHeads: 4, headDim: 64 }, // MHA
  { nHeads: 8, nKvHeads: 4, headDim: 64 }, // GQA 2
  { nHeads: 8, nKvHeads: 2, headDim: 128 }, // GQA 4
  { nHeads: 20, nKvHeads: 5, headDim: 128 }, // BitNet b1.58 2B4T
];

for (const backend of BACKENDS) {
  test(`${backend.label}: attention within the stated bound over GQA 1/2/4, head 64/128, odd T, pos0 > 0, F32 and F16 caches`, () =>
    withKernels(backend, (k) => {
      let seed = 100;
      let worst = 0;
      for (const shape of SHAPES) {
        for (const [T, pos0] of [[1, 0], [7, 0], [5, 123], [33, 40], [1, 700]]) {
          for (const half of [false, true]) {
            worst = Math.max(worst, runCase(k, { shape, T, pos0, half, qStd: 1 }, seed++, seed % 2 === 0));
          }
        }
      }
      // Typical errors sit far inside the (worst-case) bound: about 0.6% of it on these cases.
      assert.ok(worst < 0.05, `largest error is ${worst} of the bound`);
    }));
}

for (const backend of BACKENDS.filter((b) => b.threads === 1)) {
  test(`${backend.label}: attention at contexts up to 2048, with peaked and flat softmaxes, in place and copied`, () =>
    withKernels(backend, (k) => {
      const shape = { nHeads: 8, nKvHeads: 2, headDim: 128 };
      let seed = 200;
      for (const [T, pos0] of [[3, 2045], [1, 2047], [9, 1500], [2, 1023]]) {
        for (const half of [false, true]) {
          for (const qStd of [0.2, 6]) runCase(k, { shape, T, pos0, half, qStd }, seed++, (seed & 2) === 0);
        }
      }
    }));

  test(`${backend.label}: head sizes the wasm kernel does not tile (not a multiple of 8) stay within the bound`, () =>
    withKernels(backend, (k) => {
      for (const [T, pos0] of [[3, 5], [1, 40]]) runCase(k, { shape: { nHeads: 4, nKvHeads: 2, headDim: 36 }, T, pos0, half: T === 1, qStd: 1 }, 300 + T, false);
    }));

  test(`${backend.label}: a NaN query gives NaN outputs for its head, as in the reference, and leaves the others alone`, () =>
    withKernels(backend, (k) => {
      const rand = prng(301);
      const shape = { nHeads: 4, nKvHeads: 1, headDim: 64 };
      const T = 2, pos0 = 3, KV = 64;
      const q = gaussian(rand, T * 4 * 64), keys = gaussian(rand, (pos0 + T) * KV), values = gaussian(rand, (pos0 + T) * KV);
      q[64 + 5] = NaN; // token 0, head 1
      const want = new Float32Array(T * 4 * 64), got = new Float32Array(T * 4 * 64);
      attention(want, q, keys, values, pos0, T, shape, new Float32Array(pos0 + T));
      k.attention(got, q, keys, values, pos0, T, shape, new Float32Array(pos0 + T));
      for (let i = 0; i < want.length; i++) {
        assert.equal(Number.isNaN(got[i]), Number.isNaN(want[i]), `element ${i}`);
        assert.equal(Number.isNaN(got[i]), i >= 64 && i < 128, `element ${i}`);
      }
    }));

  test(`${backend.label}: Inf and NaN in an F16 cache (K or V values past ±65504) come out where the reference puts them`, () =>
    withKernels(backend, (k) => {
      const rand = prng(302);
      const shape = { nHeads: 8, nKvHeads: 2, headDim: 64 };
      const KV = 128;
      for (const [T, pos0] of [[1, 9], [3, 7]]) {
        // decode (one tile per KV head: widened block by block) and prefill (widened up front)
        const len = pos0 + T;
        const keys = f32ArrayToF16(gaussian(rand, len * KV));
        const values = f32ArrayToF16(gaussian(rand, len * KV));
        values[2 * KV + 5] = 0x7c00; // +Inf at position 2, KV head 0, element 5
        keys[4 * KV + 64 + 3] = 0x7e00; // NaN at position 4, KV head 1
        const q = gaussian(rand, T * 8 * 64);
        const want = new Float32Array(T * 8 * 64), got = new Float32Array(T * 8 * 64);
        attention(want, q, keys, values, pos0, T, shape, new Float32Array(len));
        k.attention(got, q, keys, values, pos0, T, shape, new Float32Array(len));
        let special = 0;
        for (let i = 0; i < want.length; i++) {
          if (Number.isFinite(want[i])) continue;
          special++;
          assert.ok(Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i])), `T ${T} element ${i}: ${got[i]} vs ${want[i]}`);
        }
        assert.ok(special > 0);
        for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i])) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `T ${T} element ${i}: ${got[i]} vs ${want[i]}`);
      }
    }));
}

for (const backend of BACKENDS.filter((b) => b.batchInvariant)) {
  test(`${backend.label}: a prompt attended in chunks of any size gives each position the same bits as one call`, () =>
    withKernels(backend, (k) => {
      const rand = prng(303);
      for (const [shape, half] of [[{ nHeads: 20, nKvHeads: 5, headDim: 128 }, true], [{ nHeads: 4, nKvHeads: 4, headDim: 64 }, false], [{ nHeads: 6, nKvHeads: 2, headDim: 40 }, true]] as const) {
        const len = 45;
        const { nHeads: H, nKvHeads: HKV, headDim: hd } = shape;
        const kf = gaussian(rand, len * HKV * hd), vf = gaussian(rand, len * HKV * hd);
        const keys = half ? f32ArrayToF16(kf) : kf, values = half ? f32ArrayToF16(vf) : vf;
        const q = gaussian(rand, len * H * hd, 2);
        const whole = new Float32Array(len * H * hd);
        k.attention(whole, q, keys, values, 0, len, shape, new Float32Array(len));
        for (const chunk of [1, 2, 7, 16]) {
          const pieces = new Float32Array(len * H * hd);
          for (let p0 = 0; p0 < len; p0 += chunk) {
            const T = Math.min(chunk, len - p0);
            k.attention(pieces.subarray(p0 * H * hd), q.subarray(p0 * H * hd), keys, values, p0, T, shape, new Float32Array(len));
          }
          const d = firstBitDifference(whole, pieces, whole.length);
          assert.equal(d, -1, `H ${H}/${HKV} hd ${hd} ${half ? "f16" : "f32"} chunks of ${chunk}: element ${d} (position ${Math.floor(d / (H * hd))})`);
        }
      }
    }));
}

// The threaded wasm kernels share a prefill's attention tiles among their threads (attentionRange);
// every tile is computed by the code one thread runs, so the bits must be the single-threaded kernels'.
for (const backend of BACKENDS.filter((b) => b.kind === "wasm" && b.threads > 1)) {
  const single = BACKENDS.find((b) => b.kind === "wasm" && b.threads === 1 && backend.label.startsWith(b.label));
  if (!single) continue;
  test(`${backend.label}: a prefill's attention split across threads gives the bits of ${single.label}`, () =>
    withKernels(single, (one) =>
      withKernels(backend, (k) => {
        const rand = prng(404);
        for (const [shape, half] of [[{ nHeads: 20, nKvHeads: 5, headDim: 128 }, true], [{ nHeads: 4, nKvHeads: 4, headDim: 64 }, false], [{ nHeads: 6, nKvHeads: 2, headDim: 40 }, true]] as const) {
          for (const [T, pos0] of [[2, 0], [7, 0], [33, 40], [130, 5]]) {
            const { nHeads: H, nKvHeads: HKV, headDim: hd } = shape;
            const len = pos0 + T;
            const kf = gaussian(rand, len * HKV * hd), vf = gaussian(rand, len * HKV * hd);
            const keys = half ? f32ArrayToF16(kf) : kf, values = half ? f32ArrayToF16(vf) : vf;
            const q = gaussian(rand, T * H * hd, 2);
            const want = new Float32Array(T * H * hd);
            const got = new Float32Array(T * H * hd);
            one.attention(want, q, keys, values, pos0, T, shape, new Float32Array(len));
            const pool = (k as { pool?: { splitJobs: number } }).pool;
            const split = pool?.splitJobs ?? 0;
            k.attention(got, q, keys, values, pos0, T, shape, new Float32Array(len));
            // one tile per KV head (decode-sized) stays on the calling thread
            assert.equal(pool?.splitJobs, split + (T * (H / HKV) > 4 ? 1 : 0), `H ${H}/${HKV} T ${T}: whether the attention ran on the pool`);
            const d = firstBitDifference(want, got, want.length);
            assert.equal(d, -1, `H ${H}/${HKV} hd ${hd} ${half ? "f16" : "f32"} T ${T} pos0 ${pos0}: element ${d}`);
          }
        }
      })));
}
