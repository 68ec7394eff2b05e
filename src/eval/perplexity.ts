/**
 * Perplexity by llama.cpp's protocol (`llama-perplexity`, tools/perplexity/perplexity.cpp), so that our
 * figure for a file and a text is the figure llama.cpp prints for them:
 *
 * - the whole text is tokenized once, with BOS when the vocabulary adds one;
 * - it is cut into n_chunks = ⌊n_tokens / ctx⌋ chunks of ctx tokens (fewer with `chunks`), each read
 *   from an empty cache, with its first token replaced by BOS (when the vocabulary adds one);
 * - only the second half is scored: tokens ⌊ctx/2⌋ + 1 … ctx − 1 of each chunk, each against the logits
 *   after the token before it (ctx − ctx/2 − 1 tokens per chunk: 255 at ctx 512);
 * - after each chunk the running estimate exp(Σ nll / count) ("[i]ppl" in llama.cpp's output), and at
 *   the end PPL = exp(mean nll) ± PPL · sqrt((mean(nll²) − mean(nll)²) / (count − 1)), llama.cpp's
 *   standard error.
 *
 * Fewer than 2·ctx tokens is an error, as it is in llama.cpp. Not here: reading the text file (src/node),
 * the model (any LogprobScorer), the progress bar (src/cli/perplexity.ts).
 */
import { InvalidArgumentError } from "../errors.ts";
import type { LogprobScorer } from "./scorer.ts";

export interface PerplexityOptions {
  /** Tokens per chunk (llama.cpp's n_ctx), at least 4. */
  ctx: number;
  /** At most this many chunks (default: all). */
  chunks?: number;
  /** The BOS id to put first in every chunk, or undefined when the vocabulary adds none. */
  bos: number | undefined;
  /** What the tokens are, for error messages (a file name). */
  what?: string;
  /**
   * Chunks handed to the scorer in one call (llama.cpp's n_seq = n_batch / n_ctx, 4 by default there), so
   * that a scorer that batches sequences can read them together. The result does not depend on it.
   */
  sequences?: number;
}

export interface ChunkEstimate {
  /** 1-based chunk number and the total. */
  chunk: number;
  chunks: number;
  /** exp(mean nll) over every token scored so far. */
  ppl: number;
  /** Tokens scored so far. */
  count: number;
}

export interface PerplexityResult {
  ppl: number;
  /** llama.cpp's "+/-" figure: the standard error of the mean nll, times ppl. */
  stderr: number;
  /** Mean negative log-likelihood (nats per token) and its standard error. */
  nll: number;
  nllStderr: number;
  /** Tokens scored, chunks read, tokens in the text, context. */
  count: number;
  chunks: number;
  tokens: number;
  ctx: number;
  /** The running estimate after each chunk. */
  estimates: number[];
}

/** Running sums of the negative log-likelihood and its square, as llama.cpp keeps them. */
export class NllAccumulator {
  nll = 0;
  nll2 = 0;
  count = 0;

  add(logprob: number): void {
    const v = -logprob;
    this.nll += v;
    this.nll2 += v * v;
    this.count++;
  }

  get ppl(): number {
    return Math.exp(this.nll / this.count);
  }

  /** The mean nll and its standard error, llama.cpp's formula (NaN below two tokens or for a zero variance). */
  final(): { ppl: number; stderr: number; nll: number; nllStderr: number } {
    const mean = this.nll / this.count;
    const ppl = Math.exp(mean);
    const variance = this.nll2 / this.count - mean * mean;
    const nllStderr = variance > 0 && this.count > 1 ? Math.sqrt(variance / (this.count - 1)) : NaN;
    return { ppl, stderr: nllStderr * ppl, nll: mean, nllStderr };
  }
}

