/**
 * A pool of helper threads that run row ranges of one wasm call together with the calling thread, over
 * one shared WebAssembly.Memory, for any runtime: Node's worker_threads and the browser's Web Workers
 * start the helpers (src/node/wasm-threads.ts, src/web/helper-workers.ts); everything else is here.
 *
 * A job is an export of the kernel module, its leading arguments, and a number of rows. The pool cuts
 * the rows into one range per thread and calls `export(...args, [laneArg,] r0, r1)` on each: the
 * helpers on their own instance of the module, the caller on its own, so that every row is computed by
 * exactly the code a single thread runs. Calls stay synchronous: the caller computes its share, then
 * blocks in Atomics.wait until the helpers are done, which browsers allow only off the page's thread
 * (the browser engine runs in a Web Worker for that reason: src/web).
 *
 * Not here: starting threads (the adapters above), the kernels and their arguments (kernels.ts, threaded.ts).
 */

/** Jobs below this much work (multiply-adds, or the caller's measure) stay on the calling thread: waking helpers costs more. */
export const MIN_PARALLEL_WORK = 1 << 20;
/** Row ranges are cut at multiples of this by default (the ternary kernels' row groups: 2 for one token, 4 for several). */
export const ROW_ALIGN = 4;
/** How long a helper polls for the next job before it sleeps in Atomics.wait (keeps wake-ups cheap during a forward pass). */
const SPIN_MS = 0.2;
/** A helper that has not finished a job after this long is taken for dead (the caller throws instead of hanging). */
const JOB_TIMEOUT_MS = 60_000;
/** A helper that has not reported ready after this long failed to start. */
const START_TIMEOUT_MS = 30_000;

// Control words (Int32Array over a SharedArrayBuffer).
const SEQ = 0; // job number; helpers wait for it to change; -1 asks them to exit
const DONE = 1; // helpers that finished the current job
const FAILED = 2; // helpers whose call threw
const CONTROL_WORDS = 4;
/** Words per helper's job slot (Float64Array): export index (−1: nothing to do), argument count, the arguments. */
const SLOT_WORDS = 32;
const IDLE = -1;
/** Most arguments a pooled call can take, the per-lane argument and the row range included. */
export const MAX_POOL_ARGS = SLOT_WORDS - 2;

/** What a helper thread receives to join the pool; structured-cloneable (workerData, postMessage). */
export interface PoolHelperInit {
  /** The kernel module, compiled for a shared memory. */
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: Int32Array;
  slots: Float64Array;
  /** This helper's slot. */
  index: number;
  spinMs: number;
}

/** A started helper thread, whatever the runtime calls it. */
export interface PoolHelper {
  terminate(): unknown;
}

/** Starts one helper thread running POOL_HELPER_SOURCE's `runPoolHelper(init, ready)`; resolves once it called `ready`. */
export type SpawnPoolHelper = (init: PoolHelperInit) => Promise<PoolHelper>;

/**
 * The helper's whole program, as plain JavaScript that defines `runPoolHelper(init, ready)`. Adapters
 * wrap it with two lines that receive `init` and post `ready` (workerData / parentPort in Node, the
 * first message in a Web Worker), and start it from a string (eval, a Blob URL): it then needs no
 * TypeScript loader, no path on disk, and no bundler can rewrite it (a stringified function picks up
 * helpers such as esbuild's __name). It instantiates the module over the shared memory; then, per job,
 * polls briefly for a new job number, else sleeps in Atomics.wait; calls its slot's export with its
 * slot's arguments; and counts itself done (and failed, if the call threw).
 */
