/**
 * `bitnet logits`: the logits after the last prompt token, as JSON ({"logits": [...]}, vocab-long),
 * for comparing with other engines.
 */
import type { Command } from "commander";
import { addModelFlags, openModel, parseIds, type ModelFlags } from "./model-options.ts";

interface LogitsFlags extends ModelFlags {
  prompt?: string;
  promptIds?: string;
  json?: boolean;
  top?: string;
}

export function registerLogits(program: Command): void {
  const cmd = program
    .command("logits")
    .description("print the next-token logits after a prompt")
    .option("-p, --prompt <text>", "prompt text")
    .option("--prompt-ids <ids>", "prompt as comma-separated token ids")
    .option("--json", "print {\"logits\": [...]} (the default output lists the top 10)");
  addModelFlags(cmd);
  cmd.action(async (flags: LogitsFlags) => {
    if ((flags.prompt === undefined) === (flags.promptIds === undefined)) throw new Error("give exactly one of -p TEXT or --prompt-ids 1,2,3");
    const model = await openModel(flags);
    try {
      const ids = flags.promptIds !== undefined ? parseIds(flags.promptIds) : model.tokenize(flags.prompt as string);
      const logits = model.logits(ids);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ prompt: ids, logits: Array.from(logits) })}\n`);
        return;
      }
      const top = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]).slice(0, 10);
      for (const id of top) process.stdout.write(`${String(id).padStart(7)}  ${logits[id].toFixed(5).padStart(11)}  ${JSON.stringify(model.tokenizer.tokenText(id))}\n`);
    } finally {
      await model.dispose();
    }
  });
}
