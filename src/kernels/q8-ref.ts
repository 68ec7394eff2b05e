/**
 * Reference Q8_0 matmul (an int8 output head, or any Q8_0 matrix), the way llama.cpp computes one: the
 * activations are quantized to Q8_0 too (src/quant/codecs/q8_0.ts, ggml-cpu's activation rule), each
 * 32-value block gives an exact integer dot, and dot·d_w·d_x is summed in float32.
 *
 * The float32 summation order is part of the definition, so that the wasm kernel
 * (src/kernels/wasm/assembly/q8.ts) matches this bit for bit: block b of a row is added to lane b mod 4
 * (acc = f32(acc + f32(dot·f32(d_w·d_x)))), and the row's value is f32(f32(l0 + l2) + f32(l1 + l3)),
 * then times outScale. llama.cpp sums the same products in another order, so against it we agree within
 * float32 rounding, not bit for bit.
 * Not here: the f32/f16/bf16 matmul (float-ref.ts).
 */
import { Q8_0_BLOCK, Q8_0_BLOCK_BYTES, q8_0Bytes, quantizeQ8_0Activations } from "../quant/codecs/q8_0.ts";
import { f16Table } from "./half-tables.ts";
import type { FloatMatrix } from "./types.ts";

const f32 = Math.fround;

/** Quantized activations, reused across calls (grown, never shrunk): decoding allocates nothing. */
let scratchQ = new Int8Array(0);
let scratchScales = new Float32Array(0);

/** Throws naming the matrix unless w, x and out fit a Q8_0 matmul of `tokens` tokens. */
export function checkQ8Matmul(w: FloatMatrix, x: Float32Array, tokens: number, out: Float32Array): void {
  const { rows: N, cols: K } = w;
  if (K % Q8_0_BLOCK !== 0) throw new Error(`${w.name}: q8_0 needs a row length divisible by ${Q8_0_BLOCK}, got ${K}`);
  if (!(w.data instanceof Uint8Array) || w.data.byteLength < q8_0Bytes(N, K)) {
    throw new Error(`${w.name}: q8_0 data is ${w.data.byteLength} bytes, [${N}, ${K}] needs ${q8_0Bytes(N, K)}`);
  }
  if (x.length < tokens * K) throw new Error(`${w.name}: input holds ${x.length} values, needs ${tokens * K}`);
  if (out.length < tokens * N) throw new Error(`${w.name}: output holds ${out.length} values, needs ${tokens * N}`);
}

/** out [T, N] = x [T, K] · Wᵀ for a Q8_0 matrix. */
export function q8MatmulRef(w: FloatMatrix, x: Float32Array, tokens: number, out: Float32Array): void {
  checkQ8Matmul(w, x, tokens, out);
  const K = w.cols;
  if (scratchQ.length < tokens * K) {
    scratchQ = new Int8Array(tokens * K);
    scratchScales = new Float32Array((tokens * K) / Q8_0_BLOCK);
  }
  quantizeQ8_0Activations(x, tokens, K, scratchQ, scratchScales);
  q8RowsRef(w.data as Uint8Array, w.rows, K, scratchQ, scratchScales, tokens, w.outScale, out, 0, w.rows);
}

/**
 * out[T, r0..r1) from Q8_0 weights `data` [N, K] and activations already quantized: q [T, K] and
 * scales [T, K/32] (quantizeQ8_0Activations).
 */
export function q8RowsRef(data: Uint8Array, N: number, K: number, q: Int8Array, scales: Float32Array, T: number, outScale: number, out: Float32Array, r0: number, r1: number): void {
  const half = f16Table();
  const nb = K / Q8_0_BLOCK;
  const lanes = [0, 0, 0, 0];
  for (let r = r0; r < r1; r++) {
    const row = r * nb * Q8_0_BLOCK_BYTES;
    for (let t = 0; t < T; t++) {
      lanes.fill(0);
      for (let b = 0; b < nb; b++) {
        const p = row + b * Q8_0_BLOCK_BYTES;
        const x0 = t * K + b * Q8_0_BLOCK;
        let dot = 0;
        for (let j = 0; j < Q8_0_BLOCK; j++) dot += ((data[p + 2 + j] << 24) >> 24) * q[x0 + j];
        const d = f32(half[data[p] | (data[p + 1] << 8)] * scales[t * nb + b]);
        lanes[b & 3] = f32(lanes[b & 3] + f32(dot * d));
      }
      const y = f32(f32(lanes[0] + lanes[2]) + f32(lanes[1] + lanes[3]));
      out[t * N + r] = outScale === 1 ? y : f32(y * outScale);
    }
  }
}
