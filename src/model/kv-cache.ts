/**
 * The key/value cache: for each layer, the keys and values of every position seen so far, [ctx, KV].
 * Allocated once per context, in the kernels' own memory when the run state is placed there (so that
 * attention reads it in place). F32 by default (what exact comparisons need); F16 halves its size.
 * Not here: attention itself (the kernels).
 */
import type { Kernels } from "../kernels/types.ts";

export type KVCacheType = "f32" | "f16";

export class KVCache {
  readonly keys: (Float32Array | Uint16Array)[]; // per layer [ctx, KV]
  readonly values: (Float32Array | Uint16Array)[]; // per layer [ctx, KV]
  /** Positions 0..length-1 hold valid entries. */
  length = 0;

  readonly layers: number;
  readonly contextLength: number;
  readonly kvDim: number;
  readonly type: KVCacheType;

  /** Bytes a cache of this shape holds (and needs from `memory`). */
  static bytesFor(layers: number, contextLength: number, kvDim: number, type: KVCacheType): number {
    return layers * 2 * contextLength * kvDim * (type === "f32" ? 4 : 2);
  }

  /** `memory`, when given, holds the cache (bytesFor bytes, 4-aligned); otherwise it gets arrays of its own. */
  constructor(layers: number, contextLength: number, kvDim: number, type: KVCacheType, memory?: Uint8Array) {
    this.layers = layers;
    this.contextLength = contextLength;
    this.kvDim = kvDim;
    this.type = type;
    const n = contextLength * kvDim;
    const elem = type === "f32" ? 4 : 2;
    if (memory && memory.byteLength < KVCache.bytesFor(layers, contextLength, kvDim, type)) {
      throw new Error(`KV cache: ${memory.byteLength} bytes given, ${KVCache.bytesFor(layers, contextLength, kvDim, type)} needed`);
    }
    // Array i: layer i >> 1, keys when i is even, values when odd.
    const make = (i: number) => {
      if (!memory) return type === "f32" ? new Float32Array(n) : new Uint16Array(n);
      const at = memory.byteOffset + i * n * elem;
      return type === "f32" ? new Float32Array(memory.buffer, at, n) : new Uint16Array(memory.buffer, at, n);
    };
    this.keys = Array.from({ length: layers }, (_, l) => make(2 * l));
    this.values = Array.from({ length: layers }, (_, l) => make(2 * l + 1));
  }

  get bytes(): number {
    return KVCache.bytesFor(this.layers, this.contextLength, this.kvDim, this.type);
  }

  /** Writes T rows of keys and values for `layer` at positions pos0..pos0+T-1 (F16 through the kernels' conversion). */
  store(layer: number, pos0: number, tokens: number, k: Float32Array, v: Float32Array, kernels: Pick<Kernels, "f32ToF16">): void {
    const n = tokens * this.kvDim;
    const at = pos0 * this.kvDim;
    if (at + n > this.contextLength * this.kvDim) throw new Error(`KV cache: positions ${pos0}..${pos0 + tokens - 1} do not fit the context of ${this.contextLength}`);
    const kd = this.keys[layer];
    const vd = this.values[layer];
    if (kd instanceof Float32Array) {
      // element by element: a subarray() view per call would be an allocation per token
      const vf = vd as Float32Array;
      for (let i = 0; i < n; i++) {
        kd[at + i] = k[i];
        vf[at + i] = v[i];
      }
    } else {
      kernels.f32ToF16(k, kd, at, n);
      kernels.f32ToF16(v, vd as Uint16Array, at, n);
    }
  }
}
