/**
 * The WebAssembly kernel backend ("wasm-relaxed-simd" or "wasm-simd128"): the Kernels interface over
 * the AssemblyScript module in ./assembly, working in one WebAssembly.Memory.
 *
 * - Weights live in that memory in their file layout (allocWeights), so matmuls read them in place.
 *   Weights that live elsewhere (built without allocWeights) are copied in once and the copy is kept.
 *   One-token matmuls in SIMD128, and over TQ1_0, read a table-lookup copy instead (lutCopy).
 * - Activations and outputs: the model's run state is placed in the memory (allocState), so its arrays
 *   are used in place; any other array is copied in (q: T·K bytes) and the results out, which is small
 *   beside reading the weights.
 * - Ternary results are bit-identical to ternaryMatmulRef (same integer dots, same float32 rounding).
 * - Float results follow floatMatmulRef within rounding: float32 products and sums over 8-16 lanes
 *   instead of float64, so |y − ref| ≤ (K/8 + 8)·2⁻²⁴·Σ|w·x| (≈ 1e-5 of Σ|w·x| at K = 2560; typical
 *   errors are far smaller). f16 matrices that contain Inf or NaN go to the reference.
 * - Q8_0 matrices (the int8 head) quantize the activations to Q8_0 as llama.cpp does and are
 *   bit-identical to q8MatmulRef (integer block dots, a fixed float32 order; assembly/q8.ts).
 * - The other ops of the forward pass (norms, quantization, RoPE, attention, element-wise) are in
 *   forward-ops.ts, which states their numerics; this class only forwards to it.
 * Not here: threads (threaded.ts splits the rows of a call over pool.ts's workers by overriding
 * runTernary and runFloat).
 */
import { embedRef, floatMatmulRef } from "../float-ref.ts";
import { checkQ8Matmul, q8MatmulRef } from "../q8-ref.ts";
import { ternaryMatmulRef } from "../ternary-ref.ts";
import { quantizeQ8_0Activations } from "../../quant/codecs/q8_0.ts";
import { knownType } from "../../formats/gguf/types.ts";
import { TERNARY_TYPE, type ActQuantMode, type AttentionShape, type FloatMatrix, type GateActivation, type Kernels, type QuantizedActivations, type RopePairing, type RopeTable, type TernaryMatrix } from "../types.ts";
import { MAX_WASM_BYTES, WasmArena } from "./arena.ts";
import { WasmForwardOps } from "./forward-ops.ts";
import { compileKernels, instantiateKernels, type KernelExports, type WasmSimd } from "./module.ts";

export interface WasmKernelOptions {
  /** "relaxed" needs relaxed SIMD (i32x4.relaxed_dot_i8x16_i7x16_add_s); "simd128" needs only SIMD128. */
  simd: WasmSimd;
  /** A shared memory (needs SharedArrayBuffer): views survive growth, and workers can share it. */
  shared: boolean;
  /** Bytes to reserve at creation; with an ordinary memory, reserve the whole model (see arena.ts). */
  initialBytes?: number;
}

const TERNARY_FORMAT = { tq2_0: 0, tq1_0: 1, i2_s: 2 } as const;
/** ternaryRows' format code for a LUT-layout copy (assembly/ternary-lut.ts). */
const TERNARY_LUT = 3;
/** Memory that LUT copies leave free below wasm32's limit, for scratch and later allocations. */
const LUT_HEADROOM = 512 * 2 ** 20;
const FLOAT_FORMAT = { f32: 0, f16: 1, bf16: 2 } as const;
const FLOAT_F16_PRESCALED = 3;
/** floatRows' code for Q8_0 weights × Q8_0 activations (assembly/q8.ts). */
const FLOAT_Q8_0 = 4;
/** The activations of a Q8_0 matmul as assembly/q8.ts reads them: q, |q|, q's sign masks (0 or -1), then the block scales. */
interface Q8Views {
  q: Int8Array;
  abs: Int8Array;
  signs: Int8Array;
  scales: Float32Array;
}
/** Outputs larger than this are computed a slice of tokens at a time, so scratch stays bounded. */
const MAX_OUT_SLICE_BYTES = 32 * 2 ** 20;

