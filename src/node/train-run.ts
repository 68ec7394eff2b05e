/**
 * One training run into a directory, as a library function: `train(options)` is what `bitnet train` does,
 * and `runTrainingSession` is the part `bitnet reproduce` shares. The corpus is read, split and tokenized
 * (with a BPE trained on the training split, or the one a checkpoint holds); then the Trainer's event loop
 * writes config.json, metrics.jsonl (a line per step and per evaluation), loss.svg and loss.png, checkpoints/
 * (every checkpointEvery steps and at the end; an aborted signal saves one and stops), and at the end the
 * exported model.gguf. Progress arrives as typed events (`onEvent`); drawing them is the caller's business
 * (the CLI draws a bar). Node-only: it writes files.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError, InvalidFileError } from "../errors.ts";
import { tokenizerFromGGUF } from "../tokenizer/index.ts";
import { bpeMetadata, trainBpe, type BpeVocabulary } from "../train/bpe-trainer.ts";
import type { CheckpointState } from "../train/checkpoint.ts";
import { splitDocuments, splitTrainValidation, tokenStream } from "../train/data.ts";
import { exportGGUF, type ExportType } from "../train/export-gguf.ts";
import type { Gemm } from "../train/matmul.ts";
import { lossCurves, metricLine, metricsJsonl, parseMetricsJsonl, type MetricRecord } from "../train/metrics.ts";
import { plotLossCurves } from "../train/plot.ts";
import { checkPartialRunConfig, exportTypeOf, isRunPresetName, resolveRunConfig, runConfigJson, runPresets, type RunConfig, type RunPresetName } from "../train/run-config.ts";
import { Trainer, trainingEvents, type TrainData, type TrainEvent } from "../train/trainer.ts";
import { selectGemm } from "../train/wasm-gemm.ts";
import { atomicFileSink } from "./atomic-file-sink.ts";
import { CheckpointStore } from "./checkpoint-store.ts";
import { readCorpus } from "./corpus-files.ts";
import { svgToPng } from "./plot-png.ts";

export const BUNDLED_CORPUS = fileURLToPath(new URL("../../data/kjv.txt.gz", import.meta.url));

/** What a run reports while it works: the trainer's events (with a smoothed tokens/s), notes, and the export. */
export type TrainRunEvent =
  | { type: "config"; config: RunConfig; out: string }
  | (TrainEvent & { tokensPerSecond: number })
  | { type: "note"; message: string }
  | { type: "exported"; path: string; exportType: ExportType; message: string };

export async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new InvalidArgumentError(`${path}: cannot read the config file`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidFileError(`${path}: not valid JSON`);
  }
}

