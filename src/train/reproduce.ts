/**
 * The small-scale reproduction of the b1.58 paper's comparison, as plain data: BitNet b1.58 against an
 * FP LLaMA of the same shape at several sizes, on the same data, tokens and seed. Here: the sizes, the
 * run config of each side at each size, and the results (types, ratios, the markdown table). It trains
 * nothing (src/cli/reproduce.ts runs the Trainer) and measures nothing (reproduce-analysis.ts).
 *
 * Sizes. Widths 128 → 384 and depths 2 → 6, with an ~8/3 gated MLP (rounded to 64) and 32- or 64-wide
 * heads without GQA, like the paper's LLaMA shapes. Every size shares the vocabulary (a 1024-token BPE),
 * the context (128) and the validation windows, so losses and perplexities compare across sizes too.
 *
 * Tokens. The paper trains every size on the same 100B tokens (143 tokens per parameter at 700M, 33 at
 * 3B); Chinchilla's ~20 per parameter would cost 6·N·20N FLOP, days here for the largest size. We scale
 * the budget with √params instead, from 300k tokens for the smallest (a few minutes per side on one
 * core) to 1.3M for the largest (one pass over the KJV training split, hours per side): 0.6 → 0.1 tokens
 * per parameter. Every model is therefore far from converged, the larger ones more so; the comparison
 * is between the two sides at equal size, tokens and data, not with the paper's absolute perplexities.
 *
 * Learning rates (SPEC §1). The FAQ's recipe is BitNet at 5–7× the FP model's rate (1.5e-3 against
 * 2.5e-4 at 700M), BitNet on the two-stage schedule (peak, then a drop at the midpoint onto a line with
 * 2/3 of the peak; weight decay 0.1 then 0), the FP model on a cosine to a tenth of its peak with weight
 * decay 0.1. We keep the schedules but not the absolute rates, which are for models 1000× larger: at our
 * sizes both sides want far larger ones, and the FP side far more so than 1/6 of BitNet's. A sweep at
 * size xs (its full 300k-token run, SiLU, seed 1; validation loss on the 16,384 evaluation tokens):
 *   BitNet  1.5e-3 4.526 | 3e-3 4.430 | 6e-3 4.369 | 1.2e-2 4.526
 *   FP      2.5e-4 5.017 | 1e-3 4.493 | 3e-3 4.351 | 6e-3 4.417
 * so each side gets its best: 6e-3 and 3e-3 at width 128 (a 2× ratio, not 6×). With the paper's absolute
 * rates the FP baseline would be badly undertrained here (ppl 151 against BitNet's 92) and BitNet would
 * "win" by 39% for that reason alone. Larger sizes scale both by 128/width (Adam's best rate for hidden
 * weights falls as 1/width, μP's rule; the embedded default model, width 256, trained better at 3e-3,
 * this rule's BitNet rate there, than at 8e-3); they were not swept. --bitnet-lr / --fp-lr set one rate for
 * every size (e.g. the paper's, --bitnet-lr 1.5e-3 --fp-lr 2.5e-4).
 */

import type { GateActivation } from "../kernels/types.ts";
import { countParams } from "./params.ts";
import { modelConfigOf, resolveRunConfig, runPresets, type RunConfig } from "./run-config.ts";

/** One model size of the reproduction. */
export interface ReproSize {
  name: string;
  dim: number;
  ffnDim: number;
  nLayers: number;
  nHeads: number;
  /** Training tokens of each side. */
  tokens: number;
  /** Peak learning rates: BitNet's stage 1 (stage 2 peaks at 2/3 of it) and the FP baseline's. */
  bitnetLr: number;
  fpLr: number;
}

/** Shortest number text that round-trips (so 3e-3 · 2/3 prints as 0.002, not 0.0019999999999999996). */
const tidy = (x: number): number => Number(x.toPrecision(6));

/** The peak LRs found best at size xs (the sweep in the file comment). */
const XS_BITNET_LR = 6e-3;
const XS_FP_LR = 3e-3;

/** xs's LRs scaled by 128/dim: Adam's best LR for hidden weights falls as 1/width (μP's rule). */
function widthScaledLr(dim: number): Pick<ReproSize, "bitnetLr" | "fpLr"> {
  return { bitnetLr: tidy((XS_BITNET_LR * 128) / dim), fpLr: tidy((XS_FP_LR * 128) / dim) };
}

