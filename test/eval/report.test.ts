/**
 * The ternary-vs-FP report's tables, JSON and plot (src/eval/report.ts, table.ts, report-plot.ts) on
 * measurements written by the test: the paper's Table 1 ratios (FP / ternary, prefill ternary / FP), the
 * Table 2 layout with acc_norm where the task has it and acc otherwise, and the average.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { TaskMetrics } from "../../src/eval/lm-eval.ts";
import { accuracyBars, countParameters, formatParams, reportJson, reportMarkdown, reportRatios, type Report, type ReportSide } from "../../src/eval/report.ts";
import { reportPlot } from "../../src/eval/report-plot.ts";
import { averageHeadline, evalJson, headlineMetric, table2Markdown, type TaskResult } from "../../src/eval/table.ts";

const m = (acc: number, accNorm: number | null, n = 100): TaskMetrics => ({ acc, acc_stderr: 0.01, acc_norm: accNorm, acc_norm_stderr: accNorm === null ? null : 0.02, n });
const arc = { name: "arc_easy", label: "ARCe", metrics: ["acc", "acc_norm"] as const };
const boolq = { name: "boolq", label: "BQ", metrics: ["acc"] as const };

function side(label: string, o: Partial<ReportSide>, tasks: TaskResult[]): ReportSide {
  return {
    label, file: `${label}.gguf`, fileBytes: 1 << 20, parameters: 2_300_000, weightTypes: "tq2_0", peakRssBytes: 100 << 20, baselineRssBytes: 60 << 20,
    decodeMsPerToken: 1, prefillTokS: 1000, perplexity: { ppl: 20, stderr: 0.5, ctx: 512, chunks: 10, scored: 2550 }, tasks, ...o,
  };
}

const report: Report = {
  ternary: side("BitNet b1.58", { fileBytes: 1 << 20, peakRssBytes: 80 << 20, decodeMsPerToken: 2, prefillTokS: 3000, perplexity: { ppl: 21, stderr: 0.5, ctx: 512, chunks: 10, scored: 2550 } },
    [{ task: arc, metrics: m(0.5, 0.45) }, { task: boolq, metrics: m(0.6, null) }]),
  fp: side("FP", { fileBytes: 8 << 20, weightTypes: "f16", peakRssBytes: 120 << 20, decodeMsPerToken: 5, prefillTokS: 1500 },
    [{ task: arc, metrics: m(0.55, 0.5) }, { task: boolq, metrics: m(0.62, null) }]),
  settings: { threads: 2, kernels: "wasm-relaxed-simd", promptTokens: 128, decodeTokens: 64, rounds: 3, text: "held-out", tasks: "arc_easy,boolq", limit: null, machine: "test CPU" },
};

test("Table 1 ratios: how many times smaller or faster the ternary model is; perplexity ternary / FP", () => {
  assert.deepEqual(reportRatios(report), { fileBytes: 8, peakRss: 1.5, decodeLatency: 2.5, prefillThroughput: 2, perplexity: 21 / 20 });
  const md = reportMarkdown(report);
  assert.match(md, /\| FP \| 2\.3M \| f16 \| 8\.00 MiB \| 120\.00 MiB \| 60\.00 MiB \| 5\.00 \| 1500\.0 \| 20\.00 ± 0\.50 \|/);
  assert.match(md, /\| BitNet b1\.58 \| 2\.3M \| tq2_0 \| 1\.00 MiB \(8\.00×\) \| 80\.00 MiB \(1\.50×\) \| 20\.00 MiB \| 2\.00 \(2\.50×\) \| 3000\.0 \(2\.00×\) \| 21\.00 ± 0\.50 \|/);
  assert.match(md, /Perplexity ternary \/ FP: 1\.0500 \(5\.0%\)/);
});

test("Table 2: acc_norm where the task has it, acc otherwise, and their average", () => {
  assert.equal(headlineMetric(arc), "acc_norm");
  assert.equal(headlineMetric(boolq), "acc");
  assert.ok(Math.abs((averageHeadline(report.ternary.tasks) as number) - (0.45 + 0.6) / 2) < 1e-15);
  assert.equal(table2Markdown([{ model: "BitNet b1.58", size: "2.3M", results: report.ternary.tasks }]), [
    "| Models | Size | ARCe | BQ | Avg. |",
    "|---|---|---:|---:|---:|",
    "| BitNet b1.58 | 2.3M | 45.0 | 60.0 | 52.5 |",
  ].join("\n"));
  assert.match(reportMarkdown(report), /\| FP \| 2\.3M \| 50\.0 ± 2\.0 \| 62\.0 ± 1\.0 \| 56\.0 \|/);
  const j = evalJson("x.gguf", report.ternary.tasks);
  assert.deepEqual(Object.keys(j.results), ["arc_easy", "boolq"]);
  assert.deepEqual(j.headline, { arc_easy: "acc_norm", boolq: "acc" });
  assert.equal(j.results.boolq.acc_norm, null);
});

test("JSON, the plot's bars and data, parameter counts", () => {
  const j = reportJson(report);
  assert.equal(j.ternary.eval.average, averageHeadline(report.ternary.tasks));
  assert.equal("tasks" in j.ternary, false);
  assert.deepEqual(accuracyBars(report).map((b) => b.label), ["ARCe", "BQ", "Avg."]);
  const svg = reportPlot(report, [4, 4, 2]);
  assert.match(svg, /^<svg [^>]*width="1000"[\s\S]*<\/svg>\n$/);
  for (const text of [">8.00×<", ">2.50×<", ">45.0<", ">62.0<", "Table 2: zero-shot accuracy (%)"]) assert.ok(svg.includes(text), text);
  assert.ok(!svg.includes("chance"), "no chance line when the tasks' choice counts differ");
  assert.ok(reportPlot(report, [4, 4]).includes("chance 25%"));
  assert.equal(countParameters([{ shape: [256, 2048] }, { shape: [256] }]), 256 * 2048 + 256);
  assert.deepEqual([formatParams(2_297_856), formatParams(1.3e9), formatParams(417_000)], ["2.3M", "1.3B", "417K"]);
});
