/**
 * `bitnet reproduce` (`npm run reproduce`): the paper's comparison at small scale. For each size of
 * src/train/reproduce.ts it trains BitNet b1.58 and the FP baseline on the same data, tokens and seed,
 * each with its recipe, through the same session as `bitnet train` (src/node/train-run.ts), one directory per
 * run in --out (config.json, metrics.jsonl, loss.svg/png, checkpoints/, model.gguf, and result.json with
 * what reproduce-analysis.ts measured). Then, in --out: results.json, results.md (the table),
 * loss-<size>-<activation>.svg/png (both sides' curves) and ppl-vs-params-<activation>.svg/png; and per
 * size, unless --no-report, `bitnet report` on the two exported models in report-<size>-<activation>/
 * (Table 1 on this CPU, perplexity on the held-out split, the KJV zero-shot task), summed up in results.md.
 *
 * Restartable: a run whose result.json exists is not trained again, and a run with a checkpoint continues
 * from it, so rerunning the same command after Ctrl-C (or after adding sizes) picks up where it stopped.
 * A run directory holding another config is an error (use another --out).
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { Option, type Command } from "commander";
import { tensorByteSize } from "../formats/gguf/types.ts";
import { ggufExportHeader, type ExportType } from "../train/export-gguf.ts";
import { lossCurves, parseMetricsJsonl, type MetricRecord } from "../train/metrics.ts";
import { plotLossCurves } from "../train/plot.ts";
import { downInputZeros, lossDropAround, stageSwitchStep, stageSwitchWindow, ternaryFractions } from "../train/reproduce-analysis.ts";
import {
  DEFAULT_REPRO_SETTINGS, PAPER_GAPS, QUICK_REPRO_SETTINGS, REPRO_SIDES, REPRO_SIZES, reproRunConfig, reproRunName, reproSize, resultsMarkdown, sizeResult,
  type ReproReportSide, type ReproReportSummary, type ReproResults, type ReproRunResult, type ReproSettings, type ReproSide, type ReproSize, type ReproSizeResult,
} from "../train/reproduce.ts";
import { runConfigJson, type RunConfig } from "../train/run-config.ts";
import type { GateActivation } from "../kernels/types.ts";
import type { Gemm } from "../train/matmul.ts";
import type { Trainer } from "../train/trainer.ts";
import { selectGemm } from "../train/wasm-gemm.ts";
import { CheckpointStore } from "../node/checkpoint-store.ts";
import { fmtDuration, loadCorpusData, runTrainingSession, writeSvgAndPng, type CorpusData } from "../node/train-run.ts";
import { abortOnSigint, progressReporter } from "./train-progress.ts";
import { buildReport, writeReport } from "../node/evaluate.ts";
import { reportJson, type ReportJson } from "../eval/report.ts";
import { countProgressBar } from "./progress.ts";

interface ReproduceFlags {
  sizes?: string;
  activation: string;
  steps?: number;
  tokens?: number;
  out?: string;
  data?: string;
  quick?: boolean;
  seed?: number;
  bitnetLr?: number;
  fpLr?: number;
  gemm: "wasm" | "js";
  report: boolean;
}

function positive(flag: string, integer: boolean, zeroOk = false): (raw: string) => number {
  return (raw) => {
    const v = Number(raw);
    const what = `${zeroOk ? "non-negative" : "positive"} ${integer ? "integer" : "number"}`;
    if (raw.trim() === "" || !(v > 0 || (zeroOk && v === 0)) || !Number.isFinite(v) || (integer && !Number.isSafeInteger(v))) throw new Error(`${flag}: "${raw}" is not a ${what}`);
    return v;
  };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The bytes of the linear weights in the GGUF that exportGGUF writes for this model and type. */
function linearWeightBytes(trainer: Trainer, exportType: ExportType, corpus: CorpusData): { count: number; bytes: number } {
  const header = ggufExportHeader(trainer.params, { ...corpus.vocab, pre: "gpt-2" }, { type: exportType });
  let count = 0;
  let bytes = 0;
  trainer.params.layout.forEach((spec, i) => {
    if (spec.kind !== "linear") return;
    const t = header.tensors[i];
    count += spec.size;
    bytes += tensorByteSize(t.type, t.shape, t.name);
  });
  return { count, bytes };
}

