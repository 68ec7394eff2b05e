/**
 * The ternary layouts of SPEC §3 decoded straight from their element formulas, for tests that hold the codecs
 * and the converter to the spec. Independent of src/quant: even fp16 is decoded from the IEEE 754 definition.
 * Decoding only; the codecs' own pack, quantize and row paths are what the tests check.
 */

/** Codes in element order, and the scales: one d per 256-value block (TQ), or the tensor's one scale (I2_S). */
export interface SpecDecoded {
  codes: Int8Array;
  d: number[];
}

/** fp16 bits → value, from the IEEE 754 binary16 definition. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** TQ2_0: 66-byte blocks of qs[64] and an fp16 d; element j + 32l + m (j ∈ {0, 128}) is ((qs[j/4 + m] >> 2l) & 3) − 1. */
export function specTq2_0(bytes: Uint8Array, n: number): SpecDecoded {
  const codes = new Int8Array(n);
  const d: number[] = [];
  for (let b = 0; b < n / 256; b++) {
    const o = b * 66;
    d.push(halfToNumber(bytes[o + 64] | (bytes[o + 65] << 8)));
    for (const j of [0, 128]) {
      for (let l = 0; l < 4; l++) for (let m = 0; m < 32; m++) codes[b * 256 + j + 32 * l + m] = ((bytes[o + j / 4 + m] >> (2 * l)) & 3) - 1;
    }
  }
  return { codes, d };
}

/** TQ1_0: 54-byte blocks; trit k of a byte is ((uint8)(byte·3^k)·3) >> 8, elements placed by the three byte runs, then an fp16 d. */
export function specTq1_0(bytes: Uint8Array, n: number): SpecDecoded {
  const trit = (byte: number, k: number) => ((((byte * 3 ** k) & 0xff) * 3) >> 8) - 1;
  const codes = new Int8Array(n);
  const d: number[] = [];
  for (let b = 0; b < n / 256; b++) {
    const o = b * 54;
    const at = b * 256;
    d.push(halfToNumber(bytes[o + 52] | (bytes[o + 53] << 8)));
    for (let m = 0; m < 32; m++) for (let k = 0; k < 5; k++) codes[at + m + 32 * k] = trit(bytes[o + m], k);
    for (let m = 0; m < 16; m++) for (let k = 0; k < 5; k++) codes[at + 160 + m + 16 * k] = trit(bytes[o + 32 + m], k);
    for (let j = 0; j < 4; j++) for (let k = 0; k < 4; k++) codes[at + 240 + j + 4 * k] = trit(bytes[o + 48 + j], k);
  }
  return { codes, d };
}

/**
 * I2_S: 128-value blocks of 32 bytes, byte j = c[j]<<6 | c[32+j]<<4 | c[64+j]<<2 | c[96+j], then an f32 scale;
 * `tail` is the 32 bytes after the codes (the scale and its padding).
 */
export function specI2S(bytes: Uint8Array, n: number): SpecDecoded & { tail: Uint8Array } {
  const codes = new Int8Array(n);
  for (let blk = 0; blk < n / 128; blk++) {
    for (let j = 0; j < 32; j++) {
      const byte = bytes[blk * 32 + j];
      for (let q = 0; q < 4; q++) codes[blk * 128 + q * 32 + j] = ((byte >> (6 - 2 * q)) & 3) - 1;
    }
  }
  const scale = new DataView(bytes.buffer, bytes.byteOffset + n / 4, 4).getFloat32(0, true);
  return { codes, d: [scale], tail: bytes.subarray(n / 4, n / 4 + 32) };
}