/** Bytes the kernels read of a matrix: its blocks (the GGUF type table's geometry), and I2_S's scale (4 bytes of its tail). */
function ternaryBytes(w: TernaryMatrix): number {
  const t = knownType(TERNARY_TYPE[w.format]);
  return (w.rows * w.cols / t.blockSize) * t.blockBytes + (t.tailBytes > 0 ? 4 : 0);
}

export async function createWasmKernels(options: WasmKernelOptions): Promise<WasmKernels> {
  const arena = new WasmArena(options.shared, options.initialBytes);
  const module = await compileKernels(options.simd, options.shared);
  return new WasmKernels(options.simd, arena, module, await instantiateKernels(module, arena.memory));
}

/** f64 values per matrix in ternaryGroupRows' descriptor (assembly/index.ts): a TernaryArgs each. */
const GROUP_ARGS = 12;
/** ternaryRows' arguments before (work, r0, r1): format, weights, N, K, q, T, factors, group, γ, hasγ, outScale, out. */
export type TernaryArgs = [number, number, number, number, number, number, number, number, number, number, number, number];
/** floatRows' arguments before (r0, r1): format, weights, N, K, x, T, outScale, out. */
export type FloatArgs = [number, number, number, number, number, number, number, number];

export class WasmKernels implements Kernels {
  readonly name: string;
  /** Threads that compute one matmul together (1 here; see threaded.ts). */
  readonly lanes: number = 1;

  get threads(): number {
    return this.lanes;
  }
  readonly simd: WasmSimd;
  readonly arena: WasmArena;
  /** The compiled module, for instantiating it again over the same memory (workers). */
  readonly module: WebAssembly.Module;
  /** The raw exports, for benchmarks and tests. */
  readonly wasm: KernelExports;
  private scratchAt = 0;
  private scratchSize = 0;
  private readonly copies = new WeakMap<ArrayBufferView, number>();
  /** LUT-layout copies of ternary weights for one-token matmuls (see lutCopy); 0: none. */
  private readonly luts = new WeakMap<ArrayBufferView, number>();
  private readonly halfFinite = new WeakMap<ArrayBufferView, boolean>();
  private readonly q8Checked = new WeakMap<ArrayBufferView, number>();
  private q8Last: Q8Views | null = null;
  protected readonly ops: WasmForwardOps;

  constructor(simd: WasmSimd, arena: WasmArena, module: WebAssembly.Module, wasm: KernelExports) {
    this.name = simd === "relaxed" ? "wasm-relaxed-simd" : "wasm-simd128";
    this.simd = simd;
    this.arena = arena;
    this.module = module;
    this.wasm = wasm;
    this.ops = new WasmForwardOps(arena, wasm);
  }

  /**
   * Makes room for `bytes` of weights and scratch at once. Needed before loading a model into an
   * ordinary (non-shared) memory, whose growth would detach the weights placed earlier.
   */
  reserve(bytes: number): void {
    this.arena.reserve(bytes);
  }

  allocWeights(bytes: number, align: number): Uint8Array {
    return this.arena.bytes(this.arena.alloc(bytes, Math.max(align, 64), "weights"), bytes);
  }

  /**
   * A view of fresh wasm memory for run-state buffers (activations, outputs): kernels use such views in
   * place instead of copying. Same lifetime rules as allocWeights.
   */
  allocScratch(bytes: number, align: number): Uint8Array {
    return this.arena.bytes(this.arena.alloc(bytes, Math.max(align, 64), "run state"), bytes);
  }

  /** Dequantizing a few rows is no work beside a forward pass: the reference's lookup, into the run state in place. */
  embed(w: FloatMatrix, ids: ArrayLike<number>, out: Float32Array): void {
    embedRef(w, ids, out);
  }

  quantizeActivations(x: Float32Array, tokens: number, cols: number, mode: ActQuantMode, out: QuantizedActivations): void {
    this.ops.quantize(x, tokens, cols, mode, out);
  }