/** Trains one run (or continues it, or reads its result when it is done) and returns its result. */
async function reproduceRun(
  size: ReproSize, side: ReproSide, activation: GateActivation, settings: ReproSettings, out: string, corpus: CorpusData, gemm: Gemm,
): Promise<ReproRunResult | "stopped"> {
  const startedAt = performance.now();
  const config = reproRunConfig(size, side, activation, settings);
  const name = reproRunName(size, side, activation);
  const dir = join(out, name);
  const resultPath = join(dir, "result.json");
  const configText = runConfigJson(config);
  const existing = await readText(join(dir, "config.json"));
  if (existing !== undefined && existing !== configText) {
    throw new Error(`${join(dir, "config.json")}: the directory holds a run with another config than this reproduction's; use another --out or remove it`);
  }
  const done = await readText(resultPath);
  if (existing !== undefined && done !== undefined) {
    process.stdout.write(`${name}: done already (${resultPath})\n`);
    try {
      return JSON.parse(done) as ReproRunResult;
    } catch {
      throw new Error(`${resultPath}: not valid JSON (remove it to measure the run again)`);
    }
  }
  await mkdir(dir, { recursive: true });
  const report = progressReporter(name);
  const store = new CheckpointStore(join(dir, "checkpoints"), 1);
  const latest = await store.latest();
  const resumeState = latest === undefined ? undefined : await store.load(latest);
  if (resumeState !== undefined) {
    if (runConfigJson(resumeState.config) !== configText) throw new Error(`${latest}: the checkpoint's config differs from this reproduction's; use another --out or remove ${dir}`);
    if (JSON.stringify(resumeState.tokenizer) !== JSON.stringify(corpus.vocab)) throw new Error(`${latest}: the checkpoint's tokenizer differs from the one trained on this corpus; use another --out or remove ${dir}`);
  }
  const sigint = abortOnSigint();
  const session = await runTrainingSession({
    config, out: dir, corpus, resumeState, gemm, onEvent: (e) => report.event(e), signal: sigint.signal, startedAt, resumeHint: "the same bitnet reproduce command",
  }).finally(() => {
    report.stop();
    sigint.dispose();
  });
  if (session.stopped) return "stopped";
  const trainer = session.trainer;
  return analyseRun(trainer, config, size, name, corpus, session.exportType, session.modelPath, resultPath);
}

async function analyseRun(
  trainer: Trainer, config: RunConfig, size: ReproSize, name: string, corpus: CorpusData,
  exportType: ExportType, modelPath: string, resultPath: string,
): Promise<ReproRunResult> {
  const vals = trainer.metrics.filter((m) => m.type === "val");
  const last = vals.at(-1);
  const first = vals.find((m) => m.step === 0);
  if (last === undefined || last.step !== config.steps || first === undefined) throw new Error(`${name}: the metrics lack the validation loss before the first or after the last step`);
  const linear = linearWeightBytes(trainer, exportType, corpus);
  const ternary = config.weights === "ternary";
  const result: ReproRunResult = {
    run: name, size: size.name, activation: config.activation, weights: config.weights,
    params: trainer.params.data.length, steps: config.steps, tokens: config.steps * trainer.tokensPerStep, lr: config.lr, schedule: config.schedule,
    valLoss: last.val_loss, valPpl: Math.exp(last.val_loss), initialValLoss: first.val_loss, valTokens: trainer.validationTokens,
    exportType, linearWeights: linear.count, linearWeightBytes: linear.bytes, fileBytes: (await stat(modelPath)).size,
    ternary: ternary ? ternaryFractions(trainer.params) : null,
    downInput: downInputZeros(trainer.params, corpus.data.validation, config.seqLen, Math.min(config.evalTokens, 8192), config.batchSize, trainer.gemm),
    stageSwitch: lossDropAround(trainer.metrics, stageSwitchStep(config.steps), stageSwitchWindow(config.steps)),
    trainSeconds: trainer.elapsedSeconds, gemm: trainer.gemm.name,
  };
  await writeFile(resultPath, JSON.stringify(result, null, 2) + "\n");
  return result;
}

async function runMetrics(out: string, run: string): Promise<MetricRecord[]> {
  const path = join(out, run, "metrics.jsonl");
  const text = await readText(path);
  if (text === undefined) throw new Error(`${path}: cannot read the run's metrics`);
  return parseMetricsJsonl(text, path);
}

async function writeSizePlot(out: string, z: ReproSizeResult): Promise<void> {
  const curves = [...lossCurves(await runMetrics(out, z.bitnet.run), "BitNet b1.58"), ...lossCurves(await runMetrics(out, z.fp.run), "FP")];
  const title = `size ${z.size} (${(z.params / 1e6).toFixed(2)}M params, ${z.activation}): BitNet b1.58 vs FP`;
  await writeSvgAndPng(join(out, `loss-${z.size}-${z.activation}`), plotLossCurves(curves, { title }));
}

