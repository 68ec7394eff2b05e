/**
 * Kernels for Node: `createNodeKernels` picks the backend, by option or by the BITNET_KERNELS environment
 * variable ("native", "wasm", "ref"; unset: native where the addon is built and passes its self-test,
 * else wasm, with the reason in `fallbackReason`), and gives it its threads: the native kernels' own pool,
 * or createKernels (src/kernels/create.ts) with worker_threads for wasm. Not here: the kernels themselves.
 */
import { availableParallelism } from "node:os";
import { InvalidArgumentError } from "../errors.ts";
import { createKernels, type CreatedKernels } from "../kernels/create.ts";
import { createNativeKernels } from "./native/kernels.ts";
import { nativeOrElse } from "./native/prefer.ts";
import { spawnWorkerThread } from "./wasm-threads.ts";

export const KERNEL_BACKENDS = ["native", "wasm", "ref"] as const;
export type KernelBackend = (typeof KERNEL_BACKENDS)[number];

export interface NodeKernelOptions {
  /** Threads per matmul, the calling thread included (default: the number of cores). */
  threads?: number;
  /** Force a backend (default: BITNET_KERNELS, else native where it works, else wasm). */
  backend?: KernelBackend;
  /** Bytes of WebAssembly memory to reserve up front (wasm only). */
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
  const wasm = (): Promise<CreatedKernels> => createKernels({ threads, spawn: spawnWorkerThread, prefer: backend === "ref" ? "ref" : "wasm", initialBytes: options.initialBytes });
  if (backend === "native") return { kernels: await createNativeKernels({ threads }), fallbackReason: null };
  if (backend !== undefined) return wasm();
  let slower: string | null = null;
  const chosen = await nativeOrElse({ threads }, async () => {
    const w = await wasm();
    slower = w.fallbackReason;
    return w.kernels;
  });
  const reasons = [chosen.fallbackReason, slower].filter((r) => r !== null);
  return { kernels: chosen.kernels, fallbackReason: reasons.length > 0 ? reasons.join("; ") : null };
}
