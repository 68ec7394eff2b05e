/**
 * The generation loop: prompt → tokens → logits → sampler → streamed text, as an AsyncIterable.
 * It owns the policy around the model (context limits, stop tokens and strings, n_predict, seeds);
 * the model owns the numbers. One token is yielded per step so a caller can stream it (CLI, SSE).
 */
import { ContextOverflowError } from "../errors.ts";
import type { BitNetModel } from "../model/model.ts";
import { chooseChatTemplate, renderChat, type ChatMessage } from "./chat-template.ts";
import { Sampler, type SamplingOptions } from "./sampler.ts";
import { StopMatcher } from "./stop.ts";
import { nextMacrotask } from "./next-tick.ts";

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (n_predict). Default 128. */
  maxTokens?: number;
  /** Text that ends generation; it is not included in the output. */
  stop?: string[];
  /** Prepend BOS when the prompt is text. Default: the vocabulary's add_bos_token. */
  addBos?: boolean;
  /** Parse special tokens (e.g. "<|eot_id|>") written in a text prompt. Default false. */
  special?: boolean;
  /** When prompt + maxTokens exceeds the context: "error" (default) or "truncate" (keep the prompt's end). */
  overflow?: "error" | "truncate";
  /** Keep generating past end-of-generation tokens. Default false. */
  ignoreEos?: boolean;
  signal?: AbortSignal;
}

export interface GeneratedToken {
  token: number;
  /** The text this token completes (may be empty while a UTF-8 character or a possible stop string is pending). */
  text: string;
}

export type FinishReason = "stop" | "length";

/** Resolves the prompt to ids and applies the context policy. */
export function preparePrompt(model: BitNetModel, prompt: string | readonly number[], opts: GenerateOptions): { ids: number[]; maxTokens: number } {
  const maxTokens = opts.maxTokens ?? 128;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new Error(`maxTokens must be a non-negative integer, got ${opts.maxTokens}`);
  let ids = typeof prompt === "string" ? model.tokenize(prompt, { addBos: opts.addBos, special: opts.special }) : [...prompt];
  if (ids.length === 0) {
    const bos = model.tokenizer.bos;
    if (bos === undefined) throw new Error("the prompt is empty and the vocabulary has no BOS token to start from");
    ids = [bos];
  }
  const ctx = model.contextLength;
  if (ids.length + maxTokens > ctx) {
    if (opts.overflow !== "truncate") {
      throw new ContextOverflowError(
        `the prompt (${ids.length} tokens) plus maxTokens (${maxTokens}) exceeds the context of ${ctx} tokens; shorten the prompt, lower maxTokens, raise the context, or allow truncation`,
      );
    }
    const room = Math.max(1, ctx - maxTokens);
    ids = ids.slice(ids.length - room);
  }
  return { ids, maxTokens: Math.min(maxTokens, ctx - ids.length) };
}

/**
 * Generates a continuation of `prompt`. The final `finishReason` is reported through `onFinish`
 * because an async iterator's return value is lost in `for await`.
 */
export async function* generate(
  model: BitNetModel,
  prompt: string | readonly number[],
  opts: GenerateOptions = {},
  onFinish?: (reason: FinishReason, promptTokens: number, generatedTokens: number) => void,
): AsyncGenerator<GeneratedToken> {
  const { ids, maxTokens } = preparePrompt(model, prompt, opts);
  const sampler = new Sampler(model.config.vocabSize, opts);
  const decoder = model.tokenizer.createStreamDecoder({ stripLeadingSpace: false });
  const stops = new StopMatcher(opts.stop ?? []);
  const history = [...ids];
  let logits = model.evaluate(ids);
  let reason: FinishReason = "length";
  let generated = 0;
  let hitStopString = false;
  while (generated < maxTokens) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("generation aborted");
    const token = sampler.sample(logits, history);
    if (!opts.ignoreEos && model.tokenizer.stopTokens.has(token)) {
      reason = "stop";
      break;
    }
    history.push(token);
    generated++;
    const piece = stops.push(decoder.push(token));
    yield { token, text: piece.emit };
    if (piece.stopped) {
      reason = "stop";
      hitStopString = true;
      break;
    }
    if (generated < maxTokens) logits = model.step(token);
    // Let the event loop breathe between tokens (servers, UIs).
    await nextMacrotask();
  }
  if (!hitStopString) {
    // Bytes still waiting for the rest of a character, and text held back as a possible stop string.
    const tail = stops.push(decoder.flush());
    const rest = tail.stopped ? tail.emit : tail.emit + stops.flush();
    if (rest) yield { token: -1, text: rest };
  }
  onFinish?.(reason, ids.length, generated);
}

export interface ChatOptions extends GenerateOptions {
  /** A Jinja chat template; default: the file's `tokenizer.chat_template` (unless it is bitnet.cpp's placeholder), else the BitNet b1.58 2B4T format. */
  template?: string;
}

/** Renders `messages` with the chat template and generates the assistant's reply. */
export function chat(model: BitNetModel, messages: ChatMessage[], opts: ChatOptions = {}, onFinish?: Parameters<typeof generate>[3]): AsyncGenerator<GeneratedToken> {
  const tok = model.tokenizer;
  const bosToken = tok.bos !== undefined ? tok.tokenText(tok.bos) : undefined;
  const eosToken = tok.eos !== undefined ? tok.tokenText(tok.eos) : undefined;
  const source = opts.template !== undefined ? "options.template" : `${model.fileName}: tokenizer.chat_template`;
  const text = renderChat(messages, { template: opts.template ?? chooseChatTemplate(tok.chatTemplate), bosToken, eosToken, addGenerationPrompt: true, source });
  // Templates write BOS themselves when they want it; adding another would change the model's input.
  const addBos = bosToken !== undefined && text.startsWith(bosToken) ? false : opts.addBos;
  return generate(model, text, { ...opts, addBos, special: true }, onFinish);
}
