/**
 * Learning-rate and weight-decay schedules as pure functions of the step (0-based), described by
 * plain data so a CLI flag or a checkpoint can carry them.
 *
 * - "linear": linear warm-up from 0 to `peak` over `warmup` steps, then linear decay to `final` at `total`.
 * - "cosine": the same warm-up, then half a cosine from `peak` to `final` at `total`.
 * - "twoStage": the BitNet b1.58 recipe (SPEC §1, from the "Training Tips, Code and FAQ" note).
 *   Two warm-up-then-linear-to-0 lines over the whole run, one peaking at `peak1` (stage 1), one at
 *   the lower `peak2` (stage 2). The LR follows the first until `split`·total (default: the midpoint),
 *   then drops onto the second, which decays to 0. Weight decay is `weightDecay1` (0.1) in stage 1 and
 *   `weightDecay2` (0) in stage 2. With the paper's 1.5e-3 / 1e-3 this reads 1.5e-3 → 7.5e-4, drop to
 *   5e-4 → 0, which is also the shape the 2B4T report gives (1.5e-3 → 8e-4, then 5e-4 → 0). The FAQ
 *   states only "drop at the midpoint onto a second linear schedule with a lower peak"; that both
 *   lines span the whole run is our reading of it (it is what makes the midpoint step a drop).
 * After `total` steps every schedule stays at its end value.
 */

export type ScheduleConfig =
  | { kind: "linear"; peak: number; warmup: number; total: number; final?: number; weightDecay?: number }
  | { kind: "cosine"; peak: number; warmup: number; total: number; final?: number; weightDecay?: number }
  | { kind: "twoStage"; peak1: number; peak2: number; warmup: number; total: number; split?: number; weightDecay1?: number; weightDecay2?: number };

export interface ScheduleValue {
  lr: number;
  weightDecay: number;
}

/** Warm-up ramp (step+1)/warmup, so step 0 already trains, reaching 1 at step warmup−1. */
function warm(step: number, warmup: number): number {
  return warmup > 0 && step < warmup ? (step + 1) / warmup : 1;
}

/** Fraction of the decay phase done, in [0, 1]. */
function progress(step: number, warmup: number, total: number): number {
  if (total <= warmup) return 1;
  return Math.min(1, Math.max(0, (step - warmup) / (total - warmup)));
}

/** Peak · warm-up, then linear to `final` at `total`. */
function linearLine(step: number, peak: number, warmup: number, total: number, final: number): number {
  if (step < warmup) return peak * warm(step, warmup);
  return peak + (final - peak) * progress(step, warmup, total);
}

export function scheduleAt(s: ScheduleConfig, step: number): ScheduleValue {
  if (!(step >= 0)) throw new Error(`schedule: step must be ≥ 0, got ${step}`);
  if (!(s.total > 0) || !(s.warmup >= 0)) throw new Error(`schedule: need total > 0 and warmup ≥ 0, got total ${s.total}, warmup ${s.warmup}`);
  switch (s.kind) {
    case "linear":
      return { lr: linearLine(step, s.peak, s.warmup, s.total, s.final ?? 0), weightDecay: s.weightDecay ?? 0 };
    case "cosine": {
      const final = s.final ?? 0;
      if (step < s.warmup) return { lr: s.peak * warm(step, s.warmup), weightDecay: s.weightDecay ?? 0 };
      const p = progress(step, s.warmup, s.total);
      return { lr: final + (s.peak - final) * 0.5 * (1 + Math.cos(Math.PI * p)), weightDecay: s.weightDecay ?? 0 };
    }
    case "twoStage": {
      const split = s.split ?? 0.5;
      if (!(split > 0 && split < 1)) throw new Error(`schedule: twoStage split must be in (0, 1), got ${split}`);
      const stage1 = step < split * s.total;
      const peak = stage1 ? s.peak1 : s.peak2;
      return { lr: linearLine(step, peak, s.warmup, s.total, 0), weightDecay: stage1 ? (s.weightDecay1 ?? 0.1) : (s.weightDecay2 ?? 0) };
    }
    default: {
      const never: never = s;
      throw new Error(`schedule: unknown kind ${String((never as { kind: unknown }).kind)}`);
    }
  }
}
