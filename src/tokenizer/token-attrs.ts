// Token attribute bits (llama.cpp's llama_token_attr) and the mapping from GGUF `tokenizer.ggml.token_type`.
// Attributes rather than raw types, because llama.cpp adjusts them after loading (e.g. marks "<|eot_id|>" as
// control even when the file says otherwise) and several bits can be set at once.

export const TokenAttr = {
  undefined: 0,
  unknown: 1 << 0,
  unused: 1 << 1,
  normal: 1 << 2,
  control: 1 << 3,
  userDefined: 1 << 4,
  byte: 1 << 5,
} as const;

/** GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte; anything else is undefined. */
export function attrFromTokenType(type: number): number {
  switch (type) {
    case 1: return TokenAttr.normal;
    case 2: return TokenAttr.unknown;
    case 3: return TokenAttr.control;
    case 4: return TokenAttr.userDefined;
    case 5: return TokenAttr.unused;
    case 6: return TokenAttr.byte;
    default: return TokenAttr.undefined;
  }
}
