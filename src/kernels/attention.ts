/**
 * Reference causal attention over the KV cache, with grouped-query heads.
 * For token t at position p = pos0 + t, head h reads keys/values 0..p of kv head h / (H/HKV).
 * Scores are scaled by 1/sqrt(headDim); the softmax denominator is summed in float64 as ggml does.
 * Keys and values may be float32 or float16 bits (decoded through a table).
 * Fast backends match this within the bound src/kernels/wasm/forward-ops.ts states (float32 sums).
 */
import { f16Table } from "./half-tables.ts";
import type { AttentionShape } from "./types.ts";

export type { AttentionShape };

/**
 * out [T, H·hd] from q [T, H·hd] and the cache rows [ctx, HKV·hd]; `scores` is scratch of at least pos0+T floats.
 */
export function attention(
  out: Float32Array,
  q: Float32Array,
  keys: Float32Array | Uint16Array,
  values: Float32Array | Uint16Array,
  pos0: number,
  tokens: number,
  shape: AttentionShape,
  scores: Float32Array,
): void {
  const { nHeads, nKvHeads, headDim } = shape;
  const dim = nHeads * headDim;
  const kvDim = nKvHeads * headDim;
  const group = nHeads / nKvHeads;
  const scale = Math.fround(1 / Math.sqrt(headDim));
  const tab = keys instanceof Uint16Array ? f16Table() : null;
  for (let t = 0; t < tokens; t++) {
    const len = pos0 + t + 1;
    for (let h = 0; h < nHeads; h++) {
      const qo = t * dim + h * headDim;
      const ko = Math.floor(h / group) * headDim;
      let max = -Infinity;
      for (let p = 0; p < len; p++) {
        const kr = p * kvDim + ko;
        let s = 0;
        if (tab) for (let i = 0; i < headDim; i++) s += q[qo + i] * tab[keys[kr + i]];
        else for (let i = 0; i < headDim; i++) s += q[qo + i] * keys[kr + i];
        const v = Math.fround(Math.fround(s) * scale);
        scores[p] = v;
        if (v > max) max = v;
      }
      let sum = 0;
      for (let p = 0; p < len; p++) {
        const e = Math.fround(Math.exp(scores[p] - max));
        scores[p] = e;
        sum += e;
      }
      const inv = 1 / sum;
      const oo = t * dim + h * headDim;
      out.fill(0, oo, oo + headDim);
      for (let p = 0; p < len; p++) {
        const wgt = Math.fround(scores[p] * inv);
        const vr = p * kvDim + ko;
        if (tab) for (let i = 0; i < headDim; i++) out[oo + i] += wgt * tab[values[vr + i]];
        else for (let i = 0; i < headDim; i++) out[oo + i] += wgt * values[vr + i];
      }
    }
  }
}
