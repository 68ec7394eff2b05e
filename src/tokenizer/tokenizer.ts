// tokenizerFromGGUF: the tokenizer a GGUF file describes, behaving as llama.cpp's llama_tokenize /
// llama_detokenize do for `llama` (SentencePiece-style) and `gpt2` (byte-level BPE) vocabularies. This file wires
// the parts together: special-token partition, the SPM or BPE tokenizer per text fragment, BOS/EOS, and decoding.

import { BpeTokenizer } from "./bpe.ts";
import { partitionSpecial } from "./partition.ts";
import { PieceTable, applyCleanSpaces } from "./pieces.ts";
import { SpmTokenizer } from "./spm.ts";
import { createStreamDecoder } from "./stream-decoder.ts";
import type { Tokenizer } from "./types.ts";
import { concatBytes, toWellFormed, utf8Decode } from "./utf8.ts";
import { vocabFromGGUF } from "./vocab.ts";
import type { Vocab } from "./vocab.ts";

interface FragmentTokenizer {
  tokenize(text: string, out: number[]): void;
}

/** Builds the tokenizer described by GGUF metadata; errors name `what` (e.g. the file path) and the key at fault. */
export function tokenizerFromGGUF(metadata: Record<string, unknown>, what = "GGUF metadata"): Tokenizer {
  return tokenizerFromVocab(vocabFromGGUF(metadata, what));
}

function tokenizerFromVocab(vocab: Vocab): Tokenizer {
  const fragmentTokenizer: FragmentTokenizer = vocab.preTokenizer ? new BpeTokenizer(vocab, vocab.preTokenizer) : new SpmTokenizer(vocab);
  const pieces = new PieceTable(vocab);

  const required = (id: number | undefined, key: string): number => {
    if (id === undefined) throw new Error(`${vocab.what}: tokenizer.ggml.${key} is needed but the vocabulary has none`);
    return id;
  };

  return {
    kind: vocab.model,
    vocabSize: vocab.texts.length,
    bos: vocab.ids.bos,
    eos: vocab.ids.eos,
    eot: vocab.ids.eot,
    addBos: vocab.addBos,
    addEos: vocab.addEos,
    cleanSpaces: vocab.cleanSpaces,
    stopTokens: vocab.eog,
    chatTemplate: vocab.chatTemplate,

    encode(text, options = {}) {
      const out: number[] = [];
      if (options.addBos ?? vocab.addBos) out.push(required(vocab.ids.bos, "bos_token_id"));
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
        fragmentTokenizer.tokenize(piece, out);
        afterSpecial = false;
      }
      if (options.addEos ?? vocab.addEos) out.push(required(vocab.ids.eos, "eos_token_id"));
      return out;
    },

    decode(ids, options = {}) {
      const render = !(options.skipSpecial ?? false);
      // Only the first piece loses one leading space; when the first token is BOS, the text after it keeps its
      // space (llama_detokenize with remove_special=false, as node-llama-cpp calls it).
      const parts = ids.map((id, i) => {
        const piece = pieces.piece(id, render);
        return i === 0 && vocab.addSpacePrefix && piece[0] === 0x20 ? piece.subarray(1) : piece;
      });
      let bytes = concatBytes(parts);
      if (options.cleanSpaces) bytes = applyCleanSpaces(bytes);
      return utf8Decode(bytes);
    },

    tokenToBytes(id) {
      return pieces.piece(id, true).slice();
    },

    tokenText(id) {
      pieces.checkId(id);
      return vocab.texts[id];
    },

    tokenId(text) {
      return vocab.idOf.get(text);
    },

    createStreamDecoder(options = {}) {
      const strip = (options.stripLeadingSpace ?? true) && vocab.addSpacePrefix;
      return createStreamDecoder(pieces, !(options.skipSpecial ?? false), strip);
    },
  };
}
