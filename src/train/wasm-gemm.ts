/**
 * The WebAssembly SIMD backend of the training products (Gemm, matmul.ts) over the float32 GEMM in
 * src/kernels/wasm/assembly/f32-gemm.ts, and `selectGemm`, which picks it when the runtime runs it
 * correctly (else the JavaScript one). The GEMM needs only SIMD128, so it always runs from the SIMD128
 * build of the kernel module, and gives the same bits on every machine and runtime.
 *
 * Data movement: arrays from `alloc` are views of the module's memory and are used in place; any other
 * operand is copied into scratch for the call (and an output copied back), which works but costs time.
 * The trainer allocates its parameters, gradients and activations with `alloc`, so it copies nothing.
 *
 * Memory: shared where the runtime allows it (Node; cross-origin-isolated pages), so views survive its
 * growth. An ordinary memory detaches every view when it grows, so there `alloc` hands out views only
 * while they fit in what is already reserved (`initialBytes`), and plain arrays after that; a call whose
 * scratch would need growth then runs on the JavaScript backend instead.
 *
 * Accuracy: within (KC + ⌈K/KC⌉ + 1)·2⁻²⁴·Σ|a·b| (KC = 256) of the exact product, exact for integer
 * operands whose partial sums stay below 2^24 (see the assembly file). Not here: threads (runRows is
 * the hook a threaded subclass would override).
 */
import { WasmArena } from "../kernels/wasm/arena.ts";
import { detectWasmFeatures } from "../kernels/wasm/features.ts";
import { compileKernels, instantiateKernels, type KernelExports } from "../kernels/wasm/module.ts";
import { jsGemm, matmulBackwardInputNaive, matmulBackwardWeightNaive, matmulForwardNaive, type Gemm } from "./matmul.ts";

/** The module's GEMM exports (assembly/f32-gemm.ts). */
export type F32GemmExports = Pick<KernelExports, "f32Gemm" | "f32GemmWorkBytes">;

/** One GEMM call for f32Gemm: C[M, J] (=|+=) A[M, K] · B[K, J], operands as views with their strides. */
interface GemmCall {
  M: number;
  J: number;
  K: number;
  a: Float32Array;
  aM: number;
  aK: number;
  b: Float32Array;
  bK: number;
  bJ: number;
  c: Float32Array;
  accumulate: boolean;
}

export interface WasmGemmOptions {
  /** A shared memory (needs SharedArrayBuffer); default: shared when the runtime supports it. */
  shared?: boolean;
  /** Bytes to reserve at creation: with an ordinary memory, everything `alloc` should place there. */
  initialBytes?: number;
}

export async function createWasmGemm(options: WasmGemmOptions = {}): Promise<WasmGemm> {
  const shared = options.shared ?? detectWasmFeatures().sharedMemory;
  const arena = new WasmArena(shared, options.initialBytes);
  const module = await compileKernels("simd128", shared);
  const exports = await instantiateKernels(module, arena.memory);
  return new WasmGemm(arena, exports);
}

export class WasmGemm implements Gemm {
  readonly name = "wasm-simd128";
  readonly arena: WasmArena;
  /** The raw exports, for benchmarks, tests and a threaded subclass. */
  readonly wasm: F32GemmExports;
  private readonly work: number;
  private scratchAt = 0;
  private scratchSize = 0;
  /** With an ordinary memory, growth after the first view is handed out would detach it. */
  private handedOut = false;

  constructor(arena: WasmArena, wasm: F32GemmExports) {
    this.arena = arena;
    this.wasm = wasm;
    this.work = arena.alloc(wasm.f32GemmWorkBytes(), 64, "training GEMM work");
  }

