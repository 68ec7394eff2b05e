/**
 * A training run as plain data: the model shape (TrainConfig, config.ts) plus every knob of the run, one
 * comment per field, flat so that each `bitnet train` flag maps onto exactly one key (`--batch-size` →
 * `batchSize`). Named presets, the BitNet and FP learning-rate recipes, validation, and the schedule
 * (schedule.ts) a run follows. It runs nothing (trainer.ts does).
 *
 * The run presets reuse config.ts's model shapes but train SiLU models (the activation llama.cpp's `bitnet`
 * architecture hard-codes), so every preset's export runs in llama.cpp too; `--activation relu2` gives 2B4T's.
 * Shapes whose rows are not multiples of 256 (tiny, small) export as f16 under "auto": no ternary GGUF type fits.
 *
 * Learning rates. The b1.58 FAQ (SPEC §1) gives 1.5e-3 for a 700M BitNet against 2.5e-4 for the LLaMA
 * FP baseline (6×), peaking at 1.5e-3 → dropping to a 1e-3 line at the midpoint, weight decay 0.1 then 0,
 * 375 warm-up steps. Models of a few million parameters take larger rates: our presets peak at 3e-3
 * (default, base) to 1e-2 (tiny), with stage 2 at 2/3 of the peak as in the FAQ and a warm-up of a few
 * percent of the run. Only the default's 3e-3 was measured against an alternative (8e-3; models/README.md);
 * the others are starting points. The FP recipe (`--weights fp`) is a cosine from the BitNet peak / 4 down
 * to a tenth of that, with weight decay 0.1 throughout: the FAQ's 5–7× gap, narrowed for small models.
 */

import { presets, validateConfig, type TrainConfig } from "./config.ts";
import type { ScheduleConfig } from "./schedule.ts";
import type { ExportType } from "./export-gguf.ts";

export type ScheduleKind = ScheduleConfig["kind"];

export interface RunConfig extends TrainConfig {
  /** Seeds initialization and the data order. Integer in [0, 2^32). */
  seed: number;
  /** Optimizer steps. */
  steps: number;
  /** Sequences (of seqLen tokens) per micro-batch. */
  batchSize: number;
  /** Micro-batches whose gradients are averaged into one step (tokens per step = batchSize · gradAccum · seqLen). */
  gradAccum: number;
  /** LR schedule: "twoStage" (the BitNet recipe), "cosine" or "linear" (see schedule.ts). */
  schedule: ScheduleKind;
  /** Peak learning rate (stage 1's peak for twoStage). */
  lr: number;
  /** Stage 2's peak learning rate (twoStage only). */
  lr2: number;
  /** Final learning rate of cosine and linear schedules. */
  minLr: number;
  /** Linear warm-up steps. */
  warmup: number;
  /** AdamW weight decay (stage 1 for twoStage), applied to the linear weights only (adamw.ts). */
  weightDecay: number;
  /** Stage 2's weight decay (twoStage only). */
  weightDecay2: number;
  /** Clip the global gradient norm to this (0: never clip). */
  gradClip: number;
  /** Standard deviation of the normal initialization of embeddings and linear weights. */
  initStd: number;
  /** Share of the corpus held out for validation (see data.ts for the split rule). */
  valFraction: number;
  /** Evaluate the validation loss every this many steps, and at the end (0: never). */
  evalEvery: number;
  /** Validation tokens per evaluation (a fixed subset of the validation stream). */
  evalTokens: number;
  /** Without a terminal, print a progress line every this many steps. */
  logEvery: number;
  /** Save a checkpoint every this many steps, and at the end (0: only at the end). */
  checkpointEvery: number;
  /** Keep only the newest this many checkpoints. */
  keepCheckpoints: number;
  /** Corpus: a text file, a .gz file or a folder of them. Absent: the bundled KJV corpus (data/kjv.txt.gz). */
  data?: string;
  /** Storage of the exported model's linear weights; "auto": tq2_0 when every row length is a multiple of 256, else f16. */
  exportType: ExportType | "auto";
  /** `general.name` of the exported model. */
  name: string;
}

