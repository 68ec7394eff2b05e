// tokenizerFromGGUF: the tokenizer a GGUF file describes, behaving as llama.cpp's llama_tokenize /
// llama_detokenize do for `llama` (SentencePiece-style) and `gpt2` (byte-level BPE) vocabularies. This file wires
// the parts together: special-token partition, the SPM or BPE tokenizer per text fragment, BOS/EOS, and decoding.

import { BpeTokenizer } from "./bpe.ts";
import { partitionSpecial } from "./partition.ts";
import { PieceTable, applyCleanSpaces } from "./pieces.ts";
import { SpmTokenizer } from "./spm.ts";
import { createStreamDecoder } from "./stream-decoder.ts";
import type { DecodeOptions, EncodeOptions, StreamDecoder, StreamDecoderOptions, Tokenizer } from "./types.ts";
import { concatBytes, toWellFormed, utf8Decode } from "./utf8.ts";
import { vocabFromGGUF } from "./vocab.ts";
import type { Vocab } from "./vocab.ts";

interface FragmentTokenizer {
  tokenize(text: string, out: number[]): void;
}

class GGUFTokenizer implements Tokenizer {
  readonly kind: "llama" | "gpt2";
  readonly vocabSize: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly eot: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly cleanSpaces: boolean;
  readonly stopTokens: ReadonlySet<number>;
  readonly chatTemplate: string | undefined;
  private readonly vocab: Vocab;
  private readonly fragmentTokenizer: FragmentTokenizer;
  private readonly pieces: PieceTable;

  constructor(vocab: Vocab) {
    this.vocab = vocab;
    this.kind = vocab.model;
    this.vocabSize = vocab.texts.length;
    this.bos = vocab.ids.bos;
    this.eos = vocab.ids.eos;
    this.eot = vocab.ids.eot;
    this.addBos = vocab.addBos;
    this.addEos = vocab.addEos;
    this.cleanSpaces = vocab.cleanSpaces;
    this.stopTokens = vocab.eog;
    this.chatTemplate = vocab.chatTemplate;
    this.fragmentTokenizer = vocab.preTokenizer ? new BpeTokenizer(vocab, vocab.preTokenizer) : new SpmTokenizer(vocab);
    this.pieces = new PieceTable(vocab);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const vocab = this.vocab;
    const out: number[] = [];
    if (options.addBos ?? vocab.addBos) out.push(this.required(vocab.ids.bos, "bos_token_id"));
    // SPM puts a space before text that starts the input or follows a special token (llama.cpp's is_prev_special).
    let afterSpecial = true;
    for (const fragment of partitionSpecial(toWellFormed(text), vocab, options.parseSpecial ?? false)) {
      if ("token" in fragment) {
        out.push(fragment.token);
        afterSpecial = true;
        continue;
      }
      let piece = fragment.text;
      if (vocab.model === "llama") {
        if (vocab.addSpacePrefix && afterSpecial) piece = " " + piece;
        piece = piece.replaceAll(" ", "\u2581");
      }
      this.fragmentTokenizer.tokenize(piece, out);
      afterSpecial = false;
    }
    if (options.addEos ?? vocab.addEos) out.push(this.required(vocab.ids.eos, "eos_token_id"));
    return out;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const render = !(options.skipSpecial ?? false);
    // Only the first piece loses one leading space; when the first token is BOS, the text after it keeps its
    // space (llama_detokenize with remove_special=false, as node-llama-cpp calls it).
    const parts = ids.map((id, i) => {
      const piece = this.pieces.piece(id, render);
      return i === 0 && this.vocab.addSpacePrefix && piece[0] === 0x20 ? piece.subarray(1) : piece;
    });
    let bytes = concatBytes(parts);
    if (options.cleanSpaces) bytes = applyCleanSpaces(bytes);
    return utf8Decode(bytes);
  }

  tokenToBytes(id: number): Uint8Array {
    return this.pieces.piece(id, true).slice();
  }

  tokenText(id: number): string {
    this.pieces.checkId(id);
    return this.vocab.texts[id];
  }

  tokenId(text: string): number | undefined {
    return this.vocab.idOf.get(text);
  }

  createStreamDecoder(options: StreamDecoderOptions = {}): StreamDecoder {
    const strip = (options.stripLeadingSpace ?? true) && this.vocab.addSpacePrefix;
    return createStreamDecoder(this.pieces, !(options.skipSpecial ?? false), strip);
  }

  private required(id: number | undefined, key: string): number {
    if (id === undefined) throw new Error(`${this.vocab.what}: tokenizer.ggml.${key} is needed but the vocabulary has none`);
    return id;
  }
}

/** Builds the tokenizer described by GGUF metadata; errors name `what` (e.g. the file path) and the key at fault. */
export function tokenizerFromGGUF(metadata: Record<string, unknown>, what = "GGUF metadata"): Tokenizer {
  return new GGUFTokenizer(vocabFromGGUF(metadata, what));
}
