/**
 * float32 ⇄ float16 and float32 ⇄ bfloat16 conversions on raw 16-bit patterns, scalar and bulk.
 *
 * Both narrowing conversions round to nearest, ties to even, with the NaN handling of ggml
 * (ggml-impl.h), so a value we encode is the value llama.cpp would have written:
 * - f16: overflow goes to ±Inf, subnormals are produced and read exactly, any NaN becomes sign|0x7E00.
 * - bf16: `ggml_compute_fp32_to_bf16`, i.e. NaN keeps its sign and top payload bits and is forced
 *   quiet (bits>>16 | 0x40); everything else is (bits + 0x7FFF + lsb) >> 16, overflow included.
 * Widening conversions are exact. This file knows nothing about byte order or files; codecs/float.ts does.
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The float32 bit pattern of x (x is rounded to float32 first). */
export function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

/** The float32 whose bit pattern is `bits`. */
export function f32FromBits(bits: number): number {
  scratchU32[0] = bits;
  return scratchF32[0];
}

/** float32 (given as a JS number, rounded to float32 first) → f16 bit pattern, round to nearest even. */
export function f32ToF16(x: number): number {
  scratchF32[0] = x;
  const u = scratchU32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 : sign | 0x7c00;
  const e = exp - 112; // f16 biased exponent: 127 - 15
  if (e >= 31) return sign | 0x7c00;
  if (e >= 1) {
    let h = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent, up to and including Inf.
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++;
    return sign | h;
  }
  // f16 subnormal (or zero): value / 2^-24 = (1.mant as a 24-bit integer) >> (14 - e).
  const shift = 14 - e;
  if (shift > 24) return sign; // below 2^-25: rounds to zero
  const m = mant | 0x800000;
  let h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1) !== 0)) h++;
  return sign | h;
}

/** f16 bit pattern → float32 value (exact). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** float32 → bf16 bit pattern, exactly as ggml_compute_fp32_to_bf16 does it. */
export function f32ToBf16(x: number): number {
  scratchF32[0] = x;
  const u = scratchU32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  // u + 0x7FFF + lsb stays below 2^32, so the unsigned shift reads it exactly.
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

/** bf16 bit pattern → float32 value (exact). */
export function bf16ToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

let f16Table: Float32Array | null = null;

/** All 65536 f16 values, built on first use (256 KiB) so that bulk decoding is one lookup a value. */
function f16Lookup(): Float32Array {
  if (f16Table === null) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f16ToF32(h);
    f16Table = t;
  }
  return f16Table;
}

/** Bulk f16 → f32. `out` (length ≥ src.length) is filled and returned. */
export function f16ArrayToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = f16Lookup();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]];
  return out;
}

/** Bulk f32 → f16 bit patterns. */
export function f32ArrayToF16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16(src[i]);
  return out;
}

/** Bulk bf16 → f32 (a 16-bit shift per value, through the bit patterns). */
export function bf16ArrayToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

/** Bulk f32 → bf16 bit patterns. */
export function f32ArrayToBf16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const u = bits[i];
    out[i] = (u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 0x40 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
  return out;
}
