/**
 * How evaluation asks a model for log-probabilities: a narrow, asynchronous interface that both the
 * perplexity protocol and the zero-shot tasks use, and its implementation over one model's public API.
 *
 * A request is a token sequence and the index from which its tokens are scored: token i (i ≥ from) is
 * scored against the logits the model gives after reading tokens 0..i−1. The last token is only scored,
 * never read, so a request of n tokens needs a context of n − 1. The answer per request is each scored
 * token's log-softmax (float64, llama.cpp's arithmetic: log-softmax.ts) and whether it was the argmax.
 *
 * `ModelScorer` runs requests one after another on one model. Requests that share a beginning (the
 * choices of one multiple-choice item: one context, several continuations) reuse the model's KV cache:
 * `evaluate` keeps the longest cached prefix, so the context is read once and each continuation is fed
 * token by token after it. A request with many scored tokens (a perplexity chunk) is read in one pass
 * with `allLogits` instead, which batches every position. A scorer that batches many sequences per
 * forward step can replace this one behind the same interface.
 */
import { ContextOverflowError, InvalidArgumentError } from "../errors.ts";
import { tokenLogprob } from "./log-softmax.ts";

export interface ScoreRequest {
  /** The whole sequence: what the model reads, then (from `from` on) what it is scored on. */
  readonly tokens: readonly number[];
  /** Index of the first scored token, 1 ≤ from < tokens.length. */
  readonly from: number;
}

export interface TokenScores {
  /** log softmax of each scored token (tokens[from], tokens[from + 1], …), float64. */
  logprobs: Float64Array;
  /** Per scored token: whether it was the argmax of its logits (lowest id on ties). */
  greedy: boolean[];
}

export interface LogprobScorer {
  /** The most tokens the model reads for one request: tokens.length − 1 may not exceed it. */
  readonly contextLength: number;
  readonly vocabSize: number;
  /** Scores every request; the answers come in the requests' order. */
  score(requests: readonly ScoreRequest[]): Promise<TokenScores[]>;
}

/** The part of BitNetModel that ModelScorer uses. */
export interface ScoringModel {
  readonly contextLength: number;
  readonly config: { readonly vocabSize: number };
  /** Makes the cache hold exactly `ids` (reusing its longest cached prefix); the logits after the last id. */
  evaluate(ids: readonly number[]): Float32Array;
  /** Logits at every position of `ids`, [T, V], from an empty cache. */
  allLogits(ids: readonly number[]): Float32Array;
}

/** Checks one request against a scorer's limits; errors name the request. */
export function checkRequest(r: ScoreRequest, index: number, contextLength: number, vocabSize: number): void {
  const n = r.tokens.length;
  if (!Number.isInteger(r.from) || r.from < 1 || r.from >= n) {
    throw new InvalidArgumentError(`score request ${index}: from must be in [1, ${n - 1}] for ${n} tokens, got ${r.from}`);
  }
  if (n - 1 > contextLength) throw new ContextOverflowError(`score request ${index}: ${n - 1} tokens to read do not fit the context of ${contextLength}`);
  for (const t of r.tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new InvalidArgumentError(`score request ${index}: token id ${t} is outside the vocabulary [0, ${vocabSize})`);
  }
}

/**
 * Scored tokens above which a request is read in one batched pass (allLogits) rather than as a cached
 * prefix plus single-token steps. A multiple-choice continuation is a few to a few dozen tokens; a
 * perplexity chunk is hundreds.
 */
export const STEP_LIMIT = 48;

export class ModelScorer implements LogprobScorer {
  readonly contextLength: number;
  readonly vocabSize: number;
  private readonly model: ScoringModel;

  constructor(model: ScoringModel) {
    this.model = model;
    this.contextLength = model.contextLength;
    this.vocabSize = model.config.vocabSize;
  }

  async score(requests: readonly ScoreRequest[]): Promise<TokenScores[]> {
    requests.forEach((r, i) => checkRequest(r, i, this.contextLength, this.vocabSize));
    return requests.map((r) => (r.tokens.length - r.from > STEP_LIMIT ? this.batched(r) : this.stepwise(r)));
  }

  /** The context through the cache (its shared prefix is not recomputed), then one token per step. */
  private stepwise(r: ScoreRequest): TokenScores {
    const V = this.vocabSize;
    const n = r.tokens.length;
    const logprobs = new Float64Array(n - r.from);
    const greedy: boolean[] = [];
    for (let i = r.from; i < n; i++) {
      const logits = this.model.evaluate(r.tokens.slice(0, i));
      const s = tokenLogprob(logits, 0, V, r.tokens[i]);
      logprobs[i - r.from] = s.logprob;
      greedy.push(s.greedy);
    }
    return { logprobs, greedy };
  }

  /** Every position in one pass from an empty cache. */
  private batched(r: ScoreRequest): TokenScores {
    const V = this.vocabSize;
    const n = r.tokens.length;
    const all = this.model.allLogits(r.tokens.slice(0, n - 1));
    const logprobs = new Float64Array(n - r.from);
    const greedy: boolean[] = [];
    for (let i = r.from; i < n; i++) {
      const s = tokenLogprob(all, (i - 1) * V, V, r.tokens[i]);
      logprobs[i - r.from] = s.logprob;
      greedy.push(s.greedy);
    }
    return { logprobs, greedy };
  }
}