  alloc(n: number): Float32Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`training GEMM: bad allocation of ${n} floats`);
    const bytes = n * 4;
    if (!this.canPlace(bytes)) return new Float32Array(n);
    this.handedOut = true;
    const at = this.arena.alloc(bytes, 64, "training buffers"); // may grow the memory: take .buffer after
    return new Float32Array(this.arena.memory.buffer, at, n);
  }

  forward(out: Float32Array, inp: Float32Array, w: Float32Array, N: number, I: number, O: number): void {
    checkShape("forward", N, I, O, [["out", out, N * O], ["inp", inp, N * I], ["w", w, O * I]]);
    if (!this.run({ M: N, J: O, K: I, a: inp, aM: I, aK: 1, b: w, bK: 1, bJ: I, c: out, accumulate: false })) jsGemm.forward(out, inp, w, N, I, O);
  }

  backwardInput(dinp: Float32Array, dout: Float32Array, w: Float32Array, N: number, I: number, O: number): void {
    checkShape("backward input", N, I, O, [["dinp", dinp, N * I], ["dout", dout, N * O], ["w", w, O * I]]);
    if (!this.run({ M: N, J: I, K: O, a: dout, aM: O, aK: 1, b: w, bK: I, bJ: 1, c: dinp, accumulate: true })) jsGemm.backwardInput(dinp, dout, w, N, I, O);
  }

  backwardWeight(dw: Float32Array, dout: Float32Array, inp: Float32Array, N: number, I: number, O: number): void {
    checkShape("backward weight", N, I, O, [["dw", dw, O * I], ["dout", dout, N * O], ["inp", inp, N * I]]);
    if (!this.run({ M: O, J: I, K: N, a: dout, aM: 1, aK: O, b: inp, bK: I, bJ: 1, c: dw, accumulate: true })) jsGemm.backwardWeight(dw, dout, inp, N, I, O);
  }

  /**
   * Computes rows [0, M) of a call whose operands are in the memory. A threaded backend would override
   * this to split the rows (each thread with its own `work`); results do not depend on the split.
   */
  protected runRows(args: Parameters<F32GemmExports["f32Gemm"]>, M: number): void {
    args[12] = 0;
    args[13] = M;
    this.wasm.f32Gemm(...args);
  }

  /** Runs one call, copying operands that live outside the memory; false if scratch could not be had. */
  private run(g: GemmCall): boolean {
    if (g.M === 0 || g.J === 0) return true;
    const sizes = { a: g.M * g.K, b: g.K * g.J, c: g.M * g.J };
    const at = { a: this.arena.addressOf(g.a, "GEMM input"), b: this.arena.addressOf(g.b, "GEMM input"), c: this.arena.addressOf(g.c, "GEMM output") };
    for (const k of ["a", "b"] as const) {
      const x = at[k];
      if (at.c !== null && x !== null && x < at.c + sizes.c * 4 && at.c < x + sizes[k] * 4) throw new Error("training GEMM: the output overlaps an input");
    }
    const copyBack = at.c === null;
    let need = 0;
    for (const k of ["a", "b", "c"] as const) if (at[k] === null) need += Math.ceil(sizes[k] / 16) * 64;
    if (need > 0) {
      const base = this.scratch(need);
      if (base === null) return false;
      let next = base;
      const place = (view: Float32Array, n: number, copyIn: boolean): number => {
        const p = next;
        next += Math.ceil(n / 16) * 64;
        if (copyIn) new Float32Array(this.arena.memory.buffer, p, n).set(view.subarray(0, n));
        return p;
      };
      if (at.a === null) at.a = place(g.a, sizes.a, true);
      if (at.b === null) at.b = place(g.b, sizes.b, true);
      if (at.c === null) at.c = place(g.c, sizes.c, g.accumulate);
    }
    const cAt = at.c as number; // every null was replaced above
    this.runRows([g.J, g.K, at.a as number, g.aM, g.aK, at.b as number, g.bK, g.bJ, cAt, g.J, g.accumulate ? 1 : 0, this.work, 0, 0], g.M);
    if (copyBack) g.c.set(new Float32Array(this.arena.memory.buffer, cAt, sizes.c));
    return true;
  }

  private canPlace(bytes: number): boolean {
    if (this.arena.shared || !this.handedOut) return true;
    return Math.ceil(this.arena.used / 64) * 64 + bytes <= this.arena.memory.buffer.byteLength;
  }

  /** Scratch of at least `bytes` (64-aligned), regrown when too small; null if that would detach views. */
  private scratch(bytes: number): number | null {
    if (bytes > this.scratchSize) {
      const size = Math.max(bytes, this.scratchSize * 2, 1 << 20);
      if (!this.canPlace(size)) return this.canPlace(bytes) ? this.growScratch(bytes) : null;
      return this.growScratch(size);
    }
    return this.scratchAt;
  }

  private growScratch(size: number): number {
    this.scratchAt = this.arena.alloc(size, 64, "training GEMM scratch");
    this.scratchSize = size;
    return this.scratchAt;
  }
}

