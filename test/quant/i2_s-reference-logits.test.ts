// End-to-end check of the I2_S decoder against bitnet.cpp itself: a small float64 forward pass of the
// bitnet-b1.58 architecture, written here from SPEC §1 (attn/ffn sub-norms, ReLU², NEOX RoPE θ 500000,
// GQA, tied head, per-token int8 activations), run on weights decoded by our I2_S codec, must reproduce
// bitnet.cpp's logits (bitnet-b158-tiny-i2_s.ref.json) within a few hundredths, teacher-forced.
// The same pass on the other layout bitnet.cpp can build (four rows interleaved per byte, its non-default
// non-ACT_PARALLEL branch) must not: that pins the 128-value block layout down from the outside.
// This is a decoder test, not the engine: src/model has its own forward pass and tests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { i2_s } from "../../src/quant/codecs/i2_s.ts";
import { quantizeAbsmaxRows } from "../../src/quant/absmax.ts";
import { f32Of, FIXTURES, readFixture, type FixtureTensor } from "./fixtures.ts";

const tensors = await readFixture("bitnet-b158-tiny-i2_s.gguf");
const ref = JSON.parse(readFileSync(`${FIXTURES}/bitnet-b158-tiny-i2_s.ref.json`, "utf8")) as {
  prompt: number[];
  greedy: number[];
  step_logits: number[][];
};
// From the fixture README and its metadata (rms eps is stored as float32 1e-5).
const E = 256, HEADS = 4, KV_HEADS = 1, HD = 64, VOCAB = 512, LAYERS = 2, EPS = Math.fround(1e-5), THETA = 500000;

interface Mat { w: Float64Array; rows: number; cols: number }
type Decode = (t: FixtureTensor) => Float32Array;

const blockLayout: Decode = (t) => i2_s.dequantize(t.bytes, t.shape, t.name);
/** bitnet.cpp's non-default layout: byte (g, c) = q[4g][c]<<6 | q[4g+1][c]<<4 | q[4g+2][c]<<2 | q[4g+3][c]. */
const rowInterleaved: Decode = (t) => {
  const [cols, rows] = t.shape;
  const scale = i2_s.unpack(t.bytes, t.shape).scales[0];
  const v = new Float32Array(rows * cols);
  for (let g = 0; g < rows / 4; g++) {
    for (let c = 0; c < cols; c++) {
      for (let k = 0; k < 4; k++) v[(4 * g + k) * cols + c] = (((t.bytes[g * cols + c] >> (6 - 2 * k)) & 3) - 1) * scale;
    }
  }
  return v;
};

function loadMat(name: string, decode: Decode): Mat {
  const t = tensors.get(name)!;
  const [cols, rows] = t.shape;
  return { w: Float64Array.from(t.type === 0 ? f32Of(t) : decode(t)), rows, cols };
}
const vec = (name: string) => Float64Array.from(f32Of(tensors.get(name)!));

/** BitLinear with per-token absmax int8 activations: y = (W·q) / s, W already scaled by its γ. */
function bitlinear(m: Mat, x: Float64Array): Float64Array {
  const { q, scales } = quantizeAbsmaxRows(Float32Array.from(x), 1, m.cols);
  const out = new Float64Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    let s = 0;
    for (let c = 0; c < m.cols; c++) s += m.w[r * m.cols + c] * q[c];
    out[r] = s / scales[0];
  }
  return out;
}

function rmsnorm(x: Float64Array, g: Float64Array): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const k = 1 / Math.sqrt(ss / x.length + EPS);
  return x.map((v, i) => v * k * g[i]);
}

function rope(x: Float64Array, heads: number, pos: number): void {
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < HD / 2; i++) {
      const angle = pos / THETA ** ((2 * i) / HD);
      const a = x[h * HD + i], b = x[h * HD + i + HD / 2];
      x[h * HD + i] = a * Math.cos(angle) - b * Math.sin(angle);
      x[h * HD + i + HD / 2] = a * Math.sin(angle) + b * Math.cos(angle);
    }
  }
}

