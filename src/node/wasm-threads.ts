/**
 * Multi-threaded wasm kernels for Node: the same module instantiated in worker_threads over the one
 * shared WebAssembly.Memory, each matmul's rows split between the calling thread and the workers.
 * Calls stay synchronous: the caller computes its own share, then blocks in Atomics.wait until the
 * workers are done (Node allows that on the main thread; browsers do not, so this file is Node-only).
 * Every row is computed by exactly the code the single-threaded kernels run, so results are identical.
 * Not here: the kernels (src/kernels/wasm), choosing a backend (src/kernels/select.ts).
 */
import { Worker } from "node:worker_threads";
import { WasmArena } from "../kernels/wasm/arena.ts";
import { type FloatArgs, type TernaryArgs, WasmKernels } from "../kernels/wasm/kernels.ts";
import { compileKernels, instantiateKernels, type WasmSimd } from "../kernels/wasm/module.ts";

export interface ThreadedKernelOptions {
  simd: WasmSimd;
  /** Threads per matmul, the calling thread included (≥ 1). */
  threads: number;
  initialBytes?: number;
}

/** Matmuls below this many multiply-adds stay on the calling thread: waking workers costs more. */
const MIN_PARALLEL_MACS = 1 << 20;
/** Row ranges are cut at multiples of this (the kernels' row groups: 2 for one token, 4 for several). */
const ROW_ALIGN = 4;
/** How long a worker polls for the next job before it sleeps in Atomics.wait (keeps wake-ups cheap during a forward pass). */
const SPIN_MS = 0.2;
/** A worker that has not answered after this long is taken for dead (the caller throws instead of hanging). */
const WORKER_TIMEOUT_MS = 60_000;

// Control words (Int32Array over a SharedArrayBuffer).
const SEQ = 0; // job number; workers wait for it to change; -1 asks them to exit
const DONE = 1; // workers that finished the current job
const FAILED = 2; // workers whose job threw
// Job slot per worker (Float64Array): kind (0 ternary, 1 float), then the kernel's arguments.
const SLOT = 16;

