/**
 * Zero-shot results as the b1.58 paper's Table 2 lays them out: one row per model, one column per task
 * (its abbreviations: ARCe, ARCc, HS, BQ, OQ, PQ, WGe), each the task's headline accuracy in percent,
 * and their average. The headline is acc_norm where the harness computes it for the task, acc otherwise
 * (BoolQ, WinoGrande). Also the JSON the commands print. Strings out, no I/O.
 */
import type { Metric, TaskMetrics } from "./lm-eval.ts";

export interface TaskInfo {
  name: string;
  /** The Table 2 column heading. */
  label: string;
  metrics: readonly Metric[];
}

export interface TaskResult {
  task: TaskInfo;
  metrics: TaskMetrics;
}

/** acc_norm when the task has it, else acc. */
export function headlineMetric(task: TaskInfo): Metric {
  return task.metrics.includes("acc_norm") ? "acc_norm" : "acc";
}

export function headline(r: TaskResult): number {
  return headlineMetric(r.task) === "acc_norm" ? (r.metrics.acc_norm as number) : r.metrics.acc;
}

/** The mean of the tasks' headline accuracies (the paper's "Avg."), or null without tasks. */
export function averageHeadline(results: readonly TaskResult[]): number | null {
  return results.length === 0 ? null : results.reduce((s, r) => s + headline(r), 0) / results.length;
}

export interface EvalJson {
  model: string;
  results: Record<string, TaskMetrics>;
  /** The metric each task's headline figure uses. */
  headline: Record<string, Metric>;
  average: number | null;
}

export function evalJson(model: string, results: readonly TaskResult[]): EvalJson {
  return {
    model,
    results: Object.fromEntries(results.map((r) => [r.task.name, r.metrics])),
    headline: Object.fromEntries(results.map((r) => [r.task.name, headlineMetric(r.task)])),
    average: averageHeadline(results),
  };
}

const pct = (x: number): string => (x * 100).toFixed(1);

export interface Table2Row {
  model: string;
  size?: string;
  results: readonly TaskResult[];
}

/**
 * Markdown: | Models | Size | ARCe | … | Avg. |. Every row must have the same tasks in the same order
 * (the first row's). Cells are "44.3"; with `stderr`, "44.3 ± 1.2".
 */
export function table2Markdown(rows: readonly Table2Row[], o: { stderr?: boolean } = {}): string {
  if (rows.length === 0) return "";
  const tasks = rows[0].results.map((r) => r.task);
  const head = `| Models | Size | ${tasks.map((t) => t.label).join(" | ")} | Avg. |`;
  const rule = `|---|---|${tasks.map(() => "---:|").join("")}---:|`;
  const lines = [head, rule];
  for (const row of rows) {
    const cells = tasks.map((t) => {
      const r = row.results.find((x) => x.task.name === t.name);
      if (!r) return "–";
      const err = headlineMetric(t) === "acc_norm" ? r.metrics.acc_norm_stderr : r.metrics.acc_stderr;
      return o.stderr && err !== null ? `${pct(headline(r))} ± ${pct(err)}` : pct(headline(r));
    });
    const avg = averageHeadline(row.results);
    lines.push(`| ${row.model} | ${row.size ?? ""} | ${cells.join(" | ")} | ${avg === null ? "–" : pct(avg)} |`);
  }
  return lines.join("\n");
}

/** One line per task with every metric, for a terminal. */
export function metricsLines(results: readonly TaskResult[]): string[] {
  const f = (x: number | null): string => (x === null ? "  –   " : x.toFixed(4));
  return results.map((r) => {
    const m = r.metrics;
    const norm = m.acc_norm === null ? "" : `  acc_norm ${f(m.acc_norm)} ± ${f(m.acc_norm_stderr)}`;
    return `${r.task.name.padEnd(14)} n ${String(m.n).padStart(5)}  acc ${f(m.acc)} ± ${f(m.acc_stderr)}${norm}`;
  });
}
