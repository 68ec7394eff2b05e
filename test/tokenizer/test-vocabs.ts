// Vocabularies built by the tests, so the tokenizers can be checked on more than the fixtures' tiny SPM vocab:
// a byte-level BPE vocabulary learned from a small corpus by the tests' own trainer (test/helpers/bpe.ts,
// independent of src/tokenizer), as GGUF metadata entries and as the tokenizer.json that @huggingface/tokenizers
// reads, and an SPM vocabulary with seeded scores. Deterministic: same corpus, same vocabularies.

import type { GGUFMetadataEntry } from "../../src/formats/gguf/writer.ts";
import { byteLevel, naiveBpe, wordCounts } from "../helpers/bpe.ts";
import { prng } from "../helpers/prng.ts";
import { entry } from "./reference.ts";

export const CORPUS = [
  "The quick brown fox jumps over the lazy dog. The dog didn't care; it's the fox's problem, isn't it?",
  "They're here, we've seen them, I'm sure you'll agree and he'd say so. THE END's near.",
  "In 2024, 1234567 people paid $3.50 each (roughly 4,320,000 in total) for 100% of the tickets!",
  "function add(a, b) {\n\treturn a + b;\n}\n\nconst x = add(1, 2); // x === 3\n",
  "Unicode: café, naïve, Zürich, Ελληνικά, русский, 中文字符, 日本語のテキスト, 한국어, emoji 😀🎉👍🏽.",
  "    indented lines\n        deeper still\r\n\r\nwindows line ends and   multiple   spaces  ",
  "tokenization tokenizer tokens token merges merging merged the the the and and of of to to in in",
];

export interface BpeVocab {
  tokens: string[];
  types: number[];
  merges: string[];
  bos: number;
  eos: number;
  eot: number;
  userDefined: number;
}

/** The word split the vocabulary is learned with: GPT-2's, without its contraction rules. */
const WORDS = / ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+/gu;

/** Learns `mergeCount` merges with the tests' naive BPE (ties: smallest pair string), then appends the special tokens. */
export function trainByteLevelBpe(corpus: string, mergeCount: number): BpeVocab {
  const { tokens, merges } = naiveBpe(wordCounts(corpus, WORDS), { maxMerges: mergeCount, tieBreak: "text" });
  const types = tokens.map(() => 1);
  const add = (text: string, type: number): number => {
    tokens.push(text);
    types.push(type);
    return tokens.length - 1;
  };
  // A word no merge sequence builds: only ignore_merges (LLaMA-3) can emit it whole.
  add(byteLevel(" zzyzx"), 1);
  const bos = add("<|begin_of_text|>", 3);
  const eos = add("<|end_of_text|>", 3);
  const eot = add("<|eot_id|>", 3);
  const userDefined = add("<tool>", 4);
  return { tokens, types, merges, bos, eos, eot, userDefined };
}

export function bpeGGUFEntries(v: BpeVocab, pre: string): GGUFMetadataEntry[] {
  return [
    entry.str("tokenizer.ggml.model", "gpt2"),
    entry.str("tokenizer.ggml.pre", pre),
    entry.strings("tokenizer.ggml.tokens", v.tokens),
    entry.i32s("tokenizer.ggml.token_type", v.types),
    entry.strings("tokenizer.ggml.merges", v.merges),
    entry.u32("tokenizer.ggml.bos_token_id", v.bos),
    entry.u32("tokenizer.ggml.eos_token_id", v.eos),
  ];
}

/** The LLaMA-3 split regex exactly as Meta's tokenizer.json spells it. */
export const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** tokenizer.json for @huggingface/tokenizers: `llama3` uses a Split + ByteLevel(use_regex=false), `gpt2` ByteLevel's own regex. */
export function hfTokenizerJson(v: BpeVocab, style: "llama3" | "gpt2"): object {
  const special = new Set([v.bos, v.eos, v.eot, v.userDefined]);
  const vocab = Object.fromEntries(v.tokens.map((t, id) => [t, id]).filter(([, id]) => !special.has(id as number)));
  const byteLevelPre = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: style === "gpt2" };
  return {
    version: "1.0",
    added_tokens: [...special].map((id) => ({
      id, content: v.tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: id !== v.userDefined,
    })),
    normalizer: null,
    pre_tokenizer: style === "gpt2" ? byteLevelPre : {
      type: "Sequence",
      pretokenizers: [{ type: "Split", pattern: { Regex: LLAMA3_REGEX }, behavior: "Isolated", invert: false }, byteLevelPre],
    },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false,
      byte_fallback: false, ignore_merges: style === "llama3", vocab, merges: v.merges,
    },
  };
}

