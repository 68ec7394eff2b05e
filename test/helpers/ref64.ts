/**
 * The float64 reference of BitNet b1.58 that the inference tests and the training tests share: SPEC §1
 * re-implemented from the spec alone, independent of src/model, src/kernels and src/train (the only import
 * is the training config's type). Plain loops, nothing reused or cached, nothing clever.
 *
 * Layers work on row-major batches: N = B·T rows, row b·T + t is position t of sequence b. `forward64` runs
 * the whole model as one causal batch with every BitLinear call left to the caller, and two models are built
 * on it:
 * - `referenceForward` for inference tests: dequantized weights (as read from a GGUF or HF file), activations
 *   quantized per token (BitNet), per 256 values (llama.cpp's Q8_K blocks) or not at all. Attention has no KV
 *   cache: position t attends to the keys and values of positions 0..t computed in the same pass, which gives
 *   the logits after every prefix at once.
 * - `model64` for training tests: latent weights by GGUF name, BitLinear re-quantizing them (ternary) or not
 *   (fp), optionally with frozen straight-through offsets, and the loss.
 *
 * Exact .5 ties: every quantizer rounds half to even in float64 (`rhe`), as torch and bitnet.cpp do.
 * Finite differences and closeness checks are in finite-diff.ts and compare.ts; seeded data in prng.ts.
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

// ---- Layers ----------------------------------------------------------------------------------------------

/** RMSNorm with a gain, per row of C values. */
export function rmsnorm64(x: ArrayLike<number>, g: ArrayLike<number>, N: number, C: number, eps: number): F64 {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let i = 0; i < C; i++) ss += x[n * C + i] * x[n * C + i];
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

/** NEOX RoPE: in each head, pair (i, i + hd/2) rotated by t·θ^(−2i/hd) at position t; rows are b·T + t. */
export function rope64(x: ArrayLike<number>, B: number, T: number, H: number, hd: number, theta: number): F64 {
  const y = Float64Array.from(x);
  const half = hd / 2;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) {
    const base = (b * T + t) * H * hd + h * hd;
    for (let i = 0; i < half; i++) {
      const ang = t * Math.pow(theta, (-2 * i) / hd);
      const x0 = x[base + i];
      const x1 = x[base + i + half];
      y[base + i] = x0 * Math.cos(ang) - x1 * Math.sin(ang);
      y[base + i + half] = x0 * Math.sin(ang) + x1 * Math.cos(ang);
    }
  }
  return y;
}

/** Causal GQA attention, softmax(q·k/√hd)·v over positions 0..t: query head h uses kv head floor(h·Hk/Hq). */
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

/** act(gate) ⊙ up, with act SiLU or ReLU². */
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

// ---- Quantizers and BitLinear ----------------------------------------------------------------------------

/** SPEC §1 absmean: γ = max(mean|W|, 1e-5), codes = clamp(rhe(W/γ), −1, 1). */
export function absmean64(W: ArrayLike<number>): { codes: F64; gamma: number } {
  let s = 0;
  for (let i = 0; i < W.length; i++) s += Math.abs(W[i]);
  const gamma = Math.max(s / W.length, 1e-5);
  const codes = new Float64Array(W.length);
  for (let i = 0; i < W.length; i++) codes[i] = Math.min(1, Math.max(-1, rhe(W[i] / gamma)));
  return { codes, gamma };
}

/**
 * SPEC §1 absmax per row of I values: s = 127/max(max|x|, 1e-5), q = clamp(rhe(x·s), −128, 127). A row is a
 * token; llama.cpp's 256-value blocks are rows of 256 (N·I/256 of them).
 */
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

/** The activation a BitLinear sees: absmax int8 codes per row of I values, divided back by their scale. */
export function fakeQuant64(x: ArrayLike<number>, N: number, I: number): F64 {
  const { q, s } = absmax64(x, N, I);
  return q.map((v, i) => v / s[Math.floor(i / I)]);
}

/** BitLinear forward per SPEC §1: y = (Σ W̃·x̃)·γ/s, the sum taken over the integer codes. */
export function bitlinear64(x: ArrayLike<number>, W: ArrayLike<number>, N: number, I: number, O: number): F64 {
  const { codes, gamma } = absmean64(W);
  const { q, s } = absmax64(x, N, I);
  const acc = linear64(q, codes, N, I, O);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) acc[n * O + o] = (acc[n * O + o] * gamma) / s[n];
  return acc;
}

