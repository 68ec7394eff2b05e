/**
 * The one line a failed command prints: the error's message, with library parameter names turned into
 * the flags a user typed (a sampling option into --top-p, maxTokens into -n), and a context overflow said
 * in terms of the flags that fix it.
 */
import { ContextOverflowError, InvalidArgumentError } from "../errors.ts";

/** Library parameter → command-line flag, for the parameters commands pass through from flags. */
const FLAG_OF: Readonly<Record<string, string>> = {
  maxTokens: "-n/--n-predict",
  temperature: "--temp",
  topK: "--top-k",
  topP: "--top-p",
  minP: "--min-p",
  repeatPenalty: "--repeat-penalty",
  presencePenalty: "--presence-penalty",
  frequencyPenalty: "--frequency-penalty",
  penaltyLastN: "--repeat-last-n",
  seed: "--seed",
  stop: "--stop",
  contextLength: "--ctx",
  batchSize: "--batch",
  threads: "--threads",
  parallel: "--parallel",
};

export function cliErrorMessage(err: unknown): string {
  if (err instanceof InvalidArgumentError && err.param !== undefined && err.problem !== undefined && Object.hasOwn(FLAG_OF, err.param)) {
    return `${FLAG_OF[err.param]} ${err.problem}`;
  }
  if (err instanceof ContextOverflowError && err.overflow && err.overflow.maxTokens > 0) {
    const o = err.overflow;
    return `the prompt (${o.atLeast ? "at least " : ""}${o.promptTokens} tokens) plus -n ${o.maxTokens} exceeds the context of ${o.contextLength} tokens; shorten the prompt, lower -n, raise --ctx, or pass --truncate`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0];
}