/** Checks the text's length and the options; returns the number of chunks to read. */
export function perplexityChunkCount(nTokens: number, o: PerplexityOptions): number {
  const what = o.what ?? "text";
  if (!Number.isInteger(o.ctx) || o.ctx < 4) throw new InvalidArgumentError(`ctx must be an integer ≥ 4, got ${o.ctx}`);
  if (o.chunks !== undefined && (!Number.isInteger(o.chunks) || o.chunks < 1)) throw new InvalidArgumentError(`chunks must be a positive integer, got ${o.chunks}`);
  if (nTokens === 0 || (nTokens === 1 && o.bos !== undefined)) throw new InvalidArgumentError(`${what}: the text is empty`);
  if (nTokens < 2 * o.ctx) {
    throw new InvalidArgumentError(`${what}: ${nTokens} tokens, but perplexity with a context of ${o.ctx} needs at least ${2 * o.ctx} (2 × ctx); use a longer text or a smaller --ctx`);
  }
  const max = Math.floor(nTokens / o.ctx);
  return o.chunks === undefined ? max : Math.min(o.chunks, max);
}

/** The tokens of chunk `i` as the model reads them: BOS first when the vocabulary adds one. */
export function perplexityChunk(tokens: readonly number[], i: number, ctx: number, bos: number | undefined): number[] {
  const chunk = tokens.slice(i * ctx, (i + 1) * ctx);
  if (bos !== undefined) chunk[0] = bos;
  return chunk;
}

/**
 * Runs the protocol over `tokens` (the whole text, tokenized with BOS as the vocabulary says).
 * `onChunk` sees the running estimate after every chunk.
 */
export async function perplexity(scorer: LogprobScorer, tokens: readonly number[], o: PerplexityOptions, onChunk?: (e: ChunkEstimate) => void): Promise<PerplexityResult> {
  const n = perplexityChunkCount(tokens.length, o);
  if (o.ctx - 1 > scorer.contextLength) throw new InvalidArgumentError(`ctx ${o.ctx} is larger than the model's context of ${scorer.contextLength} (load it with a larger context)`);
  const first = Math.floor(o.ctx / 2); // C's n_ctx/2
  const seqs = o.sequences ?? 4;
  if (!Number.isInteger(seqs) || seqs < 1) throw new InvalidArgumentError(`sequences must be a positive integer, got ${o.sequences}`);
  const acc = new NllAccumulator();
  const estimates: number[] = [];
  for (let i = 0; i < n; i += seqs) {
    const group = Array.from({ length: Math.min(seqs, n - i) }, (_, j) => ({ tokens: perplexityChunk(tokens, i + j, o.ctx, o.bos), from: first + 1 }));
    const answers = await scorer.score(group);
    answers.forEach((scores, j) => {
      for (const lp of scores.logprobs) acc.add(lp);
      estimates.push(acc.ppl);
      onChunk?.({ chunk: i + j + 1, chunks: n, ppl: acc.ppl, count: acc.count });
    });
  }
  const f = acc.final();
  return { ...f, count: acc.count, chunks: n, tokens: tokens.length, ctx: o.ctx, estimates };
}

/** llama.cpp's lines: the running "[i]ppl," estimates, then "Final estimate: PPL = … +/- …". */
export function formatPerplexity(r: PerplexityResult): string {
  const running = r.estimates.map((p, i) => `[${i + 1}]${p.toFixed(4)},`).join("");
  return `${running}\nFinal estimate: PPL = ${r.ppl.toFixed(4)} +/- ${r.stderr.toFixed(5)}`;
}

/** What text perplexity needs of a tokenizer: encode() adds BOS when the vocabulary says so (`addBos`). */
export interface PerplexityTokenizer {
  readonly addBos: boolean;
  readonly bos: number | undefined;
  encode(text: string): number[];
}

/** Tokenizes `text` as llama-perplexity does (whole, with BOS when the vocabulary adds one) and runs the protocol. */
export async function textPerplexity(scorer: LogprobScorer, tok: PerplexityTokenizer, text: string, o: Omit<PerplexityOptions, "bos">, onChunk?: (e: ChunkEstimate) => void): Promise<PerplexityResult> {
  if (text.length === 0) throw new InvalidArgumentError(`${o.what ?? "text"}: the text is empty`);
  const bos = tok.addBos ? tok.bos : undefined;
  return perplexity(scorer, tok.encode(text), { ...o, bos }, onChunk);
}
