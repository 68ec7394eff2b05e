/**
 * Starts the wasm thread pool's helpers as Web Workers (the browser's counterpart of
 * src/node/wasm-threads.ts). The helper's program is a string (POOL_HELPER_SOURCE) loaded from a Blob
 * URL, so it needs no file of its own and no bundler support. Called from the engine's worker: a
 * dedicated worker may start workers of its own and block in Atomics.wait, which the page may not.
 * Not here: the pool protocol (src/kernels/wasm/pool.ts).
 */
import { POOL_HELPER_SOURCE, type PoolHelper, type PoolHelperInit } from "../kernels/wasm/pool.ts";

/** The first message is the pool's init; the helper then blocks in its job loop for good (terminate() ends it). */
const HELPER_SOURCE = `${POOL_HELPER_SOURCE}
self.onmessage = (e) => {
  self.onmessage = null;
  runPoolHelper(e.data, () => self.postMessage("ready"));
};
`;

let helperUrl: string | null = null;

export function spawnWebWorkerHelper(init: PoolHelperInit): Promise<PoolHelper> {
  helperUrl ??= URL.createObjectURL(new Blob([HELPER_SOURCE], { type: "text/javascript" }));
  const worker = new Worker(helperUrl, { name: `bitnet-kernels-${init.index + 1}` });
  return new Promise<PoolHelper>((resolve, reject) => {
    worker.onmessage = () => {
      worker.onmessage = null;
      resolve(worker);
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(`a kernel helper Web Worker failed${e.message ? `: ${e.message}` : " to start"}`));
    };
    worker.postMessage(init);
  });
}
