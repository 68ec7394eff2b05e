/**
 * The CLI on Hugging Face checkpoints and Hub names: `info` on a directory and on a safetensors file, `convert DIR`,
 * `-m DIR`, and `pull` / `models` / `rm` against a local mock Hub, each error one line.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { HF_FIXTURES } from "../helpers/hf-fixtures.ts";
import { startMockHub, type MockHub } from "../helpers/mock-hub.ts";
import { assertOneLineError, runCli } from "./run-cli.ts";

const tmp = mkdtempSync(join(tmpdir(), "bitnet-cli-hf-"));
let hub: MockHub;

before(async () => {
  const files: Record<string, Uint8Array> = {};
  for (const f of readdirSync(`${HF_FIXTURES}bitnet-2b4t`)) files[f] = new Uint8Array(readFileSync(`${HF_FIXTURES}bitnet-2b4t/${f}`));
  hub = await startMockHub({ "test/tiny-bitnet": { files } });
  // The CLI child processes inherit these.
  process.env.HF_ENDPOINT = hub.url;
  process.env.BITNET_CACHE = join(tmp, "cache");
});
after(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});

test("info reads a checkpoint directory and a safetensors file", async () => {
  const dir = `${HF_FIXTURES}llama3-1.58-sharded`;
  const r = await runCli(["info", dir, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.format, "hf-checkpoint");
  assert.equal(info.architecture, "llama");
  assert.deepEqual(info.shards, ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
  assert.equal(info.linear_bits_per_weight > 2 && info.linear_bits_per_weight < 2.1, true);
  const text = await runCli(["info", dir]);
  assert.match(text.stdout, /Hugging Face checkpoint: model-00001-of-00002\.safetensors, model-00002-of-00002\.safetensors/);
  const st = await runCli(["info", `${dir}/model-00002-of-00002.safetensors`, "--json"]);
  assert.equal(st.code, 0, st.stderr);
  const sti = JSON.parse(st.stdout);
  assert.equal(sti.format, "safetensors");
  assert.ok(sti.tensors.some((t: { name: string; dtype: string }) => t.name === "model.norm.weight" && t.dtype === "BF16"));
});

test("info names the file and the key when a checkpoint is broken", async () => {
  const dir = join(tmp, "broken");
  cpSync(`${HF_FIXTURES}bitnet-2b4t`, dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  cfg.quantization_config.quant_method = "awq";
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  assertOneLineError(await runCli(["info", dir]), /broken\/config\.json: quantization_config\.quant_method "awq" is not supported/);
  writeFileSync(join(dir, "model.safetensors"), new Uint8Array(3));
  assertOneLineError(await runCli(["info", join(dir, "model.safetensors")]), /model\.safetensors: truncated/);
});

test("convert DIR OUT --type i2_s gives the same logits as running the directory", async () => {
  const dir = `${HF_FIXTURES}1bitllm`;
  const out = join(tmp, "1bitllm.gguf");
  const c = await runCli(["convert", dir, out, "--type", "i2_s"]);
  assert.equal(c.code, 0, c.stderr);
  const a = await runCli(["logits", "-m", dir, "--prompt-ids", "1,50,60,70", "--json", "-t", "1"]);
  const b = await runCli(["logits", "-m", out, "--prompt-ids", "1,50,60,70", "--json", "-t", "1"]);
  assert.equal(a.code, 0, a.stderr);
  assert.deepEqual(JSON.parse(b.stdout), JSON.parse(a.stdout));
  const info = JSON.parse((await runCli(["info", out, "--json"])).stdout);
  assert.equal(info.metadata["bitnet-b1.58.hidden_activation"], "silu");
});

test("pull, -m hf:, models and rm against the mock Hub", async () => {
  const p = await runCli(["pull", "hf:test/tiny-bitnet"]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout.trim(), /hub\/test--tiny-bitnet\/snapshots\/[0-9a-f]{40}\/?\.?$/);
  const g = await runCli(["generate", "-m", "hf:test/tiny-bitnet", "--prompt-ids", "1,2,3", "-n", "4", "--temp", "0", "--json", "-t", "1"]);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(JSON.parse(g.stdout).tokens.length, 4);
  const m = await runCli(["models"]);
  assert.match(m.stdout, /^hf:test\/tiny-bitnet\s+main\s+\d+\.\d KiB\s+\S+/m);
  assertOneLineError(await runCli(["pull", "hf:test/nope"]), /hf:test\/nope: the Hub answered HTTP 404/);
  assertOneLineError(await runCli(["pull", "hf:bad name"]), /not a Hub model name/);
  const r = await runCli(["rm", "hf:test/tiny-bitnet"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match((await runCli(["models"])).stdout, /^no models in /);
  assertOneLineError(await runCli(["rm", "hf:test/tiny-bitnet"]), /not in the cache/);
});
