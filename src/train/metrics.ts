/**
 * Training metrics as records, one JSON object per line (metrics.jsonl): a "train" line per optimizer
 * step and a "val" line per evaluation. Field names are snake_case as in the file. Also turns records
 * into loss curves for plot.ts. It measures nothing itself (trainer.ts does).
 */

import type { LossCurve } from "./plot.ts";

export interface TrainMetric {
  type: "train";
  /** Optimizer steps done, this one included (1-based). */
  step: number;
  /** Mean cross-entropy (nats/token) of this step's batch, before its update. */
  loss: number;
  lr: number;
  wd: number;
  /** Global gradient norm before clipping. */
  grad_norm: number;
  /** Training tokens per wall-clock second over this step. */
  tokens_per_s: number;
  /** Training tokens seen so far. */
  tokens: number;
  /** Wall-clock seconds of training so far (across resumes). */
  elapsed_s: number;
}

export interface ValMetric {
  type: "val";
  /** Optimizer steps done when evaluated (0: the initial model). */
  step: number;
  /** Mean cross-entropy over the fixed validation windows. */
  val_loss: number;
}

export type MetricRecord = TrainMetric | ValMetric;

export function metricLine(r: MetricRecord): string {
  return JSON.stringify(r) + "\n";
}

export function metricsJsonl(records: readonly MetricRecord[]): string {
  return records.map(metricLine).join("");
}

/** Parses metrics.jsonl; a malformed line is an error naming `what` and the line number. Blank lines are skipped. */
export function parseMetricsJsonl(text: string, what: string): MetricRecord[] {
  const out: MetricRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      throw new Error(`${what}:${i + 1}: not JSON`);
    }
    const rec = r as Partial<MetricRecord> | null;
    const ok = rec !== null && typeof rec === "object" && typeof rec.step === "number"
      && ((rec.type === "train" && typeof rec.loss === "number") || (rec.type === "val" && typeof rec.val_loss === "number"));
    if (!ok) throw new Error(`${what}:${i + 1}: not a train or val metric record`);
    out.push(rec as MetricRecord);
  });
  return out;
}

/** The train and validation loss curves of one run, labelled "<label> train" and "<label> val". */
export function lossCurves(records: readonly MetricRecord[], label: string): LossCurve[] {
  const train = records.filter((r): r is TrainMetric => r.type === "train").map((r) => ({ step: r.step, loss: r.loss }));
  const val = records.filter((r): r is ValMetric => r.type === "val").map((r) => ({ step: r.step, loss: r.val_loss }));
  const curves: LossCurve[] = [];
  if (train.length > 0) curves.push({ label: `${label} train`, points: train });
  if (val.length > 0) curves.push({ label: `${label} val`, points: val, dashed: true, markers: true });
  return curves;
}
