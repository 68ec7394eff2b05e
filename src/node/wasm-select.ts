/**
 * Kernel selection for Node with threads: selectKernels' choice (relaxed SIMD → SIMD128 → reference),
 * upgraded to the multi-threaded wasm kernels when more than one thread is asked for and shared
 * memory is available. Not here: the browser (Web Workers cannot block the page's thread).
 */
import { availableParallelism } from "node:os";
import { kernelSelfTest, selectKernels, type SelectKernelsOptions } from "../kernels/select.ts";
import type { Kernels } from "../kernels/types.ts";
import { WasmKernels } from "../kernels/wasm/kernels.ts";
import { createThreadedWasmKernels } from "./wasm-threads.ts";

export interface NodeKernelOptions extends SelectKernelsOptions {
  /** Threads per matmul, the calling thread included. Default 1. */
  threads?: number;
}

export async function selectNodeKernels(options: NodeKernelOptions = {}): Promise<Kernels> {
  const chosen = await selectKernels(options);
  const threads = Math.floor(options.threads ?? 1);
  if (threads <= 1 || !(chosen instanceof WasmKernels) || !chosen.arena.shared) return chosen;
  const threaded = await createThreadedWasmKernels({ simd: chosen.simd, threads, initialBytes: options.initialBytes });
  const failed = kernelSelfTest(threaded);
  if (failed) {
    await threaded.close();
    throw new Error(`wasm kernels with ${threads} threads gave wrong results (${failed})`);
  }
  return threaded;
}

/** Threads when none are asked for: one per core this process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}