function checkShape(what: string, N: number, I: number, O: number, operands: [string, Float32Array, number][]): void {
  for (const [name, v] of [["N", N], ["I", I], ["O", O]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`training GEMM ${what}: ${name} = ${v} is not a size`);
  }
  for (const [name, view, need] of operands) {
    if (view.length < need) throw new Error(`training GEMM ${what}: ${name} holds ${view.length} values, [N=${N}, I=${I}, O=${O}] needs ${need}`);
  }
}

export interface SelectGemmOptions {
  /** "js" forces the JavaScript backend; "wasm" (default) takes the WebAssembly one if it works here. */
  prefer?: "js" | "wasm";
  /** See WasmGemmOptions. */
  initialBytes?: number;
}

/** The WebAssembly backend if this runtime has SIMD128 and it passes gemmSelfTest, else jsGemm and why. */
export async function selectGemm(options: SelectGemmOptions = {}): Promise<{ gemm: Gemm; fallbackReason: string | null }> {
  if (options.prefer === "js") return { gemm: jsGemm, fallbackReason: null };
  const f = detectWasmFeatures();
  if (!f.simd128) return { gemm: jsGemm, fallbackReason: f.webAssembly ? "WebAssembly SIMD128 is not supported" : "WebAssembly is not available" };
  try {
    const g = await createWasmGemm({ initialBytes: options.initialBytes });
    const failed = gemmSelfTest(g);
    return failed === null ? { gemm: g, fallbackReason: null } : { gemm: jsGemm, fallbackReason: `the WebAssembly GEMM gave wrong results (${failed})` };
  } catch (e) {
    return { gemm: jsGemm, fallbackReason: `the WebAssembly GEMM failed to load (${(e as Error).message})` };
  }
}

/**
 * Small products of odd shapes against the naive ones: float operands within the stated bound, and an
 * integer product exactly. Returns what failed, or null. Operands are ordinary arrays (the copy path).
 */
export function gemmSelfTest(g: Gemm): string | null {
  let seed = 0x2545f491;
  const next = (): number => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  const N = 5, I = 37, O = 11;
  const inp = Float32Array.from({ length: N * I }, next);
  const w = Float32Array.from({ length: O * I }, next);
  const dout = Float32Array.from({ length: N * O }, next);
  const close = (got: Float32Array, want: Float32Array, what: string): string | null => {
    for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])))) return `${what}[${i}]: ${got[i]} instead of ${want[i]}`;
    return null;
  };
  const f = new Float32Array(N * O), fRef = new Float32Array(N * O);
  g.forward(f, inp, w, N, I, O);
  matmulForwardNaive(fRef, inp, w, N, I, O);
  const di = new Float32Array(N * I).fill(1), diRef = new Float32Array(N * I).fill(1);
  g.backwardInput(di, dout, w, N, I, O);
  matmulBackwardInputNaive(diRef, dout, w, N, I, O);
  const dw = new Float32Array(O * I).fill(-1), dwRef = new Float32Array(O * I).fill(-1);
  g.backwardWeight(dw, dout, inp, N, I, O);
  matmulBackwardWeightNaive(dwRef, dout, inp, N, I, O);
  const failed = close(f, fRef, "forward") ?? close(di, diRef, "backward input") ?? close(dw, dwRef, "backward weight");
  if (failed !== null) return failed;
  // BitLinear's integer product: int8 codes × ternary codes over 600 terms must be exact.
  const K = 600;
  const q = Float32Array.from({ length: 3 * K }, (_, i) => (i % 5 === 0 ? -128 : i % 7 === 0 ? 127 : Math.trunc(next() * 250)));
  const c = Float32Array.from({ length: 2 * K }, (_, i) => (i % 3) - 1);
  const y = new Float32Array(6), yRef = new Float32Array(6);
  g.forward(y, q, c, 3, K, 2);
  matmulForwardNaive(yRef, q, c, 3, K, 2);
  for (let i = 0; i < 6; i++) if (y[i] !== yRef[i]) return `integer product [${i}]: ${y[i]} instead of ${yRef[i]}`;
  return null;
}
