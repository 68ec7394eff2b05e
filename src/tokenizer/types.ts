// The public shape of a tokenizer built from GGUF metadata, shared by the SPM ("llama") and byte-level BPE
// ("gpt2") implementations. Types only: the behaviour lives in tokenizer.ts and the files it uses.

export interface EncodeOptions {
  /** Prepend BOS. Defaults to the vocabulary's `tokenizer.ggml.add_bos_token` (llama.cpp's add_special for BOS). */
  addBos?: boolean;
  /** Append EOS. Defaults to the vocabulary's `tokenizer.ggml.add_eos_token` (llama.cpp's add_special for EOS). */
  addEos?: boolean;
  /** Match control and unknown tokens (e.g. "<s>", "<|eot_id|>") written in the text. User-defined tokens always match. Default false. */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Render control and unknown tokens as nothing instead of their text. Default false (they are rendered). */
  skipSpecial?: boolean;
  /**
   * Apply llama.cpp's `clean_spaces` pass (" ," -> ",", " 's" -> "'s", ...). Default false, because llama.cpp's
   * generation paths (server, CLI) emit raw pieces without it and a stream decoder cannot apply it without
   * look-ahead. Pass `{ cleanSpaces: tokenizer.cleanSpaces }` to get exactly what llama_detokenize returns.
   */
  cleanSpaces?: boolean;
}

export interface StreamDecoderOptions {
  /** As DecodeOptions.skipSpecial. Default false. */
  skipSpecial?: boolean;
  /**
   * Drop one leading space from the first token's piece when the vocabulary adds a space prefix, as decode() does.
   * Default true, so that the concatenated stream equals decode(allIds). Pass false when streaming a continuation of
   * a prompt (llama.cpp's server never strips it there).
   */
  stripLeadingSpace?: boolean;
}

/** Turns token ids into text incrementally; never emits half a UTF-8 character. */
export interface StreamDecoder {
  push(id: number): string;
  /** Emits what is left; bytes that never formed a valid character come out as U+FFFD. */
  flush(): string;
}

export interface Tokenizer {
  readonly kind: "llama" | "gpt2";
  readonly vocabSize: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly eot: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** Whether llama_detokenize applies its clean_spaces pass for this vocabulary (most BPE pre-tokenizers do; SPM does not). */
  readonly cleanSpaces: boolean;
  /** End-of-generation ids (eos, eot, and other control tokens the vocab marks as end-of-generation, e.g. <|eot_id|>, <|end_of_text|>). */
  readonly stopTokens: ReadonlySet<number>;
  /** `tokenizer.chat_template`, when the file has one. */
  readonly chatTemplate: string | undefined;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The raw bytes a token stands for (control tokens: their text). */
  tokenToBytes(id: number): Uint8Array;
  /** The token's string as stored in the vocabulary (e.g. "▁the", "Ġthe", "<0x0A>"). */
  tokenText(id: number): string;
  /** The id whose vocabulary string is exactly `text`, if any. */
  tokenId(text: string): number | undefined;
  createStreamDecoder(options?: StreamDecoderOptions): StreamDecoder;
}
