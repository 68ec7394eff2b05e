// Encoding cost: tens of KB of text, and single words tens of thousands of characters long (where a merge loop
// that rescans the word after every merge would take seconds), must encode well within the budgets below.
// The budgets are loose on purpose (shared CI machines); a quadratic merge loop misses them by far.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { tokenizerFromGGUF } from "../../src/tokenizer/index.ts";
import type { Tokenizer } from "../../src/tokenizer/index.ts";
import { entriesToMetadata } from "./reference.ts";
import { CORPUS, SAMPLE_TEXTS, bpeGGUFEntries, buildSpmVocab, spmGGUFEntries, trainByteLevelBpe } from "./test-vocabs.ts";

const BUDGET_MS = 1500;

function timed(tok: Tokenizer, text: string): { ms: number; ids: number[] } {
  tok.encode(text.slice(0, 1000)); // warm up the JIT
  const start = performance.now();
  const ids = tok.encode(text, { addBos: false, parseSpecial: true });
  return { ms: performance.now() - start, ids };
}

const tokenizers: [string, Tokenizer][] = [
  ["SPM", tokenizerFromGGUF(entriesToMetadata(spmGGUFEntries(buildSpmVocab(CORPUS.join(" "), 42))))],
  ["byte-level BPE", tokenizerFromGGUF(entriesToMetadata(bpeGGUFEntries(trainByteLevelBpe(CORPUS.join("\n"), 400), "llama-bpe")))],
];

// ~50 KB of Unicode, punctuation and whitespace runs. Texts with special tokens are left out because SPM puts a
// space after each one, so they would not round-trip; special-token search still runs over all of it.
const prose = SAMPLE_TEXTS.filter((t) => !t.includes("<")).join("\n").repeat(40);

for (const [name, tok] of tokenizers) {
  describe(`${name} encoding speed`, () => {
    test(`${Math.round(prose.length / 1024)} KB of mixed text within ${BUDGET_MS} ms, and it round-trips`, () => {
      const { ms, ids } = timed(tok, prose);
      assert.ok(ms < BUDGET_MS, `took ${ms.toFixed(0)} ms`);
      assert.equal(tok.decode(ids).replace(/^ /, ""), prose.replace(/\uD800/g, "\uFFFD").replace(/^ /, ""));
    });

    for (const [label, word] of [["letters", "abcde".repeat(10000)], ["one repeated letter", "a".repeat(50000)], ["spaces", " ".repeat(50000) + "x"]]) {
      test(`a 50k-character run of ${label} within ${BUDGET_MS} ms`, () => {
        const { ms, ids } = timed(tok, word);
        assert.ok(ms < BUDGET_MS, `took ${ms.toFixed(0)} ms`);
        assert.equal(tok.decode(ids).replace(/^ /, ""), word.replace(/^ /, ""));
      });
    }
  });
}