/**
 * The worker's whole program, as plain JavaScript source run with `eval`: it then needs no TypeScript
 * loader and no path on disk, and no bundler can rewrite it (a stringified function picks up helpers
 * such as esbuild's __name). It polls for a new job number, briefly, then sleeps in Atomics.wait;
 * runs its slot's row range; and counts itself done (and failed, if the kernel threw).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { module, memory, control, slots, index, spinMs } = workerData;
const abort = () => { throw new Error("wasm kernels: abort"); };
const wasm = new WebAssembly.Instance(module, { env: { memory, abort } }).exports;
wasm.setup(1);
const slot = slots.subarray(index * ${SLOT}, (index + 1) * ${SLOT});
let seen = 0;
parentPort.postMessage("ready");
for (;;) {
  let seq = Atomics.load(control, ${SEQ});
  const until = performance.now() + spinMs;
  while (seq === seen && performance.now() < until) seq = Atomics.load(control, ${SEQ});
  if (seq === seen) {
    Atomics.wait(control, ${SEQ}, seen);
    continue;
  }
  if (seq < 0) break;
  seen = seq;
  try {
    const a = Array.from(slot);
    if (a[0] === 0) wasm.ternaryRows(...a.slice(1, 16));
    else wasm.floatRows(...a.slice(1, 11));
  } catch {
    Atomics.add(control, ${FAILED}, 1);
  }
  Atomics.add(control, ${DONE}, 1);
  Atomics.notify(control, ${DONE});
}
`;

export async function createThreadedWasmKernels(options: ThreadedKernelOptions): Promise<ThreadedWasmKernels> {
  const threads = Math.max(1, Math.floor(options.threads));
  const arena = new WasmArena(true, options.initialBytes);
  const module = await compileKernels(options.simd, true);
  const wasm = await instantiateKernels(module, arena.memory);
  const control = new Int32Array(new SharedArrayBuffer(16));
  const slots = new Float64Array(new SharedArrayBuffer(8 * SLOT * Math.max(1, threads - 1)));
  const workers: Worker[] = [];
  for (let i = 0; i < threads - 1; i++) {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module, memory: arena.memory, control, slots, index: i, spinMs: SPIN_MS },
    });
    await new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
    });
    worker.unref(); // idle workers must not keep the process alive
    workers.push(worker);
  }
  return new ThreadedWasmKernels(options.simd, arena, module, wasm, workers, control, slots);
}

export class ThreadedWasmKernels extends WasmKernels {
  override readonly lanes: number;
  private readonly workers: Worker[];
  private readonly control: Int32Array;
  private readonly slots: Float64Array;
  private seq = 0;

  constructor(simd: WasmSimd, arena: WasmArena, module: WebAssembly.Module, wasm: WasmKernels["wasm"], workers: Worker[], control: Int32Array, slots: Float64Array) {
    super(simd, arena, module, wasm);
    this.workers = workers;
    this.control = control;
    this.slots = slots;
    this.lanes = workers.length + 1;
  }

  /** Stops the workers. The kernels keep working, on the calling thread only. */
  async close(): Promise<void> {
    Atomics.store(this.control, SEQ, -1);
    Atomics.notify(this.control, SEQ);
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }

  protected override runTernary(args: TernaryArgs, rows: number, macs: number, work: number[]): void {
    this.split(rows, macs, (slot, r0, r1, lane) => {
      if (slot) slot.set([0, ...args, work[lane], r0, r1]);
      else this.wasm.ternaryRows(...args, work[lane], r0, r1);
    });
  }

  protected override runFloat(args: FloatArgs, rows: number, macs: number): void {
    this.split(rows, macs, (slot, r0, r1) => {
      if (slot) slot.set([1, ...args, r0, r1]);
      else this.wasm.floatRows(...args, r0, r1);
    });
  }

  /**
   * Cuts rows into one range per lane; `job` writes a worker's range into its slot, or (slot null)
   * computes the calling thread's range. Returns when every range is done.
   */
  private split(rows: number, macs: number, job: (slot: Float64Array | null, r0: number, r1: number, lane: number) => void): void {
    const workers = this.workers.length;
    if (workers === 0 || macs < MIN_PARALLEL_MACS || rows < 2 * ROW_ALIGN) {
      job(null, 0, rows, 0);
      return;
    }
    const lanes = workers + 1;
    const per = Math.ceil(rows / lanes / ROW_ALIGN) * ROW_ALIGN;
    const bounds = (lane: number): [number, number] => [Math.min(rows, lane * per), Math.min(rows, (lane + 1) * per)];
    let busy = 0;
    for (let i = 0; i < workers; i++) {
      const [r0, r1] = bounds(i + 1);
      if (r0 >= r1) continue;
      job(this.slots.subarray(i * SLOT, (i + 1) * SLOT), r0, r1, i + 1);
      busy++;
    }
    // Workers with an empty range still see the new job number; give them one that does nothing.
    for (let i = busy; i < workers; i++) this.slots.subarray(i * SLOT, (i + 1) * SLOT).set([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    Atomics.store(this.control, DONE, 0);
    Atomics.store(this.control, FAILED, 0);
    this.seq = (this.seq + 1) & 0x3fffffff;
    Atomics.store(this.control, SEQ, this.seq);
    Atomics.notify(this.control, SEQ);
    const [r0, r1] = bounds(0);
    job(null, r0, r1, 0);
    for (;;) {
      const done = Atomics.load(this.control, DONE);
      if (done === workers) break;
      if (Atomics.wait(this.control, DONE, done, WORKER_TIMEOUT_MS) === "timed-out") {
        throw new Error(`wasm kernels: ${workers - done} of ${workers} worker threads did not finish a matmul within ${WORKER_TIMEOUT_MS / 1000} s`);
      }
    }
    if (Atomics.load(this.control, FAILED) > 0) throw new Error("wasm kernels: a worker thread failed during a matmul");
  }
}
