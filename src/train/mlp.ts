/**
 * The gated MLP's elementwise middle: m = act(gate) ⊙ up, act = SiLU (x·σ(x)) or ReLU² (max(x,0)²).
 * The projections around it (ffn_gate, ffn_up, ffn_sub_norm, ffn_down) are composed in model.ts.
 * Everything is float32 storage with float64 arithmetic; ReLU² never sees fp16 (SPEC §1 pitfall).
 */

import { gatedActivation } from "../kernels/ops.ts";
import type { GateActivation } from "../kernels/types.ts";

/** out[i] = act(gate[i]) · up[i] for i < n: the inference reference's op, so both train the same function. */
export function gatedActForward(out: Float32Array, gate: Float32Array, up: Float32Array, n: number, act: GateActivation): void {
  gatedActivation(gate, up, n, act, out);
}

/**
 * Accumulates dgate += dout · up · act'(gate), dup += dout · act(gate), with
 * SiLU' = σ(g)·(1 + g·(1 − σ(g))) and (ReLU²)' = 2·max(g, 0).
 */
export function gatedActBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number, act: GateActivation): void {
  if (act === "silu") {
    for (let i = 0; i < n; i++) {
      const g = gate[i];
      const sig = 1 / (1 + Math.exp(-g));
      dgate[i] += dout[i] * up[i] * sig * (1 + g * (1 - sig));
      dup[i] += dout[i] * g * sig;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const g = gate[i] > 0 ? gate[i] : 0;
      dgate[i] += dout[i] * up[i] * 2 * g;
      dup[i] += dout[i] * g * g;
    }
  }
}
