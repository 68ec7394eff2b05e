/**
 * Many sequences on one model: shared weights and kernels, one KV cache slot per resident sequence, and a
 * continuous-batching scheduler.
 *
 * - Slots (kv-cache.ts) are physical; a `Sequence` is a caller's handle on one slot while it lives. A slot
 *   remembers the tokens its cache holds after its sequence is gone, so the next sequence given that slot
 *   reuses the longest common prefix (a new sequence gets the free slot that shares most with its first
 *   tokens, else the least recently used one).
 * - `Sequence.evaluate` / `step` do not run at once: they queue work, and the scheduler runs steps. Each
 *   step gathers the next token of every decoding sequence, then prompt chunks of the others, up to
 *   `maxBatch` tokens, into one forward pass (forward.ts), so that the ternary weights are read once per
 *   step for all of them. Sequences join and leave between steps; between steps the event loop runs (a
 *   server reads requests, a client aborts). A batched sequence gets the same bits as alone.
 * - The model's synchronous calls (BitNetModel.evaluate, step, logits) run at once on a slot of their
 *   own (`SyncSequence`), never inside a step.
 * Not here: the forward pass, sampling and text (src/generate).
 */
import { ConcurrencyError, ContextOverflowError, DisposedError, InvalidArgumentError } from "../errors.ts";
import { nextMacrotask, yieldFor } from "./next-tick.ts";
import type { BatchSegment, ForwardPass } from "./forward.ts";

/**
 * Between steps the scheduler leaves the event loop some macrotask turns: at least IO_SHARE of the
 * step's time, and then more while they keep running something or a server expects a request
 * (expectArrival), up to IO_MAX_SHARE. A request takes several turns to arrive, so with one turn between
 * steps N clients arriving together were admitted one per step (the 8th waited 8 steps, 2 s on a 2B
 * model); how long a turn takes depends on the machine, hence the server's word as well.
 */
const IO_SHARE = 0.01;
const IO_MAX_SHARE = 0.5;

export interface EvaluateOptions {
  /**
   * Call `onLogits(logits, position)` with the logits after every token from this position on (scoring:
   * perplexity, log-likelihoods); the view is valid only during the call. Default: only the last position.
   */
  scoreFrom?: number;
  onLogits?: (logits: Float32Array, position: number) => void;
  /** Where to copy the last logits (default: a new array). */
  into?: Float32Array;
  /** Aborting drops the work before the next step; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What a step processed, for metrics (llama-server's n_busy_slots_per_decode and friends). */
export interface StepStats {
  tokens: number;
  sequences: number;
  /** Tokens that were one sequence's next token (decoding), the rest being prompt tokens. */
  decodeTokens: number;
  seconds: number;
}

interface Slot {
  /** The tokens the slot's cache holds, positions 0..length-1. */
  tokens: number[];
  holder: object | null;
  lastUsed: number;
}

interface Work {
  slot: number;
  ids: readonly number[];
  /** Next position to run. */
  next: number;
  scoreFrom: number;
  onLogits: ((logits: Float32Array, position: number) => void) | undefined;
  into: Float32Array | undefined;
  signal: AbortSignal | undefined;
  resolve: (logits: Float32Array) => void;
  reject: (e: unknown) => void;
}

interface Waiter {
  hint: readonly number[];
  holder: object;
  resolve: (slot: number) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class SequenceEngine {
  readonly contextLength: number;
  readonly maxBatch: number;
  readonly vocabSize: number;
  private readonly pass: ForwardPass;
  private readonly name: string;
  private readonly slots: Slot[];
  private readonly waiters: Waiter[] = [];
  private readonly queue: Work[] = [];
  private clock = 0;
  private running = false;
  /** Requests a server is reading that will want this step (expectArrival). */
  private arriving = 0;
  private closed: Error | null = null;
  /** The batch's token ids and segments, reused from step to step. */
  private readonly batchIds: Int32Array;
  private readonly segments: BatchSegment[] = [];
  private readonly segmentWork: Work[] = [];
  /** Called after every step. */
  onStep: ((s: StepStats) => void) | null = null;

  constructor(pass: ForwardPass, o: { contextLength: number; maxBatch: number; slots: number; vocabSize: number; name: string }) {
    this.pass = pass;
    this.contextLength = o.contextLength;
    this.maxBatch = o.maxBatch;
    this.vocabSize = o.vocabSize;
    this.name = o.name;
    this.slots = Array.from({ length: o.slots }, () => ({ tokens: [], holder: null, lastUsed: 0 }));
    this.batchIds = new Int32Array(o.maxBatch);
  }

  get slotCount(): number {
    return this.slots.length;
  }

  /** Slots a sequence holds right now. */
  get busySlots(): number {
    return this.slots.reduce((n, s) => n + (s.holder ? 1 : 0), 0);
  }

  /**
   * Says that a request is on its way in (a server has a connection or a request it is still reading), so
   * the next step waits for it, up to IO_MAX_SHARE of a step's time: clients that arrive together then join
   * the same step however fast the machine reads them. Call the returned function (any number of times)
   * once the request has been handed over or has gone.
   */
  expectArrival(): () => void {
    this.arriving++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.arriving--;
    };
  }

