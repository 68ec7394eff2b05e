/**
 * `bitnet report --ternary A.gguf --fp B.gguf [--text FILE] [--tasks LIST] [--out DIR] [--json]`: the
 * b1.58 paper's Table 1 (file size, peak memory, decode latency, prefill throughput, perplexity) and
 * Table 2 (zero-shot accuracy) on this CPU, for a ternary model and its FP twin. Speed and memory are
 * measured in a child process per model; perplexity (llama-perplexity's protocol, on the held-out KJV
 * chapters unless --text) and the tasks (the built-in KJV task unless --tasks) in this one.
 * The work is src/node/evaluate.ts's; this file maps flags onto it and prints.
 *
 * Prints the Markdown report (`--json`: report.json's object); `--out DIR` writes report.md, report.json,
 * report.svg, report.png and the per-item samples there.
 */
import type { Command } from "commander";
import { availableParallelism } from "node:os";
import { reportJson, reportMarkdown } from "../eval/report.ts";
import { buildReport, writeReport } from "../node/evaluate.ts";
import { parseIntFlag } from "./model-options.ts";
import { countProgressBar } from "./progress.ts";

interface ReportFlags {
  ternary: string;
  fp: string;
  text?: string;
  ppl: boolean;
  ctx?: string;
  chunks?: string;
  tasks: string;
  limit?: string;
  dataDir?: string;
  threads?: string;
  prompt: string;
  tokens: string;
  rounds: string;
  out?: string;
  json?: boolean;
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("the paper's Table 1 and Table 2 on this CPU: a ternary model against its FP twin")
    .requiredOption("--ternary <file>", "the ternary (BitNet b1.58) GGUF model")
    .requiredOption("--fp <file>", "its FP twin (same shape, float weights)")
    .option("--text <file>", "perplexity text (default: the held-out chapters of the bundled KJV)")
    .option("--no-ppl", "skip perplexity")
    .option("-c, --ctx <n>", "perplexity context (default: 512, or the models' training context when smaller)")
    .option("--chunks <n>", "at most this many perplexity chunks")
    .option("--tasks <list>", "zero-shot tasks, as bitnet eval takes them", "kjv")
    .option("--limit <n>", "score only the first N items of each task")
    .option("--data-dir <dir>", "where a task named alone is looked for")
    .option("-t, --threads <n>", "threads (default: the number of cores)")
    .option("-p, --prompt <n>", "prompt tokens per prefill measurement", "128")
    .option("-n, --tokens <n>", "tokens per decode measurement", "64")
    .option("-r, --rounds <n>", "measurement rounds (medians are reported)", "3")
    .option("--out <dir>", "write report.md, report.json, report.svg, report.png and samples there")
    .option("--json", "print the report as JSON")
    .action(async (flags: ReportFlags) => {
      const quiet = flags.json === true;
      const run = await buildReport({
        ternary: flags.ternary, fp: flags.fp, text: flags.ppl ? flags.text : null,
        ctx: parseIntFlag("ctx", flags.ctx, 4), chunks: parseIntFlag("chunks", flags.chunks, 1),
        tasks: flags.tasks, limit: parseIntFlag("limit", flags.limit, 1), dataDir: flags.dataDir,
        threads: parseIntFlag("threads", flags.threads, 1) ?? availableParallelism(),
        promptTokens: parseIntFlag("prompt", flags.prompt, 1), decodeTokens: parseIntFlag("tokens", flags.tokens, 1), rounds: parseIntFlag("rounds", flags.rounds, 1),
        progress: quiet ? undefined : countProgressBar,
        note: quiet ? undefined : (l) => process.stderr.write(`${l}\n`),
      });
      const written = flags.out !== undefined ? await writeReport(flags.out, run) : [];
      process.stdout.write(quiet ? `${JSON.stringify(reportJson(run.report))}\n` : `${reportMarkdown(run.report)}\n`);
      if (!quiet && written.length > 0) process.stderr.write(`report → ${written.slice(0, 4).join(", ")}\n`);
    });
}
