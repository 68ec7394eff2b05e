/**
 * Evaluation runs for Node, shared by `bitnet eval`, `bitnet report` and `bitnet reproduce`: tasks loaded
 * from their files and scored on a model (src/eval/lm-eval.ts), and the ternary-vs-FP report measured
 * model by model (speed and peak memory in a child process each: model-probe.ts; perplexity and tasks in
 * this process) and written as report.md, report.json, report.svg and report.png.
 * The tables and the plot are src/eval's; progress bars are the caller's (a factory passed in).
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { isAbsolute, join, relative } from "node:path";
import { arch, cpus } from "node:os";
import { loadModel } from "../index.ts";
import { typeName } from "../formats/gguf/types.ts";
import { scoreItems, taskMetrics, type EvalTokenizer, type ItemScore } from "../eval/lm-eval.ts";
import { textPerplexity } from "../eval/perplexity.ts";
import { countParameters, reportJson, reportMarkdown, type Report, type ReportSide } from "../eval/report.ts";
import { reportPlot } from "../eval/report-plot.ts";
import { ModelScorer, type LogprobScorer } from "../eval/scorer.ts";
import type { TaskResult } from "../eval/table.ts";
import { parseTaskList } from "../eval/tasks/registry.ts";
import { readModelHeader } from "./model-header.ts";
import { probeModel } from "./model-probe.ts";
import { svgToPng } from "./plot-png.ts";
import { heldOutText, loadTask, readTextFile, BUNDLED_KJV, type LoadedTask } from "./task-files.ts";
import { writeFileAtomic } from "./write-atomic.ts";

/** A progress display: `update(done, total, label)`, then `stop()`. */
export interface Progress {
  update(done: number, total: number, label?: string): void;
  stop(): void;
}
export type ProgressFactory = (title: string) => Progress;

export interface TaskRun {
  loaded: LoadedTask;
  scores: ItemScore[];
  result: TaskResult;
}

/** Loads (reads and checks) every task `tasksArg` names, before any model is loaded. */
export async function loadTasks(tasksArg: string, o: { limit?: number; dataDir?: string } = {}): Promise<LoadedTask[]> {
  const specs = parseTaskList(tasksArg, { exists: existsSync, dataDir: o.dataDir, join });
  const loaded: LoadedTask[] = [];
  for (const s of specs) loaded.push(await loadTask(s, o.limit));
  return loaded;
}

/** Scores loaded tasks in turn on one model, with a progress display per task. */
export async function scoreTasks(scorer: LogprobScorer, tok: EvalTokenizer, tasks: readonly LoadedTask[], o: { progress?: ProgressFactory; label?: string; addBos?: boolean } = {}): Promise<TaskRun[]> {
  const runs: TaskRun[] = [];
  for (const l of tasks) {
    const bar = o.progress?.(`${o.label ? `${o.label} ` : ""}${l.info.name}`);
    try {
      const scores = await scoreItems(scorer, tok, l.items, { addBos: o.addBos, onProgress: (done, total) => bar?.update(done, total, `${done} items`) });
      runs.push({ loaded: l, scores, result: { task: l.info, metrics: taskMetrics(scores, l.info.metrics) } });
    } finally {
      bar?.stop();
    }
  }
  return runs;
}

/** samples-<task>.jsonl: one line per item with its log-likelihoods, is_greedy, gold and scores. */
export function samplesJsonl(run: TaskRun): string {
  return run.scores.map((s, i) => {
    const item = run.loaded.items[i];
    return JSON.stringify({ source: item.source, gold: item.gold, ll: s.ll, is_greedy: s.greedy, acc: s.acc, acc_norm: s.accNorm, choices: item.choices }) + "\n";
  }).join("");
}

export interface ReportOptions {
  ternary: string;
  fp: string;
  /** Perplexity text file; undefined: the held-out split of `corpus`; null: no perplexity. */
  text?: string | null;
  /** The corpus whose held-out split is the default text (default: the bundled KJV). */
  corpus?: string;
  /** Perplexity context (default: 512, or the smaller of the two models' training contexts). */
  ctx?: number;
  /** At most this many perplexity chunks. */
  chunks?: number;
  /** --tasks list (default "kjv"); "" for none. */
  tasks?: string;
  limit?: number;
  dataDir?: string;
  threads: number;
  promptTokens?: number;
  decodeTokens?: number;
  rounds?: number;
  labels?: { ternary: string; fp: string };
  progress?: ProgressFactory;
  /** One line of news at a time (what is being measured). */
  note?: (line: string) => void;
}

