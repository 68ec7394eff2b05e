/**
 * The kernel interface: the few hot operations the forward pass needs, described as data in and data out.
 * The scalar TypeScript reference (ref.ts) defines the numerics; faster backends (WASM SIMD, threads)
 * implement the same interface and are held to the reference bit for bit on the integer paths.
 *
 * Shape legend used across kernels and the model:
 *   T = tokens in the batch, K = input features (GGUF ne[0]), N = output features (ne[1]).
 */

/** Ternary layouts the kernels read directly, without unpacking the whole matrix. */
export type TernaryFormat = "tq2_0" | "tq1_0" | "i2_s";

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
}

/** A float weight matrix [N, K]: the embedding, the output head, or every linear layer of an FP model. */
export interface FloatMatrix {
  kind: "float";
  format: "f32" | "f16" | "bf16";
  name: string;
  rows: number; // N
  cols: number; // K
  data: Float32Array | Uint16Array; // f32 values, or raw f16 / bf16 bits
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

export interface Kernels {
  readonly name: string;
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
  /** out [T, N] = x [T, K] · Wᵀ in float. */
  floatMatmul(w: FloatMatrix, x: Float32Array, tokens: number, out: Float32Array): void;
}
