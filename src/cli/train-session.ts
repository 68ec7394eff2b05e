/**
 * One training run into a directory, as `bitnet train` and `bitnet reproduce` both do it: the corpus read,
 * split and tokenized (with a BPE trained on the training split, or the one a checkpoint holds); then the
 * Trainer's event loop writing config.json, metrics.jsonl (a line per step and per evaluation), loss.svg and
 * loss.png, checkpoints/ (every checkpointEvery steps and at the end; Ctrl-C saves one and stops), and at
 * the end the exported model.gguf. Progress: a bar on a terminal, otherwise a line every logEvery steps.
 * Flags, presets and the choice of what to run are the commands' business (train.ts, reproduce.ts).
 */
import { readFile, writeFile } from "node:fs/promises";
import { createWriteStream, type WriteStream } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import cliProgress from "cli-progress";
import { tokenizerFromGGUF } from "../tokenizer/index.ts";
import { bpeMetadata, trainBpe, type BpeVocabulary } from "../train/bpe-trainer.ts";
import type { CheckpointState } from "../train/checkpoint.ts";
import { splitDocuments, splitTrainValidation, tokenStream } from "../train/data.ts";
import { exportGGUF, type ExportType } from "../train/export-gguf.ts";
import type { Gemm } from "../train/matmul.ts";
import { lossCurves, metricLine, metricsJsonl, parseMetricsJsonl, type MetricRecord } from "../train/metrics.ts";
import { plotLossCurves } from "../train/plot.ts";
import { checkPartialRunConfig, exportTypeOf, runConfigJson, type RunConfig } from "../train/run-config.ts";
import { Trainer, trainingEvents, type TrainData, type TrainEvent } from "../train/trainer.ts";
import { atomicFileSink } from "../node/atomic-file-sink.ts";
import { CheckpointStore } from "../node/checkpoint-store.ts";
import { readCorpus } from "../node/corpus-files.ts";
import { svgToPng } from "../node/plot-png.ts";

export const BUNDLED_CORPUS = fileURLToPath(new URL("../../data/kjv.txt.gz", import.meta.url));

