/**
 * The training loop around the training math (model.ts, adamw.ts, clip.ts, schedule.ts): one optimizer
 * step is
 *   for each of gradAccum micro-batches: next batch (data.ts) → forward → backward (loss scaled 1/gradAccum)
 *   → clip the global gradient norm → AdamW at the schedule's lr and weight decay for this step,
 * and a validation pass is the mean loss over fixed validation windows. `trainingEvents` runs the loop
 * as an async iterator of typed events (step metrics with tokens/s and ETA, validation losses).
 *
 * Deterministic: the same config (seed included) and data give the same loss trajectory bit for bit,
 * and a Trainer built from a checkpoint's state continues that trajectory exactly (checkpoint.ts).
 * Timing figures (tokens/s, ETA) are the only non-deterministic outputs. No files here.
 * The linear-layer products run on the Gemm given in the options (default: JavaScript; wasm-gemm.ts
 * makes the WebAssembly one); parameters, gradients and activations live in its memory. Exactness of
 * a resume holds for the same Gemm: backends differ in the last bits.
 */

import { createActivations, type Activations } from "./acts.ts";
import { createAdamW, adamwStep, type AdamWState } from "./adamw.ts";
import type { BpeVocabulary } from "./bpe-trainer.ts";
import type { CheckpointState } from "./checkpoint.ts";
import { clipGradNorm, gradNorm } from "./clip.ts";
import { Batcher, START_CURSOR, validationWindows, type DataCursor } from "./data.ts";
import { jsGemm, type Gemm } from "./matmul.ts";
import type { MetricRecord, TrainMetric } from "./metrics.ts";
import { backward, forward } from "./model.ts";
import { countParams, createParamSet, initParams, zeroGrads, type ParamSet } from "./params.ts";
import { modelConfigOf, scheduleOf, validateRunConfig, type RunConfig } from "./run-config.ts";
import { scheduleAt, type ScheduleConfig } from "./schedule.ts";

/** Token streams of both sides of the split (data.ts tokenStream). */
export interface TrainData {
  train: Int32Array;
  validation: Int32Array;
}

/** What a trainer resumes from: a checkpoint's state (its config must equal the trainer's). */
export type ResumeState = Pick<CheckpointState, "step" | "cursor" | "adamStep" | "elapsedSeconds" | "metrics" | "params" | "adamM" | "adamV">;

export interface TrainerOptions {
  /** The backend of the linear-layer products (default jsGemm). */
  gemm?: Gemm;
}

export class Trainer {
  readonly config: RunConfig;
  readonly gemm: Gemm;
  readonly params: ParamSet;
  readonly grads: ParamSet;
  readonly optimizer: AdamWState;
  /** Every metric record so far (restored on resume). */
  readonly metrics: MetricRecord[];
  readonly data: TrainData;
  private readonly acts: Activations;
  private readonly batcher: Batcher;
  private readonly schedule: ScheduleConfig;
  private readonly inputs: Int32Array;
  private readonly targets: Int32Array;
  private readonly valStarts: Int32Array;
  private stepsDone: number;
  private tokensSeen: number;
  private elapsed: number;

  constructor(config: RunConfig, data: TrainData, resume?: ResumeState, options: TrainerOptions = {}) {
    validateRunConfig(config);
    this.config = config;
    this.data = data;
    const model = modelConfigOf(config);
    const { batchSize: B, seqLen: T } = config;
    this.gemm = options.gemm ?? jsGemm;
    this.params = createParamSet(model, this.gemm.alloc(countParams(model)));
    this.grads = createParamSet(model, this.gemm.alloc(countParams(model)));
    this.acts = createActivations(model, B, T, this.gemm);
    this.optimizer = createAdamW(this.params);
    this.schedule = scheduleOf(config);
    this.inputs = new Int32Array(B * T);
    this.targets = new Int32Array(B * T);
    this.valStarts = validationWindows(data.validation.length, T, config.evalTokens);
    for (const [side, tokens] of Object.entries(data)) {
      for (let i = 0; i < tokens.length; i++) {
        if (!(tokens[i] >= 0 && tokens[i] < config.vocabSize)) throw new Error(`trainer: ${side} token ${i} is ${tokens[i]}, outside the vocabulary of ${config.vocabSize}`);
      }
    }
    if (resume === undefined) {
      initParams(this.params, config.seed, config.initStd);
      this.batcher = new Batcher(data.train, T, config.seed, START_CURSOR);
      this.metrics = [];
      this.stepsDone = 0;
      this.tokensSeen = 0;
      this.elapsed = 0;
    } else {
      const n = this.params.data.length;
      if (resume.params.length !== n || resume.adamM.length !== n || resume.adamV.length !== n) throw new Error(`trainer: the resume state does not hold ${n} parameters`);
      this.params.data.set(resume.params);
      this.optimizer.m.set(resume.adamM);
      this.optimizer.v.set(resume.adamV);
      this.optimizer.step = resume.adamStep;
      this.batcher = new Batcher(data.train, T, config.seed, resume.cursor);
      this.metrics = resume.metrics.filter((r) => r.step <= resume.step);
      this.stepsDone = resume.step;
      const lastTrain = this.metrics.findLast((r) => r.type === "train");
      this.tokensSeen = lastTrain?.type === "train" ? lastTrain.tokens : resume.step * this.tokensPerStep;
      this.elapsed = resume.elapsedSeconds;
    }
  }

  /** Optimizer steps done. */
  get step(): number {
    return this.stepsDone;
  }

  get cursor(): DataCursor {
    return this.batcher.cursor;
  }

