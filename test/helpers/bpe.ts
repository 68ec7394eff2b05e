/**
 * Byte-level BPE for the tests, written again from the definitions so that no test builds its vocabulary or
 * its expected ids with the code under test (src/tokenizer, src/train/bpe-trainer.ts):
 * - GPT-2's byte-to-unicode alphabet and the spelling of text in it;
 * - a naive trainer that recounts every pair from scratch before each merge (the reference for the library's
 *   incremental trainer, and the maker of the tokenizer and export tests' vocabularies);
 * - the textbook encoder: split into words, spell each in bytes, merge the best-ranked pair until none is left.
 */

/** GPT-2's bytes_to_unicode: the printable Latin-1 bytes stand for themselves, the other 68 map to U+0100 onwards. */
export const BYTE_CHARS: readonly string[] = (() => {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const chars: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCodePoint(keep.includes(b) ? b : 256 + extra++));
  return chars;
})();

/** `text`'s UTF-8 bytes spelled in the byte alphabet. */
export function byteLevel(text: string): string {
  return Array.from(new TextEncoder().encode(text), (b) => BYTE_CHARS[b]).join("");
}

/** GPT-2's split regex (ASCII test strings only: JavaScript's \s differs from llama.cpp's in a few code points). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** How often each word of `text` (cut by the global regex `split`) occurs, keyed by its byte-level spelling. */
export function wordCounts(text: string, split: RegExp): Map<string, number> {
  const counts = new Map<string, number>();
  for (const w of text.match(split) ?? []) {
    const spelled = byteLevel(w);
    counts.set(spelled, (counts.get(spelled) ?? 0) + 1);
  }
  return counts;
}

export interface NaiveBpeOptions {
  /** Stop after this many merges. */
  maxMerges?: number;
  /** Stop when the vocabulary (256 byte symbols, then the merged strings) has this many tokens. */
  maxTokens?: number;
  /** Stop when the most frequent pair occurs fewer times than this (default 1). */
  minCount?: number;
  /**
   * Which of equally frequent pairs wins: the smaller "left right" string, or the smaller left id, then right
   * id (src/train/bpe-trainer.ts's rule; ids are byte order, then merged strings in order of creation).
   */
  tieBreak: "text" | "ids";
}

/**
 * Learns merges from byte-level words with counts: repeatedly the most frequent adjacent pair, recounted from
 * scratch each time, joined left to right in every word. Returns the tokens (256 byte symbols, then each new
 * merged string) and the merges "left right" in rank order.
 */
export function naiveBpe(words: Iterable<readonly [string, number]>, options: NaiveBpeOptions): { tokens: string[]; merges: string[] } {
  const { maxMerges = Infinity, maxTokens = Infinity, minCount = 1, tieBreak } = options;
  const tokens = [...BYTE_CHARS];
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const entries = [...words].map(([w, count]) => ({ symbols: [...w], count }));
  const wins = (key: string, best: string): boolean => {
    if (tieBreak === "text") return key < best;
    const [a, b] = key.split(" ").map((s) => ids.get(s) as number);
    const [c, d] = best.split(" ").map((s) => ids.get(s) as number);
    return a < c || (a === c && b < d);
  };
  const merges: string[] = [];
  while (merges.length < maxMerges && tokens.length < maxTokens) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of entries) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== undefined && wins(key, best))) [best, bestCount] = [key, count];
    }
    if (best === undefined || bestCount < minCount) break;
    const [a, b] = best.split(" ");
    merges.push(best);
    if (!ids.has(a + b)) ids.set(a + b, tokens.push(a + b) - 1); // two merges can spell the same token
    for (const e of entries) {
      const out: string[] = [];
      for (let i = 0; i < e.symbols.length; i++) {
        if (i + 1 < e.symbols.length && e.symbols[i] === a && e.symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(e.symbols[i]);
      }
      e.symbols = out;
    }
  }
  return { tokens, merges };
}

/** Textbook BPE encoding of `text` with a vocabulary whose merge results are all tokens. */
export function encodeBpe(v: { tokens: readonly string[]; merges: readonly string[] }, text: string, split: RegExp): number[] {
  const ids = new Map(v.tokens.map((t, i) => [t, i]));
  const ranks = new Map(v.merges.map((m, i) => [m, i]));
  const out: number[] = [];
  for (const word of text.match(split) ?? []) {
    const s = [...byteLevel(word)];
    for (;;) {
      let at = -1;
      let rank = Infinity;
      for (let i = 0; i + 1 < s.length; i++) {
        const r = ranks.get(`${s[i]} ${s[i + 1]}`);
        if (r !== undefined && r < rank) [at, rank] = [i, r];
      }
      if (at < 0) break;
      s.splice(at, 2, s[at] + s[at + 1]);
    }
    for (const piece of s) out.push(ids.get(piece) as number);
  }
  return out;
}
