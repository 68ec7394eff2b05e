/**
 * POST /v1/completions: one choice per prompt (a string, token ids, or a list of either), each generated
 * on a sequence of its own, all at once (so they share the model's batching steps). With `echo` the prompt
 * comes back in front of the text; with `logprobs` each token's log-probability and the best alternatives,
 * for the prompt's tokens too when echoed (null for the first). That is how lm-evaluation-harness's
 * local-completions backend scores multiple choice: {"prompt": [[ids…]…], "max_tokens": 1, "logprobs": 1,
 * "echo": true, "temperature": 0}, then Σ token_logprobs[ctxlen:-1].
 */
import type { BitNetModel } from "../model/model.ts";
import { completionId, type ChatContext } from "./chat.ts";
import { maxTokensFor, promptLogprobs, samplingOptions, tokenString } from "./generation.ts";
import type { CompletionLogprobs, CompletionRequest, FinishReason, Usage } from "./protocol.ts";

export interface CompletionChoice {
  index: number;
  text: string;
  logprobs: CompletionLogprobs | null;
  finish_reason: FinishReason;
}

/** The request's prompts as token ids (text gets BOS as the vocabulary wants; ids are taken as they are). */
function promptIds(model: BitNetModel, prompt: CompletionRequest["prompt"]): number[][] {
  if (typeof prompt === "string") return [model.tokenize(prompt)];
  if (prompt.length > 0 && typeof prompt[0] === "number") return [prompt as number[]];
  return (prompt as (string | number[])[]).map((p) => (typeof p === "string" ? model.tokenize(p) : p));
}

function topDict(model: BitNetModel, top: { token: number; logprob: number }[] | null): Record<string, number> | null {
  if (top === null) return null;
  const d: Record<string, number> = {};
  // Two ids with the same text keep the more likely one (the first, best first).
  for (const t of top) {
    const s = tokenString(model, t.token);
    if (!Object.hasOwn(d, s)) d[s] = t.logprob;
  }
  return d;
}

async function oneChoice(req: CompletionRequest, ids: number[], index: number, ctx: ChatContext): Promise<{ choice: CompletionChoice; usage: Usage }> {
  const { model } = ctx;
  const maxTokens = maxTokensFor(model, ids.length, req.max_tokens ?? 16);
  const top = req.logprobs ?? null;
  const lp: CompletionLogprobs | null = top === null ? null : { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let text = "";
  const add = (token: number, piece: string, logprob: number | null, alternatives: { token: number; logprob: number }[] | null): void => {
    if (!lp) return;
    lp.text_offset.push(lp.tokens.reduce((n, s) => n + s.length, 0));
    lp.tokens.push(piece);
    lp.token_logprobs.push(logprob);
    lp.top_logprobs.push(topDict(model, alternatives));
  };
  if (req.echo) {
    text = model.detokenize(ids);
    if (lp) {
      const scored = await promptLogprobs(model, ids, top ?? 0, ctx.signal);
      ids.forEach((id, i) => add(id, tokenString(model, id), scored.logprobs[i], scored.top[i]));
    }
  }
  let finish: FinishReason = "length";
  let completionTokens = 0;
  let firstTokenAt: number | null = null;
  if (maxTokens > 0) {
    const gen = model.generate(ids, { ...samplingOptions(req), maxTokens, signal: ctx.signal, ...(top !== null ? { logprobs: top } : {}) }, (reason, _p, generated) => {
      finish = reason;
      completionTokens = generated;
    });
    for await (const t of gen) {
      firstTokenAt ??= performance.now();
      text += t.text;
      if (t.token >= 0) add(t.token, tokenString(model, t.token), t.logprob ?? null, t.topLogprobs ?? null);
    }
  }
  ctx.onTiming?.({ promptTokens: ids.length, completionTokens, firstTokenAt, endedAt: performance.now() });
  return {
    choice: { index, text, logprobs: lp, finish_reason: finish },
    usage: { prompt_tokens: ids.length, completion_tokens: completionTokens, total_tokens: ids.length + completionTokens },
  };
}

export async function completion(req: CompletionRequest, ctx: ChatContext): Promise<unknown> {
  const prompts = promptIds(ctx.model, req.prompt);
  // Every prompt is checked before any runs: a bad one fails the request at once.
  for (const ids of prompts) maxTokensFor(ctx.model, ids.length, req.max_tokens ?? 16);
  const results = await Promise.all(prompts.map((ids, i) => oneChoice(req, ids, i, ctx)));
  const usage = results.reduce<Usage>((u, r) => ({ prompt_tokens: u.prompt_tokens + r.usage.prompt_tokens, completion_tokens: u.completion_tokens + r.usage.completion_tokens, total_tokens: u.total_tokens + r.usage.total_tokens }), { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
  return {
    id: completionId("cmpl"),
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model: ctx.modelId,
    choices: results.map((r) => r.choice),
    usage,
  };
}

/** Streaming a completion: the choices' text as `text_completion` chunks, interleaved as tokens come. */
export async function* completionChunks(req: CompletionRequest, ctx: ChatContext): AsyncGenerator<unknown> {
  const prompts = promptIds(ctx.model, req.prompt);
  const maxima = prompts.map((ids) => maxTokensFor(ctx.model, ids.length, req.max_tokens ?? 16));
  const id = completionId("cmpl");
  const created = Math.floor(Date.now() / 1000);
  const queue: unknown[] = [];
  let wake: (() => void) | null = null;
  let failure: unknown = null;
  let running = prompts.length;
  const usage: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  const push = (c: unknown): void => {
    queue.push(c);
    wake?.();
  };
  prompts.forEach((ids, index) => {
    void (async () => {
      let finish: FinishReason = "length";
      let generated = 0;
      let firstTokenAt: number | null = null;
      if (req.echo) push({ id, object: "text_completion", created, model: ctx.modelId, choices: [{ index, text: ctx.model.detokenize(ids), logprobs: null, finish_reason: null }] });
      if (maxima[index] > 0) {
        for await (const t of ctx.model.generate(ids, { ...samplingOptions(req), maxTokens: maxima[index], signal: ctx.signal }, (r, _p, g) => ((finish = r), (generated = g)))) {
          firstTokenAt ??= performance.now();
          if (t.text) push({ id, object: "text_completion", created, model: ctx.modelId, choices: [{ index, text: t.text, logprobs: null, finish_reason: null }] });
        }
      }
      ctx.onTiming?.({ promptTokens: ids.length, completionTokens: generated, firstTokenAt, endedAt: performance.now() });
      usage.prompt_tokens += ids.length;
      usage.completion_tokens += generated;
      push({ id, object: "text_completion", created, model: ctx.modelId, choices: [{ index, text: "", logprobs: null, finish_reason: finish }] });
    })().catch((e: unknown) => (failure ??= e)).finally(() => {
      running--;
      wake?.();
    });
  });
  for (;;) {
    while (queue.length > 0) yield queue.shift();
    if (failure) throw failure;
    if (running === 0) break;
    await new Promise<void>((r) => (wake = r));
    wake = null;
  }
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  yield { id, object: "text_completion", created, model: ctx.modelId, choices: [], usage };
}
