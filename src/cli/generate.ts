/**
 * `bitnet generate`: streams a continuation of a prompt to stdout, or with --json prints one object
 * with the generated token ids (prompt excluded), the text and timings.
 */
import type { Command } from "commander";
import type { FinishReason } from "../generate/generate.ts";
import { addModelFlags, openModel, parseIds, type ModelFlags } from "./model-options.ts";
import { addSamplingFlags, samplingOptions, type SamplingFlags } from "./sampling-flags.ts";

interface GenerateFlags extends ModelFlags, SamplingFlags {
  prompt?: string;
  promptIds?: string;
  json?: boolean;
}

export function registerGenerate(program: Command): void {
  const cmd = program
    .command("generate")
    .description("continue a prompt")
    .argument("[prompt...]", "prompt text (or use -p)")
    .option("-p, --prompt <text>", "prompt text")
    .option("--prompt-ids <ids>", "prompt as comma-separated token ids (no BOS is added)")
    .option("--json", "print one JSON object instead of streaming text");
  addModelFlags(cmd);
  addSamplingFlags(cmd, "128");
  cmd.action(async (words: string[], flags: GenerateFlags) => {
    const text = flags.prompt ?? (words.length > 0 ? words.join(" ") : undefined);
    if (text === undefined && flags.promptIds === undefined) throw new Error("no prompt: pass text, -p TEXT or --prompt-ids 1,2,3");
    if (text !== undefined && flags.promptIds !== undefined) throw new Error("give either a text prompt or --prompt-ids, not both");
    const opts = samplingOptions(flags);
    const model = await openModel(flags);
    try {
      const prompt = flags.promptIds !== undefined ? parseIds(flags.promptIds) : (text as string);
      const tokens: number[] = [];
      let out = "";
      let finish: FinishReason = "length";
      let promptTokens = 0;
      const start = performance.now();
      let firstAt = 0;
      for await (const piece of model.generate(prompt, opts, (reason, p) => {
        finish = reason;
        promptTokens = p;
      })) {
        if (piece.token >= 0) tokens.push(piece.token);
        if (firstAt === 0) firstAt = performance.now();
        out += piece.text;
        if (!flags.json) process.stdout.write(piece.text);
      }
      const end = performance.now();
      if (flags.json) {
        const decodeMs = end - firstAt;
        process.stdout.write(
          `${JSON.stringify({
            tokens,
            text: out,
            prompt_tokens: promptTokens,
            finish_reason: finish,
            timings: { prompt_ms: firstAt - start, decode_ms: decodeMs, decode_tok_s: tokens.length > 1 ? ((tokens.length - 1) * 1000) / decodeMs : null },
          })}\n`,
        );
      } else {
        process.stdout.write("\n");
      }
    } finally {
      await model.dispose();
    }
  });
}
