/**
 * How evaluation asks a model for log-probabilities: a narrow, asynchronous interface that both the
 * perplexity protocol and the zero-shot tasks use, and its implementation over one model's public API.
 *
 * A request is a token sequence and the index from which its tokens are scored: token i (i ≥ from) is
 * scored against the logits the model gives after reading tokens 0..i−1. The last token is only scored,
 * never read, so a request of n tokens needs a context of n − 1. The answer per request is each scored
 * token's log-softmax (float64, llama.cpp's arithmetic: log-softmax.ts) and whether it was the argmax.
 *
 * `ModelScorer` gives every request a sequence of its own (src/model/sequences.ts) and runs them all at
 * once, so the model batches them step by step: the ternary weights are read once per step for all the
 * requests in flight, as many as the model has parallel sequences. A new sequence gets the slot that
 * already holds most of its tokens, so the choices of one multiple-choice item (one context, several
 * continuations) read the context once. Each scored row is turned into a log-probability as it comes and
 * dropped: a perplexity chunk never holds [ctx, vocab] logits at once.
 */
import { ContextOverflowError, InvalidArgumentError } from "../errors.ts";
import type { Sequence } from "../model/sequences.ts";
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
  createSequence(options?: { hint?: readonly number[] }): Promise<Pick<Sequence, "evaluate" | "dispose">>;
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
    return Promise.all(requests.map((r) => this.one(r)));
  }

  /** Reads tokens 0..n−2 on a sequence of its own; the logits after token i−1 score token i, for i ≥ from. */
  private async one(r: ScoreRequest): Promise<TokenScores> {
    const V = this.vocabSize;
    const n = r.tokens.length;
    const read = r.tokens.slice(0, n - 1);
    const logprobs = new Float64Array(n - r.from);
    const greedy = new Array<boolean>(n - r.from).fill(false);
    const seq = await this.model.createSequence({ hint: read });
    try {
      await seq.evaluate(read, {
        scoreFrom: r.from - 1,
        onLogits: (logits, p) => {
          const s = tokenLogprob(logits, 0, V, r.tokens[p + 1]);
          logprobs[p + 1 - r.from] = s.logprob;
          greedy[p + 1 - r.from] = s.greedy;
        },
      });
    } finally {
      seq.dispose();
    }
    return { logprobs, greedy };
  }
}
