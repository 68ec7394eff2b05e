/**
 * Renders a conversation into the prompt text a chat model was trained on.
 *
 * With `template` (a GGUF's `tokenizer.chat_template`, a Jinja string) it is rendered by
 * @huggingface/jinja with the usual variables: messages, bos_token, eos_token,
 * add_generation_prompt. Without one, the built-in BitNet b1.58 2B4T format is used:
 *
 *   <|begin_of_text|>System: …<|eot_id|>User: …<|eot_id|>Assistant: …<|eot_id|>Assistant: 
 *
 * i.e. BOS once, then per message the capitalized role, ": ", the trimmed content and
 * <|eot_id|> with no newline between turns, then "Assistant: " (trailing space included) as
 * the generation prompt. That is what microsoft/BitNet's own ChatFormat (gpu/tokenizer.py)
 * builds and what the model repo's tokenizer_config.json template renders. It is not the
 * "Human: … BITNETAssistant:" template that bitnet.cpp's converter writes into its GGUFs.
 *
 * A template from a file is untrusted code: it is rendered under limits (bounded-jinja.ts) on steps,
 * nesting, time and the size of what it builds, scaled to the conversation, and every failure (a syntax
 * error, an undefined method, a limit) is one ChatTemplateError line naming where the template came from
 * (`source`, e.g. "model.gguf: tokenizer.chat_template").
 *
 * This module produces text only. Tokenize it with special tokens recognized, and let
 * `splitLeadingBos` decide who supplies the BOS id so it is never there twice.
 */
import { Template } from "@huggingface/jinja";
import { ChatTemplateError } from "../errors.ts";
import { printable } from "../formats/describe.ts";
import { renderBounded, TemplateLimitError, type TemplateLimits } from "./bounded-jinja.ts";

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface RenderChatOptions {
  /** A Jinja chat template; when absent the built-in 2B4T format is used. */
  template?: string;
  /** BOS text. Built-in default "<|begin_of_text|>"; "" for none. Jinja default "". */
  bosToken?: string;
  /** EOS text, exposed to Jinja templates as eos_token. Default "". */
  eosToken?: string;
  /** Append the assistant header so the model answers next. Default true. */
  addGenerationPrompt?: boolean;
  /** Where the template comes from, for errors: e.g. "model.gguf: tokenizer.chat_template". Default "chat template". */
  source?: string;
  /** Overrides of the rendering limits (default: `defaultTemplateLimits` of the conversation). */
  limits?: Partial<TemplateLimits>;
}

/**
 * Limits that no real chat template comes near, scaled to the conversation: a template may print each
 * message a few times over, and loop, nest and take time far beyond what formatting a conversation needs.
 */
export function defaultTemplateLimits(messages: readonly ChatMessage[], extraChars = 0): TemplateLimits {
  const inputChars = messages.reduce((n, m) => n + m.content.length, extraChars);
  const maxChars = 2 ** 20 + 4 * inputChars;
  return {
    maxSteps: 1_000_000 + 1_000 * messages.length,
    maxDepth: 400,
    maxChars,
    maxTotalChars: 32 * maxChars,
    maxItems: 65_536 + messages.length,
    maxMillis: 5_000,
  };
}

/** 2B4T's special-token texts (LLaMA-3 vocabulary: ids 128000 and 128009). */
export const BITNET_2B4T_BOS = "<|begin_of_text|>";
export const BITNET_2B4T_EOT = "<|eot_id|>";

const ROLES: readonly ChatRole[] = ["system", "user", "assistant"];
const ROLE_HEADERS: Record<ChatRole, string> = { system: "System: ", user: "User: ", assistant: "Assistant: " };

function checkMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new Error("renderChat: messages must be an array");
  messages.forEach((message, i) => {
    if (message === null || typeof message !== "object") throw new Error(`renderChat: messages[${i}] must be an object`);
    if (!ROLES.includes(message.role)) {
      throw new Error(`renderChat: messages[${i}].role must be one of ${ROLES.join(", ")}, got ${JSON.stringify(message.role)}`);
    }
    if (typeof message.content !== "string") throw new Error(`renderChat: messages[${i}].content must be a string`);
  });
}