  allocState(bytes: number, align: number): Uint8Array | null {
    return this.ops.allocState(bytes, align);
  }

  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, tokens: number, n: number, eps: number): void {
    this.ops.rmsnormQuantize(out, x, weight, tokens, n, eps, null, null);
  }

  rmsnormQuantize(out: Float32Array, x: Float32Array, weight: Float32Array, tokens: number, n: number, eps: number, mode: ActQuantMode, acts: QuantizedActivations): void {
    this.ops.rmsnormQuantize(out, x, weight, tokens, n, eps, mode, acts);
  }

  rope(x: Float32Array, tokens: number, heads: number, headDim: number, pos0: number, table: RopeTable, pairing: RopePairing): void {
    this.ops.rope(x, tokens, heads, headDim, pos0, table, pairing);
  }

  attention(out: Float32Array, q: Float32Array, keys: Float32Array | Uint16Array, values: Float32Array | Uint16Array, pos0: number, tokens: number, shape: AttentionShape, scores: Float32Array): void {
    this.ops.attention(out, q, keys, values, pos0, tokens, shape, scores);
  }

  gatedActivation(gate: Float32Array, up: Float32Array, n: number, act: GateActivation): void {
    this.ops.gatedActivation(gate, up, n, act);
  }

  addInPlace(x: Float32Array, y: Float32Array, n: number): void {
    this.ops.addInPlace(x, y, n);
  }

  f32ToF16(src: Float32Array, dst: Uint16Array, at: number, n: number): void {
    this.ops.f32ToF16(src, dst, at, n);
  }

  /** Whether the module computes w · x itself; the reference either computes the other cases or throws the error that explains them. */
  private ternarySupported(w: TernaryMatrix, x: QuantizedActivations): boolean {
    const K = w.cols;
    const perRow = w.uniformScale !== null && x.group === K;
    return (
      (x.group === K || x.group === 256) &&
      (w.format === "i2_s" ? K % 128 === 0 && w.uniformScale !== null : K % 256 === 0) &&
      (perRow || K % 256 === 0)
    );
  }

  ternaryMatmul(w: TernaryMatrix, x: QuantizedActivations, out: Float32Array): void {
    const { rows: N, cols: K } = w;
    const T = x.tokens;
    if (x.cols !== K) throw new Error(`${w.name}: activation width ${x.cols} does not match the weight's ${K} columns`);
    if (!this.ternarySupported(w, x) || T === 0) return ternaryMatmulRef(w, x, out);
    this.arena.addressOf(w.data, w.name); // throws first if growth detached the weights
    if (w.data.byteLength < ternaryBytes(w)) throw new Error(`${w.name}: ${w.format} data is ${w.data.byteLength} bytes, [${N}, ${K}] needs ${ternaryBytes(w)}`);
    if (out.length < T * N) throw new Error(`${w.name}: output holds ${out.length} values, needs ${T * N}`);
    const weights = this.weightAddress(w.data, w.name);
    const lut = T === 1 ? this.lutCopy(w, weights) : 0; // before the scratch below: repacking uses it too
    const gpt = K / x.group;
    const slice = Math.max(1, Math.min(T, Math.floor(MAX_OUT_SLICE_BYTES / (N * 4))));
    for (let t0 = 0; t0 < T; t0 += slice) {
      const Ts = Math.min(slice, T - t0);
      const workBytes = this.wasm.ternaryWorkBytes(Ts, K);
      const take = this.scratchCursor(Ts * K + Ts * gpt * 4 + Ts * N * 4 + workBytes * this.lanes);
      const q = this.input(x.q.subarray(t0 * K, (t0 + Ts) * K), "activations", take);
      const factors = this.input(x.factors.subarray(t0 * gpt, (t0 + Ts) * gpt), "activation factors", take);
      const result = out.subarray(t0 * N, (t0 + Ts) * N);
      const inPlace = this.arena.addressOf(result, "output");
      const y = inPlace ?? take(Ts * N * 4);
      const work = Array.from({ length: this.lanes }, () => take(workBytes));
      const args: TernaryArgs = [lut ? TERNARY_LUT : TERNARY_FORMAT[w.format], lut || weights, N, K, q, Ts, factors, x.group, w.uniformScale ?? 0, w.uniformScale !== null ? 1 : 0, w.outScale, y];
      this.runTernary(args, N, Ts * N * K, work);
      if (inPlace === null) result.set(new Float32Array(this.arena.memory.buffer, y, Ts * N));
    }
  }

  /**
   * outs[i] = x · ws[i]ᵀ for matrices that read the same activations, as one job over all their rows
   * (runTernaryGroup: one pool run for q, k and v instead of three). Any matrix that is not a plain case
   * (a shape left to the reference, an output over one slice) sends the group to ternaryMatmul, one by one.
   */
  protected ternaryGroup(ws: readonly TernaryMatrix[], x: QuantizedActivations, outs: readonly Float32Array[]): void {
    const T = x.tokens;
    const K = x.cols;
    let rows = 0;
    let plain = T > 0 && ws.length === outs.length;
    for (let i = 0; plain && i < ws.length; i++) {
      const w = ws[i];
      plain = w.cols === K && this.ternarySupported(w, x) && T * w.rows * 4 <= MAX_OUT_SLICE_BYTES && outs[i].length >= T * w.rows && w.data.byteLength >= ternaryBytes(w);
      rows += w.rows;
    }
    if (!plain) {
      for (let i = 0; i < ws.length; i++) this.ternaryMatmul(ws[i], x, outs[i]);
      return;
    }
    const count = ws.length;
    const weights: number[] = [];
    const luts: number[] = [];
    for (const w of ws) {
      const at = this.weightAddress(w.data, w.name);
      weights.push(at);
      luts.push(T === 1 ? this.lutCopy(w, at) : 0); // before the scratch below: repacking uses it too
    }
    const gpt = K / x.group;
    const workBytes = this.wasm.ternaryWorkBytes(T, K);
    const pieces = 3 + count + this.lanes;
    const take = this.scratchCursor(T * K + T * gpt * 4 + T * rows * 4 + workBytes * this.lanes + count * GROUP_ARGS * 8 + pieces * 64);
    const q = this.input(x.q.subarray(0, T * K), "activations", take);
    const factors = this.input(x.factors.subarray(0, T * gpt), "activation factors", take);
    const desc = take(count * GROUP_ARGS * 8);
    const d = new Float64Array(this.arena.memory.buffer, desc, count * GROUP_ARGS);
    const copyBack: number[] = [];
    for (let i = 0; i < count; i++) {
      const w = ws[i];
      const result = outs[i].subarray(0, T * w.rows);
      const inPlace = this.arena.addressOf(result, "output");
      const y = inPlace ?? take(T * w.rows * 4);
      copyBack.push(inPlace === null ? y : -1);
      d.set([luts[i] ? TERNARY_LUT : TERNARY_FORMAT[w.format], luts[i] || weights[i], w.rows, K, q, T, factors, x.group, w.uniformScale ?? 0, w.uniformScale !== null ? 1 : 0, w.outScale, y], i * GROUP_ARGS);
    }
    const work = Array.from({ length: this.lanes }, () => take(workBytes));
    this.runTernaryGroup(desc, count, rows, T * rows * K, work);
    for (let i = 0; i < count; i++) {
      if (copyBack[i] >= 0) outs[i].set(new Float32Array(this.arena.memory.buffer, copyBack[i], T * ws[i].rows));
    }
  }

  floatMatmul(w: FloatMatrix, x: Float32Array, tokens: number, out: Float32Array): void {
    if (w.format === "q8_0") return this.q8Matmul(w, x, tokens, out);
    const { rows: N, cols: K } = w;
    const T = tokens;
    if (T === 0) return;
    this.arena.addressOf(w.data, w.name); // throws first if growth detached the weights
    if (w.data.length < N * K) throw new Error(`${w.name}: ${w.format} data holds ${w.data.length} values, [${N}, ${K}] needs ${N * K}`);
    if (x.length < T * K) throw new Error(`${w.name}: input holds ${x.length} values, needs ${T * K}`);
    if (out.length < T * N) throw new Error(`${w.name}: output holds ${out.length} values, needs ${T * N}`);
    const weights = this.weightAddress(w.data, w.name);
    if (w.format === "f16" && !this.halfIsFinite(w.data, weights, N * K)) return floatMatmulRef(w, x, tokens, out);
    const slice = Math.max(1, Math.min(T, Math.floor(MAX_OUT_SLICE_BYTES / (N * 4))));
    for (let t0 = 0; t0 < T; t0 += slice) {
      const Ts = Math.min(slice, T - t0);
      const take = this.scratchCursor(2 * Ts * K * 4 + Ts * N * 4);
      let input = this.input(x.subarray(t0 * K, (t0 + Ts) * K), "input", take);
      let format: number = FLOAT_FORMAT[w.format];
      if (w.format === "f16") {
        // Inputs times 2^112 spare the kernel one multiply per weight (see prescaleForHalf).
        const scaled = take(Ts * K * 4);
        if (this.wasm.prescaleForHalf(input, Ts * K, scaled)) {
          input = scaled;
          format = FLOAT_F16_PRESCALED;
        }
      }
      const result = out.subarray(t0 * N, (t0 + Ts) * N);
      const inPlace = this.arena.addressOf(result, "output");
      const y = inPlace ?? take(Ts * N * 4);
      this.runFloat([format, weights, N, K, input, Ts, w.outScale, y], N, Ts * N * K);
      if (inPlace === null) result.set(new Float32Array(this.arena.memory.buffer, y, Ts * N));
    }
  }

  /**
   * Q8_0 weights (an int8 head): x is quantized to Q8_0 in scratch, laid out as assembly/q8.ts wants
   * (q, |q|, sign masks, block scales), then floatRows' Q8_0 path computes the rows, split across threads
   * like any float matmul. Bit-identical to q8MatmulRef; matrices the kernel cannot take (a code -128,
   * an Inf/NaN scale: never written by ggml) go to the reference.
   */
  private q8Matmul(w: FloatMatrix, x: Float32Array, tokens: number, out: Float32Array): void {
    const { rows: N, cols: K } = w;
    const T = tokens;
    if (T === 0) return;
    this.arena.addressOf(w.data, w.name); // throws first if growth detached the weights
    checkQ8Matmul(w, x, T, out);
    const weights = this.weightAddress(w.data, w.name);
    let check = this.q8Checked.get(w.data);
    if (check === undefined) {
      check = this.wasm.q8Check(weights, (N * K) / 32);
      this.q8Checked.set(w.data, check);
    }
    if (check !== 0) return q8MatmulRef(w, x, tokens, out);
    const slice = Math.max(1, Math.min(T, Math.floor(MAX_OUT_SLICE_BYTES / (N * 4))));
    for (let t0 = 0; t0 < T; t0 += slice) {
      const Ts = Math.min(slice, T - t0);
      const actBytes = 3 * Ts * K + (Ts * K) / 8; // q, |q| and signs, K bytes each, and K/32 float32 scales per token
      const take = this.scratchCursor(actBytes + Ts * N * 4);
      const xq = take(actBytes);
      const v = this.q8Views(xq, Ts * K);
      quantizeQ8_0Activations(x.subarray(t0 * K, (t0 + Ts) * K), Ts, K, v.q, v.scales);
      for (let i = 0; i < Ts * K; i++) {
        const q = v.q[i];
        v.abs[i] = q < 0 ? -q : q;
        v.signs[i] = q >> 7;
      }
      const result = out.subarray(t0 * N, (t0 + Ts) * N);
      const inPlace = this.arena.addressOf(result, "output");
      const y = inPlace ?? take(Ts * N * 4);
      this.runFloat([FLOAT_Q8_0, weights, N, K, xq, Ts, w.outScale, y], N, Ts * N * K);
      if (inPlace === null) result.set(new Float32Array(this.arena.memory.buffer, y, Ts * N));
    }
  }

  /** Views of the Q8_0 activation layout for n values at `at`; the last set is kept, so decoding allocates nothing. */
  private q8Views(at: number, n: number): Q8Views {
    const v = this.q8Last;
    if (v && v.q.buffer === this.arena.memory.buffer && v.q.byteOffset === at && v.q.length === n) return v;
    const buf = this.arena.memory.buffer;
    const views = { q: new Int8Array(buf, at, n), abs: new Int8Array(buf, at + n, n), signs: new Int8Array(buf, at + 2 * n, n), scales: new Float32Array(buf, at + 3 * n, n / 32) };
    this.q8Last = views;
    return views;
  }

  /**
   * Computes rows [0, rows) of a prepared ternary matmul (`macs` multiply-adds in all); `work` holds one
   * scratch area per lane. A threaded backend (threaded.ts) overrides this to split the rows.
   */
  protected runTernary(args: TernaryArgs, rows: number, _macs: number, work: number[]): void {
    this.wasm.ternaryRows(...args, work[0], 0, rows);
  }

  /** Computes rows [0, rows) of a prepared group of ternary matmuls (ternaryGroup's descriptor at `desc`); see runTernary. */
  protected runTernaryGroup(desc: number, count: number, rows: number, _macs: number, work: number[]): void {
    this.wasm.ternaryGroupRows(desc, count, work[0], 0, rows);
  }

  /** Computes rows [0, rows) of a prepared float matmul; see runTernary. */
  protected runFloat(args: FloatArgs, rows: number, _macs: number): void {
    this.wasm.floatRows(...args, 0, rows);
  }

  /** The address of a weight array in the memory, copying it in once if it lives elsewhere. */
  /**
   * The LUT-layout copy of `w` for one-token matmuls (assembly/ternary-lut.ts), made on first use and
   * kept; 0 where the dot kernels stay. Table lookups beat the SIMD128 byte dot on every format, and the
   * relaxed dot on TQ1_0, whose base-3 bytes cost more to unpack than the dot (bench/lut.ts). The copy
   * has 2 bits per weight on top of the file layout, which prefill still reads, and no block scales
   * (one weight scale only). Shared memories only: growing an ordinary one would detach the weights.
   * Copies that would leave less than LUT_HEADROOM below wasm32's 4 GiB are not made.
   */
  private lutCopy(w: TernaryMatrix, weights: number): number {
    if (w.uniformScale === null || !this.arena.shared || (this.simd !== "simd128" && w.format !== "tq1_0")) return 0;
    let at = this.luts.get(w.data);
    if (at === undefined) {
      const bytes = this.wasm.lutBytes(w.rows, w.cols);
      const workBytes = this.wasm.lutRepackWorkBytes(w.cols);
      at = 0;
      if (this.arena.used + bytes + LUT_HEADROOM <= MAX_WASM_BYTES) {
        at = this.arena.alloc(bytes, 64, `the LUT layout of ${w.name}`);
        this.wasm.lutRepack(TERNARY_FORMAT[w.format], weights, w.rows, w.cols, at, this.scratchCursor(workBytes)(workBytes));
      }
      this.luts.set(w.data, at);
    }
    return at;
  }

  private weightAddress(data: ArrayBufferView, name: string): number {
    const at = this.arena.addressOf(data, name);
    if (at !== null) return at;
    let copy = this.copies.get(data);
    if (copy === undefined) {
      copy = this.arena.alloc(data.byteLength, 64, `a copy of ${name} (it was not placed with allocWeights)`);
      this.arena.bytes(copy, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.copies.set(data, copy);
    }
    return copy;
  }

  private halfIsFinite(data: ArrayBufferView, at: number, count: number): boolean {
    let finite = this.halfFinite.get(data);
    if (finite === undefined) {
      finite = this.wasm.f16HasNonFinite(at, count) === 0;
      this.halfFinite.set(data, finite);
    }
    return finite;
  }

  /** The address of an input array: in place if it is a view of the memory, else copied into scratch. */
  private input(view: Int8Array | Float32Array, what: string, take: (bytes: number) => number): number {
    const at = this.arena.addressOf(view, what);
    if (at !== null) return at;
    const copy = take(view.byteLength);
    this.arena.bytes(copy, view.byteLength).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return copy;
  }

  /** Hands out 64-aligned pieces of a scratch region of at least `bytes` (plus alignment slack) for one call. */
  private scratchCursor(bytes: number): (bytes: number) => number {
    let next = this.scratch(bytes + 8 * 64);
    return (n) => {
      const at = next;
      next += Math.ceil(n / 64) * 64;
      return at;
    };
  }

  /** Scratch of at least `bytes`, 64-aligned; regrown (and the old region abandoned) when too small. */
  private scratch(bytes: number): number {
    if (bytes > this.scratchSize) {
      const size = Math.max(bytes, this.scratchSize * 2, 1 << 20);
      this.scratchAt = this.arena.alloc(size, 64, "kernel scratch");
      this.scratchSize = size;
    }
    return this.scratchAt;
  }
}
