/**
 * Prefill and decode timing of one loaded model, the way `npm run bench`, `bitnet bench` and
 * `bitnet report` measure it (greedy token choice, so that the output head runs once per step):
 *
 * - prefill(prompt): from an empty cache, evaluate the prompt in batches and pick the next token;
 * - decode(prompt, n): evaluate a short prompt (not timed), then n single-token steps, each feeding back
 *   the greedy choice of the previous one.
 *
 * Browser-safe (performance.now). Not here: other engines (src/node/bench/throughput.ts wraps llama.cpp the
 * same way), statistics over rounds (src/node/bench/stats.ts), peak memory (a process of its own: src/node/model-probe.ts).
 */
import { argmax } from "../generate/sampler.ts";

/** The part of BitNetModel the timings use. */
export interface TimedModel {
  reset(): void;
  evaluate(ids: readonly number[]): Float32Array;
  step(id: number): Float32Array;
}

export interface Timing {
  tokens: number;
  seconds: number;
}

export { argmax };

/** A deterministic prompt of `n` ordinary token ids (above the 259 control and byte tokens when the vocabulary allows). */
export function benchPrompt(n: number, vocab: number): number[] {
  const lo = vocab > 300 ? 259 : 0;
  return Array.from({ length: n }, (_, i) => lo + ((i * 7919 + 13) % (vocab - lo)));
}

/** Seconds to evaluate `prompt` from an empty cache and choose the next token. */
export function timePrefill(model: TimedModel, prompt: readonly number[]): number {
  model.reset();
  const t0 = performance.now();
  argmax(model.evaluate(prompt));
  return (performance.now() - t0) / 1000;
}

/** `steps` greedy single-token steps after `prompt` (not timed), or fewer when `maxSeconds` runs out first. */
export function timeDecode(model: TimedModel, prompt: readonly number[], steps: number, maxSeconds = Infinity): Timing {
  model.reset();
  let next = argmax(model.evaluate(prompt));
  const t0 = performance.now();
  let n = 0;
  while (n < steps && performance.now() - t0 < maxSeconds * 1000) {
    next = argmax(model.step(next));
    n++;
  }
  return { tokens: n, seconds: (performance.now() - t0) / 1000 };
}
