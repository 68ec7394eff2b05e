/**
 * Scorers for the evaluation tests: llama.cpp's logits behind our LogprobScorer interface (so that the
 * same protocol code runs on an independent engine's numbers), and a fake whose log-probabilities are
 * written by the test, for hand-computed examples.
 */
import { tokenLogprob } from "../../src/eval/log-softmax.ts";
import type { LogprobScorer, ScoreRequest, TokenScores } from "../../src/eval/scorer.ts";
import { llamaCppAllLogits, type LlamaCppOptions } from "../helpers/llamacpp.ts";

/** Every request read by llama.cpp from an empty cache (F32 K/V, flash attention off, one thread). */
export class LlamaCppScorer implements LogprobScorer {
  readonly contextLength: number;
  readonly vocabSize: number;
  private readonly path: string;
  private readonly options: LlamaCppOptions;

  constructor(path: string, vocabSize: number, contextLength: number, options: LlamaCppOptions = {}) {
    this.path = path;
    this.vocabSize = vocabSize;
    this.contextLength = contextLength;
    this.options = options;
  }

  async score(requests: readonly ScoreRequest[]): Promise<TokenScores[]> {
    const out: TokenScores[] = [];
    for (const r of requests) {
      const logits = await llamaCppAllLogits(this.path, r.tokens.slice(0, -1), { contextSize: this.contextLength, ...this.options });
      const logprobs = new Float64Array(r.tokens.length - r.from);
      const greedy: boolean[] = [];
      for (let i = r.from; i < r.tokens.length; i++) {
        const s = tokenLogprob(logits, (i - 1) * this.vocabSize, this.vocabSize, r.tokens[i]);
        logprobs[i - r.from] = s.logprob;
        greedy.push(s.greedy);
      }
      out.push({ logprobs, greedy });
    }
    return out;
  }
}

/** Answers each request with log-probabilities from `answer` (by request), recording what it was asked. */
export class FakeScorer implements LogprobScorer {
  readonly contextLength: number;
  readonly vocabSize = 1000;
  readonly seen: ScoreRequest[] = [];
  private readonly answer: (r: ScoreRequest, index: number) => { logprobs: number[]; greedy?: boolean[] };

  constructor(answer: (r: ScoreRequest, index: number) => { logprobs: number[]; greedy?: boolean[] }, contextLength = 1 << 20) {
    this.answer = answer;
    this.contextLength = contextLength;
  }

  async score(requests: readonly ScoreRequest[]): Promise<TokenScores[]> {
    return requests.map((r) => {
      const a = this.answer(r, this.seen.length);
      this.seen.push(r);
      if (a.logprobs.length !== r.tokens.length - r.from) throw new Error(`fake scorer: ${a.logprobs.length} log-probabilities for ${r.tokens.length - r.from} scored tokens`);
      return { logprobs: Float64Array.from(a.logprobs), greedy: a.greedy ?? a.logprobs.map(() => false) };
    });
  }
}
