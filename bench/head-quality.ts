/**
 * What an int8 (Q8_0) output head costs in quality: the embedded default model on the KJV validation
 * text, with its head as the file stores it (F32), cast to F16 (`bitnet convert --embedding-type f16`),
 * and quantized to Q8_0 at load (`headType: "q8_0"`). For each: perplexity (exp of the mean token loss),
 * top-1 accuracy against the next token, and top-1 agreement with the F32 head at every position.
 *
 *   node --import tsx bench/head-quality.ts [--model FILE] [--corpus PATH] [--tokens N]
 *
 * The validation text is the trainer's (src/train/data.ts): every 20th chapter, each as BOS, its tokens,
 * EOS; scored in non-overlapping windows of the model's training context (256), as the trainer's
 * evaluation does, over the whole validation stream unless --tokens caps it. A measurement, not a test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { defaultModelPath } from "../src/node/default-model.ts";
import { convertGGUF } from "../src/convert/convert-gguf.ts";
import { readGGUF } from "../src/formats/gguf/reader.ts";
import { loadModel } from "../src/index.ts";
import type { BitNetModel } from "../src/model/model.ts";
import { atomicFileSink } from "../src/node/atomic-file-sink.ts";
import { readCorpus } from "../src/node/corpus-files.ts";
import { openFileSource } from "../src/node/file-source.ts";
import { splitDocuments, splitTrainValidation, tokenStream, validationWindows } from "../src/train/data.ts";

const { values: flags } = parseArgs({
  options: {
    model: { type: "string" },
    corpus: { type: "string", default: new URL("../data/kjv.txt.gz", import.meta.url).pathname },
    tokens: { type: "string", default: "1000000000" },
    "val-fraction": { type: "string", default: "0.05" },
  },
});
const modelPath = flags.model ?? defaultModelPath();
if (!modelPath) throw new Error("no model: pass --model FILE");
const T = 256;

interface Scores {
  label: string;
  nll: number;
  correct: number;
  agree: number;
  n: number;
}

/** log Σ exp(row) − row[target], in float64. */
function tokenLoss(logits: Float32Array, off: number, V: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[off + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[off + v] - max);
  return max + Math.log(sum) - logits[off + target];
}

function argmaxAt(logits: Float32Array, off: number, V: number): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[off + v] > logits[off + best]) best = v;
  return best;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bitnet-head-quality-"));
  try {
    const f16Path = join(dir, "f16-head.gguf");
    const source = await openFileSource(modelPath as string);
    try {
      const file = await readGGUF(source);
      const linear = file.tensors.find((t) => t.name === "blk.0.attn_q.weight");
      await convertGGUF(file, await atomicFileSink(f16Path), { type: linear?.type === 34 ? "tq1_0" : "tq2_0", embeddingType: "f16" });
    } finally {
      await source.close();
    }
    const variants: [string, () => Promise<BitNetModel>][] = [
      ["file's head", () => loadModel(modelPath as string, { contextLength: T, batchSize: T })],
      ["f16 head (converted)", () => loadModel(f16Path, { contextLength: T, batchSize: T })],
      ["q8_0 head (headType)", () => loadModel(modelPath as string, { contextLength: T, batchSize: T, headType: "q8_0" })],
    ];
    const models = await Promise.all(variants.map(([, open]) => open()));
    const first = models[0];
    const headFormat = first.weights.output.kind === "float" ? first.weights.output.format : first.weights.output.format;
    variants[0][0] = `${headFormat} head (as stored)`;

    const { texts } = await readCorpus(flags.corpus);
    const split = splitTrainValidation(splitDocuments(texts), Number(flags["val-fraction"]));
    const bos = first.tokenizer.bos;
    const eos = first.tokenizer.eos;
    if (bos === undefined || eos === undefined) throw new Error(`${modelPath}: the tokenizer has no BOS/EOS`);
    const stream = tokenStream(split.validation, (t) => first.tokenize(t, { addBos: false }), bos, eos);
    const starts = validationWindows(stream.length, T, Number(flags.tokens));
    const V = first.config.vocabSize;
    const scores: Scores[] = variants.map(([label]) => ({ label, nll: 0, correct: 0, agree: 0, n: 0 }));
    const t0 = performance.now();
    for (const [w, s] of starts.entries()) {
      const input = Array.from(stream.subarray(s, s + T));
      const all = models.map((m) => m.allLogits(input));
      for (let t = 0; t < T; t++) {
        const target = stream[s + t + 1];
        const ref = argmaxAt(all[0], t * V, V);
        for (const [i, logits] of all.entries()) {
          const top = argmaxAt(logits, t * V, V);
          scores[i].nll += tokenLoss(logits, t * V, V, target);
          scores[i].correct += top === target ? 1 : 0;
          scores[i].agree += top === ref ? 1 : 0;
          scores[i].n++;
        }
      }
      process.stderr.write(`window ${w + 1}/${starts.length}\r`);
    }
    process.stderr.write("\n");
    console.log(`${modelPath}: ${split.validation.length} validation ${split.unit}, ${stream.length} tokens; ${starts.length} windows of ${T} = ${starts.length * T} scored tokens (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
    console.log("| head | loss (nats/token) | perplexity | top-1 accuracy | top-1 agreement with the stored head |");
    console.log("|---|---|---|---|---|");
    for (const s of scores) {
      const loss = s.nll / s.n;
      console.log(`| ${s.label} | ${loss.toFixed(5)} | ${Math.exp(loss).toFixed(3)} | ${((100 * s.correct) / s.n).toFixed(2)}% | ${((100 * s.agree) / s.n).toFixed(2)}% |`);
    }
    await Promise.all(models.map((m) => m.dispose()));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
