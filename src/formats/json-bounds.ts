/**
 * A cheap look at untrusted JSON before JSON.parse builds it: how deep its brackets nest and how many
 * keys its top-level object has, in one pass over the bytes that stops early at either limit. Parsing
 * a header of millions of nested brackets or empty entries costs seconds and gigabytes; this costs
 * one loop. It does not validate the JSON (JSON.parse does that afterwards).
 */

export interface JsonBounds {
  /** Byte index where the nesting first went past `maxDepth`, or -1. */
  tooDeepAt: number;
  /** Keys of the top-level object, counted up to `maxKeys + 1`. */
  topLevelKeys: number;
}

/** Scans UTF-8 JSON bytes outside strings. UTF-8 never uses an ASCII byte inside a longer character, so bytes suffice. */
export function scanJson(bytes: Uint8Array, maxDepth: number, maxKeys = Infinity): JsonBounds {
  let depth = 0;
  let keys = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return { tooDeepAt: i, topLevelKeys: keys };
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x3a && depth === 1 && ++keys > maxKeys) return { tooDeepAt: -1, topLevelKeys: keys };
  }
  return { tooDeepAt: -1, topLevelKeys: keys };
}
