/**
 * Training data: plain text → documents → a deterministic train/validation split → one token stream
 * per side → batches of packed windows, with an exact, resumable cursor.
 *
 * - Documents are the blocks of a text separated by one or more blank lines (a KJV chapter; a file of a
 *   folder may hold many). Lines inside a document keep their "\n"; each document ends with one "\n".
 * - Split: with k = round(1 / valFraction), every k-th document (indices k−1, 2k−1, …) goes to
 *   validation, the rest to training. That spreads validation over the whole corpus. If there are fewer
 *   than 2k documents, single lines are the units instead, by the same rule.
 * - Stream: each document is `bos`, its tokens, `eos`, concatenated in order.
 * - Batches: an epoch draws an offset o ∈ [0, T) and a permutation of the windows [o + jT, o + jT + T]
 *   (T + 1 tokens: inputs are the first T, targets the last T), both from a generator seeded by
 *   (seed, epoch); a batch is the next B windows of that order, running on into the next epoch.
 *   The cursor (epoch, index) is therefore the whole state of the data order.
 * - Validation windows are a fixed, evenly spaced subset of the non-overlapping windows of the
 *   validation stream.
 *
 * No file reading here (src/node/corpus-files.ts does it) and no tokenizer training (bpe-trainer.ts).
 */

import { concatArrays } from "../arrays.ts";
import { createRng } from "./rng.ts";

/** Where the data order stands: the next window is entry `index` of epoch `epoch`'s permutation. */
export interface DataCursor {
  epoch: number;
  index: number;
}

export const START_CURSOR: DataCursor = { epoch: 0, index: 0 };

/** Is this a gzip stream (magic 1f 8b)? */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses gzip with the web-standard DecompressionStream (Node ≥ 18 and browsers). */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Text of a corpus file's bytes: gunzipped when gzip, then UTF-8 (invalid bytes are an error naming `what`). */
export async function corpusText(bytes: Uint8Array, what: string): Promise<string> {
  const raw = isGzip(bytes) ? await gunzip(bytes) : bytes;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw new Error(`${what}: not UTF-8 text`);
  }
}

/** Blank-line separated blocks of each text (CRLF read as LF); each block ends with "\n". */
export function splitDocuments(texts: readonly string[]): string[] {
  const docs: string[] = [];
  for (const text of texts) {
    let lines: string[] = [];
    const flush = (): void => {
      if (lines.length > 0) docs.push(lines.join("\n") + "\n");
      lines = [];
    };
    for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
      if (line.trim() === "") flush();
      else lines.push(line);
    }
    flush();
  }
  return docs;
}

export interface CorpusSplit {
  train: string[];
  validation: string[];
  /** "documents" or "lines": the units the split was made of. */
  unit: "documents" | "lines";
}

/** The deterministic split described in the file comment. valFraction 0 puts everything in train. */
export function splitTrainValidation(docs: readonly string[], valFraction: number): CorpusSplit {
  if (!(valFraction >= 0 && valFraction < 0.5)) throw new Error(`data: valFraction must be in [0, 0.5), got ${valFraction}`);
  if (valFraction === 0) return { train: [...docs], validation: [], unit: "documents" };
  const k = Math.round(1 / valFraction);
  let units: readonly string[] = docs;
  let unit: CorpusSplit["unit"] = "documents";
  if (docs.length < 2 * k) {
    units = docs.flatMap((d) => d.split("\n").filter((l) => l !== "").map((l) => l + "\n"));
    unit = "lines";
  }
  if (units.length < 2 * k) throw new Error(`data: the corpus has only ${units.length} lines; a validation fraction of ${valFraction} needs at least ${2 * k}`);
  const train: string[] = [];
  const validation: string[] = [];
  units.forEach((u, i) => ((i + 1) % k === 0 ? validation : train).push(u));
  return { train, validation, unit };
}

