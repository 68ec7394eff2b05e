/**
 * Test input for the Q8_0 quantizers: 1024 blocks of 32 float32 values with the cases rounding rules
 * disagree on: exact ties (a block maximum of 127·2^e makes the scale 2^e, then (k + ½)·2^e is a tie),
 * values a hair off an integer, wide and narrow ranges, zero and tiny blocks. Only integer and
 * power-of-two arithmetic, so the values are the same on every JavaScript engine.
 *
 * The SHA-256 digests in q8_0.test.ts are of llama.cpp's own output for exactly these values
 * (libggml-base's quantize_row_q8_0_ref, and the x86 CPU backend's Q8_0 from_float), obtained once
 * through node-llama-cpp's prebuilt libraries. Changing this generator invalidates them.
 */
import { prng } from "../helpers/prng.ts";

export const GOLDEN_BLOCKS = 1024;

export function q8GoldenInput(): Float32Array {
  const rand = prng(0x5eed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const x = new Float32Array(GOLDEN_BLOCKS * 32);
  for (let b = 0; b < GOLDEN_BLOCKS; b++) {
    const o = b * 32;
    const e = 2 ** int(-12, 8);
    const kind = b % 6;
    for (let j = 0; j < 32; j++) {
      let v: number;
      if (kind === 0) v = j === 7 ? -127 * e : (int(-127, 126) + 0.5) * e; // ties under both rules
      else if (kind === 1) v = (int(-127, 127) + (rand() < 0.5 ? 2 ** -20 : -(2 ** -20))) * e; // just off an integer
      else if (kind === 2) v = (rand() - 0.5) * e; // uniform
      else if (kind === 3) v = (rand() + rand() + rand() - 1.5) * (rand() < 0.05 ? 50 : 1) * e; // outliers
      else if (kind === 4) v = b % 12 === 4 ? 0 : (rand() - 0.5) * 2 ** -100; // zero, tiny
      else v = int(-1000, 1000) / 8 * e; // many exact multiples
      x[o + j] = v;
    }
  }
  return x;
}
