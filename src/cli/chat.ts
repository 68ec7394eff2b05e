/**
 * `bitnet chat`: an interactive conversation in the terminal. The history is kept and re-sent through
 * the chat template each turn; the model's cache reuses the unchanged prefix, so only new text is computed.
 * `/reset` clears the history, `/exit` (or Ctrl-D) leaves.
 */
import type { Command } from "commander";
import { createInterface } from "node:readline/promises";
import type { ChatMessage } from "../generate/chat-template.ts";
import { addModelFlags, openModel, type ModelFlags } from "./model-options.ts";
import { addSamplingFlags, samplingOptions, type SamplingFlags } from "./sampling-flags.ts";

interface ChatFlags extends ModelFlags, SamplingFlags {
  system?: string;
}

export function registerChat(program: Command): void {
  const cmd = program.command("chat").description("talk with a model in the terminal").option("--system <text>", "system prompt");
  addModelFlags(cmd);
  addSamplingFlags(cmd, "256");
  cmd.action(async (flags: ChatFlags) => {
    const opts = samplingOptions(flags);
    const model = await openModel(flags);
    const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY });
    const start: ChatMessage[] = flags.system ? [{ role: "system", content: flags.system }] : [];
    let history = [...start];
    try {
      process.stdout.write("bitnet chat: /reset clears the conversation, /exit leaves.\n");
      // The line iterator buffers what arrives while the model answers, so piped input is read line by
      // line to its end (question() would drop lines that come before it is asked).
      const lines = rl[Symbol.asyncIterator]();
      for (;;) {
        process.stdout.write("> ");
        const next = await lines.next();
        if (next.done) break; // input closed (Ctrl-D or end of piped input)
        const text = String(next.value).trim();
        if (text === "/exit" || text === "/quit") break;
        if (text === "/reset") {
          history = [...start];
          continue;
        }
        if (!text) continue;
        history.push({ role: "user", content: text });
        let reply = "";
        for await (const piece of model.chat(history, { ...opts, overflow: "truncate" })) {
          reply += piece.text;
          process.stdout.write(piece.text);
        }
        process.stdout.write("\n");
        history.push({ role: "assistant", content: reply });
      }
    } finally {
      rl.close();
      await model.dispose();
    }
  });
}
