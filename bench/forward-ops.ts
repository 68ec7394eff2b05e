/**
 * The forward pass's non-matmul ops in wasm against the same ops in TypeScript, side by side in one
 * process: two copies of one model, one on the full wasm backend ("wasm ops": RMSNorm + quantization,
 * RoPE, attention, activations in wasm, run state and KV cache in wasm memory), one whose matmuls are
 * the same wasm kernels but whose other ops are the TypeScript reference, with the run state in ordinary
 * arrays ("TS ops", the engine before these kernels). Rounds alternate between the two; medians.
 *
 *   node --import tsx bench/forward-ops.ts [--layers N] [--prefill N] [--decode N] [--rounds N] [--kv f32|f16] [--llama]
 *
 * The model is the 2B4T shape with fewer layers and a small vocabulary (bench/models.ts), one thread.
 * `--llama` adds llama.cpp on the same file (its default F16 KV cache). Both wall time and the
 * process's CPU time are reported: on a shared machine the CPU time moves less with the load. (For
 * llama.cpp's decode only wall time: its decode call cannot be split from its prompt's evaluation.)
 * Not here: the full-size comparison (run.ts), the per-op split (profile.ts).
 */
import { parseArgs } from "node:util";
import { loadavg } from "node:os";
import { refKernels } from "../src/kernels/ref.ts";
import type { Kernels } from "../src/kernels/types.ts";
import { createWasmKernels } from "../src/kernels/wasm/kernels.ts";
import { loadModel } from "../src/index.ts";
import type { KVCacheType } from "../src/model/kv-cache.ts";
import { benchSpec, ensureModel } from "./models.ts";
import { median } from "../src/node/bench/stats.ts";
import { argmax, benchPrompt, closeLlamaCpp, openLlamaCpp, type Engine } from "../src/node/bench/throughput.ts";

const { values } = parseArgs({
  options: {
    layers: { type: "string", default: "4" },
    prefill: { type: "string", default: "512" },
    decode: { type: "string", default: "32" },
    rounds: { type: "string", default: "3" },
    kv: { type: "string", default: "f32" },
    llama: { type: "boolean", default: false },
  },
});
const LAYERS = Number(values.layers);
const PREFILL = Number(values.prefill);
const DECODE = Number(values.decode);
const ROUNDS = Number(values.rounds);
const KV = values.kv as KVCacheType;

/** Matmuls from `fast`, everything else from the TypeScript reference, and no memory for the run state. */
function tsOps(fast: Kernels): Kernels {
  return {
    ...refKernels,
    name: `${fast.name} matmuls + TS ops`,
    allocWeights: fast.allocWeights?.bind(fast),
    reserve: fast.reserve?.bind(fast),
    ternaryMatmul: fast.ternaryMatmul.bind(fast),
    floatMatmul: fast.floatMatmul.bind(fast),
  };
}

interface Times {
  wall: number;
  /** NaN where it cannot be separated (llama.cpp's decode steps from its prompt). */
  cpu: number;
}

/** Wall time and this process's CPU time (every thread: llama.cpp computes on threads of its own) of an async call. */
async function measure<R>(f: () => Promise<R>): Promise<Times & { result: R }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await f();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, result };
}

interface Timed {
  label: string;
  prefill(prompt: number[]): Promise<Times>;
  /** `steps` greedy steps after `prompt`; only the steps are timed. */
  decode(prompt: number[], steps: number): Promise<Times>;
  dispose(): Promise<void>;
}

async function ours(label: string, path: string, kernels: Kernels, contextLength: number): Promise<Timed> {
  const model = await loadModel(path, { kernels, contextLength, batchSize: 256, kvCacheType: KV });
  return {
    label,
    async prefill(prompt) {
      model.reset();
      return measure(async () => argmax(model.evaluate(prompt)));
    },
    async decode(prompt, steps) {
      model.reset();
      let next = argmax(model.evaluate(prompt));
      return measure(async () => {
        for (let i = 0; i < steps; i++) next = argmax(model.step(next));
      });
    },
    dispose: () => model.dispose(),
  };
}

function timedLlama(e: Engine): Timed {
  return {
    label: e.label,
    prefill: (prompt) => measure(() => e.prefill(prompt)),
    async decode(prompt, steps) {
      return { wall: (await e.decode(prompt, steps)).seconds, cpu: NaN };
    },
    dispose: () => e.dispose(),
  };
}

const path = await ensureModel(benchSpec({ layers: LAYERS, vocab: 1024 }, "tq2_0"));
const ctx = PREFILL + DECODE + 16;
const engines: Timed[] = [
  await ours("wasm ops", path, await createWasmKernels({ simd: "relaxed", shared: true }), ctx),
  await ours("TS ops", path, tsOps(await createWasmKernels({ simd: "relaxed", shared: true })), ctx),
];
if (values.llama) {
  const llama = await openLlamaCpp(path, { threads: 1, contextLength: ctx, batchSize: 256 });
  if (typeof llama === "string") process.stderr.write(`llama.cpp skipped: ${llama}\n`);
  else engines.push(timedLlama(llama));
}
const prompt = benchPrompt(PREFILL, 1024);
const results = engines.map(() => ({ prefill: [] as Times[], decodeShort: [] as Times[], decodeLong: [] as Times[] }));

process.stderr.write(`model: ${path} (${LAYERS} layers), KV ${KV}, load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}\n`);
for (let r = 0; r <= ROUNDS; r++) {
  for (const [i, e] of engines.entries()) {
    const p = await e.prefill(prompt);
    const short = await e.decode(prompt.slice(0, 16), DECODE);
    const long = await e.decode(prompt, DECODE);
    if (r === 0) continue; // warm-up
    results[i].prefill.push(p);
    results[i].decodeShort.push(short);
    results[i].decodeLong.push(long);
  }
  process.stderr.write(`round ${r}/${ROUNDS} done\n`);
}

const rate = (tokens: number, ts: Times[], key: keyof Times) => tokens / median(ts.map((t) => t[key]));
console.log(`| engine | prefill ${PREFILL} tok/s (wall / CPU) | decode after 16 | decode after ${PREFILL} |`);
console.log("|---|---|---|---|");
for (const [i, e] of engines.entries()) {
  const res = results[i];
  const cell = (tokens: number, ts: Times[]) => `${rate(tokens, ts, "wall").toFixed(1)} / ${Number.isNaN(ts[0].cpu) ? "—" : rate(tokens, ts, "cpu").toFixed(1)}`;
  console.log(`| ${e.label} | ${cell(PREFILL, res.prefill)} | ${cell(DECODE, res.decodeShort)} | ${cell(DECODE, res.decodeLong)} |`);
}
process.stderr.write(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(" ")}\n`);
for (const e of engines) await e.dispose();
await closeLlamaCpp();
