/**
 * The WebAssembly kernel backend ("wasm-relaxed-simd" or "wasm-simd128"): the Kernels interface over
 * the AssemblyScript module in ./assembly, working in one WebAssembly.Memory.
 *
 * - Weights live in that memory in their file layout (allocWeights), so matmuls read them in place.
 *   Weights that live elsewhere (built without allocWeights) are copied in once and the copy is kept.
 * - Activations and outputs are ordinary arrays: each call copies q (T·K bytes) in and the results out,
 *   which is small beside reading the weights. Arrays that are already views of the memory
 *   (allocScratch) are used in place.
 * - Ternary results are bit-identical to ternaryMatmulRef (same integer dots, same float32 rounding).
 * - Float results follow floatMatmulRef within rounding: float32 products and sums over 8-16 lanes
 *   instead of float64, so |y − ref| ≤ (K/8 + 8)·2⁻²⁴·Σ|w·x| (≈ 1e-5 of Σ|w·x| at K = 2560; typical
 *   errors are far smaller). f16 matrices that contain Inf or NaN go to the reference.
 * Not here: threads (src/node/wasm-threads.ts splits the rows of a call by overriding runTernary and
 * runFloat), activation quantization (the reference one is reused).
 */
import { quantizeActivationsRef } from "../activations.ts";
import { floatMatmulRef } from "../float-ref.ts";
import { ternaryMatmulRef } from "../ternary-ref.ts";
import type { ActQuantMode, FloatMatrix, Kernels, QuantizedActivations, TernaryMatrix } from "../types.ts";
import { WasmArena } from "./arena.ts";
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
const FLOAT_FORMAT = { f32: 0, f16: 1, bf16: 2 } as const;
const FLOAT_F16_PRESCALED = 3;
/** Outputs larger than this are computed a slice of tokens at a time, so scratch stays bounded. */
const MAX_OUT_SLICE_BYTES = 32 * 2 ** 20;

function ternaryBytes(w: TernaryMatrix): number {
  const blocks = (w.rows * w.cols) / 256;
  if (w.format === "tq2_0") return blocks * 66;
  if (w.format === "tq1_0") return blocks * 54;
  return (w.rows * w.cols) / 4 + 4;
}

export async function createWasmKernels(options: WasmKernelOptions): Promise<WasmKernels> {
  const arena = new WasmArena(options.shared, options.initialBytes);
  const module = await compileKernels(options.simd, options.shared);
  return new WasmKernels(options.simd, arena, module, await instantiateKernels(module, arena.memory));
}

/** ternaryRows' arguments before (work, r0, r1): format, weights, N, K, q, T, factors, group, γ, hasγ, outScale, out. */
export type TernaryArgs = [number, number, number, number, number, number, number, number, number, number, number, number];
/** floatRows' arguments before (r0, r1): format, weights, N, K, x, T, outScale, out. */
export type FloatArgs = [number, number, number, number, number, number, number, number];

export class WasmKernels implements Kernels {
  readonly name: string;
  /** Threads that compute one matmul together (1 here; see src/node/wasm-threads.ts). */
  readonly lanes: number = 1;
  readonly simd: WasmSimd;
  readonly arena: WasmArena;
  /** The compiled module, for instantiating it again over the same memory (workers). */
  readonly module: WebAssembly.Module;
  /** The raw exports, for benchmarks and tests. */
  readonly wasm: KernelExports;
  private scratchAt = 0;
  private scratchSize = 0;
  private readonly copies = new WeakMap<ArrayBufferView, number>();
  private readonly halfFinite = new WeakMap<ArrayBufferView, boolean>();

  constructor(simd: WasmSimd, arena: WasmArena, module: WebAssembly.Module, wasm: KernelExports) {
    this.name = simd === "relaxed" ? "wasm-relaxed-simd" : "wasm-simd128";
    this.simd = simd;
    this.arena = arena;
    this.module = module;
    this.wasm = wasm;
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

  quantizeActivations(x: Float32Array, tokens: number, cols: number, mode: ActQuantMode, out: QuantizedActivations): void {
    quantizeActivationsRef(x, tokens, cols, mode, out);
  }

  ternaryMatmul(w: TernaryMatrix, x: QuantizedActivations, out: Float32Array): void {
    const { rows: N, cols: K } = w;
    const T = x.tokens;
    if (x.cols !== K) throw new Error(`${w.name}: activation width ${x.cols} does not match the weight's ${K} columns`);
    const perRow = w.uniformScale !== null && x.group === K;
    const supported =
      (x.group === K || x.group === 256) &&
      (w.format === "i2_s" ? K % 128 === 0 && w.uniformScale !== null : K % 256 === 0) &&
      (perRow || K % 256 === 0);
    // The reference either computes these odd cases or throws the error that explains them.
    if (!supported || T === 0) return ternaryMatmulRef(w, x, out);
    this.arena.addressOf(w.data, w.name); // throws first if growth detached the weights
    if (w.data.byteLength < ternaryBytes(w)) throw new Error(`${w.name}: ${w.format} data is ${w.data.byteLength} bytes, [${N}, ${K}] needs ${ternaryBytes(w)}`);
    if (out.length < T * N) throw new Error(`${w.name}: output holds ${out.length} values, needs ${T * N}`);
    const weights = this.weightAddress(w.data, w.name);
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
      const args: TernaryArgs = [TERNARY_FORMAT[w.format], weights, N, K, q, Ts, factors, x.group, w.uniformScale ?? 0, w.uniformScale !== null ? 1 : 0, w.outScale, y];
      this.runTernary(args, N, Ts * N * K, work);
      if (inPlace === null) result.set(new Float32Array(this.arena.memory.buffer, y, Ts * N));
    }
  }

  floatMatmul(w: FloatMatrix, x: Float32Array, tokens: number, out: Float32Array): void {
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
   * Computes rows [0, rows) of a prepared ternary matmul (`macs` multiply-adds in all); `work` holds one
   * scratch area per lane. A threaded backend (src/node/wasm-threads.ts) overrides this to split the rows.
   */
  protected runTernary(args: TernaryArgs, rows: number, _macs: number, work: number[]): void {
    this.wasm.ternaryRows(...args, work[0], 0, rows);
  }

  /** Computes rows [0, rows) of a prepared float matmul; see runTernary. */
  protected runFloat(args: FloatArgs, rows: number, _macs: number): void {
    this.wasm.floatRows(...args, 0, rows);
  }

  /** The address of a weight array in the memory, copying it in once if it lives elsewhere. */
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