/** See the file comment for the shapes, the token budgets and the learning rates. */
export const REPRO_SIZES: readonly ReproSize[] = [
  { name: "xs", dim: 128, ffnDim: 320, nLayers: 2, nHeads: 4, tokens: 300_000, bitnetLr: XS_BITNET_LR, fpLr: XS_FP_LR },
  { name: "s", dim: 192, ffnDim: 512, nLayers: 3, nHeads: 6, tokens: 500_000, ...widthScaledLr(192) },
  { name: "m", dim: 256, ffnDim: 704, nLayers: 4, nHeads: 4, tokens: 800_000, ...widthScaledLr(256) },
  { name: "l", dim: 384, ffnDim: 1024, nLayers: 6, nHeads: 6, tokens: 1_300_000, ...widthScaledLr(384) },
];

/** Everything shared by every run of a reproduction. */
export interface ReproSettings {
  /** The MLP gate activation(s): each one is a full set of runs. */
  activations: GateActivation[];
  vocabSize: number;
  seqLen: number;
  batchSize: number;
  seed: number;
  /** Peak LRs for every size instead of each size's own (--bitnet-lr, --fp-lr). */
  bitnetLr?: number;
  fpLr?: number;
  /** Validation tokens per evaluation (the same windows for every run). */
  evalTokens: number;
  /** Evaluations per run (besides the one before the first step). */
  evals: number;
  /** Overrides of every size's token budget or step count (--tokens, --steps; --quick). */
  tokens?: number;
  steps?: number;
  /** Corpus path (undefined: the bundled KJV). */
  data?: string;
  /** `bitnet report` per size: at most this many KJV task items and perplexity chunks (undefined: all). */
  reportItems?: number;
  reportChunks?: number;
}

export const DEFAULT_REPRO_SETTINGS: ReproSettings = {
  activations: ["silu"], vocabSize: 1024, seqLen: 128, batchSize: 4, seed: 1, evalTokens: 16384, evals: 10,
};

/**
 * `--quick`: a smoke test of the whole pipeline (the test's end-to-end run, seconds): the smallest size's
 * shape with a 300-token vocabulary, context 64, 2 sequences per step, 24 steps, 1024 validation tokens.
 */
export const QUICK_REPRO_SETTINGS: Partial<ReproSettings> = { seqLen: 64, batchSize: 2, steps: 24, evalTokens: 1024, evals: 2, vocabSize: 300, reportItems: 200, reportChunks: 40 };

export type ReproSide = "bitnet" | "fp";
export const REPRO_SIDES: readonly ReproSide[] = ["bitnet", "fp"];

export function reproSize(name: string): ReproSize {
  const s = REPRO_SIZES.find((x) => x.name === name);
  if (s === undefined) throw new Error(`--sizes: unknown size "${name}" (known: ${REPRO_SIZES.map((x) => x.name).join(", ")})`);
  return s;
}

/** The run directory's name: "<size>-<activation>-<side>". */
export function reproRunName(size: ReproSize, side: ReproSide, activation: GateActivation): string {
  return `${size.name}-${activation}-${side}`;
}


/**
 * The run config of one side at one size. Both sides share the shape, data, tokens, seed, warm-up and
 * evaluation; they differ in `weights` and the optimizer recipe (see the file comment).
 */
export function reproRunConfig(size: ReproSize, side: ReproSide, activation: GateActivation, s: ReproSettings): RunConfig {
  const tokensPerStep = s.batchSize * s.seqLen;
  const steps = s.steps ?? Math.round((s.tokens ?? size.tokens) / tokensPerStep);
  if (!(steps >= 8)) throw new Error(`reproduction size ${size.name}: ${steps} steps are too few (at least 8, so the loss around the stage switch can be measured)`);
  const evalEvery = Math.max(1, Math.round(steps / s.evals));
  const warmup = Math.min(375, Math.max(1, Math.round(steps / 25))); // SPEC §1's 375 for long runs; 4% of short ones
  const bitnetLr = s.bitnetLr ?? size.bitnetLr;
  const fpLr = s.fpLr ?? size.fpLr;
  const optimizer: Partial<RunConfig> = side === "bitnet"
    ? { weights: "ternary", schedule: "twoStage", lr: bitnetLr, lr2: tidy((bitnetLr * 2) / 3), minLr: 0, weightDecay: 0.1, weightDecay2: 0 }
    : { weights: "fp", schedule: "cosine", lr: fpLr, lr2: 0, minLr: tidy(fpLr / 10), weightDecay: 0.1, weightDecay2: 0 };
  return resolveRunConfig(runPresets.tiny, {
    vocabSize: s.vocabSize, dim: size.dim, ffnDim: size.ffnDim, nLayers: size.nLayers, nHeads: size.nHeads, nKvHeads: size.nHeads,
    seqLen: s.seqLen, ropeTheta: 10000, normEps: 1e-5, activation,
    seed: s.seed, steps, batchSize: s.batchSize, gradAccum: 1, warmup, gradClip: 1, initStd: 0.02, valFraction: 0.05,
    evalEvery, evalTokens: s.evalTokens, logEvery: Math.max(1, Math.round(steps / 50)), checkpointEvery: evalEvery, keepCheckpoints: 1,
    exportType: side === "bitnet" ? "i2_s" : "f16", name: `bitnet-ts-repro-${reproRunName(size, side, activation)}`,
    ...(s.data === undefined ? {} : { data: s.data }),
    ...optimizer,
  }, `reproduction size ${size.name}`);
}

