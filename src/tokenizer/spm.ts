// SentencePiece-style tokenization of one text fragment for `llama` vocabularies (llama.cpp's
// llm_tokenizer_spm_session): start from single characters, repeatedly merge the adjacent pair whose
// concatenation is the vocabulary token with the highest score (ties: leftmost), and spell any character left
// without a token as its UTF-8 bytes through the <0xXX> byte tokens. The caller has already added the space
// prefix and replaced spaces with "▁"; special tokens were split off before this point.

import { mergeSymbols } from "./merge.ts";
import { utf8Encode } from "./utf8.ts";
import { mergeKey, type Vocab } from "./vocab.ts";

export class SpmTokenizer {
  private readonly vocab: Vocab;
  /** Token for each byte value, or -1 when the vocabulary has none (then unk is used). */
  private readonly byteTokens: Int32Array;

  constructor(vocab: Vocab) {
    this.vocab = vocab;
    this.byteTokens = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      const hex = b.toString(16).toUpperCase().padStart(2, "0");
      const id = vocab.idOf.get(`<0x${hex}>`) ?? (b < 0x80 ? vocab.idOf.get(String.fromCharCode(b)) : undefined);
      if (id !== undefined) this.byteTokens[b] = id;
    }
  }

  tokenize(text: string, out: number[]): void {
    const { idOf, scores } = this.vocab;
    // Symbols are code points of `text`, addressed by UTF-16 start and length.
    const start: number[] = [];
    for (let i = 0; i < text.length; ) {
      start.push(i);
      i += text.codePointAt(i)! > 0xffff ? 2 : 1;
    }
    const count = start.length;
    if (count === 0) return;
    const len = new Int32Array(count);
    for (let i = 0; i < count; i++) len[i] = (i + 1 < count ? start[i + 1] : text.length) - start[i];
    // The highest score merges first: priorities are negated scores (exact, and ties stay ties). A vocabulary with
    // merge ranks (from a Hugging Face tokenizer.json) merges only listed pairs, lowest rank first.
    const ranks = this.vocab.bpeRanks;
    const next = mergeSymbols(len, (left, right) => {
      if (ranks.size > 0) return ranks.get(mergeKey(text.substr(start[left], len[left]), text.substr(start[right], len[right])));
      const id = idOf.get(text.substr(start[left], len[left] + len[right]));
      return id === undefined ? undefined : -scores[id];
    });

    // Every merged symbol is a token (merges only form tokens), so only single characters can be missing;
    // llama.cpp's rev_merge re-segmentation therefore never applies and is omitted.
    for (let i = 0; i !== -1; i = next[i]) {
      const piece = text.substr(start[i], len[i]);
      const id = idOf.get(piece);
      if (id !== undefined) out.push(id);
      else for (const byte of utf8Encode(piece)) out.push(this.byteToken(byte));
    }
  }

  private byteToken(byte: number): number {
    const id = this.byteTokens[byte];
    if (id >= 0) return id;
    const unk = this.vocab.ids.unk;
    if (unk !== undefined) return unk;
    const hex = byte.toString(16).toUpperCase().padStart(2, "0");
    throw new Error(`${this.vocab.what}: tokenizer.ggml.tokens has no byte token <0x${hex}> and no unknown token to fall back to`);
  }
}
