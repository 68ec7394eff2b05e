/**
 * A Hugging Face tokenizer (tokenizer.json, with tokenizer_config.json, generation_config.json and
 * chat_template.jinja when present) turned into the GGUF `tokenizer.*` metadata src/tokenizer reads, the way
 * llama.cpp's converter does, so one tokenizer implementation serves GGUF files and checkpoint directories.
 *
 * Two kinds of tokenizer.json are read, both BPE models:
 * - byte-level BPE (a ByteLevel pre-tokenizer; LLaMA-3, GPT-2, Qwen2 split regexes) → `gpt2`, with the
 *   pre-tokenizer named by matching its regex exactly (no guessing from a hash of test strings);
 * - SentencePiece-style BPE (`byte_fallback`, spaces spelled "▁" by a Metaspace pre-tokenizer or a
 *   Prepend/Replace normalizer, as LLaMA-2's) → `llama`. Its merges are kept as ranks and used by our SPM
 *   tokenizer (`tokenizer.bitnet.use_merges`), so it merges exactly as the HF BPE model does; scores are
 *   derived from the ranks for other readers (llama.cpp merges by score: the earlier merge, the higher).
 * Token types follow llama.cpp: added special tokens are control (3), other added tokens user-defined (4),
 * `<0xXX>` byte tokens byte (6), the unknown token 2, the rest normal (1); ids missing up to the model's
 * vocab_size become `[PAD<id>]` user-defined tokens. BOS/EOS come from tokenizer_config.json, then
 * generation_config.json (eos may be a list), then config.json; add_bos from tokenizer_config.json or the
 * post-processor's template. Anything else (Unigram, WordPiece, an unknown split regex, a normalizer we do
 * not reproduce) is refused with one line naming the file and the field.
 */
import { InvalidFileError, UnsupportedModelError } from "../../errors.ts";
import { TokenizerKey } from "../gguf/names.ts";
import type { GGUFValue } from "../gguf/value-types.ts";
import { filePath, readJSONObject, type HFDirectory } from "./directory.ts";
import { short, type HFModelSpec } from "./config.ts";

type Json = Record<string, unknown>;

/** Marks a `llama` vocabulary whose merges (not its scores) decide the merge order. */
export const USE_MERGES_KEY = "tokenizer.bitnet.use_merges";

const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, byte: 6 } as const;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The split regexes of the byte-level pre-tokenizers we implement, exactly as tokenizer.json spells them. */
const SPLIT_REGEXES: Record<string, string> = {
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": "llama-bpe",
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": "qwen2",
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+": "gpt-2",
};

function components(pre: unknown): Json[] {
  if (!isObject(pre)) return [];
  if (pre.type === "Sequence" && Array.isArray(pre.pretokenizers)) return pre.pretokenizers.filter(isObject);
  return [pre];
}

interface Style {
  model: "gpt2" | "llama";
  pre?: string;
  addSpacePrefix?: boolean;
}

