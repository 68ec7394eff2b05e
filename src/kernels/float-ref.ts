/**
 * Reference float matmul for the non-ternary matrices: the embedding used as output head, and every
 * linear layer of an FP model. f16 and bf16 weights are widened through a 64 Ki-entry table.
 * Dots accumulate in float64 and round once, so the reference is at least as accurate as any fast kernel;
 * fast kernels are held to it within a stated tolerance, not bit for bit. Q8_0 matrices are handed to
 * q8-ref.ts, whose numerics are llama.cpp's (int8 activations), not these.
 */
import { decodeQ8_0Blocks, Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from "../quant/codecs/q8_0.ts";
import { bf16Table, f16Table } from "./half-tables.ts";
import { q8MatmulRef } from "./q8-ref.ts";
import type { FloatMatrix } from "./types.ts";

function table(format: "f16" | "bf16"): Float32Array {
  return format === "f16" ? f16Table() : bf16Table();
}

/** Writes row `r` of `w` as float32 into `out` (used for embedding lookups). */
export function floatRow(w: FloatMatrix, r: number, out: Float32Array, outOffset = 0): void {
  const K = w.cols;
  if (w.format === "q8_0") {
    decodeQ8_0Blocks(w.data as Uint8Array, (r * K / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES, K / Q8_0_BLOCK, out, outOffset);
    return;
  }
  const base = r * K;
  if (w.format === "f32") {
    out.set((w.data as Float32Array).subarray(base, base + K), outOffset);
    return;
  }
  const tab = table(w.format);
  const d = w.data as Uint16Array;
  for (let k = 0; k < K; k++) out[outOffset + k] = tab[d[base + k]];
}

/** out [T, K] = rows ids[0..T) of `w`: the embedding lookup (Kernels.embed). Ids are checked by the caller. */
export function embedRef(w: FloatMatrix, ids: ArrayLike<number>, out: Float32Array): void {
  for (let t = 0; t < ids.length; t++) floatRow(w, ids[t], out, t * w.cols);
}

export function floatMatmulRef(w: FloatMatrix, x: Float32Array, tokens: number, out: Float32Array): void {
  if (w.format === "q8_0") return q8MatmulRef(w, x, tokens, out);
  const N = w.rows;
  const K = w.cols;
  const tab = w.format === "f32" ? null : table(w.format);
  const d = w.data;
  for (let t = 0; t < tokens; t++) {
    const xt = t * K;
    for (let n = 0; n < N; n++) {
      const wr = n * K;
      let acc = 0;
      if (tab) for (let k = 0; k < K; k++) acc += tab[d[wr + k]] * x[xt + k];
      else for (let k = 0; k < K; k++) acc += d[wr + k] * x[xt + k];
      out[t * N + n] = w.outScale === 1 ? acc : acc * w.outScale;
    }
  }
}
