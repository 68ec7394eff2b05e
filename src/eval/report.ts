/**
 * The ternary-vs-FP report (`bitnet report`): the b1.58 paper's Table 1 (memory, latency, perplexity;
 * here on a CPU, with the file size and prefill throughput beside them) and Table 2 (zero-shot accuracy)
 * for a ternary model and its FP twin, as plain data, Markdown and JSON. The measuring is done elsewhere
 * (src/node/model-probe.ts in a process per model, perplexity.ts, lm-eval.ts); the plot is report-plot.ts.
 */
import type { TaskResult } from "./table.ts";
import { averageHeadline, evalJson, headline, table2Markdown, type EvalJson } from "./table.ts";

/** What was measured for one model. */
export interface ReportSide {
  /** "BitNet b1.58" or "FP". */
  label: string;
  file: string;
  fileBytes: number;
  parameters: number;
  /** Tensor types of the linear weights, e.g. "tq2_0" or "f16". */
  weightTypes: string;
  /** Peak resident memory of a process that loads the model, prefills and decodes (bytes). */
  peakRssBytes: number;
  /** The same process's resident memory just before it loaded the model (Node, the library, the wasm module). */
  baselineRssBytes: number;
  /** Milliseconds per decoded token, and prefill tokens per second. */
  decodeMsPerToken: number;
  prefillTokS: number;
  perplexity: { ppl: number; stderr: number; ctx: number; chunks: number; scored: number } | null;
  tasks: TaskResult[];
}

export interface ReportSettings {
  threads: number;
  kernels: string;
  promptTokens: number;
  decodeTokens: number;
  rounds: number;
  text: string | null;
  tasks: string;
  limit: number | null;
  machine: string;
}

export interface Report {
  ternary: ReportSide;
  fp: ReportSide;
  settings: ReportSettings;
}

/** Parameters of a model: the elements of its tensors. */
export function countParameters(tensors: readonly { shape: readonly number[] }[]): number {
  return tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
}

/** "2.3M", "1.3B". */
export function formatParams(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${(n / 1e3).toFixed(0)}K`;
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;

/** FP over ternary: how many times the ternary model is smaller, faster or better (the paper's "(2.60×)"). */
export interface ReportRatios {
  fileBytes: number;
  peakRss: number;
  decodeLatency: number;
  prefillThroughput: number;
  perplexity: number | null;
}

export function reportRatios(r: Report): ReportRatios {
  const t = r.ternary;
  const f = r.fp;
  return {
    fileBytes: f.fileBytes / t.fileBytes,
    peakRss: f.peakRssBytes / t.peakRssBytes,
    decodeLatency: f.decodeMsPerToken / t.decodeMsPerToken,
    prefillThroughput: t.prefillTokS / f.prefillTokS,
    perplexity: t.perplexity && f.perplexity ? t.perplexity.ppl / f.perplexity.ppl : null,
  };
}

export function table1Markdown(r: Report): string {
  const q = reportRatios(r);
  const row = (s: ReportSide, gains: boolean): string => {
    const ppl = s.perplexity ? `${s.perplexity.ppl.toFixed(2)} ± ${s.perplexity.stderr.toFixed(2)}` : "–";
    const g = (x: number | null): string => (gains && x !== null ? ` (${x.toFixed(2)}×)` : "");
    return `| ${s.label} | ${formatParams(s.parameters)} | ${s.weightTypes} | ${mib(s.fileBytes)}${g(q.fileBytes)} | ${mib(s.peakRssBytes)}${g(q.peakRss)} | ${mib(s.peakRssBytes - s.baselineRssBytes)} `
      + `| ${s.decodeMsPerToken.toFixed(2)}${g(q.decodeLatency)} | ${s.prefillTokS.toFixed(1)}${g(q.prefillThroughput)} | ${ppl} |`;
  };
  return [
    "| Models | Size | weights | file | peak memory | of which after loading | decode latency (ms/token) | prefill (tok/s) | PPL |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|",
    row(r.fp, false),
    row(r.ternary, true),
  ].join("\n");
}

export function reportMarkdown(r: Report): string {
  const s = r.settings;
  const q = reportRatios(r);
  const lines: string[] = [];
  lines.push(`# ${r.ternary.label} vs ${r.fp.label}: ${r.ternary.file} against ${r.fp.file}`, "");
  lines.push(`On ${s.machine}, ${s.threads} thread(s), ${s.kernels} kernels. Memory, latency and throughput: one process per model `
    + `(peak resident memory while it loads, prefills ${s.promptTokens} tokens and decodes ${s.decodeTokens}). `
    + `Perplexity: llama-perplexity's protocol on ${s.text ?? "no text"}. Zero-shot: ${s.tasks}${s.limit ? `, the first ${s.limit} items of each task` : ""}, scored as lm-evaluation-harness does.`, "");
  lines.push("## Table 1: size, memory, latency, perplexity", "");
  lines.push(table1Markdown(r), "");
  lines.push(`The ternary row's brackets are FP / ternary (for prefill, ternary / FP): how many times smaller or faster it is. `
    + "Peak memory is the process's peak resident set; 'of which after loading' is the peak minus the resident memory just before the model was loaded (Node and the library are the rest). "
    + (q.perplexity === null ? "" : `Perplexity ternary / FP: ${q.perplexity.toFixed(4)} (${((q.perplexity - 1) * 100).toFixed(1)}%).`), "");
  if (r.ternary.tasks.length > 0) {
    lines.push("## Table 2: zero-shot accuracy (%)", "");
    lines.push(table2Markdown([
      { model: r.fp.label, size: formatParams(r.fp.parameters), results: r.fp.tasks },
      { model: r.ternary.label, size: formatParams(r.ternary.parameters), results: r.ternary.tasks },
    ], { stderr: true }), "");
    lines.push("Each cell is acc_norm where the harness computes it for the task, acc otherwise, ± its standard error; Avg. is their mean.", "");
  }
  return lines.join("\n");
}

export interface ReportJson {
  settings: ReportSettings;
  ternary: Omit<ReportSide, "tasks"> & { eval: EvalJson };
  fp: Omit<ReportSide, "tasks"> & { eval: EvalJson };
  ratios: ReportRatios;
}

export function reportJson(r: Report): ReportJson {
  const side = (s: ReportSide) => {
    const { tasks, ...rest } = s;
    return { ...rest, eval: evalJson(s.file, tasks) };
  };
  return { settings: r.settings, ternary: side(r.ternary), fp: side(r.fp), ratios: reportRatios(r) };
}

/** The headline accuracy of each task and the average, per side: the plot's data. */
export function accuracyBars(r: Report): { label: string; ternary: number; fp: number }[] {
  const bars = r.ternary.tasks.map((t, i) => ({ label: t.task.label, ternary: headline(t), fp: headline(r.fp.tasks[i]) }));
  const a = averageHeadline(r.ternary.tasks);
  const b = averageHeadline(r.fp.tasks);
  if (a !== null && b !== null && bars.length > 1) bars.push({ label: "Avg.", ternary: a, fp: b });
  return bars;
}
