/**
 * The activation arena: every buffer the forward saves for the backward, the backward's scratch, and
 * the fake-quantized weights of the current step, allocated once for a capacity of (B, T) and reused
 * every step (llm.c's ActivationTensors). A smaller (B, T) at run time uses a prefix of each buffer.
 *
 * Shape legend: N = B·T tokens, D dim, F ffnDim, V vocabSize, Hq query heads, KV = Hk·hd.
 * In "fp" mode the quantized-input buffers (x1, s1, xa, sa, …) are empty: the linear layers read the norm outputs.
 */

import type { ActQuantScratch } from "./bitlinear.ts";
import { dimsOf, type TrainConfig } from "./config.ts";
import { jsGemm, type Gemm } from "./matmul.ts";
import { countParams, createParamSet, LINEAR_TENSOR_NAMES, type ParamSet } from "./params.ts";
import { ropeTables } from "./rope.ts";

export type LinearName = (typeof LINEAR_TENSOR_NAMES)[number];

/** What one block saves in the forward. */
export interface LayerActs {
  n1: Float32Array; // [N, D] attn_norm(x)
  rstd1: Float32Array; // [N]
  x1: Float32Array; // [N, D] int8 codes of n1 (ternary) — the input of q, k, v
  s1: Float32Array; // [N] their absmax scales
  q: Float32Array; // [N, D] after RoPE
  k: Float32Array; // [N, KV] after RoPE
  v: Float32Array; // [N, KV]
  att: Float32Array; // [B, Hq, T, T] softmax probabilities
  a: Float32Array; // [N, D] attention output (heads concatenated)
  na: Float32Array; // [N, D] attn_sub_norm(a)
  rstdA: Float32Array; // [N]
  xa: Float32Array; // [N, D] codes of na — the input of attn_output
  sa: Float32Array; // [N]
  h: Float32Array; // [N, D] x + attn_output(...): the residual after attention
  n2: Float32Array; // [N, D] ffn_norm(h)
  rstd2: Float32Array; // [N]
  x2: Float32Array; // [N, D] codes of n2 — the input of gate and up
  s2: Float32Array; // [N]
  g: Float32Array; // [N, F] gate pre-activation
  u: Float32Array; // [N, F] up
  m: Float32Array; // [N, F] act(g) ⊙ u
  nf: Float32Array; // [N, F] ffn_sub_norm(m)
  rstdF: Float32Array; // [N]
  xf: Float32Array; // [N, F] codes of nf — the input of down
  sf: Float32Array; // [N]
}

export interface Activations {
  config: TrainConfig;
  /** Capacity: at most B sequences of at most T tokens. */
  B: number;
  T: number;
  /** The linear-layer products' backend; the float buffers here were allocated by it. */
  gemm: Gemm;
  /** residual[l] enters block l; residual[nLayers] enters output_norm. Each [N, D]. */
  residual: Float32Array[];
  layers: LayerActs[];
  outNorm: Float32Array; // [N, D] output_norm(residual[L])
  rstdOut: Float32Array; // [N]
  logits: Float32Array; // [N, V]
  probs: Float32Array; // [N, V] softmax; the backward turns it into dlogits in place
  losses: Float32Array; // [N] per-token loss
  ropeCos: Float32Array; // [T, hd/2]
  ropeSin: Float32Array; // [T, hd/2]
  /** Ternary codes C of each linear weight (as float32, same layout as the params; only linear slots used). Null in fp mode. */
  wCodes: ParamSet | null;
  /** γ of each linear weight, per block. */
  gammas: Record<LinearName, number>[];
  // Backward scratch, reused by every block.
  dResid: Float32Array; // [N, D] gradient of the residual stream
  dNorm: Float32Array; // [N, max(D, F)] gradient of a norm output (a BitLinear input)
  dA: Float32Array; // [N, D]
  dQ: Float32Array; // [N, D]
  dK: Float32Array; // [N, KV]
  dV: Float32Array; // [N, KV]
  dG: Float32Array; // [N, F]
  dU: Float32Array; // [N, F]
  dM: Float32Array; // [N, F]
  dLin: Float32Array; // [N, max(D, F)] BitLinear backward scratch (scaled dy)
  dAttRow: Float32Array; // [T]
  // Quantizer scratch.
  actQuant: ActQuantScratch; // q [N·max(D, F)], sums [N]
  weightCodes: Int8Array; // [largest linear weight]
}

/**
 * Allocate the arena for up to B sequences of up to T tokens (T ≤ config.seqLen is not required), in
 * `gemm`'s memory so that its products read the buffers in place.
 */
export function createActivations(c: TrainConfig, B: number, T: number, gemm: Gemm = jsGemm): Activations {
  if (!Number.isInteger(B) || B <= 0 || !Number.isInteger(T) || T <= 0) throw new Error(`activations: bad capacity B=${B} T=${T}`);
  const N = B * T;
  const { D, F, V, hd, KV } = dimsOf(c);
  const W = Math.max(D, F);
  const quant = c.weights === "ternary";

  // Two passes over the same list of sizes: count, then carve views out of one Float32Array.
  let arena: Float32Array = new Float32Array(0);
  let offset = 0;
  const take = (n: number): Float32Array => {
    const view = arena.subarray(offset, offset + n);
    offset += n;
    return view;
  };
  const build = () => {
    const residual: Float32Array[] = [];
    for (let l = 0; l <= c.nLayers; l++) residual.push(take(N * D));
    const layers: LayerActs[] = [];
    for (let l = 0; l < c.nLayers; l++) {
      layers.push({
        n1: take(N * D), rstd1: take(N), x1: take(quant ? N * D : 0), s1: take(quant ? N : 0),
        q: take(N * D), k: take(N * KV), v: take(N * KV), att: take(B * c.nHeads * T * T),
        a: take(N * D), na: take(N * D), rstdA: take(N), xa: take(quant ? N * D : 0), sa: take(quant ? N : 0),
        h: take(N * D), n2: take(N * D), rstd2: take(N), x2: take(quant ? N * D : 0), s2: take(quant ? N : 0),
        g: take(N * F), u: take(N * F), m: take(N * F), nf: take(N * F), rstdF: take(N), xf: take(quant ? N * F : 0), sf: take(quant ? N : 0),
      });
    }
    return {
      residual, layers,
      outNorm: take(N * D), rstdOut: take(N), logits: take(N * V), probs: take(N * V), losses: take(N),
      ropeCos: take((T * hd) / 2), ropeSin: take((T * hd) / 2),
      dResid: take(N * D), dNorm: take(N * W), dA: take(N * D), dQ: take(N * D), dK: take(N * KV), dV: take(N * KV),
      dG: take(N * F), dU: take(N * F), dM: take(N * F), dLin: take(N * W), dAttRow: take(T),
    };
  };
  build();
  arena = gemm.alloc(offset);
  offset = 0;
  const views = build();
  ropeTables(views.ropeCos, views.ropeSin, T, hd, c.ropeTheta);

  const gammas: Record<LinearName, number>[] = [];
  for (let l = 0; l < c.nLayers; l++) gammas.push({ attn_q: 1, attn_k: 1, attn_v: 1, attn_output: 1, ffn_gate: 1, ffn_up: 1, ffn_down: 1 });
  return {
    config: c, B, T, gemm, ...views,
    wCodes: quant ? createParamSet(c, gemm.alloc(countParams(c))) : null,
    gammas,
    actQuant: { q: new Int8Array(quant ? N * W : 0), sums: new Int32Array(quant ? N : 0) },
    weightCodes: new Int8Array(quant ? Math.max(D * D, KV * D, F * D) : 0),
  };
}
