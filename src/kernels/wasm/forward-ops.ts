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

/**
 * Runs units [0, units) of a prefill's attention (the module's attentionRange) across threads, lane l
 * with its own scratch laneWork[l]; `work` (multiply-adds) decides whether splitting pays.
 */
export interface AttentionRunner {
  readonly lanes: number;
  run(args: readonly number[], units: number, work: number, laneWork: readonly number[]): void;
}

export class WasmForwardOps {
  /** Set by the threaded kernels: prefill attention then runs on their pool. */
  attentionRunner: AttentionRunner | null = null;
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
    this.begin(this.copied(x, 4 * size) + this.copied(out, 4 * size) + (acts ? this.copied(acts.q, size) + this.copied(acts.factors, 4 * groups) + this.copied(acts.sums, 4 * groups) : 0));
    const xa = this.input(x, 4 * size, "rmsnorm input");
    const oa = out === x ? xa : this.output(out, 4 * size, "rmsnorm output");
    const wa = this.constant(weight, "rmsnorm weight");
    let status = STATUS_OK;
    if (acts && mode) {
      const qa = this.output(acts.q, size, "activations");
      const fa = this.output(acts.factors, 4 * groups, "activation factors");
      const sa = this.output(acts.sums, 4 * groups, "activation sums");
      status = this.wasm.rmsnormQuantize(xa, wa, oa, T, n, eps, QUANT_MODE[mode], qa, fa, sa);
      this.copyOut(out, oa, 4 * size);
      this.copyOut(acts.q, qa, size);
      this.copyOut(acts.factors, fa, 4 * groups);
      this.copyOut(acts.sums, sa, 4 * groups);
      describeActivations(acts, T, n, mode);
    } else {
      this.wasm.rmsnormQuantize(xa, wa, oa, T, n, eps, QUANT_NONE, 0, 0, 0);
      this.copyOut(out, oa, 4 * size);
    }
    // The reference throws its error (non-finite activations) or takes ggml's path for an overflowing block scale.
    if (status !== STATUS_OK && acts && mode) quantizeActivationsRef(out, T, n, mode, acts);
  }

  quantize(x: Float32Array, T: number, n: number, mode: ActQuantMode, acts: QuantizedActivations): void {
    if (T === 0 || x.length < T * n || !kernelQuantizable(T, n, mode, acts)) return quantizeActivationsRef(x, T, n, mode, acts);
    const size = T * n;
    const groups = mode === "block256" ? T * (n / 256) : T;
    this.begin(this.copied(x, 4 * size) + this.copied(acts.q, size) + this.copied(acts.factors, 4 * groups) + this.copied(acts.sums, 4 * groups));
    const xa = this.input(x, 4 * size, "activations input");
    const qa = this.output(acts.q, size, "activations");
    const fa = this.output(acts.factors, 4 * groups, "activation factors");
    const sa = this.output(acts.sums, 4 * groups, "activation sums");
    const status = this.wasm.quantizeRows(xa, T, n, QUANT_MODE[mode], qa, fa, sa);
    if (status !== STATUS_OK) return quantizeActivationsRef(x, T, n, mode, acts);
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
    this.wasm.rope(xa, T, heads, hd, pos0, this.constant(table.cos, "rope table"), this.constant(table.sin, "rope table"), table.dims, pairing === "neox" ? 1 : 0);
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
    const runner = units >= 2 ? this.attentionRunner : null;
    const lanes = runner ? runner.lanes : 1;
    this.begin(this.copied(q, 4 * T * dim) + this.copied(out, 4 * T * dim) + this.copied(keys, kvBytes) + this.copied(values, kvBytes) + lanes * align64(workBytes));
    const qa = this.input(q, 4 * T * dim, "attention queries");
    const ka = this.input(keys, kvBytes, "key cache");
    const va = this.input(values, kvBytes, "value cache");
    const oa = this.output(out, 4 * T * dim, "attention output");
    if (runner) {
      const laneWork = Array.from({ length: lanes }, () => this.take(workBytes));
      // multiply-adds: each query against about half of the keys, for scores and values
      runner.run([oa, qa, ka, va, pos0, T, H, HKV, hd, half ? 1 : 0], units, T * (pos0 + T / 2) * dim * 2, laneWork);
    } else {
      this.wasm.attention(oa, qa, ka, va, pos0, T, H, HKV, hd, half ? 1 : 0, this.take(workBytes));
    }
    this.copyOut(out, oa, 4 * T * dim);
  }

  gatedActivation(gate: Float32Array, up: Float32Array, n: number, act: GateActivation): void {
    if (n === 0) return;
    if (gate.length < n || up.length < n) throw new Error(`gated activation: ${n} values, but gate holds ${gate.length} and up ${up.length}`);
    this.begin(this.copied(gate, 4 * n) + this.copied(up, 4 * n) + EXP_CONSTANT_BYTES);
    const ga = this.input(gate, 4 * n, "gate");
    const ua = this.input(up, 4 * n, "up");
    this.wasm.gatedActivation(ga, ua, n, act === "relu2" ? 1 : 0, this.take(EXP_CONSTANT_BYTES));
    this.copyOut(gate, ga, 4 * n);
  }

  addInPlace(x: Float32Array, y: Float32Array, n: number): void {
    if (n === 0) return;
    if (x.length < n || y.length < n) throw new Error(`residual add: ${n} values, but x holds ${x.length} and y ${y.length}`);
    this.begin(this.copied(x, 4 * n) + this.copied(y, 4 * n));
    const xa = this.input(x, 4 * n, "residual");
    const ya = this.input(y, 4 * n, "residual addend");
    this.wasm.addInPlace(xa, ya, n);
    this.copyOut(x, xa, 4 * n);
  }

  f32ToF16(src: Float32Array, dst: Uint16Array, at: number, n: number): void {
    if (n === 0) return;
    if (src.length < n || at < 0 || dst.length < at + n) throw new Error(`f16 conversion: ${n} values at ${at}, but src holds ${src.length} and dst ${dst.length}`);
    this.begin(this.copied(src, 4 * n) + this.copied(dst, 2 * n));
    const sa = this.input(src, 4 * n, "f16 conversion input");
    const resident = this.arena.addressOf(dst, "f16 conversion output");
    const da = resident !== null ? resident + 2 * at : this.take(2 * n);
    this.wasm.f32ToF16(sa, da, n);
    if (resident === null) new Uint8Array(dst.buffer, dst.byteOffset + 2 * at, 2 * n).set(this.arena.bytes(da, 2 * n));
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
