// Reads and checks the `tokenizer.*` keys of a GGUF file into one Vocab record: token strings, scores,
// attributes, merge ranks, special ids and flags, with llama.cpp's defaults where a key is absent
// (llama_vocab::impl::load). The tokenizers (spm.ts, bpe.ts) and tokenizer.ts read this record; they do not look
// at metadata themselves.

import { quoted } from "../formats/describe.ts";
import { fail } from "./errors.ts";
import { readBool, readInteger, readNumberArray, readString, readStringArray, requireString } from "./metadata-values.ts";
import type { Metadata } from "./metadata-values.ts";
import { preTokenizerFor } from "./pretokenize.ts";
import type { PreTokenizer } from "./pretokenize.ts";
import { detectSpecialTokens } from "./special-tokens.ts";
import type { SpecialIds } from "./special-tokens.ts";
import { TokenAttr, attrFromTokenType } from "./token-attrs.ts";
import { utf8Encode } from "./utf8.ts";

export interface Vocab {
  readonly what: string;
  readonly model: "llama" | "gpt2";
  /** Byte-level BPE only. */
  readonly preTokenizer: PreTokenizer | undefined;
  /** Vocabulary strings; an empty one becomes "[EMPTY_<id>]" as in llama.cpp. */
  readonly texts: readonly string[];
  readonly scores: Float64Array;
  readonly attrs: Uint16Array;
  /** String -> id; when two ids share a string the later one wins, as in llama.cpp. */
  readonly idOf: ReadonlyMap<string, number>;
  /** Merge rank by mergeKey(left, right); the first listing of a pair wins. */
  readonly bpeRanks: ReadonlyMap<string, number>;
  readonly ids: Readonly<SpecialIds>;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  /** llama.cpp's clean_spaces flag (what llama_detokenize does; decode only applies it on request). */
  readonly cleanSpaces: boolean;
  readonly eog: ReadonlySet<number>;
  /** Ids with control, user-defined or unknown attributes, longest UTF-8 text first: the order text is searched for them. */
  readonly specialSearchOrder: readonly number[];
  readonly chatTemplate: string | undefined;
}

/**
 * Key of a merge pair: "left right", i.e. the merge line itself, so loading a 280k-merge vocabulary copies no
 * strings. Unambiguous because byte-level symbols never contain U+0020 (the byte 0x20 is spelled "Ġ").
 */
export function mergeKey(left: string, right: string): string {
  return left + " " + right;
}

const SPECIAL_ID_KEYS: readonly [keyof SpecialIds, string][] = [
  ["bos", "bos_token_id"], ["eos", "eos_token_id"], ["eot", "eot_token_id"], ["eom", "eom_token_id"],
  ["unk", "unknown_token_id"], ["sep", "seperator_token_id"], ["pad", "padding_token_id"], ["mask", "mask_token_id"],
  ["fimPre", "fim_pre_token_id"], ["fimSuf", "fim_suf_token_id"], ["fimMid", "fim_mid_token_id"],
  ["fimPad", "fim_pad_token_id"], ["fimRep", "fim_rep_token_id"], ["fimSep", "fim_sep_token_id"],
  // deprecated spellings, read after the current ones as llama.cpp does
  ["fimPre", "prefix_token_id"], ["fimSuf", "suffix_token_id"], ["fimMid", "middle_token_id"],
];

function emptyIds(): SpecialIds {
  return { bos: undefined, eos: undefined, eot: undefined, eom: undefined, unk: undefined, sep: undefined, pad: undefined,
    mask: undefined, fimPre: undefined, fimSuf: undefined, fimMid: undefined, fimPad: undefined, fimRep: undefined, fimSep: undefined };
}

function readMerges(meta: Metadata, what: string): Map<string, number> {
  const merges = readStringArray(meta, "tokenizer.ggml.merges", what);
  if (merges === undefined) fail(what, "tokenizer.ggml.merges", "is missing (required for a gpt2 tokenizer)");
  const ranks = new Map<string, number>();
  for (let i = 0; i < merges.length; i++) {
    // llama.cpp splits at the first space after the first character; a line without one pairs "" with "".
    const key = merges[i].indexOf(" ", 1) < 0 ? mergeKey("", "") : merges[i];
    if (!ranks.has(key)) ranks.set(key, i);
  }
  return ranks;
}

