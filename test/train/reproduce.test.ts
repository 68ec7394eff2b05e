// `bitnet reproduce`: --quick end to end in a temp dir (every output file; results.json holds every field with
// values that agree with each other, with the run directories' own files and with what the paper's table
// measures); a rerun reads the finished runs instead of training them; a changed config in the same --out
// is refused. The measurements of reproduce-analysis.ts against independent float64 references (test/helpers/ref64.ts):
// the {-1, 0, +1} shares, the exact zeros entering ffn_down, and the stage-switch step against schedule.ts.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { presets, type TrainConfig } from "../../src/train/config.ts";
import { parseMetricsJsonl, type MetricRecord } from "../../src/train/metrics.ts";
import { createParamSet, initParams, LINEAR_TENSOR_NAMES } from "../../src/train/params.ts";
import { downInputZeros, lossDropAround, stageSwitchStep, stageSwitchWindow, ternaryFractions } from "../../src/train/reproduce-analysis.ts";
import { DEFAULT_REPRO_SETTINGS, REPRO_SIZES, reproParams, reproRunConfig, type ReproResults } from "../../src/train/reproduce.ts";
import { scheduleAt } from "../../src/train/schedule.ts";
import { scheduleOf } from "../../src/train/run-config.ts";
import { absmax64, absmean64, forward64, gatedAct64, params64, trainLinear64, trainWeights64, type F64, type Linear64 } from "../helpers/ref64.ts";
import { assertOneLineError, runCli } from "../cli/run-cli.ts";

