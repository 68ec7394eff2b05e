/**
 * Rounding rules the quantizers need, each exact for every double.
 *
 * - `roundHalfEven`: torch.round and BitNet's absmean/absmax quantizers (ties go to the even integer).
 * - `roundHalfAway`: C `roundf`/`lroundf`, which ggml's TQ1_0/TQ2_0 quantizers use (ties go away from zero).
 * - `ggmlNearestInt`: ggml's `nearest_int`, the float32 magic-number trick Q8_K uses; it is half-to-even
 *   inside its valid range and reproduces the C code's bit pattern outside it.
 *
 * `Math.round` is neither rule (it rounds ties towards +∞), so it is only used here with a fix-up.
 * This file does not quantize anything; absmean.ts, absmax.ts and the codecs do.
 */

/**
 * Round to the nearest integer, ties to even. Keeps the sign of zero (-0.4 → -0, -0.5 → -0),
 * returns ±Infinity, NaN and integers (every |x| ≥ 2^52 is one) unchanged.
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // ties towards +∞, so only ties that landed on an odd integer need a step back
  // r - x is exact here (Sterbenz), so the tie test cannot be fooled by rounding.
  // `r & 1` reads the low bit through ToInt32, which is taken modulo 2^32 and so keeps the parity.
  if (r - x === 0.5 && (r & 1) !== 0) return r - 1;
  return r;
}

/** Round to the nearest integer, ties away from zero, as C `roundf`/`round` do. Keeps the sign of zero. */
export function roundHalfAway(x: number): number {
  const t = Math.trunc(x);
  // x - t is exact (same binade or t = 0), so the comparison with 0.5 is exact too.
  if (Math.abs(x - t) >= 0.5) return t + (x > 0 ? 1 : -1);
  return t;
}

const magicF32 = new Float32Array(1);
const magicI32 = new Int32Array(magicF32.buffer);

/**
 * ggml's `nearest_int(float)`: adds 1.5·2^23 in float32 and reads the low mantissa bits.
 * For |x| ≤ 4194303 (the range ggml asserts) this is round-half-even of x. Outside it, ggml's
 * release build returns whatever those bits hold (±Infinity → -4194304, NaN → 0); we reproduce that
 * so that byte-exact emulation survives degenerate inputs (for example a denormal block maximum,
 * whose reciprocal overflows to infinity).
 */
export function ggmlNearestInt(x: number): number {
  if (Math.abs(x) <= 4194303) return roundHalfEven(x);
  magicF32[0] = x + 12582912; // stored as float32, exactly what the C code's float add produces here
  return (magicI32[0] & 0x007fffff) - 0x00400000;
}

/** Round a double to float32 (round to nearest even), the rounding every ggml float operation ends with. */
export const f32 = Math.fround;