export interface SpmVocab {
  tokens: string[];
  scores: number[];
  types: number[];
  control: number;
  userDefined: number;
}

/**
 * An SPM vocabulary: <unk> <s> </s>, the 256 byte tokens, then every character and every substring of up to six
 * characters of the corpus words ("▁"-prefixed), with scores drawn from a few values so that ties happen.
 * A control token, a user-defined token and an unused token come last.
 */
export function buildSpmVocab(corpus: string, seed: number): SpmVocab {
  const random = prng(seed);
  const tokens = ["<unk>", "<s>", "</s>"];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(6);
  }
  const pieces = new Set<string>(["▁"]);
  for (const word of corpus.split(/[ \n\r\t]+/).filter((w) => w.length > 0)) {
    const chars = [..."▁" + word];
    for (let i = 0; i < chars.length; i++) {
      for (let n = 1; n <= 6 && i + n <= chars.length; n++) {
        // Leave out some pieces (but keep all of ASCII) so that byte fallback and partial merges happen.
        const piece = chars.slice(i, i + n).join("");
        if (n === 1 && piece.codePointAt(0)! < 0x80) pieces.add(piece);
        else if (random() < 0.6) pieces.add(piece);
      }
    }
  }
  const scores = tokens.map(() => 0);
  for (const piece of pieces) {
    tokens.push(piece);
    types.push(1);
    scores.push(-Math.floor(random() * 12));
  }
  const extra: [string, number][] = [["<|im_start|>", 3], ["<tool>", 4], ["<unused0>", 5]];
  for (const [text, type] of extra) {
    tokens.push(text);
    types.push(type);
    scores.push(0);
  }
  return { tokens, scores, types, control: tokens.length - 3, userDefined: tokens.length - 2 };
}

export function spmGGUFEntries(v: SpmVocab, options: { addSpacePrefix?: boolean } = {}): GGUFMetadataEntry[] {
  const entries = [
    entry.str("tokenizer.ggml.model", "llama"),
    entry.strings("tokenizer.ggml.tokens", v.tokens),
    entry.f32s("tokenizer.ggml.scores", v.scores),
    entry.i32s("tokenizer.ggml.token_type", v.types),
    entry.u32("tokenizer.ggml.bos_token_id", 1),
    entry.u32("tokenizer.ggml.eos_token_id", 2),
    entry.u32("tokenizer.ggml.unknown_token_id", 0),
  ];
  if (options.addSpacePrefix !== undefined) entries.push(entry.bool("tokenizer.ggml.add_space_prefix", options.addSpacePrefix));
  return entries;
}

/** Strings every tokenizer test runs through both implementations. */
export const SAMPLE_TEXTS: readonly string[] = [
  "", " ", "  ", "\n", "\t", "\r\n", "Hello world", " Hello world", "Hello world ", "  leading two", "trailing two  ",
  "a\nb\n\nc\r\nd", "tabs\tand\t\ttabs", "line one\n  line two\n\n\n", "don't I'm they're WE'VE it'S you'll he'd",
  "12345 1.5 3,000 2024-01-02", "café naïve 中文 😀👍🏽 日本語 한국어", "emoji only 🎉🎉🎉", "no\u00a0break\u3000space",
  "<s>hello</s>", "x<s>y", "</s>", "<unk> and <s>", "<|begin_of_text|>hi<|eot_id|>", "<tool>call</tool>", "<|im_start|>user",
  "a<<s>>b", "zero\u0000byte", "\u{FEFF}bom first", "lone \uD800 surrogate", "punctuation!!! ??? ... ,,, ;;;", "  ' quoted ' and \" double \"",
  "the zzyzx road", "Mixed CASE and camelCaseWords and snake_case_words", "\u0085next line\u2028line sep", "x".repeat(300),
  ...CORPUS,
];
