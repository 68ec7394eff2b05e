/**
 * Zero-shot multiple choice scored as lm-evaluation-harness 0.4 scores it, from text to metrics:
 *
 * - requests (lm_eval/api/task.py, construct_requests): one per choice, (context, " " + choice); for a
 *   task with several contexts and one continuation (WinoGrande's partial scoring), (context_i, " " + target);
 * - tokens (lm_eval/api/model.py, _encode_pair): trailing whitespace of the context moves to the front of
 *   the continuation; the continuation's tokens are those of tokenize(context + continuation) after the
 *   first len(tokenize(context)) of them; both tokenizations add BOS when the vocabulary does (as a
 *   Hugging Face tokenizer does by default, which the harness follows since 0.4.10; releases 0.4.0–0.4.9
 *   added no BOS for causal models: `addBos: false`). An empty context becomes the BOS (or EOS) token alone;
 * - the model reads context tokens + continuation tokens, left-truncated to its context plus one
 *   (lm_eval/models/huggingface.py, _loglikelihood_tokens), and LL = Σ log-softmax of the continuation's
 *   tokens; is_greedy = every one of them was the argmax;
 * - metrics (task.py, process_results): acc = [argmax LL == gold], acc_norm = [argmax LL / len(choice) ==
 *   gold], where len counts the choice's characters (Python code points) without the delimiter, and for
 *   WinoGrande the "choices" are its two contexts; ties go to the first choice (numpy's argmax);
 * - per task: the mean of each metric and its standard error (stats.ts).
 *
 * Not here: reading task files (tasks/), the model (any LogprobScorer), output tables (table.ts).
 */
import { ContextOverflowError, InvalidArgumentError } from "../errors.ts";
import type { LogprobScorer, ScoreRequest } from "./scorer.ts";
import { mean, meanStderr } from "./stats.ts";

/** What request building needs of a tokenizer (src/tokenizer's Tokenizer has it). */
export interface EvalTokenizer {
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  /** With no options, BOS is added when the vocabulary says so. */
  encode(text: string, options?: { addBos?: boolean }): number[];
}

/** One item: a request per choice, the strings acc_norm divides by, the right answer. */
export interface McItem {
  /** Per choice: the context and the continuation (delimiter included). */
  requests: { context: string; continuation: string }[];
  /** The harness's doc_to_choice: their lengths in characters normalize acc_norm. */
  choices: string[];
  /** Index of the right choice. */
  gold: number;
  /** Where the item came from ("file:line"), for messages. */
  source: string;
}

export const TARGET_DELIMITER = " ";

/** An item whose choices continue one context (ARC, HellaSwag, BoolQ, OpenBookQA, PIQA, generic). */
export function choiceItem(context: string, choices: readonly string[], gold: number, source: string): McItem {
  return { requests: choices.map((c) => ({ context, continuation: TARGET_DELIMITER + c })), choices: [...choices], gold, source };
}

/** An item whose contexts differ and share one continuation (WinoGrande's partial scoring). */
export function multipleInputItem(contexts: readonly string[], continuation: string, gold: number, source: string): McItem {
  return { requests: contexts.map((context) => ({ context, continuation: TARGET_DELIMITER + continuation })), choices: [...contexts], gold, source };
}

// Python's str.isspace() characters, so that rstrip() here is the harness's rstrip().
const TRAILING_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/u;

