/**
 * The largest ternary model wasm32 can hold: a random-weight model shaped like Llama3-8B-1.58 (the
 * `llama` architecture llama.cpp runs for it: hidden 4096, FFN 14336, 32 layers, 32/8 heads,
 * vocab 128256, TQ2_0 linear weights, separate F16 embedding and output head), about 3.6 GiB.
 * It checks that such a file loads into one WebAssembly.Memory under the 4 GiB limit, how long the
 * load takes and how much memory the process peaks at, decode speed, and that llama.cpp, run on
 * the same file, chooses the same greedy tokens (activations quantized like llama.cpp's Q8_K).
 *
 *   node --import tsx bench/big-model.ts [--threads N] [--layers L] [--tokens N] [--no-llamacpp]
 *
 * The file is written once under os.tmpdir() (several minutes) and reused. A benchmark, not a test.
 */
import { parseArgs } from "node:util";
import { cpus } from "node:os";
import { statSync } from "node:fs";
import { loadModel } from "../src/index.ts";
import type { SyntheticSpec } from "../src/model/synthetic.ts";
import { ensureModel } from "./models.ts";
import { disposeLlamaCpp, llamaCppGreedy } from "../test/helpers/llamacpp.ts";
import { argmax, benchPrompt, closeLlamaCpp, openLlamaCpp } from "../src/node/bench/throughput.ts";
import { peakRssBytes } from "../src/node/model-probe.ts";

const { values: args } = parseArgs({
  options: {
    threads: { type: "string", default: String(cpus().length) },
    layers: { type: "string", default: "32" },
    tokens: { type: "string", default: "16" },
    "no-llamacpp": { type: "boolean", default: false },
  },
});
const threads = Number(args.threads);
const steps = Number(args.tokens);

const spec: SyntheticSpec = {
  architecture: "llama",
  dim: 4096,
  ffnDim: 14336,
  nLayers: Number(args.layers),
  nHeads: 32,
  nKvHeads: 8,
  vocabSize: 128256,
  contextLength: 8192,
  ropeTheta: 500000,
  linearType: "tq2_0",
  embeddingType: "f16",
  untiedOutput: true,
  seed: 1,
};

const GiB = 2 ** 30;
const path = await ensureModel(spec);
const fileBytes = statSync(path).size;
console.log(`model: ${path}\n  ${(fileBytes / GiB).toFixed(2)} GiB on disk, ${spec.nLayers} layers, TQ2_0 + F16 embedding and head`);

const t0 = performance.now();
const model = await loadModel(path, { threads, contextLength: 256, actQuant: "block256" });
const loadSeconds = (performance.now() - t0) / 1000;
console.log(`loaded in ${loadSeconds.toFixed(1)} s with ${model.backend} ×${threads}`);

const prompt = benchPrompt(16, spec.vocabSize);
const ours: number[] = [];
let next = argmax(model.evaluate(prompt));
ours.push(next);
const t1 = performance.now();
for (let i = 1; i < steps; i++) {
  next = argmax(model.step(next));
  ours.push(next);
}
const decodeSeconds = (performance.now() - t1) / 1000;
const rss = peakRssBytes();
console.log(`decode: ${((steps - 1) / decodeSeconds).toFixed(2)} tok/s over ${steps - 1} steps`);
console.log(`peak RSS ${(rss / GiB).toFixed(2)} GiB (file ${(fileBytes / GiB).toFixed(2)} GiB, KV cache ${(model.kvCacheBytes / 2 ** 20).toFixed(0)} MiB)`);
await model.dispose();

if (!args["no-llamacpp"]) {
  const reference = await llamaCppGreedy(path, prompt, steps, { threads, contextSize: 256, kvCacheType: "F32" });
  let agree = 0;
  while (agree < steps && reference.tokens[agree] === ours[agree]) agree++;
  console.log(`greedy tokens: ours ${ours.join(",")}`);
  console.log(`           llama.cpp ${reference.tokens.join(",")} (first ${agree}/${steps} identical)`);
  await disposeLlamaCpp();
  const llama = await openLlamaCpp(path, { threads, contextLength: 256, batchSize: 256 });
  if (typeof llama === "string") console.log(`llama.cpp: ${llama}`);
  else {
    const timing = await llama.decode(prompt, steps - 1);
    console.log(`${llama.label} decode: ${(timing.tokens / timing.seconds).toFixed(2)} tok/s`);
    await llama.dispose();
  }
  await closeLlamaCpp();
}