/** Parameters of a size (the same for both sides and activations). */
export function reproParams(size: ReproSize, s: ReproSettings): number {
  return countParams(modelConfigOf(reproRunConfig(size, "bitnet", "silu", s)));
}

/** Fractions of the codes {-1, 0, +1}. */
export interface TernaryFractions {
  minus: number;
  zero: number;
  plus: number;
}

/** Exact zeros in the input of ffn_down over validation text. */
export interface DownInputZeros {
  /** Share of exact zeros in what ffn_down multiplies: the int8 codes (BitNet) or the float input (FP). */
  zeros: number;
  /** Share of exact zeros in act(gate) ⊙ up, before the sub-norm and (BitNet) the int8 quantization. */
  zerosBeforeQuant: number;
  /** The same share as `zeros`, per layer. */
  perLayer: number[];
  /** Validation tokens it was measured on. */
  tokens: number;
}

/** Mean training loss over a window just before and just after BitNet's stage switch (see reproduce-analysis.ts). */
export interface StageSwitchDrop {
  /** The first 0-based step of stage 2. */
  switchStep: number;
  /** Steps in each window. */
  window: number;
  before: number;
  after: number;
  /** before − after: positive when the loss falls. */
  drop: number;
}

/** What one trained run measured; written to its directory as result.json. */
export interface ReproRunResult {
  run: string;
  size: string;
  activation: GateActivation;
  weights: RunConfig["weights"];
  params: number;
  steps: number;
  tokens: number;
  lr: number;
  schedule: RunConfig["schedule"];
  /** Mean loss over the validation windows at the last step, and exp of it. */
  valLoss: number;
  valPpl: number;
  /** The loss of the untrained model over the same windows. */
  initialValLoss: number;
  valTokens: number;
  /** The GGUF type of the exported linear weights, their element count and bytes, and the whole file's bytes. */
  exportType: string;
  linearWeights: number;
  linearWeightBytes: number;
  fileBytes: number;
  /** absmean codes of the trained latent linear weights (BitNet), over all of them and per tensor name; null for FP. */
  ternary: (TernaryFractions & { byTensor: Record<string, TernaryFractions> }) | null;
  downInput: DownInputZeros;
  /** Around BitNet's stage switch; for FP the same steps, as a control (its cosine has no switch). */
  stageSwitch: StageSwitchDrop;
  /** Seconds in training steps (across resumes), and the training products' backend. */
  trainSeconds: number;
  gemm: string;
}

/** One size: both sides and their ratios. */
export interface ReproSizeResult {
  size: string;
  activation: GateActivation;
  params: number;
  tokens: number;
  bitnet: ReproRunResult;
  fp: ReproRunResult;
  /** BitNet ppl / FP ppl, and (ratio − 1)·100, the paper's "+4.4%". */
  pplRatio: number;
  pplGapPercent: number;
  /** BitNet's exported linear-weight bytes / FP's. */
  weightBytesRatio: number;
  /** What `bitnet report` measured on the two exported models (absent with --no-report). */
  report?: ReproReportSummary;
}

/** One side of a size's report: the paper's Table 1 columns on this CPU and the KJV zero-shot task. */
export interface ReproReportSide {
  fileBytes: number;
  peakRssBytes: number;
  decodeMsPerToken: number;
  prefillTokS: number;
  /** llama-perplexity's protocol on the held-out text. */
  ppl: number | null;
  pplStderr: number | null;
  /** The KJV task (null when the corpus is not the bundled KJV). */
  kjv: { acc: number; accStderr: number | null; accNorm: number; accNormStderr: number | null; n: number } | null;
}