async function writeScalingPlot(out: string, act: GateActivation, all: readonly ReproSizeResult[]): Promise<void> {
  const sizes = all.filter((z) => z.activation === act);
  if (sizes.length === 0) return;
  const curve = (label: string, pick: (z: ReproSizeResult) => ReproRunResult) => ({ label, markers: true, points: sizes.map((z) => ({ step: z.params, loss: pick(z).valPpl })) });
  const svg = plotLossCurves([curve("BitNet b1.58", (z) => z.bitnet), curve("FP", (z) => z.fp)], {
    title: `validation perplexity vs parameters (${act})`, xLabel: "parameters", yLabel: "validation perplexity",
  });
  await writeSvgAndPng(join(out, `ppl-vs-params-${act}`), svg);
}

/** The summary of a report.json for results.md. */
function reportSummary(dir: string, j: ReportJson): ReproReportSummary {
  const side = (x: ReportJson["ternary"]): ReproReportSide => {
    const k = x.eval.results.kjv;
    return {
      fileBytes: x.fileBytes, peakRssBytes: x.peakRssBytes, decodeMsPerToken: x.decodeMsPerToken, prefillTokS: x.prefillTokS,
      ppl: x.perplexity?.ppl ?? null, pplStderr: x.perplexity?.stderr ?? null,
      kjv: k ? { acc: k.acc, accStderr: k.acc_stderr, accNorm: k.acc_norm as number, accNormStderr: k.acc_norm_stderr, n: k.n } : null,
    };
  };
  return { dir, ctx: j.ternary.perplexity?.ctx ?? null, threads: j.settings.threads, bitnet: side(j.ternary), fp: side(j.fp) };
}

/**
 * `bitnet report` on one size's two exported models, into report-<size>-<activation>/ (read back instead
 * when its report.json is newer than both models): Table 1 on this CPU, perplexity on the corpus's
 * held-out split, and the KJV task when the corpus is the bundled KJV.
 */
async function reportSize(out: string, z: ReproSizeResult, settings: ReproSettings): Promise<ReproReportSummary> {
  const name = `report-${z.size}-${z.activation}`;
  const dir = join(out, name);
  const models = [join(out, z.bitnet.run, "model.gguf"), join(out, z.fp.run, "model.gguf")];
  const cached = await readText(join(dir, "report.json"));
  if (cached !== undefined) {
    const made = (await stat(join(dir, "report.json"))).mtimeMs;
    const newest = Math.max(...(await Promise.all(models.map(async (m) => (await stat(m)).mtimeMs))));
    if (made > newest) {
      process.stdout.write(`${name}: done already (${join(dir, "report.json")})\n`);
      return reportSummary(name, JSON.parse(cached) as ReportJson);
    }
  }
  process.stdout.write(`${name}: measuring the exported models (bitnet report)\n`);
  const run = await buildReport({
    ternary: models[0], fp: models[1], corpus: settings.data, tasks: settings.data === undefined ? "kjv" : "",
    limit: settings.reportItems, chunks: settings.reportChunks, threads: availableParallelism(),
    progress: countProgressBar, note: (l) => process.stdout.write(`  ${l}\n`),
  });
  await writeReport(dir, run);
  return reportSummary(name, reportJson(run.report));
}

