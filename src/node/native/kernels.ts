/**
 * The native kernel backend for Node ("native-avx512vnni", "native-avxvnni", "native-avx2",
 * "native-neondot", "native-neon", "native-generic"): the Kernels interface over the C addon (native/),
 * with its own thread pool and no memory limit of its own: weights are ordinary ArrayBuffers (allocWeights
 * hands out 64-aligned ones outside the JavaScript heap), of any size a 64-bit process can hold.
 *
 * Numerics, against the TypeScript reference:
 * - ternary matmuls (every format, both activation modes, uniform and per-block scales), Q8_0 matmuls,
 *   quantizeActivations and rmsnormQuantize's int8 side, rmsnorm, RoPE, ReLU², the residual add and
 *   f32 → f16: bit for bit. SiLU: within 1 ulp, in about one value in 10^8 (native/ops.c).
 * - float matmuls (f32, f16, bf16): float32 sums in a fixed lane order per ISA, within
 *   (K/8 + 8)·2⁻²⁴·Σ|w·x| of the float64 reference (the bound the wasm backend states).
 * - attention: within the bound src/kernels/wasm/forward-ops.ts states (native/attention_impl.h).
 * - Every result of a token depends only on that token: the same bits whether a call holds one token or
 *   many, and for attention whatever the other queries of the call (the model may batch freely).
 * Shapes the kernels do not take (the ones the wasm backend also sends there) go to the reference,
 * which computes them or throws its error.
 *
 * Fused calls for the forward pass: ternaryMatmulGroup runs several matrices that read the same
 * activations (q, k, v; gate, up) as one task on the pool.
 * Not here: finding the addon (addon.ts), the kernels (native/*.c).
 */
import { availableParallelism } from "node:os";
import { describeActivations, kernelQuantizable, quantizeActivationsRef, rmsnormQuantizeRef } from "../../kernels/activations.ts";
import { attention as attentionRef } from "../../kernels/attention.ts";
import { rope as ropeRef } from "../../kernels/ops.ts";
import { checkQ8Matmul } from "../../kernels/q8-ref.ts";
import { ternaryMatmulRef } from "../../kernels/ternary-ref.ts";
import type { ActQuantMode, AttentionShape, FloatMatrix, GateActivation, Kernels, QuantizedActivations, RopePairing, RopeTable, TernaryMatrix } from "../../kernels/types.ts";
import { embedRef } from "../../kernels/float-ref.ts";
import { BitNetError, DisposedError, InvalidArgumentError } from "../../errors.ts";
import { addonDir, loadAddon, type NativeAddon, type NativeContext } from "./addon.ts";
import { nativeSelfTest } from "./self-test.ts";

export interface NativeKernelOptions {
  /** Threads per call, the calling thread included. Default: the number of cores this process may use. */
  threads?: number;
  /** A kernel set to use instead of the best this CPU runs (default: BITNET_NATIVE_ISA, else the best). */
  isa?: string;
  /** The build directory to load the addon from (default: BITNET_NATIVE_DIR, else the package's build/). */
  addonDir?: string;
  /** How long idle pool threads poll for the next task before they sleep, in microseconds (default 200). */
  spinUs?: number;
  /** Calls below this many multiply-adds stay on the calling thread (default 2^18; 0 splits everything, for tests). */
  minParallelWork?: number;
}

export interface NativeKernelsStatus {
  /** Whether createNativeKernels can succeed here. */
  available: boolean;
  /** Why not, or null. */
  reason: string | null;
  /** The kernel set createNativeKernels would use ("" when unavailable). */
  isa: string;
  /** Every kernel set this CPU runs, best first. */
  isas: string[];
  /** The addon file, when one was found. */
  path: string | null;
}

const TERNARY_FORMAT = { tq2_0: 0, tq1_0: 1, i2_s: 2 } as const;
const FLOAT_FORMAT = { f32: 0, f16: 1, bf16: 2 } as const;
const QUANT_NONE = -1;
const QUANT_MODE = { token: 0, block256: 1 } as const;
const STATUS_OK = 0;
const DEFAULT_SPIN_US = 200;
const DEFAULT_MIN_SPLIT = 2 ** 18;

function ternaryBytes(w: TernaryMatrix): number {
  const blocks = (w.rows * w.cols) / 256;
  if (w.format === "tq2_0") return blocks * 66;
  if (w.format === "tq1_0") return blocks * 54;
  return (w.rows * w.cols) / 4;
}