export interface ReproReportSummary {
  /** The report's directory, relative to the reproduction's --out. */
  dir: string;
  ctx: number | null;
  threads: number;
  bitnet: ReproReportSide;
  fp: ReproReportSide;
}

export interface ReproResults {
  settings: ReproSettings;
  sizes: ReproSizeResult[];
  /** The paper's figures to compare the gap with (SPEC §5, Table 1). */
  paper: { size: string; bitnetPpl: number; fpPpl: number; gapPercent: number }[];
}

export const PAPER_GAPS: ReproResults["paper"] = [
  { size: "700M", bitnetPpl: 12.87, fpPpl: 12.33, gapPercent: 4.4 },
  { size: "1.3B", bitnetPpl: 11.29, fpPpl: 11.25, gapPercent: 0.4 },
  { size: "3B", bitnetPpl: 9.91, fpPpl: 10.04, gapPercent: -1.3 },
];

export function sizeResult(bitnet: ReproRunResult, fp: ReproRunResult): ReproSizeResult {
  if (bitnet.size !== fp.size || bitnet.params !== fp.params || bitnet.tokens !== fp.tokens) {
    throw new Error(`reproduce: runs ${bitnet.run} and ${fp.run} are not the same size, parameters and tokens`);
  }
  const pplRatio = bitnet.valPpl / fp.valPpl;
  return {
    size: bitnet.size, activation: bitnet.activation, params: bitnet.params, tokens: bitnet.tokens, bitnet, fp,
    pplRatio, pplGapPercent: (pplRatio - 1) * 100, weightBytesRatio: bitnet.linearWeightBytes / fp.linearWeightBytes,
  };
}

