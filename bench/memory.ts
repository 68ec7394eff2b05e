/**
 * Peak memory while generating, against the engine's budget: 1.15 × the GGUF file + the KV cache + 64 MB.
 * Writes a random-weight model of the requested shape (default: 2B4T's layer shapes with a small vocab),
 * then runs generation in a child process so that its peak RSS (maxRSS) is the engine's alone.
 *
 *   node --import tsx bench/memory.ts [--layers 30] [--vocab 1024] [--type tq2_0] [--tokens 4] [--ctx 512]
 */
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeGGUF } from "../src/formats/gguf/writer.ts";
import { syntheticModel, type SyntheticLinearType } from "../src/model/synthetic.ts";
import { atomicFileSink } from "../src/node/atomic-file-sink.ts";
import { peakRssBytes } from "../src/node/model-probe.ts";

const { values: a } = parseArgs({
  options: {
    layers: { type: "string", default: "30" },
    vocab: { type: "string", default: "1024" },
    type: { type: "string", default: "tq2_0" },
    tokens: { type: "string", default: "4" },
    ctx: { type: "string", default: "512" },
    child: { type: "string" },
  },
});

if (a.child) {
  // Child: load, generate, report.
  const { loadModel } = await import("../src/index.ts");
  const model = await loadModel(a.child, { contextLength: Number(a.ctx) });
  let n = 0;
  for await (const p of model.generate([1, 300, 301, 302], { temperature: 0, maxTokens: Number(a.tokens), ignoreEos: true })) if (p.token >= 0) n++;
  process.stdout.write(JSON.stringify({ maxRssBytes: peakRssBytes(), kvCacheBytes: model.kvCacheBytes, generated: n }));
  await model.dispose();
} else {
  const layers = Number(a.layers);
  const vocab = Number(a.vocab);
  const type = a.type as SyntheticLinearType;
  const path = join(tmpdir(), `bitnet-mem-${type}-${layers}l-${vocab}v.gguf`);
  if (!existsSync(path)) {
    process.stderr.write(`writing ${path}\n`);
    const m = syntheticModel({ architecture: "bitnet-b1.58", dim: 2560, ffnDim: 6912, nLayers: layers, nHeads: 20, nKvHeads: 5, vocabSize: vocab, linearType: type, embeddingType: "f16", seed: 1 });
    await writeGGUF(await atomicFileSink(path), m.header, m.data);
  }
  const fileBytes = statSync(path).size;
  const r = spawnSync(process.execPath, ["--import", "tsx", new URL(import.meta.url).pathname, "--child", path, "--ctx", a.ctx as string, "--tokens", a.tokens as string], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  const { maxRssBytes, kvCacheBytes, generated } = JSON.parse(r.stdout) as { maxRssBytes: number; kvCacheBytes: number; generated: number };
  const budget = 1.15 * fileBytes + kvCacheBytes + 64 * 2 ** 20;
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  console.log(`file ${mb(fileBytes)}, KV cache ${mb(kvCacheBytes)} (ctx ${a.ctx}), generated ${generated} tokens`);
  console.log(`peak RSS ${mb(maxRssBytes)}; budget ${mb(budget)} (1.15 × file + KV + 64 MiB): ${maxRssBytes <= budget ? "within" : "OVER"} (${((maxRssBytes / budget) * 100).toFixed(1)}%)`);
}
