/**
 * A forward-only little-endian cursor over the start of a ByteSource, for parsing file headers.
 * It reads the source in chunks as the parser asks for bytes, so a header of any size (a large
 * vocabulary makes it several MB) is parsed without knowing its length in advance, and it
 * discards what the parser has consumed. It never reads past `limit` (maxHeaderBytes).
 * Parsers check `has(n)` synchronously and `await fill(n, what)` only when it is false, which
 * keeps the per-value cost of big vocabularies low.
 */
import { InvalidFileError, TruncatedFileError } from "../../errors.ts";
import type { ByteSource } from "../source.ts";

const CHUNK = 1 << 20;

const utf8Strict = new TextDecoder("utf-8", { fatal: true });
const utf8Lenient = new TextDecoder("utf-8");

/** Short ASCII strings (most vocabulary pieces) skip TextDecoder, whose per-call cost dominates. */
function isAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] > 0x7f) return false;
  return true;
}

export class HeaderCursor {
  readonly source: ByteSource;
  readonly limit: number;
  /** Absolute file offset of the next byte to parse. */
  pos = 0;
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;

  constructor(source: ByteSource, limit: number) {
    this.source = source;
    this.limit = limit;
  }

  /** Bytes between the cursor and the end of the file. */
  get remaining(): number {
    return this.source.size - this.pos;
  }

  has(n: number): boolean {
    return this.pos + n <= this.bufStart + this.buf.length;
  }

  /** Makes the next `n` bytes available, or throws a one-line error naming `what`. */
  async fill(n: number, what: string): Promise<void> {
    const name = this.source.name;
    if (this.pos + n > this.source.size) {
      throw new TruncatedFileError(`${name}: truncated: ${what} needs ${n} bytes at offset ${this.pos}, but the file ends at ${this.source.size}`);
    }
    if (this.pos + n > this.limit) {
      throw new InvalidFileError(`${name}: header is larger than maxHeaderBytes (${this.limit}) at ${what} (offset ${this.pos})`);
    }
    const bufEnd = this.bufStart + this.buf.length;
    const keep = this.buf.subarray(this.pos - this.bufStart);
    const end = Math.min(this.source.size, Math.max(this.pos + n, Math.min(this.pos + n + CHUNK, this.limit)));
    const fresh = await this.source.read(bufEnd, end - bufEnd);
    const next = new Uint8Array(keep.length + fresh.length);
    next.set(keep, 0);
    next.set(fresh, keep.length);
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.bufStart = this.pos;
  }

  async need(n: number, what: string): Promise<void> {
    if (!this.has(n)) await this.fill(n, what);
  }

  private at(n: number): number {
    const i = this.pos - this.bufStart;
    this.pos += n;
    return i;
  }

  u8(): number {
    return this.view.getUint8(this.at(1));
  }
  i8(): number {
    return this.view.getInt8(this.at(1));
  }
  u16(): number {
    return this.view.getUint16(this.at(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.at(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.at(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.at(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.at(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.at(8), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.at(8), true);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.at(8), true);
  }
  /** A u64 as a number: exact up to 2^53, approximate (but still huge) above, which is all a size check needs. */
  u64Approx(): number {
    const i = this.at(8);
    return this.view.getUint32(i, true) + this.view.getUint32(i + 4, true) * 2 ** 32;
  }
  bytes(n: number): Uint8Array {
    const i = this.at(n);
    return this.buf.subarray(i, i + n);
  }
  /** UTF-8 text; `strict` rejects invalid UTF-8 (for names), otherwise it is replaced by U+FFFD. */
  text(n: number, strict: boolean): string | undefined {
    const b = this.bytes(n);
    if (n <= 64 && isAscii(b)) return String.fromCharCode.apply(null, b as unknown as number[]); // typed arrays work as apply arguments; the cast only satisfies the signature
    if (!strict) return utf8Lenient.decode(b);
    try {
      return utf8Strict.decode(b);
    } catch {
      return undefined;
    }
  }
}
