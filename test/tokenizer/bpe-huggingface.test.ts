// The `gpt2` (byte-level BPE) tokenizer against @huggingface/tokenizers, an independent implementation, on a
// vocabulary learned in the test: LLaMA-3 style (Split regex + ignore_merges, pre "llama-bpe") and GPT-2 style
// (ByteLevel's own regex, pre "gpt-2"). Special tokens are always parsed by the HF tokenizer, so only
// parseSpecial=true is compared here; bpe-llama-cpp.test.ts covers the rest.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { tokenizerFromGGUF } from "../../src/tokenizer/index.ts";
import { prng } from "../helpers/prng.ts";
import { entriesToMetadata } from "./reference.ts";
import { CORPUS, SAMPLE_TEXTS, bpeGGUFEntries, hfTokenizerJson, trainByteLevelBpe } from "./test-vocabs.ts";

const vocab = trainByteLevelBpe(CORPUS.join("\n"), 400);

const randomTexts = [
  ...fc.sample(fc.string({ unit: fc.integer({ min: 0, max: 0x2fff }).map((cp) => String.fromCodePoint(cp)), maxLength: 30 }), { numRuns: 200, seed: 3 }),
  ...fc.sample(fc.string({ unit: fc.constantFrom(..." \n\r\t'sStTdDlLmMvVrReE123456789.,!?ab中😀"), maxLength: 30 }), { numRuns: 300, seed: 4 }),
];

for (const [style, pre] of [["llama3", "llama-bpe"], ["gpt2", "gpt-2"]] as const) {
  describe(`byte-level BPE (${pre}) vs @huggingface/tokenizers`, () => {
    const ours = tokenizerFromGGUF(entriesToMetadata(bpeGGUFEntries(vocab, pre)), `test vocab ${pre}`);
    const hf = new HfTokenizer(hfTokenizerJson(vocab, style), { clean_up_tokenization_spaces: false });

    test("the learned vocabulary is big enough to exercise merges", () => {
      assert.ok(vocab.merges.length >= 300, `only ${vocab.merges.length} merges learned`);
      assert.ok(ours.encode("The quick brown fox", { addBos: false }).length < "The quick brown fox".length / 2);
      // ignore_merges is on for llama-bpe only, so the unreachable word is one token there and five bytes here.
      assert.equal(ours.encode(" zzyzx", { addBos: false }).length, style === "llama3" ? 1 : 6);
    });

    test("encode matches on the sample texts and random strings", () => {
      const bad: string[] = [];
      for (const text of [...SAMPLE_TEXTS, ...randomTexts, "a\u0085 b\u1680 c\uFEFF d\u001c e"]) {
        const expected = hf.encode(text, { add_special_tokens: false }).ids;
        const actual = ours.encode(text, { addBos: false, parseSpecial: true });
        if (JSON.stringify(actual) !== JSON.stringify(expected)) bad.push(`${JSON.stringify(text)}: hf ${JSON.stringify(expected)} ours ${JSON.stringify(actual)}`);
      }
      assert.deepEqual(bad, []);
    });

    test("decode matches on encoded texts and random id sequences, with and without special tokens", () => {
      const random = prng(5);
      const sequences = [
        ...SAMPLE_TEXTS.map((t) => ours.encode(t, { parseSpecial: true })).filter((ids) => ids.length > 0), // HF refuses []
        ...Array.from({ length: 300 }, () => Array.from({ length: 1 + Math.floor(random() * 10) }, () => Math.floor(random() * vocab.tokens.length))),
      ];
      const bad: string[] = [];
      for (const ids of sequences) {
        for (const skip of [false, true]) {
          const expected = hf.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
          const actual = ours.decode(ids, { skipSpecial: skip });
          if (actual !== expected) bad.push(`${JSON.stringify(ids)} skip=${skip}: hf ${JSON.stringify(expected)} ours ${JSON.stringify(actual)}`);
        }
      }
      assert.deepEqual(bad, []);
    });
  });
}
