/**
 * What the export tests share: a small byte-level BPE vocabulary learned here (GPT-2's byte-to-unicode table and
 * split regex written out again, independent of src/tokenizer), its reference encoder (the "trainer-side ids"),
 * a tiny model trained for a few dozen steps with the training math API on that encoding, and a reference copy
 * of a ParamSet whose absmean γ equals what a given file type stores (fp16 for TQ), so that the training
 * forward can be compared with an exported file without the fp16 rounding of γ in between.
 */

import { createActivations } from "../../src/train/acts.ts";
import { adamwStep, createAdamW } from "../../src/train/adamw.ts";
import { clipGradNorm } from "../../src/train/clip.ts";
import type { TrainConfig } from "../../src/train/config.ts";
import { storedGamma, type ExportType } from "../../src/train/export-gguf.ts";
import type { TrainedTokenizer } from "../../src/train/export-tokenizer.ts";
import { backward, forward } from "../../src/train/model.ts";
import { createParamSet, initParams, zeroGrads, type ParamSet } from "../../src/train/params.ts";
import { scheduleAt } from "../../src/train/schedule.ts";
import { absmeanGamma, quantizeAbsmean } from "../../src/quant/absmean.ts";

export const CORPUS = "the cat sat on the mat. the dog ran to the log. a cat and a dog met, and that's the end; isn't it? ";

/** GPT-2's bytes_to_unicode. */
export const BYTE_CHARS: readonly string[] = (() => {
  const chars: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const kept = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    chars.push(String.fromCodePoint(kept ? b : 256 + extra++));
  }
  return chars;
})();

export function byteLevel(text: string): string {
  return Array.from(new TextEncoder().encode(text), (b) => BYTE_CHARS[b]).join("");
}

/** GPT-2's split regex (ASCII test strings only: JavaScript's \s differs from llama.cpp's in a few code points). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface TestVocab extends TrainedTokenizer {
  ids: Map<string, number>;
  ranks: Map<string, number>;
}

/** 256 byte symbols, then one token per learned merge (most frequent pair first), then bos and eos. */
export function trainTestBpe(corpus: string, mergeCount: number): TestVocab {
  const words = (corpus.match(GPT2_SPLIT) ?? []).map((w) => [...byteLevel(w)]);
  const tokens = [...BYTE_CHARS];
  const merges: string[] = [];
  for (let m = 0; m < mergeCount; m++) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]} ${w[i + 1]}`, (counts.get(`${w[i]} ${w[i + 1]}`) ?? 0) + 1);
    let best = "";
    let bestCount = 0;
    for (const [k, n] of counts) if (n > bestCount || (n === bestCount && k < best)) [best, bestCount] = [k, n];
    if (bestCount < 2) break;
    const [a, b] = best.split(" ");
    merges.push(best);
    if (!tokens.includes(a + b)) tokens.push(a + b); // two merges can spell the same token
    for (const w of words) {
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
    }
  }
  tokens.push("<|begin_of_text|>", "<|end_of_text|>");
  return {
    tokens, merges, bos: tokens.length - 2, eos: tokens.length - 1, pre: "gpt-2",
    ids: new Map(tokens.map((t, i) => [t, i])),
    ranks: new Map(merges.map((m, i) => [m, i])),
  };
}

/** Textbook BPE: split with the regex, spell each word in byte symbols, merge the best-ranked pair until none. */
export function encodeReference(v: TestVocab, text: string): number[] {
  const out: number[] = [];
  for (const word of text.match(GPT2_SPLIT) ?? []) {
    const s = [...byteLevel(word)];
    for (;;) {
      let at = -1;
      let rank = Infinity;
      for (let i = 0; i + 1 < s.length; i++) {
        const r = v.ranks.get(`${s[i]} ${s[i + 1]}`);
        if (r !== undefined && r < rank) [at, rank] = [i, r];
      }
      if (at < 0) break;
      s.splice(at, 2, s[at] + s[at + 1]);
    }
    for (const piece of s) out.push(v.ids.get(piece) as number); // every merge result is a token
  }
  return out;
}

/** The test models' shape: every BitLinear input is 256 wide, so llama.cpp's Q8_K blocks equal BitNet's per-token rule. */
export function testConfig(activation: TrainConfig["activation"], vocabSize: number, weights: TrainConfig["weights"] = "ternary"): TrainConfig {
  return { vocabSize, dim: 256, ffnDim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, seqLen: 64, ropeTheta: 10000, normEps: 1e-5, activation, weights, tiedEmbedding: true };
}

/** AdamW, warm-up 5 then linear decay, clipping at 1, on windows of `ids` starting 7 tokens apart. Deterministic. */
export function trainTiny(c: TrainConfig, ids: readonly number[], opts: { seed: number; steps: number; B: number; T: number; lr: number }): ParamSet {
  const { seed, steps, B, T, lr } = opts;
  const p = createParamSet(c);
  initParams(p, seed);
  const g = createParamSet(c);
  const acts = createActivations(c, B, T);
  const opt = createAdamW(p);
  const inp = new Int32Array(B * T);
  const tgt = new Int32Array(B * T);
  for (let step = 0; step < steps; step++) {
    for (let b = 0; b < B; b++) {
      const start = ((step * B + b) * 7) % (ids.length - T - 1);
      for (let t = 0; t < T; t++) {
        inp[b * T + t] = ids[start + t];
        tgt[b * T + t] = ids[start + t + 1];
      }
    }
    forward(p, acts, inp, tgt, B, T);
    zeroGrads(g);
    backward(p, g, acts, inp, tgt, B, T);
    clipGradNorm(g.data, 1);
    const s = scheduleAt({ kind: "linear", peak: lr, warmup: 5, total: steps, final: lr / 10, weightDecay: 0.01 }, step);
    adamwStep(opt, p.data, g.data, s.lr, s.weightDecay);
  }
  return p;
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

import { argmax } from "../../src/generate/sampler.ts";
export { argmax };

/** Largest minus second largest. */
export function margin(v: ArrayLike<number>): number {
  const top = argmax(v);
  let second = -Infinity;
  for (let i = 0; i < v.length; i++) if (i !== top && v[i] > second) second = v[i];
  return v[top] - second;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
