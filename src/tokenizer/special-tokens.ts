// llama.cpp's post-load fix-ups of special tokens, recognised by their text because GGUF files rarely say
// enough: which token ends a turn (EOT/EOM), the fill-in-the-middle tokens, which control tokens are "unused",
// and the set of end-of-generation ids. Tokens found this way also become control tokens, as in llama.cpp.
// Mirrors llama_vocab::impl::load in the bundled llama.cpp release; per-model LSTRIP/RSTRIP attributes are not
// reproduced. Where llama.cpp picks the first match in hash-map order, we pick the first text in each list.

import { TokenAttr } from "./token-attrs.ts";

export interface SpecialIds {
  bos: number | undefined;
  eos: number | undefined;
  eot: number | undefined;
  eom: number | undefined;
  unk: number | undefined;
  sep: number | undefined;
  pad: number | undefined;
  mask: number | undefined;
  fimPre: number | undefined;
  fimSuf: number | undefined;
  fimMid: number | undefined;
  fimPad: number | undefined;
  fimRep: number | undefined;
  fimSep: number | undefined;
}

const EOT_TEXTS = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
  "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"];
const EOM_TEXTS = ["<|eom_id|>"];
const FIM_TEXTS: Record<"fimPre" | "fimSuf" | "fimMid" | "fimPad" | "fimRep" | "fimSep", readonly string[]> = {
  fimPre: ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"],
  fimSuf: ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"],
  fimMid: ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"],
  fimPad: ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"],
  fimRep: ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"],
  fimSep: ["<|file_sep|>"],
};
const EOG_TEXTS = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
  "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
  "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["];
/** gpt-oss: always rendered, so they become user-defined. */
const FORCED_USER_DEFINED = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"];

export interface SpecialTokenInput {
  readonly texts: readonly string[];
  readonly idOf: ReadonlyMap<string, number>;
  /** Modified in place. */
  readonly attrs: Uint16Array;
  /** Modified in place (eot, eom and fim ids may be detected). */
  readonly ids: SpecialIds;
}

/** Applies llama.cpp's text-based detection and returns the end-of-generation set. */
export function detectSpecialTokens({ texts, idOf, attrs, ids }: SpecialTokenInput): Set<number> {
  const findFirst = (candidates: readonly string[]): number | undefined => {
    for (const text of candidates) {
      const id = idOf.get(text);
      if (id !== undefined) return id;
    }
    return undefined;
  };
  const markControl = (id: number): void => {
    attrs[id] |= TokenAttr.control;
  };

  if (ids.eot === undefined) {
    ids.eot = findFirst(EOT_TEXTS);
    if (ids.eot !== undefined) markControl(ids.eot);
  }
  if (ids.eom === undefined) {
    ids.eom = findFirst(EOM_TEXTS);
    if (ids.eom !== undefined) markControl(ids.eom);
  }
  for (const key of Object.keys(FIM_TEXTS) as (keyof typeof FIM_TEXTS)[]) {
    if (ids[key] !== undefined) continue;
    ids[key] = findFirst(FIM_TEXTS[key]);
    const id = ids[key];
    if (id !== undefined) markControl(id);
  }

  for (const id of idOf.values()) {
    if ((attrs[id] & TokenAttr.control) !== 0 && texts[id].includes("unused")) attrs[id] |= TokenAttr.unused;
  }

  const eog = new Set<number>();
  for (const id of [ids.fimPad, ids.fimRep, ids.fimSep]) if (id !== undefined) eog.add(id);
  for (const text of EOG_TEXTS) {
    const id = idOf.get(text);
    if (id === undefined) continue;
    eog.add(id);
    markControl(id);
  }

  for (const text of FORCED_USER_DEFINED) {
    const id = idOf.get(text);
    if (id !== undefined) attrs[id] = TokenAttr.userDefined;
  }

  for (const id of [ids.eos, ids.eot, ids.eom]) if (id !== undefined) eog.add(id);

  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation, when these companions exist.
  const eogText = (t: string): number | undefined => [...eog].find((id) => texts[id] === t);
  const endId = eogText("<|end|>");
  const hasCall = eogText("<|call|>") !== undefined || eogText("<|calls|>") !== undefined;
  if (endId !== undefined && hasCall && (eogText("<|return|>") !== undefined || eogText("<|flush|>") !== undefined)) {
    eog.delete(endId);
    attrs[endId] = TokenAttr.userDefined;
  }
  // gemma4 / paddleocr: "</s>" is ordinary text when "<|tool_response>" exists.
  const sId = eogText("</s>");
  if (sId !== undefined && eogText("<|tool_response>") !== undefined) {
    eog.delete(sId);
    attrs[sId] = TokenAttr.normal;
  }
  return eog;
}
