/**
 * `bitnet perplexity -m FILE [-f TEXT] [--ctx N] [--chunks N] [--batch N] [--json]`: perplexity by
 * llama-perplexity's protocol (src/eval/perplexity.ts), printed as llama.cpp prints it: the running
 * `[i]ppl` estimates, then `Final estimate: PPL = … +/- …`. Without -f, the text is the held-out chapters
 * of the bundled KJV (the default model's validation text). --ctx defaults to 512, or the model's
 * training context when that is smaller.
 *
 * `--json` prints { file, text, tokens, ctx, chunks, scored, ppl, stderr, nll, nll_stderr, estimates, seconds }.
 */
import type { Command } from "commander";
import { ModelScorer } from "../eval/scorer.ts";
import { formatPerplexity, textPerplexity } from "../eval/perplexity.ts";
import { readModelHeader } from "../node/model-header.ts";
import { BUNDLED_KJV, heldOutText, readTextFile } from "../node/task-files.ts";
import { defaultModelPath } from "../node/default-model.ts";
import { addModelFlags, openModel, parseIntFlag, type ModelFlags } from "./model-options.ts";
import { countProgressBar } from "./progress.ts";

interface PerplexityFlags extends ModelFlags {
  file?: string;
  chunks?: string;
  json?: boolean;
}

/** llama-perplexity's default context, unless the model was trained on less. */
export async function defaultEvalContext(path: string, wanted = 512): Promise<number> {
  const { config } = await readModelHeader(path);
  return Math.min(wanted, config.contextLength);
}

export function registerPerplexity(program: Command): void {
  const cmd = program
    .command("perplexity")
    .description("perplexity of a text as llama.cpp's llama-perplexity computes it (the second half of each --ctx-token chunk; --ctx defaults to 512, or the model's training context when smaller)")
    .option("-f, --file <text>", "text file (UTF-8 or gzip; default: the held-out chapters of the bundled KJV)")
    .option("--chunks <n>", "at most this many chunks (default: all)")
    .option("--json", "print one JSON object");
  addModelFlags(cmd);
  cmd.action(async (flags: PerplexityFlags) => {
    const path = flags.model ?? defaultModelPath();
    if (!path) throw new Error("no model given: pass -m FILE (no embedded default model is installed)");
    const ctx = parseIntFlag("ctx", flags.ctx, 4) ?? (await defaultEvalContext(path));
    const chunks = parseIntFlag("chunks", flags.chunks, 1);
    const what = flags.file ?? `${BUNDLED_KJV} (held-out chapters)`;
    const text = flags.file !== undefined ? await readTextFile(flags.file) : await heldOutText();
    const model = await openModel({ ...flags, model: path, ctx: String(ctx) });
    const bar = flags.json || !process.stderr.isTTY ? null : countProgressBar("perplexity");
    const live = !flags.json && bar === null;
    try {
      const t0 = performance.now();
      const r = await textPerplexity(new ModelScorer(model), model.tokenizer, text, { ctx, chunks, what }, (e) => {
        if (e.chunk === 1 && !flags.json) {
          process.stderr.write(`perplexity: ${e.chunks} chunks of ${ctx} tokens, ${ctx - Math.floor(ctx / 2) - 1} scored per chunk\n`);
        }
        bar?.update(e.chunk, e.chunks, `ppl ${e.ppl.toFixed(4)}`);
        if (live) process.stdout.write(`[${e.chunk}]${e.ppl.toFixed(4)},`);
      });
      bar?.stop();
      const seconds = (performance.now() - t0) / 1000;
      if (flags.json) {
        const out = { file: path, text: what, tokens: r.tokens, ctx: r.ctx, chunks: r.chunks, scored: r.count, ppl: r.ppl, stderr: r.stderr, nll: r.nll, nll_stderr: r.nllStderr, estimates: r.estimates, seconds };
        process.stdout.write(`${JSON.stringify(out)}\n`);
        return;
      }
      const lines = formatPerplexity(r).split("\n");
      process.stdout.write(`${live ? "" : lines[0]}\n${lines[1]}\n`);
      process.stderr.write(`${r.count} tokens scored in ${seconds.toFixed(1)} s (${(r.chunks * ctx / seconds).toFixed(0)} tokens read per second)\n`);
    } finally {
      bar?.stop();
      await model.dispose();
    }
  });
}
