/**
 * The training model: one forward pass and one backward pass composed from the layer pairs, reading
 * top to bottom like SPEC §1 "Block":
 *   h   = x + attn_output(attn_sub_norm(Attn(RoPE(q(n1)), RoPE(k(n1)), v(n1)))),   n1 = attn_norm(x)
 *   out = h + ffn_down(ffn_sub_norm(act(ffn_gate(n2)) ⊙ ffn_up(n2))),              n2 = ffn_norm(h)
 * then output_norm and the head tied to token_embd, then softmax cross-entropy.
 * In "ternary" mode every linear is a BitLinear (bitlinear.ts, straight-through backward); in "fp"
 * mode it is a plain linear layer. No kernel code lives here: the products run on acts.gemm, the
 * backend the activations were allocated for (createActivations).
 *
 * Gradient accumulation: backward ADDS into `grads`; zero them (zeroGrads) before the first
 * micro-batch and pass lossScale = 1/k for k micro-batches so the sum is the mean gradient.
 * The backward uses what the last forward saved in `acts`, so call forward (with targets) first,
 * with the same parameters.
 */

import { dimsOf } from "./config.ts";
import type { Activations, LinearName } from "./acts.ts";
import { attentionBackward, attentionForward } from "./attention.ts";
import { bitlinearBackward, bitlinearForward, quantizeActivationsForward, quantizeWeightsTernary } from "./bitlinear.ts";
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from "./crossentropy.ts";
import { embeddingBackward, embeddingForward } from "./embedding.ts";
import { linearBackward, linearForward } from "./linear.ts";
import { gatedActBackward, gatedActForward } from "./mlp.ts";
import { LINEAR_TENSOR_NAMES, type ParamSet } from "./params.ts";
import { rmsnormBackward, rmsnormForward } from "./rmsnorm.ts";
import { ropeBackward, ropeForward } from "./rope.ts";

function checkRun(p: ParamSet, acts: Activations, inputs: Int32Array, targets: Int32Array | null, B: number, T: number): void {
  if (acts.config !== p.config) throw new Error("train forward: activations were allocated for a different config");
  if (!Number.isInteger(B) || !Number.isInteger(T) || B <= 0 || T <= 0 || B > acts.B || T > acts.T) {
    throw new Error(`train forward: batch ${B}×${T} does not fit the activation arena ${acts.B}×${acts.T}`);
  }
  if (inputs.length < B * T) throw new Error(`train forward: inputs hold ${inputs.length} ids, need ${B * T}`);
  if (targets !== null && targets.length < B * T) throw new Error(`train forward: targets hold ${targets.length} ids, need ${B * T}`);
}

/** Ternary mode: refresh every linear weight's codes and γ from the latent weights. */
function quantizeAllWeights(p: ParamSet, acts: Activations): void {
  const codes = acts.wCodes;
  if (codes === null) return;
  for (let l = 0; l < p.config.nLayers; l++) {
    for (const name of LINEAR_TENSOR_NAMES) {
      acts.gammas[l][name] = quantizeWeightsTernary(codes.tensors.blk[l][name], p.tensors.blk[l][name], acts.weightCodes, `blk.${l}.${name}`);
    }
  }
}

/**
 * Runs the model on B sequences of T tokens (inputs [B·T], row b·T + t). With targets, returns the
 * mean cross-entropy and leaves the probabilities for the backward; with targets = null, returns NaN
 * and leaves only acts.logits [B·T, V].
 */
