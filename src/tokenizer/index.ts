// Public entry of the tokenizer package: build a tokenizer from GGUF metadata, and the types it exposes.

export { tokenizerFromGGUF } from "./tokenizer.ts";
export type { DecodeOptions, EncodeOptions, StreamDecoder, StreamDecoderOptions, Tokenizer } from "./types.ts";
export { supportedPreTokenizers } from "./pretokenize.ts";
