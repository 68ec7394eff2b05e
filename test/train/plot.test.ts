// Loss-curve plots: the SVG is well-formed (resvg, an independent SVG parser, renders it to a PNG of the
// stated size), carries every run's label (XML-escaped), overlays one path per curve, and downsamples long
// curves by bucket means. Also metrics.jsonl round trips into curves.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Resvg } from "@resvg/resvg-js";
import { downsample, niceTicks, plotLossCurves, type LossCurve } from "../../src/train/plot.ts";
import { lossCurves, metricsJsonl, parseMetricsJsonl, type MetricRecord } from "../../src/train/metrics.ts";
import { svgToPng } from "../../src/node/plot-png.ts";

const curve = (label: string, n: number, base: number, extra: Partial<LossCurve> = {}): LossCurve => ({
  label, points: Array.from({ length: n }, (_, i) => ({ step: i + 1, loss: base + 3 * Math.exp(-i / (n / 5)) + 0.05 * Math.sin(i) })), ...extra,
});

test("plotLossCurves overlays several runs in valid SVG with each label", () => {
  const runs = [curve("BitNet b1.58 train", 1000, 3), curve("BitNet b1.58 val", 11, 3.1, { dashed: true, markers: true }), curve("FP <baseline> & co", 1000, 2.8)];
  const svg = plotLossCurves(runs, { title: "BitNet vs FP" });
  assert.ok(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.ok(svg.includes(">BitNet b1.58 train<") && svg.includes(">BitNet b1.58 val<"));
  assert.ok(svg.includes(">FP &lt;baseline&gt; &amp; co<"), "labels are XML-escaped");
  assert.equal(svg.match(/<path /g)?.length, 3, "one path per curve");
  assert.ok(svg.includes("stroke-dasharray"), "the validation curve is dashed");
  // resvg parses the SVG strictly and renders it.
  const png = new Resvg(svg).render();
  assert.equal(png.width, 800);
  assert.equal(png.height, 480);
  const bytes = svgToPng(svg);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
  assert.throws(() => new Resvg("<svg><path></svg>"), "resvg does reject malformed SVG");
});

test("downsample averages buckets; niceTicks are round", () => {
  const pts = Array.from({ length: 10 }, (_, i) => ({ step: i, loss: i }));
  assert.deepEqual(downsample(pts, 5), [{ step: 0.5, loss: 0.5 }, { step: 2.5, loss: 2.5 }, { step: 4.5, loss: 4.5 }, { step: 6.5, loss: 6.5 }, { step: 8.5, loss: 8.5 }]);
  assert.deepEqual(downsample(pts, 20), pts);
  assert.deepEqual(niceTicks(0, 1000), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(niceTicks(2.83, 4.1), [3, 3.2, 3.4, 3.6, 3.8, 4]);
});

test("metrics.jsonl round trips and becomes train and val curves", () => {
  const recs: MetricRecord[] = [
    { type: "val", step: 0, val_loss: 6.2 },
    { type: "train", step: 1, loss: 6.1, lr: 1e-3, wd: 0.1, grad_norm: 0.9, tokens_per_s: 1000, tokens: 512, elapsed_s: 0.5 },
    { type: "train", step: 2, loss: 5.9, lr: 2e-3, wd: 0.1, grad_norm: 0.8, tokens_per_s: 1100, tokens: 1024, elapsed_s: 1 },
  ];
  const text = metricsJsonl(recs);
  assert.equal(text.split("\n").length, 4);
  assert.deepEqual(parseMetricsJsonl(text, "m.jsonl"), recs);
  assert.throws(() => parseMetricsJsonl(text + "{\"type\":\"train\"}\n", "m.jsonl"), /m\.jsonl:4/);
  const curves = lossCurves(recs, "run");
  assert.deepEqual(curves.map((c) => [c.label, c.points.length]), [["run train", 2], ["run val", 1]]);
});
