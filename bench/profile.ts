/**
 * Where our engine's time goes, for a decode step and for prefill: ternary matmuls, activation
 * quantization, the output head, other float matmuls, attention, and the rest (norms, RoPE, residuals,
 * embedding rows, JS glue). Kernel calls are timed through a wrapper around the backend the engine
 * would pick; attention is a plain function the forward pass calls directly, so it is timed on its own
 * with the same batch sizes and positions. Not here: throughput figures (throughput.ts).
 */
import { attention } from "../src/kernels/attention.ts";
import type { Kernels } from "../src/kernels/types.ts";
import { loadModel } from "../src/index.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { selectNodeKernels } from "../src/node/wasm-select.ts";
import { argmax, benchPrompt } from "./throughput.ts";

/** Milliseconds per token, by part; `total` is the wall time. */
export interface TimeSplit {
  total: number;
  ternary: number;
  quantize: number;
  head: number;
  otherFloat: number;
  attention: number;
  rest: number;
}

export interface EngineProfile {
  decodeSteps: number;
  prefillTokens: number;
  batch: number;
  decode: TimeSplit;
  prefill: TimeSplit;
}

type KernelMs = Pick<TimeSplit, "ternary" | "quantize" | "head" | "otherFloat">;

/** The same backend with every call timed; the head is the float matrix named token_embd or output. */
function timedKernels(inner: Kernels): { kernels: Kernels; ms: KernelMs } {
  const ms: KernelMs = { ternary: 0, quantize: 0, head: 0, otherFloat: 0 };
  const kernels: Kernels = {
    name: inner.name,
    allocWeights: inner.allocWeights?.bind(inner),
    reserve: inner.reserve?.bind(inner),
    close: inner.close?.bind(inner),
    quantizeActivations(x, tokens, cols, mode, out) {
      const t0 = performance.now();
      inner.quantizeActivations(x, tokens, cols, mode, out);
      ms.quantize += performance.now() - t0;
    },
    ternaryMatmul(w, x, out) {
      const t0 = performance.now();
      inner.ternaryMatmul(w, x, out);
      ms.ternary += performance.now() - t0;
    },
    floatMatmul(w, x, tokens, out) {
      const t0 = performance.now();
      inner.floatMatmul(w, x, tokens, out);
      const dt = performance.now() - t0;
      if (w.name.startsWith("token_embd") || w.name.startsWith("output")) ms.head += dt;
      else ms.otherFloat += dt;
    },
  };
  return { kernels, ms };
}

/** Milliseconds of attention alone over every layer, for batches of `T` queries starting at each of `starts` (random K/V: the cost does not depend on the values). */
function attentionMs(cfg: ModelConfig, starts: number[], T: number): number {
  const KV = cfg.nKvHeads * cfg.headDim;
  const ctx = starts[starts.length - 1] + T;
  const keys = new Float32Array(ctx * KV).map(() => Math.random() - 0.5);
  const values = new Float32Array(ctx * KV).map(() => Math.random() - 0.5);
  const q = new Float32Array(T * cfg.dim).map(() => Math.random() - 0.5);
  const out = new Float32Array(T * cfg.dim);
  const scores = new Float32Array(ctx);
  const t0 = performance.now();
  for (const p of starts) for (let l = 0; l < cfg.nLayers; l++) attention(out, q, keys, values, p, T, cfg, scores);
  return performance.now() - t0;
}

function split(totalMs: number, k: KernelMs, attMs: number, tokens: number): TimeSplit {
  const per = (x: number) => x / tokens;
  const s: TimeSplit = { total: per(totalMs), ternary: per(k.ternary), quantize: per(k.quantize), head: per(k.head), otherFloat: per(k.otherFloat), attention: per(attMs), rest: 0 };
  s.rest = Math.max(0, s.total - s.ternary - s.quantize - s.head - s.otherFloat - s.attention);
  return s;
}

/**
 * Decodes `decodeSteps` greedy tokens after a 16-token prompt, then prefills `prefillTokens` from an
 * empty context in batches of `batch`, and splits each one's time per token.
 */
export async function profileEngine(path: string, o: { threads: number; decodeSteps: number; prefillTokens: number; batch: number }): Promise<EngineProfile> {
  const inner = await selectNodeKernels({ threads: o.threads });
  const timed = timedKernels(inner);
  const zero = () => {
    for (const k of Object.keys(timed.ms) as (keyof KernelMs)[]) timed.ms[k] = 0;
  };
  const promptLength = 16;
  const model = await loadModel(path, { kernels: timed.kernels, contextLength: Math.max(promptLength + o.decodeSteps, o.prefillTokens) + 1, batchSize: o.batch });
  try {
    const cfg = model.config;
    let next = argmax(model.evaluate(benchPrompt(promptLength, cfg.vocabSize)));
    zero();
    const t0 = performance.now();
    for (let i = 0; i < o.decodeSteps; i++) next = argmax(model.step(next));
    const decodeMs = performance.now() - t0;
    const decodeKernels = { ...timed.ms };
    const decodeAtt = attentionMs(cfg, Array.from({ length: o.decodeSteps }, (_, i) => promptLength + i), 1);

    model.reset();
    zero();
    const t1 = performance.now();
    model.evaluate(benchPrompt(o.prefillTokens, cfg.vocabSize));
    const prefillMs = performance.now() - t1;
    const prefillKernels = { ...timed.ms };
    let prefillAtt = 0;
    for (let p = 0; p < o.prefillTokens; p += o.batch) prefillAtt += attentionMs(cfg, [p], Math.min(o.batch, o.prefillTokens - p));

    return {
      decodeSteps: o.decodeSteps,
      prefillTokens: o.prefillTokens,
      batch: o.batch,
      decode: split(decodeMs, decodeKernels, decodeAtt, o.decodeSteps),
      prefill: split(prefillMs, prefillKernels, prefillAtt, o.prefillTokens),
    };
  } finally {
    await model.dispose();
    await inner.close?.();
  }
}

// Run by hand: node --import tsx bench/profile.ts FILE [--threads N] [--steps N] [--prefill N] [--batch N]
if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const { parseArgs } = await import("node:util");
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { threads: { type: "string", default: "1" }, steps: { type: "string", default: "32" }, prefill: { type: "string", default: "512" }, batch: { type: "string", default: "256" } },
  });
  if (!positionals[0]) throw new Error("profile: no model file given");
  const p = await profileEngine(positionals[0], { threads: Number(values.threads), decodeSteps: Number(values.steps), prefillTokens: Number(values.prefill), batch: Number(values.batch) });
  console.log(JSON.stringify(p, null, 2));
}
