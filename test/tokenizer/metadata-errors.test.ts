// Bad or missing tokenizer metadata: each error is one line naming the file and the key at fault.

import assert from "node:assert/strict";
import { test } from "node:test";
import { tokenizerFromGGUF } from "../../src/tokenizer/index.ts";

const FILE = "models/broken.gguf";

function spm(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const tokens = ["<unk>", "<s>", "</s>", "▁a", "a"];
  return {
    "tokenizer.ggml.model": "llama",
    "tokenizer.ggml.tokens": tokens,
    "tokenizer.ggml.scores": tokens.map(() => 0),
    "tokenizer.ggml.token_type": [2, 3, 3, 1, 1],
    ...overrides,
  };
}

function expectError(metadata: Record<string, unknown>, ...parts: string[]): void {
  assert.throws(() => tokenizerFromGGUF(metadata, FILE), (err: Error) => {
    assert.ok(!err.message.includes("\n"), `multi-line message: ${err.message}`);
    for (const part of [FILE, ...parts]) assert.ok(err.message.includes(part), `"${err.message}" does not mention ${part}`);
    return true;
  });
}

test("missing tokenizer.ggml.model", () => {
  const { "tokenizer.ggml.model": _, ...rest } = spm();
  expectError(rest, "tokenizer.ggml.model", "missing");
});

test("unsupported tokenizer.ggml.model", () => expectError(spm({ "tokenizer.ggml.model": "bert" }), "tokenizer.ggml.model", "bert"));

test("missing, empty or non-string tokenizer.ggml.tokens", () => {
  expectError(spm({ "tokenizer.ggml.tokens": undefined }), "tokenizer.ggml.tokens", "missing");
  expectError(spm({ "tokenizer.ggml.tokens": [], "tokenizer.ggml.scores": [], "tokenizer.ggml.token_type": [] }), "tokenizer.ggml.tokens", "empty");
  expectError(spm({ "tokenizer.ggml.tokens": ["a", 3, "b", "c", "d"] }), "tokenizer.ggml.tokens", "[1]");
  expectError(spm({ "tokenizer.ggml.tokens": "abc" }), "tokenizer.ggml.tokens", "array");
});

test("tokens/scores and tokens/token_type length mismatches", () => {
  expectError(spm({ "tokenizer.ggml.scores": [0, 0, 0] }), "tokenizer.ggml.scores", "3", "5");
  expectError(spm({ "tokenizer.ggml.token_type": [1, 1, 1, 1, 1, 1] }), "tokenizer.ggml.token_type", "6", "5");
});

test("wrongly typed flags and ids", () => {
  expectError(spm({ "tokenizer.ggml.add_bos_token": "yes" }), "tokenizer.ggml.add_bos_token", "boolean");
  expectError(spm({ "tokenizer.ggml.bos_token_id": 1.5 }), "tokenizer.ggml.bos_token_id", "integer");
  expectError(spm({ "tokenizer.ggml.scores": [0, 0, "x", 0, 0] }), "tokenizer.ggml.scores", "[2]");
});

test("gpt2 without merges, and an unknown pre-tokenizer", () => {
  const gpt2 = { ...spm({ "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "llama-bpe" }) };
  expectError(gpt2, "tokenizer.ggml.merges", "missing");
  expectError({ ...gpt2, "tokenizer.ggml.merges": ["a b"], "tokenizer.ggml.pre": "no-such-pre" }, "tokenizer.ggml.pre", "no-such-pre");
});

test("decoding an id outside the vocabulary names the id", () => {
  const tok = tokenizerFromGGUF(spm(), FILE);
  assert.throws(() => tok.decode([3, 99]), /models\/broken\.gguf: token id 99 is outside the vocabulary \(size 5\)/);
  assert.throws(() => tok.tokenToBytes(-1), /token id -1/);
});

test("out-of-range special ids are ignored as llama.cpp does, and bigints are accepted", () => {
  const tok = tokenizerFromGGUF(spm({ "tokenizer.ggml.eos_token_id": 77n, "tokenizer.ggml.bos_token_id": 1n, "tokenizer.ggml.padding_token_id": -1 }), FILE);
  assert.equal(tok.bos, 1);
  assert.equal(tok.eos, 2); // the llama default, kept because 77 is not a token
});

test("byte fallback without byte tokens falls back to the unknown token", () => {
  const tok = tokenizerFromGGUF(spm(), FILE);
  assert.deepEqual(tok.encode("a中", { addBos: false }), [3, 0, 0, 0]);
  assert.deepEqual(tok.encode(" 中", { addBos: false }), [0, 0, 0, 0, 0, 0, 0, 0, 0]); // "▁▁中": three 3-byte characters
});

test("the file's own strings in a message are escaped and cut, so it stays one line (found by the fuzzer)", () => {
  expectError(spm({ "tokenizer.ggml.model": "lla\na" }), "tokenizer.ggml.model", '"lla\\u000aa" is not supported');
  assert.throws(() => tokenizerFromGGUF(spm({ "tokenizer.ggml.model": "x".repeat(100_000) }), FILE), (err: Error) => err.message.length < 500);
});
