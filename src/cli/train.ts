/**
 * `bitnet train`: trains a BitNet b1.58 (or FP baseline) model on a plain-text corpus and writes, into
 * --out: config.json (the resolved run config), metrics.jsonl, loss.svg and loss.png, checkpoints/, and
 * the exported model.gguf. The config comes from --preset (default: "default", the embedded model's run),
 * then --config FILE (a JSON object of run-config keys), then one flag per config key (`--batch-size` sets
 * batchSize; tiedEmbedding has no flag, it can only be true). --resume continues from the newest
 * checkpoint in --out with the checkpoint's config (flags given with it override; changing the model's
 * shape fails). Progress: a bar on a terminal, otherwise a line every logEvery steps. Ctrl-C saves a
 * checkpoint and stops. The tokenizer is a byte-level BPE trained on the training split. --compare DIR...
 * overlays other runs' losses on the plot (e.g. the FP baseline beside BitNet); resuming a finished run only
 * re-plots and re-exports. The linear layers' products run in WebAssembly SIMD where the runtime has it
 * (--gemm js forces the JavaScript ones; a run and its --resume should use the same, see trainer.ts).
 * The run itself (corpus, training loop, files, export) is the library function `train` (src/node/train-run.ts).
 */
import { Option, type Command } from "commander";
import { RUN_CONFIG_HELP, RUN_CONFIG_KEYS, checkPartialRunConfig, isRunPresetName, runPresets, type RunConfig } from "../train/run-config.ts";
import { readJson, train } from "../node/train-run.ts";
import { abortOnSigint, progressReporter } from "./train-progress.ts";

interface TrainFlags {
  config?: string;
  preset: string;
  out?: string;
  resume?: boolean;
  compare?: string[];
  gemm: "wasm" | "js";
  [key: string]: unknown;
}

const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function parseFlagValue(key: string, kind: (typeof RUN_CONFIG_KEYS)[keyof RunConfig], raw: string): unknown {
  if (kind === "int" || kind === "number") {
    const v = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(v) || (kind === "int" && !Number.isSafeInteger(v))) throw new Error(`--${kebab(key)}: "${raw}" is not a${kind === "int" ? "n integer" : " number"}`);
    return v;
  }
  return raw;
}

/** The config-key flags actually given on the command line. */
function flagOverrides(flags: TrainFlags): Partial<RunConfig> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(RUN_CONFIG_KEYS)) if (flags[key] !== undefined) out[key] = flags[key];
  return checkPartialRunConfig(out, "command line");
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command("train")
    .description("train a BitNet b1.58 model on a text corpus and export it as GGUF")
    .option("--config <file>", "JSON file of run-config keys (applied over the preset)")
    .option("--preset <name>", `starting config: ${Object.keys(runPresets).join(", ")}`, "default")
    .option("--out <dir>", "output directory (default: runs/<name>); an existing run there needs --resume")
    .option("--resume", "continue from the newest checkpoint in --out")
    .option("--compare <dirs...>", "overlay these runs' losses (their metrics.jsonl) on loss.svg/png")
    .addOption(new Option("--gemm <backend>", "linear-layer products: WebAssembly SIMD or JavaScript").choices(["wasm", "js"]).default("wasm"));
  for (const [key, kind] of Object.entries(RUN_CONFIG_KEYS)) {
    if (kind === "true") continue;
    const opt = new Option(`--${kebab(key)} <${Array.isArray(kind) ? "value" : kind}>`, `${RUN_CONFIG_HELP[key as keyof RunConfig]} (${key})`);
    if (Array.isArray(kind)) opt.choices(kind as readonly string[]);
    else opt.argParser((raw: string) => parseFlagValue(key, kind as (typeof RUN_CONFIG_KEYS)[keyof RunConfig], raw));
    cmd.addOption(opt);
  }
  cmd.action(async (flags: TrainFlags) => {
    if (!isRunPresetName(flags.preset)) throw new Error(`--preset: unknown preset "${flags.preset}" (known: ${Object.keys(runPresets).join(", ")})`);
    const fromFile = flags.config !== undefined && !flags.resume ? checkPartialRunConfig(await readJson(flags.config), flags.config) : {};
    const config = { ...fromFile, ...flagOverrides(flags) };
    const report = progressReporter();
    const sigint = abortOnSigint();
    try {
      const { stopped } = await train({
        preset: flags.preset, config, out: flags.out, resume: flags.resume, compare: flags.compare, gemm: flags.gemm, signal: sigint.signal,
        onEvent: (e) => report.event(e),
      });
      if (stopped) process.exitCode = 130;
    } finally {
      report.stop();
      sigint.dispose();
    }
  });
}