function detectStyle(tj: Json, file: string): Style {
  const pres = components(tj.pre_tokenizer);
  const byteLevel = pres.find((p) => p.type === "ByteLevel");
  const normalizer = tj.normalizer;
  if (byteLevel) {
    if (normalizer !== null && normalizer !== undefined) throw new UnsupportedModelError(`${file}: a byte-level tokenizer with a normalizer (${short(isObject(normalizer) ? normalizer.type : normalizer)}) is not supported`);
    if (byteLevel.add_prefix_space === true) throw new UnsupportedModelError(`${file}: pre_tokenizer ByteLevel.add_prefix_space true is not supported`);
    const splits = pres.filter((p) => p.type === "Split");
    const others = pres.filter((p) => p.type !== "Split" && p.type !== "ByteLevel");
    if (others.length > 0) throw new UnsupportedModelError(`${file}: pre-tokenizer ${short(others[0].type)} is not supported`);
    if (splits.length === 0) {
      if (byteLevel.use_regex === false) throw new UnsupportedModelError(`${file}: a ByteLevel pre-tokenizer without a split regex is not supported`);
      return { model: "gpt2", pre: "gpt-2" };
    }
    if (splits.length > 1) throw new UnsupportedModelError(`${file}: a pre-tokenizer with ${splits.length} Split steps is not supported`);
    const pattern = isObject(splits[0].pattern) ? splits[0].pattern.Regex : undefined;
    if (typeof pattern !== "string") throw new UnsupportedModelError(`${file}: pre_tokenizer Split has no Regex pattern`);
    const name = Object.hasOwn(SPLIT_REGEXES, pattern) ? SPLIT_REGEXES[pattern] : undefined;
    if (!name) throw new UnsupportedModelError(`${file}: the pre-tokenizer's split regex ${short(pattern)} is not one bitnet-ts implements (LLaMA-3, Qwen2, GPT-2)`);
    return { model: "gpt2", pre: name };
  }
  // SentencePiece style: spaces become "▁" either in the normalizer or in a Metaspace pre-tokenizer.
  const meta = pres.find((p) => p.type === "Metaspace");
  if (meta) {
    if (pres.length > 1) throw new UnsupportedModelError(`${file}: a Metaspace pre-tokenizer combined with others is not supported`);
    if (meta.split === true) throw new UnsupportedModelError(`${file}: pre_tokenizer Metaspace.split true is not supported`);
    if (normalizer !== null && normalizer !== undefined) throw new UnsupportedModelError(`${file}: a Metaspace tokenizer with a normalizer is not supported`);
    const scheme = meta.prepend_scheme ?? (meta.add_prefix_space === false ? "never" : "always");
    return { model: "llama", addSpacePrefix: scheme !== "never" };
  }
  if (pres.length > 0) throw new UnsupportedModelError(`${file}: pre-tokenizer ${short(pres[0].type)} is not supported`);
  const steps = isObject(normalizer) ? (normalizer.type === "Sequence" && Array.isArray(normalizer.normalizers) ? normalizer.normalizers.filter(isObject) : [normalizer]) : [];
  let prepend = false;
  let replace = false;
  for (const s of steps) {
    if (s.type === "Prepend" && s.prepend === "\u2581") prepend = true;
    else if (s.type === "Replace" && isObject(s.pattern) && s.pattern.String === " " && s.content === "\u2581") replace = true;
    else throw new UnsupportedModelError(`${file}: normalizer ${short(s.type)} is not supported`);
  }
  if (!replace) throw new UnsupportedModelError(`${file}: neither a ByteLevel nor a Metaspace pre-tokenizer nor a "▁" normalizer: this tokenizer kind is not supported`);
  return { model: "llama", addSpacePrefix: prepend };
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (isObject(v) && typeof v.content === "string") return v.content;
  return undefined;
}

/** The template's first and last special tokens (TemplateProcessing, possibly inside a Sequence). */
function templateEnds(post: unknown): { first?: string; last?: string } {
  const procs = isObject(post) ? (post.type === "Sequence" && Array.isArray(post.processors) ? post.processors.filter(isObject) : [post]) : [];
  const tp = procs.find((p) => p.type === "TemplateProcessing");
  if (!tp || !Array.isArray(tp.single)) return {};
  const special = (piece: unknown): string | undefined => (isObject(piece) && isObject(piece.SpecialToken) && typeof piece.SpecialToken.id === "string" ? piece.SpecialToken.id : undefined);
  return { first: special(tp.single[0]), last: tp.single.length > 1 ? special(tp.single[tp.single.length - 1]) : undefined };
}

export interface HFTokenizerFiles {
  tokenizer: Json;
  tokenizerConfig: Json | undefined;
  generationConfig: Json | undefined;
  chatTemplate: string | undefined;
}

/** Reads the tokenizer files of `dir` (tokenizer.json is required). */
export async function readTokenizerFiles(dir: HFDirectory): Promise<HFTokenizerFiles> {
  if (!(await dir.exists("tokenizer.json"))) {
    const hint = (await dir.exists("tokenizer.model")) ? " (it has tokenizer.model, a SentencePiece protobuf, which bitnet-ts does not read)" : "";
    throw new UnsupportedModelError(`${filePath(dir, "tokenizer.json")}: missing${hint}; bitnet-ts reads Hugging Face tokenizers from tokenizer.json`);
  }
  const tokenizer = await readJSONObject(dir, "tokenizer.json");
  const tokenizerConfig = await readJSONObject(dir, "tokenizer_config.json", true);
  const generationConfig = await readJSONObject(dir, "generation_config.json", true);
  let chatTemplate: string | undefined;
  if (await dir.exists("chat_template.jinja")) {
    const src = await dir.open("chat_template.jinja");
    try {
      chatTemplate = new TextDecoder().decode(await src.read(0, Math.min(src.size, 4 * 2 ** 20)));
    } finally {
      await src.close();
    }
  }
  return { tokenizer, tokenizerConfig, generationConfig, chatTemplate };
}

