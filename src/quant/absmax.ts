/**
 * Activation quantizers: float32 activations → int8, in the two flavours the references use.
 *
 * 1. `quantizeAbsmaxRows`: BitNet's rule (SPEC §1, transformers' `activation_quant`), one scale per token:
 *      s = 127 / max(max|x_row|, 1e-5),   q = clamp(roundHalfEven(x·s), -128, 127),   x ≈ q / s.
 *    Arithmetic is float32 as in torch: the clamp floor is float32(1e-5), s = f32(127 / amax), and each
 *    product x·s is rounded to float32 before rounding to an integer.
 *    A BitLinear output is then  y = (Σ W̃·q, in int32) · γ / s.
 *
 * 2. `quantizeAbsmaxBlocks`: llama.cpp's Q8_K rule (`quantize_row_q8_K_ref` in ggml-quants.c, which is also
 *    what the x86/ARM/WASM CPU backends call for TQ1_0/TQ2_0's `vec_dot_type`), one scale per block of 256:
 *      m = the value of largest |x| in the block, signed (the first one on ties);
 *      iscale = f32(-127 / m);  q = min(127, nearest_int(f32(iscale·x)));  d = f32(1 / iscale).
 *    Because m is signed, d and q carry the opposite sign of x when m > 0; only their product matters.
 *    An all-zero block gets d = 0 and q = 0. x ≈ d·q.
 *    llama.cpp's TQ dot product is then, block by block in float32:
 *      sumi = Σ (w_code - 1)·q  (int32);   sumf += f32(sumi · f32(d_x · d_w))
 *    (that is `ggml_vec_dot_tq2_0_q8_K_generic`. The x86 AVX2 kernel, which AVX-512 builds use too, splits
 *    sumi over 8 int32 lanes, accumulates f32(lane · d) per lane across blocks and adds the 8 lanes at the
 *    end, so its float rounding differs slightly from the generic order.)
 *    In the unsigned-code form, Σ (c-1)·q = Σ c·q − sums[block].
 *
 * Both write into caller-provided buffers when given, so the decode loop allocates nothing.
 * Non-finite activations are an error naming `what`: they would silently poison every later token.
 */

import { ggmlNearestInt } from "./round.ts";

export interface AbsmaxRows {
  /** rows·cols int8 codes, row-major. */
  q: Int8Array;
  /** Per row: s = 127 / max(absmax, 1e-5) as float32. Dequantize by dividing: x ≈ q / s. */
  scales: Float32Array;
  /** Per row: Σ q (kernels subtract it once per row when they use unsigned codes w+1). */
  sums: Int32Array;
}

export interface AbsmaxBlocks {
  /** rows·cols int8 codes, row-major. */
  q: Int8Array;
  /** Per block (rows·cols/block of them, row-major): ggml's d = 1/iscale as float32. Dequantize by multiplying: x ≈ d·q. */
  d: Float32Array;
  /** Per block: Σ q over the block. */
  sums: Int32Array;
}

/**
 * Adding and subtracting 1.5·2^52 rounds any |y| ≤ 2^51 to an integer, ties to even (the sum lands where
 * doubles are spaced by 1): roundHalfEven for the hot loops, minus the sign of zero, which int8 cannot hold.
 */
const ROUND_MAGIC = 6755399441055744;

/** The float32 value of torch's `clamp(min=1e-5)` on a float32 tensor. */
const ACT_EPS_F32 = Math.fround(1e-5);

function checkDims(x: Float32Array, rows: number, cols: number, what: string): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols <= 0) {
    throw new Error(`${what}: bad shape rows=${rows} cols=${cols}`);
  }
  if (x.length < rows * cols) throw new Error(`${what}: has ${x.length} values, shape needs ${rows * cols}`);
}

function nonFinite(what: string, x: Float32Array, from: number, to: number): Error {
  for (let i = from; i < to; i++) {
    if (!Number.isFinite(x[i])) return new Error(`${what}: non-finite activation ${x[i]} at index ${i}`);
  }
  return new Error(`${what}: non-finite activation in [${from}, ${to})`);
}

