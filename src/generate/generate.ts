/**
 * The generation loop: prompt → tokens → logits → sampler → streamed text, as an AsyncIterable.
 * It owns the policy around the model (argument checks, context limits, stop tokens and strings,
 * n_predict, seeds); the model owns the numbers. Each generation runs on a sequence of its own, so
 * concurrent generations on one model are batched together (src/model/sequences.ts) instead of
 * interfering. One token is yielded per step so a caller can stream it (CLI, SSE).
 * It sees the model only through `GenerationHost`, which BitNetModel implements.
 */
import { ContextOverflowError, InvalidArgumentError } from "../errors.ts";
import type { Sequence } from "../model/sequences.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import { chooseChatTemplate, renderChat, type ChatMessage } from "./chat-template.ts";
import { Sampler, type SamplingOptions } from "./sampler.ts";
import { StopMatcher } from "./stop.ts";

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (n_predict). Default 128. */
  maxTokens?: number;
  /** Text that ends generation; it is not included in the output. A string is one stop string. */
  stop?: string | string[];
  /** Prepend BOS when the prompt is text. Default: the vocabulary's add_bos_token. */
  addBos?: boolean;
  /** Parse special tokens (e.g. "<|eot_id|>") written in a text prompt. Default false. */
  special?: boolean;
  /** When prompt + maxTokens exceeds the context: "error" (default) or "truncate" (keep the prompt's end). */
  overflow?: "error" | "truncate";
  /** Keep generating past end-of-generation tokens. Default false. */
  ignoreEos?: boolean;
  /** Report each token's log-probability, and this many most likely alternatives (0: none; at most 20). */
  logprobs?: number;
  signal?: AbortSignal;
}

export interface GeneratedToken {
  token: number;
  /** The text this token completes (may be empty while a UTF-8 character or a possible stop string is pending). */
  text: string;
  /** With `logprobs`: log p(token) = the log-softmax of the model's raw logits (before penalties and temperature). */
  logprob?: number;
  /** With `logprobs` > 0: the most likely tokens at this position and their log-probabilities, best first. */
  topLogprobs?: { token: number; logprob: number }[];
}

export type FinishReason = "stop" | "length";

/** What generation needs from a model. */
export interface GenerationHost {
  readonly fileName: string;
  readonly contextLength: number;
  readonly tokenizer: Tokenizer;
  /** A sequence of its own, waiting for a free one if need be; `hint` (the prompt) picks the slot with the most of it cached. */
  createSequence(options?: { hint?: readonly number[]; signal?: AbortSignal }): Promise<Sequence>;
}

export const MAX_TOP_LOGPROBS = 20;

/** log-softmax(logits)[token] in float64, and the `top` best tokens' (ties: the lower id first). */
export function tokenLogprobs(logits: Float32Array, token: number, top: number): Required<Pick<GeneratedToken, "logprob" | "topLogprobs">> {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const best: number[] = []; // ids, best first
  for (let i = 0; i < logits.length && top > 0; i++) {
    if (best.length === top && !(logits[i] > logits[best[top - 1]])) continue;
    let j = best.length < top ? best.push(i) - 1 : top - 1;
    // Strictly better moves up, so an equal logit stays behind the lower id seen first.
    while (j > 0 && logits[best[j - 1]] < logits[i]) {
      best[j] = best[j - 1];
      j--;
    }
    best[j] = i;
  }
  return { logprob: logits[token] - logZ, topLogprobs: best.map((t) => ({ token: t, logprob: logits[t] - logZ })) };
}

/** The longest input text one token can stand for, per tokenizer: bounds the tokens of a text from below. */
const longestToken = new WeakMap<Tokenizer, number>();

function maxTokenChars(tok: Tokenizer): number {
  let max = longestToken.get(tok);
  if (max === undefined) {
    max = 1;
    for (let id = 0; id < tok.vocabSize; id++) max = Math.max(max, tok.tokenToBytes(id).length, tok.tokenText(id).length);
    longestToken.set(tok, max);
  }
  return max;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return typeof v === "string" ? `"${v.slice(0, 20)}"` : typeof v;
}