const dir = mkdtempSync(join(tmpdir(), "bitnet-reproduce-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = join(dir, "corpus.txt");
writeFileSync(corpus, gunzipSync(readFileSync(new URL("../../data/kjv.txt.gz", import.meta.url))).toString("utf8").slice(0, 40_000));
const out = join(dir, "out");
const quick = ["reproduce", "--quick", "--data", corpus, "--out", out];

const close = (a: number, b: number, tol = 1e-12): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test("bitnet reproduce --quick trains both sides and writes every output with consistent results", async () => {
  const r = await runCli(quick);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(out).sort(), [
    "loss-xs-silu.png", "loss-xs-silu.svg", "ppl-vs-params-silu.png", "ppl-vs-params-silu.svg", "report-xs-silu", "results.json", "results.md", "xs-silu-bitnet", "xs-silu-fp",
  ]);
  assert.deepEqual(readdirSync(join(out, "report-xs-silu")).sort(), ["report.json", "report.md", "report.png", "report.svg"], "bitnet report on the pair (no tasks: the corpus is not the bundled KJV)");
  for (const run of ["xs-silu-bitnet", "xs-silu-fp"]) {
    assert.deepEqual(readdirSync(join(out, run)).sort(), ["checkpoints", "config.json", "loss.png", "loss.svg", "metrics.jsonl", "model.gguf", "result.json"]);
  }
  for (const png of ["loss-xs-silu.png", "ppl-vs-params-silu.png"]) assert.deepEqual([...readFileSync(join(out, png)).subarray(1, 4)], [0x50, 0x4e, 0x47]);
  const lossSvg = readFileSync(join(out, "loss-xs-silu.svg"), "utf8");
  for (const label of ["BitNet b1.58 train", "BitNet b1.58 val", "FP train", "FP val"]) assert.ok(lossSvg.includes(`>${label}<`), label);

  // The two runs: same shape, data, tokens, seed; each side's recipe.
  const cb = JSON.parse(readFileSync(join(out, "xs-silu-bitnet", "config.json"), "utf8"));
  const cf = JSON.parse(readFileSync(join(out, "xs-silu-fp", "config.json"), "utf8"));
  for (const k of ["vocabSize", "dim", "ffnDim", "nLayers", "nHeads", "nKvHeads", "seqLen", "activation", "seed", "steps", "batchSize", "warmup", "evalTokens", "valFraction", "data"]) {
    assert.deepEqual(cb[k], cf[k], k);
  }
  assert.equal(cb.data, corpus);
  const xs = REPRO_SIZES[0];
  assert.deepEqual([cb.weights, cb.schedule, cb.lr, cb.lr2, cb.weightDecay, cb.weightDecay2], ["ternary", "twoStage", xs.bitnetLr, Number(((xs.bitnetLr * 2) / 3).toPrecision(6)), 0.1, 0]);
  assert.deepEqual([cf.weights, cf.schedule, cf.lr, cf.minLr, cf.weightDecay], ["fp", "cosine", xs.fpLr, Number((xs.fpLr / 10).toPrecision(6)), 0.1]);

  const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as ReproResults;
  assert.equal(res.sizes.length, 1);
  const z = res.sizes[0];
  const { bitnet: b, fp: f } = z;
  assert.equal(z.size, "xs");
  assert.deepEqual([b.weights, f.weights], ["ternary", "fp"]);
  assert.equal(b.params, f.params);
  assert.equal(z.params, b.params);
  assert.equal(b.tokens, 24 * 2 * 64);
  assert.equal(f.tokens, b.tokens);
  assert.equal(b.valTokens, f.valTokens);
  for (const x of [b, f]) {
    const metrics = parseMetricsJsonl(readFileSync(join(out, x.run, "metrics.jsonl"), "utf8"), x.run);
    const vals = metrics.filter((m) => m.type === "val");
    assert.equal(x.valLoss, vals.at(-1)?.val_loss, `${x.run}: the last validation loss`);
    assert.equal(x.initialValLoss, vals[0].val_loss);
    assert.ok(Math.abs(x.initialValLoss - Math.log(300)) < 0.3, `${x.run}: untrained ≈ ln(vocab): ${x.initialValLoss}`);
    assert.ok(x.valLoss < x.initialValLoss - 0.5, `${x.run}: validation loss falls ${x.initialValLoss} → ${x.valLoss}`);
    assert.ok(close(x.valPpl, Math.exp(x.valLoss)));
    assert.equal(x.fileBytes, statSync(join(out, x.run, "model.gguf")).size);
    const s = x.stageSwitch;
    assert.deepEqual([s.switchStep, s.window], [12, 2]);
    const trainLoss = (step: number): number => (metrics.find((m) => m.type === "train" && m.step === step) as { loss: number }).loss;
    assert.ok(close(s.before, (trainLoss(13) + trainLoss(12)) / 2));
    assert.ok(close(s.after, (trainLoss(14) + trainLoss(15)) / 2));
    assert.ok(close(s.drop, s.before - s.after));
    const d = x.downInput;
    assert.equal(d.perLayer.length, cb.nLayers);
    assert.ok(close(d.zeros, d.perLayer.reduce((a, v) => a + v, 0) / d.perLayer.length));
    assert.ok(d.zeros >= 0 && d.zeros <= 1 && d.zerosBeforeQuant >= 0 && d.zerosBeforeQuant <= d.zeros);
    assert.ok(d.tokens > 0 && d.tokens <= cb.evalTokens);
  }
  assert.ok(b.downInput.zeros > b.downInput.zerosBeforeQuant, "int8 quantization adds zeros");
  assert.equal(f.downInput.zeros, f.downInput.zerosBeforeQuant, "FP's input to down is the float product, normalized");

  // The paper's columns.
  assert.ok(close(z.pplRatio, b.valPpl / f.valPpl));
  assert.ok(close(z.pplGapPercent, (z.pplRatio - 1) * 100));
  assert.ok(close(z.weightBytesRatio, b.linearWeightBytes / f.linearWeightBytes));
  const linearCount = cb.nLayers * (4 * cb.dim * cb.dim + 3 * cb.dim * cb.ffnDim);
  assert.deepEqual([b.linearWeights, f.linearWeights], [linearCount, linearCount]);
  assert.deepEqual([b.exportType, f.exportType], ["i2_s", "f16"]);
  assert.equal(b.linearWeightBytes, linearCount / 4 + 32 * 7 * cb.nLayers, "I2_S: 2 bits per weight and a 32-byte tail per tensor");
  assert.equal(f.linearWeightBytes, 2 * linearCount);
  assert.equal(f.ternary, null);
  const t = b.ternary;
  assert.ok(t !== null);
  assert.ok(close(t.minus + t.zero + t.plus, 1));
  for (const v of [t.minus, t.zero, t.plus]) assert.ok(v > 0.15 && v < 0.6, `each code is common: ${JSON.stringify(t)}`);
  assert.deepEqual(Object.keys(t.byTensor).sort(), [...LINEAR_TENSOR_NAMES].sort());

  const md = readFileSync(join(out, "results.md"), "utf8");
  assert.ok(md.includes(`| xs | silu | ${(z.params / 1e6).toFixed(2)}M | 3k | ${b.lr} / ${f.lr} |`), md);
  // bitnet report on the exported pair: the same files, perplexity on the corpus's held-out split at the run's context.
  const rep = z.report;
  assert.ok(rep !== undefined);
  assert.deepEqual([rep.dir, rep.ctx, rep.bitnet.fileBytes, rep.fp.fileBytes], ["report-xs-silu", 64, b.fileBytes, f.fileBytes]);
  assert.equal(rep.bitnet.kjv, null);
  assert.ok((rep.bitnet.ppl as number) > 1 && (rep.fp.ppl as number) > 1);
  assert.ok(md.includes("## The exported models on this CPU (`bitnet report`)"), md);
  assert.ok(md.includes(`| ${(rep.bitnet.ppl as number).toFixed(2)} / ${(rep.fp.ppl as number).toFixed(2)} | – | – |`), md);
  assert.ok(md.includes(`${z.pplRatio.toFixed(4)}`));
});

test("rerunning the same command reads the finished runs instead of training them", async () => {
  const before = readFileSync(join(out, "results.json"), "utf8");
  const r = await runCli(quick);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /xs-silu-bitnet: done already/);
  assert.match(r.stdout, /xs-silu-fp: done already/);
  assert.match(r.stdout, /report-xs-silu: done already/);
  assert.doesNotMatch(r.stdout, /step \d+\/24/);
  assert.equal(readFileSync(join(out, "results.json"), "utf8"), before);
});