export function forward(p: ParamSet, acts: Activations, inputs: Int32Array, targets: Int32Array | null, B: number, T: number): number {
  checkRun(p, acts, inputs, targets, B, T);
  const c = p.config;
  const N = B * T;
  const { D, F, V, hd, KV } = dimsOf(c);
  const eps = c.normEps;
  const ternary = c.weights === "ternary";
  quantizeAllWeights(p, acts);
  const w = p.tensors;

  embeddingForward(acts.residual[0], inputs, w.token_embd, N, D, V);
  for (let l = 0; l < c.nLayers; l++) {
    const x = acts.residual[l];
    const out = acts.residual[l + 1];
    const la = acts.layers[l];
    const wl = w.blk[l];
    const quant = (codes: Float32Array, scales: Float32Array, inp: Float32Array, I: number, what: string): void => {
      if (ternary) quantizeActivationsForward(codes, scales, inp, N, I, acts.actQuant, `blk.${l}.${what}`);
    };
    const lin = (y: Float32Array, inp: Float32Array, codes: Float32Array, scales: Float32Array, name: LinearName, I: number, O: number): void => {
      if (ternary) bitlinearForward(y, codes, scales, (acts.wCodes as ParamSet).tensors.blk[l][name], acts.gammas[l][name], N, I, O, acts.gemm); // wCodes exists in ternary mode
      else linearForward(y, inp, wl[name], N, I, O, acts.gemm);
    };

    // Attention branch.
    rmsnormForward(la.n1, la.rstd1, x, wl.attn_norm, N, D, eps);
    quant(la.x1, la.s1, la.n1, D, "attn_norm output");
    lin(la.q, la.n1, la.x1, la.s1, "attn_q", D, D);
    lin(la.k, la.n1, la.x1, la.s1, "attn_k", D, KV);
    lin(la.v, la.n1, la.x1, la.s1, "attn_v", D, KV);
    ropeForward(la.q, acts.ropeCos, acts.ropeSin, B, T, c.nHeads, hd);
    ropeForward(la.k, acts.ropeCos, acts.ropeSin, B, T, c.nKvHeads, hd);
    attentionForward(la.a, la.att, la.q, la.k, la.v, B, T, c.nHeads, c.nKvHeads, hd);
    rmsnormForward(la.na, la.rstdA, la.a, wl.attn_sub_norm, N, D, eps);
    quant(la.xa, la.sa, la.na, D, "attn_sub_norm output");
    lin(la.h, la.na, la.xa, la.sa, "attn_output", D, D);
    for (let i = 0; i < N * D; i++) la.h[i] += x[i];

    // MLP branch.
    rmsnormForward(la.n2, la.rstd2, la.h, wl.ffn_norm, N, D, eps);
    quant(la.x2, la.s2, la.n2, D, "ffn_norm output");
    lin(la.g, la.n2, la.x2, la.s2, "ffn_gate", D, F);
    lin(la.u, la.n2, la.x2, la.s2, "ffn_up", D, F);
    gatedActForward(la.m, la.g, la.u, N * F, c.activation);
    rmsnormForward(la.nf, la.rstdF, la.m, wl.ffn_sub_norm, N, F, eps);
    quant(la.xf, la.sf, la.nf, F, "ffn_sub_norm output");
    lin(out, la.nf, la.xf, la.sf, "ffn_down", F, D);
    for (let i = 0; i < N * D; i++) out[i] += la.h[i];
  }

  rmsnormForward(acts.outNorm, acts.rstdOut, acts.residual[c.nLayers], w.output_norm, N, D, eps);
  acts.gemm.forward(acts.logits, acts.outNorm, w.token_embd, N, D, V); // tied head: logits = h · token_embdᵀ
  if (targets === null) return NaN;
  return softmaxCrossEntropyForward(acts.probs, acts.losses, acts.logits, targets, N, V);
}

/**
 * Adds d(lossScale · loss)/dθ into grads (same layout as p). Must follow forward(p, acts, inputs,
 * targets, B, T) with the same arguments; it consumes acts.probs (turned into dlogits).
 */
