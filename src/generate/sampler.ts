/**
 * Turns one row of logits into the next token id, the way llama.cpp's default sampler
 * chain does (common/sampling.cpp with common_params_sampling defaults):
 *
 *   1. penalties   over the last `penaltyLastN` tokens of `history`: a token seen c > 0 times
 *                  gets logit / repeatPenalty if the logit is positive, logit * repeatPenalty
 *                  otherwise, then logit -= c * frequencyPenalty + presencePenalty.
 *   2. top-k       keep the k highest logits (k = 0 disables).
 *   3. top-p       softmax over what is left; keep the smallest prefix, by descending logit,
 *                  whose probabilities sum to at least p (p = 1 disables).
 *   4. min-p       keep tokens whose probability is at least minP times the top one,
 *                  i.e. logit >= maxLogit + ln(minP) (minP = 0 disables).
 *   5. temperature divide the surviving logits by T (T = 0 means greedy: the argmax, ties to
 *                  the lowest id, after penalties; the filters never remove the argmax).
 *   6. draw        from the softmax of the survivors with the seeded Rng (one draw per call).
 *
 * Filters 2–4 see logits before temperature, as in llama.cpp. Penalty arithmetic is rounded to
 * float32 step by step, as llama.cpp's C code does, so penalized logits match it bit for bit.
 * Ties at a top-k boundary keep the lower id (llama.cpp leaves that order unspecified).
 *
 * Everything is preallocated per vocabulary: a call copies the logits into scratch and allocates
 * nothing. Candidates are never fully sorted: top-k keeps a k-sized min-heap in one pass
 * (O(V log k)), and top-p / min-p without top-k pop a max-heap lazily (O(V + m log V) for the
 * m tokens they look at). This is not a grammar/DRY/mirostat sampler, and it does not
 * decide what `history` contains (the caller passes prompt + generated tokens).
 */
import { InvalidArgumentError } from "../errors.ts";
import { Rng } from "./rng.ts";

export interface SamplingOptions {
  /** Softmax temperature; 0 = greedy (argmax, ties -> lowest id). Default 0.8. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 disables. Default 40. */
  topK?: number;
  /** Nucleus threshold in (0, 1]; 1 disables. Default 0.95. */
  topP?: number;
  /** Minimum probability relative to the top token, in [0, 1]; 0 disables. Default 0.05. */
  minP?: number;
  /** Divides positive / multiplies negative logits of recent tokens; 1 disables. Default 1. */
  repeatPenalty?: number;
  /** Subtracted once from the logit of every recent token. Default 0. */
  presencePenalty?: number;
  /** Subtracted per occurrence from the logit of every recent token. Default 0. */
  frequencyPenalty?: number;
  /** How many trailing history tokens the penalties look at; 0 disables, -1 = all. Default 64. */
  penaltyLastN?: number;
  /** Seed for the draw, an integer in [0, 2^32). Default: a random seed. */
  seed?: number;
}

/** llama.cpp's common_params_sampling defaults. */
export const DEFAULT_SAMPLING = {
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1.0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  penaltyLastN: 64,
} as const;

export type ResolvedSamplingOptions = { [K in keyof SamplingOptions]-?: number };

/** The surviving candidates and their probabilities (in the order the draw walks them). */
export interface TokenDistribution {
  ids: Int32Array;
  probs: Float64Array;
}

// Callers pass wider option objects (generation settings ride along), so unknown keys are
// ignored; only the llama.cpp / OpenAI spellings of our own options are caught as likely mistakes.
const MISSPELLINGS: Readonly<Record<string, keyof SamplingOptions>> = {
  temp: "temperature",
  top_k: "topK",
  top_p: "topP",
  min_p: "minP",
  repeat_penalty: "repeatPenalty",
  presence_penalty: "presencePenalty",
  frequency_penalty: "frequencyPenalty",
  repeat_last_n: "penaltyLastN",
  penalty_last_n: "penaltyLastN",
};

function randomSeed(): number {
  const word = new Uint32Array(1);
  globalThis.crypto.getRandomValues(word);
  return word[0];
}

