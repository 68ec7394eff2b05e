/**
 * POST /v1/chat/completions: messages through the model's chat template, then a generation on a sequence
 * of its own (batched with every other request by the model). Non-streaming requests get one
 * `chat.completion`; streaming ones a series of `chat.completion.chunk` events (role first, then content
 * deltas, then the finish reason, then usage when asked for). Not here: HTTP and SSE framing (app.ts).
 */
import { chatPrompt } from "../generate/generate.ts";
import type { ChatMessage } from "../generate/chat-template.ts";
import type { BitNetModel } from "../model/model.ts";
import { maxTokensFor, samplingOptions, tokenBytes, tokenString } from "./generation.ts";
import type { ChatCompletionRequest, ChatTokenLogprob, FinishReason, Usage } from "./protocol.ts";

export interface ChatContext {
  model: BitNetModel;
  modelId: string;
  signal: AbortSignal;
  /** Called with the time the first token came and the time the last did (metrics). */
  onTiming?: (t: { promptTokens: number; completionTokens: number; firstTokenAt: number | null; endedAt: number }) => void;
}

export interface ChatChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: { index: 0; delta: { role?: "assistant"; content?: string }; finish_reason: FinishReason | null; logprobs?: { content: ChatTokenLogprob[] } | null }[];
  usage?: Usage | null;
}

function messagesOf(req: ChatCompletionRequest): ChatMessage[] {
  return req.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: typeof m.content === "string" ? m.content : m.content === null ? "" : m.content.map((p) => p.text).join(""),
  }));
}

function logprobEntry(model: BitNetModel, token: number, logprob: number, top: { token: number; logprob: number }[]): ChatTokenLogprob {
  return {
    token: tokenString(model, token),
    logprob,
    bytes: tokenBytes(model, token),
    top_logprobs: top.map((t) => ({ token: tokenString(model, t.token), logprob: t.logprob, bytes: tokenBytes(model, t.token) })),
  };
}

let counter = 0;
export function completionId(prefix: string): string {
  counter = (counter + 1) % 1e9;
  return `${prefix}-${Date.now().toString(36)}${counter.toString(36)}`;
}

/**
 * The generation as chunks: the caller streams them, or folds them into one response. The prompt is
 * tokenized and checked against the context before anything is yielded, so a bad request fails before
 * a stream starts.
 */
export async function* chatChunks(req: ChatCompletionRequest, ctx: ChatContext): AsyncGenerator<ChatChunk> {
  const { model } = ctx;
  const { text, addBos } = chatPrompt(model, messagesOf(req));
  const ids = model.tokenize(text, { addBos, special: true });
  const maxTokens = maxTokensFor(model, ids.length, req.max_completion_tokens ?? req.max_tokens);
  const wantLogprobs = req.logprobs === true;
  const id = completionId("chatcmpl");
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: ChatChunk["choices"][0]["delta"], finish: FinishReason | null, logprobs?: ChatTokenLogprob[]): ChatChunk => ({
    id,
    object: "chat.completion.chunk",
    created,
    model: ctx.modelId,
    choices: [{ index: 0, delta, finish_reason: finish, ...(wantLogprobs ? { logprobs: logprobs ? { content: logprobs } : null } : {}) }],
  });
  let finish: FinishReason = "length";
  let completionTokens = 0;
  let firstTokenAt: number | null = null;
  const gen = model.generate(ids, { ...samplingOptions(req), maxTokens, signal: ctx.signal, ...(wantLogprobs ? { logprobs: req.top_logprobs ?? 0 } : {}) }, (reason, _p, generated) => {
    finish = reason;
    completionTokens = generated;
  });
  yield chunk({ role: "assistant", content: "" }, null);
  for await (const t of gen) {
    firstTokenAt ??= performance.now();
    const lp = wantLogprobs && t.token >= 0 && t.logprob !== undefined ? [logprobEntry(model, t.token, t.logprob, t.topLogprobs ?? [])] : undefined;
    if (t.text !== "" || lp) yield chunk({ content: t.text }, null, lp);
  }
  ctx.onTiming?.({ promptTokens: ids.length, completionTokens, firstTokenAt, endedAt: performance.now() });
  const last = chunk({}, finish);
  const usage: Usage = { prompt_tokens: ids.length, completion_tokens: completionTokens, total_tokens: ids.length + completionTokens };
  yield { ...last, usage };
}

/** The non-streaming response: the chunks folded into one `chat.completion`. */
export async function chatCompletion(req: ChatCompletionRequest, ctx: ChatContext): Promise<unknown> {
  let content = "";
  const logprobs: ChatTokenLogprob[] = [];
  let last: ChatChunk | undefined;
  for await (const c of chatChunks(req, ctx)) {
    content += c.choices[0].delta.content ?? "";
    logprobs.push(...(c.choices[0].logprobs?.content ?? []));
    last = c;
  }
  const end = last as ChatChunk;
  return {
    id: end.id,
    object: "chat.completion",
    created: end.created,
    model: end.model,
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: end.choices[0].finish_reason, logprobs: req.logprobs ? { content: logprobs } : null }],
    usage: end.usage,
  };
}
