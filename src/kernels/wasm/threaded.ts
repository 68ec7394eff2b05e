/**
 * Multi-threaded wasm kernels for any runtime: the WasmKernels backend whose ternary and float matmuls,
 * a prefill's attention tiles, and the rows of its norms and element-wise ops split across a RowPool
 * (pool.ts) over one shared WebAssembly.Memory. The runtime supplies only a way to start a helper thread
 * (Node: src/node/wasm-threads.ts; browsers: src/web/helper-workers.ts).
 * Every row is computed by exactly the code the single-threaded kernels run, so results are identical.
 * Not here: the pool protocol (pool.ts), the kernels (kernels.ts), choosing a backend (../create.ts).
 */
import { WasmArena } from "./arena.ts";
import type { QuantizedActivations, TernaryMatrix } from "../types.ts";
import { RANGE_EXPORTS } from "./forward-ops.ts";
import { type FloatArgs, type TernaryArgs, WasmKernels } from "./kernels.ts";
import { compileKernels, instantiateKernels, type WasmSimd } from "./module.ts";
import { RowPool, type SpawnPoolHelper } from "./pool.ts";

export interface ThreadedKernelOptions {
  simd: WasmSimd;
  /** Threads per matmul, the calling thread included (≥ 1). */
  threads: number;
  initialBytes?: number;
  /** Matmuls below this many multiply-adds stay on the calling thread (default MIN_PARALLEL_WORK, 2²⁰). */
  minParallelWork?: number;
}

/** Creates the kernels and starts `threads − 1` helpers with `spawn`. */
export async function startThreadedWasmKernels(options: ThreadedKernelOptions, spawn: SpawnPoolHelper): Promise<ThreadedWasmKernels> {
  const threads = Math.max(1, Math.floor(options.threads));
  const arena = new WasmArena(true, options.initialBytes);
  const module = await compileKernels(options.simd, true);
  const wasm = await instantiateKernels(module, arena.memory);
  const pool = await RowPool.start(module, arena.memory, wasm, { helpers: threads - 1, spawn, minParallelWork: options.minParallelWork });
  return new ThreadedWasmKernels(options.simd, arena, module, wasm, pool);
}

export class ThreadedWasmKernels extends WasmKernels {
  override readonly lanes: number;
  /** The pool the matmuls run on; other row-split kernels can use it too (RowPool.run). */
  readonly pool: RowPool;
  private readonly ternaryRows: number;
  private readonly ternaryGroupRows: number;
  private readonly floatRows: number;

  constructor(simd: WasmSimd, arena: WasmArena, module: WebAssembly.Module, wasm: WasmKernels["wasm"], pool: RowPool) {
    super(simd, arena, module, wasm);
    this.pool = pool;
    this.lanes = pool.lanes;
    this.ternaryRows = pool.fn("ternaryRows");
    this.ternaryGroupRows = pool.fn("ternaryGroupRows");
    const ranges = new Map(RANGE_EXPORTS.map((name) => [name, pool.fn(name)]));
    this.ops.runner = {
      lanes: pool.lanes,
      minParallelWork: pool.minParallelWork,
      run: (name, args, rows, work, laneArgs, align) => pool.run(ranges.get(name) ?? pool.fn(name), args, rows, work, laneArgs, align),
    };
    this.floatRows = pool.fn("floatRows");
  }

  /** Stops the helper threads. The kernels keep working, on the calling thread only. */
  close(): Promise<void> {
    return this.pool.close();
  }

  protected override runTernary(args: TernaryArgs, rows: number, macs: number, work: number[]): void {
    this.pool.run(this.ternaryRows, args, rows, macs, work);
  }

  /** q, k and v (or gate and up) as one pool job: the threads meet once for them, not once per matrix. */
  ternaryMatmulGroup(ws: readonly TernaryMatrix[], x: QuantizedActivations, outs: readonly Float32Array[]): void {
    this.ternaryGroup(ws, x, outs);
  }

  protected override runTernaryGroup(desc: number, count: number, rows: number, macs: number, work: number[]): void {
    this.pool.run(this.ternaryGroupRows, [desc, count], rows, macs, work);
  }

  protected override runFloat(args: FloatArgs, rows: number, macs: number): void {
    this.pool.run(this.floatRows, args, rows, macs);
  }
}
