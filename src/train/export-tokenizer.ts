/**
 * The tokenizer half of an export: a trained byte-level BPE vocabulary (GPT-2 style: token strings in GPT-2's
 * byte-to-unicode alphabet, merges "left right" by priority) written as GGUF `tokenizer.ggml.*` metadata and as
 * Hugging Face `tokenizer.json` / `tokenizer_config.json` objects. It checks the vocabulary first, so a broken one
 * fails here with the field named instead of inside llama.cpp.
 *
 * Choices that make the exported vocabulary read the same everywhere:
 * - `tokenizer.ggml.model` is "gpt2" and `tokenizer.ggml.pre` defaults to "gpt-2", the name llama.cpp and our
 *   tokenizer both map to GPT-2's split regex. Our tokenizer also accepts "gpt2" as an alias, llama.cpp does not
 *   ("unknown pre-tokenizer type"), so "gpt2" is written as "gpt-2".
 * - bos and eos are control tokens (type 3), everything else normal (type 1). `add_bos_token` is false: the
 *   trainer feeds documents without a BOS unless it puts one in the data itself.
 * - When the model has more embedding rows than the vocabulary has tokens, the missing ids become control tokens
 *   `<|unused_N|>` (llama.cpp marks control tokens whose text contains "unused" as unused), because both
 *   llama.cpp and our loader require exactly one token per embedding row.
 * It does not train or apply the BPE (bpe-trainer.ts and src/tokenizer do).
 */

import type { GGUFMetadataEntry } from "../formats/gguf/writer.ts";
import { TokenizerKey, metadataEntry } from "../formats/gguf/names.ts";
import { supportedPreTokenizers } from "../tokenizer/index.ts";

/** A trained byte-level BPE vocabulary, as the trainer hands it to the exporters. */
export interface TrainedTokenizer {
  /** One string per id, in GPT-2's byte-to-unicode alphabet (a space is "Ġ"); all 256 byte symbols included. */
  tokens: string[];
  /** Merge rules "left right", highest priority first; both sides are tokens. */
  merges: string[];
  bos: number;
  eos: number;
  /** The pre-tokenizer (`tokenizer.ggml.pre`); default "gpt-2". */
  pre?: string;
}

export const DEFAULT_PRE_TOKENIZER = "gpt-2";

/** GGUF `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type). */
const TokenType = { normal: 1, control: 3 } as const;

/** GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest map to U+0100 onwards. */
function byteSymbols(): string[] {
  const symbols: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    symbols.push(String.fromCodePoint(printable ? b : 256 + extra++));
  }
  return symbols;
}

/** The pre-tokenizer name to write: checked against ours, with our "gpt2" alias spelled as llama.cpp spells it. */
export function exportedPreTokenizer(pre: string | undefined): string {
  const name = pre ?? DEFAULT_PRE_TOKENIZER;
  if (name === "gpt2") return "gpt-2";
  const supported = supportedPreTokenizers();
  if (!supported.includes(name)) throw new Error(`tokenizer export: pre-tokenizer "${name}" is not supported (supported: ${supported.join(", ")})`);
  return name;
}

/** The id → text table with padding up to `vocabSize`, and the id of the first padding token. */
function paddedTokens(tok: TrainedTokenizer, vocabSize: number): { tokens: string[]; firstPad: number } {
  const n = tok.tokens.length;
  if (n > vocabSize) throw new Error(`tokenizer export: the vocabulary has ${n} tokens but the model has only ${vocabSize} embedding rows`);
  const tokens = tok.tokens.slice();
  const taken = new Set(tokens);
  for (let i = 0; tokens.length < vocabSize; i++) {
    const t = `<|unused_${i}|>`;
    if (!taken.has(t)) tokens.push(t);
  }
  return { tokens, firstPad: n };
}

