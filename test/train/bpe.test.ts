// The byte-level BPE trainer: its merges against the tests' naive from-scratch trainer (test/helpers/bpe.ts), its vocabulary
// loaded through tokenizerFromGGUF (exact round trip of the corpus, encode() = the trainer's own
// segmentation on held-out text), llama.cpp (vocabulary-only, through the exporter's GGUF entries) encoding
// held-out text to the same ids, and speed on the full 4 MB KJV corpus.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { BOS_TEXT, EOS_TEXT, bpeMetadata, countWords, encodeWithMerges, trainBpe } from "../../src/train/bpe-trainer.ts";
import { ggufTokenizerEntries } from "../../src/train/export-tokenizer.ts";
import { tokenizerFromGGUF } from "../../src/tokenizer/index.ts";
import { BYTE_CHARS, naiveBpe } from "../helpers/bpe.ts";
import { LlamaCppReference } from "../tokenizer/reference.ts";

const KJV = gunzipSync(readFileSync(new URL("../../data/kjv.txt.gz", import.meta.url))).toString("utf8");
const TRAIN = KJV.slice(0, 300_000);
const HELD_OUT = KJV.slice(-60_000) + "\nOdd text: naïve café, 1234567 numbers, tabs\t\tand  spaces, 中文, emoji 😀, it's we'll they'd.  \n\n";

/** Independent reference: the tests' naive BPE, which recounts every pair from scratch before each merge (same tie-break: count, then ids). */
function naiveReference(text: string, vocabSize: number): { tokens: string[]; merges: string[] } {
  return naiveBpe(countWords([text]), { maxTokens: vocabSize - 2, minCount: 2, tieBreak: "ids" });
}

const vocab = trainBpe([TRAIN], { vocabSize: 1024 });
const tokenizer = tokenizerFromGGUF(bpeMetadata(vocab), "trained vocab");

test("merges equal a naive from-scratch BPE trainer's (incremental counts change nothing)", () => {
  const small = KJV.slice(0, 20_000);
  const ours = trainBpe([small], { vocabSize: 500 });
  const ref = naiveReference(small, 500);
  assert.deepEqual(ours.merges, ref.merges);
  assert.deepEqual(ours.tokens, [...ref.tokens, BOS_TEXT, EOS_TEXT]);
  assert.equal(ours.tokens.length, 500);
  assert.equal(ours.bos, 498);
  assert.equal(ours.eos, 499);
});

test("the vocabulary layout: 256 byte symbols in byte order, merged strings, bos, eos; training is deterministic", () => {
  assert.equal(vocab.tokens.length, 1024);
  for (let b = 0; b < 256; b++) assert.equal(vocab.tokens[b], BYTE_CHARS[b]);
  assert.equal(vocab.tokens[vocab.bos], "<|begin_of_text|>");
  assert.equal(vocab.tokens[vocab.eos], "<|end_of_text|>");
  assert.equal(new Set(vocab.tokens).size, vocab.tokens.length, "no duplicate strings");
  for (const m of vocab.merges) {
    const [l, r] = m.split(" ");
    assert.ok(vocab.tokens.includes(l + r), `merge ${m} yields a token`);
  }
  assert.ok(vocab.tokens.includes("ĠLORD") && vocab.tokens.includes("Ġthe"), "KJV's frequent words are single tokens");
  assert.deepEqual(trainBpe([TRAIN], { vocabSize: 1024 }), vocab);
});

test("through tokenizerFromGGUF the vocabulary round-trips the training text and held-out text exactly", () => {
  for (const text of [TRAIN, HELD_OUT]) {
    const ids = tokenizer.encode(text, { addBos: false });
    assert.equal(tokenizer.decode(ids), text);
  }
  // Compression: about 3.5–4.5 bytes per token on English with 1024 tokens.
  const n = tokenizer.encode(TRAIN, { addBos: false }).length;
  assert.ok(TRAIN.length / n > 3, `${(TRAIN.length / n).toFixed(2)} chars per token`);
});

test("tokenizerFromGGUF's encode() equals the trainer's own segmentation on held-out text", () => {
  assert.deepEqual(tokenizer.encode(HELD_OUT, { addBos: false }), encodeWithMerges(vocab, HELD_OUT));
  assert.deepEqual(tokenizer.encode(TRAIN, { addBos: false }), encodeWithMerges(vocab, TRAIN));
});

const reference = new LlamaCppReference();
after(() => reference.dispose());

test("llama.cpp (vocabulary from the exporter's GGUF entries) encodes held-out text to the same ids", async () => {
  const model = await reference.loadMetadata("trained-bpe", ggufTokenizerEntries(vocab, vocab.tokens.length));
  const sample = HELD_OUT.slice(-8000);
  assert.deepEqual(model.tokenize(sample, false), encodeWithMerges(vocab, sample));
  assert.equal(model.detokenize(model.tokenize(sample, false), false), sample);
});

test("training on the full 4 MB KJV corpus with 4096 tokens takes well under a minute", () => {
  const t0 = performance.now();
  const v = trainBpe([KJV], { vocabSize: 4096 });
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(v.tokens.length, 4096);
  assert.ok(seconds < 20, `${seconds.toFixed(1)} s`);
});
