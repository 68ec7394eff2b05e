/**
 * What both completion endpoints share: a request's sampling fields as GenerateOptions, prompts as token
 * ids with the context policy the protocol wants (max_tokens defaults to what the context has left; a
 * prompt that does not fit is a 400 with both numbers, never truncated), token strings, and the prompt's
 * own log-probabilities for `echo`.
 */
import { ContextOverflowError } from "../errors.ts";
import { MAX_TOP_LOGPROBS, tokenLogprobs, type GenerateOptions } from "../generate/generate.ts";
import type { BitNetModel } from "../model/model.ts";
import type { CompletionRequest, ChatCompletionRequest } from "./protocol.ts";

type Sampling = Pick<ChatCompletionRequest & CompletionRequest, "temperature" | "top_p" | "top_k" | "min_p" | "seed" | "stop" | "presence_penalty" | "frequency_penalty" | "repeat_penalty" | "ignore_eos">;

/** The request's sampling fields as GenerateOptions (absent fields keep llama.cpp's defaults). */
export function samplingOptions(r: Sampling): GenerateOptions {
  const o: GenerateOptions = {};
  if (r.temperature != null) o.temperature = r.temperature;
  if (r.top_p != null) o.topP = r.top_p;
  if (r.top_k != null) o.topK = r.top_k;
  if (r.min_p != null) o.minP = r.min_p;
  if (r.seed != null) o.seed = r.seed;
  if (r.stop != null) o.stop = r.stop;
  if (r.presence_penalty != null) o.presencePenalty = r.presence_penalty;
  if (r.frequency_penalty != null) o.frequencyPenalty = r.frequency_penalty;
  if (r.repeat_penalty != null) o.repeatPenalty = r.repeat_penalty;
  if (r.ignore_eos != null) o.ignoreEos = r.ignore_eos;
  return o;
}

/** max_tokens as asked, or all the context has left after the prompt; a prompt that cannot fit is refused. */
export function maxTokensFor(model: BitNetModel, promptTokens: number, asked: number | null | undefined): number {
  const ctx = model.contextLength;
  const maxTokens = asked ?? Math.max(0, ctx - promptTokens);
  if (promptTokens + maxTokens > ctx || promptTokens >= ctx) {
    throw new ContextOverflowError(`${promptTokens} prompt tokens plus ${maxTokens} do not fit the context of ${ctx}`, { overflow: { promptTokens, maxTokens, contextLength: ctx } });
  }
  return maxTokens;
}

/** A token as text for the protocol's `tokens` and `top_logprobs` keys (a partial UTF-8 character shows as U+FFFD). */
export function tokenString(model: BitNetModel, id: number): string {
  return model.tokenizer.decode([id]);
}

export function tokenBytes(model: BitNetModel, id: number): number[] {
  return [...model.tokenizer.tokenToBytes(id)];
}

/** Per prompt position: the log-probability of that token after the ones before it (null for the first), and the `top` best there. */
export interface PromptLogprobs {
  logprobs: (number | null)[];
  top: ({ token: number; logprob: number }[] | null)[];
}

/**
 * The prompt's own log-probabilities (completions with `echo` and `logprobs`), computed on a sequence of
 * its own; a generation that follows finds the prompt in that sequence's slot and computes only its last token.
 */
export async function promptLogprobs(model: BitNetModel, ids: readonly number[], top: number, signal: AbortSignal): Promise<PromptLogprobs> {
  const out: PromptLogprobs = { logprobs: [null], top: [null] };
  if (ids.length < 2) return out;
  const seq = await model.createSequence({ hint: ids, signal });
  try {
    await seq.evaluate(ids, {
      scoreFrom: 0,
      signal,
      onLogits: (logits, p) => {
        if (p + 1 >= ids.length) return;
        const r = tokenLogprobs(logits, ids[p + 1], Math.min(top, MAX_TOP_LOGPROBS));
        out.logprobs.push(r.logprob);
        out.top.push(r.topLogprobs);
      },
    });
  } finally {
    seq.dispose();
  }
  return out;
}
