// Incremental detokenization for generation: token pieces go through a streaming UTF-8 decoder, which holds back
// an incomplete character until its last byte arrives and emits U+FFFD exactly where a one-shot decode of all the
// bytes would. So the concatenated output equals decode() of the same ids.

import type { PieceTable } from "./pieces.ts";
import type { StreamDecoder } from "./types.ts";
import { createUtf8Decoder } from "./utf8.ts";

export function createStreamDecoder(pieces: PieceTable, renderSpecial: boolean, stripLeadingSpace: boolean): StreamDecoder {
  const decoder = createUtf8Decoder();
  let first = true;
  return {
    push(id: number): string {
      let piece = pieces.piece(id, renderSpecial);
      if (first && stripLeadingSpace && piece[0] === 0x20) piece = piece.subarray(1);
      first = false;
      return decoder.decode(piece, { stream: true });
    },
    flush(): string {
      return decoder.decode();
    },
  };
}
