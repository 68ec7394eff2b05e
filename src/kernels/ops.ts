/**
 * Reference float ops of the forward pass other than matmuls and attention (attention.ts): RMSNorm,
 * RoPE, the gated activations, the residual add and the KV cache's f16 writes. Each works on T tokens
 * at once and writes into caller buffers. The arithmetic mirrors ggml's CPU ops (sums of squares in
 * float64, values in float32). The wasm kernels (src/kernels/wasm/assembly) repeat it bit for bit
 * (SiLU to within 1 ulp, in about one value in 10^8: its exp is not the engine's Math.exp).
 */
import { f32ToF16 } from "../quant/half.ts";
import type { GateActivation, RopePairing, RopeTable } from "./types.ts";

export type { RopeTable };

/** out[t] = x[t] / sqrt(mean(x[t]²) + eps) · weight, for T rows of n. `out` may alias `x`. */
export function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, tokens: number, n: number, eps: number): void {
  for (let t = 0; t < tokens; t++) {
    const o = t * n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[o + i] * x[o + i];
    const scale = Math.fround(1 / Math.sqrt(Math.fround(ss / n) + eps));
    for (let i = 0; i < n; i++) out[o + i] = Math.fround(x[o + i] * scale) * weight[i];
  }
}

/**
 * Precomputed rotation angles: cos/sin[pos·(dims/2) + i] for i < dims/2, θ_i = pos · base^(-2i/dims).
 * Built once per context so the decode loop only reads it. `alloc`, when given, provides the memory
 * (8·contextLength·dims/2 bytes: cos, then sin), so that a backend's kernels read the table in place.
 */
export function ropeTable(contextLength: number, dims: number, base: number, alloc?: (bytes: number) => Uint8Array): RopeTable {
  const half = dims / 2;
  const n = contextLength * half;
  const mem = alloc?.(8 * n);
  const cos = mem ? new Float32Array(mem.buffer, mem.byteOffset, n) : new Float32Array(n);
  const sin = mem ? new Float32Array(mem.buffer, mem.byteOffset + 4 * n, n) : new Float32Array(n);
  // ggml advances θ by repeated float32 multiplication; keeping that order matches its angles to the last bit.
  const thetaScale = Math.fround(Math.pow(base, -2 / dims));
  for (let p = 0; p < contextLength; p++) {
    let theta = p;
    for (let i = 0; i < half; i++) {
      cos[p * half + i] = Math.cos(theta);
      sin[p * half + i] = Math.sin(theta);
      theta = Math.fround(theta * thetaScale);
    }
  }
  return { dims, cos, sin };
}

/**
 * Rotates `heads` heads of size `headDim` in place for T tokens at positions pos0..pos0+T-1.
 * "neox" pairs element i with i + dims/2 (BitNet); "norm" pairs 2i with 2i+1 (LLaMA in GGUF).
 */
export function rope(x: Float32Array, tokens: number, heads: number, headDim: number, pos0: number, table: RopeTable, style: RopePairing): void {
  const half = table.dims / 2;
  for (let t = 0; t < tokens; t++) {
    const row = (pos0 + t) * half;
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const c = table.cos[row + i];
        const s = table.sin[row + i];
        const a = style === "neox" ? o + i : o + 2 * i;
        const b = style === "neox" ? o + i + half : o + 2 * i + 1;
        const x0 = x[a];
        const x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
      }
    }
  }
}

/**
 * out[i] = act(gate[i]) · up[i], in place by default; act is SiLU or ReLU² (computed in float32, never
 * float16: ReLU² overflows it). Training's forward (src/train/mlp.ts) writes to a buffer of its own.
 */
export function gatedActivation(gate: Float32Array, up: Float32Array, n: number, act: GateActivation, out: Float32Array = gate): void {
  if (act === "silu") {
    for (let i = 0; i < n; i++) {
      const g = gate[i];
      out[i] = (g / (1 + Math.exp(-g))) * up[i];
    }
  } else {
    for (let i = 0; i < n; i++) {
      const g = gate[i] > 0 ? gate[i] : 0;
      out[i] = g * g * up[i];
    }
  }
}

/** x[i] += y[i] */
export function addInPlace(x: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) x[i] += y[i];
}

/** dst[at + i] = the f16 bits of src[i] for i < n (round to nearest even, as ggml). */
export function encodeF16(src: Float32Array, dst: Uint16Array, at: number, n: number): void {
  for (let i = 0; i < n; i++) dst[at + i] = f32ToF16(src[i]);
}
