/**
 * The kernel interface: the few hot operations the forward pass needs, described as data in and data out.
 * The scalar TypeScript reference (ref.ts) defines the numerics; faster backends (WASM SIMD, threads)
 * implement the same interface and are held to the reference bit for bit on the integer paths.
 *
 * Shape legend used across kernels and the model:
 *   T = tokens in the batch, K = input features (GGUF ne[0]), N = output features (ne[1]).
 */
import { GGMLType } from "../formats/gguf/types.ts";

/** Ternary layouts the kernels read directly, without unpacking the whole matrix. */
export type TernaryFormat = "tq2_0" | "tq1_0" | "i2_s";

/** Each ternary layout's ggml type id (src/formats/gguf/types.ts holds its block geometry). */
export const TERNARY_TYPE = { tq2_0: GGMLType.TQ2_0, tq1_0: GGMLType.TQ1_0, i2_s: GGMLType.I2_S } as const satisfies Record<TernaryFormat, number>;

/** A ternary weight matrix [N, K] exactly as the file stores it. */
export interface TernaryMatrix {
  kind: "ternary";
  format: TernaryFormat;
  name: string;
  rows: number; // N
  cols: number; // K
  data: Uint8Array; // packed codes as stored in the file (TQ: blocks of 256 per row; I2_S: 128-value groups over the flat tensor)
  /**
   * Dequantization factor per 256-wide block of each row, [N, K/256], for TQ formats.
   * For I2_S it holds the single tensor scale.
   */
  blockScales: Float32Array;
  /**
   * The one scale every block that carries a non-zero code shares, or null when the blocks differ.
   * BitNet models (one γ per matrix) always have one; kernels then sum the integer dot over the
   * whole row before scaling, which is both faster and the paper's formula.
   */
  uniformScale: number | null;
  /** An optional extra per-tensor multiplier (GGUF `<name>.scale`), applied after the matmul. */
  outScale: number;
  /**
   * Set when an I2_S matrix's rows were padded at load to whole 128-value blocks (i2sPadRows): the real
   * input width, `cols` being the padded one. Its activations must be padded with zeros to match.
   */
  paddedFrom?: number;
}

/**
 * A float weight matrix [N, K]: the embedding, the output head, or every linear layer of an FP model.
 * "q8_0" is ggml's int8 format (blocks of 32 int8 with an fp16 scale): not a float type, but it serves
 * where the float ones do (an int8 output head), and its matmul quantizes the activations itself.
 */
export interface FloatMatrix {
  kind: "float";
  format: "f32" | "f16" | "bf16" | "q8_0";
  name: string;
  rows: number; // N
  cols: number; // K
  data: Float32Array | Uint16Array | Uint8Array; // f32 values, raw f16 / bf16 bits, or Q8_0 blocks (34 bytes per 32 values)
  outScale: number;
}

export type WeightMatrix = TernaryMatrix | FloatMatrix;

/**
 * How activations are cut into int8 groups before a ternary matmul.
 * - "token": one absmax scale per token, as BitNet b1.58 defines it (the default).
 * - "block256": one scale per 256 values, as llama.cpp's Q8_K does; used to compare with llama.cpp exactly.
 */
export type ActQuantMode = "token" | "block256";

/** Int8 activations for T tokens of K features, with the factors that turn integer dots back into floats. */
export interface QuantizedActivations {
  tokens: number; // T
  cols: number; // K
  q: Int8Array; // [T, K]
  /** Elements per scale group: K in "token" mode, 256 in "block256" mode. */
  group: number;
  /** Dequantization factor per group, [T, K/group]: x ≈ q * factor. */
  factors: Float32Array;
  /** Σq per group, [T, K/group]: lets unsigned-code kernels subtract the code offset once. */
  sums: Int32Array;
}

/** Attention's geometry: H query heads of hd values, reading HKV key/value heads (GQA when HKV < H). */
export interface AttentionShape {
  nHeads: number; // H
  nKvHeads: number; // HKV
  headDim: number; // hd
}

/**
 * RoPE's angles, built once per context (ops.ts ropeTable): cos/sin[pos·(dims/2) + i] for i < dims/2,
 * [ctx, dims/2]. The first `dims` values of each head rotate.
 */
export interface RopeTable {
  dims: number;
  cos: Float32Array;
  sin: Float32Array;
}

/** "neox" pairs element i with i + dims/2 (BitNet); "norm" pairs 2i with 2i+1 (LLaMA in GGUF). */
export type RopePairing = "neox" | "norm";

