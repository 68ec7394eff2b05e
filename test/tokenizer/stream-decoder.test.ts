// The streaming detokenizer: for random id sequences the concatenated push() outputs plus flush() equal
// decode() of all ids; for token streams of valid UTF-8 text no chunk ever holds half a character (no lone
// surrogate, no U+FFFD) and the chunks add up to the text. Checked on the fixture's SPM vocabulary (multi-byte
// characters are spelled as single byte tokens there) and on the byte-level BPE test vocabulary.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { tokenizerFromGGUF } from "../../src/tokenizer/index.ts";
import type { Tokenizer } from "../../src/tokenizer/index.ts";
import { FIXTURES, entriesToMetadata, fixtureMetadata } from "./reference.ts";
import { CORPUS, bpeGGUFEntries, trainByteLevelBpe } from "./test-vocabs.ts";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function streamAll(tok: Tokenizer, ids: readonly number[], options: { skipSpecial?: boolean; stripLeadingSpace?: boolean } = {}): string[] {
  const decoder = tok.createStreamDecoder(options);
  return [...ids.map((id) => decoder.push(id)), decoder.flush()];
}

const path = join(FIXTURES, "bitnet-tiny-tq2_0.gguf");
const tokenizers: [string, Tokenizer][] = [
  ["SPM fixture", tokenizerFromGGUF(await fixtureMetadata(path), path)],
  ["byte-level BPE", tokenizerFromGGUF(entriesToMetadata(bpeGGUFEntries(trainByteLevelBpe(CORPUS.join("\n"), 300), "llama-bpe")))],
];

// Any code point except surrogates and U+FFFD, so the text is valid and contains no replacement character.
const validText = fc.string({
  unit: fc.integer({ min: 0, max: 0x10ffff }).filter((cp) => (cp < 0xd800 || cp > 0xdfff) && cp !== 0xfffd).map((cp) => String.fromCodePoint(cp)),
  maxLength: 40,
});

for (const [name, tok] of tokenizers) {
  describe(`stream decoder (${name})`, () => {
    test("push outputs + flush equal decode() for random id sequences, with and without special tokens", () => {
      fc.assert(fc.property(fc.array(fc.nat(tok.vocabSize - 1), { maxLength: 30 }), fc.boolean(), (ids, skipSpecial) => {
        assert.equal(streamAll(tok, ids, { skipSpecial }).join(""), tok.decode(ids, { skipSpecial }));
      }), { numRuns: 500, seed: 21 });
    });

    test("valid UTF-8 text streams out in whole characters only", () => {
      fc.assert(fc.property(validText, (text) => {
        const ids = tok.encode(text, { addBos: false });
        const chunks = streamAll(tok, ids);
        for (const chunk of chunks) {
          assert.ok(!LONE_SURROGATE.test(chunk), `lone surrogate in ${JSON.stringify(chunk)}`);
          assert.ok(!chunk.includes("\uFFFD"), `replacement character in ${JSON.stringify(chunk)}`);
        }
        assert.equal(chunks.join(""), tok.decode(ids));
      }), { numRuns: 300, seed: 22 });
    });
  });
}

test("a character split over byte tokens comes out when its last byte arrives; a cut one becomes U+FFFD on flush", () => {
  const tok = tokenizers[0][1];
  const byteToken = (b: number): number => 3 + b; // <0x00> is id 3 in the fixture vocabulary
  const decoder = tok.createStreamDecoder();
  assert.deepEqual([0xe2, 0x82, 0xac, 0xf0, 0x9f].map((b) => decoder.push(byteToken(b))), ["", "", "€", "", ""]);
  assert.equal(decoder.flush(), "\uFFFD");
});

test("the first piece's leading space is dropped like decode() does, unless stripLeadingSpace is false", () => {
  const tok = tokenizers[0][1];
  const ids = tok.encode("hello world", { addBos: false });
  assert.equal(streamAll(tok, ids).join(""), "hello world");
  assert.equal(streamAll(tok, ids, { stripLeadingSpace: false }).join(""), " hello world");
});