/** Whether the kernels take this ternary matmul (else the reference computes it or throws its error). */
function ternarySupported(w: TernaryMatrix, x: QuantizedActivations): boolean {
  const K = w.cols;
  const perRow = w.uniformScale !== null && x.group === K;
  return (x.group === K || x.group === 256) && (w.format === "i2_s" ? K % 128 === 0 && w.uniformScale !== null : K % 256 === 0) && (perRow || K % 256 === 0);
}

/** What createNativeKernels would do here, and why it cannot when it cannot. */
export function nativeKernelsStatus(options: Pick<NativeKernelOptions, "addonDir" | "isa"> = {}): NativeKernelsStatus {
  const { addon, path, reason } = loadAddon(options.addonDir);
  if (!addon) return { available: false, reason, isa: "", isas: [], path };
  const isas = addon.isas();
  const wanted = options.isa ?? process.env.BITNET_NATIVE_ISA;
  if (wanted && !isas.includes(wanted)) {
    return { available: false, reason: `this CPU cannot run the '${wanted}' native kernels (it runs ${isas.join(", ")})`, isa: "", isas, path };
  }
  return { available: true, reason: null, isa: wanted || isas[0], isas, path };
}

/**
 * Starts the native kernels (threads and all) after a bit-exact self-test against the reference.
 * Throws a BitNetError saying why when the addon is absent or unusable.
 */
export async function createNativeKernels(options: NativeKernelOptions = {}): Promise<NativeKernels> {
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) throw new InvalidArgumentError(`threads must be an integer from 1 to 1024, got ${threads}`);
  const spinUs = options.spinUs ?? DEFAULT_SPIN_US;
  if (!Number.isInteger(spinUs) || spinUs < 0 || spinUs > 1e6) throw new InvalidArgumentError(`spinUs must be an integer from 0 to 1000000, got ${spinUs}`);
  const minSplit = options.minParallelWork ?? DEFAULT_MIN_SPLIT;
  if (!Number.isInteger(minSplit) || minSplit < 0) throw new InvalidArgumentError(`minParallelWork must be a non-negative integer, got ${minSplit}`);
  const status = nativeKernelsStatus(options);
  if (!status.available) {
    if (options.isa && status.isas.length > 0) throw new InvalidArgumentError(`isa: ${status.reason}`);
    throw new BitNetError(`native kernels are unavailable: ${status.reason}`);
  }
  const { addon } = loadAddon(options.addonDir);
  if (!addon) throw new BitNetError("native kernels are unavailable: the addon vanished"); // unreachable: status found it
  const kernels = new NativeKernels(addon, addon.create(threads, status.isa, spinUs, minSplit), status.isa, addonDir(options.addonDir));
  const failed = nativeSelfTest(kernels);
  if (failed) {
    await kernels.close();
    throw new BitNetError(`native kernels are unavailable: the ${status.isa} kernels gave wrong results on this machine (${failed}); BITNET_NATIVE_ISA=generic forces the portable ones`);
  }
  return kernels;
}

export class NativeKernels implements Kernels {
  readonly name: string;
  /** The kernel set ("avx512vnni", …, "generic"). */
  readonly isa: string;
  /** Threads per call, the calling thread included. */
  readonly lanes: number;
  /** Where the addon was loaded from. */
  readonly buildDir: string;
  private readonly addon: NativeAddon;
  private ctx: NativeContext | null;

  constructor(addon: NativeAddon, ctx: NativeContext, isa: string, buildDir: string) {
    this.addon = addon;
    this.ctx = ctx;
    this.isa = isa;
    this.name = `native-${isa}`;
    this.lanes = addon.stats(ctx).lanes;
    this.buildDir = buildDir;
  }

  get threads(): number {
    return this.lanes;
  }

  /** Dequantizing a few rows is no work beside a forward pass: the reference's lookup. */
  embed(w: FloatMatrix, ids: ArrayLike<number>, out: Float32Array): void {
    embedRef(w, ids, out);
  }

  /** Pool tasks run on more than one thread so far (tests and benchmarks). */
  get splitTasks(): number {
    return this.addon.stats(this.live()).splitTasks;
  }

  /** Joins the pool's threads; the kernels cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.ctx) this.addon.destroy(this.ctx);
    this.ctx = null;
  }

  private live(): NativeContext {
    if (!this.ctx) throw new DisposedError(`${this.name} kernels: used after close()`);
    return this.ctx;
  }

  /**
   * Weight memory outside the JavaScript heap: 64-aligned, large regions in huge pages where the system
   * allows, and not counted against any 4 GiB. Each tensor is its own buffer, freed when unreferenced.
   */
  allocWeights(bytes: number, _align: number): Uint8Array {
    // The loader asks for 64; the kernels read any alignment correctly (aligned is only faster).
    if (!Number.isInteger(bytes) || bytes < 0) throw new InvalidArgumentError(`allocWeights: bytes must be a non-negative integer, got ${bytes}`);
    const buffer = this.addon.alloc(bytes);
    return buffer ? new Uint8Array(buffer) : new Uint8Array(bytes);
  }

