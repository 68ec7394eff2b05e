/**
 * RMSNorm with a learnable gain and no bias (SPEC §1): y = x · rstd · g, rstd = 1/sqrt(mean(x²) + eps).
 * Used for attn_norm, attn_sub_norm, ffn_norm, ffn_sub_norm and output_norm. The forward saves rstd
 * per row for the backward.
 */

/** out[n,:] = inp[n,:] · rstd[n] · gain; rstd[n] is saved (sums in float64). */
export function rmsnormForward(out: Float32Array, rstd: Float32Array, inp: Float32Array, gain: Float32Array, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    const r = n * C;
    let ss = 0;
    for (let i = 0; i < C; i++) ss += inp[r + i] * inp[r + i];
    const rs = 1 / Math.sqrt(ss / C + eps);
    rstd[n] = rs;
    for (let i = 0; i < C; i++) out[r + i] = inp[r + i] * rs * gain[i];
  }
}

/**
 * Accumulates dinp and dgain. With x̂ = x·rstd and u = g ⊙ dy:
 *   dx = rstd · (u − x̂ · mean(u ⊙ x̂)),   dg += Σ_n dy ⊙ x̂.
 * (rstd depends on x through mean(x²): ∂rstd/∂x_j = −rstd³ x_j / C, which gives the second term.)
 */
export function rmsnormBackward(dinp: Float32Array, dgain: Float32Array, dout: Float32Array, inp: Float32Array, gain: Float32Array, rstd: Float32Array, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const r = n * C;
    const rs = rstd[n];
    let dot = 0;
    for (let i = 0; i < C; i++) dot += gain[i] * dout[r + i] * inp[r + i] * rs;
    const meanDot = dot / C;
    for (let i = 0; i < C; i++) {
      const xhat = inp[r + i] * rs;
      dgain[i] += dout[r + i] * xhat;
      dinp[r + i] += rs * (gain[i] * dout[r + i] - xhat * meanDot);
    }
  }
}
