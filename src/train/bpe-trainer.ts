/**
 * Trains a byte-level BPE vocabulary (GPT-2 style) on plain text, for the models `bitnet train` makes.
 *
 * The text is cut into words with the pre-tokenizer that `tokenizer.ggml.pre = "gpt-2"` names (the same
 * regex our tokenizer and llama.cpp apply for that value, taken from src/tokenizer/pretokenize.ts so the
 * two cannot drift apart), each word is spelled in GPT-2's byte alphabet, and the most frequent adjacent
 * pair of symbols is merged until the vocabulary is full. Word frequencies are counted once; pair counts
 * are updated incrementally, touching only the words that contain the merged pair, and the best pair
 * comes from a heap with lazy deletion.
 *
 * Determinism: the best pair is the one with the highest count; ties go to the pair whose left id is
 * smallest, then whose right id is smallest (ids are assigned in a fixed order, so the whole vocabulary
 * is a function of the text and the options).
 *
 * Vocabulary layout: ids 0–255 are the 256 bytes in byte order (their GPT-2 spellings), then one id per
 * new merged string in merge order, then `<|begin_of_text|>` (bos) and `<|end_of_text|>` (eos).
 *
 * `encodeWithMerges` is the trainer's own segmentation (the classic "merge the lowest-ranked pair
 * everywhere, repeat" loop). It is independent of src/tokenizer/bpe.ts, which tests compare it with.
 * This file does not write GGUF files (export-gguf.ts does) and does not tokenize corpora for training
 * (data.ts does, through the real tokenizer).
 */

import { bytesToByteLevel, byteToByteLevelChar } from "../tokenizer/byte-level.ts";
import { MinHeap } from "../tokenizer/heap.ts";
import { preTokenizerFor, splitWords } from "../tokenizer/pretokenize.ts";
import { utf8Encode } from "../tokenizer/utf8.ts";

/** The `tokenizer.ggml.pre` value whose regex the vocabulary is trained with (llama.cpp v0.5.0 knows it too). */
export const BPE_PRE_TOKENIZER = "gpt-2";
export const BOS_TEXT = "<|begin_of_text|>";
export const EOS_TEXT = "<|end_of_text|>";

export interface BpeVocabulary {
  /** Token strings: bytes in the GPT-2 byte alphabet (ids 0–255), merged strings, then bos and eos. */
  tokens: string[];
  /** Merge rules "left right", in rank order. */
  merges: string[];
  bos: number;
  eos: number;
}

export interface BpeTrainOptions {
  /** Total vocabulary size including the 256 byte tokens and the 2 special tokens. */
  vocabSize: number;
  /** Stop merging when the best pair occurs fewer times than this (default 2). */
  minFrequency?: number;
}

const SPECIAL_COUNT = 2;
/** Pair key: left · 2^20 + right, exact in a double for ids below 2^20. */
const KEY_BASE = 1 << 20;

function gpt2Regexes(): readonly RegExp[] {
  return preTokenizerFor(BPE_PRE_TOKENIZER, "bpe trainer").regexes;
}

/** Frequency of every pre-tokenizer word of `texts`, spelled in the byte alphabet. */
export function countWords(texts: Iterable<string>): Map<string, number> {
  const regexes = gpt2Regexes();
  const raw = new Map<string, number>();
  for (const text of texts) {
    for (const w of splitWords(text, regexes)) raw.set(w, (raw.get(w) ?? 0) + 1);
  }
  const spelled = new Map<string, number>();
  for (const [w, n] of raw) {
    const s = bytesToByteLevel(utf8Encode(w));
    spelled.set(s, (spelled.get(s) ?? 0) + n);
  }
  return spelled;
}

interface HeapEntry {
  count: number;
  key: number;
}

const better = (a: HeapEntry, b: HeapEntry): boolean => a.count > b.count || (a.count === b.count && a.key < b.key);

