// The pre-tokenizer of byte-level BPE vocabularies: `tokenizer.ggml.pre` selects a list of regexes, as in
// llama.cpp's llm_tokenizer_bpe, and the text is cut into words before any merge happens. Each regex refines the
// pieces left by the previous one; text between matches is kept as a piece of its own (llama.cpp's
// unicode_regex_split). Only the pre-tokenizer names listed in PRE_TOKENIZERS are supported; others are an error.
//
// `\s` is written as \p{White_Space}: that is the set llama.cpp uses (unicode_set_whitespace), whereas JavaScript's
// \s adds U+FEFF and drops U+0085.

import { quoted } from "../formats/describe.ts";
import { fail } from "./errors.ts";

const S = "\\p{White_Space}";
const CONTRACTIONS_CI = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

/** LLaMA-3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` */
function llama3Like(digits: string): string {
  return `${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}${digits}| ?[^${S}\\p{L}\\p{N}]+[\\r\\n]*|[${S}]*[\\r\\n]+|[${S}]+(?![^${S}])|[${S}]+`;
}
const LLAMA3 = llama3Like("{1,3}");
const QWEN2 = llama3Like("");
/** GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` */
const GPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${S}\\p{L}\\p{N}]+|[${S}]+(?![^${S}])|[${S}]+`;
/** llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT: punctuation runs first, then GPT-2, then digit runs, then triples. */
const DEFAULT = ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]"];

export interface PreTokenizer {
  readonly regexes: readonly RegExp[];
  /** Whole words already in the vocabulary skip merging (llama.cpp's ignore_merges). */
  readonly ignoreMerges: boolean;
  /** llama.cpp's default add_bos for this pre-tokenizer, before `tokenizer.ggml.add_bos_token` overrides it. */
  readonly addBosDefault: boolean;
  /** llama.cpp's clean_spaces for this pre-tokenizer (what llama_detokenize applies). */
  readonly cleanSpaces: boolean;
}

interface Family {
  names: readonly string[];
  patterns: readonly string[];
  ignoreMerges?: boolean;
  addBos?: boolean;
  cleanSpaces?: boolean;
}

/** Name lists follow llama.cpp's llama_vocab::impl::load; "gpt2" is our alias for llama.cpp's "gpt-2". */
const PRE_TOKENIZERS: readonly Family[] = [
  { names: ["default", ""], patterns: DEFAULT },
  {
    names: ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"],
    patterns: [LLAMA3],
    ignoreMerges: true,
    addBos: true,
  },
  { names: ["dbrx", "smaug-bpe"], patterns: [LLAMA3] },
  {
    names: ["gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
      "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais"],
    patterns: [GPT2],
  },
  { names: ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez"], patterns: [QWEN2], cleanSpaces: false },
  { names: ["stablelm2"], patterns: [QWEN2] },
];

export function supportedPreTokenizers(): string[] {
  return PRE_TOKENIZERS.flatMap((f) => f.names).filter((n) => n !== "");
}

/** `pre` undefined means the key is absent; llama.cpp then falls back to "default" (with a warning). */
export function preTokenizerFor(pre: string | undefined, what: string): PreTokenizer {
  const name = pre ?? "";
  const family = PRE_TOKENIZERS.find((f) => f.names.includes(name));
  if (!family) {
    fail(what, "tokenizer.ggml.pre", `${quoted(name)} is not a supported pre-tokenizer (supported: ${supportedPreTokenizers().join(", ")})`);
  }
  return {
    regexes: family.patterns.map((p) => new RegExp(p, "gu")),
    ignoreMerges: family.ignoreMerges ?? false,
    addBosDefault: family.addBos ?? false,
    cleanSpaces: family.cleanSpaces ?? true,
  };
}

/** Cuts `text` into pre-tokenizer words: matches and the gaps between them, refined regex by regex. */
export function splitWords(text: string, regexes: readonly RegExp[]): string[] {
  let pieces = text.length > 0 ? [text] : [];
  for (const regex of regexes) {
    const next: string[] = [];
    for (const piece of pieces) {
      let last = 0;
      regex.lastIndex = 0;
      for (const m of piece.matchAll(regex)) {
        if (m[0].length === 0) continue;
        if (m.index > last) next.push(piece.slice(last, m.index));
        next.push(m[0]);
        last = m.index + m[0].length;
      }
      if (last < piece.length) next.push(piece.slice(last));
    }
    pieces = next;
  }
  return pieces;
}
