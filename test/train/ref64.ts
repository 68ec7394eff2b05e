/**
 * Float64 reference implementations written from SPEC §1 for the trainer's tests, independent of
 * src/train (no imports from it except the config type): every layer, the quantizers, and the whole
 * model. Plain loops, no buffers reused, nothing clever. Also the finite-difference and closeness
 * helpers the tests share.
 */

import assert from "node:assert/strict";
import type { TrainConfig } from "../../src/train/config.ts";

export type F64 = Float64Array;

/** Round half to even, written independently of src/quant/round.ts. */
export function rhe(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export function rmsnorm64(x: F64, g: ArrayLike<number>, N: number, C: number, eps: number): F64 {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let i = 0; i < C; i++) ss += x[n * C + i] ** 2;
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let i = 0; i < C; i++) y[n * C + i] = x[n * C + i] * r * g[i];
  }
  return y;
}

/** y[n,o] = Σ_i x[n,i]·W[o,i]. */
export function linear64(x: ArrayLike<number>, W: ArrayLike<number>, N: number, I: number, O: number): F64 {
  const y = new Float64Array(N * O);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) {
    let s = 0;
    for (let i = 0; i < I; i++) s += x[n * I + i] * W[o * I + i];
    y[n * O + o] = s;
  }
  return y;
}

/** NEOX RoPE: in each head, pair (i, i + hd/2) rotated by t / θ^(2i/hd); rows are b·T + t. */
export function rope64(x: ArrayLike<number>, B: number, T: number, H: number, hd: number, theta: number): F64 {
  const y = Float64Array.from(x);
  const half = hd / 2;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) {
    const base = (b * T + t) * H * hd + h * hd;
    for (let i = 0; i < half; i++) {
      const ang = t / Math.pow(theta, (2 * i) / hd);
      const x0 = x[base + i];
      const x1 = x[base + i + half];
      y[base + i] = x0 * Math.cos(ang) - x1 * Math.sin(ang);
      y[base + i + half] = x0 * Math.sin(ang) + x1 * Math.cos(ang);
    }
  }
  return y;
}

/** Causal GQA attention: query head h uses kv head floor(h·Hk/Hq). */
export function attention64(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, B: number, T: number, Hq: number, Hk: number, hd: number): F64 {
  const out = new Float64Array(B * T * Hq * hd);
  for (let b = 0; b < B; b++) for (let h = 0; h < Hq; h++) {
    const kh = Math.floor((h * Hk) / Hq);
    for (let t = 0; t < T; t++) {
      const scores: number[] = [];
      for (let u = 0; u <= t; u++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[(b * T + t) * Hq * hd + h * hd + d] * k[(b * T + u) * Hk * hd + kh * hd + d];
        scores.push(s / Math.sqrt(hd));
      }
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, c) => a + c, 0);
      for (let d = 0; d < hd; d++) {
        let s = 0;
        for (let u = 0; u <= t; u++) s += (e[u] / z) * v[(b * T + u) * Hk * hd + kh * hd + d];
        out[(b * T + t) * Hq * hd + h * hd + d] = s;
      }
    }
  }
  return out;
}

export function gatedAct64(g: ArrayLike<number>, u: ArrayLike<number>, act: "silu" | "relu2"): F64 {
  const y = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const a = act === "silu" ? g[i] / (1 + Math.exp(-g[i])) : Math.max(g[i], 0) ** 2;
    y[i] = a * u[i];
  }
  return y;
}

/** Mean over targets ≥ 0 of −log softmax(logits)[target]. */
export function crossEntropy64(logits: ArrayLike<number>, targets: ArrayLike<number>, N: number, V: number): number {
  let total = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    if (targets[n] < 0) continue;
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, logits[n * V + i]);
    let z = 0;
    for (let i = 0; i < V; i++) z += Math.exp(logits[n * V + i] - m);
    total += Math.log(z) + m - logits[n * V + targets[n]];
    count++;
  }
  return total / count;
}

/** SPEC §1 absmean: γ = max(mean|W|, 1e-5), codes = clamp(rhe(W/γ), −1, 1). */
export function absmean64(W: ArrayLike<number>): { codes: F64; gamma: number } {
  let s = 0;
  for (let i = 0; i < W.length; i++) s += Math.abs(W[i]);
  const gamma = Math.max(s / W.length, 1e-5);
  const codes = new Float64Array(W.length);
  for (let i = 0; i < W.length; i++) codes[i] = Math.min(1, Math.max(-1, rhe(W[i] / gamma)));
  return { codes, gamma };
}

/** SPEC §1 absmax per row: s = 127/max(max|x|, 1e-5), q = clamp(rhe(x·s), −128, 127). */
export function absmax64(x: ArrayLike<number>, N: number, I: number): { q: F64; s: F64 } {
  const q = new Float64Array(N * I);
  const s = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let i = 0; i < I; i++) m = Math.max(m, Math.abs(x[n * I + i]));
    s[n] = 127 / Math.max(m, 1e-5);
    for (let i = 0; i < I; i++) q[n * I + i] = Math.min(127, Math.max(-128, rhe(x[n * I + i] * s[n])));
  }
  return { q, s };
}

/** BitLinear forward per SPEC §1: y = (Σ W̃·x̃)·γ/s. */
export function bitlinear64(x: ArrayLike<number>, W: ArrayLike<number>, N: number, I: number, O: number): F64 {
  const { codes, gamma } = absmean64(W);
  const { q, s } = absmax64(x, N, I);
  const acc = linear64(q, codes, N, I, O);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) acc[n * O + o] = (acc[n * O + o] * gamma) / s[n];
  return acc;
}

