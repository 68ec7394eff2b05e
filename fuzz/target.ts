/**
 * One fuzz case, as a worker runs it: the bytes go through the reader of their format and, for GGUF,
 * through `loadModelFrom` and one `logits` call; a checkpoint is also read as one. The outcome is
 * "accepted", "clean" (an error we meant to throw: one line that names the file) or "crash" (a TypeError
 * or RangeError from deep inside, a message without the file name or on several lines, a read outside
 * the file, more metadata than bytes, logits of the wrong length or not finite). Hangs and memory
 * blowups are judged from outside, by the harness.
 */
import { loadModelFrom } from "../src/core.ts";
import { readGGUF, type GGUFValue } from "../src/formats/gguf/reader.ts";
import { readSafetensors } from "../src/formats/safetensors/reader.ts";
import { bufferSource, type ByteSource } from "../src/formats/source.ts";
import { refKernels } from "../src/kernels/ref.ts";
import { readCheckpoint } from "../src/train/checkpoint.ts";

export type Outcome = "accepted" | "clean" | "crash";
export type Stage = "read" | "load" | "logits" | "checkpoint";

export interface CaseInput {
  kind: "gguf" | "safetensors";
  checkpoint: boolean;
  bytes: Uint8Array;
}

export interface CaseResult {
  outcome: Outcome;
  stage: Stage;
  /** For errors: the class name, the message, and the first stack frame in our sources. */
  error?: { name: string; message: string; frame: string };
}

/** The file name every case uses, so that "names the file" is a plain substring test. */
export const caseFileName = (kind: CaseInput["kind"]) => (kind === "gguf" ? "fuzz-case.gguf" : "fuzz-case.safetensors");

/** A defect found by a check in this file rather than thrown by the code under test. */
class Defect extends Error {
  override name = "Defect";
}

/** The bytes as a source that refuses any read outside the file: the readers must check sizes themselves. */
function guarded(bytes: Uint8Array, name: string): ByteSource {
  const inner = bufferSource(bytes, name);
  return {
    name,
    size: inner.size,
    read(offset, length) {
      if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= bytes.length)) {
        return Promise.reject(new Defect(`read of ${length} bytes at offset ${offset} outside the ${bytes.length}-byte file`));
      }
      return inner.read(offset, length);
    },
    close: () => inner.close(),
  };
}

function countValues(v: GGUFValue): number {
  return Array.isArray(v) ? 1 + v.reduce((n: number, x) => n + countValues(x), 0) : 1;
}

const INTERNAL = new Set(["TypeError", "RangeError", "SyntaxError", "ReferenceError", "AssertionError", "Defect", "EvalError", "URIError"]);

export function classify(err: unknown, file: string, stage: Stage): CaseResult {
  if (!(err instanceof Error)) return { outcome: "crash", stage, error: { name: typeof err, message: String(err).slice(0, 500), frame: "" } };
  const frame = (err.stack ?? "").split("\n").find((l) => l.includes("/src/"))?.trim().replace(/^at .*?\(?(\/.*?\/src\/)/, "src/").replace(/\)$/, "") ?? "";
  const error = { name: err.name, message: err.message.slice(0, 2000), frame };
  const clean = !INTERNAL.has(err.name) && !err.message.includes("\n") && err.message.includes(file) && err.message.length <= 1000;
  return { outcome: clean ? "clean" : "crash", stage, error };
}

export async function runCase(input: CaseInput, onStage: (s: Stage) => void = () => undefined): Promise<CaseResult> {
  const file = caseFileName(input.kind);
  let stage: Stage = "read";
  const enter = (s: Stage) => {
    stage = s;
    onStage(s);
  };
  try {
    enter("read");
    if (input.kind === "gguf") {
      const gguf = await readGGUF(guarded(input.bytes, file));
      const values = Object.values(gguf.metadata).reduce((n: number, v) => n + countValues(v), 0);
      if (values > input.bytes.length) throw new Defect(`${values} metadata values from ${input.bytes.length} bytes`);
      for (const t of gguf.tensors) {
        const b = await gguf.readTensor(t);
        if (b.byteLength !== t.byteSize) throw new Defect(`tensor read gave ${b.byteLength} bytes, expected ${t.byteSize}`);
      }
      enter("load");
      const model = await loadModelFrom(guarded(input.bytes, file), { kernels: refKernels, contextLength: 32 });
      try {
        enter("logits");
        const V = model.config.vocabSize;
        const logits = model.logits([1 % V, 2 % V, 3 % V]);
        if (logits.length !== V) throw new Defect(`logits has ${logits.length} values for a vocabulary of ${V}`);
        const bad = logits.findIndex((x) => !Number.isFinite(x));
        if (bad >= 0) throw new Defect(`logits[${bad}] is ${logits[bad]}, returned without an error`);
      } finally {
        await model.dispose();
      }
    } else {
      const st = await readSafetensors(guarded(input.bytes, file));
      for (const t of st.tensors) {
        if (!t.supported) continue;
        const b = await st.readTensor(t);
        if (b.byteLength !== t.byteSize) throw new Defect(`tensor read gave ${b.byteLength} bytes, expected ${t.byteSize}`);
      }
      if (input.checkpoint) {
        enter("checkpoint");
        await readCheckpoint(guarded(input.bytes, file));
      }
    }
    return { outcome: "accepted", stage };
  } catch (err) {
    return classify(err, file, stage);
  }
}
