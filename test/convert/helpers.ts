/**
 * Shared pieces of the convert and info tests: small
 * float64 / from-the-spec re-implementations (absmean, round half to even, a TQ2_0 and I2_S decoder,
 * fp16 rounding) that the tests hold bitnet-ts's converter to. None of it imports the code under test.
 */
import { prng } from "../helpers/prng.ts";

/** Nearest fp16 value (ties to even); Node 24 has Math.f16round, TypeScript's ES2023 lib does not know it yet. */
export const f16round: (x: number) => number = (Math as unknown as { f16round(x: number): number }).f16round;

/** torch.round: to nearest, ties to even, in float64. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * BitNet's absmean rule (SPEC §1) in float64: γ = max(mean|W|, 1e-5), W̃ = clamp(roundHalfEven(W/γ), -1, 1).
 * `gamma32` is γ rounded once to float32, the value a file stores.
 */
export function absmean64(w: ArrayLike<number>): { gamma: number; gamma32: number; codes: Int8Array } {
  let sum = 0;
  for (let i = 0; i < w.length; i++) sum += Math.abs(w[i]);
  const gamma = Math.max(sum / w.length, 1e-5);
  const codes = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) codes[i] = Math.max(-1, Math.min(1, roundHalfEven(w[i] / gamma)));
  return { gamma, gamma32: Math.fround(gamma), codes };
}

/** fp16 bits → value, straight from the IEEE 754 binary16 definition. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * TQ2_0 decoded from SPEC §3: 66-byte blocks of qs[64] and an fp16 d; element j + 32l + m (j ∈ {0, 128})
 * is ((qs[j/4 + m] >> 2l) & 3) − 1.
 */
export function decodeTQ2_0(bytes: Uint8Array, n: number): { codes: Int8Array; d: Float64Array } {
  const nb = n / 256;
  const codes = new Int8Array(n);
  const d = new Float64Array(nb);
  for (let b = 0; b < nb; b++) {
    const o = b * 66;
    d[b] = halfToNumber(bytes[o + 64] | (bytes[o + 65] << 8));
    for (const j of [0, 128]) {
      for (let l = 0; l < 4; l++) {
        for (let m = 0; m < 32; m++) codes[b * 256 + j + 32 * l + m] = ((bytes[o + j / 4 + m] >> (2 * l)) & 3) - 1;
      }
    }
  }
  return { codes, d };
}

/** I2_S decoded from SPEC §3: 128-value blocks of 32 bytes, byte j = c[j]<<6 | c[32+j]<<4 | c[64+j]<<2 | c[96+j], then an f32 γ. */
export function decodeI2S(bytes: Uint8Array, n: number): { codes: Int8Array; scale: number; tail: Uint8Array } {
  const codes = new Int8Array(n);
  for (let blk = 0; blk < n / 128; blk++) {
    for (let j = 0; j < 32; j++) {
      const byte = bytes[blk * 32 + j];
      for (let q = 0; q < 4; q++) codes[blk * 128 + q * 32 + j] = ((byte >> (6 - 2 * q)) & 3) - 1;
    }
  }
  const scale = new DataView(bytes.buffer, bytes.byteOffset + n / 4, 4).getFloat32(0, true);
  return { codes, scale, tail: bytes.subarray(n / 4, n / 4 + 32) };
}

/** A seeded standard normal sequence (mulberry32 + Box–Muller), the same on every run. */
export function gaussian(seed: number): () => number {
  const uniform = prng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
