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
 * re-plots and re-exports.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createWriteStream, type WriteStream } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import cliProgress from "cli-progress";
import { Option, type Command } from "commander";
import { tokenizerFromGGUF } from "../tokenizer/index.ts";
import { bpeMetadata, trainBpe, type BpeVocabulary } from "../train/bpe-trainer.ts";
import { splitDocuments, splitTrainValidation, tokenStream } from "../train/data.ts";
import { exportGGUF } from "../train/export-gguf.ts";
import { lossCurves, metricLine, metricsJsonl, parseMetricsJsonl, type MetricRecord } from "../train/metrics.ts";
import { plotLossCurves } from "../train/plot.ts";
import {
  RUN_CONFIG_HELP, RUN_CONFIG_KEYS, checkPartialRunConfig, exportTypeOf, isRunPresetName, resolveRunConfig, runConfigJson, runPresets, type RunConfig,
} from "../train/run-config.ts";
import { Trainer, trainingEvents, type TrainEvent } from "../train/trainer.ts";
import { atomicFileSink } from "../node/atomic-file-sink.ts";
import { CheckpointStore } from "../node/checkpoint-store.ts";
import { readCorpus } from "../node/corpus-files.ts";
import { svgToPng } from "../node/plot-png.ts";

const BUNDLED_CORPUS = fileURLToPath(new URL("../../data/kjv.txt.gz", import.meta.url));

