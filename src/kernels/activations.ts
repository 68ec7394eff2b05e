/**
 * Activation quantization for the kernel interface: wraps the quantizers of src/quant into the
 * QuantizedActivations shape (int8 values, a dequantization factor per group, and Σq per group).
 * The factor for BitNet's per-token rule is f32(1/s), so that y = Σw·q · f32(γ·factor).
 * Also RMSNorm followed by quantization, the pair every ternary matmul's input goes through.
 */
import { quantizeAbsmaxBlocks, quantizeAbsmaxRows } from "../quant/absmax.ts";
import { rmsnorm } from "./ops.ts";
import type { ActQuantMode, QuantizedActivations } from "./types.ts";

/** Groups a buffer for `tokens` tokens of `cols` features needs in either mode (the more of the two). */
function maxGroups(tokens: number, cols: number): number {
  return tokens * Math.max(1, Math.ceil(cols / 256));
}

/** Bytes allocActivations takes from `alloc`, in its three pieces (q, factors, sums). */
export function activationPieces(tokens: number, cols: number): [number, number, number] {
  const groups = maxGroups(tokens, cols);
  return [tokens * cols, 4 * groups, 4 * groups];
}

/**
 * Preallocates activations for up to `tokens` tokens of `cols` features in either mode. `alloc`, when
 * given, provides the memory of each piece (see activationPieces), e.g. a backend's own.
 */
export function allocActivations(tokens: number, cols: number, alloc?: (bytes: number) => Uint8Array): QuantizedActivations {
  const groups = maxGroups(tokens, cols);
  if (!alloc) return { tokens: 0, cols, q: new Int8Array(tokens * cols), group: cols, factors: new Float32Array(groups), sums: new Int32Array(groups) };
  const [qb, fb, sb] = activationPieces(tokens, cols).map(alloc);
  return {
    tokens: 0,
    cols,
    q: new Int8Array(qb.buffer, qb.byteOffset, tokens * cols),
    group: cols,
    factors: new Float32Array(fb.buffer, fb.byteOffset, groups),
    sums: new Int32Array(sb.buffer, sb.byteOffset, groups),
  };
}

export function quantizeActivationsRef(x: Float32Array, tokens: number, cols: number, mode: ActQuantMode, out: QuantizedActivations): void {
  out.tokens = tokens;
  out.cols = cols;
  if (mode === "token") {
    // The row quantizer writes s into `factors`; turn it into the multiplier 1/s in place.
    quantizeAbsmaxRows(x, tokens, cols, { q: out.q, scales: out.factors, sums: out.sums }, "activations");
    for (let t = 0; t < tokens; t++) out.factors[t] = Math.fround(1 / out.factors[t]);
    out.group = cols;
  } else {
    quantizeAbsmaxBlocks(x, tokens, cols, 256, { q: out.q, d: out.factors, sums: out.sums }, "activations");
    out.group = 256;
  }
}

/** rmsnorm into `out`, then `out` quantized into `acts` (the reference of Kernels.rmsnormQuantize). */
export function rmsnormQuantizeRef(
  out: Float32Array, x: Float32Array, weight: Float32Array, tokens: number, n: number, eps: number, mode: ActQuantMode, acts: QuantizedActivations,
): void {
  rmsnorm(out, x, weight, tokens, n, eps);
  quantizeActivationsRef(out, tokens, n, mode, acts);
}

/**
 * Whether a kernel backend can fill `acts` for [T, n] in `mode` (a sane shape, and buffers large enough);
 * otherwise backends run the reference, so that bad arguments throw the reference's errors.
 */
export function kernelQuantizable(T: number, n: number, mode: ActQuantMode, acts: QuantizedActivations): boolean {
  if (!Number.isInteger(T) || !Number.isInteger(n) || T < 0 || n <= 0) return false;
  if (mode === "block256" && n % 256 !== 0) return false;
  const groups = mode === "block256" ? T * (n / 256) : T;
  return acts.q.length >= T * n && acts.factors.length >= groups && acts.sums.length >= groups;
}

/**
 * `src` (per-token scales) widened to `cols` columns with zeros after its own, into `dst` (capacity for
 * src.tokens rows of `cols`): the input of a matrix whose rows were padded at load (TernaryMatrix.paddedFrom).
 * Zeros change neither the dot products nor the sums, so the result is the unpadded one exactly.
 */
export function padActivations(src: QuantizedActivations, cols: number, dst: QuantizedActivations): void {
  const { tokens: T, cols: K } = src;
  if (src.group !== K) throw new Error(`activations padded to ${cols} columns need one scale per token, got groups of ${src.group}`);
  if (cols < K || dst.q.length < T * cols || dst.factors.length < T || dst.sums.length < T) throw new Error(`activations: [${T}, ${K}] do not fit a padded buffer of ${dst.q.length} values for ${cols} columns`);
  for (let t = 0; t < T; t++) {
    dst.q.set(src.q.subarray(t * K, (t + 1) * K), t * cols);
    dst.q.fill(0, t * cols + K, (t + 1) * cols);
  }
  dst.factors.set(src.factors.subarray(0, T));
  dst.sums.set(src.sums.subarray(0, T));
  dst.tokens = T;
  dst.cols = cols;
  dst.group = cols;
}

/** Sets the shape fields of `acts` that a backend's kernel filled for [T, n] in `mode`. */
export function describeActivations(acts: QuantizedActivations, T: number, n: number, mode: ActQuantMode): void {
  acts.tokens = T;
  acts.cols = n;
  acts.group = mode === "token" ? n : 256;
}