export function vocabFromGGUF(meta: Metadata, what = "GGUF metadata"): Vocab {
  const modelName = requireString(meta, "tokenizer.ggml.model", what);
  if (modelName !== "llama" && modelName !== "gpt2") {
    fail(what, "tokenizer.ggml.model", `${quoted(modelName)} is not supported (expected "llama" or "gpt2")`);
  }
  const model: "llama" | "gpt2" = modelName;

  const tokens = readStringArray(meta, "tokenizer.ggml.tokens", what);
  if (tokens === undefined) fail(what, "tokenizer.ggml.tokens", "is missing");
  if (tokens.length === 0) fail(what, "tokenizer.ggml.tokens", "is empty");
  const n = tokens.length;

  const scores = readNumberArray(meta, "tokenizer.ggml.scores", what);
  if (scores !== undefined && scores.length !== n) {
    fail(what, "tokenizer.ggml.scores", `has ${scores.length} entries but tokenizer.ggml.tokens has ${n}`);
  }
  const types = readNumberArray(meta, "tokenizer.ggml.token_type", what);
  if (types !== undefined && types.length !== n) {
    fail(what, "tokenizer.ggml.token_type", `has ${types.length} entries but tokenizer.ggml.tokens has ${n}`);
  }

  const texts = tokens.map((t, i) => (t === "" ? `[EMPTY_${i}]` : t));
  const idOf = new Map<string, number>();
  texts.forEach((t, i) => idOf.set(t, i));
  const attrs = new Uint16Array(n);
  for (let i = 0; i < n; i++) attrs[i] = types ? attrFromTokenType(types[i]) : TokenAttr.normal;

  // Defaults per model type, then per pre-tokenizer, then explicit keys (llama.cpp's order).
  const ids = emptyIds();
  let preTokenizer: PreTokenizer | undefined;
  let addBos: boolean;
  let addSpacePrefix: boolean;
  let cleanSpaces: boolean;
  let bpeRanks = new Map<string, number>();
  if (model === "llama") {
    // A SentencePiece-style vocabulary from a Hugging Face BPE tokenizer.json merges by its merge ranks, as the
    // HF BPE model does (src/formats/hf/tokenizer.ts marks it); llama.cpp's files merge by score.
    if (readBool(meta, "tokenizer.bitnet.use_merges", what) === true) bpeRanks = readMerges(meta, what);
    Object.assign(ids, { bos: 1, eos: 2, unk: 0 });
    addBos = true;
    addSpacePrefix = true;
    cleanSpaces = false;
  } else {
    bpeRanks = readMerges(meta, what);
    Object.assign(ids, { bos: 11, eos: 11 });
    preTokenizer = preTokenizerFor(readString(meta, "tokenizer.ggml.pre", what), what);
    addBos = preTokenizer.addBosDefault;
    addSpacePrefix = false;
    cleanSpaces = preTokenizer.cleanSpaces;
  }
  addSpacePrefix = readBool(meta, "tokenizer.ggml.add_space_prefix", what) ?? addSpacePrefix;

  for (const [field, suffix] of SPECIAL_ID_KEYS) {
    const current = ids[field];
    if (current !== undefined && current >= n) ids[field] = undefined; // a default outside this vocabulary
    const value = readInteger(meta, `tokenizer.ggml.${suffix}`, what);
    // llama.cpp ignores (with a warning) an id outside the vocabulary and keeps the default.
    if (value !== undefined && value >= 0 && value < n) ids[field] = value;
  }
  addBos = readBool(meta, "tokenizer.ggml.add_bos_token", what) ?? addBos;
  const addEos = readBool(meta, "tokenizer.ggml.add_eos_token", what) ?? false;

  const eog = detectSpecialTokens({ texts, idOf, attrs, ids });

  const specialMask = TokenAttr.control | TokenAttr.userDefined | TokenAttr.unknown;
  const byteLength = (id: number): number => utf8Encode(texts[id]).length;
  const specialSearchOrder = [...attrs.keys()]
    .filter((id) => (attrs[id] & specialMask) !== 0)
    .map((id) => ({ id, len: byteLength(id) }))
    .sort((a, b) => b.len - a.len || a.id - b.id)
    .map((e) => e.id);

  return {
    what, model, preTokenizer, texts, attrs, idOf, bpeRanks, ids, addBos, addEos, addSpacePrefix, cleanSpaces, eog,
    specialSearchOrder,
    scores: Float64Array.from(scores ?? new Array<number>(n).fill(0)),
    chatTemplate: readString(meta, "tokenizer.chat_template", what),
  };
}
