/**
 * Where a continuous-batching step's time goes: S sequences, each after its own 8-token prompt, decode
 * together (every step carries one token of each, as `bitnet serve` batches them), on the 2B4T-shaped
 * TQ2_0 model of `npm run bench`. Prints, per S, the step's wall time, the aggregate tok/s and its split
 * by kernel (bench/profile.ts's timed kernels; `rest` is the scheduler and JavaScript outside them).
 * A script to run by hand on a quiet machine, not a test.
 *
 *   node --import tsx bench/batch-step.ts [--sequences 1,2,4,8] [--steps 16] [--threads 2]
 *     [--backend native|wasm] [--head-type keep|q8_0]
 */
import { parseArgs } from "node:util";
import { loadModel } from "../src/index.ts";
import { createNodeKernels } from "../src/node/kernels.ts";
import { timedKernels } from "./profile.ts";
import { benchSpec, ensureModel } from "./models.ts";

const { values: args } = parseArgs({
  options: {
    sequences: { type: "string", default: "1,2,4,8" },
    steps: { type: "string", default: "16" },
    threads: { type: "string", default: "2" },
    backend: { type: "string", default: "native" },
    "head-type": { type: "string", default: "keep" },
  },
});
const backend = args.backend;
if (backend !== "native" && backend !== "wasm") throw new Error(`--backend: native or wasm, got ${backend}`);
const headType = args["head-type"];
if (headType !== "keep" && headType !== "q8_0") throw new Error(`--head-type: keep or q8_0, got ${headType}`);
const steps = Number(args.steps);

const path = await ensureModel(benchSpec({ layers: 30, vocab: 128256 }, "tq2_0"));
const { kernels: inner } = await createNodeKernels({ threads: Number(args.threads), backend });
const timed = timedKernels(inner);
process.stdout.write(`${path}, ${inner.name} ×${args.threads}, head ${headType}, ${steps} steps per batch size\n`);
process.stdout.write("| sequences | step ms | tok/s | ternary | head | attention | norms | pointwise | rest |\n|---|---|---|---|---|---|---|---|---|\n");
for (const S of args.sequences.split(",").map(Number)) {
  const model = await loadModel(path, { kernels: timed.kernels, contextLength: 64, batchSize: 64, parallel: S, headType });
  try {
    const seqs = await Promise.all(Array.from({ length: S }, () => model.createSequence()));
    await Promise.all(seqs.map((s, i) => s.evaluate([1, 100 + i, 200 + i, 300 + i, 400 + i, 17, 19, 23])));
    // each sequence's logits into a buffer of its own, as generation does (no allocation per step)
    const into = seqs.map(() => new Float32Array(model.config.vocabSize));
    await Promise.all(seqs.map((s, i) => s.step(500 + i, { into: into[i] }))); // warm-up step
    for (const k of Object.keys(timed.ms) as (keyof typeof timed.ms)[]) timed.ms[k] = 0;
    const t0 = performance.now();
    for (let j = 0; j < steps; j++) await Promise.all(seqs.map((s, i) => s.step(600 + 7 * i + j, { into: into[i] })));
    const ms = (performance.now() - t0) / steps;
    const m = timed.ms;
    const per = (x: number) => (x / steps).toFixed(1);
    const rest = ms - (m.ternary + m.quantize + m.head + m.otherFloat + m.attention + m.norm + m.pointwise) / steps;
    process.stdout.write(`| ${S} | ${ms.toFixed(1)} | ${((S * 1000) / ms).toFixed(1)} | ${per(m.ternary + m.quantize)} | ${per(m.head)} | ${per(m.attention)} | ${per(m.norm)} | ${per(m.pointwise + m.otherFloat)} | ${rest.toFixed(1)} |\n`);
    for (const s of seqs) s.dispose();
  } finally {
    await model.dispose();
  }
}
await inner.close?.();
