// `bitnet train` end to end: a tiny run (--preset tiny --steps 20) on a small corpus in a temp dir writes
// config.json, metrics.jsonl, loss.svg, loss.png, checkpoints/ and model.gguf (read back with the
// independent @huggingface/gguf reader); --resume continues it from its checkpoint and --compare overlays another
// run on the plot; bad flags fail with the flag named; configs/*.json are the presets.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { gguf } from "@huggingface/gguf";
import { loadModel } from "../../src/index.ts";
import { parseMetricsJsonl } from "../../src/train/metrics.ts";
import { assertOneLineError, runCli } from "../cli/run-cli.ts";

const dir = mkdtempSync(join(tmpdir(), "bitnet-train-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = join(dir, "corpus.txt");
writeFileSync(corpus, gunzipSync(readFileSync(new URL("../../data/kjv.txt.gz", import.meta.url))).toString("utf8").slice(0, 40_000));
const out = join(dir, "run");

test("bitnet train --preset tiny --steps 20 writes every output file", async () => {
  const r = await runCli(["train", "--preset", "tiny", "--steps", "20", "--data", corpus, "--out", out, "--eval-every", "10", "--checkpoint-every", "10", "--keep-checkpoints", "1", "--log-every", "5"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /step 5\/20 loss \d/);
  assert.match(r.stdout, /done: 20 steps/);
  assert.deepEqual(readdirSync(out).sort(), ["checkpoints", "config.json", "loss.png", "loss.svg", "metrics.jsonl", "model.gguf"]);
  assert.deepEqual(readdirSync(join(out, "checkpoints")), ["step-00000020.ckpt"]);

  const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
  assert.equal(config.steps, 20);
  assert.equal(config.dim, 64);
  assert.equal(config.data, corpus);
  const metrics = parseMetricsJsonl(readFileSync(join(out, "metrics.jsonl"), "utf8"), "metrics.jsonl");
  assert.deepEqual(metrics.filter((m) => m.type === "train").map((m) => m.step), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(metrics.filter((m) => m.type === "val").map((m) => m.step), [0, 10, 20]);
  assert.ok(readFileSync(join(out, "loss.svg"), "utf8").includes("BitNet b1.58 train"));
  assert.deepEqual([...readFileSync(join(out, "loss.png")).subarray(1, 4)], [0x50, 0x4e, 0x47]);

  const parsed = await gguf(join(out, "model.gguf"), { allowLocalFile: true });
  const metadata = parsed.metadata as Record<string, unknown>;
  const tensorInfos = parsed.tensorInfos;
  assert.equal(metadata["general.architecture"], "bitnet");
  assert.equal(metadata["tokenizer.ggml.model"], "gpt2");
  assert.equal(metadata["tokenizer.ggml.pre"], "gpt-2");
  assert.equal((metadata["tokenizer.ggml.tokens"] as string[]).length, 512);
  assert.equal(tensorInfos.length, 1 + 2 * 11 + 1);
  // A ternary model exports ternary: the tiny preset's 64/192 dims rule out TQ2_0's 256-blocks, not I2_S.
  const linear = tensorInfos.filter((t) => /blk\.\d+\.(attn_[qkv]|attn_output|ffn_(gate|up|down))\.weight/.test(t.name));
  assert.equal(linear.length, 14);
  for (const t of linear) assert.equal(t.dtype as number, 36, `${t.name} is I2_S`);
  const model = await loadModel(join(out, "model.gguf"), { threads: 1 });
  try {
    assert.ok(model.logits(model.tokenize("And God said")).every(Number.isFinite));
  } finally {
    await model.dispose();
  }
});

test("bitnet train into a directory that holds a run, without --resume, refuses and changes nothing", async () => {
  const before = readdirSync(join(out, "checkpoints"));
  const r = await runCli(["train", "--preset", "tiny", "--steps", "2", "--data", corpus, "--out", out]);
  assertOneLineError(r, /already holds a run \(checkpoints, metrics\.jsonl, model\.gguf\); continue it with --resume/);
  assert.deepEqual(readdirSync(join(out, "checkpoints")), before);
});

test("bitnet train --resume continues from the newest checkpoint and keeps the earlier metrics; --compare overlays another run", async () => {
  const before = readFileSync(join(out, "metrics.jsonl"), "utf8");
  const other = join(dir, "fake-fp");
  mkdirSync(other);
  writeFileSync(join(other, "config.json"), JSON.stringify({ weights: "fp", steps: 2 }));
  writeFileSync(join(other, "metrics.jsonl"), '{"type":"val","step":0,"val_loss":6.3}\n{"type":"train","step":1,"loss":6.2,"lr":0,"wd":0,"grad_norm":1,"tokens_per_s":1,"tokens":1,"elapsed_s":1}\n');
  const r = await runCli(["train", "--resume", "--out", out, "--steps", "24", "--log-every", "2", "--compare", other]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /resuming at step 20/);
  const after = readFileSync(join(out, "metrics.jsonl"), "utf8");
  assert.ok(after.startsWith(before), "the first 20 steps' lines are unchanged");
  const metrics = parseMetricsJsonl(after, "metrics.jsonl");
  assert.deepEqual(metrics.filter((m) => m.type === "train").map((m) => m.step).slice(-4), [21, 22, 23, 24]);
  assert.deepEqual(readdirSync(join(out, "checkpoints")), ["step-00000024.ckpt"]);
  const svg = readFileSync(join(out, "loss.svg"), "utf8");
  for (const label of ["BitNet b1.58 (run) train", "BitNet b1.58 (run) val", "FP (fake-fp) train", "FP (fake-fp) val"]) assert.ok(svg.includes(`>${label}<`), label);
});

test("bad flags and configs fail with the culprit named", async () => {
  const a = await runCli(["train", "--preset", "nope"]);
  assert.notEqual(a.code, 0);
  assert.match(a.stderr, /--preset: unknown preset "nope"/);
  const b = await runCli(["train", "--preset", "tiny", "--dim", "6x4"]);
  assert.match(b.stderr, /--dim: "6x4" is not an integer/);
  const cfg = join(dir, "bad.json");
  writeFileSync(cfg, JSON.stringify({ layers: 3 }));
  const c = await runCli(["train", "--config", cfg]);
  assert.match(c.stderr, /bad\.json: unknown key "layers"/);
});

test("configs/*.json are exactly the named presets (one file per preset, nothing else)", async () => {
  const { runPresets, runConfigJson, resolveRunConfig, checkPartialRunConfig } = await import("../../src/train/run-config.ts");
  const files = readdirSync(new URL("../../configs/", import.meta.url)).filter((f) => f.endsWith(".json")).sort();
  assert.deepEqual(files, Object.keys(runPresets).map((n) => `${n}.json`).sort());
  for (const [name, preset] of Object.entries(runPresets)) {
    const text = readFileSync(new URL(`../../configs/${name}.json`, import.meta.url), "utf8");
    assert.equal(text, runConfigJson(preset), `configs/${name}.json`);
    assert.deepEqual(resolveRunConfig(runPresets.tiny, checkPartialRunConfig(JSON.parse(text), name)), preset);
  }
});