test("another config into the same --out, unknown sizes and too few steps fail with the culprit named", async () => {
  assertOneLineError(await runCli([...quick, "--steps", "30"]), "xs-silu-bitnet/config.json: the directory holds a run with another config");
  assertOneLineError(await runCli([...quick, "--sizes", "xs,huge"]), '--sizes: unknown size "huge"');
  assertOneLineError(await runCli([...quick, "--out", join(dir, "other"), "--steps", "4"]), "4 steps are too few");
  assertOneLineError(await runCli([...quick, "--bitnet-lr", "-1"]), '--bitnet-lr: "-1" is not a positive number');
  assertOneLineError(await runCli([...quick, "--activation", "silu,gelu"]), '--activation: "gelu" is not silu or relu2');
});

test("the sizes: at least three, growing, each side the same shape; I2_S fits every BitNet size", () => {
  assert.ok(REPRO_SIZES.length >= 3);
  let last = 0;
  for (const size of REPRO_SIZES) {
    const params = reproParams(size, DEFAULT_REPRO_SETTINGS);
    assert.ok(params > last, `${size.name}: ${params} parameters`);
    last = params;
    const b = reproRunConfig(size, "bitnet", "silu", DEFAULT_REPRO_SETTINGS);
    const f = reproRunConfig(size, "fp", "silu", DEFAULT_REPRO_SETTINGS);
    assert.equal(b.steps * b.batchSize * b.seqLen, f.steps * f.batchSize * f.seqLen);
    assert.ok(Math.abs(b.steps * b.batchSize * b.seqLen - size.tokens) <= b.batchSize * b.seqLen);
    for (const m of [b.dim * b.dim, b.dim * b.ffnDim]) assert.equal(m % 128, 0, `${size.name}: I2_S needs tensors of 128-value blocks`);
  }
});

test("stageSwitchStep is where schedule.ts drops the LR and weight decay; lossDropAround averages the stated records", () => {
  for (let total = 8; total <= 61; total++) {
    const s = scheduleOf(reproRunConfig(REPRO_SIZES[0], "bitnet", "silu", { ...DEFAULT_REPRO_SETTINGS, steps: total }));
    const k = stageSwitchStep(total);
    assert.equal(scheduleAt(s, k - 1).weightDecay, 0.1, `total ${total}`);
    assert.equal(scheduleAt(s, k).weightDecay, 0, `total ${total}`);
    assert.ok(scheduleAt(s, k).lr < scheduleAt(s, k - 1).lr * 0.75, `the LR drops at step ${k} of ${total}`);
    assert.ok(k + 1 + stageSwitchWindow(total) <= total, `both windows fit in ${total} steps`);
  }
  const metrics: MetricRecord[] = Array.from({ length: 20 }, (_, i) => ({ type: "train", step: i + 1, loss: 10 - i, lr: 0, wd: 0, grad_norm: 0, tokens_per_s: 0, tokens: 0, elapsed_s: 0 }));
  const d = lossDropAround(metrics, 10, 3); // before: records 9, 10, 11 (losses 2, 1, 0); after: 12, 13, 14
  assert.deepEqual(d, { switchStep: 10, window: 3, before: 1, after: -2, drop: 3 });
  assert.throws(() => lossDropAround(metrics, 18, 3), /no training loss recorded for step 21/);
});

