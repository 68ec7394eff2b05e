/**
 * Training checkpoints: everything a run needs to continue exactly where it stopped, as one safetensors
 * file (so any safetensors reader can open it). Three F32 tensors hold the flat parameter array and
 * AdamW's two moments (layouts as in params.ts); `__metadata__` holds "format" = "bitnet-ts.checkpoint",
 * "version" and "state", a JSON object with the run config, the tokenizer, the step, the data cursor,
 * AdamW's step count, the elapsed time and the metrics so far.
 *
 * Resuming from it reproduces the losses of an uninterrupted run bit for bit: the data order is a pure
 * function of (seed, cursor) (data.ts), and parameters and moments are stored exactly.
 * Files on disk (atomic writes, keeping the last N) are src/node/checkpoint-store.ts's job.
 */

import { InvalidFileError } from "../errors.ts";
import { describeValue, printable } from "../formats/describe.ts";
import type { ByteSink } from "../formats/sink.ts";
import type { ByteSource } from "../formats/source.ts";
import { memorySink } from "../formats/sink.ts";
import { bufferSource } from "../formats/source.ts";
import { readSafetensors } from "../formats/safetensors/reader.ts";
import { writeSafetensors } from "../formats/safetensors/writer.ts";
import { checkBpeVocabulary, type BpeVocabulary } from "./bpe-trainer.ts";
import type { DataCursor } from "./data.ts";
import type { MetricRecord } from "./metrics.ts";
import { countParams } from "./params.ts";
import { modelConfigOf, resolveRunConfig, type RunConfig } from "./run-config.ts";

export const CHECKPOINT_FORMAT = "bitnet-ts.checkpoint";
export const CHECKPOINT_VERSION = 1;

export interface CheckpointState {
  config: RunConfig;
  tokenizer: BpeVocabulary;
  /** Optimizer steps done. */
  step: number;
  cursor: DataCursor;
  /** AdamW's update count (its bias correction step). */
  adamStep: number;
  /** Wall-clock seconds of training so far. */
  elapsedSeconds: number;
  metrics: MetricRecord[];
  params: Float32Array;
  adamM: Float32Array;
  adamV: Float32Array;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function f32Bytes(a: Float32Array): Uint8Array {
  if (!littleEndian) throw new Error("checkpoint: big-endian platforms are not supported");
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Streams the checkpoint into `sink` (committed on success, aborted on error). */
export async function writeCheckpoint(sink: ByteSink, s: CheckpointState): Promise<void> {
  const n = s.params.length;
  if (s.adamM.length !== n || s.adamV.length !== n) {
    await sink.abort().catch(() => undefined);
    throw new Error(`checkpoint: params (${n}) and AdamW moments (${s.adamM.length}, ${s.adamV.length}) differ in length`);
  }
  const { config, tokenizer, step, cursor, adamStep, elapsedSeconds, metrics } = s;
  const state = JSON.stringify({ config, tokenizer, step, cursor, adamStep, elapsedSeconds, metrics });
  const arrays = [s.params, s.adamM, s.adamV];
  await writeSafetensors(
    sink,
    [{ name: "params", dtype: "F32", shape: [n] }, { name: "adamw.m", dtype: "F32", shape: [n] }, { name: "adamw.v", dtype: "F32", shape: [n] }],
    (i) => f32Bytes(arrays[i]),
    { metadata: { format: CHECKPOINT_FORMAT, version: String(CHECKPOINT_VERSION), state } },
  );
}

/** A check of the file's own contents failed: the file is at fault, so the error says so (InvalidFileError), naming it once. */
function asFileError(err: unknown, what: string, field: string): Error {
  if (err instanceof InvalidFileError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // The config checks speak of a "train config"; here the config is the file's.
  return new InvalidFileError(message.startsWith(`${what}: `) ? message : `${what}: ${field}: ${printable(message, 300)}`, { cause: err });
}

/** The checkpoint as bytes. */
export async function encodeCheckpoint(s: CheckpointState): Promise<Uint8Array> {
  const sink = memorySink();
  await writeCheckpoint(sink, s);
  return sink.bytes();
}

function intField(o: Record<string, unknown>, key: string, what: string): number {
  const v = o[key];
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new InvalidFileError(`${what}: state.${key} is not a non-negative integer`);
  return v as number;
}

/** Reads and checks a checkpoint; every error names `source.name` and the field at fault. */
export async function readCheckpoint(source: ByteSource): Promise<CheckpointState> {
  const what = source.name;
  const file = await readSafetensors(source);
  if (file.metadata.format !== CHECKPOINT_FORMAT) throw new InvalidFileError(`${what}: not a bitnet-ts checkpoint (__metadata__.format is ${describeValue(file.metadata.format)})`);
  if (file.metadata.version !== String(CHECKPOINT_VERSION)) throw new InvalidFileError(`${what}: checkpoint version ${describeValue(file.metadata.version)} is not supported (expected ${CHECKPOINT_VERSION})`);
  let raw: unknown;
  try {
    raw = JSON.parse(file.metadata.state ?? "");
  } catch {
    throw new InvalidFileError(`${what}: __metadata__.state is not JSON`);
  }
  if (raw === null || typeof raw !== "object") throw new InvalidFileError(`${what}: __metadata__.state is not an object`);
  const o = raw as Record<string, unknown>;
  let config: RunConfig;
  try {
    config = resolveRunConfig(o.config as RunConfig, {}, `${what}: state.config`);
  } catch (err) {
    throw asFileError(err, what, "state.config");
  }
  let tokenizer: BpeVocabulary;
  try {
    tokenizer = checkBpeVocabulary(o.tokenizer, `${what}: state`);
  } catch (err) {
    throw asFileError(err, what, "state.tokenizer");
  }
  const cursorRaw = (o.cursor ?? {}) as Record<string, unknown>;
  const cursor = { epoch: intField(cursorRaw, "epoch", `${what}: cursor`), index: intField(cursorRaw, "index", `${what}: cursor`) };
  if (!Array.isArray(o.metrics)) throw new InvalidFileError(`${what}: state.metrics is not an array`);
  const elapsedSeconds = o.elapsedSeconds;
  if (typeof elapsedSeconds !== "number" || !(elapsedSeconds >= 0)) throw new InvalidFileError(`${what}: state.elapsedSeconds is not a number ≥ 0`);

  const n = countParams(modelConfigOf(config));
  const tensor = async (name: string): Promise<Float32Array> => {
    const t = file.tensor(name);
    if (t === undefined) throw new InvalidFileError(`${what}: tensor '${name}' is missing`);
    if (t.dtype !== "F32" || t.shape.length !== 1 || t.shape[0] !== n) {
      throw new InvalidFileError(`${what}: tensor '${name}' is ${t.dtype} [${t.shape.join(", ")}], the config needs F32 [${n}]`);
    }
    const bytes = await file.readTensor(t);
    if (!littleEndian) throw new Error("checkpoint: big-endian platforms are not supported");
    return new Float32Array(bytes.slice().buffer); // slice: an aligned private copy
  };
  return {
    config, tokenizer, cursor,
    step: intField(o, "step", what),
    adamStep: intField(o, "adamStep", what),
    elapsedSeconds,
    metrics: o.metrics as MetricRecord[],
    params: await tensor("params"),
    adamM: await tensor("adamw.m"),
    adamV: await tensor("adamw.v"),
  };
}

export function decodeCheckpoint(bytes: Uint8Array, name = "<checkpoint>"): Promise<CheckpointState> {
  return readCheckpoint(bufferSource(bytes, name));
}