interface TrainFlags {
  config?: string;
  preset: string;
  out?: string;
  resume?: boolean;
  compare?: string[];
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

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new Error(`${path}: cannot read the config file`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${path}: not valid JSON`);
  }
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(sec).padStart(2, "0")}s`;
}

/** Progress display: a cli-progress bar on a terminal, else a line every `every` steps. */
function progressReporter(every: number): { event(e: TrainEvent, tps: number): void; note(line: string): void; stop(): void } {
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
      { format: "train [{bar}] {value}/{total} | loss {loss} | val {val} | {tps} tok/s | ETA {eta_s}", stream: process.stderr, hideCursor: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    )
    : undefined;
  let started = false;
  let val = "-";
  return {
    event(e, tps) {
      if (e.type === "eval") val = e.valLoss.toFixed(3);
      if (e.type !== "step") return;
      if (e.valLoss !== undefined) val = e.valLoss.toFixed(3);
      const m = e.metric;
      if (bar) {
        const payload = { loss: m.loss.toFixed(3), val, tps: tps.toFixed(0), eta_s: fmtDuration(e.etaSeconds) };
        if (!started) {
          bar.start(e.totalSteps, m.step, payload);
          started = true;
        } else bar.update(m.step, payload);
      } else if (m.step % every === 0 || m.step === e.totalSteps || e.valLoss !== undefined) {
        const v = e.valLoss !== undefined ? ` val ${e.valLoss.toFixed(4)}` : "";
        process.stdout.write(`step ${m.step}/${e.totalSteps} loss ${m.loss.toFixed(4)}${v} lr ${m.lr.toExponential(2)} gnorm ${m.grad_norm.toFixed(3)} ${tps.toFixed(0)} tok/s elapsed ${fmtDuration(m.elapsed_s)} ETA ${fmtDuration(e.etaSeconds)}\n`);
      }
    },
    note(line) {
      if (bar && started) bar.stop();
      started = false;
      process.stdout.write(`${line}\n`);
    },
    stop() {
      if (bar && started) bar.stop();
    },
  };
}

const kindLabel = (c: Pick<RunConfig, "weights">): string => (c.weights === "ternary" ? "BitNet b1.58" : "FP");

/** Another run to overlay on the loss plot: its metrics.jsonl and config.json, labelled "<kind> (<dir name>)". */
interface ComparedRun {
  label: string;
  records: MetricRecord[];
}

async function readComparedRun(dir: string): Promise<ComparedRun> {
  const configPath = join(dir, "config.json");
  const config = checkPartialRunConfig(await readJson(configPath), configPath);
  const metricsPath = join(dir, "metrics.jsonl");
  let text: string;
  try {
    text = await readFile(metricsPath, "utf8");
  } catch {
    throw new Error(`${metricsPath}: cannot read the metrics of the run to compare`);
  }
  return { label: `${kindLabel({ weights: config.weights ?? "ternary" })} (${basename(resolve(dir))})`, records: parseMetricsJsonl(text, metricsPath) };
}

async function writePlots(out: string, trainer: Trainer, compared: readonly ComparedRun[]): Promise<void> {
  const own = compared.length > 0 ? `${kindLabel(trainer.config)} (${basename(out)})` : kindLabel(trainer.config);
  const curves = [...lossCurves(trainer.metrics, own), ...compared.flatMap((r) => lossCurves(r.records, r.label))];
  const svg = plotLossCurves(curves, { title: `${trainer.config.name}: loss` });
  await writeFile(join(out, "loss.svg"), svg);
  await writeFile(join(out, "loss.png"), svgToPng(svg));
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command("train")
    .description("train a BitNet b1.58 model on a text corpus and export it as GGUF")
    .option("--config <file>", "JSON file of run-config keys (applied over the preset)")
    .option("--preset <name>", `starting config: ${Object.keys(runPresets).join(", ")}`, "default")
    .option("--out <dir>", "output directory (default: runs/<name>)")
    .option("--resume", "continue from the newest checkpoint in --out")
    .option("--compare <dirs...>", "overlay these runs' losses (their metrics.jsonl) on loss.svg/png");
  for (const [key, kind] of Object.entries(RUN_CONFIG_KEYS)) {
    if (kind === "true") continue;
    const opt = new Option(`--${kebab(key)} <${Array.isArray(kind) ? "value" : kind}>`, `${RUN_CONFIG_HELP[key as keyof RunConfig]} (${key})`);
    if (Array.isArray(kind)) opt.choices(kind as readonly string[]);
    else opt.argParser((raw: string) => parseFlagValue(key, kind as (typeof RUN_CONFIG_KEYS)[keyof RunConfig], raw));
    cmd.addOption(opt);
  }
  cmd.action(async (flags: TrainFlags) => {
    const overrides = flagOverrides(flags);
    let config: RunConfig;
    let resumeState: Awaited<ReturnType<CheckpointStore["load"]>> | undefined;
    let out: string;
    if (flags.resume) {
      if (flags.out === undefined) throw new Error("--resume needs --out DIR (the run to continue)");
      out = resolve(flags.out);
      const store = new CheckpointStore(join(out, "checkpoints"), 1);
      const latest = await store.latest();
      if (latest === undefined) throw new Error(`${join(out, "checkpoints")}: no checkpoint to resume from`);
      resumeState = await store.load(latest);
      config = resolveRunConfig(resumeState.config, overrides, latest);
    } else {
      if (!isRunPresetName(flags.preset)) throw new Error(`--preset: unknown preset "${flags.preset}" (known: ${Object.keys(runPresets).join(", ")})`);
      let base: RunConfig = runPresets[flags.preset];
      if (flags.config !== undefined) base = resolveRunConfig(base, checkPartialRunConfig(await readJson(flags.config), flags.config), flags.config);
      config = resolveRunConfig(base, overrides, "command line");
      if (config.data !== undefined) config = { ...config, data: resolve(config.data) }; // so --resume works from any directory
      out = resolve(flags.out ?? join("runs", config.name));
    }
    await mkdir(out, { recursive: true });
    const compared = await Promise.all((flags.compare ?? []).map(readComparedRun));
    const report = progressReporter(config.logEvery);
    const t0 = performance.now();

    // Corpus → split → tokenizer → token streams.
    const corpusPath = config.data ?? BUNDLED_CORPUS;
    const { files, texts } = await readCorpus(corpusPath);
    const split = splitTrainValidation(splitDocuments(texts), config.valFraction);
    let vocab: BpeVocabulary;
    if (resumeState) vocab = resumeState.tokenizer;
    else {
      vocab = trainBpe(split.train, { vocabSize: config.vocabSize });
      if (vocab.tokens.length < config.vocabSize) report.note(`note: the corpus gave ${vocab.tokens.length} tokens; the export pads the vocabulary to ${config.vocabSize}`);
    }
    const tokenizer = tokenizerFromGGUF(bpeMetadata(vocab), "trained tokenizer");
    const encode = (t: string): number[] => tokenizer.encode(t, { addBos: false });
    const data = { train: tokenStream(split.train, encode, vocab.bos, vocab.eos), validation: tokenStream(split.validation, encode, vocab.bos, vocab.eos) };
    report.note(`corpus ${files.length === 1 ? files[0] : `${files.length} files under ${corpusPath}`}: ${split.train.length} train / ${split.validation.length} validation ${split.unit}; `
      + `${data.train.length} / ${data.validation.length} tokens (vocab ${vocab.tokens.length}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

    const trainer = new Trainer(config, data, resumeState);
    await writeFile(join(out, "config.json"), runConfigJson(config));
    const store = new CheckpointStore(join(out, "checkpoints"), config.keepCheckpoints);
    const metricsPath = join(out, "metrics.jsonl");
    await writeFile(metricsPath, metricsJsonl(trainer.metrics)); // a resumed run continues from the checkpoint's records
    const metricsOut: WriteStream = createWriteStream(metricsPath, { flags: "a" });
    let written = trainer.metrics.length;
    const flushMetrics = (): void => {
      for (; written < trainer.metrics.length; written++) metricsOut.write(metricLine(trainer.metrics[written]));
    };
    const save = async (): Promise<void> => {
      flushMetrics();
      await store.save(trainer.snapshot(vocab));
      await writePlots(out, trainer, compared);
    };

    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    process.once("SIGINT", onSigint);
    let tps = 0;
    let stopped = false;
    try {
      for await (const e of trainingEvents(trainer, { signal: abort.signal })) {
        if (e.type === "start") {
          report.note(`${resumeState ? `resuming at step ${e.step}` : "training"}: ${e.params} parameters (${config.weights}), ${e.totalSteps} steps of ${trainer.tokensPerStep} tokens, `
            + `${e.validationTokens} validation tokens per evaluation → ${out}`);
        }
        if (e.type === "step") {
          tps = tps === 0 ? e.metric.tokens_per_s : 0.9 * tps + 0.1 * e.metric.tokens_per_s;
          const every = config.checkpointEvery;
          if ((every > 0 && e.metric.step % every === 0) || e.metric.step === config.steps) await save();
          else if (e.valLoss !== undefined) flushMetrics();
        }
        if (e.type === "stopped") {
          stopped = true;
          await save();
          report.note(`stopped at step ${e.step}; checkpoint saved (continue with --resume --out ${out})`);
        }
        report.event(e, tps);
      }
    } finally {
      process.removeListener("SIGINT", onSigint);
      report.stop();
      flushMetrics();
      await new Promise<void>((res) => metricsOut.end(res));
    }
    if (stopped) {
      process.exitCode = 130;
      return;
    }

    await writePlots(out, trainer, compared); // also for a resumed run that had no steps left
    const type = exportTypeOf(config);
    const modelPath = join(out, "model.gguf");
    await exportGGUF(trainer.params, { ...vocab, pre: "gpt-2" }, await atomicFileSink(modelPath), { type, name: config.name });
    const trainTps = trainer.metrics.filter((m) => m.type === "train");
    const lastVal = trainer.metrics.filter((m) => m.type === "val").at(-1);
    const tokens = trainTps.at(-1)?.tokens ?? 0;
    report.note(`done: ${trainer.step} steps, ${tokens} tokens in ${fmtDuration(trainer.elapsedSeconds)} of training `
      + `(${(tokens / Math.max(trainer.elapsedSeconds, 1e-9)).toFixed(0)} tok/s), wall ${fmtDuration((performance.now() - t0) / 1000)} this session; `
      + `${lastVal ? `validation loss ${lastVal.val_loss.toFixed(4)}; ` : ""}model → ${modelPath} (${type})`);
  });
}