/** One stream: bos, tokens of the document, eos, for each document in order. */
export function tokenStream(docs: readonly string[], encode: (text: string) => readonly number[], bos: number, eos: number): Int32Array {
  const parts: Int32Array[] = [];
  for (const d of docs) {
    const ids = encode(d);
    const part = new Int32Array(ids.length + 2);
    part[0] = bos;
    part.set(ids, 1);
    part[ids.length + 1] = eos;
    parts.push(part);
  }
  return concatArrays(parts, (n) => new Int32Array(n));
}

/** The window order of one epoch: starts of its windows, in the order they are served. */
export interface EpochPlan {
  epoch: number;
  offset: number;
  starts: Int32Array;
}

/** A 32-bit seed for (seed, epoch); the data order uses its own stream, apart from initialization's. */
function epochSeed(seed: number, epoch: number): number {
  let h = (seed ^ 0x5bd1e995) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  h = (h + Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

export function epochPlan(nTokens: number, T: number, seed: number, epoch: number): EpochPlan {
  if (nTokens < 2 * T + 1) throw new Error(`data: the training stream has ${nTokens} tokens, fewer than the ${2 * T + 1} one epoch of length-${T} windows needs`);
  const rng = createRng(epochSeed(seed, epoch));
  const offset = rng.int(T);
  const n = Math.floor((nTokens - offset - 1) / T);
  const starts = new Int32Array(n);
  for (let j = 0; j < n; j++) starts[j] = offset + j * T;
  for (let j = n - 1; j > 0; j--) {
    const r = rng.int(j + 1);
    const t = starts[j];
    starts[j] = starts[r];
    starts[r] = t;
  }
  return { epoch, offset, starts };
}

/**
 * Serves training batches from one token stream. `next` fills B windows of T inputs and T targets
 * (row b·T + t) and advances the cursor; it allocates only when an epoch begins.
 */
export class Batcher {
  readonly tokens: Int32Array;
  readonly T: number;
  readonly seed: number;
  private cursorEpoch: number;
  private cursorIndex: number;
  private plan: EpochPlan;

  constructor(tokens: Int32Array, T: number, seed: number, cursor: DataCursor = START_CURSOR) {
    if (!Number.isInteger(cursor.epoch) || !Number.isInteger(cursor.index) || cursor.epoch < 0 || cursor.index < 0) {
      throw new Error(`data: bad cursor ${JSON.stringify(cursor)}`);
    }
    this.tokens = tokens;
    this.T = T;
    this.seed = seed;
    this.plan = epochPlan(tokens.length, T, seed, cursor.epoch);
    if (cursor.index > this.plan.starts.length) throw new Error(`data: cursor index ${cursor.index} is past epoch ${cursor.epoch}'s ${this.plan.starts.length} windows`);
    this.cursorEpoch = cursor.epoch;
    this.cursorIndex = cursor.index;
  }

  get cursor(): DataCursor {
    return { epoch: this.cursorEpoch, index: this.cursorIndex };
  }

  /** Windows per epoch (it varies by at most one with the epoch's offset). */
  get windowsPerEpoch(): number {
    return this.plan.starts.length;
  }

  next(inputs: Int32Array, targets: Int32Array, B: number): void {
    const T = this.T;
    for (let b = 0; b < B; b++) {
      if (this.cursorIndex >= this.plan.starts.length) {
        this.cursorEpoch++;
        this.cursorIndex = 0;
        this.plan = epochPlan(this.tokens.length, T, this.seed, this.cursorEpoch);
      }
      const s = this.plan.starts[this.cursorIndex++];
      inputs.set(this.tokens.subarray(s, s + T), b * T);
      targets.set(this.tokens.subarray(s + 1, s + T + 1), b * T);
    }
  }
}

/** Starts of at most ⌊maxTokens / T⌋ evenly spaced non-overlapping windows of the validation stream. */
export function validationWindows(nTokens: number, T: number, maxTokens: number): Int32Array {
  const all = nTokens > T ? Math.floor((nTokens - 1) / T) : 0;
  const count = Math.min(all, Math.floor(maxTokens / T));
  const starts = new Int32Array(count);
  for (let i = 0; i < count; i++) starts[i] = Math.floor((i * all) / count) * T;
  return starts;
}
