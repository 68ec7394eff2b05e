/**
 * Causal multi-head self-attention with grouped-query heads (GQA), scale 1/sqrt(hd), softmax.
 * Query head h reads kv head ⌊h / (Hq/Hk)⌋ (llama.cpp's convention). Inputs are already projected
 * and rotated (rope.ts); the output is the concatenation of the heads, before attn_sub_norm.
 *
 * Shapes: q [B·T, Hq·hd], k and v [B·T, Hk·hd], out [B·T, Hq·hd], att [B, Hq, T, T] holds the
 * softmax probabilities (zero above the diagonal) for the backward.
 */

/**
 * Calls `row` for every query row (batch b, query head h, position t), in b, h, t order: qOff is the row's
 * offset in q, out, dq and dout, aRow its probability row in att, and kvBase where its kv head's
 * position 0 of batch b starts in k and v (position t2 at kvBase + t2·Hk·hd).
 */
function forEachQueryRow(B: number, T: number, Hq: number, Hk: number, hd: number, row: (t: number, qOff: number, aRow: number, kvBase: number) => void): void {
  const group = Hq / Hk;
  const Cq = Hq * hd;
  const Ck = Hk * hd;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kvBase = b * T * Ck + Math.floor(h / group) * hd;
      for (let t = 0; t < T; t++) row(t, (b * T + t) * Cq + h * hd, ((b * Hq + h) * T + t) * T, kvBase);
    }
  }
}

/** Forward; `att` keeps the probabilities. */
export function attentionForward(out: Float32Array, att: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, B: number, T: number, Hq: number, Hk: number, hd: number): void {
  const Ck = Hk * hd;
  const scale = 1 / Math.sqrt(hd);
  forEachQueryRow(B, T, Hq, Hk, hd, (t, qOff, aRow, kvBase) => {
    let max = -Infinity;
    for (let t2 = 0; t2 <= t; t2++) {
      const kOff = kvBase + t2 * Ck;
      let s = 0;
      for (let d = 0; d < hd; d++) s += q[qOff + d] * k[kOff + d];
      s *= scale;
      att[aRow + t2] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let t2 = 0; t2 <= t; t2++) {
      const e = Math.exp(att[aRow + t2] - max);
      att[aRow + t2] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let t2 = 0; t2 <= t; t2++) att[aRow + t2] *= inv;
    for (let t2 = t + 1; t2 < T; t2++) att[aRow + t2] = 0;
    for (let d = 0; d < hd; d++) out[qOff + d] = 0;
    for (let t2 = 0; t2 <= t; t2++) {
      const p = att[aRow + t2];
      const vOff = kvBase + t2 * Ck;
      for (let d = 0; d < hd; d++) out[qOff + d] += p * v[vOff + d];
    }
  });
}

/**
 * Accumulates dq, dk, dv. Per query row with probabilities p and upstream dout:
 *   dp[t2] = dout · v[t2],   dv[t2] += p[t2]·dout,
 *   ds[t2] = p[t2]·(dp[t2] − Σ p·dp)   (softmax backward),
 *   dq += scale·Σ ds[t2]·k[t2],   dk[t2] += scale·ds[t2]·q.
 * `rowScratch` holds T floats.
 */
export function attentionBackward(
  dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array,
  q: Float32Array, k: Float32Array, v: Float32Array, att: Float32Array,
  B: number, T: number, Hq: number, Hk: number, hd: number, rowScratch: Float32Array,
): void {
  const Ck = Hk * hd;
  const scale = 1 / Math.sqrt(hd);
  const dp = rowScratch;
  forEachQueryRow(B, T, Hq, Hk, hd, (t, qOff, aRow, kvBase) => {
    let pdp = 0;
    for (let t2 = 0; t2 <= t; t2++) {
      const vOff = kvBase + t2 * Ck;
      const p = att[aRow + t2];
      let s = 0;
      for (let d = 0; d < hd; d++) {
        s += dout[qOff + d] * v[vOff + d];
        dv[vOff + d] += p * dout[qOff + d];
      }
      dp[t2] = s;
      pdp += p * s;
    }
    for (let t2 = 0; t2 <= t; t2++) {
      const ds = att[aRow + t2] * (dp[t2] - pdp) * scale;
      const kOff = kvBase + t2 * Ck;
      for (let d = 0; d < hd; d++) {
        dq[qOff + d] += ds * k[kOff + d];
        dk[kOff + d] += ds * q[qOff + d];
      }
    }
  });
}