const runDefaults = {
  seed: 1, steps: 1000, batchSize: 8, gradAccum: 1, schedule: "twoStage", lr: 3e-3, lr2: 2e-3, minLr: 3e-4, warmup: 50,
  weightDecay: 0.1, weightDecay2: 0, gradClip: 1, initStd: 0.02, valFraction: 0.05, evalEvery: 100, evalTokens: 8192,
  logEvery: 10, checkpointEvery: 200, keepCheckpoints: 3, exportType: "auto", name: "bitnet-ts",
} as const satisfies Partial<RunConfig>;

/** Tests and smoke runs: 0.13M parameters, seconds per hundred steps. */
const tiny: RunConfig = {
  ...presets.tiny, activation: "silu", ...runDefaults,
  steps: 200, batchSize: 8, lr: 1e-2, lr2: 6.7e-3, minLr: 1e-3, warmup: 10, evalEvery: 50, evalTokens: 2048, checkpointEvery: 50, name: "bitnet-ts-tiny",
};

/** 1M parameters. */
const small: RunConfig = {
  ...presets.small, activation: "silu", ...runDefaults,
  steps: 2000, batchSize: 16, lr: 6e-3, lr2: 4e-3, minLr: 6e-4, warmup: 60, evalEvery: 200, name: "bitnet-ts-small",
};

/** 5.8M parameters, every BitLinear row 256 or 768 wide (TQ2_0 and llama.cpp's Q8_K blocks fit). */
const base: RunConfig = {
  ...presets.base, activation: "silu", ...runDefaults,
  steps: 4000, batchSize: 16, lr: 3e-3, lr2: 2e-3, minLr: 3e-4, warmup: 120, evalEvery: 250, name: "bitnet-ts-base",
};

/**
 * The embedded default model (models/bitnet-default.gguf): SiLU so llama.cpp's `bitnet` architecture runs
 * it, dim 256 and ffn 512 so every activation block llama.cpp quantizes is 256 wide, GQA (4 query heads,
 * 2 kv heads of 64), a 2048-token BPE vocabulary, a 256-token context, and 520 steps of 1024 tokens: sized
 * to train on the bundled KJV corpus in under an hour on two shared cores (models/README.md has the figures).
 */
const defaultModel: RunConfig = {
  ...runDefaults,
  vocabSize: 2048, dim: 256, ffnDim: 512, nLayers: 3, nHeads: 4, nKvHeads: 2, seqLen: 256,
  ropeTheta: 10000, normEps: 1e-5, activation: "silu", weights: "ternary", tiedEmbedding: true,
  steps: 520, batchSize: 4, lr: 3e-3, lr2: 2e-3, minLr: 3e-4, warmup: 20, evalEvery: 52, evalTokens: 8192,
  checkpointEvery: 52, exportType: "tq2_0", name: "bitnet-ts-default-kjv",
};

export const runPresets = { tiny, small, base, default: defaultModel } as const satisfies Record<string, RunConfig>;
export type RunPresetName = keyof typeof runPresets;

export function isRunPresetName(name: string): name is RunPresetName {
  return Object.hasOwn(runPresets, name);
}

/** The FP baseline's optimizer keys for a BitNet run's peak LR (see the file comment). */
export function fpRecipe(ternaryLr: number): Pick<RunConfig, "schedule" | "lr" | "minLr" | "weightDecay"> {
  const lr = Number((ternaryLr / 4).toPrecision(6)); // toPrecision: keep 3e-3 / 40 from printing as 7.500000000000001e-5
  return { schedule: "cosine", lr, minLr: Number((lr / 10).toPrecision(6)), weightDecay: 0.1 };
}