/** The gated FFN's activation: SiLU, or ReLU² (BitNet b1.58 2B4T). */
export type GateActivation = "silu" | "relu2";

export interface Kernels {
  /** The backend: "wasm-relaxed-simd", "wasm-simd128", "ref", or a native one ("native-…"). */
  readonly name: string;
  /** Threads one call computes on, the calling thread included. */
  readonly threads: number;
  /**
   * Where weight bytes should live. A backend whose kernels read weights from its own memory (one
   * WebAssembly.Memory) returns views into it; the reference backend leaves this undefined and the
   * loader uses ordinary buffers.
   */
  allocWeights?(bytes: number, align: number): Uint8Array;
  /** Grows the backend's memory once, before weights arrive, so that earlier views are never invalidated. */
  reserve?(bytes: number): void;
  /** Releases workers or other resources the backend holds. */
  close?(): Promise<void>;
  /** Quantizes x [T, K] into `out` (preallocated for at least T tokens). */
  quantizeActivations(x: Float32Array, tokens: number, cols: number, mode: ActQuantMode, out: QuantizedActivations): void;
  /** out [T, N] = dequant(x) · Wᵀ, integer dot per group, scaled as ref.ts defines. */
  ternaryMatmul(w: TernaryMatrix, x: QuantizedActivations, out: Float32Array): void;
  /**
   * outs[i] = x · ws[i]ᵀ for matrices that read the same activations (q, k, v; gate, up), exactly what
   * one ternaryMatmul per matrix gives. Optional: a backend with a thread pool runs them as one job
   * (one wake-up of the threads, none idle at a matrix's end); without it the caller loops.
   */
  ternaryMatmulGroup?(ws: readonly TernaryMatrix[], x: QuantizedActivations, outs: readonly Float32Array[]): void;
  /** out [T, N] = x [T, K] · Wᵀ in float. */
  floatMatmul(w: FloatMatrix, x: Float32Array, tokens: number, out: Float32Array): void;
  /** out [T, K] = the rows of `w` (the token embedding) for ids[0..T), as float32 (float-ref.ts embedRef). */
  embed(w: FloatMatrix, ids: ArrayLike<number>, out: Float32Array): void;

  // The rest of the forward pass, per op (src/kernels/ops.ts and attention.ts define them).
  /**
   * Memory for the run state (activations, the KV cache) that the backend's kernels use in place, or
   * null when the backend cannot place `bytes` without invalidating views it handed out earlier.
   * Undefined: the backend has no memory of its own (ordinary arrays are as good).
   */
  allocState?(bytes: number, align: number): Uint8Array | null;
  /** out [T, n] = x / rms(x) · weight, row by row (ops.ts rmsnorm); `out` may be `x`. */
  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, tokens: number, n: number, eps: number): void;
  /**
   * rmsnorm into `out`, then `out` quantized into `acts`: exactly what rmsnorm followed by
   * quantizeActivations gives, bit for bit, in one pass where the backend can.
   */
  rmsnormQuantize(out: Float32Array, x: Float32Array, weight: Float32Array, tokens: number, n: number, eps: number, mode: ActQuantMode, acts: QuantizedActivations): void;
  /** Rotates `heads` heads of x [T, heads·hd] in place for positions pos0..pos0+T-1 (ops.ts rope). */
  rope(x: Float32Array, tokens: number, heads: number, headDim: number, pos0: number, table: RopeTable, pairing: RopePairing): void;
  /**
   * out [T, H·hd] = causal softmax(q·Kᵀ/√hd)·V for queries q [T, H·hd] at positions pos0.., over cache
   * rows 0..pos0+T-1 of keys and values ([ctx, HKV·hd], float32 or f16 bits). `scores` is scratch of at
   * least pos0+T floats, which a backend may ignore. Float results: within the tolerance attention.ts states.
   */
  attention(out: Float32Array, q: Float32Array, keys: Float32Array | Uint16Array, values: Float32Array | Uint16Array, pos0: number, tokens: number, shape: AttentionShape, scores: Float32Array): void;
  /** gate[i] = act(gate[i])·up[i] for i < n (ops.ts gatedActivation). */
  gatedActivation(gate: Float32Array, up: Float32Array, n: number, act: GateActivation): void;
  /** x[i] += y[i] for i < n. */
  addInPlace(x: Float32Array, y: Float32Array, n: number): void;
  /** dst[at + i] = the f16 bits of src[i] for i < n, rounded as src/quant/half.ts does (KV cache writes). */
  f32ToF16(src: Float32Array, dst: Uint16Array, at: number, n: number): void;
}