/** Fills in llama.cpp's defaults and rejects bad values with an error naming the option. Other keys are ignored. */
export function resolveSamplingOptions(options: SamplingOptions = {}): ResolvedSamplingOptions {
  for (const key of Object.keys(options)) {
    const meant = Object.hasOwn(MISSPELLINGS, key) ? MISSPELLINGS[key] : undefined;
    if (meant !== undefined) throw new InvalidArgumentError(`unknown option '${key}', did you mean '${meant}'?`, { param: key, problem: `is not an option, did you mean '${meant}'?` });
  }
  const pick = (name: keyof typeof DEFAULT_SAMPLING): number => {
    const value = options[name] ?? DEFAULT_SAMPLING[name];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw InvalidArgumentError.forParam(name, `must be a finite number, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
    }
    return value;
  };
  const resolved: ResolvedSamplingOptions = {
    temperature: pick("temperature"),
    topK: pick("topK"),
    topP: pick("topP"),
    minP: pick("minP"),
    repeatPenalty: pick("repeatPenalty"),
    presencePenalty: pick("presencePenalty"),
    frequencyPenalty: pick("frequencyPenalty"),
    penaltyLastN: pick("penaltyLastN"),
    seed: options.seed ?? randomSeed(),
  };
  const fail = (name: string, rule: string): never => {
    throw InvalidArgumentError.forParam(name, `${rule}, got ${String(resolved[name as keyof ResolvedSamplingOptions])}`);
  };
  if (resolved.temperature < 0) fail("temperature", "must be >= 0 (0 = greedy)");
  if (!Number.isInteger(resolved.topK) || resolved.topK < 0) fail("topK", "must be an integer >= 0 (0 = disabled)");
  if (!(resolved.topP > 0 && resolved.topP <= 1)) fail("topP", "must be in (0, 1] (1 = disabled)");
  if (!(resolved.minP >= 0 && resolved.minP <= 1)) fail("minP", "must be in [0, 1] (0 = disabled)");
  if (!(resolved.repeatPenalty > 0)) fail("repeatPenalty", "must be > 0 (1 = disabled)");
  if (!Number.isInteger(resolved.penaltyLastN) || resolved.penaltyLastN < -1) {
    fail("penaltyLastN", "must be an integer >= -1 (0 = disabled, -1 = whole history)");
  }
  if (!Number.isInteger(resolved.seed) || resolved.seed < 0 || resolved.seed > 0xffffffff) {
    fail("seed", "must be an integer in [0, 2^32)");
  }
  return resolved;
}

const f32 = Math.fround;

/** Index of the largest value; the lowest index wins a tie, as in llama.cpp's greedy sampler. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export class Sampler {
  readonly vocabSize: number;
  readonly options: Readonly<ResolvedSamplingOptions>;
  private rng: Rng;
  /** Whether top-k, top-p or min-p can remove anything; if not, the heap is skipped entirely. */
  private readonly filtersActive: boolean;

  // Scratch, allocated once. V = vocabSize.
  private readonly work: Float32Array; // [V] logits after penalties
  private readonly counts: Int32Array; // [V] occurrences in the penalty window; all zero between calls
  private readonly heap: Int32Array; // [V] token ids: a k-sized min-heap (top-k) or a max-heap (top-p / min-p)
  private heapSize = 0;
  private readonly sorted: Int32Array; // [V] ids popped from the heap, best first
  private sortedCount = 0;
  private readonly weights: Float64Array; // [V] exp(scaled logit - max) of each candidate

  constructor(vocabSize: number, options?: SamplingOptions) {
    if (!Number.isInteger(vocabSize) || vocabSize <= 0) {
      throw new Error(`Sampler: vocabSize must be a positive integer, got ${vocabSize}`);
    }
    this.vocabSize = vocabSize;
    this.options = Object.freeze(resolveSamplingOptions(options));
    this.rng = new Rng(this.options.seed);
    const { topK, topP, minP } = this.options;
    this.filtersActive = (topK > 0 && topK < vocabSize) || topP < 1 || minP > 0;
    this.work = new Float32Array(vocabSize);
    this.counts = new Int32Array(vocabSize);
    this.heap = new Int32Array(vocabSize);
    this.sorted = new Int32Array(vocabSize);
    this.weights = new Float64Array(vocabSize);
  }

  /** Restarts the random sequence, so the same calls give the same tokens again. */
  reseed(seed: number): void {
    this.rng = new Rng(seed);
  }

  /** Picks the next token. `history` is every token so far (prompt + generated). */
  sample(logits: Float32Array, history: ArrayLike<number>): number {
    this.applyPenalties(logits, history);
    if (this.options.temperature === 0) return this.argmax();
    const u = this.rng.next(); // drawn even for one candidate, so the stream stays aligned
    const n = this.selectCandidates();
    const total = this.weigh(n);
    if (!(total > 0) || !Number.isFinite(total)) return this.argmax();
    const target = u * total;
    let cum = 0;
    for (let i = 0; i < n; i++) {
      cum += this.weights[i];
      if (cum > target) return this.candidateId(i);
    }
    // Rounding left the target just above the running sum: take the last candidate with weight.
    for (let i = n - 1; i >= 0; i--) if (this.weights[i] > 0) return this.candidateId(i);
    return this.argmax();
  }

  /**
   * The distribution `sample` would draw from (after penalties, filters and temperature), for
   * logprobs and tests. Allocates its result; not for the hot loop. Does not advance the Rng.
   */
  distribution(logits: Float32Array, history: ArrayLike<number>): TokenDistribution {
    this.applyPenalties(logits, history);
    if (this.options.temperature === 0) {
      return { ids: Int32Array.of(this.argmax()), probs: Float64Array.of(1) };
    }
    const n = this.selectCandidates();
    const total = this.weigh(n);
    if (!(total > 0) || !Number.isFinite(total)) {
      return { ids: Int32Array.of(this.argmax()), probs: Float64Array.of(1) };
    }
    const ids = new Int32Array(n);
    const probs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = this.candidateId(i);
      probs[i] = this.weights[i] / total;
    }
    return { ids, probs };
  }

  /**
   * The logits after penalties, as `sample` sees them. Returns the sampler's own scratch buffer:
   * read it before the next call and do not write to it.
   */
  penalizedLogits(logits: Float32Array, history: ArrayLike<number>): Float32Array {
    this.applyPenalties(logits, history);
    return this.work;
  }

  /** Copies logits into `work` and applies repeat/frequency/presence penalties in float32. */
  private applyPenalties(logits: Float32Array, history: ArrayLike<number>): void {
    const V = this.vocabSize;
    if (logits.length !== V) {
      throw new Error(`Sampler: logits has ${logits.length} entries, expected vocabSize ${V}`);
    }
    const work = this.work;
    work.set(logits);
    for (let i = 0; i < V; i++) {
      const x = work[i];
      if (x !== x || x === Infinity) throw new Error(`Sampler: logits[${i}] is ${x}`);
    }

    const { repeatPenalty, frequencyPenalty, presencePenalty, penaltyLastN } = this.options;
    if (penaltyLastN === 0 || (repeatPenalty === 1 && frequencyPenalty === 0 && presencePenalty === 0)) return;
    const start = penaltyLastN < 0 ? 0 : Math.max(0, history.length - penaltyLastN);
    const counts = this.counts;
    for (let i = start; i < history.length; i++) {
      const t = history[i];
      if (!Number.isInteger(t) || t < 0 || t >= V) {
        this.clearCounts(history, start, i);
        throw new Error(`Sampler: history[${i}] = ${t} is not a token id in [0, ${V})`);
      }
      counts[t]++;
    }
    const rp = f32(repeatPenalty);
    const fp = f32(frequencyPenalty);
    const pp = f32(presencePenalty);
    for (let i = start; i < history.length; i++) {
      const t = history[i];
      const c = counts[t];
      if (c === 0) continue; // already penalized
      counts[t] = 0;
      let x = work[t];
      x = x <= 0 ? f32(x * rp) : f32(x / rp);
      work[t] = f32(x - f32(f32(c * fp) + pp));
    }
  }

  private clearCounts(history: ArrayLike<number>, from: number, to: number): void {
    for (let i = from; i < to; i++) this.counts[history[i]] = 0;
  }

  /** Highest penalized logit, ties to the lowest id. */
  private argmax(): number {
    const work = this.work;
    const best = argmax(work);
    if (work[best] === -Infinity) throw new Error("Sampler: every logit is -Infinity, nothing can be sampled");
    return best;
  }

  /** Index i of the candidate list: `sorted[i]` when a filter ran, else the identity over the vocabulary. */
  private candidateId(i: number): number {
    return this.filtersActive ? this.sorted[i] : i;
  }

  /**
   * Runs top-k, top-p and min-p. Returns the candidate count n; when a filter is active the
   * candidates are sorted[0..n) best first, otherwise all ids 0..V-1 in id order.
   */
  private selectCandidates(): number {
    const V = this.vocabSize;
    if (!this.filtersActive) return V;
    const { topK, topP, minP } = this.options;
    const work = this.work;
    const topKActive = topK > 0 && topK < V;
    let limit = topKActive ? topK : V;
    if (topKActive) this.selectTopK(topK);
    else this.buildHeap();

    if (topP < 1) {
      this.ensureSorted(0);
      const max = work[this.sorted[0]];
      let sum = 0;
      if (topKActive) {
        for (let i = 0; i < limit; i++) sum += Math.exp(work[this.sorted[i]] - max);
      } else {
        for (let t = 0; t < V; t++) sum += Math.exp(work[t] - max);
      }
      let cum = 0;
      let i = 0;
      for (; ; i++) {
        this.ensureSorted(i);
        cum += Math.exp(work[this.sorted[i]] - max) / sum;
        if (cum >= topP || i + 1 >= limit) break;
      }
      limit = i + 1;
    }

    if (minP > 0) {
      this.ensureSorted(0);
      const threshold = f32(work[this.sorted[0]] + f32(Math.log(f32(minP))));
      let i = 1;
      while (i < limit && this.ensureSorted(i) && work[this.sorted[i]] >= threshold) i++;
      limit = i;
    }
    // Every path above materialized sorted[0..limit).
    return limit;
  }

  /** weights[i] = exp(logit_i / T - max / T) for the n candidates; returns their sum. */
  private weigh(n: number): number {
    const work = this.work;
    const temperature = f32(this.options.temperature);
    const useIds = this.filtersActive;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = f32(work[useIds ? this.sorted[i] : i] / temperature);
      this.weights[i] = x;
      if (x > max) max = x;
    }
    if (!Number.isFinite(max)) return NaN;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = Math.exp(this.weights[i] - max);
      this.weights[i] = w;
      total += w;
    }
    return total;
  }

  // ---- heaps over token ids, keyed by (logit desc, id asc) ----

  /**
   * Top-k by partial selection: one pass keeps the k best in a min-heap (most tokens cost one
   * comparison with its root), then the k are heap-sorted into sorted[0..k).
   */
  private selectTopK(k: number): void {
    const heap = this.heap;
    let size = 0;
    for (let t = 0; t < this.vocabSize; t++) {
      if (size < k) {
        let i = size++;
        while (i > 0) {
          const parent = (i - 1) >> 1;
          if (!this.above(heap[parent], t)) break;
          heap[i] = heap[parent];
          i = parent;
        }
        heap[i] = t;
      } else if (this.above(t, heap[0])) {
        heap[0] = t;
        this.siftDown(0, k, true);
      }
    }
    for (let n = k; n > 0; n--) {
      this.sorted[n - 1] = heap[0];
      heap[0] = heap[n - 1];
      this.siftDown(0, n - 1, true);
    }
    this.sortedCount = k;
    this.heapSize = 0;
  }

  private above(a: number, b: number): boolean {
    const wa = this.work[a];
    const wb = this.work[b];
    return wa > wb || (wa === wb && a < b);
  }

  private buildHeap(): void {
    const n = this.vocabSize;
    for (let i = 0; i < n; i++) this.heap[i] = i;
    this.heapSize = n;
    this.sortedCount = 0;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i, n, false);
  }

  /**
   * Sift-down over heap[0..n): a max-heap (the root is the token ranked highest), or with `min` a
   * min-heap (the root is the one ranked lowest).
   */
  private siftDown(start: number, n: number, min: boolean): void {
    const heap = this.heap;
    let i = start;
    const item = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(heap[child + 1], heap[child], min)) child++;
      if (!this.before(heap[child], item, min)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = item;
  }

  /** Whether a belongs nearer the root than b: ranked above it in a max-heap, below it in a min-heap. */
  private before(a: number, b: number, min: boolean): boolean {
    return min ? this.above(b, a) : this.above(a, b);
  }

  /** Pops from the heap until sorted[index] exists; false if the vocabulary ran out. */
  private ensureSorted(index: number): boolean {
    while (this.sortedCount <= index) {
      if (this.heapSize === 0) return false;
      const top = this.heap[0];
      this.heapSize--;
      if (this.heapSize > 0) {
        this.heap[0] = this.heap[this.heapSize];
        this.siftDown(0, this.heapSize, false);
      }
      this.sorted[this.sortedCount++] = top;
    }
    return true;
  }
}