/** Every key a RunConfig may hold, with the kind of value it takes (drives validation and the CLI flags). */
export const RUN_CONFIG_KEYS = {
  vocabSize: "int", dim: "int", ffnDim: "int", nLayers: "int", nHeads: "int", nKvHeads: "int", seqLen: "int",
  ropeTheta: "number", normEps: "number", activation: ["silu", "relu2"], weights: ["ternary", "fp"], tiedEmbedding: "true",
  seed: "int", steps: "int", batchSize: "int", gradAccum: "int", schedule: ["twoStage", "cosine", "linear"],
  lr: "number", lr2: "number", minLr: "number", warmup: "int", weightDecay: "number", weightDecay2: "number",
  gradClip: "number", initStd: "number", valFraction: "number", evalEvery: "int", evalTokens: "int", logEvery: "int",
  checkpointEvery: "int", keepCheckpoints: "int", data: "string",
  exportType: ["auto", "tq2_0", "tq1_0", "i2_s", "f16", "f32"], name: "string",
} as const satisfies Record<keyof RunConfig, "int" | "number" | "string" | "true" | readonly string[]>;

/** Throws, naming the key and `what`, unless every key of `x` is a RunConfig key holding the right kind of value. */
export function checkPartialRunConfig(x: unknown, what: string): Partial<RunConfig> {
  if (x === null || typeof x !== "object" || Array.isArray(x)) throw new Error(`${what}: a run config must be a JSON object`);
  for (const [key, value] of Object.entries(x)) {
    if (!Object.hasOwn(RUN_CONFIG_KEYS, key)) throw new Error(`${what}: unknown key "${key}"`);
    const kind = RUN_CONFIG_KEYS[key as keyof RunConfig];
    const ok =
      kind === "int" ? Number.isSafeInteger(value)
        : kind === "number" ? typeof value === "number" && Number.isFinite(value)
          : kind === "string" ? typeof value === "string"
            : kind === "true" ? value === true
              : (kind as readonly string[]).includes(value as string);
    if (!ok) throw new Error(`${what}: "${key}" must be ${Array.isArray(kind) ? `one of ${kind.join(", ")}` : kind === "true" ? "true" : `a${kind === "int" ? "n integer" : ` ${kind}`}`}, got ${JSON.stringify(value)}`);
  }
  return x as Partial<RunConfig>;
}

/**
 * A full config from a base (a preset or a saved config) and overrides. Switching `weights` from
 * ternary to fp brings in the FP recipe for the optimizer keys the overrides do not set themselves.
 */
export function resolveRunConfig(base: RunConfig, overrides: Partial<RunConfig> = {}, what = "train config"): RunConfig {
  checkPartialRunConfig(overrides, what);
  let c: RunConfig = { ...base };
  if (overrides.weights === "fp" && base.weights === "ternary") c = { ...c, ...fpRecipe(base.lr) };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  validateRunConfig(c, what);
  return c;
}

/** Throws with the key named if the run cannot be made. */
export function validateRunConfig(c: RunConfig, what = "train config"): void {
  checkPartialRunConfig(c, what);
  validateConfig(c);
  const positive = ["steps", "batchSize", "gradAccum", "evalTokens", "logEvery", "keepCheckpoints"] as const;
  for (const k of positive) if (!(c[k] > 0)) throw new Error(`${what}: ${k} must be > 0, got ${c[k]}`);
  const nonNegative = ["lr", "lr2", "minLr", "warmup", "weightDecay", "weightDecay2", "gradClip", "initStd", "evalEvery", "checkpointEvery"] as const;
  for (const k of nonNegative) if (!(c[k] >= 0)) throw new Error(`${what}: ${k} must be ≥ 0, got ${c[k]}`);
  if (c.seed < 0 || c.seed > 0xffffffff) throw new Error(`${what}: seed must be in [0, 2^32), got ${c.seed}`);
  if (!(c.valFraction >= 0 && c.valFraction < 0.5)) throw new Error(`${what}: valFraction must be in [0, 0.5), got ${c.valFraction}`);
}

