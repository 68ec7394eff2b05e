/**
 * The wasm backend's forward-pass ops other than matmuls: RMSNorm (fused with int8 quantization),
 * activation quantization, RoPE, attention, the gated activation, the residual add and f16 encoding,
 * over the AssemblyScript kernels in assembly/{norm-quant,rope,attention,pointwise}.ts.
 *
 * Buffers that are views of the kernels' memory (the run state, placed by allocState) are used in
 * place; anything else is copied into scratch and back, which is correct but costs a copy per call
 * (for attention, of the cache rows it reads). Constant inputs (norm weights, the RoPE table) that live
 * elsewhere are copied in once. In place, a call allocates nothing.
 *
 * With the threaded kernels, a call big enough to pay for waking the helpers (a prefill's, a batch's of
 * several sequences; never one token's) splits its rows across their pool, through the module's range
 * exports (assembly/row-ranges.ts, attentionRange); every cut gives the bits of one call.
 *
 * Numerics against the TypeScript reference:
 * - rmsnorm, rmsnormQuantize, quantizeActivations, rope, ReLU², addInPlace, f32ToF16: bit for bit.
 * - SiLU: float64 as the reference, with the module's own exp; equal to the float32 bit except where the
 *   two float64 exps differ in their last bit next to a float32 rounding boundary (about 1 value in 10^8,
 *   then by 1 ulp).
 * - attention: float32 dot products and sums, an exp within 2 ulp of float32, the softmax denominator
 *   in float64. For each output element o = Σ_p w_p·v_p of a query over len keys, scores s_p = q·k_p/√hd:
 *     |o − o_ref| ≤ (2·Δs + 2^-19 + (len + 64)·2^-23)·Σ_p w_p·|v_p|,  Δs = (hd + 4)·2^-24·max_p Σ_i |q_i·k_pi|/√hd
 *   (the score error moves each weight by at most a factor e^{±2Δs}; the rest is the exp, the
 *   normalization, and the float32 sums of ours, blocked by 64 keys, and of the reference, sequential).
 *   Typical errors are far smaller: about 3e-7 of Σ w·|v| at the 2B4T shape up to len 2048, under 1%
 *   of the bound (test/kernels/attention.test.ts).
 * Not here: matmuls (kernels.ts).
 */
import { describeActivations, kernelQuantizable, quantizeActivationsRef, rmsnormQuantizeRef } from "../activations.ts";
import { attention as attentionRef } from "../attention.ts";
import { rope as ropeRef } from "../ops.ts";
import type { ActQuantMode, AttentionShape, GateActivation, QuantizedActivations, RopePairing, RopeTable } from "../types.ts";
import type { WasmArena } from "./arena.ts";
import type { KernelExports } from "./module.ts";

const QUANT_NONE = -1;
const QUANT_MODE = { token: 0, block256: 1 } as const;
const STATUS_OK = 0;
/** Scratch the SiLU's exp keeps its constants in (assembly/pointwise.ts EXP_CONSTANT_BYTES). */
const EXP_CONSTANT_BYTES = 336;

