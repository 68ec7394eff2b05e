/**
 * An independent float64 re-implementation of a BitNet b1.58 forward pass, written from SPEC §1 only,
 * for tests. It shares no code with src/model or src/kernels: weights arrive as plain dequantized
 * Float64Arrays, and every op is the textbook formula, computed without cache or batching
 * (each position recomputes attention over all earlier positions).
 */

export interface RefLayer {
  attn_norm: Float64Array;
  attn_q: Float64Array; // [out, in] row-major, dequantized
  attn_k: Float64Array;
  attn_v: Float64Array;
  attn_sub_norm: Float64Array | null;
  attn_output: Float64Array;
  ffn_norm: Float64Array;
  ffn_gate: Float64Array;
  ffn_up: Float64Array;
  ffn_sub_norm: Float64Array | null;
  ffn_down: Float64Array;
}

export interface RefModel {
  dim: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  eps: number;
  theta: number;
  act: "silu" | "relu2";
  /** "token": BitNet absmax per token; "block256": absmax per 256 values (llama.cpp's Q8_K); "none": float linear layers. */
  actQuant: "token" | "block256" | "none";
  embd: Float64Array; // [vocab, dim]
  outputNorm: Float64Array;
  output: Float64Array; // [vocab, dim]
  layers: RefLayer[];
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function rmsnorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * w[i]);
}

/** Absmax int8 fake-quantization of x in groups of `group` values: q/s with s = 127/max(max|x|, 1e-5). */
function fakeQuant(x: Float64Array, group: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let g = 0; g < x.length; g += group) {
    let amax = 0;
    for (let i = g; i < g + group; i++) amax = Math.max(amax, Math.abs(x[i]));
    const s = 127 / Math.max(amax, 1e-5);
    for (let i = g; i < g + group; i++) out[i] = Math.min(127, Math.max(-128, roundHalfEven(x[i] * s))) / s;
  }
  return out;
}

/** y = W x, with x quantized to int8 first when the model says so (SPEC §1 "BitLinear output"). */
function linear(W: Float64Array, x: Float64Array, quant: RefModel["actQuant"]): Float64Array {
  const n = x.length;
  const out = new Float64Array(W.length / n);
  const xs = quant === "none" ? x : fakeQuant(x, quant === "token" ? n : 256);
  for (let r = 0; r < out.length; r++) {
    let acc = 0;
    for (let c = 0; c < n; c++) acc += W[r * n + c] * xs[c];
    out[r] = acc;
  }
  return out;
}

function ropeNeox(v: Float64Array, heads: number, hd: number, pos: number, theta: number): void {
  const half = hd / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const ang = pos * Math.pow(theta, (-2 * i) / hd);
      const a = h * hd + i;
      const b = a + half;
      const x0 = v[a];
      const x1 = v[b];
      v[a] = x0 * Math.cos(ang) - x1 * Math.sin(ang);
      v[b] = x0 * Math.sin(ang) + x1 * Math.cos(ang);
    }
  }
}

/** Logits after each of `tokens`, [T][vocab]. */
export function referenceForward(m: RefModel, tokens: number[]): Float64Array[] {
  const hd = m.dim / m.heads;
  const group = m.heads / m.kvHeads;
  const keys: Float64Array[][] = m.layers.map(() => []);
  const values: Float64Array[][] = m.layers.map(() => []);
  const result: Float64Array[] = [];
  for (let pos = 0; pos < tokens.length; pos++) {
    let x: Float64Array = m.embd.slice(tokens[pos] * m.dim, (tokens[pos] + 1) * m.dim);
    m.layers.forEach((L, l) => {
      const n1 = rmsnorm(x, L.attn_norm, m.eps);
      const q = linear(L.attn_q, n1, m.actQuant);
      const k = linear(L.attn_k, n1, m.actQuant);
      const v = linear(L.attn_v, n1, m.actQuant);
      ropeNeox(q, m.heads, hd, pos, m.theta);
      ropeNeox(k, m.kvHeads, hd, pos, m.theta);
      keys[l].push(k);
      values[l].push(v);
      let att: Float64Array = new Float64Array(m.dim);
      for (let h = 0; h < m.heads; h++) {
        const kh = Math.floor(h / group);
        const scores = keys[l].map((kk) => {
          let s = 0;
          for (let i = 0; i < hd; i++) s += q[h * hd + i] * kk[kh * hd + i];
          return s / Math.sqrt(hd);
        });
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, b) => a + b, 0);
        for (let p = 0; p < e.length; p++) for (let i = 0; i < hd; i++) att[h * hd + i] += (e[p] / z) * values[l][p][kh * hd + i];
      }
      if (L.attn_sub_norm) att = rmsnorm(att, L.attn_sub_norm, m.eps);
      const o = linear(L.attn_output, att, m.actQuant);
      const hres = x.map((xv, i) => xv + o[i]);
      const n2 = rmsnorm(hres, L.ffn_norm, m.eps);
      const g = linear(L.ffn_gate, n2, m.actQuant);
      const u = linear(L.ffn_up, n2, m.actQuant);
      let a: Float64Array = g.map((gv, i) => (m.act === "silu" ? gv / (1 + Math.exp(-gv)) : Math.max(gv, 0) ** 2) * u[i]);
      if (L.ffn_sub_norm) a = rmsnorm(a, L.ffn_sub_norm, m.eps);
      const d = linear(L.ffn_down, a, m.actQuant);
      x = hres.map((hv, i) => hv + d[i]);
    });
    const xn = rmsnorm(x, m.outputNorm, m.eps);
    result.push(linear(m.output, xn, "none"));
  }
  return result;
}
