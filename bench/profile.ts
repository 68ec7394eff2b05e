/**
 * Where our engine's time goes, for a decode step and for prefill: ternary matmuls, activation
 * quantization, the output head, other float matmuls, attention, and the rest (norms, RoPE, residuals,
 * embedding rows, JS glue), with the rest's kernel calls broken out. Every op is a call on the kernel
 * backend, so each is timed through a wrapper around the backend the engine would pick.
 * Not here: throughput figures (throughput.ts).
 */
import type { Kernels } from "../src/kernels/types.ts";
import { loadModel } from "../src/index.ts";
import { createNodeKernels } from "../src/node/kernels.ts";
import { argmax, benchPrompt } from "../src/node/bench/throughput.ts";

/** Milliseconds per token, by part; `total` is the wall time. */
export interface TimeSplit {
  total: number;
  ternary: number;
  /** Stand-alone activation quantization (the quantization fused into RMSNorm counts under norm). */
  quantize: number;
  head: number;
  otherFloat: number;
  attention: number;
  /** Everything else: the three parts below and the embedding rows, the KV cache writes in F32, JS glue. */
  rest: number;
  /** RMSNorm, alone or fused with quantization (part of rest). */
  norm: number;
  /** RoPE, the gated activation, residual adds, F16 cache writes (part of rest). */
  pointwise: number;
}

export interface EngineProfile {
  /** The kernel backend profiled. */
  backend: string;
  decodeSteps: number;
  prefillTokens: number;
  batch: number;
  decode: TimeSplit;
  prefill: TimeSplit;
}

type KernelMs = Pick<TimeSplit, "ternary" | "quantize" | "head" | "otherFloat" | "attention" | "norm" | "pointwise">;

/** The same backend with every call timed; the head is the float matrix named token_embd or output. */
export function timedKernels(inner: Kernels): { kernels: Kernels; ms: KernelMs } {
  const ms: KernelMs = { ternary: 0, quantize: 0, head: 0, otherFloat: 0, attention: 0, norm: 0, pointwise: 0 };
  const timed = <A extends unknown[]>(part: keyof KernelMs, f: (...args: A) => void) => (...args: A): void => {
    const t0 = performance.now();
    f.apply(inner, args);
    ms[part] += performance.now() - t0;
  };
  const kernels: Kernels = {
    name: inner.name,
    threads: inner.threads,
    allocWeights: inner.allocWeights?.bind(inner),
    reserve: inner.reserve?.bind(inner),
    close: inner.close?.bind(inner),
    allocState: inner.allocState?.bind(inner),
    quantizeActivations: timed("quantize", inner.quantizeActivations),
    ternaryMatmul: timed("ternary", inner.ternaryMatmul),
    ternaryMatmulGroup: inner.ternaryMatmulGroup ? timed("ternary", inner.ternaryMatmulGroup) : undefined,
    floatMatmul(w, x, tokens, out) {
      const t0 = performance.now();
      inner.floatMatmul(w, x, tokens, out);
      const dt = performance.now() - t0;
      if (w.name.startsWith("token_embd") || w.name.startsWith("output")) ms.head += dt;
      else ms.otherFloat += dt;
    },
    embed: timed("pointwise", inner.embed),
    attention: timed("attention", inner.attention),
    rmsnorm: timed("norm", inner.rmsnorm),
    rmsnormQuantize: timed("norm", inner.rmsnormQuantize),
    rope: timed("pointwise", inner.rope),
    gatedActivation: timed("pointwise", inner.gatedActivation),
    addInPlace: timed("pointwise", inner.addInPlace),
    f32ToF16: timed("pointwise", inner.f32ToF16),
  };
  return { kernels, ms };
}

function split(totalMs: number, k: KernelMs, tokens: number): TimeSplit {
  const per = (x: number) => x / tokens;
  const s: TimeSplit = {
    total: per(totalMs), ternary: per(k.ternary), quantize: per(k.quantize), head: per(k.head), otherFloat: per(k.otherFloat),
    attention: per(k.attention), rest: 0, norm: per(k.norm), pointwise: per(k.pointwise),
  };
  s.rest = Math.max(0, s.total - s.ternary - s.quantize - s.head - s.otherFloat - s.attention);
  return s;
}

/**
 * Decodes `decodeSteps` greedy tokens after a 16-token prompt, then prefills `prefillTokens` from an
 * empty context in batches of `batch`, and splits each one's time per token.
 */
export async function profileEngine(path: string, o: { threads: number; decodeSteps: number; prefillTokens: number; batch: number }): Promise<EngineProfile> {
  const { kernels: inner } = await createNodeKernels({ threads: o.threads });
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

    model.reset();
    zero();
    const t1 = performance.now();
    model.evaluate(benchPrompt(o.prefillTokens, cfg.vocabSize));
    const prefillMs = performance.now() - t1;
    const prefillKernels = { ...timed.ms };

    return {
      backend: inner.name,
      decodeSteps: o.decodeSteps,
      prefillTokens: o.prefillTokens,
      batch: o.batch,
      decode: split(decodeMs, decodeKernels, o.decodeSteps),
      prefill: split(prefillMs, prefillKernels, o.prefillTokens),
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
