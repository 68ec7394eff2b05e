/**
 * The three products a linear layer needs in training, each as a readable naive reference and a
 * faster version beside it (tests hold the fast ones to the naive ones):
 *
 *   forward         out[N, O]  = inp[N, I] · w[O, I]ᵀ        (overwrites out)
 *   backward input  dinp[N, I] += dout[N, O] · w[O, I]       (accumulates)
 *   backward weight dw[O, I]   += dout[N, O]ᵀ · inp[N, I]    (accumulates)
 *
 * Weights are [out, in] row-major (GGUF's layout). The fast versions allocate nothing. They are
 * scalar JavaScript (V8 does the arithmetic in float64 and rounds once on store) and keep the
 * innermost loop running over contiguous memory: the forward computes four rows' dot products
 * against one weight row at once (each weight value is loaded once for four rows), and the two
 * backward products use i-k-j order with the k loop unrolled four ways, so each output element is
 * loaded and stored once per four terms. They are not the inference kernels (src/kernels), which
 * work on packed ternary codes.
 *
 * The training code reaches the products through a Gemm (below): `jsGemm` runs these functions; the
 * WebAssembly SIMD one (wasm-gemm.ts, several times faster) is created asynchronously and passed in.
 */

/** Reference: out[n,o] = Σ_i inp[n,i]·w[o,i]. */
export function matmulForwardNaive(out: Float32Array, inp: Float32Array, w: Float32Array, N: number, I: number, O: number): void {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let i = 0; i < I; i++) s += inp[n * I + i] * w[o * I + i];
      out[n * O + o] = s;
    }
  }
}

/** Reference: dinp[n,i] += Σ_o dout[n,o]·w[o,i]. */
export function matmulBackwardInputNaive(dinp: Float32Array, dout: Float32Array, w: Float32Array, N: number, I: number, O: number): void {
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < I; i++) {
      let s = 0;
      for (let o = 0; o < O; o++) s += dout[n * O + o] * w[o * I + i];
      dinp[n * I + i] += s;
    }
  }
}

/** Reference: dw[o,i] += Σ_n dout[n,o]·inp[n,i]. */
export function matmulBackwardWeightNaive(dw: Float32Array, dout: Float32Array, inp: Float32Array, N: number, I: number, O: number): void {
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < I; i++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dout[n * O + o] * inp[n * I + i];
      dw[o * I + i] += s;
    }
  }
}

/** Fast forward: four input rows against one weight row per pass (hot spot). */
export function matmulForward(out: Float32Array, inp: Float32Array, w: Float32Array, N: number, I: number, O: number): void {
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const r0 = n * I;
    const r1 = r0 + I;
    const r2 = r1 + I;
    const r3 = r2 + I;
    for (let o = 0; o < O; o++) {
      const wr = o * I;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < I; i++) {
        const wv = w[wr + i];
        s0 += inp[r0 + i] * wv;
        s1 += inp[r1 + i] * wv;
        s2 += inp[r2 + i] * wv;
        s3 += inp[r3 + i] * wv;
      }
      out[n * O + o] = s0;
      out[(n + 1) * O + o] = s1;
      out[(n + 2) * O + o] = s2;
      out[(n + 3) * O + o] = s3;
    }
  }
  for (; n < N; n++) {
    const r = n * I;
    for (let o = 0; o < O; o++) {
      const wr = o * I;
      let s = 0;
      for (let i = 0; i < I; i++) s += inp[r + i] * w[wr + i];
      out[n * O + o] = s;
    }
  }
}

/** Fast backward to the input: i-k-j order, four weight rows per pass over a dinp row (hot spot). */
export function matmulBackwardInput(dinp: Float32Array, dout: Float32Array, w: Float32Array, N: number, I: number, O: number): void {
  for (let n = 0; n < N; n++) {
    const dr = n * I;
    const gr = n * O;
    let o = 0;
    for (; o + 4 <= O; o += 4) {
      const a0 = dout[gr + o];
      const a1 = dout[gr + o + 1];
      const a2 = dout[gr + o + 2];
      const a3 = dout[gr + o + 3];
      const w0 = o * I;
      const w1 = w0 + I;
      const w2 = w1 + I;
      const w3 = w2 + I;
      for (let i = 0; i < I; i++) dinp[dr + i] += a0 * w[w0 + i] + a1 * w[w1 + i] + a2 * w[w2 + i] + a3 * w[w3 + i];
    }
    for (; o < O; o++) {
      const a = dout[gr + o];
      const w0 = o * I;
      for (let i = 0; i < I; i++) dinp[dr + i] += a * w[w0 + i];
    }
  }
}

/** Fast backward to the weight: i-k-j order, four input rows per pass over a dw row (hot spot). */
export function matmulBackwardWeight(dw: Float32Array, dout: Float32Array, inp: Float32Array, N: number, I: number, O: number): void {
  for (let o = 0; o < O; o++) {
    const wr = o * I;
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const a0 = dout[n * O + o];
      const a1 = dout[(n + 1) * O + o];
      const a2 = dout[(n + 2) * O + o];
      const a3 = dout[(n + 3) * O + o];
      const r0 = n * I;
      const r1 = r0 + I;
      const r2 = r1 + I;
      const r3 = r2 + I;
      for (let i = 0; i < I; i++) dw[wr + i] += a0 * inp[r0 + i] + a1 * inp[r1 + i] + a2 * inp[r2 + i] + a3 * inp[r3 + i];
    }
    for (; n < N; n++) {
      const a = dout[n * O + o];
      const r = n * I;
      for (let i = 0; i < I; i++) dw[wr + i] += a * inp[r + i];
    }
  }
}

/**
 * The three products as one backend, which is all the training math needs to know about kernels.
 * Each backend is deterministic (same inputs, same bits) but backends differ from each other in the
 * last bits, so a run and its resumption must use the same one.
 */
export interface Gemm {
  /** "js" or "wasm-simd128". */
  readonly name: string;
  /** out[N, O] = inp[N, I] · w[O, I]ᵀ. */
  forward(out: Float32Array, inp: Float32Array, w: Float32Array, N: number, I: number, O: number): void;
  /** dinp[N, I] += dout[N, O] · w[O, I]. */
  backwardInput(dinp: Float32Array, dout: Float32Array, w: Float32Array, N: number, I: number, O: number): void;
  /** dw[O, I] += dout[N, O]ᵀ · inp[N, I]. */
  backwardWeight(dw: Float32Array, dout: Float32Array, inp: Float32Array, N: number, I: number, O: number): void;
  /** n zeros where this backend reads them without copying (the trainer's parameters and activations). */
  alloc(n: number): Float32Array;
}

/** The scalar JavaScript backend: the fast functions above, on ordinary arrays. */
export const jsGemm: Gemm = {
  name: "js",
  forward: matmulForward,
  backwardInput: matmulBackwardInput,
  backwardWeight: matmulBackwardWeight,
  alloc: (n) => new Float32Array(n),
};
