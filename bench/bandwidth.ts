/**
 * Memory read bandwidth with 1 and N threads, the ceiling that decode (every weight read once per token)
 * is measured against. Each thread is a worker with its own WebAssembly instance summing its own buffer,
 * larger than the caches, with the SIMD load loop `sumBytes`; the threads start together on a shared
 * counter and the wall time of the slowest one counts. Not here: the kernels' own rates (kernel-rates.ts).
 */
import { Worker } from "node:worker_threads";
import { compileKernels } from "../src/kernels/wasm/module.ts";
import { median } from "../src/node/bench/stats.ts";

/** Plain JavaScript (no loader needed in the worker): instantiate, fill, then one sum per go signal. */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { module, bytes, control } = workerData;
const base = 16 << 20; // above the module's data and stack
const memory = new WebAssembly.Memory({ initial: Math.ceil((base + bytes) / 65536) });
const instance = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error("abort"); } } });
new Uint8Array(memory.buffer, base, bytes).fill(1);
const flags = new Int32Array(control);
let round = 0;
parentPort.postMessage("ready");
for (;;) {
  Atomics.wait(flags, 0, round);
  round = Atomics.load(flags, 0);
  if (round < 0) break;
  const t0 = performance.now();
  instance.exports.sumBytes(base, bytes);
  parentPort.postMessage(performance.now() - t0);
}
`;

export interface Bandwidth {
  threads: number;
  /** Bytes read per second by all threads together (median over rounds). */
  bytesPerSecond: number;
  bytesPerThread: number;
}

export async function measureBandwidth(threads: number, bytesPerThread: number, rounds: number): Promise<Bandwidth> {
  const module = await compileKernels("simd128", false);
  const control = new SharedArrayBuffer(4);
  const flags = new Int32Array(control);
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: { module, bytes: bytesPerThread, control } }));
  const next = (w: Worker) => new Promise<unknown>((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
  });
  try {
    await Promise.all(workers.map(next));
    const samples: number[] = [];
    for (let r = 1; r <= rounds; r++) {
      const done = Promise.all(workers.map(next));
      const t0 = performance.now();
      Atomics.store(flags, 0, r);
      Atomics.notify(flags, 0);
      await done;
      samples.push((threads * bytesPerThread) / ((performance.now() - t0) / 1000));
    }
    return { threads, bytesPerSecond: median(samples), bytesPerThread };
  } finally {
    Atomics.store(flags, 0, -1);
    Atomics.notify(flags, 0);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

if (import.meta.main) {
  for (const t of [1, 2]) {
    const b = await measureBandwidth(t, 512 * 2 ** 20, 5);
    console.log(`${t} thread(s): ${(b.bytesPerSecond / 1e9).toFixed(1)} GB/s`);
  }
}
