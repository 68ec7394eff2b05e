/**
 * The log-probability of one token under one row of logits, computed as llama.cpp's perplexity tool does
 * (tools/perplexity/perplexity.cpp, `log_softmax`): the maximum in float32, each exp(logit − max) in
 * float32 (its `expf`), their sum in float64, and log(p) = (logit − max) − log(sum) in float64.
 * Doing the same steps keeps our perplexity within rounding of llama.cpp's on the same logits.
 *
 * Also whether the token is the row's argmax (the lowest id wins a tie, as torch.argmax and llama.cpp's
 * greedy sampler choose): lm-evaluation-harness's `is_greedy`. Not here: which rows are scored (scorer.ts).
 */

export interface TokenLogprob {
  /** log softmax(logits)[token], float64. */
  logprob: number;
  /** Whether `token` is the argmax of the row (lowest id on ties). */
  greedy: boolean;
}

const f32 = Math.fround;

/** The row `logits[offset .. offset + vocab)` scored for `token`. */
export function tokenLogprob(logits: Float32Array, offset: number, vocab: number, token: number): TokenLogprob {
  let max = logits[offset];
  let arg = 0;
  for (let i = 1; i < vocab; i++) {
    const v = logits[offset + i];
    if (v > max) {
      max = v;
      arg = i;
    }
  }
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += f32(Math.exp(f32(logits[offset + i] - max)));
  return { logprob: f32(logits[offset + token] - max) - Math.log(sum), greedy: arg === token };
}