/** Logits at every position of `tokens`. */
function forward(tokens: number[], decode: Decode): Float64Array[] {
  const emb = loadMat("token_embd.weight", decode);
  const layers = Array.from({ length: LAYERS }, (_, l) => {
    const m = (n: string) => loadMat(`blk.${l}.${n}.weight`, decode);
    return {
      attnNorm: vec(`blk.${l}.attn_norm.weight`), q: m("attn_q"), k: m("attn_k"), v: m("attn_v"),
      attnSubNorm: vec(`blk.${l}.attn_sub_norm.weight`), o: m("attn_output"), ffnNorm: vec(`blk.${l}.ffn_norm.weight`),
      gate: m("ffn_gate"), up: m("ffn_up"), ffnSubNorm: vec(`blk.${l}.ffn_sub_norm.weight`), down: m("ffn_down"),
    };
  });
  const outNorm = vec("output_norm.weight");
  const keys: Float64Array[][] = layers.map(() => []);
  const values: Float64Array[][] = layers.map(() => []);
  const all: Float64Array[] = [];
  tokens.forEach((tok, pos) => {
    let x = emb.w.slice(tok * E, tok * E + E);
    layers.forEach((w, l) => {
      const n1 = rmsnorm(x, w.attnNorm);
      const q = bitlinear(w.q, n1), k = bitlinear(w.k, n1), v = bitlinear(w.v, n1);
      rope(q, HEADS, pos);
      rope(k, KV_HEADS, pos);
      keys[l].push(k);
      values[l].push(v);
      const att = new Float64Array(E);
      for (let h = 0; h < HEADS; h++) {
        const kvh = Math.floor(h / (HEADS / KV_HEADS));
        const scores = keys[l].map((kk) => {
          let s = 0;
          for (let i = 0; i < HD; i++) s += q[h * HD + i] * kk[kvh * HD + i];
          return s / Math.sqrt(HD);
        });
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, b) => a + b, 0);
        e.forEach((p, t) => {
          for (let i = 0; i < HD; i++) att[h * HD + i] += (p / z) * values[l][t][kvh * HD + i];
        });
      }
      const o = bitlinear(w.o, rmsnorm(att, w.attnSubNorm));
      x = x.map((xv, i) => xv + o[i]);
      const n2 = rmsnorm(x, w.ffnNorm);
      const g = bitlinear(w.gate, n2), u = bitlinear(w.up, n2);
      const hidden = g.map((gv, i) => Math.max(gv, 0) ** 2 * u[i]);
      const d = bitlinear(w.down, rmsnorm(hidden, w.ffnSubNorm));
      x = x.map((xv, i) => xv + d[i]);
    });
    const xf = rmsnorm(x, outNorm);
    const logits = new Float64Array(VOCAB);
    for (let t = 0; t < VOCAB; t++) {
      let s = 0;
      for (let i = 0; i < E; i++) s += emb.w[t * E + i] * xf[i];
      logits[t] = s;
    }
    all.push(logits);
  });
  return all;
}

const STEPS = 4;
const tokens = [...ref.prompt, ...ref.greedy.slice(0, STEPS - 1)];

function worstDiff(decode: Decode): number {
  const logits = forward(tokens, decode);
  let worst = 0;
  for (let s = 0; s < STEPS; s++) {
    const got = logits[ref.prompt.length - 1 + s];
    ref.step_logits[s].forEach((want, i) => (worst = Math.max(worst, Math.abs(got[i] - want))));
  }
  return worst;
}

test("I2_S weights decoded with the 128-value block layout reproduce bitnet.cpp's logits (teacher-forced, 4 steps)", () => {
  const worst = worstDiff(blockLayout);
  assert.ok(worst < 0.1, `max |Δlogit| = ${worst}`);
});

test("the row-interleaved I2_S layout does not (negative control)", () => {
  const worst = worstDiff(rowInterleaved);
  assert.ok(worst > 1, `max |Δlogit| = ${worst}`);
});