/** `prompt` as the loop takes it: a string, or token ids in a plain array. */
export function checkPrompt(prompt: unknown): asserts prompt is string | readonly number[] {
  if (typeof prompt === "string") return;
  if (!Array.isArray(prompt)) throw InvalidArgumentError.forParam("prompt", `must be a string or an array of token ids, got ${describe(prompt)}`);
  for (let i = 0; i < prompt.length; i++) {
    if (!Number.isSafeInteger(prompt[i]) || prompt[i] < 0) throw InvalidArgumentError.forParam("prompt", `[${i}] is ${describe(prompt[i])}, not a token id`);
  }
}

function stopStrings(stop: unknown): string[] {
  if (stop === undefined) return [];
  const list = typeof stop === "string" ? [stop] : stop;
  if (!Array.isArray(list)) throw InvalidArgumentError.forParam("stop", `must be a string or an array of strings, got ${describe(stop)}`);
  list.forEach((s, i) => {
    if (typeof s !== "string" || s.length === 0) throw InvalidArgumentError.forParam("stop", `[${i}] must be a non-empty string, got ${describe(s)}`);
  });
  return list as string[];
}

function overflowError(promptTokens: number, maxTokens: number, contextLength: number, atLeast = false): ContextOverflowError {
  return new ContextOverflowError(
    `the prompt (${atLeast ? "at least " : ""}${promptTokens} tokens) plus maxTokens (${maxTokens}) exceeds the context of ${contextLength} tokens; shorten the prompt, lower maxTokens, raise the context, or allow truncation`,
    { overflow: { promptTokens, maxTokens, contextLength, atLeast } },
  );
}

/** Resolves the prompt to ids and applies the context policy. */
export function preparePrompt(host: Pick<GenerationHost, "tokenizer" | "contextLength">, prompt: string | readonly number[], opts: GenerateOptions): { ids: number[]; maxTokens: number } {
  checkPrompt(prompt);
  const maxTokens = opts.maxTokens ?? 128;
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 0) throw InvalidArgumentError.forParam("maxTokens", `must be a non-negative integer, got ${describe(opts.maxTokens)}`);
  if (opts.overflow !== undefined && opts.overflow !== "error" && opts.overflow !== "truncate") throw InvalidArgumentError.forParam("overflow", `must be "error" or "truncate", got ${describe(opts.overflow)}`);
  const ctx = host.contextLength;
  let text = typeof prompt === "string" ? prompt : undefined;
  if (text !== undefined) {
    // A text that cannot fit whatever its tokens turn out to be is refused before it is tokenized (a huge
    // prompt would cost seconds and memory first); one to be truncated is cut to what can matter.
    const longest = maxTokenChars(host.tokenizer);
    const atLeast = Math.floor(text.length / longest);
    if (opts.overflow !== "truncate" && atLeast + maxTokens > ctx) throw overflowError(atLeast, maxTokens, ctx, true);
    const keepChars = (ctx + 16) * longest;
    if (opts.overflow === "truncate" && text.length > keepChars) text = text.slice(text.length - keepChars);
  }
  let ids = text !== undefined ? host.tokenizer.encode(text, { addBos: opts.addBos, parseSpecial: opts.special }) : [...(prompt as readonly number[])];
  if (ids.length === 0) {
    const bos = host.tokenizer.bos;
    if (bos === undefined) throw InvalidArgumentError.forParam("prompt", "is empty and the vocabulary has no BOS token to start from");
    ids = [bos];
  }
  if (ids.length + maxTokens > ctx) {
    if (opts.overflow !== "truncate") throw overflowError(ids.length, maxTokens, ctx);
    const room = Math.max(1, ctx - maxTokens);
    ids = ids.slice(ids.length - room);
  }
  return { ids, maxTokens: Math.min(maxTokens, ctx - ids.length) };
}

/**
 * Generates a continuation of `prompt`. The final `finishReason` is reported through `onFinish`
 * because an async iterator's return value is lost in `for await`. Arguments are checked before the
 * first token is asked for, so that a bad call fails at once when iterated.
 */
