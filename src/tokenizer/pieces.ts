// Token ids back to bytes (llama.cpp's token_to_piece and llama_detokenize): what each token's text stands for
// ("▁" -> space in SPM vocabularies, the GPT-2 byte alphabet in byte-level ones, <0xXX> byte tokens), whether
// control tokens are rendered, and the optional clean_spaces pass. Turning bytes into a string is left to the
// caller, so a stream decoder can hold back an incomplete character.

import { byteLevelCharToByte } from "./byte-level.ts";
import { TokenAttr } from "./token-attrs.ts";
import { utf8Encode } from "./utf8.ts";
import type { Vocab } from "./vocab.ts";

const EMPTY = new Uint8Array(0);
const SPECIAL = TokenAttr.unknown | TokenAttr.control;

export class PieceTable {
  private readonly vocab: Vocab;
  /** Lazily filled: pieces with special tokens rendered. */
  private readonly cache: (Uint8Array | undefined)[];

  constructor(vocab: Vocab) {
    this.vocab = vocab;
    this.cache = new Array<Uint8Array | undefined>(vocab.texts.length);
  }

  checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.texts.length) {
      throw new Error(`${this.vocab.what}: token id ${id} is outside the vocabulary (size ${this.vocab.texts.length})`);
    }
  }

  /** The bytes of one token; `renderSpecial` false makes control and unknown tokens empty. */
  piece(id: number, renderSpecial: boolean): Uint8Array {
    this.checkId(id);
    if (!renderSpecial && (this.vocab.attrs[id] & SPECIAL) !== 0) return EMPTY;
    return (this.cache[id] ??= this.build(id));
  }

  private build(id: number): Uint8Array {
    const { attrs, texts, model } = this.vocab;
    const attr = attrs[id];
    const text = texts[id];
    if ((attr & (SPECIAL | TokenAttr.userDefined)) !== 0) return utf8Encode(text);
    if ((attr & TokenAttr.normal) !== 0) {
      return model === "llama" ? utf8Encode(text.replaceAll("\u2581", " ")) : byteLevelToBytes(text);
    }
    if ((attr & TokenAttr.byte) !== 0) return Uint8Array.of(parseInt(text.slice(3, 5), 16) || 0);
    return EMPTY; // unused and undefined tokens render as nothing
  }
}

/** Characters outside the byte alphabet become "[UNK_BYTE_0x<hex><token>]", as llama.cpp's llama_decode_text writes them. */
function byteLevelToBytes(text: string): Uint8Array {
  const out: number[] = [];
  for (const char of text) {
    const byte = byteLevelCharToByte(char);
    if (byte !== undefined) {
      out.push(byte);
      continue;
    }
    const hex = [...utf8Encode(char)].map((b) => b.toString(16).padStart(2, "0")).join("");
    out.push(...utf8Encode(`[UNK_BYTE_0x${hex}${text}]`));
  }
  return Uint8Array.from(out);
}

const SPACE = 0x20;
const APOSTROPHE = 0x27;
const code = (c: string): number => c.charCodeAt(0);

/**
 * llama.cpp's clean_spaces, three in-place passes over the bytes: drop the space before ? ! . , ; turn " ' " into
 * "'"; drop the space before 's 'm 're 've. Returns the cleaned prefix of `text`.
 */
export function applyCleanSpaces(text: Uint8Array): Uint8Array {
  let total = text.length;

  let n = total;
  total = n > 0 ? 1 : 0;
  for (let i = 1; i < n; i++) {
    const x = text[i];
    if (text[i - 1] === SPACE && (x === code("?") || x === code("!") || x === code(".") || x === code(","))) total--;
    text[total++] = x;
  }

  n = total;
  total = n > 0 ? 1 : 0;
  for (let i = 1; i < n; i++) {
    const x = text[i];
    if (x === APOSTROPHE && i + 1 < n && text[i - 1] === SPACE && text[i + 1] === SPACE) {
      total--;
      text[++i] = 0; // the skipped space must not count as "previous is a space" for the next character
    }
    text[total++] = x;
  }

  n = total;
  total = n > 0 ? 1 : 0;
  for (let i = 1; i < n; i++) {
    const x = text[i];
    if (text[i - 1] === SPACE && x === APOSTROPHE && i + 1 < n) {
      const x1 = text[i + 1];
      if (x1 === code("s") || x1 === code("m")) total--;
      else if (x1 !== code("t") && x1 !== code("d") && i + 2 < n) {
        const x2 = text[i + 2];
        if ((x1 === code("r") || x1 === code("v")) && x2 === code("e")) total--;
      }
    }
    text[total++] = x;
  }
  return text.subarray(0, total);
}
