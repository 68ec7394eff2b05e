/**
 * The training GEMM backends side by side (JavaScript and WebAssembly SIMD128), run by hand,
 * not a test:
 *   node_modules/.bin/node --import tsx bench/train-gemm.ts [preset] [steps] [rounds]
 * 1. GFLOP/s of the three products at the preset's training shapes (N = batchSize·seqLen tokens), operands
 *    in each backend's memory; 2. trainer tokens/s on synthetic tokens, `steps` per backend per round,
 *    rounds interleaved. Medians; CPU time (process.cpuUsage, one thread) is the honest figure on a
 *    shared machine, wall time is printed beside it.
 */

import { headDim } from "../src/train/config.ts";
import { jsGemm, type Gemm } from "../src/train/matmul.ts";
import { modelConfigOf, resolveRunConfig, runPresets, type RunConfig } from "../src/train/run-config.ts";
import { Trainer } from "../src/train/trainer.ts";
import { createWasmGemm } from "../src/train/wasm-gemm.ts";

const presetName = process.argv[2] ?? "default";
if (!(presetName in runPresets)) throw new Error(`unknown preset ${presetName} (known: ${Object.keys(runPresets).join(", ")})`);
const steps = Number(process.argv[3] ?? 2);
const rounds = Number(process.argv[4] ?? 3);
const config: RunConfig = resolveRunConfig(runPresets[presetName as keyof typeof runPresets], { evalEvery: 0 });

const backends: Gemm[] = [jsGemm, await createWasmGemm()];

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Median CPU milliseconds of f over `reps` runs after one warm-up. */
function timeIt(f: () => void, reps: number): number {
  f();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const c = cpuMs();
    f();
    ts.push(cpuMs() - c);
  }
  return median(ts);
}

const m = modelConfigOf(config);
const N = config.batchSize * config.seqLen;
const KV = m.nKvHeads * headDim(m);
const shapes: [string, number, number][] = [
  ["attn_q/attn_output", m.dim, m.dim], ["attn_k/attn_v", m.dim, KV], ["ffn_gate/ffn_up", m.dim, m.ffnDim],
  ["ffn_down", m.ffnDim, m.dim], ["head (tied)", m.dim, m.vocabSize],
];
console.log(`${presetName}: GEMM GFLOP/s (CPU time) at N = ${N} tokens; forward | backward input | backward weight`);
for (const [name, I, O] of shapes) {
  const cols: string[] = [];
  for (const g of backends) {
    const fill = (n: number): Float32Array => g.alloc(n).map((_, i) => Math.sin(i) * 0.1);
    const inp = fill(N * I), w = fill(O * I), dout = fill(N * O), out = g.alloc(N * O), dinp = g.alloc(N * I), dw = g.alloc(O * I);
    const gflops = (ms: number): string => ((2 * N * I * O) / (ms * 1e6)).toFixed(1);
    const reps = g === jsGemm ? 3 : 7;
    const f = timeIt(() => g.forward(out, inp, w, N, I, O), reps);
    const bi = timeIt(() => g.backwardInput(dinp, dout, w, N, I, O), reps);
    const bw = timeIt(() => g.backwardWeight(dw, dout, inp, N, I, O), reps);
    cols.push(`${g.name} ${gflops(f)} | ${gflops(bi)} | ${gflops(bw)}`);
  }
  console.log(`  ${name.padEnd(18)} [${I}→${O}]  ${cols.join("    ")}`);
}

const V = config.vocabSize;
const tokens = Int32Array.from({ length: 100_000 }, (_, i) => (Math.imul(i, 2654435761) >>> 9) % V);
const data = { train: tokens.subarray(0, 90_000), validation: tokens.subarray(90_000) };
const trainers = backends.map((gemm) => new Trainer(config, data, undefined, { gemm }));
const cpuRates: number[][] = backends.map(() => []);
const wallRates: number[][] = backends.map(() => []);
trainers.forEach((t) => t.trainStep()); // warm-up
for (let r = 0; r < rounds; r++) {
  trainers.forEach((t, i) => {
    for (let s = 0; s < steps; s++) {
      const c = cpuMs();
      const rec = t.trainStep();
      cpuRates[i].push(t.tokensPerStep / ((cpuMs() - c) / 1000));
      wallRates[i].push(rec.tokens_per_s);
    }
  });
}
console.log(`${presetName}: trainer tokens/s, median of ${steps * rounds} steps of ${trainers[0].tokensPerStep} tokens (CPU time / wall)`);
backends.forEach((g, i) => console.log(`  ${g.name.padEnd(18)} ${median(cpuRates[i]).toFixed(0)} / ${median(wallRates[i]).toFixed(0)}`));