export function registerReproduce(program: Command): void {
  program
    .command("reproduce")
    .description("train BitNet b1.58 and the FP baseline at several sizes on the same data and compare them (the paper's table, small)")
    .option("--sizes <names>", `comma-separated sizes (default: all of ${REPRO_SIZES.map((s) => s.name).join(", ")}; --quick: ${REPRO_SIZES[0].name})`)
    .option("--activation <acts>", "MLP gate activation of both sides: silu, relu2, or silu,relu2 for both sets of runs", DEFAULT_REPRO_SETTINGS.activations.join(","))
    .option("--steps <n>", "optimizer steps of every run (instead of each size's token budget)", positive("--steps", true))
    .option("--tokens <n>", "training tokens of every run (instead of each size's budget)", positive("--tokens", true))
    .option("--out <dir>", "output directory", "runs/reproduce")
    .option("--data <path>", "corpus: text file, .gz or folder (default: the bundled KJV)")
    .option("--quick", "the smallest size for a few short steps (a smoke test of the whole pipeline)")
    .option("--seed <n>", `seed of initialization and data order (default ${DEFAULT_REPRO_SETTINGS.seed})`, positive("--seed", true, true))
    .option("--bitnet-lr <lr>", `BitNet's peak learning rate at every size; stage 2 peaks at 2/3 of it (default: each size's, ${REPRO_SIZES.map((z) => `${z.name} ${z.bitnetLr}`).join(", ")})`, positive("--bitnet-lr", false))
    .option("--fp-lr <lr>", `the FP baseline's peak learning rate at every size (default: each size's, ${REPRO_SIZES.map((z) => `${z.name} ${z.fpLr}`).join(", ")})`, positive("--fp-lr", false))
    .addOption(new Option("--gemm <backend>", "linear-layer products: WebAssembly SIMD or JavaScript").choices(["wasm", "js"]).default("wasm"))
    .option("--no-report", "skip bitnet report on each size's exported models (speed, memory, perplexity, the KJV zero-shot task)")
    .action(async (flags: ReproduceFlags) => {
      const startedAt = performance.now();
      if (flags.steps !== undefined && flags.tokens !== undefined) throw new Error("--steps and --tokens: give one of them");
      const activations = flags.activation.split(",").map((a) => a.trim());
      for (const a of activations) if (a !== "silu" && a !== "relu2") throw new Error(`--activation: "${a}" is not silu or relu2`);
      const settings: ReproSettings = {
        ...DEFAULT_REPRO_SETTINGS, ...(flags.quick ? QUICK_REPRO_SETTINGS : {}), activations: [...new Set(activations as GateActivation[])],
        ...(flags.seed === undefined ? {} : { seed: flags.seed }),
        ...(flags.bitnetLr === undefined ? {} : { bitnetLr: flags.bitnetLr }),
        ...(flags.fpLr === undefined ? {} : { fpLr: flags.fpLr }),
        ...(flags.steps === undefined ? {} : { steps: flags.steps, tokens: undefined }),
        ...(flags.tokens === undefined ? {} : { tokens: flags.tokens, steps: undefined }),
        ...(flags.data === undefined ? {} : { data: resolve(flags.data) }),
      };
      const names = flags.sizes !== undefined ? flags.sizes.split(",").map((s) => s.trim()).filter((s) => s !== "") : flags.quick ? [REPRO_SIZES[0].name] : REPRO_SIZES.map((s) => s.name);
      if (names.length === 0) throw new Error("--sizes: no size given");
      const sizes = names.map(reproSize);
      const runs = settings.activations.flatMap((activation) => sizes.flatMap((size) => REPRO_SIDES.map((side) => ({ activation, size, side }))));
      const configs = runs.map((r) => reproRunConfig(r.size, r.side, r.activation, settings)); // every config checked before any training
      const out = resolve(flags.out ?? "runs/reproduce");
      await mkdir(out, { recursive: true });

      const first = configs[0];
      const corpus = await loadCorpusData(settings.data, first.valFraction, first.vocabSize, undefined, (l) => process.stdout.write(`${l}\n`));
      process.stdout.write(`${corpus.summary}\n`);
      const { gemm, fallbackReason } = await selectGemm({ prefer: flags.gemm });
      if (fallbackReason !== null) process.stdout.write(`note: linear-layer products in JavaScript: ${fallbackReason}\n`);
      process.stdout.write(`reproduce: sizes ${names.join(", ")} (${settings.activations.join(", ")}), ${configs.length} runs → ${out}\n`);

      const results: ReproSizeResult[] = [];
      for (const activation of settings.activations) {
        for (const size of sizes) {
          const pair: Partial<Record<ReproSide, ReproRunResult>> = {};
          for (const side of REPRO_SIDES) {
            const r = await reproduceRun(size, side, activation, settings, out, corpus, gemm);
            if (r === "stopped") {
              process.exitCode = 130;
              return;
            }
            pair[side] = r;
          }
          const z = sizeResult(pair.bitnet as ReproRunResult, pair.fp as ReproRunResult); // both sides ran above
          if (flags.report) z.report = await reportSize(out, z, settings);
          results.push(z);
          await writeSizePlot(out, z);
        }
        await writeScalingPlot(out, activation, results);
      }
      const all: ReproResults = { settings, sizes: results, paper: PAPER_GAPS };
      await writeFile(join(out, "results.json"), JSON.stringify(all, null, 2) + "\n");
      const md = resultsMarkdown(all, [`Training products on ${gemm.name}; wall time of this command ${fmtDuration((performance.now() - startedAt) / 1000)}.`]);
      await writeFile(join(out, "results.md"), md);
      process.stdout.write(`\n${md}\nresults → ${join(out, "results.md")}, ${join(out, "results.json")}\n`);
    });
}