/** The built-in BitNet b1.58 2B4T format (see the file comment). */
export function renderBitnet2B4T(messages: readonly ChatMessage[], bosToken = BITNET_2B4T_BOS, addGenerationPrompt = true): string {
  checkMessages(messages);
  let out = bosToken;
  // Jinja's `trim` (Python str.strip) and String.prototype.trim agree on all ordinary whitespace.
  for (const { role, content } of messages) out += ROLE_HEADERS[role] + content.trim() + BITNET_2B4T_EOT;
  if (addGenerationPrompt) out += ROLE_HEADERS.assistant;
  return out;
}

// Parsing is the slow part and a model keeps one template, so remember the last one.
let cachedSource: string | undefined;
let cachedTemplate: Template | undefined;

function compile(text: string, source: string): Template {
  if (text === cachedSource && cachedTemplate) return cachedTemplate;
  let template: Template;
  try {
    template = new Template(text);
  } catch (error) {
    throw new ChatTemplateError(`${source}: cannot parse it: ${reason(error)}`);
  }
  cachedSource = text;
  cachedTemplate = template;
  return template;
}

/** The library's (or the template's own raise_exception) message, as one short line. */
function reason(error: unknown): string {
  return printable(error instanceof Error ? error.message : String(error), 200);
}

export function renderChat(messages: readonly ChatMessage[], options: RenderChatOptions = {}): string {
  const addGenerationPrompt = options.addGenerationPrompt ?? true;
  if (options.template === undefined) {
    return renderBitnet2B4T(messages, options.bosToken ?? BITNET_2B4T_BOS, addGenerationPrompt);
  }
  checkMessages(messages);
  const source = options.source ?? "chat template";
  if (typeof options.template !== "string" || options.template.trim() === "") {
    throw new ChatTemplateError(`${source}: the template is empty`);
  }
  const template = compile(options.template, source);
  const bos = options.bosToken ?? "";
  const eos = options.eosToken ?? "";
  const limits = { ...defaultTemplateLimits(messages, bos.length + eos.length), ...options.limits };
  try {
    const items = { messages: messages.map(({ role, content }) => ({ role, content })), bos_token: bos, eos_token: eos, add_generation_prompt: addGenerationPrompt };
    return renderBounded(template.parsed, items, limits);
  } catch (error) {
    if (error instanceof TemplateLimitError) throw new ChatTemplateError(`${source}: rendering stopped: ${error.message}`);
    throw new ChatTemplateError(`${source}: rendering failed: ${reason(error)}`);
  }
}

/**
 * Picks the template to use from a GGUF's `tokenizer.chat_template`: the file's own, unless it is
 * missing or is the placeholder bitnet.cpp's converter (utils/convert-ms-to-gguf-bitnet.py)
 * writes ("Human: … BITNETAssistant: " followed by eos_token), which is not the format 2B4T was
 * tuned on. `undefined` means: use the built-in 2B4T format.
 */
export function chooseChatTemplate(fileTemplate: string | undefined): string | undefined {
  if (fileTemplate === undefined || fileTemplate.trim() === "") return undefined;
  if (fileTemplate.includes("BITNETAssistant")) return undefined;
  return fileTemplate;
}

/**
 * Whether the rendered prompt already starts with the BOS text. Returns the text without it,
 * so the caller tokenizes `text` and puts the BOS id in front itself when `hadBos` is true or
 * its tokenizer adds BOS anyway. llama.cpp does the same (common/chat.cpp strips a leading
 * bos_token when the vocabulary adds BOS), which keeps the prompt from starting with two.
 */
export function splitLeadingBos(rendered: string, bosToken: string | undefined): { text: string; hadBos: boolean } {
  if (bosToken && rendered.startsWith(bosToken)) return { text: rendered.slice(bosToken.length), hadBos: true };
  return { text: rendered, hadBos: false };
}