export async function readJson(path: string): Promise<unknown> {
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

export function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(sec).padStart(2, "0")}s`;
}

export interface ProgressReporter {
  event(e: TrainEvent, tokensPerSecond: number): void;
  /** A line of its own (closes the bar first). */
  note(line: string): void;
  stop(): void;
}

/** Progress display: a cli-progress bar on a terminal, else a line every `every` steps, each prefixed with `label`. */
export function progressReporter(every: number, label = ""): ProgressReporter {
  const tty = process.stderr.isTTY === true;
  const prefix = label === "" ? "" : `${label} `;
  const bar = tty
    ? new cliProgress.SingleBar(
      { format: `${prefix}train [{bar}] {value}/{total} | loss {loss} | val {val} | {tps} tok/s | ETA {eta_s}`, stream: process.stderr, hideCursor: true, etaBuffer: 50 },
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
        process.stdout.write(`${prefix}step ${m.step}/${e.totalSteps} loss ${m.loss.toFixed(4)}${v} lr ${m.lr.toExponential(2)} gnorm ${m.grad_norm.toFixed(3)} ${tps.toFixed(0)} tok/s elapsed ${fmtDuration(m.elapsed_s)} ETA ${fmtDuration(e.etaSeconds)}\n`);
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

export const kindLabel = (c: Pick<RunConfig, "weights">): string => (c.weights === "ternary" ? "BitNet b1.58" : "FP");

/** Another run to overlay on the loss plot: its metrics.jsonl and config.json, labelled "<kind> (<dir name>)". */
export interface ComparedRun {
  label: string;
  records: MetricRecord[];
}

export async function readComparedRun(dir: string): Promise<ComparedRun> {
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

/** `svg` as <base>.svg and <base>.png. */
export async function writeSvgAndPng(base: string, svg: string): Promise<void> {
  await writeFile(`${base}.svg`, svg);
  await writeFile(`${base}.png`, svgToPng(svg));
}

async function writePlots(out: string, trainer: Trainer, compared: readonly ComparedRun[]): Promise<void> {
  const own = compared.length > 0 ? `${kindLabel(trainer.config)} (${basename(out)})` : kindLabel(trainer.config);
  const curves = [...lossCurves(trainer.metrics, own), ...compared.flatMap((r) => lossCurves(r.records, r.label))];
  await writeSvgAndPng(join(out, "loss"), plotLossCurves(curves, { title: `${trainer.config.name}: loss` }));
}

/** A corpus ready to train on: the tokenizer and both token streams. */
export interface CorpusData {
  vocab: BpeVocabulary;
  data: TrainData;
  /** One line saying what was read and how it was split. */
  summary: string;
}

/**
 * Corpus (a file, .gz or folder; default the bundled KJV) → documents → train/validation split →
 * tokenizer (a BPE of `vocabSize` trained on the training split, unless `vocab` is given) → token streams.
 * `note` receives a warning when the corpus is too small for the vocabulary.
 */
export async function loadCorpusData(
  corpus: string | undefined, valFraction: number, vocabSize: number, vocab?: BpeVocabulary, note: (line: string) => void = () => undefined,
): Promise<CorpusData> {
  const t0 = performance.now();
  const corpusPath = corpus ?? BUNDLED_CORPUS;
  const { files, texts } = await readCorpus(corpusPath);
  const split = splitTrainValidation(splitDocuments(texts), valFraction);
  if (vocab === undefined) {
    vocab = trainBpe(split.train, { vocabSize });
    if (vocab.tokens.length < vocabSize) note(`note: the corpus gave ${vocab.tokens.length} tokens; the export pads the vocabulary to ${vocabSize}`);
  }
  const tokenizer = tokenizerFromGGUF(bpeMetadata(vocab), "trained tokenizer");
  const encode = (t: string): number[] => tokenizer.encode(t, { addBos: false });
  const data = { train: tokenStream(split.train, encode, vocab.bos, vocab.eos), validation: tokenStream(split.validation, encode, vocab.bos, vocab.eos) };
  const summary = `corpus ${files.length === 1 ? files[0] : `${files.length} files under ${corpusPath}`}: ${split.train.length} train / ${split.validation.length} validation ${split.unit}; `
    + `${data.train.length} / ${data.validation.length} tokens (vocab ${vocab.tokens.length}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`;
  return { vocab, data, summary };
}

export interface SessionOptions {
  config: RunConfig;
  /** The run's directory (created by the caller). */
  out: string;
  corpus: CorpusData;
  /** The checkpoint to continue from (its config must be `config`'s model). */
  resumeState?: CheckpointState;
  /** Other runs to overlay on loss.svg/png. */
  compared?: readonly ComparedRun[];
  gemm: Gemm;
  report: ProgressReporter;
  /** performance.now() when the command started, for the wall-clock figure of the last line. */
  startedAt?: number;
  /** What to tell the user to run to continue after Ctrl-C. */
  resumeHint?: string;
}

export interface SessionResult {
  trainer: Trainer;
  /** Ctrl-C: a checkpoint was saved and nothing was exported. */
  stopped: boolean;
  modelPath: string;
  exportType: ExportType;
}

/** Trains (or continues) the run in `out` to its last step, writing every file the file comment lists. */
export async function runTrainingSession(o: SessionOptions): Promise<SessionResult> {
  const { config, out, report, gemm } = o;
  const { vocab, data } = o.corpus;
  const compared = o.compared ?? [];
  const t0 = o.startedAt ?? performance.now();
  const trainer = new Trainer(config, data, o.resumeState, { gemm });
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
        report.note(`${o.resumeState ? `resuming at step ${e.step}` : "training"}: ${e.params} parameters (${config.weights}), ${e.totalSteps} steps of ${trainer.tokensPerStep} tokens, `
          + `${e.validationTokens} validation tokens per evaluation, products on ${gemm.name} → ${out}`);
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
        report.note(`stopped at step ${e.step}; checkpoint saved (continue with ${o.resumeHint ?? `--resume --out ${out}`})`);
      }
      report.event(e, tps);
    }
  } finally {
    process.removeListener("SIGINT", onSigint);
    report.stop();
    flushMetrics();
    await new Promise<void>((res) => metricsOut.end(res));
  }
  const type = exportTypeOf(config);
  const modelPath = join(out, "model.gguf");
  if (stopped) return { trainer, stopped, modelPath, exportType: type };

  await writePlots(out, trainer, compared); // also for a resumed run that had no steps left
  await exportGGUF(trainer.params, { ...vocab, pre: "gpt-2" }, await atomicFileSink(modelPath), { type, name: config.name });
  const trainTps = trainer.metrics.filter((m) => m.type === "train");
  const lastVal = trainer.metrics.filter((m) => m.type === "val").at(-1);
  const tokens = trainTps.at(-1)?.tokens ?? 0;
  report.note(`done: ${trainer.step} steps, ${tokens} tokens in ${fmtDuration(trainer.elapsedSeconds)} of training `
    + `(${(tokens / Math.max(trainer.elapsedSeconds, 1e-9)).toFixed(0)} tok/s), wall ${fmtDuration((performance.now() - t0) / 1000)} this session; `
    + `${lastVal ? `validation loss ${lastVal.val_loss.toFixed(4)}; ` : ""}model → ${modelPath} (${type})`);
  return { trainer, stopped, modelPath, exportType: type };
}
