/**
 * Kernels for Node: `createNodeKernels` is createKernels (src/kernels/create.ts) with worker_threads as the
 * way to start threads, and the backend chosen by option or by the BITNET_KERNELS environment variable
 * ("wasm", "ref"; unset: the fastest available). Not here: the pool and the kernels themselves.
 */
import { availableParallelism } from "node:os";
import { InvalidArgumentError } from "../errors.ts";
import { createKernels, type CreatedKernels } from "../kernels/create.ts";
import { spawnWorkerThread } from "./wasm-threads.ts";

export const KERNEL_BACKENDS = ["wasm", "ref"] as const;
export type KernelBackend = (typeof KERNEL_BACKENDS)[number];

export interface NodeKernelOptions {
  /** Threads per matmul, the calling thread included (default: the number of cores). */
  threads?: number;
  /** Force a backend (default: BITNET_KERNELS, else the fastest available). */
  backend?: KernelBackend;
  /** Bytes of WebAssembly memory to reserve up front. */
  initialBytes?: number;
}

/** Threads when none are asked for: one per core this process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

/** The backend BITNET_KERNELS asks for, if any. */
export function backendFromEnv(env: NodeJS.ProcessEnv = process.env): KernelBackend | undefined {
  const v = env.BITNET_KERNELS;
  if (v === undefined || v === "") return undefined;
  if (!(KERNEL_BACKENDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`BITNET_KERNELS must be one of ${KERNEL_BACKENDS.join(", ")}, got "${v}"`);
  return v as KernelBackend;
}

export async function createNodeKernels(options: NodeKernelOptions = {}): Promise<CreatedKernels> {
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) throw new InvalidArgumentError(`threads must be a positive integer, got ${String(options.threads)}`);
  const backend = options.backend ?? backendFromEnv();
  if (backend !== undefined && !(KERNEL_BACKENDS as readonly string[]).includes(backend)) {
    throw new InvalidArgumentError(`backend must be one of ${KERNEL_BACKENDS.join(", ")}, got "${String(backend)}"`);
  }
  return createKernels({ threads, spawn: spawnWorkerThread, prefer: backend === "ref" ? "ref" : "wasm", initialBytes: options.initialBytes });
}