/** Each caller-given output [name, array, length it needs]. */
function checkOut(what: string, outs: readonly (readonly [string, ArrayLike<number>, number])[]): void {
  for (const [name, a, need] of outs) {
    if (a.length < need) throw new Error(`${what}: out.${name} holds ${a.length}, need ${need}`);
  }
}

/** The value of largest |x| in [from, to), signed (the first one on ties); a non-finite value throws. */
function signedAbsmax(what: string, x: Float32Array, from: number, to: number): number {
  let amax = 0;
  let max = 0;
  let poison = 0; // v·0 is NaN exactly when v is NaN or ±Infinity, so one test after the loop suffices
  for (let i = from; i < to; i++) {
    const v = x[i];
    poison += v * 0;
    const a = Math.abs(v);
    if (a > amax) {
      amax = a;
      max = v;
    }
  }
  if (poison !== 0) throw nonFinite(what, x, from, to);
  return max;
}

/** Per-token absmax int8 quantization (BitNet). `out`, when given, is filled and returned. */
export function quantizeAbsmaxRows(x: Float32Array, rows: number, cols: number, out?: AbsmaxRows, what = "activations"): AbsmaxRows {
  checkDims(x, rows, cols, what);
  const res = out ?? { q: new Int8Array(rows * cols), scales: new Float32Array(rows), sums: new Int32Array(rows) };
  checkOut(what, [["q", res.q, rows * cols], ["scales", res.scales, rows], ["sums", res.sums, rows]]);
  const { q, scales, sums } = res;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const amax = Math.abs(signedAbsmax(what, x, base, base + cols));
    const s = Math.fround(127 / Math.max(amax, ACT_EPS_F32));
    scales[r] = s;
    let sum = 0;
    for (let i = base; i < base + cols; i++) {
      let v = Math.fround(x[i] * s) + ROUND_MAGIC - ROUND_MAGIC;
      if (v > 127) v = 127;
      else if (v < -128) v = -128;
      q[i] = v;
      sum += v;
    }
    sums[r] = sum;
  }
  return res;
}

/**
 * Per-block int8 quantization exactly as llama.cpp's Q8_K (block = 256 is Q8_K; other multiples of 16
 * apply the same rule to other block sizes). `cols` must be a multiple of `block`.
 * `out`, when given, is filled and returned.
 */
export function quantizeAbsmaxBlocks(x: Float32Array, rows: number, cols: number, block = 256, out?: AbsmaxBlocks, what = "activations"): AbsmaxBlocks {
  checkDims(x, rows, cols, what);
  if (!Number.isInteger(block) || block <= 0 || cols % block !== 0) {
    throw new Error(`${what}: row length ${cols} is not a multiple of the block size ${block}`);
  }
  const nb = (rows * cols) / block;
  const res = out ?? { q: new Int8Array(rows * cols), d: new Float32Array(nb), sums: new Int32Array(nb) };
  checkOut(what, [["q", res.q, rows * cols], ["d", res.d, nb], ["sums", res.sums, nb]]);
  const { q, d, sums } = res;
  for (let b = 0; b < nb; b++) {
    const base = b * block;
    const max = signedAbsmax(what, x, base, base + block);
    if (max === 0) {
      q.fill(0, base, base + block);
      d[b] = 0;
      sums[b] = 0;
      continue;
    }
    const iscale = Math.fround(-127 / max);
    let sum = 0;
    for (let i = base; i < base + block; i++) {
      const p = Math.fround(iscale * x[i]);
      // |p| ≤ 127.00001 unless iscale overflowed (a denormal block maximum); then take ggml's exact path.
      let v = Math.abs(p) <= 4194303 ? p + ROUND_MAGIC - ROUND_MAGIC : ggmlNearestInt(p);
      if (v > 127) v = 127;
      v = (v << 24) >> 24; // the C code stores the int into an int8_t
      q[i] = v;
      sum += v;
    }
    sums[b] = sum;
    d[b] = 1 / iscale;
  }
  return res;
}
