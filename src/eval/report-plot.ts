/**
 * The report's one picture, as a self-contained SVG (the PNG is made from it by src/node/plot-png.ts):
 * two panels of grouped bars, ternary beside FP. Left, Table 1 as ratios (how many times smaller or
 * faster the ternary model is; 1 = the same); right, Table 2's accuracy per task and the average, with
 * the chance level of the tasks where all share one. Drawn by hand like src/train/plot.ts, whose tick
 * rule it reuses.
 */
import { niceTicks } from "../train/plot.ts";
import { accuracyBars, reportRatios, type Report } from "./report.ts";

const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";
const COLORS = { ternary: "#1f77b4", fp: "#d62728", one: "#555555" };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

interface Bar {
  label: string;
  values: { value: number; color: string; text: string }[];
}

interface Panel {
  title: string;
  yLabel: string;
  bars: Bar[];
  /** A dashed reference line (ratio 1, or chance). */
  reference?: { value: number; label: string };
  yMax?: number;
}

function drawPanel(out: string[], p: Panel, x0: number, y0: number, w: number, h: number): void {
  const m = { left: 56, right: 12, top: 30, bottom: 44 };
  const pw = w - m.left - m.right;
  const ph = h - m.top - m.bottom;
  const vals = p.bars.flatMap((b) => b.values.map((v) => v.value));
  const top = Math.max(p.yMax ?? 0, ...vals, p.reference?.value ?? 0) * 1.12 || 1;
  const sy = (v: number) => y0 + m.top + ph - (v / top) * ph;
  const f = (v: number) => v.toFixed(1);
  out.push(`<text x="${x0 + w / 2}" y="${y0 + 18}" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
  for (const t of niceTicks(0, top, 5)) {
    if (t > top) continue;
    out.push(`<line x1="${x0 + m.left}" y1="${f(sy(t))}" x2="${x0 + m.left + pw}" y2="${f(sy(t))}" stroke="#e6e6e6"/>`);
    out.push(`<text x="${x0 + m.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end">${Number(t.toPrecision(4))}</text>`);
  }
  out.push(`<text transform="translate(${x0 + 16} ${y0 + m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`);
  const group = pw / Math.max(1, p.bars.length);
  p.bars.forEach((b, i) => {
    const bw = (group * 0.7) / b.values.length;
    const gx = x0 + m.left + i * group + group * 0.15;
    b.values.forEach((v, j) => {
      const x = gx + j * bw;
      out.push(`<rect x="${f(x)}" y="${f(sy(v.value))}" width="${f(bw - 2)}" height="${f(sy(0) - sy(v.value))}" fill="${v.color}"/>`);
      out.push(`<text x="${f(x + (bw - 2) / 2)}" y="${f(sy(v.value) - 4)}" text-anchor="middle" font-size="10">${esc(v.text)}</text>`);
    });
    out.push(`<text x="${f(gx + group * 0.35)}" y="${y0 + m.top + ph + 16}" text-anchor="middle">${esc(b.label)}</text>`);
  });
  if (p.reference) {
    const y = f(sy(p.reference.value));
    out.push(`<line x1="${x0 + m.left}" y1="${y}" x2="${x0 + m.left + pw}" y2="${y}" stroke="${COLORS.one}" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${x0 + m.left + pw - 4}" y="${Number(y) - 4}" text-anchor="end" font-size="10" fill="${COLORS.one}">${esc(p.reference.label)}</text>`);
  }
  out.push(`<rect x="${x0 + m.left}" y="${y0 + m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`);
}

/** Chance accuracy when every item of every task has the same number of choices, else null. */
export function commonChance(choices: readonly number[]): number | null {
  return choices.length > 0 && choices.every((c) => c === choices[0]) ? 1 / choices[0] : null;
}

/** The report's plot. `choicesPerItem` (every item's choice count) draws the chance line when they agree. */
export function reportPlot(r: Report, choicesPerItem: readonly number[] = []): string {
  const q = reportRatios(r);
  const W = 1000;
  const H = 420;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}" font-size="12">`);
  out.push(`<title>${esc(`${r.ternary.label} vs ${r.fp.label}`)}</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  const ratioBars: Bar[] = [
    { label: "file", v: q.fileBytes },
    { label: "memory", v: q.peakRss },
    { label: "latency", v: q.decodeLatency },
    { label: "prefill", v: q.prefillThroughput },
    ...(q.perplexity === null ? [] : [{ label: "PPL", v: 1 / q.perplexity }]),
  ].map((b) => ({ label: b.label, values: [{ value: b.v, color: COLORS.ternary, text: `${b.v.toFixed(2)}×` }] }));
  drawPanel(out, { title: `Table 1: ${r.ternary.label} gains over ${r.fp.label} (×)`, yLabel: "FP / ternary (prefill: ternary / FP)", bars: ratioBars, reference: { value: 1, label: "same" } }, 0, 0, W * 0.42, H - 30);
  const acc = accuracyBars(r).map((b) => ({
    label: b.label,
    values: [
      { value: b.fp * 100, color: COLORS.fp, text: (b.fp * 100).toFixed(1) },
      { value: b.ternary * 100, color: COLORS.ternary, text: (b.ternary * 100).toFixed(1) },
    ],
  }));
  const chance = commonChance(choicesPerItem);
  drawPanel(out, { title: "Table 2: zero-shot accuracy (%)", yLabel: "accuracy (%)", bars: acc, yMax: 50, reference: chance === null ? undefined : { value: chance * 100, label: `chance ${(chance * 100).toFixed(0)}%` } }, W * 0.42, 0, W * 0.58, H - 30);
  const ly = H - 14;
  out.push(`<rect x="${W / 2 - 170}" y="${ly - 10}" width="12" height="12" fill="${COLORS.ternary}"/><text x="${W / 2 - 152}" y="${ly}">${esc(r.ternary.label)} (${esc(r.ternary.weightTypes)})</text>`);
  out.push(`<rect x="${W / 2 + 40}" y="${ly - 10}" width="12" height="12" fill="${COLORS.fp}"/><text x="${W / 2 + 58}" y="${ly}">${esc(r.fp.label)} (${esc(r.fp.weightTypes)})</text>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}