export async function* generate(
  host: GenerationHost,
  prompt: string | readonly number[],
  opts: GenerateOptions = {},
  onFinish?: (reason: FinishReason, promptTokens: number, generatedTokens: number) => void,
): AsyncGenerator<GeneratedToken> {
  if (opts === null || typeof opts !== "object") throw InvalidArgumentError.forParam("options", `must be an object, got ${describe(opts)}`);
  const stops = new StopMatcher(stopStrings(opts.stop));
  if (opts.logprobs !== undefined && !(Number.isInteger(opts.logprobs) && opts.logprobs >= 0 && opts.logprobs <= MAX_TOP_LOGPROBS)) {
    throw InvalidArgumentError.forParam("logprobs", `must be an integer in [0, ${MAX_TOP_LOGPROBS}], got ${describe(opts.logprobs)}`);
  }
  const { ids, maxTokens } = preparePrompt(host, prompt, opts);
  const sampler = new Sampler(host.tokenizer.vocabSize, opts);
  const decoder = host.tokenizer.createStreamDecoder({ stripLeadingSpace: false });
  const signal = opts.signal;
  const history = [...ids];
  const seq = await host.createSequence({ hint: ids, signal });
  try {
    const logits = new Float32Array(host.tokenizer.vocabSize);
    if (maxTokens > 0) await seq.evaluate(ids, { into: logits, signal });
    let reason: FinishReason = "length";
    let generated = 0;
    let hitStopString = false;
    while (generated < maxTokens) {
      if (signal?.aborted) throw signal.reason ?? new Error("generation aborted");
      const token = sampler.sample(logits, history);
      if (!opts.ignoreEos && host.tokenizer.stopTokens.has(token)) {
        reason = "stop";
        break;
      }
      history.push(token);
      generated++;
      const piece = stops.push(decoder.push(token));
      yield opts.logprobs === undefined ? { token, text: piece.emit } : { token, text: piece.emit, ...tokenLogprobs(logits, token, opts.logprobs) };
      if (piece.stopped) {
        reason = "stop";
        hitStopString = true;
        break;
      }
      if (generated < maxTokens) await seq.step(token, { into: logits, signal });
    }
    if (!hitStopString) {
      // Bytes still waiting for the rest of a character, and text held back as a possible stop string.
      const tail = stops.push(decoder.flush());
      const rest = tail.stopped ? tail.emit : tail.emit + stops.flush();
      if (rest) yield { token: -1, text: rest };
    }
    onFinish?.(reason, ids.length, generated);
  } finally {
    seq.dispose();
  }
}

export interface ChatOptions extends GenerateOptions {
  /** A Jinja chat template; default: the file's `tokenizer.chat_template` (unless it is bitnet.cpp's placeholder), else the BitNet b1.58 2B4T format. */
  template?: string;
}

/** The prompt text `messages` become under the model's chat template (what `chat` generates from). */
export function chatPrompt(host: Pick<GenerationHost, "tokenizer" | "fileName">, messages: ChatMessage[], template?: string): { text: string; addBos: boolean | undefined } {
  if (!Array.isArray(messages)) throw InvalidArgumentError.forParam("messages", `must be an array of { role, content }, got ${describe(messages)}`);
  const tok = host.tokenizer;
  const bosToken = tok.bos !== undefined ? tok.tokenText(tok.bos) : undefined;
  const eosToken = tok.eos !== undefined ? tok.tokenText(tok.eos) : undefined;
  const source = template !== undefined ? "options.template" : `${host.fileName}: tokenizer.chat_template`;
  const text = renderChat(messages, { template: template ?? chooseChatTemplate(tok.chatTemplate), bosToken, eosToken, addGenerationPrompt: true, source });
  // Templates write BOS themselves when they want it; adding another would change the model's input.
  return { text, addBos: bosToken !== undefined && text.startsWith(bosToken) ? false : undefined };
}

/** Renders `messages` with the chat template and generates the assistant's reply. */
export async function* chat(host: GenerationHost, messages: ChatMessage[], opts: ChatOptions = {}, onFinish?: Parameters<typeof generate>[3]): AsyncGenerator<GeneratedToken> {
  const { text, addBos } = chatPrompt(host, messages, opts.template);
  yield* generate(host, text, { ...opts, addBos: addBos ?? opts.addBos, special: true }, onFinish);
}
