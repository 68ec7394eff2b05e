/**
 * `bitnet generate`, `logits` and `chat` as a user runs them, including the acceptance command
 * against llama.cpp's greedy path, and the one-line errors for bad input.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertOneLineError, runCli } from "./run-cli.ts";

const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;
const TINY = `${FIX}bitnet-tiny-tq2_0.gguf`;
const ref = JSON.parse(readFileSync(`${FIX}bitnet-tiny-tq2_0.ref.json`, "utf8"));

describe("bitnet generate / logits / chat", () => {
  it("reproduces llama.cpp's greedy tokens (acceptance command)", async () => {
    const r = await runCli(["generate", "-m", TINY, "--prompt-ids", ref.prompt.join(","), "-n", "24", "--temp", "0", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.tokens, ref.greedy);
    assert.equal(out.prompt_tokens, ref.prompt.length);
  });

  it("logits --json prints the vocabulary-long logits llama.cpp computed", async () => {
    const r = await runCli(["logits", "-m", TINY, "--prompt-ids", ref.prompt.join(","), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const { logits } = JSON.parse(r.stdout) as { logits: number[] };
    assert.equal(logits.length, 512);
    for (let i = 0; i < logits.length; i++) assert.ok(Math.abs(logits[i] - ref.lastLogits[i]) < 1e-4, `logit ${i}`);
  });

  it("streams text for a text prompt, reproducibly with a seed", async () => {
    const args = ["generate", "-m", TINY, "-p", "Once upon a time", "-n", "12", "--seed", "7", "--temp", "1"];
    const [a, b] = await Promise.all([runCli(args), runCli(args)]);
    assert.equal(a.code, 0, a.stderr);
    assert.ok(a.stdout.trim().length > 0);
    assert.equal(a.stdout, b.stdout);
  });

  it("chat answers each line of piped input and exits", async () => {
    const r = await runCli(["chat", "-m", TINY, "-n", "4", "--temp", "0", "--ignore-eos"], "hello\n/reset\nagain\n");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split("\n").length >= 3, r.stdout);
  });

  it("bad input gives one line naming the problem, exit code 1, no stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitnet-cli-"));
    try {
      const cut = join(dir, "cut.gguf");
      writeFileSync(cut, readFileSync(TINY).subarray(0, 5000));
      assertOneLineError(await runCli(["generate", "-m", cut, "-p", "x"]), /cut\.gguf/);
      assertOneLineError(await runCli(["generate", "-m", join(dir, "none.gguf"), "-p", "x"]), /none\.gguf: no such file/);
      assertOneLineError(await runCli(["generate", "-m", TINY, "-p", "x", "--act-quant", "fp8"]), /--act-quant must be one of token, block256/);
      assertOneLineError(await runCli(["generate", "-m", TINY, "--prompt-ids", "1,2,x"]), /--prompt-ids/);
      assertOneLineError(await runCli(["generate", "-m", TINY, "--prompt-ids", "1,2", "-n", "300", "-c", "256"]), /exceeds the context of 256 tokens/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
