/**
 * AdamW (Loshchilov & Hutter) as one loop over the flat parameter and gradient arrays, with bias
 * correction and fp32 moment state (SPEC §1: the optimizer state stays fp32).
 *
 * Defaults are the BitNet recipe's β = (0.9, 0.95), eps 1e-8. Weight decay is decoupled, in torch's
 * form p ← p − lr·wd·p, and applies to the linear (BitLinear) weights only: not to the norm gains
 * (decaying them toward 0 would fight the normalization they exist to scale) and not to the token
 * embedding, which is also the output head (common LLaMA/GPT practice; its rows for rare tokens get
 * almost no gradient and would only shrink). For ternary weights decay pulls latent weights toward 0,
 * i.e. toward the 0 code, which is what the recipe's stage-1 decay relies on.
 * The learning rate and decay come from the caller each step (schedule.ts).
 */

import type { ParamSet } from "./params.ts";

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8 };

export interface AdamWState {
  options: AdamWOptions;
  /** First moment, same layout as the parameters. */
  m: Float32Array;
  /** Second moment. */
  v: Float32Array;
  /** 1 where weight decay applies (linear weights), 0 elsewhere. */
  decayMask: Uint8Array;
  /** Number of updates taken so far (the t of the bias correction is step + 1 during an update). */
  step: number;
}

export function createAdamW(p: ParamSet, options: Partial<AdamWOptions> = {}): AdamWState {
  const n = p.data.length;
  const decayMask = new Uint8Array(n);
  for (const s of p.layout) if (s.kind === "linear") decayMask.fill(1, s.offset, s.offset + s.size);
  return { options: { ...ADAMW_DEFAULTS, ...options }, m: new Float32Array(n), v: new Float32Array(n), decayMask, step: 0 };
}

/** One update of params in place from grads. */
export function adamwStep(state: AdamWState, params: Float32Array, grads: Float32Array, lr: number, weightDecay: number): void {
  const n = params.length;
  if (grads.length !== n || state.m.length !== n) throw new Error(`adamw: params (${n}), grads (${grads.length}) and state (${state.m.length}) differ in length`);
  const { beta1, beta2, eps } = state.options;
  state.step++;
  const bc1 = 1 - Math.pow(beta1, state.step);
  const bc2 = 1 - Math.pow(beta2, state.step);
  const { m, v, decayMask } = state;
  for (let i = 0; i < n; i++) {
    const g = grads[i];
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const update = mi / bc1 / (Math.sqrt(vi / bc2) + eps);
    params[i] -= lr * (update + weightDecay * decayMask[i] * params[i]);
  }
}
