// The `gpt2` (byte-level BPE) tokenizer against llama.cpp: the vocabulary learned in test-vocabs.ts is written as a
// vocabulary-only GGUF (with src/formats/gguf/writer.ts) under several `tokenizer.ggml.pre` values, loaded by
// node-llama-cpp, and compared on encoding (with and without special-token parsing), decoding (including
// llama.cpp's clean_spaces pass), the BOS default and the end-of-generation set.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import type { LlamaModel, Token } from "node-llama-cpp";
import { tokenizerFromGGUF } from "../../src/tokenizer/index.ts";
import { prng } from "../helpers/prng.ts";
import { LlamaCppReference, entriesToMetadata } from "./reference.ts";
import { CORPUS, SAMPLE_TEXTS, bpeGGUFEntries, trainByteLevelBpe } from "./test-vocabs.ts";

const reference = new LlamaCppReference();
after(() => reference.dispose());

const vocab = trainByteLevelBpe(CORPUS.join("\n"), 400);
const randomTexts = [
  ...fc.sample(fc.string({ unit: fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp)), maxLength: 30 }), { numRuns: 200, seed: 8 }),
  ...fc.sample(fc.string({ unit: fc.constantFrom(..." \n\r\t'sStTdDlLmMvVrReE123456789.,!?$+<=>^~|ab中😀"), maxLength: 30 }), { numRuns: 300, seed: 9 }),
  ...fc.sample(fc.array(fc.constantFrom("<|begin_of_text|>", "<|eot_id|>", "<tool>", " the", "fox", "'s", " ", "\n", "12345"), { maxLength: 8 })
    .map((w) => w.join("")), { numRuns: 200, seed: 10 }),
];

// llama.cpp's clean_spaces is on for these pre-tokenizers and off for qwen2 (llama_vocab::impl::load).
const PRES = [
  { pre: "llama-bpe", cleanSpaces: true },
  { pre: "gpt-2", cleanSpaces: true },
  { pre: "default", cleanSpaces: true },
  { pre: "qwen2", cleanSpaces: false },
];

// Loaded one after another before the suites run: concurrent loads in node-llama-cpp are several times slower.
const models = new Map<string, LlamaModel>();
for (const { pre } of PRES) models.set(pre, await reference.loadMetadata(`bpe-${pre}`, bpeGGUFEntries(vocab, pre)));

for (const { pre, cleanSpaces } of PRES) {
  describe(`byte-level BPE, tokenizer.ggml.pre="${pre}", vs llama.cpp`, () => {
    const ours = tokenizerFromGGUF(entriesToMetadata(bpeGGUFEntries(vocab, pre)), `test vocab ${pre}`);
    const model = models.get(pre)!;

    test("encode matches llama_tokenize, with and without special-token parsing", () => {
      const bad: string[] = [];
      for (const text of [...SAMPLE_TEXTS, ...randomTexts]) {
        for (const parseSpecial of [false, true]) {
          const expected = model.tokenize(text, parseSpecial);
          const actual = ours.encode(text, { addBos: false, parseSpecial });
          if (JSON.stringify(actual) !== JSON.stringify(expected)) {
            bad.push(`${JSON.stringify(text)} parseSpecial=${parseSpecial}: llama.cpp ${JSON.stringify(expected)} ours ${JSON.stringify(actual)}`);
          }
        }
      }
      assert.deepEqual(bad, []);
    });

    test("decode with cleanSpaces matches llama_detokenize; without it, it is the plain concatenation of pieces", () => {
      const random = prng(12);
      const sequences = [
        ...SAMPLE_TEXTS.map((t) => model.tokenize(t, true)),
        ...["a , b . c ? d ! e", "it 's I 'm we 're you 've don 't he 'd they 'll", "x ' y", " ' ", "a ,b"].map((t) => model.tokenize(t, false)),
        ...Array.from({ length: 300 }, () => Array.from({ length: 1 + Math.floor(random() * 10) }, () => Math.floor(random() * vocab.tokens.length))),
      ];
      const bad: string[] = [];
      for (const ids of sequences) {
        for (const special of [false, true]) {
          const expected = model.detokenize(ids as Token[], special);
          const actual = ours.decode(ids, { skipSpecial: !special, cleanSpaces: ours.cleanSpaces });
          if (actual !== expected) bad.push(`${JSON.stringify(ids)} special=${special}: llama.cpp ${JSON.stringify(expected)} ours ${JSON.stringify(actual)}`);
          const pieces = new TextDecoder("utf-8", { ignoreBOM: true }).decode(Uint8Array.from(ids.flatMap((id) => (special || id < vocab.bos || id === vocab.userDefined ? [...ours.tokenToBytes(id)] : []))));
          if (ours.decode(ids, { skipSpecial: !special }) !== pieces) bad.push(`${JSON.stringify(ids)}: decode without cleanSpaces is not the pieces`);
        }
      }
      assert.deepEqual(bad, []);
    });

    test("BOS default, clean_spaces flag, special ids and end-of-generation set match llama.cpp", () => {
      assert.equal(ours.kind, "gpt2");
      assert.equal(ours.cleanSpaces, cleanSpaces);
      assert.equal(ours.addBos, model.tokens.shouldPrependBosToken);
      assert.equal(ours.addBos, pre === "llama-bpe");
      assert.equal(ours.bos, model.tokens.bos);
      assert.equal(ours.eos, model.tokens.eos);
      assert.equal(ours.eot, model.tokens.eot);
      assert.equal(ours.eot, vocab.eot);
      const eog = Array.from({ length: ours.vocabSize }, (_, id) => id).filter((id) => model.isEogToken(id as Token));
      assert.deepEqual([...ours.stopTokens].sort((a, b) => a - b), eog);
      assert.deepEqual(new Set(eog), new Set([vocab.eos, vocab.eot]));
    });
  });
}
