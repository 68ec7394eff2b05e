/**
 * The key/value cache, organised as fixed slots: one region per sequence, each holding, for every layer,
 * the keys and values of positions 0..ctx-1 as [ctx, KV] rows (llama-server's per-slot cache).
 *
 * Why fixed slots rather than pages shared by all sequences (vLLM, llama-server's unified cache): the
 * attention kernels read one contiguous [pos, KV] block per layer, which keeps them simple and exact
 * (a sequence's bits do not depend on where its neighbours live), and a slot costs nothing until a
 * sequence first uses it: slots are placed lazily, in the kernels' memory when it can grow without
 * moving what is already there (shared memory), else in ordinary arrays. The price is that every slot
 * is sized for a whole context; pages would let short sequences leave room to long ones.
 *
 * Memory per sequence: layers · 2 · ctx · KV · (4 for F32, 2 for F16) bytes (`bytesPerSequence`).
 * Not here: attention itself (the kernels), which slot a sequence gets (sequences.ts).
 */
import type { Kernels } from "../kernels/types.ts";

export type KVCacheType = "f32" | "f16";

type Rows = Float32Array | Uint16Array;

export class KVCache {
  readonly layers: number;
  readonly contextLength: number;
  readonly kvDim: number;
  readonly type: KVCacheType;
  /** How many sequences can hold a region at once. */
  readonly slots: number;
  /** Per slot, per layer: [ctx, KV] keys and values; undefined until the slot is first used. */
  private readonly keyRows: (Rows[] | undefined)[];
  private readonly valueRows: (Rows[] | undefined)[];
  private readonly alloc: ((bytes: number) => Uint8Array | null) | undefined;
  private placed = 0;

  /** Bytes one sequence's region holds. */
  static bytesFor(layers: number, contextLength: number, kvDim: number, type: KVCacheType): number {
    return layers * 2 * contextLength * kvDim * (type === "f32" ? 4 : 2);
  }

  /**
   * `alloc` places a slot's region (bytesFor bytes, 64-aligned) where the kernels want it, or returns null
   * when it cannot (the slot then gets ordinary arrays).
   */
  constructor(layers: number, contextLength: number, kvDim: number, type: KVCacheType, slots: number, alloc?: (bytes: number) => Uint8Array | null) {
    this.layers = layers;
    this.contextLength = contextLength;
    this.kvDim = kvDim;
    this.type = type;
    this.slots = slots;
    this.alloc = alloc;
    this.keyRows = new Array<Rows[] | undefined>(slots).fill(undefined);
    this.valueRows = new Array<Rows[] | undefined>(slots).fill(undefined);
  }

  get bytesPerSequence(): number {
    return KVCache.bytesFor(this.layers, this.contextLength, this.kvDim, this.type);
  }

  /** Bytes of the slots placed so far. */
  get bytes(): number {
    return this.placed * this.bytesPerSequence;
  }

  /** Places slot `slot`'s region now, if it has none yet (otherwise its first use does). */
  place(slot: number): void {
    if (this.keyRows[slot] !== undefined) return;
    if (!(slot >= 0 && slot < this.slots)) throw new RangeError(`KV cache: slot ${slot} is not in [0, ${this.slots})`);
    const n = this.contextLength * this.kvDim;
    const elem = this.type === "f32" ? 4 : 2;
    const memory = this.alloc?.(this.bytesPerSequence) ?? null;
    // Array i: layer i >> 1, keys when i is even, values when odd.
    const make = (i: number): Rows => {
      if (!memory) return this.type === "f32" ? new Float32Array(n) : new Uint16Array(n);
      const at = memory.byteOffset + i * n * elem;
      return this.type === "f32" ? new Float32Array(memory.buffer, at, n) : new Uint16Array(memory.buffer, at, n);
    };
    this.keyRows[slot] = Array.from({ length: this.layers }, (_, l) => make(2 * l));
    this.valueRows[slot] = Array.from({ length: this.layers }, (_, l) => make(2 * l + 1));
    this.placed++;
  }

  keys(slot: number, layer: number): Rows {
    this.place(slot);
    return (this.keyRows[slot] as Rows[])[layer];
  }

  values(slot: number, layer: number): Rows {
    this.place(slot);
    return (this.valueRows[slot] as Rows[])[layer];
  }

  /**
   * Writes `tokens` rows of keys and values, starting at row `row0` of k and v ([T, KV]), into `slot`'s
   * cache for `layer` at positions pos0..pos0+tokens-1 (F16 through the kernels' conversion).
   */
  store(slot: number, layer: number, pos0: number, tokens: number, k: Float32Array, v: Float32Array, row0: number, kernels: Pick<Kernels, "f32ToF16">): void {
    const n = tokens * this.kvDim;
    const at = pos0 * this.kvDim;
    if (pos0 < 0 || at + n > this.contextLength * this.kvDim) throw new RangeError(`KV cache: positions ${pos0}..${pos0 + tokens - 1} do not fit the context of ${this.contextLength}`);
    const kd = this.keys(slot, layer);
    const vd = this.values(slot, layer);
    const from = row0 * this.kvDim;
    if (kd instanceof Float32Array) {
      // element by element: a subarray() view per call would be an allocation per token
      const vf = vd as Float32Array;
      for (let i = 0; i < n; i++) {
        kd[at + i] = k[from + i];
        vf[at + i] = v[from + i];
      }
    } else {
      kernels.f32ToF16(from === 0 ? k : k.subarray(from), kd, at, n);
      kernels.f32ToF16(from === 0 ? v : v.subarray(from), vd as Uint16Array, at, n);
    }
  }
}
