// Byte-level BPE tokenization of one text fragment for `gpt2` vocabularies (llama.cpp's
// llm_tokenizer_bpe_session): cut the text into words with the pre-tokenizer regexes, spell each word's UTF-8
// bytes with the GPT-2 byte alphabet, then merge adjacent symbols by merge rank (lowest rank first, ties:
// leftmost) until no listed pair remains. Special tokens were split off before this point.

import { bytesToByteLevel } from "./byte-level.ts";
import { mergeSymbols } from "./merge.ts";
import { splitWords } from "./pretokenize.ts";
import type { PreTokenizer } from "./pretokenize.ts";
import { utf8Encode } from "./utf8.ts";
import { mergeKey } from "./vocab.ts";
import type { Vocab } from "./vocab.ts";

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
    // Symbol i starts at character i (one UTF-16 unit per byte-level character).
    const len = new Int32Array(word.length).fill(1);
    const next = mergeSymbols(len, (left, right) => bpeRanks.get(mergeKey(word.substr(left, len[left]), word.substr(right, len[right]))));

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
