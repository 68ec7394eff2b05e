/**
 * The OpenAI HTTP protocol as the server speaks it: zod schemas for the request bodies (validation with
 * errors that name the field) and the response shapes. Unknown fields are ignored, as OpenAI-compatible
 * servers do, so clients that send more (user, tools, …) still work; fields we cannot honour (n > 1) are
 * refused by name. Not here: running the model (handlers.ts), HTTP plumbing (app.ts).
 */
import { z } from "zod";

const stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(16)]).optional();

/** Sampling fields shared by both completion endpoints (OpenAI's names, llama-server's extensions). */
const sampling = {
  max_tokens: z.number().int().min(0).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().min(0).max(0xffffffff).nullish(),
  stop: stop.nullable(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  repeat_penalty: z.number().gt(0).nullish(),
  /** llama-server's extension: keep generating past end-of-generation tokens. */
  ignore_eos: z.boolean().nullish(),
  n: z.literal(1, { error: "n must be 1: one choice per prompt" }).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  model: z.string().optional(),
};

const textPart = z.object({ type: z.literal("text"), text: z.string() });

export const ChatMessageSchema = z.object({
  role: z.enum(["system", "user", "assistant", "developer"]),
  content: z.union([z.string(), z.array(textPart)]).nullable(),
});

export const ChatCompletionRequest = z.object({
  ...sampling,
  messages: z.array(ChatMessageSchema).min(1),
  max_completion_tokens: z.number().int().min(0).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

const tokenIds = z.array(z.number().int().min(0)).min(1);

export const CompletionRequest = z.object({
  ...sampling,
  prompt: z.union([z.string(), tokenIds, z.array(z.string()).min(1), z.array(tokenIds).min(1)]),
  echo: z.boolean().nullish(),
  logprobs: z.number().int().min(0).max(20).nullish(),
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

export const TokenizeRequest = z.object({
  content: z.string(),
  add_special: z.boolean().optional(),
  parse_special: z.boolean().optional(),
  with_pieces: z.boolean().optional(),
});

export const DetokenizeRequest = z.object({ tokens: z.array(z.number().int().min(0)) });

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export type FinishReason = "stop" | "length";

/** A chat completion's logprobs entry per generated token (OpenAI's shape). */
export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

/** A completion's logprobs (the legacy shape lm-evaluation-harness reads). */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/** OpenAI's error body. */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** "messages[1].content: expected string…": the first problem of a failed validation, naming its field. */
export function describeZodError(e: z.ZodError): { message: string; param: string | null } {
  const issue = e.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("") : null;
  return { message: `${param ?? "body"}: ${issue?.message ?? "invalid request"}`, param };
}
