/**
 * `bitnet bench` on the embedded model: several prompt sizes in one run, one row per backend and head
 * type asked for, llama.cpp beside them or skipped on request, a clean exit on one thread (a 1-thread run
 * once printed its JSON and then exited 13 on an unsettled top-level await), and flags named in errors.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertOneLineError, runCli } from "./run-cli.ts";

interface BenchJson {
  threads: number;
  prompt_sizes: number[];
  engines: { label: string; prefill_tok_s: Record<string, number>; decode_tok_s: number }[];
  llamacpp_skipped: string | null;
  ratios: { label: string; prefill: Record<string, number>; decode: number }[];
}

test("bench: two prompt sizes, two backends, two head types, without llama.cpp, one thread, exit 0", async () => {
  const r = await runCli(["bench", "-t", "1", "-r", "1", "-p", "8,24", "-n", "2", "--kernels", "wasm,ref", "--head-type", "keep,q8_0", "--no-llama-cpp", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as BenchJson;
  assert.deepEqual(j.prompt_sizes, [8, 24]);
  assert.equal(j.threads, 1);
  const want = [/^bitnet-ts \(wasm-[a-z0-9-]+ ×1\)$/, /^bitnet-ts \(wasm-[a-z0-9-]+ ×1, q8_0 head\)$/, /^bitnet-ts \(ref ×1\)$/, /^bitnet-ts \(ref ×1, q8_0 head\)$/];
  assert.equal(j.engines.length, want.length);
  j.engines.forEach((e, i) => assert.match(e.label, want[i]));
  for (const e of j.engines) {
    assert.deepEqual(Object.keys(e.prefill_tok_s), ["8", "24"]);
    for (const v of [...Object.values(e.prefill_tok_s), e.decode_tok_s]) assert.ok(Number.isFinite(v) && v > 0, `${e.label}: ${v}`);
  }
  assert.equal(j.llamacpp_skipped, "--no-llama-cpp");
  assert.deepEqual(j.ratios, []);
});

test("bench: llama.cpp beside ours on the same file, ratios per prompt size", async () => {
  const r = await runCli(["bench", "-t", "1", "-r", "1", "-p", "8", "-n", "2", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as BenchJson;
  assert.equal(j.engines.length, 2);
  assert.match(j.engines[1].label, /^llama\.cpp /);
  assert.equal(j.ratios.length, 1);
  assert.ok(j.ratios[0].prefill["8"] > 0 && j.ratios[0].decode > 0);
});

test("bench: bad flags are named", async () => {
  assertOneLineError(await runCli(["bench", "-p", "128,x"]), "--prompt");
  assertOneLineError(await runCli(["bench", "-p", ","]), "--prompt");
  assertOneLineError(await runCli(["bench", "--kernels", "gpu"]), "--kernels");
  assertOneLineError(await runCli(["bench", "--head-type", "q4_0"]), "--head-type");
});
