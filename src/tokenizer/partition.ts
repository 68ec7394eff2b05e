// Splits input text around special tokens before normal tokenization (llama.cpp's tokenizer_st_partition).
// Each special token, longest first, is searched for in every remaining text fragment and cut out as a token
// fragment. User-defined tokens are always searched for; control and unknown tokens only when the caller asks to
// parse special tokens, so "<s>" typed by a user stays text by default.

import { TokenAttr } from "./token-attrs.ts";
import type { Vocab } from "./vocab.ts";

export type Fragment = { readonly text: string } | { readonly token: number };

export function partitionSpecial(text: string, vocab: Vocab, parseSpecial: boolean): Fragment[] {
  if (text.length === 0) return [];
  let fragments: Fragment[] = [{ text }];
  for (const id of vocab.specialSearchOrder) {
    if (!parseSpecial && (vocab.attrs[id] & (TokenAttr.control | TokenAttr.unknown)) !== 0) continue;
    const needle = vocab.texts[id];
    let next: Fragment[] | undefined;
    for (let f = 0; f < fragments.length; f++) {
      const fragment = fragments[f];
      const hay = "text" in fragment ? fragment.text : undefined;
      let at = hay === undefined ? -1 : hay.indexOf(needle);
      if (at < 0) {
        next?.push(fragment);
        continue;
      }
      next ??= fragments.slice(0, f);
      let from = 0;
      while (at >= 0) {
        if (at > from) next.push({ text: hay!.slice(from, at) });
        next.push({ token: id });
        from = at + needle.length;
        at = hay!.indexOf(needle, from);
      }
      if (from < hay!.length) next.push({ text: hay!.slice(from) });
    }
    if (next) fragments = next;
  }
  return fragments;
}
