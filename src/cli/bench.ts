/**
 * `bitnet bench -m FILE [-t N] [-n N] [-p 128,512] [-r N] [--kernels native,wasm] [--head-type keep,q8_0]
 * [--no-llama-cpp] [--json]`: prefill and decode tokens per second of any GGUF file in our engine (one
 * row per kernel backend and head type asked for) and, unless skipped or unable to load the file, in
 * llama.cpp (node-llama-cpp), with the same threads, interleaved round by round (medians). The timing is
 * src/node/bench/, shared with `npm run bench` (the full comparison on 2B4T-shaped models; BENCHMARKS.md).
 *
 * `--json` prints one object: { file, threads, prompt_sizes, decode_tokens, rounds, engines: [{ label,
 *   prefill_tok_s: { "<size>": tok/s }, decode_tok_s, prefill_samples: { "<size>": [...] },
 *   decode_samples }], llamacpp_skipped, ratios: [{ label, prefill: { "<size>": x }, decode }] } (each of
 *   our engines over llama.cpp; empty without llama.cpp).
 */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { HEAD_TYPES, type HeadType } from "../model/weights.ts";
import { contextFor, interleaveRounds, type EngineSamples } from "../node/bench/rounds.ts";
import { median } from "../node/bench/stats.ts";
import { closeLlamaCpp, openLlamaCpp, openOurs, type Engine } from "../node/bench/throughput.ts";
import { defaultModelPath } from "../node/default-model.ts";
import { defaultThreads, KERNEL_BACKENDS, type KernelBackend } from "../node/kernels.ts";
import { oneOf, parseIntFlag, parseListFlag } from "./model-options.ts";

interface BenchFlags {
  model?: string;
  threads?: string;
  tokens: string;
  prompt: string;
  rounds: string;
  kernels?: string;
  headType: string;
  llamaCpp: boolean;
  json?: boolean;
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("prefill and decode tok/s of a model, ours and llama.cpp's (when node-llama-cpp can load it)")
    .option("-m, --model <file>", "GGUF model file (default: the embedded model)")
    .option("-t, --threads <n>", "threads for every engine (default: the number of cores)")
    .option("-n, --tokens <n>", "tokens to decode per round", "32")
    .option("-p, --prompt <sizes>", "prompt sizes to prefill per round, comma-separated (as llama-bench's -p)", "128")
    .option("-r, --rounds <n>", "interleaved rounds (the median is reported)", "3")
    .option("--kernels <list>", `our kernel backends to compare, comma-separated: ${KERNEL_BACKENDS.join(", ")} (default: the one loadModel picks)`)
    .option("--head-type <list>", `our output head storage, comma-separated: ${HEAD_TYPES.join(", ")}`, "keep")
    .option("--no-llama-cpp", "skip llama.cpp (node-llama-cpp)")
    .option("--json", "print one JSON object")
    .action(async (flags: BenchFlags) => {
      const path = flags.model ?? defaultModelPath();
      if (!path) throw new Error("no model given: pass -m FILE (no embedded default model is installed)");
      if (!existsSync(path)) throw new Error(`${path}: no such file`);
      const threads = parseIntFlag("threads", flags.threads, 1) ?? defaultThreads();
      const decodeTokens = parseIntFlag("tokens", flags.tokens, 1) as number;
      const promptSizes = parseListFlag("prompt", flags.prompt, (s) => parseIntFlag("prompt", s, 1) as number);
      const rounds = parseIntFlag("rounds", flags.rounds, 1) as number;
      const backends: (KernelBackend | undefined)[] = flags.kernels === undefined ? [undefined] : parseListFlag("kernels", flags.kernels, (s) => oneOf("kernels", s, KERNEL_BACKENDS) as KernelBackend);
      const headTypes = parseListFlag("head-type", flags.headType, (s) => oneOf("head-type", s, HEAD_TYPES) as HeadType);
      const contextLength = contextFor(promptSizes, decodeTokens);
      const batchSize = Math.min(Math.max(...promptSizes), 256);
      const log = (s: string) => process.stderr.write(`${s}\n`);

      const engines: Engine[] = [];
      let skipped: string | null = flags.llamaCpp ? null : "--no-llama-cpp";
      try {
        let vocabSize = 0;
        for (const backend of backends) {
          for (const headType of headTypes) {
            const ours = await openOurs(path, { threads, contextLength, batchSize, backend, headType });
            vocabSize = ours.vocabSize;
            engines.push(ours);
          }
        }
        const ourCount = engines.length;
        if (flags.llamaCpp) {
          const theirs = await openLlamaCpp(path, { threads, contextLength, batchSize: Math.max(...promptSizes) });
          if (typeof theirs === "string") skipped = theirs;
          else engines.push(theirs);
        }
        const samples = await interleaveRounds(engines, { promptSizes, decodeTokens, rounds, vocabSize, log });
        const llama = engines.length > ourCount ? samples[ourCount] : null;
        const summary = summarize(samples, promptSizes);
        const llamaSummary = llama ? summary[ourCount] : null;
        const ratios = llamaSummary
          ? summary.slice(0, ourCount).map((s) => ({
              label: s.label,
              prefill: Object.fromEntries(promptSizes.map((n) => [n, s.prefill_tok_s[n] / llamaSummary.prefill_tok_s[n]])),
              decode: s.decode_tok_s / llamaSummary.decode_tok_s,
            }))
          : [];
        if (flags.json) {
          const result = { file: path, threads, prompt_sizes: promptSizes, decode_tokens: decodeTokens, rounds, engines: summary, llamacpp_skipped: skipped, ratios };
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        } else {
          const width = Math.max(...summary.map((s) => s.label.length)) + (ratios.length > 0 ? 12 : 0);
          const head = ["engine".padEnd(width), ...promptSizes.map((n) => `pp${n}`.padStart(10)), `tg${decodeTokens}`.padStart(10)].join(" ");
          const lines = [`${path}: ${threads} thread(s), tok/s, median of ${rounds} interleaved rounds`, head];
          for (const s of summary) lines.push([s.label.padEnd(width), ...promptSizes.map((n) => s.prefill_tok_s[n].toFixed(1).padStart(10)), s.decode_tok_s.toFixed(1).padStart(10)].join(" "));
          for (const r of ratios) lines.push([`${r.label} / llama.cpp`.padEnd(width), ...promptSizes.map((n) => `${r.prefill[n].toFixed(2)}×`.padStart(10)), `${r.decode.toFixed(2)}×`.padStart(10)].join(" "));
          if (skipped) lines.push(`llama.cpp skipped: ${skipped}`);
          process.stdout.write(`${lines.join("\n")}\n`);
        }
      } finally {
        for (const e of engines) await e.dispose();
        await closeLlamaCpp();
      }
    });
}

function summarize(samples: EngineSamples[], promptSizes: readonly number[]) {
  return samples.map((s) => ({
    label: s.label,
    prefill_tok_s: Object.fromEntries(promptSizes.map((n, p) => [n, median(s.prefill[p])])) as Record<number, number>,
    decode_tok_s: median(s.decode),
    prefill_samples: Object.fromEntries(promptSizes.map((n, p) => [n, s.prefill[p]])),
    decode_samples: s.decode,
  }));
}