function align64(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

/** The exports that do a range of one op's rows (assembly/row-ranges.ts, and attention's query tiles). */
export const RANGE_EXPORTS = ["attentionRange", "rmsnormQuantizeRange", "quantizeRowsRange", "ropeRange", "gatedActivationRange", "addInPlaceRange", "f32ToF16Range"] as const;
export type RangeExport = (typeof RANGE_EXPORTS)[number];

/**
 * Runs a range export over rows [0, rows) across threads (the threaded kernels' pool): lane l calls it
 * with laneArgs[l], when given (its own scratch), and its own range, cut at multiples of `align`.
 * `work` (on the scale of multiply-adds) decides whether splitting pays.
 */
export interface RowRunner {
  readonly lanes: number;
  /** Jobs below this much work run on the calling thread. */
  readonly minParallelWork: number;
  run(name: RangeExport, args: readonly number[], rows: number, work: number, laneArgs: readonly number[] | undefined, align: number): void;
}

/**
 * What one element of each op costs on the scale of the pool's threshold (multiply-adds of a ternary
 * matmul): one token's norm or SiLU stays on the calling thread; a prefill's, or a batch's of several
 * sequences, is split.
 */
const COST = { norm: 64, quantize: 32, rope: 16, silu: 64, relu2: 8, add: 4, f16: 8 } as const;

export class WasmForwardOps {
  /** Set by the threaded kernels: the ops' rows (a prefill's attention tiles) then split across their pool. */
  runner: RowRunner | null = null;
  private readonly arena: WasmArena;
  private readonly wasm: KernelExports;
  private readonly constants = new WeakMap<ArrayBufferView, number>();
  private scratchAt = 0;
  private scratchSize = 0;
  /** Next free byte of this call's scratch (see begin/take). */
  private cursor = 0;

  constructor(arena: WasmArena, wasm: KernelExports) {
    this.arena = arena;
    this.wasm = wasm;
  }

  /**
   * A region for the run state, or null when placing it would grow an ordinary (non-shared) memory,
   * which detaches every view handed out before (the weights), or go past wasm32's 4 GiB.
   */
  allocState(bytes: number, align: number): Uint8Array | null {
    const a = Math.max(align, 64);
    const start = Math.ceil(this.arena.used / a) * a;
    if (!this.arena.shared && start + bytes > this.arena.memory.buffer.byteLength) return null;
    try {
      return this.arena.bytes(this.arena.alloc(bytes, a, "run state"), bytes);
    } catch {
      return null; // over wasm32's 4 GiB, or the engine refused to grow: ordinary arrays will do
    }
  }

  rmsnormQuantize(out: Float32Array, x: Float32Array, weight: Float32Array, T: number, n: number, eps: number, mode: ActQuantMode | null, acts: QuantizedActivations | null): void {
    if (T === 0) return;
    const size = T * n;
    if (x.length < size || out.length < size || weight.length < n) throw new Error(`rmsnorm: [${T}, ${n}] needs ${size} inputs, outputs and ${n} weights; got ${x.length}, ${out.length}, ${weight.length}`);
    if (acts && mode && !kernelQuantizable(T, n, mode, acts)) return rmsnormQuantizeRef(out, x, weight, T, n, eps, mode, acts);
    const groups = mode === "block256" ? T * (n / 256) : T;
    const lanes = this.lanesFor(T, size * COST.norm);
    this.begin(this.copied(x, 4 * size) + this.copied(out, 4 * size) + (acts ? this.copied(acts.q, size) + this.copied(acts.factors, 4 * groups) + this.copied(acts.sums, 4 * groups) : 0) + lanes * 64);
    const xa = this.input(x, 4 * size, "rmsnorm input");
    const oa = out === x ? xa : this.output(out, 4 * size, "rmsnorm output");
    const wa = this.constant(weight, "rmsnorm weight");
    const quantize = acts !== null && mode !== null;
    const qa = quantize ? this.output(acts.q, size, "activations") : 0;
    const fa = quantize ? this.output(acts.factors, 4 * groups, "activation factors") : 0;
    const sa = quantize ? this.output(acts.sums, 4 * groups, "activation sums") : 0;
    const how = quantize ? QUANT_MODE[mode] : QUANT_NONE;
    let ok: boolean;
    if (lanes > 1) {
      const status = this.statusWords(lanes);
      this.split("rmsnormQuantizeRange", [xa, wa, oa, n, eps, how, qa, fa, sa], T, size * COST.norm, status);
      ok = this.statusOk(status);
    } else ok = this.wasm.rmsnormQuantize(xa, wa, oa, T, n, eps, how, qa, fa, sa) === STATUS_OK;
    this.copyOut(out, oa, 4 * size);
    if (!quantize) return;
    this.copyOut(acts.q, qa, size);
    this.copyOut(acts.factors, fa, 4 * groups);
    this.copyOut(acts.sums, sa, 4 * groups);
    describeActivations(acts, T, n, mode);
    // The reference throws its error (non-finite activations) or takes ggml's path for an overflowing block
    // scale; the module normalized every row all the same.
    if (!ok) quantizeActivationsRef(out, T, n, mode, acts);
  }

  quantize(x: Float32Array, T: number, n: number, mode: ActQuantMode, acts: QuantizedActivations): void {
    if (T === 0 || x.length < T * n || !kernelQuantizable(T, n, mode, acts)) return quantizeActivationsRef(x, T, n, mode, acts);
    const size = T * n;
    const groups = mode === "block256" ? T * (n / 256) : T;
    const lanes = this.lanesFor(T, size * COST.quantize);
    this.begin(this.copied(x, 4 * size) + this.copied(acts.q, size) + this.copied(acts.factors, 4 * groups) + this.copied(acts.sums, 4 * groups) + lanes * 64);
    const xa = this.input(x, 4 * size, "activations input");
    const qa = this.output(acts.q, size, "activations");
    const fa = this.output(acts.factors, 4 * groups, "activation factors");
    const sa = this.output(acts.sums, 4 * groups, "activation sums");
    let ok: boolean;
    if (lanes > 1) {
      const status = this.statusWords(lanes);
      this.split("quantizeRowsRange", [xa, n, QUANT_MODE[mode], qa, fa, sa], T, size * COST.quantize, status);
      ok = this.statusOk(status);
    } else ok = this.wasm.quantizeRows(xa, T, n, QUANT_MODE[mode], qa, fa, sa) === STATUS_OK;
    if (!ok) return quantizeActivationsRef(x, T, n, mode, acts);
    this.copyOut(acts.q, qa, size);
    this.copyOut(acts.factors, fa, 4 * groups);
    this.copyOut(acts.sums, sa, 4 * groups);
    describeActivations(acts, T, n, mode);
  }

  rope(x: Float32Array, T: number, heads: number, hd: number, pos0: number, table: RopeTable, pairing: RopePairing): void {
    const half = table.dims / 2;
    const fits = Number.isInteger(half) && half > 0 && table.dims <= hd && (pos0 + T) * half <= table.cos.length && table.sin.length === table.cos.length;
    if (T === 0 || !fits || x.length < T * heads * hd) return ropeRef(x, T, heads, hd, pos0, table, pairing);
    const bytes = 4 * T * heads * hd;
    this.begin(this.copied(x, bytes));
    const xa = this.input(x, bytes, "rope input");
    const cos = this.constant(table.cos, "rope table");
    const sin = this.constant(table.sin, "rope table");
    const neox = pairing === "neox" ? 1 : 0;
    const work = T * heads * table.dims * COST.rope;
    if (this.lanesFor(T, work) > 1) this.split("ropeRange", [xa, heads, hd, pos0, cos, sin, table.dims, neox], T, work);
    else this.wasm.rope(xa, T, heads, hd, pos0, cos, sin, table.dims, neox);
    this.copyOut(x, xa, bytes);
  }

  attention(out: Float32Array, q: Float32Array, keys: Float32Array | Uint16Array, values: Float32Array | Uint16Array, pos0: number, T: number, shape: AttentionShape, scores: Float32Array): void {
    const { nHeads: H, nKvHeads: HKV, headDim: hd } = shape;
    const half = keys instanceof Uint16Array;
    const len = pos0 + T;
    const dim = H * hd;
    const kvElems = len * HKV * hd;
    const supported =
      hd % 8 === 0 && H % HKV === 0 && half === values instanceof Uint16Array && keys.length >= kvElems && values.length >= kvElems && q.length >= T * dim && out.length >= T * dim;
    if (T === 0 || !supported) return attentionRef(out, q, keys, values, pos0, T, shape, scores);
    const kvBytes = kvElems * (half ? 2 : 4);
    const workBytes = this.wasm.attentionWorkBytes(len, hd, HKV, half ? 1 : 0);
    // A prefill's tiles are shared by the pool's threads, each with scratch of its own; decode stays here.
    const units = this.wasm.attentionUnits(T, H, HKV);
    const lanes = units >= 2 && this.runner ? this.runner.lanes : 1;
    this.begin(this.copied(q, 4 * T * dim) + this.copied(out, 4 * T * dim) + this.copied(keys, kvBytes) + this.copied(values, kvBytes) + lanes * align64(workBytes));
    const qa = this.input(q, 4 * T * dim, "attention queries");
    const ka = this.input(keys, kvBytes, "key cache");
    const va = this.input(values, kvBytes, "value cache");
    const oa = this.output(out, 4 * T * dim, "attention output");
    if (lanes > 1) {
      const laneWork = Array.from({ length: lanes }, () => this.take(workBytes));
      // multiply-adds: each query against about half of the keys, for scores and values
      this.split("attentionRange", [oa, qa, ka, va, pos0, T, H, HKV, hd, half ? 1 : 0], units, T * (pos0 + T / 2) * dim * 2, laneWork);
    } else {
      this.wasm.attention(oa, qa, ka, va, pos0, T, H, HKV, hd, half ? 1 : 0, this.take(workBytes));
    }
    this.copyOut(out, oa, 4 * T * dim);
  }

  gatedActivation(gate: Float32Array, up: Float32Array, n: number, act: GateActivation): void {
    if (n === 0) return;
    if (gate.length < n || up.length < n) throw new Error(`gated activation: ${n} values, but gate holds ${gate.length} and up ${up.length}`);
    const relu2 = act === "relu2";
    const work = n * (relu2 ? COST.relu2 : COST.silu);
    // Cut at multiples of 4 values, so that each range runs the vector loop the whole call would.
    const lanes = this.lanesFor(n, work, 4);
    this.begin(this.copied(gate, 4 * n) + this.copied(up, 4 * n) + lanes * align64(EXP_CONSTANT_BYTES));
    const ga = this.input(gate, 4 * n, "gate");
    const ua = this.input(up, 4 * n, "up");
    if (lanes > 1) {
      const constants = Array.from({ length: lanes }, () => this.take(EXP_CONSTANT_BYTES));
      this.split("gatedActivationRange", [ga, ua, relu2 ? 1 : 0], n, work, constants, 4);
    } else this.wasm.gatedActivation(ga, ua, n, relu2 ? 1 : 0, this.take(EXP_CONSTANT_BYTES));
    this.copyOut(gate, ga, 4 * n);
  }

  addInPlace(x: Float32Array, y: Float32Array, n: number): void {
    if (n === 0) return;
    if (x.length < n || y.length < n) throw new Error(`residual add: ${n} values, but x holds ${x.length} and y ${y.length}`);
    this.begin(this.copied(x, 4 * n) + this.copied(y, 4 * n));
    const xa = this.input(x, 4 * n, "residual");
    const ya = this.input(y, 4 * n, "residual addend");
    if (this.lanesFor(n, n * COST.add, 4) > 1) this.split("addInPlaceRange", [xa, ya], n, n * COST.add, undefined, 4);
    else this.wasm.addInPlace(xa, ya, n);
    this.copyOut(x, xa, 4 * n);
  }

  f32ToF16(src: Float32Array, dst: Uint16Array, at: number, n: number): void {
    if (n === 0) return;
    if (src.length < n || at < 0 || dst.length < at + n) throw new Error(`f16 conversion: ${n} values at ${at}, but src holds ${src.length} and dst ${dst.length}`);
    this.begin(this.copied(src, 4 * n) + this.copied(dst, 2 * n));
    const sa = this.input(src, 4 * n, "f16 conversion input");
    const resident = this.arena.addressOf(dst, "f16 conversion output");
    const da = resident !== null ? resident + 2 * at : this.take(2 * n);
    if (this.lanesFor(n, n * COST.f16, 8) > 1) this.split("f32ToF16Range", [sa, da], n, n * COST.f16, undefined, 8);
    else this.wasm.f32ToF16(sa, da, n);
    if (resident === null) new Uint8Array(dst.buffer, dst.byteOffset + 2 * at, 2 * n).set(this.arena.bytes(da, 2 * n));
  }

  /**
   * The threads a job of `rows` rows and `work` splits across (the pool's own rule): 1 keeps the whole
   * call on this thread, as it always ran before the ops had a pool (a decode step's, whose calls are
   * too small to pay for waking the helpers).
   */
  private lanesFor(rows: number, work: number, align = 1): number {
    const r = this.runner;
    return r && r.lanes > 1 && work >= r.minParallelWork && rows >= 2 * align ? r.lanes : 1;
  }

  /** Rows [0, rows) of range export `name` across the runner's threads (see lanesFor). */
  private split(name: RangeExport, args: readonly number[], rows: number, work: number, laneArgs?: readonly number[], align = 1): void {
    if (!this.runner) throw new Error(`wasm kernels: ${name} split with no thread pool`);
    this.runner.run(name, args, rows, work, laneArgs, align);
  }

  /** One status word per lane (an i32 in a 64-byte slot of scratch of its own), set to STATUS_OK. */
  private statusWords(lanes: number): number[] {
    return Array.from({ length: lanes }, () => {
      const at = this.take(4);
      this.arena.bytes(at, 4).fill(0);
      return at;
    });
  }

  private statusOk(words: readonly number[]): boolean {
    return words.every((at) => {
      const b = this.arena.bytes(at, 4);
      return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true) === STATUS_OK;
    });
  }

  /** Scratch bytes `view` takes if it must be copied (it is not in the kernels' memory): `bytes`, aligned; else 0. */
  private copied(view: ArrayBufferView, bytes: number): number {
    return this.arena.addressOf(view, "kernel input") === null ? align64(bytes) : 0;
  }

  /** Starts a call that may copy up to `bytes` into scratch (regrown, the old region abandoned, when too small). */
  private begin(bytes: number): void {
    const need = bytes + 8 * 64;
    if (need > this.scratchSize) {
      const size = Math.max(need, this.scratchSize * 2, 1 << 20);
      this.scratchAt = this.arena.alloc(size, 64, "kernel scratch");
      this.scratchSize = size;
    }
    this.cursor = this.scratchAt;
  }

  private take(bytes: number): number {
    const at = this.cursor;
    this.cursor += align64(bytes);
    return at;
  }

  /** The address of the first `bytes` of `view`: in place, or a copy in scratch. */
  private input(view: ArrayBufferView, bytes: number, what: string): number {
    const at = this.arena.addressOf(view, what);
    if (at !== null) return at;
    const copy = this.take(bytes);
    this.arena.bytes(copy, bytes).set(new Uint8Array(view.buffer, view.byteOffset, bytes));
    return copy;
  }

  /** Where a result for `view` goes: in place, or scratch that copyOut copies back. */
  private output(view: ArrayBufferView, bytes: number, what: string): number {
    return this.arena.addressOf(view, what) ?? this.take(bytes);
  }

  private copyOut(view: ArrayBufferView, at: number, bytes: number): void {
    if (this.arena.addressOf(view, "output") === at) return;
    new Uint8Array(view.buffer, view.byteOffset, bytes).set(this.arena.bytes(at, bytes));
  }

  /** The address of an input that never changes (norm weights, the RoPE table), copied in once if it lives elsewhere. */
  private constant(view: Float32Array, what: string): number {
    const at = this.arena.addressOf(view, what);
    if (at !== null) return at;
    let copy = this.constants.get(view);
    if (copy === undefined) {
      copy = this.arena.alloc(view.byteLength, 64, `a copy of the ${what}`);
      this.arena.bytes(copy, view.byteLength).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      this.constants.set(view, copy);
    }
    return copy;
  }
}