export function backward(p: ParamSet, grads: ParamSet, acts: Activations, inputs: Int32Array, targets: Int32Array, B: number, T: number, lossScale = 1): void {
  checkRun(p, acts, inputs, targets, B, T);
  if (grads.data.length !== p.data.length) throw new Error("train backward: grads do not have the parameters' layout");
  const c = p.config;
  const N = B * T;
  const { D, F, V, hd, KV } = dimsOf(c);
  const ternary = c.weights === "ternary";
  const w = p.tensors;
  const gw = grads.tensors;
  const dResid = acts.dResid;
  const zero = (buf: Float32Array, n: number): Float32Array => buf.fill(0, 0, n);

  // Head: dlogits → token_embd (tied) and output_norm.
  const dlogits = acts.probs;
  softmaxCrossEntropyBackward(dlogits, targets, N, V, lossScale);
  const dOutNorm = zero(acts.dNorm, N * D);
  acts.gemm.backwardWeight(gw.token_embd, dlogits, acts.outNorm, N, D, V);
  acts.gemm.backwardInput(dOutNorm, dlogits, w.token_embd, N, D, V);
  zero(dResid, N * D);
  rmsnormBackward(dResid, gw.output_norm, dOutNorm, acts.residual[c.nLayers], w.output_norm, acts.rstdOut, N, D);

  for (let l = c.nLayers - 1; l >= 0; l--) {
    // On entry dResid = dL/d residual[l+1]; each residual add passes it through unchanged.
    const la = acts.layers[l];
    const wl = w.blk[l];
    const gl = gw.blk[l];
    const linBack = (dx: Float32Array, dy: Float32Array, inp: Float32Array, codes: Float32Array, scales: Float32Array, name: LinearName, I: number, O: number): void => {
      if (ternary) bitlinearBackward(dx, gl[name], dy, codes, scales, (acts.wCodes as ParamSet).tensors.blk[l][name], acts.gammas[l][name], N, I, O, acts.dLin, acts.gemm); // wCodes exists in ternary mode
      else linearBackward(dx, gl[name], dy, inp, wl[name], N, I, O, acts.gemm);
    };

    // A branch's tail, backwards: its output projection (I → D) from dResid, then the sub-norm before it,
    // into dIn = dL/d(the sub-norm's input). Both branches end this way (BitNet's sub-norms).
    const branchOutBack = (dIn: Float32Array, inp: Float32Array, norm: "ffn_sub_norm" | "attn_sub_norm", rstd: Float32Array, n: Float32Array, codes: Float32Array, scales: Float32Array, name: LinearName, I: number): Float32Array => {
      const dN = zero(acts.dNorm, N * I);
      linBack(dN, dResid, n, codes, scales, name, I, D);
      zero(dIn, N * I);
      rmsnormBackward(dIn, gl[norm], dN, inp, wl[norm], rstd, N, I);
      return dIn;
    };

    // MLP branch, backwards.
    const dM = branchOutBack(acts.dM, la.m, "ffn_sub_norm", la.rstdF, la.nf, la.xf, la.sf, "ffn_down", F);
    const dG = zero(acts.dG, N * F);
    const dU = zero(acts.dU, N * F);
    gatedActBackward(dG, dU, dM, la.g, la.u, N * F, c.activation);
    const dN2 = zero(acts.dNorm, N * D);
    linBack(dN2, dG, la.n2, la.x2, la.s2, "ffn_gate", D, F);
    linBack(dN2, dU, la.n2, la.x2, la.s2, "ffn_up", D, F);
    rmsnormBackward(dResid, gl.ffn_norm, dN2, la.h, wl.ffn_norm, la.rstd2, N, D); // dResid is now dL/dh

    // Attention branch, backwards.
    const dA = branchOutBack(acts.dA, la.a, "attn_sub_norm", la.rstdA, la.na, la.xa, la.sa, "attn_output", D);
    const dQ = zero(acts.dQ, N * D);
    const dK = zero(acts.dK, N * KV);
    const dV = zero(acts.dV, N * KV);
    attentionBackward(dQ, dK, dV, dA, la.q, la.k, la.v, la.att, B, T, c.nHeads, c.nKvHeads, hd, acts.dAttRow);
    ropeBackward(dQ, acts.ropeCos, acts.ropeSin, B, T, c.nHeads, hd);
    ropeBackward(dK, acts.ropeCos, acts.ropeSin, B, T, c.nKvHeads, hd);
    const dN1 = zero(acts.dNorm, N * D);
    linBack(dN1, dQ, la.n1, la.x1, la.s1, "attn_q", D, D);
    linBack(dN1, dK, la.n1, la.x1, la.s1, "attn_k", D, KV);
    linBack(dN1, dV, la.n1, la.x1, la.s1, "attn_v", D, KV);
    rmsnormBackward(dResid, gl.attn_norm, dN1, acts.residual[l], wl.attn_norm, la.rstd1, N, D); // dL/d residual[l]
  }
  embeddingBackward(gw.token_embd, dResid, inputs, N, D);
}

/**
 * The logits the training forward computes at position t (default: the last) of one sequence,
 * at the model's quantized setting (ternary weights and int8 activations in "ternary" mode).
 * Returns a fresh Float32Array [V]. This is the reference an exported model must agree with.
 */
export function logitsAt(p: ParamSet, acts: Activations, tokens: Int32Array, t = tokens.length - 1): Float32Array {
  if (!(t >= 0 && t < tokens.length)) throw new Error(`logitsAt: position ${t} is outside the ${tokens.length} tokens`);
  forward(p, acts, tokens, null, 1, tokens.length);
  const V = p.config.vocabSize;
  return acts.logits.slice(t * V, (t + 1) * V);
}

/**
 * Greedy continuation of `prompt` by n tokens with the training forward (recomputing the whole
 * prefix each step: a check, not a generator). Ties go to the lowest id. Needs acts.T ≥ prompt + n − 1.
 */
export function greedyTokens(p: ParamSet, acts: Activations, prompt: Int32Array, n: number): Int32Array {
  if (prompt.length === 0) throw new Error("greedyTokens: empty prompt");
  if (prompt.length + n - 1 > acts.T) throw new Error(`greedyTokens: ${prompt.length} + ${n} tokens exceed the arena length ${acts.T}`);
  const seq = new Int32Array(prompt.length + n);
  seq.set(prompt);
  for (let i = 0; i < n; i++) {
    const len = prompt.length + i;
    const logits = logitsAt(p, acts, seq.subarray(0, len));
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
    seq[len] = best;
  }
  return seq.subarray(prompt.length);
}
