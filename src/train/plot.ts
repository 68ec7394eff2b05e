/**
 * Loss curves as a self-contained SVG line chart (no dependencies, no fonts embedded), so several runs
 * (BitNet vs FP, train vs validation) can be overlaid in one picture. The PNG is made from this SVG by
 * the Node adapter (src/node/plot-png.ts, resvg).
 *
 * Long curves are averaged in consecutive buckets down to `maxPoints` points, which also smooths the
 * per-batch noise of training losses. By default the y axis starts at the smallest loss and ends at the
 * largest loss seen after the first 2% of steps, so the fast initial drop does not flatten the rest;
 * points above are clipped. Curves with the same `group` share a colour.
 */

export interface LossPoint {
  step: number;
  loss: number;
}

export interface LossCurve {
  label: string;
  points: readonly LossPoint[];
  /** Curves of one group (e.g. a run's train and val curves) share a colour; default: the label up to " train"/" val". */
  group?: string;
  dashed?: boolean;
  /** Draw a dot at each point (for sparse curves such as validation losses). */
  markers?: boolean;
}

export interface PlotOptions {
  title?: string;
  width?: number;
  height?: number;
  xLabel?: string;
  yLabel?: string;
  /** Bucket-average curves longer than this (default 400). */
  maxPoints?: number;
  yMin?: number;
  yMax?: number;
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Averages consecutive buckets of points so at most `max` remain. */
export function downsample(points: readonly LossPoint[], max: number): LossPoint[] {
  const finite = points.filter((p) => Number.isFinite(p.step) && Number.isFinite(p.loss));
  if (finite.length <= max) return finite;
  const size = Math.ceil(finite.length / max);
  const out: LossPoint[] = [];
  for (let i = 0; i < finite.length; i += size) {
    const bucket = finite.slice(i, i + size);
    out.push({
      step: bucket.reduce((a, p) => a + p.step, 0) / bucket.length,
      loss: bucket.reduce((a, p) => a + p.loss, 0) / bucket.length,
    });
  }
  return out;
}

/** Round tick values covering [lo, hi], 1, 2 or 5 × 10^k apart: the spacing nearest (in ratio) to (hi − lo) / count. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).reduce((a, b) => (Math.abs(Math.log(b / raw)) < Math.abs(Math.log(a / raw)) ? b : a));
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) >= 10000) return `${Number((v / 1000).toPrecision(4))}k`;
  return String(Number(v.toPrecision(4)));
}

function groupOf(c: LossCurve): string {
  return c.group ?? c.label.replace(/ (train|val)$/, "");
}

/** The chart as an SVG document string. */
export function plotLossCurves(curves: readonly LossCurve[], options: PlotOptions = {}): string {
  const W = options.width ?? 800;
  const H = options.height ?? 480;
  const maxPoints = options.maxPoints ?? 400;
  const m = { left: 70, right: 20, top: options.title ? 44 : 20, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const series = curves.map((c) => ({ curve: c, points: downsample(c.points, maxPoints) }));
  const all = series.flatMap((s) => s.points);

  let xMax = all.reduce((a, p) => Math.max(a, p.step), 0);
  if (!(xMax > 0)) xMax = 1;
  const after = all.filter((p) => p.step >= 0.02 * xMax);
  const ys = (after.length > 0 ? after : all).map((p) => p.loss);
  let yLo = options.yMin ?? (all.length > 0 ? Math.min(...all.map((p) => p.loss)) : 0);
  let yHi = options.yMax ?? (ys.length > 0 ? Math.max(...ys) : 1);
  if (!(yHi > yLo)) {
    yLo -= 0.5;
    yHi += 0.5;
  }
  const pad = (yHi - yLo) * 0.05;
  if (options.yMin === undefined) yLo -= pad;
  if (options.yMax === undefined) yHi += pad;
  const sx = (x: number): number => m.left + (x / xMax) * pw;
  const sy = (y: number): number => m.top + (1 - (y - yLo) / (yHi - yLo)) * ph;
  const f = (v: number): string => v.toFixed(1);

  const groups = [...new Set(curves.map(groupOf))];
  const colorOf = (c: LossCurve): string => PALETTE[groups.indexOf(groupOf(c)) % PALETTE.length];

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}" font-size="12">`);
  out.push(`<title>${escapeXml(options.title ?? "loss curves")}</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<defs><clipPath id="plot-area"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath></defs>`);
  if (options.title) out.push(`<text x="${W / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`);

  // Grid and tick labels.
  for (const t of niceTicks(yLo, yHi)) {
    if (t < yLo || t > yHi) continue;
    out.push(`<line x1="${m.left}" y1="${f(sy(t))}" x2="${m.left + pw}" y2="${f(sy(t))}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${m.left - 8}" y="${f(sy(t) + 4)}" text-anchor="end">${formatTick(t)}</text>`);
  }
  for (const t of niceTicks(0, xMax)) {
    out.push(`<line x1="${f(sx(t))}" y1="${m.top}" x2="${f(sx(t))}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${f(sx(t))}" y="${m.top + ph + 18}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 14}" text-anchor="middle" font-size="13">${escapeXml(options.xLabel ?? "step")}</text>`);
  out.push(`<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13">${escapeXml(options.yLabel ?? "loss (nats/token)")}</text>`);

  // Curves.
  out.push(`<g clip-path="url(#plot-area)" fill="none" stroke-width="2" stroke-linejoin="round">`);
  // Dense curves first and a little transparent, sparse (marked) curves on top, so validation points stay visible.
  const ordered = [...series.filter((s) => !s.curve.markers), ...series.filter((s) => s.curve.markers)];
  for (const { curve, points } of ordered) {
    if (points.length === 0) continue;
    const color = colorOf(curve);
    const d = points.map((p, i) => `${i === 0 ? "M" : "L"}${f(sx(p.step))} ${f(sy(p.loss))}`).join(" ");
    const style = curve.markers ? ` stroke-width="2.5"` : ` stroke-opacity="0.6"`;
    out.push(`<path d="${d}" stroke="${color}"${style}${curve.dashed ? ` stroke-dasharray="7 4"` : ""}/>`);
    if (curve.markers) for (const p of points) out.push(`<circle cx="${f(sx(p.step))}" cy="${f(sy(p.loss))}" r="4" fill="${color}" stroke="#ffffff" stroke-width="1.5"/>`);
  }
  out.push(`</g>`);

  // Legend, top right inside the plot.
  const lw = Math.max(...curves.map((c) => c.label.length), 4) * 7 + 48;
  const lh = curves.length * 18 + 10;
  const lx = m.left + pw - lw - 10;
  const ly = m.top + 10;
  if (curves.length > 0) {
    out.push(`<rect x="${lx}" y="${ly}" width="${lw}" height="${lh}" fill="#ffffff" fill-opacity="0.9" stroke="#999999"/>`);
    curves.forEach((c, i) => {
      const y = ly + 14 + i * 18;
      const color = colorOf(c);
      out.push(`<line x1="${lx + 8}" y1="${y}" x2="${lx + 36}" y2="${y}" stroke="${color}" stroke-width="2"${c.markers ? "" : ` stroke-opacity="0.6"`}${c.dashed ? ` stroke-dasharray="7 4"` : ""}/>`);
      out.push(`<text x="${lx + 42}" y="${y + 4}">${escapeXml(c.label)}</text>`);
    });
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