// ---- The model -------------------------------------------------------------------------------------------

/** One block's weights, named as in GGUF. Matrices are [out, in] row-major. */
export interface RefLayer {
  attn_norm: F64;
  attn_q: F64;
  attn_k: F64;
  attn_v: F64;
  attn_sub_norm: F64 | null;
  attn_output: F64;
  ffn_norm: F64;
  ffn_gate: F64;
  ffn_up: F64;
  ffn_sub_norm: F64 | null;
  ffn_down: F64;
}

/** Sizes, switches and weights of a model. */
export interface RefWeights {
  dim: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  eps: number;
  theta: number;
  act: "silu" | "relu2";
  embd: F64; // [vocab, dim]
  outputNorm: F64;
  output: F64; // [vocab, dim]
  layers: RefLayer[];
}

/** One linear-layer call: y[N, O] = x[N, I] through W[O, I]; `name` is the weight's GGUF name ("blk.0.attn_q"). */
export type Linear64 = (x: F64, W: F64, name: string, N: number, I: number, O: number) => F64;

/**
 * SPEC §1 "Block" for every layer, then the final norm and the float head: logits [B·T, vocab] for `tokens`
 * [B·T]. Every q, k, v, o, gate, up and down goes through `lin`; sub-norms that are null are skipped.
 */
export function forward64(m: RefWeights, tokens: ArrayLike<number>, B: number, T: number, lin: Linear64): F64 {
  const N = B * T;
  const D = m.dim;
  const F = m.ffn;
  const hd = D / m.heads;
  const KV = m.kvHeads * hd;
  let x = new Float64Array(N * D);
  for (let n = 0; n < N; n++) for (let i = 0; i < D; i++) x[n * D + i] = m.embd[tokens[n] * D + i];
  m.layers.forEach((L, l) => {
    const p = `blk.${l}.`;
    const n1 = rmsnorm64(x, L.attn_norm, N, D, m.eps);
    const q = rope64(lin(n1, L.attn_q, p + "attn_q", N, D, D), B, T, m.heads, hd, m.theta);
    const k = rope64(lin(n1, L.attn_k, p + "attn_k", N, D, KV), B, T, m.kvHeads, hd, m.theta);
    const v = lin(n1, L.attn_v, p + "attn_v", N, D, KV);
    let a = attention64(q, k, v, B, T, m.heads, m.kvHeads, hd);
    if (L.attn_sub_norm) a = rmsnorm64(a, L.attn_sub_norm, N, D, m.eps);
    const o = lin(a, L.attn_output, p + "attn_output", N, D, D);
    const h = x.map((xv, i) => xv + o[i]);
    const n2 = rmsnorm64(h, L.ffn_norm, N, D, m.eps);
    let g = gatedAct64(lin(n2, L.ffn_gate, p + "ffn_gate", N, D, F), lin(n2, L.ffn_up, p + "ffn_up", N, D, F), m.act);
    if (L.ffn_sub_norm) g = rmsnorm64(g, L.ffn_sub_norm, N, F, m.eps);
    const d = lin(g, L.ffn_down, p + "ffn_down", N, F, D);
    x = h.map((hv, i) => hv + d[i]);
  });
  return linear64(rmsnorm64(x, m.outputNorm, N, D, m.eps), m.output, N, D, m.vocab);
}

// ---- Inference: dequantized weights, quantized activations -----------------------------------------------

/** An inference model: dequantized weights and how its BitLinears quantize their input. */
export interface RefModel extends RefWeights {
  /** "token": BitNet absmax per token; "block256": absmax per 256 values (llama.cpp's Q8_K); "none": float linear layers. */
  actQuant: "token" | "block256" | "none";
}

/** y = W·x̃ with the dequantized W, x̃ quantized to int8 first as the model says (SPEC §1 "BitLinear output"). */
function dequantizedLinear(actQuant: RefModel["actQuant"]): Linear64 {
  return (x, W, name, N, I, O) => {
    if (actQuant === "none") return linear64(x, W, N, I, O);
    if (actQuant === "token") return linear64(fakeQuant64(x, N, I), W, N, I, O);
    assert.equal(I % 256, 0, `${name}: block256 quantization needs an input width divisible by 256, got ${I}`);
    return linear64(fakeQuant64(x, (N * I) / 256, 256), W, N, I, O);
  };
}