export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): BpeVocabulary {
  const { vocabSize } = options;
  const minFrequency = options.minFrequency ?? 2;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + SPECIAL_COUNT || vocabSize >= KEY_BASE) {
    throw new Error(`bpe trainer: vocabSize must be an integer in [${256 + SPECIAL_COUNT}, ${KEY_BASE}), got ${vocabSize}`);
  }
  const tokens: string[] = [];
  const idOf = new Map<string, number>();
  for (let b = 0; b < 256; b++) {
    tokens.push(byteToByteLevelChar(b));
    idOf.set(tokens[b], b);
  }

  // Unique words as symbol-id arrays, with their frequencies.
  const wordCounts = countWords(texts);
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, n] of wordCounts) {
    const syms: number[] = [];
    for (let i = 0; i < w.length; i++) syms.push(idOf.get(w[i]) as number); // every char of a byte-level word is a byte token
    words.push(syms);
    freqs.push(n);
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const changed = new Set<number>();
  const addPairs = (wi: number, sign: number): void => {
    const syms = words[wi];
    const f = freqs[wi] * sign;
    for (let i = 0; i + 1 < syms.length; i++) {
      const key = syms[i] * KEY_BASE + syms[i + 1];
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + f);
      changed.add(key);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (set === undefined) pairWords.set(key, (set = new Set()));
        set.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);

  const heap = new MinHeap<HeapEntry>(better);
  const flushChanged = (): void => {
    for (const key of changed) {
      const count = pairCounts.get(key) ?? 0;
      if (count > 0) heap.push({ count, key });
      else {
        pairCounts.delete(key);
        pairWords.delete(key);
      }
    }
    changed.clear();
  };
  flushChanged();

  const merges: string[] = [];
  const target = vocabSize - SPECIAL_COUNT;
  while (tokens.length < target) {
    const top = heap.pop();
    if (top === undefined) break;
    if (pairCounts.get(top.key) !== top.count) continue; // stale: the pair's count changed after this entry was queued
    if (top.count < minFrequency) break;
    const a = Math.floor(top.key / KEY_BASE);
    const b = top.key % KEY_BASE;
    const merged = tokens[a] + tokens[b];
    let c = idOf.get(merged);
    if (c === undefined) {
      c = tokens.length;
      tokens.push(merged);
      idOf.set(merged, c);
    }
    merges.push(`${tokens[a]} ${tokens[b]}`);

    const affected = [...(pairWords.get(top.key) ?? [])];
    for (const wi of affected) {
      const syms = words[wi];
      let has = false;
      for (let i = 0; i + 1 < syms.length && !has; i++) has = syms[i] === a && syms[i + 1] === b;
      if (!has) continue;
      addPairs(wi, -1);
      words[wi] = mergePair(syms, a, b, c);
      addPairs(wi, 1);
    }
    pairCounts.delete(top.key);
    pairWords.delete(top.key);
    changed.delete(top.key);
    flushChanged();
  }

  const bos = tokens.length;
  tokens.push(BOS_TEXT);
  const eos = tokens.length;
  tokens.push(EOS_TEXT);
  return { tokens, merges, bos, eos };
}

/** Replaces every non-overlapping (a, b), scanning left to right, with c. */
function mergePair(syms: readonly number[], a: number, b: number, c: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < syms.length; i++) {
    if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
      out.push(c);
      i++;
    } else out.push(syms[i]);
  }
  return out;
}

/**
 * The trainer's segmentation of `text` (no special tokens, no bos/eos): per word, repeatedly merge
 * every occurrence of the lowest-ranked adjacent pair. Words are cached in `cache` when given.
 */
export function encodeWithMerges(v: BpeVocabulary, text: string, cache = new Map<string, number[]>()): number[] {
  const rank = new Map<string, number>();
  v.merges.forEach((m, i) => {
    if (!rank.has(m)) rank.set(m, i);
  });
  const idOf = new Map<string, number>();
  v.tokens.forEach((t, i) => {
    if (!idOf.has(t)) idOf.set(t, i);
  });
  const out: number[] = [];
  for (const word of splitWords(text, gpt2Regexes())) {
    const spelled = bytesToByteLevel(utf8Encode(word));
    let ids = cache.get(spelled);
    if (ids === undefined) {
      let syms = [...spelled];
      for (;;) {
        let best = -1;
        for (let i = 0; i + 1 < syms.length; i++) {
          const r = rank.get(`${syms[i]} ${syms[i + 1]}`);
          if (r !== undefined && (best < 0 || r < best)) best = r;
        }
        if (best < 0) break;
        const [l, r] = v.merges[best].split(" ");
        const next: string[] = [];
        for (let i = 0; i < syms.length; i++) {
          if (i + 1 < syms.length && syms[i] === l && syms[i + 1] === r) {
            next.push(l + r);
            i++;
          } else next.push(syms[i]);
        }
        syms = next;
      }
      ids = syms.map((s) => {
        const id = idOf.get(s);
        if (id === undefined) throw new Error(`bpe trainer: symbol ${JSON.stringify(s)} has no token (the vocabulary is inconsistent)`);
        return id;
      });
      cache.set(spelled, ids);
    }
    for (const id of ids) out.push(id);
  }
  return out;
}

/**
 * The `tokenizer.*` GGUF metadata of a vocabulary, as the plain object tokenizerFromGGUF takes:
 * model "gpt2", pre "gpt-2", token types (1 normal, 3 control for bos/eos), merges and special ids.
 */
export function bpeMetadata(v: BpeVocabulary): Record<string, unknown> {
  return {
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": BPE_PRE_TOKENIZER,
    "tokenizer.ggml.tokens": v.tokens,
    "tokenizer.ggml.token_type": v.tokens.map((_, i) => (i === v.bos || i === v.eos ? 3 : 1)),
    "tokenizer.ggml.merges": v.merges,
    "tokenizer.ggml.bos_token_id": v.bos,
    "tokenizer.ggml.eos_token_id": v.eos,
  };
}

/** Throws, naming `what`, unless `x` is a well-formed BpeVocabulary (e.g. read back from a checkpoint). */
export function checkBpeVocabulary(x: unknown, what: string): BpeVocabulary {
  const v = x as Partial<BpeVocabulary> | null;
  const strings = (a: unknown): a is string[] => Array.isArray(a) && a.every((s) => typeof s === "string");
  if (v === null || typeof v !== "object" || !strings(v.tokens) || !strings(v.merges)) throw new Error(`${what}: tokenizer is not {tokens, merges, bos, eos}`);
  const n = v.tokens.length;
  for (const k of ["bos", "eos"] as const) {
    const id = v[k];
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= n) throw new Error(`${what}: tokenizer.${k} ${String(id)} is not a token id below ${n}`);
  }
  return v as BpeVocabulary;
}