  ternaryMatmul(w: TernaryMatrix, x: QuantizedActivations, out: Float32Array): void {
    const ctx = this.live();
    const { rows: N, cols: K } = w;
    const T = x.tokens;
    if (x.cols !== K) throw new InvalidArgumentError(`${w.name}: activation width ${x.cols} does not match the weight's ${K} columns`);
    if (!ternarySupported(w, x) || T === 0) return ternaryMatmulRef(w, x, out);
    this.checkTernary(w, T, out);
    this.addon.ternary(ctx, x.q, x.factors, T, K, x.group, TERNARY_FORMAT[w.format], w.data, N, w.blockScales, w.uniformScale ?? NaN, w.outScale, out);
  }

  /**
   * outs[i] = x · ws[i]ᵀ for matrices that read the same activations (q, k and v; gate and up), as one
   * task on the pool: one wake-up of the threads instead of one per matrix, and no thread idles at a
   * matrix's end. Same results as one ternaryMatmul per matrix.
   */
  private readonly groupArgs: (number | Uint8Array | Float32Array)[] = [];

  ternaryMatmulGroup(ws: readonly TernaryMatrix[], x: QuantizedActivations, outs: readonly Float32Array[]): void {
    const ctx = this.live();
    if (ws.length !== outs.length) throw new InvalidArgumentError(`ternaryMatmulGroup: ${ws.length} matrices but ${outs.length} outputs`);
    const T = x.tokens;
    let fused = ws.length > 0 && ws.length <= 6 && T > 0;
    for (let i = 0; fused && i < ws.length; i++) fused = ws[i].cols === x.cols && ternarySupported(ws[i], x);
    if (!fused) {
      for (let i = 0; i < ws.length; i++) this.ternaryMatmul(ws[i], x, outs[i]);
      return;
    }
    // Reused: a decode step calls this twice per layer.
    const args = this.groupArgs;
    args.length = 0;
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i];
      this.checkTernary(w, T, outs[i]);
      args.push(TERNARY_FORMAT[w.format], w.data, w.rows, w.blockScales, w.uniformScale ?? NaN, w.outScale, outs[i]);
    }
    this.addon.ternary(ctx, x.q, x.factors, T, x.cols, x.group, ...args);
  }

  private checkTernary(w: TernaryMatrix, T: number, out: Float32Array): void {
    if (w.data.byteLength < ternaryBytes(w)) throw new InvalidArgumentError(`${w.name}: ${w.format} data is ${w.data.byteLength} bytes, [${w.rows}, ${w.cols}] needs ${ternaryBytes(w)}`);
    if (out.length < T * w.rows) throw new InvalidArgumentError(`${w.name}: output holds ${out.length} values, needs ${T * w.rows}`);
  }

  floatMatmul(w: FloatMatrix, x: Float32Array, tokens: number, out: Float32Array): void {
    const ctx = this.live();
    const { rows: N, cols: K } = w;
    const T = tokens;
    if (w.format === "q8_0") {
      checkQ8Matmul(w, x, T, out);
      if (T > 0) this.addon.q8(ctx, w.data as Uint8Array, N, K, x, T, w.outScale, out);
      return;
    }
    if (T === 0) return;
    if (w.data.length < N * K) throw new InvalidArgumentError(`${w.name}: ${w.format} data holds ${w.data.length} values, [${N}, ${K}] needs ${N * K}`);
    if (x.length < T * K) throw new InvalidArgumentError(`${w.name}: input holds ${x.length} values, needs ${T * K}`);
    if (out.length < T * N) throw new InvalidArgumentError(`${w.name}: output holds ${out.length} values, needs ${T * N}`);
    const expected = w.format === "f32" ? Float32Array : Uint16Array;
    if (!(w.data instanceof expected)) throw new InvalidArgumentError(`${w.name}: ${w.format} data must be a ${expected.name}`);
    this.addon.float(ctx, FLOAT_FORMAT[w.format], w.data as Float32Array | Uint16Array, N, K, x, T, w.outScale, out);
  }

  quantizeActivations(x: Float32Array, tokens: number, cols: number, mode: ActQuantMode, out: QuantizedActivations): void {
    const ctx = this.live();
    if (tokens === 0 || x.length < tokens * cols || !kernelQuantizable(tokens, cols, mode, out)) return quantizeActivationsRef(x, tokens, cols, mode, out);
    const status = this.addon.quantize(ctx, x, tokens, cols, QUANT_MODE[mode], out.q, out.factors, out.sums);
    // The reference throws its error (non-finite activations) or takes ggml's path for an overflowing block scale.
    if (status !== STATUS_OK) return quantizeActivationsRef(x, tokens, cols, mode, out);
    describeActivations(out, tokens, cols, mode);
  }

  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, tokens: number, n: number, eps: number): void {
    const ctx = this.live();
    if (tokens === 0) return;
    checkNorm(out, x, weight, tokens, n);
    this.addon.rmsnorm(ctx, x, weight, out, tokens, n, eps, QUANT_NONE, null, null, null);
  }

  rmsnormQuantize(out: Float32Array, x: Float32Array, weight: Float32Array, tokens: number, n: number, eps: number, mode: ActQuantMode, acts: QuantizedActivations): void {
    const ctx = this.live();
    if (tokens === 0) return;
    checkNorm(out, x, weight, tokens, n);
    if (!kernelQuantizable(tokens, n, mode, acts)) return rmsnormQuantizeRef(out, x, weight, tokens, n, eps, mode, acts);
    const status = this.addon.rmsnorm(ctx, x, weight, out, tokens, n, eps, QUANT_MODE[mode], acts.q, acts.factors, acts.sums);
    // Every row of `out` is normalized whatever the status: the reference quantizes it (or throws its error).
    if (status !== STATUS_OK) return quantizeActivationsRef(out, tokens, n, mode, acts);
    describeActivations(acts, tokens, n, mode);
  }

  rope(x: Float32Array, tokens: number, heads: number, headDim: number, pos0: number, table: RopeTable, pairing: RopePairing): void {
    const ctx = this.live();
    const half = table.dims / 2;
    const fits = Number.isInteger(half) && half > 0 && table.dims <= headDim && (pos0 + tokens) * half <= table.cos.length && table.sin.length === table.cos.length;
    if (tokens === 0 || !fits || x.length < tokens * heads * headDim) return ropeRef(x, tokens, heads, headDim, pos0, table, pairing);
    this.addon.rope(ctx, x, tokens, heads, headDim, pos0, table.cos, table.sin, table.dims, pairing === "neox" ? 1 : 0);
  }

  attention(out: Float32Array, q: Float32Array, keys: Float32Array | Uint16Array, values: Float32Array | Uint16Array, pos0: number, tokens: number, shape: AttentionShape, scores: Float32Array): void {
    const ctx = this.live();
    const { nHeads: H, nKvHeads: HKV, headDim: hd } = shape;
    const half = keys instanceof Uint16Array;
    const kvElems = (pos0 + tokens) * HKV * hd;
    const supported =
      H > 0 && HKV > 0 && hd > 0 && H % HKV === 0 && half === values instanceof Uint16Array && keys.length >= kvElems && values.length >= kvElems && q.length >= tokens * H * hd && out.length >= tokens * H * hd;
    if (tokens === 0 || !supported) return attentionRef(out, q, keys, values, pos0, tokens, shape, scores);
    this.addon.attention(ctx, out, q, keys, values, pos0, tokens, H, HKV, hd);
  }

  gatedActivation(gate: Float32Array, up: Float32Array, n: number, act: GateActivation): void {
    const ctx = this.live();
    if (n === 0) return;
    if (gate.length < n || up.length < n) throw new InvalidArgumentError(`gated activation: ${n} values, but gate holds ${gate.length} and up ${up.length}`);
    this.addon.gated(ctx, gate, up, n, act === "relu2" ? 1 : 0);
  }

  addInPlace(x: Float32Array, y: Float32Array, n: number): void {
    const ctx = this.live();
    if (n === 0) return;
    if (x.length < n || y.length < n) throw new InvalidArgumentError(`residual add: ${n} values, but x holds ${x.length} and y ${y.length}`);
    this.addon.add(ctx, x, y, n);
  }

  f32ToF16(src: Float32Array, dst: Uint16Array, at: number, n: number): void {
    const ctx = this.live();
    if (n === 0) return;
    if (src.length < n || at < 0 || dst.length < at + n) throw new InvalidArgumentError(`f16 conversion: ${n} values at ${at}, but src holds ${src.length} and dst ${dst.length}`);
    this.addon.f16(ctx, src, dst, at, n);
  }
}

function checkNorm(out: Float32Array, x: Float32Array, weight: Float32Array, T: number, n: number): void {
  const size = T * n;
  if (x.length < size || out.length < size || weight.length < n) {
    throw new InvalidArgumentError(`rmsnorm: [${T}, ${n}] needs ${size} inputs, outputs and ${n} weights; got ${x.length}, ${out.length}, ${weight.length}`);
  }
}

