/**
 * One model, one fresh process: load, decode greedily, report peak RSS and decode speed as one JSON
 * line on stdout. A process of its own is the only way to read one model's peak memory (maxRSS never
 * goes down). bench/run.ts spawns it through `runDecodeChild`; it can also be run by hand:
 *
 *   node --import tsx bench/decode-child.ts FILE [--threads N] [--tokens N] [--ref] [--head-type q8_0]
 *
 * `--ref` uses the TypeScript reference kernels: the only backend for a model over wasm32's 4 GiB.
 * `--head-type q8_0` loads the output head as int8 (ModelOptions.headType).
 * Not here: the parent's tables (run.ts).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export interface DecodeChildResult {
  kernels: string;
  maxRssBytes: number;
  kvCacheBytes: number;
  loadSeconds: number;
  decodeTokS: number;
  tokens: number;
}

const PROMPT = 8;

/** Runs this file in a child process on `path` and returns what it reports. */
export function runDecodeChild(path: string, opts: { threads: number; tokens: number; ref?: boolean; headType?: "keep" | "q8_0" }): Promise<DecodeChildResult> {
  const args = ["--import", "tsx", fileURLToPath(import.meta.url), path, "--threads", String(opts.threads), "--tokens", String(opts.tokens), ...(opts.ref ? ["--ref"] : []), ...(opts.headType ? ["--head-type", opts.headType] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`decode child on ${path} exited with ${code}: ${err.trim().split("\n").slice(-3).join(" | ")}`));
      try {
        resolve(JSON.parse(out) as DecodeChildResult);
      } catch {
        reject(new Error(`decode child on ${path} printed no JSON: ${out.slice(0, 200)}`));
      }
    });
  });
}

async function child(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { threads: { type: "string", default: "1" }, tokens: { type: "string", default: "16" }, ref: { type: "boolean", default: false }, "head-type": { type: "string", default: "keep" } },
  });
  const path = positionals[0];
  if (!path) throw new Error("decode-child: no model file given");
  const { loadModel } = await import("../src/index.ts");
  const { refKernels } = await import("../src/kernels/ref.ts");
  const { argmax, benchPrompt } = await import("../src/node/bench/throughput.ts");
  const tokens = Number(values.tokens);
  const t0 = performance.now();
  const headType = values["head-type"] as "keep" | "q8_0";
  const model = await loadModel(path, { threads: Number(values.threads), contextLength: PROMPT + tokens + 1, batchSize: PROMPT, kernels: values.ref ? refKernels : undefined, headType });
  const loadSeconds = (performance.now() - t0) / 1000;
  let next = argmax(model.evaluate(benchPrompt(PROMPT, model.config.vocabSize)));
  const t1 = performance.now();
  for (let i = 0; i < tokens; i++) next = argmax(model.step(next));
  const decodeSeconds = (performance.now() - t1) / 1000;
  const result: DecodeChildResult = {
    kernels: model.backend,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    kvCacheBytes: model.kvCacheBytes,
    loadSeconds,
    decodeTokS: tokens / decodeSeconds,
    tokens,
  };
  await model.dispose();
  process.stdout.write(JSON.stringify(result));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await child();