const pct = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)}%`;
const signed = (x: number, digits: number): string => `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(digits)}`;
const millions = (n: number): string => `${(n / 1e6).toFixed(2)}M`;
const kb = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;

/** results.md: the table, the measurements beside it, and the paper's gaps. */
export function resultsMarkdown(r: ReproResults, notes: readonly string[] = []): string {
  const s = r.settings;
  const lines: string[] = [];
  lines.push("# BitNet b1.58 vs FP baseline: small-scale reproduction", "");
  lines.push(`Corpus ${s.data ?? "data/kjv.txt.gz (bundled KJV)"}; ${s.vocabSize}-token BPE; context ${s.seqLen}; ${s.batchSize} sequences per step; seed ${s.seed}. `
    + "BitNet b1.58: two-stage LR (peak, then at the midpoint a line from 2/3 of the peak to 0), weight decay 0.1 → 0. "
    + "FP: cosine LR from its peak to a tenth of it, weight decay 0.1. Both: the same shape, data, tokens, seed and warm-up. "
    + `Validation: the same ${r.sizes[0]?.bitnet.valTokens ?? s.evalTokens} held-out tokens for every run.`, "");
  lines.push("| size | act | params | tokens | peak LR BitNet / FP | BitNet val loss / ppl | FP val loss / ppl | ppl BitNet/FP | linear weights BitNet / FP | BitNet {−1, 0, +1} | zeros into ffn_down BitNet / FP | loss drop at the switch BitNet / FP |");
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const z of r.sizes) {
    const b = z.bitnet;
    const f = z.fp;
    const t = b.ternary;
    lines.push(`| ${z.size} | ${z.activation} | ${millions(z.params)} | ${(z.tokens / 1000).toFixed(0)}k | ${b.lr} / ${f.lr} `
      + `| ${b.valLoss.toFixed(4)} / ${b.valPpl.toFixed(2)} | ${f.valLoss.toFixed(4)} / ${f.valPpl.toFixed(2)} `
      + `| ${z.pplRatio.toFixed(4)} (${signed(z.pplGapPercent, 1)}%) | ${kb(b.linearWeightBytes)} ${b.exportType} / ${kb(f.linearWeightBytes)} ${f.exportType} (${z.weightBytesRatio.toFixed(3)}×) `
      + `| ${t === null ? "–" : `${pct(t.minus)} / ${pct(t.zero)} / ${pct(t.plus)}`} | ${pct(b.downInput.zeros)} / ${pct(f.downInput.zeros)} `
      + `| ${signed(b.stageSwitch.drop, 3)} / ${signed(f.stageSwitch.drop, 3)} |`);
  }
  lines.push("");
  lines.push("- ppl BitNet/FP: BitNet's validation perplexity over FP's; the paper's figures (Table 1, mean of WikiText2 and C4): "
    + r.paper.map((p) => `${p.size} ${p.bitnetPpl} / ${p.fpPpl} (${signed(p.gapPercent, 1)}%)`).join(", ") + ".");
  lines.push("- linear weights: the bytes of the seven BitLinear (or linear) matrices per block in the exported GGUF; the embedding (also the head, f32) and the norms are the same on both sides and not counted.");
  lines.push("- {−1, 0, +1}: the absmean codes of BitNet's trained latent weights, over every linear matrix.");
  lines.push("- zeros into ffn_down: exact zeros in what ffn_down multiplies, on validation text: BitNet's int8 codes, FP's float input. "
    + `Before the int8 quantization (act(gate) ⊙ up), BitNet / FP: ${r.sizes.map((z) => `${z.size} ${z.activation} ${pct(z.bitnet.downInput.zerosBeforeQuant, 2)} / ${pct(z.fp.downInput.zerosBeforeQuant, 2)}`).join(", ")}.`);
  lines.push("- loss drop at the switch: mean training loss over the window before BitNet's stage switch minus the window after "
    + `(${[...new Map(r.sizes.map((z) => [z.size, `${z.size}: step ${z.bitnet.stageSwitch.switchStep}, ${z.bitnet.stageSwitch.window}-step windows`])).values()].join("; ")}); `
    + "FP's over the same steps is the control: how much the loss falls there anyway.");
  for (const n of notes) lines.push(`- ${n}`);
  lines.push("");
  const reported = r.sizes.filter((z) => z.report !== undefined);
  if (reported.length > 0) lines.push(...reportSection(reported), "");
  return lines.join("\n");
}

const pct1 = (x: number): string => (x * 100).toFixed(1);
const mib2 = (b: number): string => (b / 2 ** 20).toFixed(2);

/** results.md's second table: `bitnet report` on each size's two models (Table 1 on this CPU, and the KJV task as Table 2). */
function reportSection(sizes: readonly ReproSizeResult[]): string[] {
  const lines: string[] = [];
  const first = sizes[0].report as ReproReportSummary;
  lines.push("## The exported models on this CPU (`bitnet report`)", "");
  lines.push(`Per size, \`bitnet report\` on the two exported GGUF files (${first.threads} thread(s)): file size, peak resident memory and decode latency of a process `
    + `that loads the model, prefill throughput, perplexity by llama-perplexity's protocol on the held-out text${first.ctx === null ? "" : ` (context ${first.ctx})`}, `
    + "and the built-in KJV zero-shot task (4 choices, chance 25%; acc_norm ± its standard error), scored as lm-evaluation-harness scores multiple choice. "
    + "Each size's full report (Markdown, JSON, plot) is in its report-<size>-<activation>/ directory.", "");
  lines.push("| size | act | file BitNet / FP (MiB) | peak memory BitNet / FP (MiB) | decode ms/token BitNet / FP | prefill tok/s BitNet / FP | PPL BitNet / FP | KJV acc_norm BitNet / FP (%) | KJV acc BitNet / FP (%) |");
  lines.push("|---|---|---|---|---|---|---|---|---|");
  for (const z of sizes) {
    const { bitnet: b, fp: f } = z.report as ReproReportSummary;
    const ppl = b.ppl === null || f.ppl === null ? "–" : `${b.ppl.toFixed(2)} / ${f.ppl.toFixed(2)}`;
    const err = (x: number | null): string => (x === null ? "" : ` ± ${pct1(x)}`);
    const kjvNorm = b.kjv && f.kjv ? `${pct1(b.kjv.accNorm)}${err(b.kjv.accNormStderr)} / ${pct1(f.kjv.accNorm)}${err(f.kjv.accNormStderr)}` : "–";
    const kjvAcc = b.kjv && f.kjv ? `${pct1(b.kjv.acc)} / ${pct1(f.kjv.acc)}` : "–";
    lines.push(`| ${z.size} | ${z.activation} | ${mib2(b.fileBytes)} / ${mib2(f.fileBytes)} | ${mib2(b.peakRssBytes)} / ${mib2(f.peakRssBytes)} `
      + `| ${b.decodeMsPerToken.toFixed(2)} / ${f.decodeMsPerToken.toFixed(2)} | ${b.prefillTokS.toFixed(0)} / ${f.prefillTokS.toFixed(0)} | ${ppl} | ${kjvNorm} | ${kjvAcc} |`);
  }
  return lines;
}
