/**
 * The float side of the ternary matmul: the per-call context (where the activation factors and sums
 * live, the weight scale) and the float32 scaling rule of src/kernels/ternary-ref.ts, repeated operation
 * by operation so that results are bit-identical. JavaScript does its products in float64 and rounds to
 * float32 (Math.fround); so do we, with f64 arithmetic and explicit `<f32>` demotions.
 * Not here: the integer dots (ternary-gemv.ts, ternary-gemm.ts).
 */
import { f16ToF32, hsum } from "./simd";

export const CHUNK: i32 = 256;
export const FORMAT_TQ2_0: i32 = 0;
export const FORMAT_TQ1_0: i32 = 1;
export const FORMAT_I2_S: i32 = 2;
export const TQ2_BLOCK_BYTES: i32 = 66;

/**
 * Type markers for the formats: kernels are generic over them (`gemvFor<Tq2>`) and test `idof<F>()`,
 * which the compiler resolves, so each format gets its own loop. (A constant argument to an inlined
 * function is not enough: Binaryen merges the copies back into one loop that tests the format.)
 */
export class Tq2 {}
export class Tq1 {}
export class I2s {}
export const TQ1_BLOCK_BYTES: i32 = 54;

// The call context, set by `setContext` at the start of every ternary matmul.
export let cFormat: i32 = 0;
export let cK: i32 = 0; // columns
export let cN: i32 = 0; // rows
export let cChunks: i32 = 0; // ⌈K/256⌉
export let cWeights: usize = 0; // packed weights, file layout
export let cQ: usize = 0; // int8 activations [T, K]
export let cFactors: usize = 0; // f32 [T, K/group]
export let cGroup: i32 = 0;
export let cGroupsPerToken: i32 = 0;
export let cUniform: f64 = 0; // γ when every non-zero block shares one scale
export let cHasUniform: bool = false;
export let cOutScale: f64 = 1;
export let cOut: usize = 0; // f32 [T, N]
export let cQsum: usize = 0; // i32 [T, chunks]: Σq per 256-chunk
export let cQtot: usize = 0; // i32 [T]: Σq per token
export let cTokScale: usize = 0; // f32 [T]: f32(γ·factor_t), per-row mode only

export function setContext(
  format: i32, weights: usize, N: i32, K: i32, q: usize, T: i32, factors: usize, group: i32,
  uniform: f64, hasUniform: bool, outScale: f64, out: usize, work: usize,
): void {
  cFormat = format;
  cWeights = weights;
  cN = N;
  cK = K;
  cChunks = (K + CHUNK - 1) / CHUNK;
  cQ = q;
  cFactors = factors;
  cGroup = group;
  cGroupsPerToken = K / group;
  cUniform = uniform;
  cHasUniform = hasUniform;
  cOutScale = outScale;
  cOut = out;
  cQsum = work;
  cQtot = cQsum + ((<usize>T * cChunks) << 2);
  cTokScale = cQtot + (<usize>T << 2);
  computeQsums(T);
  if (cHasUniform) {
    for (let t = 0; t < T; t++) {
      store<f32>(cTokScale + (<usize>t << 2), <f32>(cUniform * <f64>load<f32>(cFactors + ((<usize>t * cGroupsPerToken) << 2))));
    }
  }
}

/** Bytes of `work` that setContext uses for T tokens (the kernels' own scratch comes after it). */
export function contextBytes(T: i32, K: i32): usize {
  const chunks = (K + CHUNK - 1) / CHUNK;
  return (((<usize>T * chunks + 2 * <usize>T) << 2) + 63) & ~63;
}

/** Σq per 256-chunk (the last one may hold 128) and per token: the code offset c = w + 1 costs Σq. */
function computeQsums(T: i32): void {
  const K = <usize>cK;
  for (let t = 0; t < T; t++) {
    let x = cQ + <usize>t * K;
    let total = 0;
    for (let c = 0; c < cChunks; c++) {
      const len = min<usize>(CHUNK, K - <usize>c * CHUNK);
      const end = x + len;
      let acc = i32x4.splat(0);
      while (x < end) {
        acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(x))));
        x += 16;
      }
      const s = hsum(acc);
      store<i32>(cQsum + ((<usize>t * cChunks + c) << 2), s);
      total += s;
    }
    store<i32>(cQtot + (<usize>t << 2), total);
  }
}

/** Per-row rule: y = f32(isum) · f32(γ·factor_t), then the optional output scale. */
// @ts-ignore: decorator
@inline export function rowResult(codeDot: i32, t: i32): f32 {
  const isum = codeDot - load<i32>(cQtot + (<usize>t << 2));
  return finish(<f32>(<f64>isum * <f64>load<f32>(cTokScale + (<usize>t << 2))));
}

/** Per-chunk rule, one step: y + f32(dot_c · f32(scale_c · factor_c)), all rounded to float32. */
// @ts-ignore: decorator
@inline export function addChunk(y: f32, codeDot: i32, t: i32, r: i32, c: i32): f32 {
  const isum = codeDot - load<i32>(cQsum + ((<usize>t * cChunks + c) << 2));
  const ws = cHasUniform ? cUniform : <f64>blockScale(r, c);
  const xf = load<f32>(cFactors + ((<usize>t * cGroupsPerToken + (c * CHUNK) / cGroup) << 2));
  const s = <f32>(ws * <f64>xf);
  return <f32>(<f64>y + <f64><f32>(<f64>isum * <f64>s));
}

// @ts-ignore: decorator
@inline export function finish(y: f32): f32 {
  return cOutScale == 1.0 ? y : <f32>(<f64>y * cOutScale);
}

/** The fp16 `d` of block c of row r, read from the file layout (TQ formats only). */
function blockScale(r: i32, c: i32): f32 {
  const block = <usize>r * cChunks + c;
  const at = cFormat == FORMAT_TQ2_0 ? block * TQ2_BLOCK_BYTES + 64 : block * TQ1_BLOCK_BYTES + 52;
  return f16ToF32(<u32>load<u16>(cWeights + at));
}

/** Address of the first packed byte of row r. */
export function rowAddress(r: i32): usize {
  if (cFormat == FORMAT_TQ2_0) return cWeights + <usize>r * cChunks * TQ2_BLOCK_BYTES;
  if (cFormat == FORMAT_TQ1_0) return cWeights + <usize>r * cChunks * TQ1_BLOCK_BYTES;
  return cWeights + ((<usize>r * cK) >> 2);
}

/** out[t, r] */
// @ts-ignore: decorator
@inline export function outAddress(t: i32, r: i32): usize {
  return cOut + ((<usize>t * cN + r) << 2);
}
