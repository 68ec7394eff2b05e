// The `llama` (SPM) tokenizer against llama.cpp (node-llama-cpp, vocabulary only): the two fixture models, and
// a richer SPM vocabulary built here (real merges by score with ties, byte fallback, control / user-defined /
// unused tokens), with and without add_space_prefix.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import type { LlamaModel, Token } from "node-llama-cpp";
import { tokenizerFromGGUF } from "../../src/tokenizer/index.ts";
import type { Tokenizer } from "../../src/tokenizer/index.ts";
import { prng } from "../helpers/prng.ts";
import { FIXTURES, LlamaCppReference, entriesToMetadata, fixtureMetadata } from "./reference.ts";
import { CORPUS, SAMPLE_TEXTS, buildSpmVocab, spmGGUFEntries } from "./test-vocabs.ts";

const reference = new LlamaCppReference();
after(() => reference.dispose());

function encodeMismatches(ours: Tokenizer, model: LlamaModel, texts: readonly string[]): string[] {
  const bad: string[] = [];
  for (const text of texts) {
    for (const parseSpecial of [false, true]) {
      const expected = model.tokenize(text, parseSpecial);
      const actual = ours.encode(text, { addBos: false, parseSpecial });
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        bad.push(`${JSON.stringify(text)} parseSpecial=${parseSpecial}: llama.cpp ${JSON.stringify(expected)} ours ${JSON.stringify(actual)}`);
      }
    }
  }
  return bad;
}

function decodeMismatches(ours: Tokenizer, model: LlamaModel, sequences: readonly number[][]): string[] {
  const bad: string[] = [];
  for (const ids of sequences) {
    for (const special of [false, true]) {
      const expected = model.detokenize(ids as Token[], special);
      const actual = ours.decode(ids, { skipSpecial: !special });
      if (actual !== expected) bad.push(`${JSON.stringify(ids)} special=${special}: llama.cpp ${JSON.stringify(expected)} ours ${JSON.stringify(actual)}`);
    }
  }
  return bad;
}

/** Arbitrary code points, text made of the vocabulary's own characters, and corpus words glued to special tokens. */
function randomTexts(count: number, seed: number): string[] {
  const words = [...CORPUS.join(" ").split(" "), "<s>", "</s>", "<tool>", "<|im_start|>", "<unk>", " "];
  return [
    // Any code point, lone surrogates included (fast-check's own "binary" unit costs seconds to initialise).
    ...fc.sample(fc.string({ unit: fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp)), maxLength: 40 }), { numRuns: count, seed }),
    ...fc.sample(fc.string({ unit: fc.constantFrom(..."▁ \n\tabcdefghijklmnopqrstuvwxyzTHE.,'中😀<>s/"), maxLength: 40 }), { numRuns: count, seed }),
    ...fc.sample(fc.array(fc.constantFrom(...words), { maxLength: 12 }).map((w) => w.join("")), { numRuns: count, seed }),
  ];
}

function randomIdSequences(vocabSize: number, count: number, seed: number): number[][] {
  const random = prng(seed);
  return Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(random() * 12) }, () => Math.floor(random() * vocabSize)));
}

// Everything is loaded one after another before the suites run: concurrent loads in node-llama-cpp are several
// times slower.
const FILES = ["bitnet-tiny-tq2_0.gguf", "bitnet-small-tq1_0.gguf"];
const fixtures: { file: string; ours: Tokenizer; model: LlamaModel }[] = [];
for (const file of FILES) {
  const path = join(FIXTURES, file);
  fixtures.push({ file, ours: tokenizerFromGGUF(await fixtureMetadata(path), path), model: await reference.load(path) });
}
const spmVocab = buildSpmVocab(CORPUS.join(" "), 42);
const variants: { name: string; ours: Tokenizer; model: LlamaModel }[] = [];
for (const [name, entries] of [
  ["default add_space_prefix", spmGGUFEntries(spmVocab)],
  ["add_space_prefix=false", spmGGUFEntries(spmVocab, { addSpacePrefix: false })],
] as const) {
  variants.push({ name, ours: tokenizerFromGGUF(entriesToMetadata(entries), name), model: await reference.loadMetadata(name.replace(/\W+/g, "-"), entries) });
}

for (const { file, ours, model } of fixtures) {
  describe(`fixture ${file} vs llama.cpp`, () => {
    test("encode matches llama_tokenize on the sample texts, with and without special-token parsing", () => {
      assert.deepEqual(encodeMismatches(ours, model, SAMPLE_TEXTS), []);
    });

    test("decode matches llama_detokenize on encoded texts (with BOS/EOS around them) and random ids", () => {
      const encoded = SAMPLE_TEXTS.map((t) => model.tokenize(t, true));
      const sequences = [...encoded, ...encoded.map((ids) => [1, ...ids, 2]), ...randomIdSequences(ours.vocabSize, 300, 7)];
      assert.deepEqual(decodeMismatches(ours, model, sequences), []);
    });

    test("special ids, add-BOS flag and end-of-generation set match llama.cpp", () => {
      assert.equal(ours.kind, "llama");
      assert.equal(ours.vocabSize, 512);
      assert.equal(ours.bos, model.tokens.bos);
      assert.equal(ours.eos, model.tokens.eos);
      assert.equal(ours.eot, model.tokens.eot ?? undefined);
      assert.equal(ours.addBos, model.tokens.shouldPrependBosToken);
      const eog = Array.from({ length: ours.vocabSize }, (_, id) => id).filter((id) => model.isEogToken(id as Token));
      assert.deepEqual([...ours.stopTokens].sort((a, b) => a - b), eog);
      assert.deepEqual(ours.encode("hi"), model.tokenize("hi")); // add_bos_token is false in the fixtures
    });
  });
}

describe("SPM vocabulary with real merges vs llama.cpp", () => {
  for (const { name, ours, model } of variants) {

    test(`${name}: encode matches llama_tokenize on the sample texts`, () => {
      assert.deepEqual(encodeMismatches(ours, model, SAMPLE_TEXTS), []);
    });

    test(`${name}: encode matches llama_tokenize on random strings`, () => {
      const texts = randomTexts(400, 1);
      assert.deepEqual(encodeMismatches(ours, model, texts), []);
    });

    test(`${name}: decode matches llama_detokenize on random ids, including control, user-defined and unused tokens`, () => {
      const sequences = [
        ...randomIdSequences(ours.vocabSize, 300, 11),
        [1, spmVocab.control, spmVocab.userDefined, spmVocab.control + 2, 3 + 0x20, 300],
        [3 + 0x20, 3 + 0x41], // a byte-token space first: llama.cpp strips it too
      ];
      assert.deepEqual(decodeMismatches(ours, model, sequences), []);
    });

    test(`${name}: BOS is added by default (SPM default) and EOS is not`, () => {
      assert.equal(ours.addBos, true);
      assert.deepEqual(ours.encode("the fox"), [1, ...model.tokenize("the fox")]);
      assert.deepEqual(ours.encode("the fox", { addEos: true }), [1, ...model.tokenize("the fox"), 2]);
      assert.deepEqual(ours.encode(""), [1]);
    });
  }
});

test("the user-defined token is matched even without special parsing, control tokens only with it", () => {
  const ours = variants[0].ours;
  assert.ok(ours.encode("a<tool>b", { addBos: false }).includes(spmVocab.userDefined));
  assert.ok(!ours.encode("a<|im_start|>b", { addBos: false }).includes(spmVocab.control));
  assert.ok(ours.encode("a<|im_start|>b", { addBos: false, parseSpecial: true }).includes(spmVocab.control));
});
