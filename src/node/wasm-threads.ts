/**
 * Multi-threaded wasm kernels for Node: starts the thread pool's helpers (src/kernels/wasm/pool.ts) as
 * worker_threads. Node allows Atomics.wait on the main thread, so the kernels run there directly.
 * Not here: the pool protocol and the threaded kernels (src/kernels/wasm/pool.ts, threaded.ts), which
 * browsers share; choosing a backend (wasm-select.ts).
 */
import { Worker } from "node:worker_threads";
import { POOL_HELPER_SOURCE, type PoolHelperInit } from "../kernels/wasm/pool.ts";
import { startThreadedWasmKernels, type ThreadedKernelOptions, type ThreadedWasmKernels } from "../kernels/wasm/threaded.ts";

export { ThreadedWasmKernels, type ThreadedKernelOptions } from "../kernels/wasm/threaded.ts";

/** The helper's program for `new Worker(..., { eval: true })`: CommonJS, so `require` is there. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
${POOL_HELPER_SOURCE}
runPoolHelper(workerData, () => parentPort.postMessage("ready"));
`;

/** Starts one pool helper as a worker thread (a SpawnPoolHelper, for RowPool.start). */
export function spawnWorkerThread(init: PoolHelperInit): Promise<Worker> {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: init, name: `bitnet-kernels-${init.index + 1}` });
  return new Promise<Worker>((resolve, reject) => {
    worker.once("message", () => {
      worker.unref(); // idle helpers must not keep the process alive
      resolve(worker);
    });
    // Also keeps a later crash from being an unhandled 'error' event: the pool then reports the helper as stalled.
    worker.once("error", reject);
  });
}

export function createThreadedWasmKernels(options: ThreadedKernelOptions): Promise<ThreadedWasmKernels> {
  return startThreadedWasmKernels(options, spawnWorkerThread);
}
