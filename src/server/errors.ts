/**
 * Every failure of the server as OpenAI's error body, {"error": {"message", "type", "param", "code"}},
 * with a status: our typed errors map onto 400 (the request), 408 (its time limit), 429 (the queue is
 * full), 503 (shutting down) and 500 (anything else). Messages stay one line; a library parameter is
 * named as the request field the client sent (topP → top_p).
 */
import { ChatTemplateError, ConcurrencyError, ContextOverflowError, DisposedError, InvalidArgumentError } from "../errors.ts";
import type { ErrorBody } from "./protocol.ts";

export class HttpError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, o: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string> } = {}) {
    super(message);
    this.status = status;
    this.type = o.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
    this.param = o.param ?? null;
    this.code = o.code ?? null;
    this.headers = o.headers ?? {};
  }
}

/** Library option → request field. */
const FIELD_OF: Readonly<Record<string, string>> = {
  maxTokens: "max_tokens",
  temperature: "temperature",
  topK: "top_k",
  topP: "top_p",
  minP: "min_p",
  repeatPenalty: "repeat_penalty",
  presencePenalty: "presence_penalty",
  frequencyPenalty: "frequency_penalty",
  seed: "seed",
  stop: "stop",
  logprobs: "logprobs",
  prompt: "prompt",
  messages: "messages",
  ids: "prompt",
};

export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof ContextOverflowError) {
    const o = e.overflow;
    const message = o
      ? `the prompt has ${o.atLeast ? "at least " : ""}${o.promptTokens} tokens and ${o.maxTokens} more were asked for (max_tokens), but the context holds ${o.contextLength}: shorten the prompt or lower max_tokens`
      : e.message;
    return new HttpError(400, message, { code: "context_length_exceeded", param: o && o.maxTokens > 0 ? "max_tokens" : "messages" });
  }
  if (e instanceof InvalidArgumentError) {
    const field = e.param !== undefined && Object.hasOwn(FIELD_OF, e.param) ? FIELD_OF[e.param] : (e.param ?? null);
    return new HttpError(400, field !== null && e.problem !== undefined ? `${field} ${e.problem}` : e.message, { param: field });
  }
  if (e instanceof ChatTemplateError) return new HttpError(400, e.message, { param: "messages", code: "chat_template" });
  if (e instanceof DisposedError) return new HttpError(503, "the server is shutting down", { code: "shutting_down" });
  if (e instanceof ConcurrencyError) return new HttpError(503, e.message, { code: "busy" });
  if (e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError")) return new HttpError(408, e.message || "the request was aborted", { code: "timeout" });
  const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
  return new HttpError(500, message || "internal error");
}

export function errorBody(e: HttpError): ErrorBody {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}
