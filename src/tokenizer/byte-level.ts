// GPT-2's bytes_to_unicode table: byte-level BPE vocabularies spell every byte as a printable character
// ("Ġ" for space, "Ċ" for newline). Printable Latin-1 bytes map to themselves; the other 68 bytes map, in byte
// order, to U+0100 onwards. This file converts between raw bytes and that spelling, nothing more.

function buildByteToChar(): string[] {
  const table: string[] = new Array<string>(256);
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + next++);
  }
  return table;
}

const byteToChar = buildByteToChar();
const charToByte = new Map<string, number>(byteToChar.map((c, b) => [c, b]));

/** The byte-level spelling of `bytes` (one BMP character per byte). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += byteToChar[bytes[i]];
  return out;
}

/** The byte a byte-level character stands for, or undefined for a character outside the table. */
export function byteLevelCharToByte(char: string): number | undefined {
  return charToByte.get(char);
}

export function byteToByteLevelChar(byte: number): string {
  return byteToChar[byte];
}