export const POOL_HELPER_SOURCE = `
function runPoolHelper(init, ready) {
  const { module, memory, control, slots, index, spinMs } = init;
  const abort = () => { throw new Error("wasm kernels: abort"); };
  const wasm = new WebAssembly.Instance(module, { env: { memory, abort } }).exports;
  if (typeof wasm.setup === "function") wasm.setup(1);
  const fns = WebAssembly.Module.exports(module).filter((e) => e.kind === "function").map((e) => wasm[e.name]);
  const slot = slots.subarray(index * ${SLOT_WORDS}, (index + 1) * ${SLOT_WORDS});
  const argv = [];
  let seen = 0;
  ready();
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
      const fn = slot[0];
      if (fn !== ${IDLE}) {
        const n = slot[1];
        const args = argv[n] || (argv[n] = new Array(n));
        for (let i = 0; i < n; i++) args[i] = slot[2 + i];
        fns[fn].apply(undefined, args);
      }
    } catch {
      Atomics.add(control, ${FAILED}, 1);
    }
    Atomics.add(control, ${DONE}, 1);
    Atomics.notify(control, ${DONE});
  }
}
`;

/** The module's exported functions in declaration order: the index the pool and the helpers share. */
function exportedFunctions(module: WebAssembly.Module): string[] {
  return WebAssembly.Module.exports(module).filter((e) => e.kind === "function").map((e) => e.name);
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

type WasmFunction = (...args: number[]) => unknown;

export interface RowPoolOptions {
  /** Helper threads to start (the calling thread is one more lane). */
  helpers: number;
  spawn: SpawnPoolHelper;
  /** Jobs below this much work run on the calling thread alone. Default MIN_PARALLEL_WORK. */
  minParallelWork?: number;
}

export class RowPool {
  /** Threads that compute one job together, the calling thread included. */
  get lanes(): number {
    return this.helpers.length + 1;
  }
  /** Jobs below this much work run on the calling thread alone. */
  readonly minParallelWork: number;
  /** Jobs that were split across threads so far (for tests and benchmarks). */
  splitJobs = 0;
  private readonly names: string[];
  private readonly local: WasmFunction[];
  private readonly helpers: PoolHelper[];
  private readonly control: Int32Array;
  private readonly slots: Float64Array;
  /** One reusable argument array per argument count, so a call allocates nothing. */
  private readonly argv: number[][] = [];
  private seq = 0;
  /** Set when a helper timed out: the pool's state is then unknown and every later job throws this. */
  private broken: string | null = null;

  /**
   * Starts the helpers over `memory`. `local` are the calling thread's exports of `module` (instantiated
   * over the same memory). A helper that fails to start stops the ones already started.
   */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, local: object, options: RowPoolOptions): Promise<RowPool> {
    if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error("wasm thread pool: the memory is not shared");
    const count = Math.max(0, Math.floor(options.helpers));
    const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS));
    const slots = new Float64Array(new SharedArrayBuffer(8 * SLOT_WORDS * Math.max(1, count)));
    const helpers: PoolHelper[] = [];
    try {
      for (let index = 0; index < count; index++) {
        const init: PoolHelperInit = { module, memory, control, slots, index, spinMs: SPIN_MS };
        helpers.push(await withTimeout(options.spawn(init), START_TIMEOUT_MS, `wasm thread pool: helper thread ${index + 1} did not start within ${START_TIMEOUT_MS / 1000} s`));
      }
    } catch (e) {
      Atomics.store(control, SEQ, -1);
      Atomics.notify(control, SEQ);
      await Promise.all(helpers.map((h) => h.terminate()));
      throw e;
    }
    return new RowPool(module, local, helpers, control, slots, options.minParallelWork ?? MIN_PARALLEL_WORK);
  }

  private constructor(module: WebAssembly.Module, local: object, helpers: PoolHelper[], control: Int32Array, slots: Float64Array, minParallelWork: number) {
    this.names = exportedFunctions(module);
    const exports = local as Record<string, WasmFunction>;
    this.local = this.names.map((n) => exports[n]);
    this.helpers = helpers;
    this.control = control;
    this.slots = slots;
    this.minParallelWork = minParallelWork;
  }

  /** The index of an exported function, for run(). Throws if the module has no such export. */
  fn(name: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`wasm thread pool: the kernel module exports no function '${name}'`);
    return i;
  }

  /**
   * Runs export `fn` over rows [0, rows): each lane calls `fn(...args, laneArgs?.[lane], r0, r1)` for its
   * own range (lane 0 is the calling thread; `laneArgs`, when given, holds one value per lane, e.g. a
   * scratch address). Ranges are cut at multiples of `align`. `work` (multiply-adds, or any measure on
   * the same scale) decides whether the job is worth splitting. Returns when every range is done.
   */
  run(fn: number, args: ArrayLike<number>, rows: number, work: number, laneArgs?: ArrayLike<number>, align = ROW_ALIGN): void {
    if (this.broken) throw new Error(this.broken);
    const argc = args.length + (laneArgs ? 1 : 0) + 2;
    if (argc > MAX_POOL_ARGS) throw new Error(`wasm thread pool: ${this.names[fn]} takes ${argc} arguments, at most ${MAX_POOL_ARGS} fit a job slot`);
    if (laneArgs && laneArgs.length < this.lanes) throw new Error(`wasm thread pool: ${laneArgs.length} per-lane arguments for ${this.lanes} lanes`);
    const helpers = this.helpers.length;
    if (helpers === 0 || work < this.minParallelWork || rows < 2 * align) {
      this.callHere(fn, args, laneArgs, 0, rows);
      return;
    }
    const per = Math.ceil(rows / this.lanes / align) * align;
    for (let i = 0; i < helpers; i++) {
      const lane = i + 1;
      const r0 = Math.min(rows, lane * per);
      const r1 = Math.min(rows, (lane + 1) * per);
      const at = i * SLOT_WORDS;
      // A helper with an empty range still sees the new job number; it is told there is nothing to do.
      if (r0 >= r1) {
        this.slots[at] = IDLE;
        continue;
      }
      this.slots[at] = fn;
      this.slots[at + 1] = argc;
      let k = at + 2;
      for (let j = 0; j < args.length; j++) this.slots[k++] = args[j];
      if (laneArgs) this.slots[k++] = laneArgs[lane];
      this.slots[k++] = r0;
      this.slots[k] = r1;
    }
    Atomics.store(this.control, DONE, 0);
    Atomics.store(this.control, FAILED, 0);
    this.seq = (this.seq + 1) & 0x3fffffff;
    Atomics.store(this.control, SEQ, this.seq);
    Atomics.notify(this.control, SEQ);
    this.splitJobs++;
    try {
      this.callHere(fn, args, laneArgs, 0, Math.min(rows, per));
    } finally {
      // Even when the caller's share threw, the helpers must finish before the memory is reused.
      this.awaitHelpers(fn);
    }
    if (Atomics.load(this.control, FAILED) > 0) throw new Error(`wasm thread pool: a helper thread failed in ${this.names[fn]}`);
  }

  /** Stops the helpers. Jobs then run on the calling thread only. */
  async close(): Promise<void> {
    Atomics.store(this.control, SEQ, -1);
    Atomics.notify(this.control, SEQ);
    const helpers = this.helpers.splice(0);
    await Promise.all(helpers.map((h) => h.terminate()));
  }

  private callHere(fn: number, args: ArrayLike<number>, laneArgs: ArrayLike<number> | undefined, r0: number, r1: number): void {
    const argc = args.length + (laneArgs ? 1 : 0) + 2;
    const a = (this.argv[argc] ??= new Array<number>(argc));
    let k = 0;
    for (let j = 0; j < args.length; j++) a[k++] = args[j];
    if (laneArgs) a[k++] = laneArgs[0];
    a[k++] = r0;
    a[k] = r1;
    this.local[fn].apply(undefined, a);
  }

  private awaitHelpers(fn: number): void {
    const helpers = this.helpers.length;
    for (;;) {
      const done = Atomics.load(this.control, DONE);
      if (done === helpers) return;
      if (Atomics.wait(this.control, DONE, done, JOB_TIMEOUT_MS) === "timed-out" && Atomics.load(this.control, DONE) === done) {
        this.broken = `wasm thread pool: ${helpers - done} of ${helpers} helper threads did not finish ${this.names[fn]} within ${JOB_TIMEOUT_MS / 1000} s`;
        throw new Error(this.broken);
      }
    }
  }
}
