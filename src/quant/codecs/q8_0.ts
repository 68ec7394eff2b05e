/**
 * GGUF Q8_0 (ggml type 8): 32 values in 34 bytes, byte-identical to ggml. Block layout: d (fp16,
 * little-endian), then qs[32] as signed int8. Value = qs[j]·d, exact in float32 (ggml's
 * `dequantize_row_q8_0`).
 *
 * Two quantizers, because llama.cpp itself has two:
 * - `quantize` (weights, files): ggml's `quantize_row_q8_0_ref`, what llama-quantize and gguf-py write.
 *   amax = block absmax, d = f32(amax/127), id = d ? f32(1/d) : 0, q = roundf(f32(x·id)): ties AWAY
 *   from zero (C `roundf`), not our usual half-to-even, because the goal is the bytes llama.cpp writes.
 *   id uses the float32 d, not its fp16 rounding.
 * - `quantizeQ8_0Activations` (activations before a Q8_0 matmul): ggml-cpu's `quantize_row_q8_0` as its
 *   AVX/AVX2 builds (and ARM NEON) run it on the activations: id = f32(127/amax) and round to nearest
 *   EVEN (`_mm256_round_ps(_MM_ROUND_NEAREST)`). Checked byte for byte against node-llama-cpp's haswell
 *   and zen4 CPU backends; its plain x64/SSE4.2 builds fall back to the roundf reference instead. The
 *   scale is kept as the float32 value of the fp16 d, which is what the dot product multiplies by.
 * Not here: the matmul (src/kernels/q8-ref.ts and the wasm kernel).
 */

import { GGMLType, knownType } from "../../formats/gguf/types.ts";
import { f16ToF32, f32ToF16 } from "../half.ts";
import { roundHalfAway, roundHalfEven } from "../round.ts";
import { blockDims, checkFinite, checkRow, needBytes, type TensorCodec } from "./common.ts";

export const Q8_0_BLOCK = knownType(GGMLType.Q8_0).blockSize;
export const Q8_0_BLOCK_BYTES = knownType(GGMLType.Q8_0).blockBytes;

/** Bytes of `rows` rows of `cols` values (cols a multiple of 32). */
export function q8_0Bytes(rows: number, cols: number): number {
  return (rows * cols / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
}

/** Decode `nb` blocks starting at byte `off` into out[outOff..outOff + 32·nb). */
export function decodeQ8_0Blocks(bytes: Uint8Array, off: number, nb: number, out: Float32Array, outOff = 0): void {
  for (let b = 0; b < nb; b++) {
    const bo = off + b * Q8_0_BLOCK_BYTES;
    const d = f16ToF32(bytes[bo] | (bytes[bo + 1] << 8));
    const o = outOff + b * Q8_0_BLOCK;
    for (let j = 0; j < Q8_0_BLOCK; j++) out[o + j] = ((bytes[bo + 2 + j] << 24) >> 24) * d;
  }
}

/**
 * ggml's `quantize_row_q8_0_ref` on values[0..n) (n a multiple of 32), written to out[outOff..]:
 * the weight quantizer (see the file comment for the rounding rule). Values must be finite.
 */
export function encodeQ8_0Blocks(values: Float32Array, n: number, out: Uint8Array, outOff = 0): void {
  for (let b = 0; b < n / Q8_0_BLOCK; b++) {
    const x0 = b * Q8_0_BLOCK;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(values[x0 + j]));
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const bo = outOff + b * Q8_0_BLOCK_BYTES;
    const h = f32ToF16(d);
    out[bo] = h & 0xff;
    out[bo + 1] = h >>> 8;
    for (let j = 0; j < Q8_0_BLOCK; j++) out[bo + 2 + j] = roundHalfAway(Math.fround(values[x0 + j] * id)) & 0xff;
  }
}

/**
 * Activations x [T, K] (K a multiple of 32) in llama.cpp's Q8_0 activation rule (see the file comment):
 * q [T, K] int8 in [-127, 127] and one scale per 32 values, scales [T, K/32], each the float32 value of
 * an fp16. A block whose maximum is not finite gets a NaN scale (and zero codes), so that the outputs
 * it touches are NaN rather than silently wrong.
 */
export function quantizeQ8_0Activations(x: Float32Array, tokens: number, cols: number, q: Int8Array, scales: Float32Array): void {
  const nb = (tokens * cols) / Q8_0_BLOCK;
  for (let b = 0; b < nb; b++) {
    const x0 = b * Q8_0_BLOCK;
    let amax = 0;
    let finite = true;
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const a = Math.abs(x[x0 + j]);
      if (a > amax) amax = a;
      else if (!(a <= amax)) finite = false; // NaN
    }
    if (!finite || amax === Infinity) {
      q.fill(0, x0, x0 + Q8_0_BLOCK);
      scales[b] = NaN;
      continue;
    }
    scales[b] = f16ToF32(f32ToF16(Math.fround(amax / 127)));
    const id = amax !== 0 ? Math.fround(127 / amax) : 0;
    if (!Number.isFinite(id)) {
      // A subnormal maximum: its fp16 scale is 0, so the codes cannot matter; ggml's would be garbage.
      q.fill(0, x0, x0 + Q8_0_BLOCK);
      continue;
    }
    for (let j = 0; j < Q8_0_BLOCK; j++) q[x0 + j] = roundHalfEven(Math.fround(x[x0 + j] * id));
  }
}

export const q8_0: TensorCodec = {
  typeId: GGMLType.Q8_0,
  name: "q8_0",
  dequantize(bytes, shape, what = "tensor") {
    const { n } = blockDims(shape, Q8_0_BLOCK, "q8_0", what);
    const nb = n / Q8_0_BLOCK;
    needBytes(bytes, nb * Q8_0_BLOCK_BYTES, "q8_0", what);
    const out = new Float32Array(n);
    decodeQ8_0Blocks(bytes, 0, nb, out);
    return out;
  },
  dequantizeRow(bytes, row, cols, out, what = "tensor") {
    checkRow(row, cols, out, what);
    blockDims([cols], Q8_0_BLOCK, "q8_0", what);
    const nb = cols / Q8_0_BLOCK;
    const off = row * nb * Q8_0_BLOCK_BYTES;
    needBytes(bytes, off + nb * Q8_0_BLOCK_BYTES, "q8_0", `${what} row ${row}`);
    decodeQ8_0Blocks(bytes, off, nb, out);
  },
  quantize(values, shape, what = "tensor") {
    const { n } = blockDims(shape, Q8_0_BLOCK, "q8_0", what);
    checkFinite(values, n, what);
    const out = new Uint8Array((n / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES);
    encodeQ8_0Blocks(values, n, out);
    return out;
  },
};