  /** Callers waiting for a free slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** The tokens slot `slot`'s cache holds. */
  tokensOf(slot: number): readonly number[] {
    return this.slots[slot].tokens;
  }

  /** Takes a free slot for `holder` (the one sharing most with `hint`, else the least recently used), waiting while none is free. */
  acquire(holder: object, hint: readonly number[] = [], signal?: AbortSignal): Promise<number> {
    if (this.closed) return Promise.reject(this.closed);
    const slot = this.pick(hint, -1);
    if (slot >= 0) {
      this.take(slot, holder);
      return Promise.resolve(slot);
    }
    return new Promise<number>((resolve, reject) => {
      const w: Waiter = { hint, holder, resolve, reject, signal };
      this.waiters.push(w);
      signal?.addEventListener(
        "abort",
        () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) {
            this.waiters.splice(i, 1);
            reject(signal.reason);
          }
        },
        { once: true },
      );
    });
  }

  /** A free slot now, preferring `preferred`, or null when every slot is held. */
  tryAcquire(holder: object, preferred: number, hint: readonly number[]): number | null {
    if (this.closed) throw this.closed;
    const slot = this.pick(hint, preferred);
    if (slot < 0) return null;
    this.take(slot, holder);
    return slot;
  }

  release(slot: number, holder: object): void {
    const s = this.slots[slot];
    if (s.holder !== holder) return;
    s.holder = null;
    s.lastUsed = ++this.clock;
    // The waiter that shares most with this slot's tokens? First come, first served: the oldest waiter.
    const w = this.waiters.shift();
    if (w) {
      this.take(slot, w.holder);
      w.resolve(slot);
    }
  }

  private pick(hint: readonly number[], preferred: number): number {
    if (preferred >= 0 && this.slots[preferred].holder === null) return preferred;
    let best = -1;
    let bestShared = -1;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i];
      if (s.holder !== null) continue;
      const shared = commonPrefix(s.tokens, hint);
      if (shared > bestShared || (shared === bestShared && s.lastUsed < this.slots[best].lastUsed)) {
        best = i;
        bestShared = shared;
      }
    }
    return best;
  }

  private take(slot: number, holder: object): void {
    this.slots[slot].holder = holder;
    this.slots[slot].lastUsed = ++this.clock;
  }

  /** Forgets what slot `slot` holds (its next evaluation starts at position 0). */
  clear(slot: number): void {
    this.slots[slot].tokens.length = 0;
  }

  /** Positions of `ids` whose keys and values the slot already holds and need not be computed again. */
  private reusable(slot: number, ids: readonly number[], scoreFrom: number): number {
    // At least one token is run (its logits are wanted), and no position whose logits are wanted is skipped.
    return Math.min(commonPrefix(this.slots[slot].tokens, ids), ids.length - 1, scoreFrom);
  }

  private checkIds(ids: readonly number[], what: string): void {
    if (!Array.isArray(ids)) throw InvalidArgumentError.forParam(what, `must be an array of token ids, got ${ids === null ? "null" : typeof ids}`);
    if (ids.length === 0) throw InvalidArgumentError.forParam(what, "is empty: at least one token is needed");
    if (ids.length > this.contextLength) {
      throw new ContextOverflowError(`${this.name}: ${ids.length} tokens do not fit the context of ${this.contextLength}`, { overflow: { promptTokens: ids.length, maxTokens: 0, contextLength: this.contextLength } });
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        const problem = `[${i}]: token id ${String(id)} is outside the vocabulary [0, ${this.vocabSize})`;
        throw new InvalidArgumentError(`${this.name}: ${what}${problem}`, { param: what, problem });
      }
    }
  }

  /** Runs `ids` on `slot` now, in chunks of maxBatch, bypassing the scheduler (the synchronous API). */
  evaluateNow(slot: number, ids: readonly number[], scoreFrom: number, onLogits?: (logits: Float32Array, position: number) => void): Float32Array {
    if (this.closed) throw this.closed;
    this.checkIds(ids, "ids");
    const s = this.slots[slot];
    const keep = this.reusable(slot, ids, scoreFrom);
    s.tokens.length = keep;
    const V = this.vocabSize;
    let last: Float32Array | null = null;
    for (let p = keep; p < ids.length; p += this.maxBatch) {
      const end = Math.min(ids.length, p + this.maxBatch);
      const all = onLogits !== undefined && end > scoreFrom;
      const logits = this.pass.forward(ids.slice(p, end), p, all, slot);
      for (let q = p; q < end; q++) s.tokens.push(ids[q]);
      if (all) {
        for (let q = Math.max(p, scoreFrom); q < end; q++) onLogits(logits.subarray((q - p) * V, (q - p + 1) * V), q);
        last = logits.subarray((end - 1 - p) * V, (end - p) * V);
      } else last = logits;
    }
    return last as Float32Array;
  }

  /** Queues `ids` on `slot` (which the caller holds) for the scheduler; resolves with the logits after the last one. */
  submit(slot: number, ids: readonly number[], o: EvaluateOptions = {}): Promise<Float32Array> {
    if (this.closed) return Promise.reject(this.closed);
    try {
      this.checkIds(ids, "ids");
    } catch (e) {
      return Promise.reject(e);
    }
    if (o.signal?.aborted) return Promise.reject(o.signal.reason);
    if (this.queue.some((w) => w.slot === slot)) return Promise.reject(new ConcurrencyError(`${this.name}: a sequence can run one evaluation at a time; await the previous one`));
    const scoreFrom = o.onLogits ? Math.max(0, Math.min(o.scoreFrom ?? ids.length - 1, ids.length - 1)) : ids.length - 1;
    const keep = this.reusable(slot, ids, scoreFrom);
    this.slots[slot].tokens.length = keep;
    return new Promise<Float32Array>((resolve, reject) => {
      this.queue.push({ slot, ids, next: keep, scoreFrom, onLogits: o.onLogits, into: o.into, signal: o.signal, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void nextMacrotask().then(() => this.loop());
  }

  private async loop(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.closed) {
        const t0 = performance.now();
        this.step();
        // Between steps: requests arrive, streams are written, aborts are seen.
        const ms = performance.now() - t0;
        await yieldFor(ms * IO_SHARE, ms * IO_MAX_SHARE, () => this.arriving > 0);
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * One continuous-batching step: the work of sequences with one token left first (decoding), then prompt
   * chunks in arrival order, up to maxBatch tokens; a chunk is cut where the logits a caller wants begin.
   */
  private step(): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const w = this.queue[i];
      if (w.signal?.aborted) {
        this.queue.splice(i, 1);
        w.reject(w.signal.reason);
      }
    }
    if (this.queue.length === 0) return;
    const order = [...this.queue.filter((w) => w.ids.length - w.next === 1), ...this.queue.filter((w) => w.ids.length - w.next !== 1)];
    const segments = this.segments;
    const owners = this.segmentWork;
    segments.length = 0;
    owners.length = 0;
    let used = 0;
    let decodeTokens = 0;
    const sequences = new Set<number>();
    for (const w of order) {
      let room = this.maxBatch - used;
      if (room === 0) break;
      let p = w.next;
      // A chunk of rows without logits up to where scoring starts, then rows with them.
      while (p < w.ids.length && room > 0) {
        const scored = p >= w.scoreFrom;
        const end = Math.min(w.ids.length, p + room, scored ? w.ids.length : w.scoreFrom);
        const count = end - p;
        const wantsAll = scored && w.onLogits !== undefined;
        const logits: BatchSegment["logits"] = wantsAll ? "all" : end === w.ids.length ? "last" : "none";
        for (let q = p; q < end; q++) this.batchIds[used + q - p] = w.ids[q];
        segments.push({ slot: w.slot, pos0: p, count, logits });
        owners.push(w);
        used += count;
        room -= count;
        p = end;
      }
      if (w.ids.length - w.next === 1) decodeTokens++;
      sequences.add(w.slot);
    }
    const t0 = performance.now();
    let logits: Float32Array;
    try {
      logits = this.pass.forwardBatch(this.batchIds.subarray(0, used), segments);
    } catch (e) {
      // The slots of this step hold unknown state now: forget it, and fail their work.
      for (const w of new Set(owners)) {
        this.slots[w.slot].tokens.length = Math.min(this.slots[w.slot].tokens.length, w.next);
        this.queue.splice(this.queue.indexOf(w), 1);
        w.reject(e);
      }
      return;
    }
    const seconds = (performance.now() - t0) / 1000;
    const V = this.vocabSize;
    let row = 0;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i];
      const w = owners[i];
      const tokens = this.slots[w.slot].tokens;
      for (let q = seg.pos0; q < seg.pos0 + seg.count; q++) tokens.push(w.ids[q]);
      w.next = seg.pos0 + seg.count;
      const rows = seg.logits === "all" ? seg.count : seg.logits === "last" ? 1 : 0;
      if (seg.logits === "all" && w.onLogits) {
        for (let r = 0; r < rows; r++) w.onLogits(logits.subarray((row + r) * V, (row + r + 1) * V), seg.pos0 + r);
      }
      if (w.next === w.ids.length) {
        const last = logits.subarray((row + rows - 1) * V, (row + rows) * V);
        const out = w.into ?? new Float32Array(V);
        out.set(last);
        this.queue.splice(this.queue.indexOf(w), 1);
        w.resolve(out);
      }
      row += rows;
    }
    this.onStep?.({ tokens: used, sequences: sequences.size, decodeTokens, seconds });
  }

  /** Fails all queued and waiting work (the model is being disposed). */
  close(reason: Error = new DisposedError(`${this.name}: the model was disposed`)): void {
    this.closed = reason;
    for (const w of this.queue.splice(0)) w.reject(reason);
    for (const w of this.waiters.splice(0)) w.reject(reason);
  }
}