/** Throws, naming the field, unless `tok` is a usable byte-level BPE vocabulary. */
export function checkTrainedTokenizer(tok: TrainedTokenizer): void {
  const { tokens, merges } = tok;
  if (!Array.isArray(tokens) || tokens.length === 0) throw new Error("tokenizer export: tokens is empty");
  const ids = new Map<string, number>();
  tokens.forEach((t, id) => {
    if (typeof t !== "string" || t.length === 0) throw new Error(`tokenizer export: tokens[${id}] is not a non-empty string`);
    const prev = ids.get(t);
    if (prev !== undefined) throw new Error(`tokenizer export: tokens[${id}] ${JSON.stringify(t)} repeats tokens[${prev}]`);
    ids.set(t, id);
  });
  byteSymbols().forEach((s, b) => {
    if (!ids.has(s)) throw new Error(`tokenizer export: tokens has no entry for byte 0x${b.toString(16).padStart(2, "0")} (${JSON.stringify(s)}); a byte-level vocabulary needs all 256`);
  });
  merges.forEach((m, i) => {
    const parts = typeof m === "string" ? m.split(" ") : [];
    if (parts.length !== 2 || !ids.has(parts[0]) || !ids.has(parts[1])) {
      throw new Error(`tokenizer export: merges[${i}] ${JSON.stringify(m)} is not "left right" with both sides in tokens`);
    }
  });
  for (const key of ["bos", "eos"] as const) {
    const id = tok[key];
    if (!Number.isInteger(id) || id < 0 || id >= tokens.length) throw new Error(`tokenizer export: ${key} ${id} is not a token id (0..${tokens.length - 1})`);
  }
}

/** The `tokenizer.ggml.*` entries for a model with `vocabSize` embedding rows, typed as llama.cpp expects. */
export function ggufTokenizerEntries(tok: TrainedTokenizer, vocabSize: number): GGUFMetadataEntry[] {
  checkTrainedTokenizer(tok);
  const pre = exportedPreTokenizer(tok.pre);
  const { tokens, firstPad } = paddedTokens(tok, vocabSize);
  const types = tokens.map((_, id) => (id === tok.bos || id === tok.eos || id >= firstPad ? TokenType.control : TokenType.normal));
  return [
    metadataEntry(TokenizerKey.model, "gpt2"),
    metadataEntry(TokenizerKey.pre, pre),
    metadataEntry(TokenizerKey.tokens, tokens),
    metadataEntry(TokenizerKey.tokenType, types),
    metadataEntry(TokenizerKey.merges, tok.merges.slice()),
    metadataEntry(TokenizerKey.bosTokenId, tok.bos),
    metadataEntry(TokenizerKey.eosTokenId, tok.eos),
    metadataEntry(TokenizerKey.addBosToken, false),
    metadataEntry(TokenizerKey.addEosToken, false),
  ];
}

/**
 * Hugging Face `tokenizer.json` for the same vocabulary (padded to `vocabSize` like the GGUF one): a BPE model
 * behind the ByteLevel pre-tokenizer, whose built-in regex is GPT-2's. Only the gpt-2 pre-tokenizer is
 * expressible this way; other regex families are refused rather than written with a different split.
 */
export function hfTokenizerJson(tok: TrainedTokenizer, vocabSize: number): Record<string, unknown> {
  checkTrainedTokenizer(tok);
  const pre = exportedPreTokenizer(tok.pre);
  if (pre !== "gpt-2") throw new Error(`tokenizer export: tokenizer.json is written for the gpt-2 pre-tokenizer only, got "${pre}"`);
  const { tokens, firstPad } = paddedTokens(tok, vocabSize);
  const special = tokens.map((_, id) => id).filter((id) => id === tok.bos || id === tok.eos || id >= firstPad);
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: special.map((id) => ({ id, content: tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(tokens.map((t, id) => [t, id])),
      merges: tok.merges.slice(),
    },
  };
}

/** Hugging Face `tokenizer_config.json`: the fast tokenizer, its specials, and no automatic BOS. */
export function hfTokenizerConfig(tok: TrainedTokenizer, maxLength: number): Record<string, unknown> {
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: tok.tokens[tok.bos],
    eos_token: tok.tokens[tok.eos],
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: maxLength,
  };
}
