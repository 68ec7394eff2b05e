/**
 * The key/value cache: for each layer, the keys and values of every position seen so far, [ctx, KV].
 * Allocated once per context. F32 by default (what exact comparisons need); F16 halves its size.
 */
import { f32ArrayToF16 } from "../quant/half.ts";

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

  constructor(layers: number, contextLength: number, kvDim: number, type: KVCacheType) {
    this.layers = layers;
    this.contextLength = contextLength;
    this.kvDim = kvDim;
    this.type = type;
    const make = () => (type === "f32" ? new Float32Array(contextLength * kvDim) : new Uint16Array(contextLength * kvDim));
    this.keys = Array.from({ length: layers }, make);
    this.values = Array.from({ length: layers }, make);
  }

  get bytes(): number {
    return this.layers * 2 * this.contextLength * this.kvDim * (this.type === "f32" ? 4 : 2);
  }

  /** Writes T rows of keys and values for `layer` at positions pos0..pos0+T-1. */
  store(layer: number, pos0: number, tokens: number, k: Float32Array, v: Float32Array): void {
    const n = tokens * this.kvDim;
    const at = pos0 * this.kvDim;
    const kd = this.keys[layer];
    const vd = this.values[layer];
    if (kd instanceof Float32Array) {
      kd.set(k.subarray(0, n), at);
      (vd as Float32Array).set(v.subarray(0, n), at);
    } else {
      f32ArrayToF16(k.subarray(0, n), kd.subarray(at, at + n));
      f32ArrayToF16(v.subarray(0, n), (vd as Uint16Array).subarray(at, at + n));
    }
  }
}