/** `tokenizer.*` metadata for `files`, padded to the model's vocabulary. `dirName` names files in errors. */
export function tokenizerMetadata(files: HFTokenizerFiles, spec: HFModelSpec, dir: HFDirectory): [string, GGUFValue][] {
  const file = filePath(dir, "tokenizer.json");
  const tj = files.tokenizer;
  const model = tj.model;
  if (!isObject(model)) throw new InvalidFileError(`${file}: key 'model' is missing`);
  if (model.type !== "BPE" && !(model.type === undefined && isObject(model.vocab) && Array.isArray(model.merges))) {
    throw new UnsupportedModelError(`${file}: model.type ${short(model.type)} is not supported (bitnet-ts reads BPE tokenizers)`);
  }
  if (!isObject(model.vocab)) throw new InvalidFileError(`${file}: model.vocab is not an object`);
  if (!Array.isArray(model.merges)) throw new InvalidFileError(`${file}: model.merges is not a list`);
  const style = detectStyle(tj, file);
  // The LLaMA-3 pre-tokenizer family emits a whole word found in the vocabulary without merging; the others merge.
  const ignoresMerges = style.pre === "llama-bpe";
  if (style.model === "gpt2" && (model.ignore_merges === true) !== ignoresMerges) {
    throw new UnsupportedModelError(`${file}: model.ignore_merges is ${String(model.ignore_merges ?? false)}, which bitnet-ts does not implement with the ${style.pre} pre-tokenizer`);
  }

  // id → text, from the model's vocabulary and the added tokens.
  const texts: (string | undefined)[] = [];
  const types: number[] = [];
  const put = (id: unknown, text: string, type: number, where: string): void => {
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) throw new InvalidFileError(`${file}: ${where} has id ${short(id)}, not a token id`);
    if (id >= spec.vocabSize) throw new InvalidFileError(`${file}: ${where} has id ${id}, but config.json's vocab_size is ${spec.vocabSize}`);
    const prior = texts[id];
    if (prior !== undefined && prior !== text) throw new InvalidFileError(`${file}: id ${id} is both ${short(prior)} and ${short(text)}`);
    texts[id] = text;
    types[id] = type;
  };
  const byteToken = /^<0x[0-9A-F]{2}>$/;
  const unk = typeof model.unk_token === "string" ? model.unk_token : undefined;
  for (const [text, id] of Object.entries(model.vocab)) {
    const type = style.model === "llama" && byteToken.test(text) ? TokenType.byte : text === unk ? TokenType.unknown : TokenType.normal;
    put(id, text, type, `model.vocab entry ${short(text)}`);
  }
  const added = tj.added_tokens ?? [];
  if (!Array.isArray(added)) throw new InvalidFileError(`${file}: added_tokens is not a list`);
  added.forEach((a, i) => {
    if (!isObject(a) || typeof a.content !== "string") throw new InvalidFileError(`${file}: added_tokens[${i}] has no content`);
    put(a.id, a.content, a.special === true ? TokenType.control : TokenType.userDefined, `added_tokens[${i}]`);
  });
  const tokens: string[] = [];
  const tokenTypes: number[] = [];
  for (let id = 0; id < spec.vocabSize; id++) {
    tokens.push(texts[id] ?? `[PAD${id}]`);
    tokenTypes.push(texts[id] === undefined ? TokenType.userDefined : types[id]);
  }
  const idOf = new Map<string, number>();
  tokens.forEach((t, id) => idOf.set(t, id));

  const merges = model.merges.map((m, i) => {
    const pair = typeof m === "string" ? m.split(" ") : Array.isArray(m) ? m : [];
    if (pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string" || pair[0].includes(" ") || pair[1].includes(" ")) {
      throw new UnsupportedModelError(`${file}: model.merges[${i}] is ${short(m)}; bitnet-ts reads merges of two tokens without spaces`);
    }
    return `${pair[0]} ${pair[1]}`;
  });

  const cfg = files.tokenizerConfig ?? {};
  const gen = files.generationConfig ?? {};
  const cfgFile = filePath(dir, "tokenizer_config.json");
  const idOfName = (v: unknown, key: string): number | undefined => {
    const name = tokenName(v);
    if (name === undefined) return undefined;
    const id = idOf.get(name);
    if (id === undefined) throw new InvalidFileError(`${cfgFile}: ${key} ${short(name)} is not in the vocabulary`);
    return id;
  };
  const genIds = (key: string): number[] => {
    const v = gen[key];
    const list = v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
    return list.filter((x): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0 && x < spec.vocabSize);
  };
  const bos = idOfName(cfg.bos_token, "bos_token") ?? genIds("bos_token_id")[0] ?? spec.bosTokenId;
  const eosList = [...new Set([...(idOfName(cfg.eos_token, "eos_token") !== undefined ? [idOfName(cfg.eos_token, "eos_token") as number] : []), ...genIds("eos_token_id"), ...spec.eosTokenIds])];
  const eos = eosList[0];
  const pad = idOfName(cfg.pad_token, "pad_token");
  const ends = templateEnds(tj.post_processor);
  const addBos = typeof cfg.add_bos_token === "boolean" ? cfg.add_bos_token : ends.first !== undefined && idOf.get(ends.first) === bos;
  const addEos = typeof cfg.add_eos_token === "boolean" ? cfg.add_eos_token : ends.last !== undefined && idOf.get(ends.last) === eos;
  let chatTemplate = files.chatTemplate;
  if (chatTemplate === undefined) {
    const t = cfg.chat_template;
    if (typeof t === "string") chatTemplate = t;
    else if (Array.isArray(t)) {
      const named = t.find((e) => isObject(e) && e.name === "default") ?? t[0];
      if (isObject(named) && typeof named.template === "string") chatTemplate = named.template;
    }
  }

  const out: [string, GGUFValue][] = [[TokenizerKey.model, style.model]];
  if (style.pre) out.push([TokenizerKey.pre, style.pre]);
  else out.push([TokenizerKey.pre, "default"]);
  out.push([TokenizerKey.tokens, tokens]);
  if (style.model === "llama") {
    // The earlier a merge, the higher the score of the token it makes; tokens no merge makes score lowest.
    const scores = new Array<number>(tokens.length).fill(-(merges.length + 1));
    merges.forEach((m, rank) => {
      const id = idOf.get(m.replace(" ", ""));
      if (id !== undefined && scores[id] === -(merges.length + 1)) scores[id] = -rank;
    });
    for (let id = 0; id < tokens.length; id++) if (tokenTypes[id] !== TokenType.normal) scores[id] = 0;
    out.push([TokenizerKey.scores, scores]);
  }
  out.push([TokenizerKey.tokenType, tokenTypes]);
  out.push([TokenizerKey.merges, merges]);
  if (style.model === "llama") out.push([USE_MERGES_KEY, true]);
  if (bos !== undefined) out.push([TokenizerKey.bosTokenId, bos]);
  if (eos !== undefined) out.push([TokenizerKey.eosTokenId, eos]);
  // A second end-of-generation id (LLaMA-3's <|eot_id|> next to <|end_of_text|>) becomes eot.
  if (eosList.length > 1) out.push([TokenizerKey.eotTokenId, eosList[1]]);
  if (unk !== undefined && idOf.has(unk)) out.push([TokenizerKey.unknownTokenId, idOf.get(unk) as number]);
  if (pad !== undefined) out.push([TokenizerKey.paddingTokenId, pad]);
  out.push([TokenizerKey.addBosToken, addBos]);
  out.push([TokenizerKey.addEosToken, addEos]);
  if (style.model === "llama") out.push([TokenizerKey.addSpacePrefix, style.addSpacePrefix ?? true]);
  if (chatTemplate !== undefined) out.push([TokenizerKey.chatTemplate, chatTemplate]);
  return out;
}