/** The harness's _encode_pair (and its empty-context rule): context tokens and continuation tokens. */
export function encodePair(tok: EvalTokenizer, context: string, continuation: string, addBos?: boolean): { context: number[]; continuation: number[] } {
  if (context === "") {
    const cont = tok.encode(continuation, { addBos: false });
    const prefix = tok.bos ?? tok.eos;
    if (prefix === undefined) throw new InvalidArgumentError("an empty context needs a BOS or EOS token, and the vocabulary has neither");
    return cont[0] !== prefix ? { context: [prefix], continuation: cont } : { context: cont.slice(0, 1), continuation: cont.slice(1) };
  }
  const spaces = TRAILING_SPACE.exec(context)?.[0] ?? "";
  if (spaces !== "") {
    continuation = spaces + continuation;
    context = context.slice(0, context.length - spaces.length);
  }
  const opts = addBos === undefined ? undefined : { addBos };
  const whole = tok.encode(context + continuation, opts);
  const ctx = tok.encode(context, opts);
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

/** The score request the harness feeds the model for one (context, continuation), for a model reading at most `contextLength` tokens. */
export function pairRequest(tok: EvalTokenizer, context: string, continuation: string, contextLength: number, what: string, addBos?: boolean): ScoreRequest {
  const enc = encodePair(tok, context, continuation, addBos);
  const n = enc.continuation.length;
  if (n === 0) throw new InvalidArgumentError(`${what}: the continuation ${JSON.stringify(continuation)} has no tokens of its own`);
  if (n > contextLength) throw new ContextOverflowError(`${what}: the continuation has ${n} tokens, more than the context of ${contextLength}`);
  const tokens = [...enc.context, ...enc.continuation].slice(-(contextLength + 1));
  return { tokens, from: tokens.length - n };
}

export interface ItemScore {
  /** Per choice: LL and is_greedy. */
  ll: number[];
  greedy: boolean[];
  acc: number;
  accNorm: number;
}

/** Index of the largest value; the first wins a tie (numpy.argmax). */
export function argmaxFirst(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** Characters as Python counts them (code points, not UTF-16 units). */
export function pythonLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** acc and acc_norm of one item from its choices' log-likelihoods. */
export function scoreItem(item: McItem, ll: readonly number[], greedy: readonly boolean[]): ItemScore {
  const norm = ll.map((v, i) => v / pythonLength(item.choices[i]));
  return { ll: [...ll], greedy: [...greedy], acc: argmaxFirst(ll) === item.gold ? 1 : 0, accNorm: argmaxFirst(norm) === item.gold ? 1 : 0 };
}

export type Metric = "acc" | "acc_norm";

export interface TaskMetrics {
  acc: number;
  acc_stderr: number | null;
  /** null for tasks the harness scores by acc only (BoolQ, WinoGrande). */
  acc_norm: number | null;
  acc_norm_stderr: number | null;
  n: number;
}

export function taskMetrics(scores: readonly ItemScore[], metrics: readonly Metric[]): TaskMetrics {
  const acc = scores.map((s) => s.acc);
  const accNorm = scores.map((s) => s.accNorm);
  const withNorm = metrics.includes("acc_norm");
  return {
    acc: mean(acc),
    acc_stderr: meanStderr(acc),
    acc_norm: withNorm ? mean(accNorm) : null,
    acc_norm_stderr: withNorm ? meanStderr(accNorm) : null,
    n: scores.length,
  };
}

export interface ScoreItemsOptions {
  /** BOS before the context: undefined = as the vocabulary says (the harness's add_bos_token=None), or forced on or off. */
  addBos?: boolean;
  /** Items handed to the scorer at once (a batching scorer can run their requests together). Default 8. */
  block?: number;
  /** Called after each block with the items done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** Builds every item's requests, scores them block by block, and returns each item's score. */
export async function scoreItems(scorer: LogprobScorer, tok: EvalTokenizer, items: readonly McItem[], o: ScoreItemsOptions = {}): Promise<ItemScore[]> {
  const block = o.block ?? 8;
  const out: ItemScore[] = [];
  for (let start = 0; start < items.length; start += block) {
    const chunk = items.slice(start, start + block);
    const requests = chunk.flatMap((item) => item.requests.map((r, c) => pairRequest(tok, r.context, r.continuation, scorer.contextLength, `${item.source}: choice ${c}`, o.addBos)));
    const answers = await scorer.score(requests);
    let at = 0;
    for (const item of chunk) {
      const mine = answers.slice(at, at + item.requests.length);
      at += item.requests.length;
      const ll = mine.map((a) => a.logprobs.reduce((s, v) => s + v, 0));
      out.push(scoreItem(item, ll, mine.map((a) => a.greedy.every(Boolean))));
    }
    o.onProgress?.(out.length, items.length);
  }
  return out;
}