export function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(sec).padStart(2, "0")}s`;
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
    throw new InvalidArgumentError(`${metricsPath}: cannot read the metrics of the run to compare`);
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
  onEvent?: (e: TrainRunEvent) => void;
  /** Aborting saves a checkpoint and stops (the result says `stopped`); nothing is exported. */
  signal?: AbortSignal;
  /** performance.now() when the run started, for the wall-clock figure of the last note. */
  startedAt?: number;
  /** What to tell the user to run to continue after a stop. */
  resumeHint?: string;
}

export interface SessionResult {
  trainer: Trainer;
  /** The signal aborted the run: a checkpoint was saved and nothing was exported. */
  stopped: boolean;
  modelPath: string;
  exportType: ExportType;
}

/** Trains (or continues) the run in `out` to its last step, writing every file the file comment lists. */
export async function runTrainingSession(o: SessionOptions): Promise<SessionResult> {
  const { config, out, gemm } = o;
  const emit = o.onEvent ?? (() => undefined);
  const note = (message: string): void => emit({ type: "note", message });
  const { vocab, data } = o.corpus;
  const compared = o.compared ?? [];
  const t0 = o.startedAt ?? performance.now();
  const trainer = new Trainer(config, data, o.resumeState, { gemm });
  emit({ type: "config", config, out });
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

  let tps = 0;
  let stopped = false;
  try {
    for await (const e of trainingEvents(trainer, { signal: o.signal })) {
      if (e.type === "start") {
        note(`${o.resumeState ? `resuming at step ${e.step}` : "training"}: ${e.params} parameters (${config.weights}), ${e.totalSteps} steps of ${trainer.tokensPerStep} tokens, `
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
      }
      emit({ ...e, tokensPerSecond: tps });
      if (e.type === "stopped") note(`stopped at step ${e.step}; checkpoint saved (continue with ${o.resumeHint ?? `--resume --out ${out}`})`);
    }
  } finally {
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
  emit({
    type: "exported",
    path: modelPath,
    exportType: type,
    message: `done: ${trainer.step} steps, ${tokens} tokens in ${fmtDuration(trainer.elapsedSeconds)} of training `
      + `(${(tokens / Math.max(trainer.elapsedSeconds, 1e-9)).toFixed(0)} tok/s), wall ${fmtDuration((performance.now() - t0) / 1000)} this session; `
      + `${lastVal ? `validation loss ${lastVal.val_loss.toFixed(4)}; ` : ""}model → ${modelPath} (${type})`,
  });
  return { trainer, stopped, modelPath, exportType: type };
}

export interface TrainOptions {
  /** Starting config (default "default", the embedded model's run). Ignored with `resume`. */
  preset?: RunPresetName;
  /** Run-config keys over the preset (a parsed config file, then flags, as `bitnet train` merges them). */
  config?: Partial<RunConfig>;
  /** Where the run's files go (default runs/<name>). A directory that already holds a run needs `resume`. */
  out?: string;
  /** Continue from the newest checkpoint in `out`, with its config (`config` keys given override it). */
  resume?: boolean;
  /** Other runs' directories to overlay on the loss plot. */
  compare?: readonly string[];
  /** Linear-layer products: WebAssembly SIMD (default, where the runtime has it) or JavaScript. */
  gemm?: "wasm" | "js";
  onEvent?: (e: TrainRunEvent) => void;
  /** Aborting saves a checkpoint and stops. */
  signal?: AbortSignal;
}

/** Files a finished or interrupted run leaves in its directory; any of them means the directory is taken. */
const RUN_FILES = ["checkpoints", "metrics.jsonl", "model.gguf"];

/**
 * Trains a model as `bitnet train` does and exports it as GGUF (see the file comment for what is written).
 * Refuses to start a new run in a directory that holds one: continuing needs `resume`, starting over
 * another `out` (checkpoints of two runs must never mix).
 */
export async function train(options: TrainOptions = {}): Promise<SessionResult> {
  const t0 = performance.now();
  const emit = options.onEvent ?? (() => undefined);
  const overrides = options.config ?? {};
  let config: RunConfig;
  let resumeState: CheckpointState | undefined;
  let out: string;
  if (options.resume) {
    if (options.out === undefined) throw new InvalidArgumentError("resume needs out (the directory of the run to continue)");
    out = resolve(options.out);
    const store = new CheckpointStore(join(out, "checkpoints"), 1);
    const latest = await store.latest();
    if (latest === undefined) throw new InvalidArgumentError(`${join(out, "checkpoints")}: no checkpoint to resume from`);
    resumeState = await store.load(latest);
    config = resolveRunConfig(resumeState.config, overrides, latest);
  } else {
    const preset = options.preset ?? "default";
    if (!isRunPresetName(preset)) throw new InvalidArgumentError(`preset: unknown preset "${String(preset)}" (known: ${Object.keys(runPresets).join(", ")})`);
    config = resolveRunConfig(runPresets[preset], overrides, "options");
    if (config.data !== undefined) config = { ...config, data: resolve(config.data) }; // so a resume works from any directory
    out = resolve(options.out ?? join("runs", config.name));
    const taken = await runFilesIn(out);
    if (taken.length > 0) {
      throw new InvalidArgumentError(`${out}: already holds a run (${taken.join(", ")}); continue it with --resume, or train into another --out`);
    }
  }
  await mkdir(out, { recursive: true });
  const compared = await Promise.all((options.compare ?? []).map(readComparedRun));
  const note = (message: string): void => emit({ type: "note", message });
  const corpus = await loadCorpusData(config.data, config.valFraction, config.vocabSize, resumeState?.tokenizer, note);
  note(corpus.summary);
  const { gemm, fallbackReason } = await selectGemm({ prefer: options.gemm ?? "wasm" });
  if (fallbackReason !== null) note(`note: linear-layer products in JavaScript: ${fallbackReason}`);
  return runTrainingSession({ config, out, corpus, resumeState, compared, gemm, onEvent: options.onEvent, signal: options.signal, startedAt: t0 });
}

async function runFilesIn(dir: string): Promise<string[]> {
  try {
    const names = new Set(await readdir(dir));
    return RUN_FILES.filter((f) => names.has(f));
  } catch {
    return [];
  }
}
