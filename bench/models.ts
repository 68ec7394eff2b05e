/**
 * Random-weight GGUF models for the benchmarks, written once and cached under os.tmpdir(): writing a
 * 30-layer 2B4T-shaped model in JavaScript takes minutes, so every later run reuses the file. The file
 * name carries the shape and a hash of the whole spec, so a different spec never picks up a stale file.
 * These files are never committed. Not here: what is measured on them (throughput.ts, run.ts).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeGGUF } from "../src/formats/gguf/writer.ts";
import { syntheticModel, type SyntheticLinearType, type SyntheticSpec } from "../src/model/synthetic.ts";
import { atomicFileSink } from "../src/node/atomic-file-sink.ts";

/** Bumped when the generator's output changes in a way that matters to a benchmark. */
const GENERATOR_VERSION = 1;

export interface BenchShape {
  layers: number;
  vocab: number;
}

/**
 * BitNet b1.58 2B4T's shape (hidden 2560, ffn 6912, 20/5 heads) with a tied F16 embedding, in the
 * "bitnet" architecture (SiLU): the one llama.cpp runs, so both engines read the same file.
 */
export function benchSpec(shape: BenchShape, linearType: SyntheticLinearType): SyntheticSpec {
  return {
    architecture: "bitnet",
    dim: 2560,
    ffnDim: 6912,
    nLayers: shape.layers,
    nHeads: 20,
    nKvHeads: 5,
    vocabSize: shape.vocab,
    contextLength: 4096,
    linearType,
    embeddingType: "f16",
    seed: 1,
  };
}

export function cachedModelPath(spec: SyntheticSpec): string {
  const hash = createHash("sha256").update(JSON.stringify({ GENERATOR_VERSION, spec })).digest("hex").slice(0, 10);
  return join(tmpdir(), `bitnet-bench-${spec.architecture}-${spec.linearType}-${spec.nLayers}l-${spec.vocabSize}v-${hash}.gguf`);
}

/** The model's path, writing it first if no cached copy exists. Progress goes to stderr. */
export async function ensureModel(spec: SyntheticSpec): Promise<string> {
  const path = cachedModelPath(spec);
  if (existsSync(path)) return path;
  const t0 = performance.now();
  process.stderr.write(`writing ${path} (once; later runs reuse it)\n`);
  const m = syntheticModel(spec);
  await writeGGUF(await atomicFileSink(path), m.header, m.data, (p) => {
    process.stderr.write(`  ${p.index + 1}/${p.count} tensors, ${(p.bytesWritten / 2 ** 20).toFixed(0)}/${(p.totalBytes / 2 ** 20).toFixed(0)} MiB\r`);
  });
  process.stderr.write(`\n  written in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  return path;
}