test("ternaryFractions counts the codes of SPEC §1's absmean (float64 reference), per tensor and in total", () => {
  const c: TrainConfig = { ...presets.tiny, nLayers: 2 };
  const p = createParamSet(c);
  initParams(p, 7);
  // Make the shares uneven so a swapped or misplaced count shows: shrink some weights toward 0.
  const q = p.tensors.blk[1].ffn_up;
  for (let i = 0; i < q.length; i += 3) q[i] *= 0.1;
  const got = ternaryFractions(p);
  const total = [0, 0, 0];
  for (const name of LINEAR_TENSOR_NAMES) {
    const counts = [0, 0, 0];
    for (let l = 0; l < c.nLayers; l++) for (const code of absmean64(p.tensors.blk[l][name]).codes) counts[code + 1]++;
    const n = counts[0] + counts[1] + counts[2];
    assert.deepEqual(got.byTensor[name], { minus: counts[0] / n, zero: counts[1] / n, plus: counts[2] / n }, name);
    counts.forEach((v, i) => (total[i] += v));
  }
  const n = total[0] + total[1] + total[2];
  assert.ok(close(got.minus, total[0] / n) && close(got.zero, total[1] / n) && close(got.plus, total[2] / n));
  assert.ok(got.byTensor.ffn_up.zero > got.byTensor.ffn_gate.zero + 0.05, "the shrunk weights quantize to 0 more often");
});

/** The inputs of every block's ffn_down in the float64 model: act(gate) ⊙ up, and its int8 codes after ffn_sub_norm. */
function downInputs64(c: TrainConfig, p: ReturnType<typeof createParamSet>, ids: Int32Array, B: number, T: number): { m: F64[]; codes: F64[] } {
  const ms: F64[] = [];
  const codes: F64[] = [];
  const bitlinear = trainLinear64(c.weights);
  const seen = new Map<string, F64>();
  const lin: Linear64 = (x, W, name, N, I, O) => {
    const layer = name.slice(0, name.lastIndexOf(".") + 1);
    if (name.endsWith(".ffn_down")) {
      ms.push(gatedAct64(seen.get(layer + "ffn_gate") as F64, seen.get(layer + "ffn_up") as F64, c.activation));
      codes.push(absmax64(x, N, I).q);
    }
    const y = bitlinear(x, W, name, N, I, O);
    seen.set(name, y);
    return y;
  };
  forward64(trainWeights64(c, params64(p)), ids, B, T, lin);
  return { m: ms, codes };
}

test("downInputZeros counts the zeros the float64 model feeds ffn_down (ReLU² ternary, SiLU fp)", () => {
  const T = 16;
  const validation = Int32Array.from({ length: 4 * T + 1 }, (_, i) => (i * 37 + 11) % 300);
  for (const variant of [{ activation: "relu2", weights: "ternary" }, { activation: "silu", weights: "fp" }] as const) {
    const c: TrainConfig = { ...presets.tiny, ...variant, seqLen: T };
    const p = createParamSet(c);
    initParams(p, 3);
    const got = downInputZeros(p, validation, T, 4 * T, 2);
    assert.equal(got.tokens, 4 * T);
    const ids = new Int32Array(4 * T);
    for (let w = 0; w < 4; w++) ids.set(validation.subarray(w * T, w * T + T), w * T);
    const ref = downInputs64(c, p, ids, 4, T);
    const share = (arrays: F64[]): number[] => arrays.map((a) => a.filter((v) => v === 0).length / a.length);
    const refIn = variant.weights === "ternary" ? share(ref.codes) : share(ref.m);
    const refBefore = share(ref.m).reduce((a, v) => a + v, 0) / c.nLayers;
    got.perLayer.forEach((v, l) => assert.ok(Math.abs(v - refIn[l]) <= 0.002, `${variant.activation} layer ${l}: ${v} vs float64 ${refIn[l]}`));
    assert.ok(Math.abs(got.zerosBeforeQuant - refBefore) <= 0.002, `${variant.activation}: ${got.zerosBeforeQuant} vs float64 ${refBefore}`);
    if (variant.activation === "relu2") assert.ok(got.zerosBeforeQuant > 0.4 && got.zeros > got.zerosBeforeQuant, `ReLU² zeroes about half: ${JSON.stringify(got)}`);
    else assert.equal(got.zeros, 0, "SiLU ⊙ up is never exactly 0 in a float model");
  }
});