/** A caller's handle on one KV cache slot: evaluations on it are batched with every other sequence's. */
export class Sequence {
  private readonly engine: SequenceEngine;
  private slotIndex = -1;
  private disposed = false;

  private constructor(engine: SequenceEngine) {
    this.engine = engine;
  }

  /** A new sequence on a free slot of `engine` (waiting for one; see SequenceEngine.acquire). */
  static async open(engine: SequenceEngine, hint: readonly number[] = [], signal?: AbortSignal): Promise<Sequence> {
    const seq = new Sequence(engine);
    seq.slotIndex = await engine.acquire(seq, hint, signal);
    return seq;
  }

  /** The KV cache slot this sequence holds. */
  get slot(): number {
    return this.slotIndex;
  }

  /** The tokens this sequence's cache holds. */
  get tokens(): readonly number[] {
    return this.engine.tokensOf(this.slot);
  }

  private check(): void {
    if (this.disposed) throw new DisposedError("the sequence was disposed");
  }

  /**
   * Makes the sequence hold exactly `ids` (the longest prefix it already holds is not recomputed) and
   * resolves with the logits after the last one.
   */
  evaluate(ids: readonly number[], options?: EvaluateOptions): Promise<Float32Array> {
    this.check();
    return this.engine.submit(this.slot, ids, options);
  }

