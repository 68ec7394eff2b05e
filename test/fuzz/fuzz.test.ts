/**
 * The fuzzing harness (fuzz/), bounded: a few hundred structure-aware mutations of GGUF and safetensors
 * files with a fixed seed, each through the readers and, for GGUF, loadModelFrom and one logits call, in a
 * worker under a time and a memory limit. Every case must be accepted or refused with one line naming the
 * file: no crash, no hang, no blowup. `npm run fuzz -- --cases N --seed S` runs as many as you like.
 * (This replaces the earlier reader-only fuzz of test/formats: its truncations, byte flips, bounds-checked
 * reads and metadata-size check are all part of the harness.)
 */
import { it } from "node:test";
import assert from "node:assert/strict";
import { runFuzz } from "../../fuzz/harness.ts";

it("300 fuzz cases (seed 20240607): no crash, hang or blowup", { timeout: 240_000 }, async (t) => {
  const report = await runFuzz({ cases: 300, seed: 20240607, timeLimitMs: 30_000, shrink: false });
  t.diagnostic(`${JSON.stringify(report.counts)} in ${report.seconds.toFixed(1)} s; clean errors by class ${JSON.stringify(report.cleanByClass)}`);
  const failures = report.failures.map((f) => `${f.verdict} (case ${f.caseIndex}, ${f.seedFile}, ${f.mutations.join("+")}): ${f.message}`);
  assert.deepEqual(failures, []);
  assert.equal(report.counts.crash + report.counts.hang + report.counts.blowup, 0);
  assert.equal(report.counts.accepted + report.counts.clean, 300);
  // Both outcomes are well represented, so the cases reach past the first check of each reader.
  assert.ok(report.counts.accepted > 20 && report.counts.clean > 100, JSON.stringify(report.counts));
});

it("the harness tells clean errors from crashes", async () => {
  const { classify } = await import("../../fuzz/target.ts");
  const { InvalidFileError } = await import("../../src/errors.ts");
  const file = "fuzz-case.gguf";
  assert.equal(classify(new InvalidFileError(`${file}: tensor 'x' is missing`), file, "load").outcome, "clean");
  assert.equal(classify(new Error(`${file}: truncated`), file, "read").outcome, "clean");
  assert.equal(classify(new TypeError(`${file}: x is undefined`), file, "read").outcome, "crash", "a TypeError from deep inside");
  assert.equal(classify(new RangeError("Maximum call stack size exceeded"), file, "read").outcome, "crash");
  assert.equal(classify(new InvalidFileError("tensor 'x' is missing"), file, "load").outcome, "crash", "no file name");
  assert.equal(classify(new Error(`${file}: key 'a\nb'`), file, "read").outcome, "crash", "two lines");
  assert.equal(classify("a string", file, "read").outcome, "crash", "not an Error");
});
