/**
 * `bitnet generate`, `logits` and `chat` as a user runs them, including the acceptance command
 * against llama.cpp's greedy path, and the one-line errors for bad input.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import type { ChatMessage } from "../../src/generate/chat-template.ts";
import { loadModel } from "../../src/index.ts";
import { DEFAULT_MODEL, fixturePath } from "../helpers/fixtures.ts";
import { assertOneLineError, repoRoot, runCli } from "./run-cli.ts";

const TINY = fixturePath("bitnet-tiny-tq2_0.gguf");
const ref = JSON.parse(readFileSync(fixturePath("bitnet-tiny-tq2_0.ref.json"), "utf8"));

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

  it("chat answers each line of piped input, in order, with the conversation kept, and exits", async () => {
    const r = await runCli(["chat", "-m", DEFAULT_MODEL, "-n", "6", "--temp", "0", "--ignore-eos"], "hello\n/reset\nagain\nthird\n");
    assert.equal(r.code, 0, r.stderr);
    // The same conversation through the library: "hello"; reset; "again", then "third" after its reply.
    const model = await loadModel(DEFAULT_MODEL, { threads: 1 });
    try {
      const reply = async (messages: ChatMessage[]) => {
        let text = "";
        for await (const t of model.chat(messages, { maxTokens: 6, temperature: 0, ignoreEos: true, overflow: "truncate" })) text += t.text;
        return text;
      };
      const a = await reply([{ role: "user", content: "hello" }]);
      const b = await reply([{ role: "user", content: "again" }]);
      const c = await reply([{ role: "user", content: "again" }, { role: "assistant", content: b }, { role: "user", content: "third" }]);
      assert.equal(r.stdout, `bitnet chat: /reset clears the conversation, /exit leaves.\n> ${a}\n> > ${b}\n> ${c}\n> `);
    } finally {
      await model.dispose();
    }
  });

  it("a reader that goes away ends generate quietly (| head -1)", async () => {
    const out = execFileSync("bash", ["-c", `"${process.execPath}" --import tsx src/cli/main.ts generate -n 200 --temp 0 --ignore-eos "And God said" | head -c 20; echo " status \${PIPESTATUS[0]}"`], { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    assert.match(out, / status 0$/m);
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
      assertOneLineError(await runCli(["generate", "-m", TINY, "--prompt-ids", "1,2", "-n", "300", "-c", "256"]), /plus -n 300 exceeds the context of 256 tokens; .*lower -n, raise --ctx, or pass --truncate/);
      assertOneLineError(await runCli(["generate", "-m", dir, "-p", "x"]), /is a directory/);
      assertOneLineError(await runCli(["generate", "-m", TINY, "-p", "x", "--top-p", "2"]), /^bitnet: --top-p must be in \(0, 1\]/);
      assertOneLineError(await runCli(["generate", "-m", TINY, "-p", "x", "--temp", "-1"]), /^bitnet: --temp must be >= 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a context longer than the model was trained on is a warning, as llama.cpp gives one", async () => {
    const r = await runCli(["generate", "-m", DEFAULT_MODEL, "-p", "x", "-n", "2", "--ctx", "5000"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^bitnet: warning: .*a context of 5000 tokens is longer than the 256 the model was trained on/m);
  });
});
