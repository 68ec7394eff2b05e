/**
 * `bitnet bench -m FILE [--threads N] [--tokens N] [--prompt N] [--rounds N] [--json]`: prefill and
 * decode tokens per second of any GGUF file in our engine and, when node-llama-cpp is installed and
 * can load the file, in llama.cpp, with the same threads, interleaved round by round (medians).
 * The timing itself is bench/throughput.ts, shared with `npm run bench` (the full comparison on
 * 2B4T-shaped models, with kernels and memory; see BENCHMARKS.md).
 *
 * `--json` prints one object: { file, threads, prompt_tokens, decode_tokens, rounds, engines:
 *   [{ label, prefill_tok_s, decode_tok_s, prefill_samples, decode_samples }], llamacpp_skipped,
 *   decode_ratio, prefill_ratio } (ratios are ours / llama.cpp, null without llama.cpp).
 */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { median } from "../node/bench/stats.ts";
import { benchPrompt, closeLlamaCpp, openLlamaCpp, openOurs, type Engine } from "../node/bench/throughput.ts";
import { defaultModelPath } from "../node/default-model.ts";
import { parseIntFlag } from "./model-options.ts";

interface BenchFlags {
  model?: string;
  threads?: string;
  tokens: string;
  prompt: string;
  rounds: string;
  json?: boolean;
}

/** Prompt tokens before the timed decode steps. */
const DECODE_PROMPT = 16;

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("prefill and decode tok/s of a model, ours and llama.cpp's (when node-llama-cpp can load it)")
    .option("-m, --model <file>", "GGUF model file (default: the embedded model)")
    .option("-t, --threads <n>", "threads for both engines (default: the number of cores)")
    .option("-n, --tokens <n>", "tokens to decode per round", "32")
    .option("-p, --prompt <n>", "prompt tokens to prefill per round", "128")
    .option("-r, --rounds <n>", "interleaved rounds (the median is reported)", "3")
    .option("--json", "print one JSON object")
    .action(async (flags: BenchFlags) => {
      const path = flags.model ?? defaultModelPath();
      if (!path) throw new Error("no model given: pass -m FILE (no embedded default model is installed)");
      if (!existsSync(path)) throw new Error(`${path}: no such file`);
      const threads = parseIntFlag("threads", flags.threads, 1) ?? availableParallelism();
      const decodeTokens = parseIntFlag("tokens", flags.tokens, 1) as number;
      const promptTokens = parseIntFlag("prompt", flags.prompt, 1) as number;
      const rounds = parseIntFlag("rounds", flags.rounds, 1) as number;
      const ctx = Math.ceil((Math.max(promptTokens, DECODE_PROMPT + decodeTokens) + 8) / 256) * 256;
      const log = (s: string) => process.stderr.write(`${s}\n`);

      const ours = await openOurs(path, { threads, contextLength: ctx, batchSize: Math.min(promptTokens, 256) });
      const engines: Engine[] = [ours];
      let skipped: string | null = null;
      try {
        const theirs = await openLlamaCpp(path, { threads, contextLength: ctx, batchSize: promptTokens });
        if (typeof theirs === "string") skipped = theirs;
        else engines.push(theirs);
        const prompt = benchPrompt(promptTokens, ours.vocabSize);
        const decodePrompt = benchPrompt(DECODE_PROMPT, ours.vocabSize);
        const samples = engines.map(() => ({ prefill: [] as number[], decode: [] as number[] }));
        for (const e of engines) {
          await e.prefill(prompt.slice(0, Math.min(promptTokens, 32)));
          await e.decode(decodePrompt, 2);
        }
        for (let r = 0; r < rounds; r++) {
          for (let i = 0; i < engines.length; i++) samples[i].prefill.push(promptTokens / (await engines[i].prefill(prompt)));
          for (let i = 0; i < engines.length; i++) {
            const d = await engines[i].decode(decodePrompt, decodeTokens);
            samples[i].decode.push(d.tokens / d.seconds);
          }
          log(`round ${r + 1}/${rounds}: ${engines.map((e, i) => `${e.label} prefill ${samples[i].prefill[r].toFixed(1)}, decode ${samples[i].decode[r].toFixed(1)} tok/s`).join("; ")}`);
        }
        const rows = engines.map((e, i) => ({
          label: e.label,
          prefill_tok_s: median(samples[i].prefill),
          decode_tok_s: median(samples[i].decode),
          prefill_samples: samples[i].prefill,
          decode_samples: samples[i].decode,
        }));
        const ratio = (k: "prefill_tok_s" | "decode_tok_s") => (rows[1] ? rows[0][k] / rows[1][k] : null);
        if (flags.json) {
          const result = { file: path, threads, prompt_tokens: promptTokens, decode_tokens: decodeTokens, rounds, engines: rows, llamacpp_skipped: skipped, prefill_ratio: ratio("prefill_tok_s"), decode_ratio: ratio("decode_tok_s") };
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        } else {
          const lines = [`${path}: ${threads} thread(s), prefill ${promptTokens} tokens, decode ${decodeTokens} tokens, median of ${rounds} interleaved rounds`];
          for (const r of rows) lines.push(`  ${r.label.padEnd(44)} prefill ${r.prefill_tok_s.toFixed(1).padStart(8)} tok/s   decode ${r.decode_tok_s.toFixed(1).padStart(8)} tok/s`);
          if (skipped) lines.push(`  llama.cpp skipped: ${skipped}`);
          else lines.push(`  ours / llama.cpp: prefill ${ratio("prefill_tok_s")?.toFixed(2)}×, decode ${ratio("decode_tok_s")?.toFixed(2)}×`);
          process.stdout.write(`${lines.join("\n")}\n`);
        }
      } finally {
        for (const e of engines) await e.dispose();
        await closeLlamaCpp();
      }
    });
}