/** Parameters by GGUF name (without ".weight"), as float64. */
export type Params64 = Map<string, F64>;

/**
 * The straight-through surrogate of a ternary model: per BitLinear call, the offsets δx = x_q − x and
 * δW = W_q − W. Recorded at one point (`record`), then held fixed, the model
 * y = (x + δx)·(W + δW)ᵀ is smooth and its finite differences ARE the STE gradient
 * (x_q = x + stopgrad(quant(x) − x), SPEC §1).
 */
export interface SteOffsets {
  record: boolean;
  offsets: Map<string, { dx: F64; dw: F64 }>;
}

/**
 * The whole model (SPEC §1 "Block"), float64. Returns the logits [N, V] and, with targets, the loss.
 * In ternary mode with `ste`, BitLinears use recorded/frozen STE offsets instead of re-quantizing.
 */
export function model64(c: TrainConfig, P: Params64, inputs: ArrayLike<number>, targets: ArrayLike<number> | null, B: number, T: number, ste?: SteOffsets): { logits: F64; loss: number } {
  const N = B * T;
  const D = c.dim;
  const F = c.ffnDim;
  const V = c.vocabSize;
  const hd = D / c.nHeads;
  const KV = c.nKvHeads * hd;
  const get = (n: string): F64 => {
    const t = P.get(n);
    assert.ok(t, n);
    return t;
  };
  const lin = (x: F64, name: string, I: number, O: number): F64 => {
    const W = get(name);
    if (c.weights === "fp") return linear64(x, W, N, I, O);
    if (ste === undefined) return bitlinear64(x, W, N, I, O);
    if (ste.record) {
      const { codes, gamma } = absmean64(W);
      const { q, s } = absmax64(x, N, I);
      const dw = W.map((w, i) => codes[i] * gamma - w);
      const dx = x.map((v, i) => q[i] / s[Math.floor(i / I)] - v);
      ste.offsets.set(name, { dx, dw });
    }
    const off = ste.offsets.get(name);
    assert.ok(off, `no STE offsets for ${name}`);
    return linear64(x.map((v, i) => v + off.dx[i]), W.map((w, i) => w + off.dw[i]), N, I, O);
  };
  const E = get("token_embd");
  let x = new Float64Array(N * D);
  for (let n = 0; n < N; n++) for (let i = 0; i < D; i++) x[n * D + i] = E[inputs[n] * D + i];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blk.${l}.`;
    const n1 = rmsnorm64(x, get(p + "attn_norm"), N, D, c.normEps);
    const q = rope64(lin(n1, p + "attn_q", D, D), B, T, c.nHeads, hd, c.ropeTheta);
    const k = rope64(lin(n1, p + "attn_k", D, KV), B, T, c.nKvHeads, hd, c.ropeTheta);
    const v = lin(n1, p + "attn_v", D, KV);
    const a = attention64(q, k, v, B, T, c.nHeads, c.nKvHeads, hd);
    const o = lin(rmsnorm64(a, get(p + "attn_sub_norm"), N, D, c.normEps), p + "attn_output", D, D);
    const h = x.map((xv, i) => xv + o[i]);
    const n2 = rmsnorm64(h, get(p + "ffn_norm"), N, D, c.normEps);
    const m = gatedAct64(lin(n2, p + "ffn_gate", D, F), lin(n2, p + "ffn_up", D, F), c.activation);
    const d = lin(rmsnorm64(m, get(p + "ffn_sub_norm"), N, F, c.normEps), p + "ffn_down", F, D);
    x = h.map((hv, i) => hv + d[i]);
  }
  const logits = linear64(rmsnorm64(x, get("output_norm"), N, D, c.normEps), E, N, D, V);
  return { logits, loss: targets === null ? NaN : crossEntropy64(logits, targets, N, V) };
}

/** Seeded uniform floats in [-a, a), rounded to float32 so both precisions see the same inputs. */
export function randomF32(n: number, seed: number, a = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * a;
  }
  return out;
}

/** Central difference of f at x[i] (x is restored). */
export function centralDiff(f: () => number, x: F64, i: number, h: number): number {
  const x0 = x[i];
  x[i] = x0 + h;
  const fp = f();
  x[i] = x0 - h;
  const fm = f();
  x[i] = x0;
  return (fp - fm) / (2 * h);
}

/** Σ r ⊙ y: turns a vector output into the scalar a gradient check differentiates. */
export function dot64(r: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += r[i] * y[i];
  return s;
}

/**
 * Every element: |actual − expected| ≤ rtol·max_j |expected_j| + rtol·|expected_i|.
 * (Scaled by the largest expected value, so elements near 0 are judged by the array's scale.)
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  assert.ok(scale > 0, `${label}: expected values are all zero, the check would be empty`);
  for (let i = 0; i < expected.length; i++) {
    const tol = rtol * (scale + Math.abs(expected[i]));
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${label}[${i}]: got ${actual[i]}, expected ${expected[i]} (tol ${tol.toExponential(2)})`);
  }
}

/** Finite-difference gradient of f with respect to every element of x (float64, step h). */
export function fdGradient(f: () => number, x: F64, h = 1e-6): F64 {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) g[i] = centralDiff(f, x, i, h);
  return g;
}