  get tokensPerStep(): number {
    return this.config.batchSize * this.config.gradAccum * this.config.seqLen;
  }

  get elapsedSeconds(): number {
    return this.elapsed;
  }

  get validationTokens(): number {
    return this.valStarts.length * this.config.seqLen;
  }

  /** One optimizer step; returns (and records) its metrics. */
  trainStep(): TrainMetric {
    const t0 = performance.now();
    const { batchSize: B, seqLen: T, gradAccum: k } = this.config;
    zeroGrads(this.grads);
    let loss = 0;
    for (let micro = 0; micro < k; micro++) {
      this.batcher.next(this.inputs, this.targets, B);
      loss += forward(this.params, this.acts, this.inputs, this.targets, B, T) / k;
      backward(this.params, this.grads, this.acts, this.inputs, this.targets, B, T, 1 / k);
    }
    const norm = this.config.gradClip > 0 ? clipGradNorm(this.grads.data, this.config.gradClip) : gradNorm(this.grads.data);
    if (!Number.isFinite(norm)) throw new Error(`trainer: gradient norm is ${norm} at step ${this.stepsDone + 1}`);
    const { lr, weightDecay } = scheduleAt(this.schedule, this.stepsDone);
    adamwStep(this.optimizer, this.params.data, this.grads.data, lr, weightDecay);
    this.stepsDone++;
    this.tokensSeen += this.tokensPerStep;
    const seconds = (performance.now() - t0) / 1000;
    this.elapsed += seconds;
    const rec: TrainMetric = {
      type: "train", step: this.stepsDone, loss, lr, wd: weightDecay, grad_norm: norm,
      tokens_per_s: this.tokensPerStep / Math.max(seconds, 1e-9), tokens: this.tokensSeen, elapsed_s: this.elapsed,
    };
    this.metrics.push(rec);
    return rec;
  }

  /** Mean loss over the validation windows (NaN when there are none); recorded as a "val" metric. */
  evaluate(): number {
    const { batchSize: B, seqLen: T } = this.config;
    const starts = this.valStarts;
    const v = this.data.validation;
    let sum = 0;
    for (let i = 0; i < starts.length; i += B) {
      const b = Math.min(B, starts.length - i);
      for (let j = 0; j < b; j++) {
        const s = starts[i + j];
        this.inputs.set(v.subarray(s, s + T), j * T);
        this.targets.set(v.subarray(s + 1, s + T + 1), j * T);
      }
      sum += forward(this.params, this.acts, this.inputs, this.targets, b, T) * b;
    }
    const valLoss = starts.length > 0 ? sum / starts.length : NaN;
    if (starts.length > 0) this.metrics.push({ type: "val", step: this.stepsDone, val_loss: valLoss });
    return valLoss;
  }

  /** The state a checkpoint stores (copies of the arrays). */
  snapshot(tokenizer: BpeVocabulary): CheckpointState {
    return {
      config: this.config, tokenizer, step: this.stepsDone, cursor: this.cursor, adamStep: this.optimizer.step,
      elapsedSeconds: this.elapsed, metrics: this.metrics.slice(),
      params: this.params.data.slice(), adamM: this.optimizer.m.slice(), adamV: this.optimizer.v.slice(),
    };
  }
}

export type TrainEvent =
  | { type: "start"; step: number; totalSteps: number; params: number; trainTokens: number; validationTokens: number }
  | { type: "step"; metric: TrainMetric; totalSteps: number; etaSeconds: number; valLoss?: number }
  | { type: "eval"; step: number; valLoss: number }
  | { type: "stopped"; step: number }
  | { type: "done"; step: number; elapsedSeconds: number };

export interface TrainingOptions {
  /** Stop after this many steps in total (default config.steps). */
  until?: number;
  /** Checked between steps; when aborted the loop yields "stopped" and returns. */
  signal?: AbortSignal;
}

/**
 * Runs the trainer to `until` steps. A step event carries the validation loss when an evaluation was
 * due at that step (every evalEvery steps and at the last step), so that whoever checkpoints on step
 * events saves the evaluation with it. A fresh run is evaluated once before the first step ("eval").
 */
export async function* trainingEvents(trainer: Trainer, options: TrainingOptions = {}): AsyncGenerator<TrainEvent> {
  const c = trainer.config;
  const until = Math.min(options.until ?? c.steps, c.steps);
  yield { type: "start", step: trainer.step, totalSteps: c.steps, params: trainer.params.data.length, trainTokens: trainer.data.train.length, validationTokens: trainer.validationTokens };
  const evalDue = (step: number): boolean => c.evalEvery > 0 && trainer.validationTokens > 0 && (step % c.evalEvery === 0 || step === c.steps);
  if (trainer.step === 0 && evalDue(0)) yield { type: "eval", step: 0, valLoss: trainer.evaluate() };
  const sessionStart = performance.now();
  const firstStep = trainer.step;
  while (trainer.step < until) {
    if (options.signal?.aborted) {
      yield { type: "stopped", step: trainer.step };
      return;
    }
    const metric = trainer.trainStep();
    const valLoss = evalDue(metric.step) ? trainer.evaluate() : undefined;
    const perStep = (performance.now() - sessionStart) / 1000 / (trainer.step - firstStep);
    yield { type: "step", metric, totalSteps: c.steps, etaSeconds: perStep * (until - trainer.step), ...(valLoss === undefined ? {} : { valLoss }) };
    await new Promise<void>((resolve) => setTimeout(resolve, 0)); // let signals and timers run between steps
  }
  yield { type: "done", step: trainer.step, elapsedSeconds: trainer.elapsedSeconds };
}