/** A path as a reader of the report wants it: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const r = relative(process.cwd(), path);
  return r === "" || r.startsWith("..") || isAbsolute(r) ? path : r;
}

function linearWeightTypes(tensors: readonly { name: string; type: number }[]): string {
  const names = new Set(tensors.filter((t) => /^blk\.\d+\.(attn_(q|k|v|output)|ffn_(gate|up|down))\.weight$/.test(t.name)).map((t) => typeName(t.type).toLowerCase()));
  return [...names].join("+") || "?";
}

export interface ReportRun {
  report: Report;
  /** Each ternary-side item's number of choices (for the plot's chance line). */
  choicesPerItem: number[];
  /** Both sides' per-task runs, for samples files. */
  runs: { ternary: TaskRun[]; fp: TaskRun[] };
}

/** Measures both models and assembles the report. */
export async function buildReport(o: ReportOptions): Promise<ReportRun> {
  const note = o.note ?? (() => undefined);
  const headers = { ternary: await readModelHeader(o.ternary), fp: await readModelHeader(o.fp) };
  const tasksArg = o.tasks ?? "kjv";
  const tasks = tasksArg === "" ? [] : await loadTasks(tasksArg, { limit: o.limit, dataDir: o.dataDir }); // bad task files fail before any measuring
  const ctx = o.ctx ?? Math.min(512, headers.ternary.config.contextLength, headers.fp.config.contextLength);
  const textName = o.text === null ? null : displayPath(o.text ?? `${o.corpus ?? BUNDLED_KJV}`) + (o.text === undefined ? " (held-out split)" : "");
  const text = o.text === null ? null : o.text === undefined ? await heldOutText(o.corpus) : await readTextFile(o.text);
  const promptTokens = o.promptTokens ?? 128;
  const decodeTokens = o.decodeTokens ?? 64;
  const rounds = o.rounds ?? 3;
  const labels = o.labels ?? { ternary: "BitNet b1.58", fp: "FP" };
  const sides = {} as Record<"ternary" | "fp", ReportSide>;
  const runs = { ternary: [] as TaskRun[], fp: [] as TaskRun[] };
  let kernels = "";
  for (const which of ["fp", "ternary"] as const) {
    const path = o[which];
    const header = headers[which];
    note(`${labels[which]}: speed and peak memory of ${path} (a child process)`);
    const probe = await probeModel(path, { threads: o.threads, promptTokens, decodeTokens, rounds });
    kernels = probe.kernels;
    const model = await loadModel(path, { threads: o.threads, contextLength: Math.max(ctx, Math.min(header.config.contextLength, 4096)), batchSize: ctx });
    try {
      const scorer = new ModelScorer(model);
      let perplexity: ReportSide["perplexity"] = null;
      if (text !== null) {
        const bar = o.progress?.(`${labels[which]} perplexity`);
        try {
          const r = await textPerplexity(scorer, model.tokenizer, text, { ctx, chunks: o.chunks, what: textName ?? "text" }, (e) => bar?.update(e.chunk, e.chunks, `ppl ${e.ppl.toFixed(3)}`));
          perplexity = { ppl: r.ppl, stderr: r.stderr, ctx: r.ctx, chunks: r.chunks, scored: r.count };
        } finally {
          bar?.stop();
        }
      }
      runs[which] = await scoreTasks(scorer, model.tokenizer, tasks, { progress: o.progress, label: labels[which] });
      sides[which] = {
        label: labels[which], file: displayPath(path), fileBytes: header.fileBytes, parameters: countParameters(header.tensors), weightTypes: linearWeightTypes(header.tensors),
        peakRssBytes: probe.maxRssBytes, baselineRssBytes: probe.baselineRssBytes, decodeMsPerToken: probe.decodeMsPerToken, prefillTokS: probe.prefillTokS,
        perplexity, tasks: runs[which].map((r) => r.result),
      };
    } finally {
      await model.dispose();
    }
  }
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const report: Report = {
    ternary: sides.ternary, fp: sides.fp,
    settings: { threads: o.threads, kernels, promptTokens, decodeTokens, rounds, text: textName, tasks: tasksArg === "" ? "none" : tasksArg, limit: o.limit ?? null, machine: `${cpu} (${cpus().length} cores, ${arch()})` },
  };
  return { report, choicesPerItem: runs.ternary.flatMap((r) => r.loaded.items.map((i) => i.choices.length)), runs };
}

/** report.md, report.json, report.svg, report.png (and samples-<side>-<task>.jsonl) in `dir`. */
export async function writeReport(dir: string, run: ReportRun): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const svg = reportPlot(run.report, run.choicesPerItem);
  const files: [string, string | Uint8Array][] = [
    ["report.md", `${reportMarkdown(run.report)}\n![report](report.png)\n`],
    ["report.json", `${JSON.stringify(reportJson(run.report), null, 2)}\n`],
    ["report.svg", svg],
    ["report.png", svgToPng(svg)],
    ...(["ternary", "fp"] as const).flatMap((side) => run.runs[side].map((r): [string, string] => [`samples-${side}-${r.result.task.name}.jsonl`, samplesJsonl(r)])),
  ];
  for (const [name, data] of files) await writeFileAtomic(join(dir, name), data);
  return files.map(([name]) => join(dir, name));
}