/** The schedule.ts description of the run's LR and weight-decay schedule. */
export function scheduleOf(c: RunConfig): ScheduleConfig {
  if (c.schedule === "twoStage") {
    return { kind: "twoStage", peak1: c.lr, peak2: c.lr2, warmup: c.warmup, total: c.steps, weightDecay1: c.weightDecay, weightDecay2: c.weightDecay2 };
  }
  return { kind: c.schedule, peak: c.lr, warmup: c.warmup, total: c.steps, final: c.minLr, weightDecay: c.weightDecay };
}

/** The linear-weight storage "auto" stands for: tq2_0 if every BitLinear row (dim, ffnDim) is a multiple of 256, else f16. */
export function exportTypeOf(c: RunConfig): ExportType {
  if (c.exportType !== "auto") return c.exportType;
  if (c.weights === "fp") return "f16";
  // TQ2_0 packs rows in blocks of 256; I2_S packs the flattened tensor in blocks of 128, which every preset's
  // matrices fill (a ternary model must export ternary, never as F16 latent weights).
  if (c.dim % 256 === 0 && c.ffnDim % 256 === 0) return "tq2_0";
  return "i2_s";
}

/** The model half of a run config (what params.ts and the exporter read). */
export function modelConfigOf(c: RunConfig): TrainConfig {
  const { vocabSize, dim, ffnDim, nLayers, nHeads, nKvHeads, seqLen, ropeTheta, normEps, activation, weights, tiedEmbedding } = c;
  return { vocabSize, dim, ffnDim, nLayers, nHeads, nKvHeads, seqLen, ropeTheta, normEps, activation, weights, tiedEmbedding };
}

/** The config as pretty JSON with its keys in RUN_CONFIG_KEYS order (model shape first), as config.json holds it. */
export function runConfigJson(c: RunConfig): string {
  const ordered: Record<string, unknown> = {};
  for (const k of Object.keys(RUN_CONFIG_KEYS)) if ((c as unknown as Record<string, unknown>)[k] !== undefined) ordered[k] = (c as unknown as Record<string, unknown>)[k];
  return JSON.stringify(ordered, null, 2) + "\n";
}

/** One line per key for `bitnet train --help` (the field comments above say more). */
export const RUN_CONFIG_HELP: Record<keyof RunConfig, string> = {
  vocabSize: "vocabulary size (BPE tokens incl. bos/eos)", dim: "hidden size", ffnDim: "MLP inner size", nLayers: "transformer blocks",
  nHeads: "query heads", nKvHeads: "key/value heads (GQA)", seqLen: "training context length", ropeTheta: "RoPE base θ",
  normEps: "RMSNorm epsilon", activation: "MLP gate activation", weights: "BitLinear (ternary) or full-precision baseline",
  tiedEmbedding: "head tied to the embedding (always)", seed: "seed of initialization and data order", steps: "optimizer steps",
  batchSize: "sequences per micro-batch", gradAccum: "micro-batches per step", schedule: "learning-rate schedule",
  lr: "peak learning rate (stage 1 for twoStage)", lr2: "stage-2 peak (twoStage)", minLr: "final LR (cosine, linear)",
  warmup: "warm-up steps", weightDecay: "weight decay (stage 1 for twoStage)", weightDecay2: "stage-2 weight decay (twoStage)",
  gradClip: "clip the gradient norm to this (0: off)", initStd: "init standard deviation", valFraction: "share held out for validation",
  evalEvery: "validate every N steps (0: never)", evalTokens: "validation tokens per evaluation", logEvery: "progress line every N steps (no terminal)",
  checkpointEvery: "checkpoint every N steps (0: only at the end)", keepCheckpoints: "checkpoints kept",
  data: "corpus: text file, .gz or folder (default: bundled KJV)", exportType: "GGUF type of the linear weights", name: "general.name of the export",
};
