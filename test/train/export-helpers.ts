/**
 * What the export tests share: a small byte-level BPE vocabulary learned with the tests' own BPE (test/helpers/bpe.ts,
 * independent of src/tokenizer), its reference encoder (the "trainer-side ids"), a tiny model trained for a few
 * dozen steps with the training math API (tinyrun.ts's loop) on that encoding, and a reference copy
 * of a ParamSet whose absmean γ equals what a given file type stores (fp16 for TQ), so that the training
 * forward can be compared with an exported file without the fp16 rounding of γ in between.
 */

import type { TrainConfig } from "../../src/train/config.ts";
import { storedGamma, type ExportType } from "../../src/train/export-gguf.ts";
import type { TrainedTokenizer } from "../../src/train/export-tokenizer.ts";
import { createParamSet, type ParamSet } from "../../src/train/params.ts";
import { absmeanGamma, quantizeAbsmean } from "../../src/quant/absmean.ts";
import { encodeBpe, GPT2_SPLIT, naiveBpe, wordCounts } from "../helpers/bpe.ts";
import { tinyRun } from "./tinyrun.ts";

export const CORPUS = "the cat sat on the mat. the dog ran to the log. a cat and a dog met, and that's the end; isn't it? ";

/** The vocabulary the export tests train on: byte-level BPE, GPT-2 split, pairs seen at least twice, bos and eos last. */
export function trainTestBpe(corpus: string, mergeCount: number): TrainedTokenizer {
  const { tokens, merges } = naiveBpe(wordCounts(corpus, GPT2_SPLIT), { maxMerges: mergeCount, minCount: 2, tieBreak: "text" });
  tokens.push("<|begin_of_text|>", "<|end_of_text|>");
  return { tokens, merges, bos: tokens.length - 2, eos: tokens.length - 1, pre: "gpt-2" };
}

/** The trainer-side ids of `text`: the textbook encoder, independent of src/tokenizer. */
export function encodeReference(v: TrainedTokenizer, text: string): number[] {
  return encodeBpe(v, text, GPT2_SPLIT);
}

/** The test models' shape: every BitLinear input is 256 wide, so llama.cpp's Q8_K blocks equal BitNet's per-token rule. */
export function testConfig(activation: TrainConfig["activation"], vocabSize: number, weights: TrainConfig["weights"] = "ternary"): TrainConfig {
  return { vocabSize, dim: 256, ffnDim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, seqLen: 64, ropeTheta: 10000, normEps: 1e-5, activation, weights, tiedEmbedding: true };
}

/** tinyRun's AdamW loop (warm-up 5, linear decay, clipping at 1) on windows of `ids` starting 7 tokens apart. Deterministic. */
export function trainTiny(c: TrainConfig, ids: readonly number[], opts: { seed: number; steps: number; B: number; T: number; lr: number }): ParamSet {
  return tinyRun(c, opts, (inp, tgt, step, B, T) => {
    for (let b = 0; b < B; b++) {
      const start = ((step * B + b) * 7) % (ids.length - T - 1);
      for (let t = 0; t < T; t++) {
        inp[b * T + t] = ids[start + t];
        tgt[b * T + t] = ids[start + t + 1];
      }
    }
  }).params;
}

/**
 * A copy of `p` whose every linear weight has the same absmean codes as in `p` and an absmean γ equal to what a
 * `type` file stores (fp16(γ) for TQ): the latent weights are scaled by stored/γ, then the largest one is
 * nudged until the float64-accumulated mean rounds to exactly that value. Throws if a code would change.
 */
export function withStoredGammas(p: ParamSet, type: ExportType): ParamSet {
  const q = createParamSet(p.config, p.data.slice());
  for (const s of p.layout) {
    if (s.kind !== "linear") continue;
    const w = q.data.subarray(s.offset, s.offset + s.size);
    const { codes, gamma } = quantizeAbsmean(p.data.subarray(s.offset, s.offset + s.size));
    const target = storedGamma(gamma, type);
    if (target === gamma) continue;
    for (let i = 0; i < w.length; i++) w[i] *= target / gamma;
    let big = 0;
    for (let i = 1; i < w.length; i++) if (Math.abs(w[i]) > Math.abs(w[big])) big = i;
    for (let round = 0; round < 20 && absmeanGamma(w) !== target; round++) {
      w[big] += Math.sign(w[big]) * (target - absmeanGamma(w)) * w.length;
    }
    const r = quantizeAbsmean(w);
    if (r.gamma !== target) throw new Error(`${s.name}: could not make γ ${target} (got ${r.gamma})`);
    for (let i = 0; i < w.length; i++) if (r.codes[i] !== codes[i]) throw new Error(`${s.name}: rescaling changed code ${i}`);
  }
  return q;
}
