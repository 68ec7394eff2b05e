/**
 * Reference ternary × int8 matmul, read straight from the packed file layouts (TQ2_0, TQ1_0, I2_S).
 * This file is the numerical spec the fast kernels are held to: the integer dot of every 256-value
 * chunk is exact, and the float scaling below is the one sequence of float32 operations they must repeat.
 *
 * Scaling rule (all products rounded to float32):
 *   - one weight scale for the row and one activation factor for the token (the BitNet case):
 *       y = f32(Σ w·q) · f32(γ · factor)
 *   - otherwise, per 256-value chunk c:  y = Σ_c f32(dot_c · f32(scale_c · factor_c)), summed in float32.
 * Not here: activation quantization (quant/absmax.ts) and anything fast.
 */
import { TQ1_0_BLOCK_BYTES } from "../quant/codecs/tq1_0.ts";
import { TQ2_0_BLOCK_BYTES } from "../quant/codecs/tq2_0.ts";
import type { QuantizedActivations, TernaryMatrix } from "./types.ts";

const fround = Math.fround;
const CHUNK = 256;

/** Σ (w - 0)·q over one 256-value TQ2_0 block; `qs` points at the block's 64 code bytes. */
function dotTq2Block(data: Uint8Array, qs: number, q: Int8Array, x: number): number {
  let sum = 0;
  for (let half = 0; half < 2; half++) {
    const bytes = qs + half * 32;
    const xs = x + half * 128;
    for (let m = 0; m < 32; m++) {
      const b = data[bytes + m];
      sum +=
        ((b & 3) - 1) * q[xs + m] +
        (((b >> 2) & 3) - 1) * q[xs + 32 + m] +
        (((b >> 4) & 3) - 1) * q[xs + 64 + m] +
        (((b >> 6) & 3) - 1) * q[xs + 96 + m];
    }
  }
  return sum;
}

/** Trit n of a TQ1_0 byte: the byte holds ⌈t·256/243⌉, so multiplying by 3^n and keeping the top "digit" recovers trit n. */
const POW3 = [1, 3, 9, 27, 81];
function trit(byte: number, n: number): number {
  return ((((byte * POW3[n]) & 255) * 3) >> 8) - 1;
}

/** Σ w·q over one 256-value TQ1_0 block starting at byte `blk` (qs[48], qh[4], d). */
function dotTq1Block(data: Uint8Array, blk: number, q: Int8Array, x: number): number {
  let sum = 0;
  for (let m = 0; m < 32; m++) {
    const b = data[blk + m];
    for (let n = 0; n < 5; n++) sum += trit(b, n) * q[x + m + 32 * n];
  }
  for (let m = 0; m < 16; m++) {
    const b = data[blk + 32 + m];
    for (let n = 0; n < 5; n++) sum += trit(b, n) * q[x + 160 + m + 16 * n];
  }
  for (let j = 0; j < 4; j++) {
    const b = data[blk + 48 + j];
    for (let n = 0; n < 4; n++) sum += trit(b, n) * q[x + 240 + j + 4 * n];
  }
  return sum;
}

/** Σ w·q over `len` values of an I2_S tensor starting at flat element `start`. */
function dotI2s(data: Uint8Array, start: number, len: number, q: Int8Array, x: number): number {
  let sum = 0;
  for (let i = 0; i < len; i++) {
    const e = start + i;
    const p = e & 127;
    const byte = data[(e >> 7) * 32 + (p & 31)];
    sum += (((byte >> (6 - 2 * (p >> 5))) & 3) - 1) * q[x + i];
  }
  return sum;
}



/** Integer dot of row `r` chunk `c` (256 values) against activations starting at `x`. */
function chunkDot(w: TernaryMatrix, r: number, c: number, q: Int8Array, x: number, len: number): number {
  const blocksPerRow = w.cols / CHUNK;
  switch (w.format) {
    case "tq2_0":
      return dotTq2Block(w.data, (r * blocksPerRow + c) * TQ2_0_BLOCK_BYTES, q, x);
    case "tq1_0":
      return dotTq1Block(w.data, (r * blocksPerRow + c) * TQ1_0_BLOCK_BYTES, q, x);
    case "i2_s":
      return dotI2s(w.data, r * w.cols + c * CHUNK, len, q, x);
  }
}

export function ternaryMatmulRef(w: TernaryMatrix, x: QuantizedActivations, out: Float32Array): void {
  const { rows, cols } = w;
  if (x.cols !== cols) throw new Error(`${w.name}: activation width ${x.cols} does not match the weight's ${cols} columns`);
  const chunks = Math.ceil(cols / CHUNK);
  const groupsPerToken = cols / x.group;
  const perRow = w.uniformScale !== null && x.group === cols;
  if (!perRow && cols % CHUNK !== 0) throw new Error(`${w.name}: per-block scaling needs ${CHUNK}-wide rows, got ${cols}`);
  const blocksPerRow = cols / CHUNK;
  for (let t = 0; t < x.tokens; t++) {
    const xt = t * cols;
    for (let r = 0; r < rows; r++) {
      let y: number;
      if (perRow) {
        let isum = 0;
        for (let c = 0; c < chunks; c++) isum += chunkDot(w, r, c, x.q, xt + c * CHUNK, Math.min(CHUNK, cols - c * CHUNK));
        y = fround(isum * fround((w.uniformScale as number) * x.factors[t]));
      } else {
        y = 0;
        for (let c = 0; c < chunks; c++) {
          const isum = chunkDot(w, r, c, x.q, xt + c * CHUNK, CHUNK);
          const ws = w.uniformScale ?? w.blockScales[r * blocksPerRow + c];
          const xf = x.factors[t * groupsPerToken + Math.floor((c * CHUNK) / x.group)];
          y = fround(y + fround(isum * fround(ws * xf)));
        }
      }
      out[t * rows + r] = w.outScale === 1 ? y : fround(y * w.outScale);
    }
  }
}

/** Whether a TQ block (starting at byte `blk`) holds only zero codes. */
export function ternaryBlockIsZero(format: "tq2_0" | "tq1_0", data: Uint8Array, blk: number): boolean {
  if (format === "tq2_0") {
    for (let i = 0; i < 64; i++) if (data[blk + i] !== 0x55) return false; // code 1 (= 0) in all four slots
    return true;
  }
  for (let i = 0; i < 52; i++) {
    const trits = i < 48 ? 5 : 4;
    for (let n = 0; n < trits; n++) if (trit(data[blk + i], n) !== 0) return false;
  }
  return true;
}
