/**
 * The one owner of kernels and their threads: `createKernels` picks the fastest backend this runtime
 * supports (select.ts) and, when more than one thread is asked for, starts the wasm thread pool over a
 * shared memory with the runtime's way of starting a thread (`spawn`: worker_threads in Node,
 * src/node/kernels.ts; Web Workers in browsers, src/web/helper-workers.ts). Whoever calls it owns the
 * result and closes it. Anything that makes the result slower than asked (no relaxed SIMD, no shared
 * memory, a pool that failed its self-test) is a `fallbackReason`, never an error: a slower engine beats
 * none. Not here: the kernels (wasm/, ref.ts), the pool protocol (wasm/pool.ts).
 */
import { chooseKernels, kernelSelfTest, type SelectKernelsOptions } from "./select.ts";
import type { Kernels } from "./types.ts";
import { WasmKernels } from "./wasm/kernels.ts";
import type { SpawnPoolHelper } from "./wasm/pool.ts";
import { startThreadedWasmKernels } from "./wasm/threaded.ts";

export interface CreateKernelsOptions extends SelectKernelsOptions {
  /** Threads per matmul, the calling thread included. Default 1; more need `spawn` and shared memory. */
  threads?: number;
  /** How this runtime starts a helper thread. */
  spawn?: SpawnPoolHelper;
  /** Matmuls below this many multiply-adds stay on the calling thread (pool.ts MIN_PARALLEL_WORK by default). */
  minParallelWork?: number;
}

export interface CreatedKernels {
  kernels: Kernels;
  /** Why the kernels are slower than the fastest this runtime could have, or use fewer threads than asked. */
  fallbackReason: string | null;
}

export async function createKernels(options: CreateKernelsOptions = {}): Promise<CreatedKernels> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${String(options.threads)}`);
  const chosen = await chooseKernels(options);
  if (threads === 1) return chosen;
  const join = (why: string): string => (chosen.fallbackReason ? `${why}; ${chosen.fallbackReason}` : why);
  const single = chosen.kernels;
  if (!(single instanceof WasmKernels)) return { ...chosen, fallbackReason: join(`the ${single.name} kernels run on 1 thread`) };
  if (!single.arena.shared) return { ...chosen, fallbackReason: join("no shared memory (SharedArrayBuffer; a browser page needs cross-origin isolation): running on 1 thread") };
  if (!options.spawn) return { ...chosen, fallbackReason: join("no way to start threads was given: running on 1 thread") };
  try {
    const threaded = await startThreadedWasmKernels({ simd: single.simd, threads, initialBytes: options.initialBytes, minParallelWork: options.minParallelWork }, options.spawn);
    const failed = kernelSelfTest(threaded);
    if (!failed) return { kernels: threaded, fallbackReason: chosen.fallbackReason };
    await threaded.close();
    return { ...chosen, fallbackReason: join(`${threads} threads gave wrong results (${failed}): running on 1 thread`) };
  } catch (e) {
    return { ...chosen, fallbackReason: join(`${threads} threads could not be started (${(e as Error).message}): running on 1 thread`) };
  }
}
