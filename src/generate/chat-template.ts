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
 * This module produces text only. Tokenize it with special tokens recognized, and let
 * `splitLeadingBos` decide who supplies the BOS id so it is never there twice.
 */
import { Template } from "@huggingface/jinja";

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

function compile(source: string): Template {
  if (source === cachedSource && cachedTemplate) return cachedTemplate;
  let template: Template;
  try {
    template = new Template(source);
  } catch (error) {
    throw new Error(`chat template: cannot parse it: ${(error as Error).message}`);
  }
  cachedSource = source;
  cachedTemplate = template;
  return template;
}

export function renderChat(messages: readonly ChatMessage[], options: RenderChatOptions = {}): string {
  const addGenerationPrompt = options.addGenerationPrompt ?? true;
  if (options.template === undefined) {
    return renderBitnet2B4T(messages, options.bosToken ?? BITNET_2B4T_BOS, addGenerationPrompt);
  }
  checkMessages(messages);
  if (typeof options.template !== "string" || options.template.trim() === "") {
    throw new Error("chat template: the template is empty");
  }
  const template = compile(options.template);
  try {
    return template.render({
      messages: messages.map(({ role, content }) => ({ role, content })),
      bos_token: options.bosToken ?? "",
      eos_token: options.eosToken ?? "",
      add_generation_prompt: addGenerationPrompt,
    });
  } catch (error) {
    throw new Error(`chat template: rendering failed: ${(error as Error).message}`);
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