  /** Appends one token and resolves with the next logits (a decode step). */
  step(id: number, options?: Omit<EvaluateOptions, "scoreFrom" | "onLogits">): Promise<Float32Array> {
    this.check();
    const tokens = this.tokens;
    if (tokens.length >= this.engine.contextLength) {
      return Promise.reject(new ContextOverflowError(`the context of ${this.engine.contextLength} tokens is full`, { overflow: { promptTokens: tokens.length, maxTokens: 1, contextLength: this.engine.contextLength } }));
    }
    return this.engine.submit(this.slot, [...tokens, id], options);
  }

  /** Forgets the tokens (the next evaluation starts at position 0). */
  reset(): void {
    this.check();
    this.engine.clear(this.slot);
  }

  /** Gives the slot back (its cache stays, for a later sequence with the same prefix). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.release(this.slot, this);
  }
}

/**
 * The model's synchronous API: a logical sequence that takes a free slot for each call (its last one
 * when still free, so that its cached prefix is reused) and gives it back after. When every slot is held
 * by a sequence, a synchronous call cannot wait: it fails with a ConcurrencyError.
 */
export class SyncSequence {
  private readonly engine: SequenceEngine;
  private slot = 0;
  /** What this logical sequence holds (its slot may have been reused by another sequence since). */
  private tokens: number[] = [];

  constructor(engine: SequenceEngine) {
    this.engine = engine;
  }

  private run<T>(ids: readonly number[], f: (slot: number) => T): T {
    const slot = this.engine.tryAcquire(this, this.slot, ids);
    if (slot === null) {
      throw new ConcurrencyError(
        `all ${this.engine.slotCount} sequences of the model are in use by generations; a synchronous call cannot wait for one (load the model with more parallel sequences, or await the generations)`,
      );
    }
    this.slot = slot;
    try {
      return f(slot);
    } finally {
      this.engine.release(slot, this);
    }
  }

  evaluate(ids: readonly number[], scoreFrom = ids.length - 1, onLogits?: (logits: Float32Array, position: number) => void): Float32Array {
    const logits = this.run(ids, (slot) => this.engine.evaluateNow(slot, ids, scoreFrom, onLogits));
    this.tokens = [...ids];
    return logits;
  }

  step(id: number): Float32Array {
    if (this.tokens.length >= this.engine.contextLength) {
      throw new ContextOverflowError(`the context of ${this.engine.contextLength} tokens is full`, { overflow: { promptTokens: this.tokens.length, maxTokens: 1, contextLength: this.engine.contextLength } });
    }
    return this.evaluate([...this.tokens, id]);
  }

  reset(): void {
    this.tokens = [];
    const slot = this.engine.tryAcquire(this, this.slot, []);
    if (slot !== null) {
      this.engine.clear(slot);
      this.engine.release(slot, this);
    }
  }
}