/** Logits after each of `tokens`, [T][vocab]. */
export function referenceForward(m: RefModel, tokens: number[]): F64[] {
  const T = tokens.length;
  const logits = forward64(m, tokens, 1, T, dequantizedLinear(m.actQuant));
  return Array.from({ length: T }, (_, t) => logits.slice(t * m.vocab, (t + 1) * m.vocab));
}

// ---- Training: latent weights by name, STE -----------------------------------------------------------------

/** Parameters by GGUF name (without ".weight"), as float64. */
export type Params64 = Map<string, F64>;

/** Float64 copies of a parameter set's tensors (anything with a `byName` map, e.g. src/train's ParamSet). */
export function params64(p: { byName: ReadonlyMap<string, ArrayLike<number>> }): Params64 {
  const P: Params64 = new Map();
  for (const [name, view] of p.byName) P.set(name, Float64Array.from(view));
  return P;
}

/** Float64 copies of p's tensors moved by eps·dir (dir indexes p.data): a point on a line for directional finite differences. */
export function params64Along(p: { data: ArrayLike<number>; layout: readonly { name: string; offset: number; size: number }[] }, dir: ArrayLike<number>, eps: number): Params64 {
  const P: Params64 = new Map();
  for (const s of p.layout) P.set(s.name, Float64Array.from({ length: s.size }, (_, i) => p.data[s.offset + i] + eps * dir[s.offset + i]));
  return P;
}

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

/** The training model's weights as a RefWeights (tied head), each tensor looked up by name. */
export function trainWeights64(c: TrainConfig, P: Params64): RefWeights {
  const get = (n: string): F64 => {
    const t = P.get(n);
    assert.ok(t, n);
    return t;
  };
  const layers: RefLayer[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blk.${l}.`;
    layers.push({
      attn_norm: get(p + "attn_norm"), attn_q: get(p + "attn_q"), attn_k: get(p + "attn_k"), attn_v: get(p + "attn_v"),
      attn_sub_norm: get(p + "attn_sub_norm"), attn_output: get(p + "attn_output"), ffn_norm: get(p + "ffn_norm"),
      ffn_gate: get(p + "ffn_gate"), ffn_up: get(p + "ffn_up"), ffn_sub_norm: get(p + "ffn_sub_norm"), ffn_down: get(p + "ffn_down"),
    });
  }
  const embd = get("token_embd");
  return {
    dim: c.dim, ffn: c.ffnDim, heads: c.nHeads, kvHeads: c.nKvHeads, vocab: c.vocabSize, eps: c.normEps, theta: c.ropeTheta,
    act: c.activation, embd, outputNorm: get("output_norm"), output: embd, layers,
  };
}

/** The training BitLinear: float for fp weights, SPEC §1 for ternary ones. */
export function trainLinear64(weights: TrainConfig["weights"]): Linear64 {
  return (x, W, _name, N, I, O) => (weights === "fp" ? linear64(x, W, N, I, O) : bitlinear64(x, W, N, I, O));
}

/** The BitLinears of the STE surrogate: offsets recorded at this call or replayed from an earlier one. */
function steLinear(ste: SteOffsets): Linear64 {
  return (x, W, name, N, I, O) => {
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
}

/**
 * The whole training model (SPEC §1 "Block"), float64. Returns the logits [N, V] and, with targets, the loss.
 * In ternary mode with `ste`, BitLinears use recorded/frozen STE offsets instead of re-quantizing.
 */
export function model64(c: TrainConfig, P: Params64, inputs: ArrayLike<number>, targets: ArrayLike<number> | null, B: number, T: number, ste?: SteOffsets): { logits: F64; loss: number } {
  const lin = c.weights === "ternary" && ste !== undefined ? steLinear(ste) : trainLinear64(c.weights);
  const logits = forward64(trainWeights64(c, P), inputs, B, T, lin);
  return { logits, loss: targets === null ? NaN : crossEntropy64(logits, targets, B * T, c.vocabSize) };
}
