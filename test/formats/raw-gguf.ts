/**
 * A byte-level GGUF builder for tests, written from the format description and independent of
 * src/formats/gguf/writer.ts: it writes exactly the fields it is told to, so tests can build
 * malformed files (wrong counts, bad types, broken offsets) that our writer would refuse.
 */

export class RawGGUF {
  private parts: number[] = [];

  get length(): number {
    return this.parts.length;
  }
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: number | bigint): this {
    let b = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 8; i++) {
      this.parts.push(Number(b & 0xffn));
      b >>= 8n;
    }
    return this;
  }
  f32(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    this.parts.push(...b);
    return this;
  }
  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.parts.push(bytes[i]);
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u64(b.length).raw(b);
  }
  /** Magic, version and the two counts. */
  header(tensorCount: number | bigint, kvCount: number | bigint, version = 3, magic = "GGUF"): this {
    return this.raw(new TextEncoder().encode(magic)).u32(version).u64(tensorCount).u64(kvCount);
  }
  kvU32(key: string, v: number): this {
    return this.str(key).u32(4).u32(v);
  }
  kvString(key: string, v: string): this {
    return this.str(key).u32(8).str(v);
  }
  tensorInfo(name: string, shape: (number | bigint)[], type: number, offset: number | bigint): this {
    this.str(name).u32(shape.length);
    for (const d of shape) this.u64(d);
    return this.u32(type).u64(offset);
  }
  /** Zero padding up to a multiple of `n`. */
  pad(n: number): this {
    while (this.parts.length % n !== 0) this.parts.push(0);
    return this;
  }
  zeros(n: number): this {
    for (let i = 0; i < n; i++) this.parts.push(0);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}
