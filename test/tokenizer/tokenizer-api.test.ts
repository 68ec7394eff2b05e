// The smaller parts of the Tokenizer API (token lookups, raw bytes, flags, stop tokens found by text), and the
// hand-over from the project's GGUF reader: metadata read by src/formats/gguf/reader.ts gives the same tokenizer
// as metadata read by the independent @huggingface/gguf.

import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { readGGUF } from "../../src/formats/gguf/reader.ts";
import { openFileSource } from "../../src/node/file-source.ts";
import { tokenizerFromGGUF } from "../../src/tokenizer/index.ts";
import { FIXTURES, entriesToMetadata, fixtureMetadata } from "./reference.ts";
import { CORPUS, SAMPLE_TEXTS, bpeGGUFEntries, trainByteLevelBpe } from "./test-vocabs.ts";

const path = join(FIXTURES, "bitnet-b158-tiny-i2_s.gguf");

test("metadata from the project's GGUF reader and from @huggingface/gguf give identical tokenizers", async () => {
  const source = await openFileSource(path);
  try {
    const ours = tokenizerFromGGUF((await readGGUF(source)).metadata, path);
    const independent = tokenizerFromGGUF(await fixtureMetadata(path), path);
    for (const text of SAMPLE_TEXTS) {
      assert.deepEqual(ours.encode(text, { parseSpecial: true }), independent.encode(text, { parseSpecial: true }));
    }
    assert.deepEqual([ours.bos, ours.eos, ours.vocabSize, ours.addBos], [1, 2, 512, false]);
  } finally {
    await source.close();
  }
});

test("token lookups and raw bytes: normal, byte, control and user-defined tokens", async () => {
  const spm = tokenizerFromGGUF(await fixtureMetadata(path), path);
  assert.equal(spm.tokenText(3 + 0x0a), "<0x0A>");
  assert.deepEqual(spm.tokenToBytes(3 + 0x0a), Uint8Array.of(0x0a));
  assert.equal(spm.tokenId("▁a"), 259);
  assert.deepEqual(spm.tokenToBytes(259), new TextEncoder().encode(" a"));
  assert.deepEqual(spm.tokenToBytes(2), new TextEncoder().encode("</s>"));
  assert.equal(spm.tokenId("no such token"), undefined);
  assert.equal(spm.decode([]), "");
  assert.equal(spm.decode([1, 259, 2]), "<s> a</s>");
  assert.equal(spm.decode([1, 259, 2], { skipSpecial: true }), " a");

  const v = trainByteLevelBpe(CORPUS.join("\n"), 200);
  const bpe = tokenizerFromGGUF(entriesToMetadata(bpeGGUFEntries(v, "llama-bpe")));
  assert.equal(bpe.tokenText(0x20), "Ġ"); // the test vocabulary lists the 256 byte symbols first, in byte order
  assert.deepEqual(bpe.tokenToBytes(0x20), Uint8Array.of(0x20));
  assert.deepEqual(bpe.tokenToBytes(v.userDefined), new TextEncoder().encode("<tool>"));
  assert.equal(bpe.decode([v.bos, v.userDefined], { skipSpecial: true }), "<tool>"); // user-defined tokens always render
});

test("stop tokens include eos and the end-of-turn tokens llama.cpp finds by their text", () => {
  const v = trainByteLevelBpe(CORPUS.join("\n"), 50);
  const tok = tokenizerFromGGUF({ ...entriesToMetadata(bpeGGUFEntries(v, "llama-bpe")), "tokenizer.chat_template": "{{ messages }}" });
  assert.equal(tok.eot, v.eot);
  assert.deepEqual(new Set(tok.stopTokens), new Set([v.eos, v.eot]));
  assert.equal(tok.chatTemplate, "{{ messages }}");
  assert.equal(tok.addBos, true); // LLaMA-3 pre-tokenizer default
  assert.deepEqual(tok.encode("hi").slice(0, 1), [v.bos]);
});

test("special-id defaults follow llama.cpp, and asking for a BOS the vocabulary lacks is an error", () => {
  const v = trainByteLevelBpe(CORPUS.join("\n"), 50);
  // An id outside the vocabulary is ignored and llama.cpp's gpt2 default (11) stays.
  const gpt2 = tokenizerFromGGUF({ ...entriesToMetadata(bpeGGUFEntries(v, "gpt-2")), "tokenizer.ggml.bos_token_id": 99999 });
  assert.equal(gpt2.bos, 11);
  const tiny = tokenizerFromGGUF({ "tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": ["<unk>"] }, "tiny.gguf");
  assert.equal(tiny.bos, undefined); // the llama default 1 is outside a 1-token vocabulary
  assert.throws(() => tiny.encode("x"), /tiny\.gguf: tokenizer\.ggml\.bos_token_id/);
  assert.deepEqual(tiny.encode("x", { addBos: false }), [0, 0, 0, 0]); // "▁x": no byte tokens, so <unk> per byte
});
