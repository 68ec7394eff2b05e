// Byte-level BPE tokenization of one text fragment for `gpt2` vocabularies (llama.cpp's
// llm_tokenizer_bpe_session): cut the text into words with the pre-tokenizer regexes, spell each word's UTF-8
// bytes with the GPT-2 byte alphabet, then merge adjacent symbols by merge rank (lowest rank first, ties:
// leftmost) until no listed pair remains. Special tokens were split off before this point.

import { bytesToByteLevel } from "./byte-level.ts";
import { MinHeap } from "./heap.ts";
import { splitWords } from "./pretokenize.ts";
import type { PreTokenizer } from "./pretokenize.ts";
import { utf8Encode } from "./utf8.ts";
import { mergeKey } from "./vocab.ts";
import type { Vocab } from "./vocab.ts";

interface Bigram {
  left: number;
  right: number;
  rank: number;
  /** Lengths of both sides when queued; symbols only grow or die, so equal lengths mean the pair is unchanged. */
  leftLen: number;
  rightLen: number;
}

const before = (a: Bigram, b: Bigram): boolean => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

export class BpeTokenizer {
  private readonly vocab: Vocab;
  private readonly pre: PreTokenizer;

  constructor(vocab: Vocab, pre: PreTokenizer) {
    this.vocab = vocab;
    this.pre = pre;
  }

  tokenize(text: string, out: number[]): void {
    for (const word of splitWords(text, this.pre.regexes)) {
      const spelled = bytesToByteLevel(utf8Encode(word));
      const whole = this.pre.ignoreMerges ? this.vocab.idOf.get(spelled) : undefined;
      if (whole !== undefined) out.push(whole);
      else this.mergeWord(spelled, out);
    }
  }

  /** `word` is in the byte-level alphabet, where every character is one UTF-16 unit. */
  private mergeWord(word: string, out: number[]): void {
    const { idOf, bpeRanks } = this.vocab;
    const count = word.length;
    const len = new Int32Array(count).fill(1);
    const prev = new Int32Array(count);
    const next = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < count ? i + 1 : -1;
    }

    const queue = new MinHeap<Bigram>(before);
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const rank = bpeRanks.get(mergeKey(word.substr(left, len[left]), word.substr(right, len[right])));
      if (rank === undefined) return;
      queue.push({ left, right, rank, leftLen: len[left], rightLen: len[right] });
    };
    for (let i = 1; i < count; i++) tryAdd(i - 1, i);

    for (let bigram = queue.pop(); bigram !== undefined; bigram = queue.pop()) {
      const { left, right } = bigram;
      if (len[left] !== bigram.leftLen || len[right] !== bigram.rightLen || len[right] === 0) continue;
      len[left] += len[right];
      len[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      tryAdd(prev[left], left);
      tryAdd(left, next[left]);
    }

    for (let i = 0; i !== -1; i = next[i]) {
      const piece = word.substr(i, len[i]);
      const id = idOf.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // llama.cpp looks each byte of the piece's UTF-8 up as a one-character token; only ASCII can match,
      // and bytes without a token are dropped.
      for (let j = 0; j < piece.length; j++) {
        const code = piece.charCodeAt(j);
        const byteId = code < 0x80 ? idOf.get(piece[j]) : undefined;
        if (byteId !== undefined) out.push(byteId);
      }
    }
  }
}
