// UTF-8 helpers for the tokenizers: encoding text the way llama.cpp receives it, decoding bytes the way
// node-llama-cpp hands strings back (invalid sequences become U+FFFD, a leading BOM is kept), and concatenation.
// Not a general text library.

import { concatArrays } from "../arrays.ts";

const encoder = new TextEncoder();

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Lone surrogates cannot be encoded as UTF-8; node-llama-cpp (and TextEncoder) turn them into U+FFFD. */
export function toWellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

/** ignoreBOM: a token stream may legitimately start with U+FEFF, and dropping it would lose text. */
export function createUtf8Decoder(): TextDecoder {
  return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
}

const oneShotDecoder = createUtf8Decoder();

export function utf8Decode(bytes: Uint8Array): string {
  return oneShotDecoder.decode(bytes);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return concatArrays(parts, (n) => new Uint8Array(n));
}
