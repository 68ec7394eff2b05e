// `bitnet serve` as a process: it serves the embedded model on loopback, and SIGTERM stops it cleanly:
// no new connections, the stream that was running ends normally with [DONE], exit code 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { repoRoot } from "../cli/run-cli.ts";

test("SIGTERM stops taking requests, lets the running stream finish, and exits 0", { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve", "--port", "0", "--threads", "1"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      child.once("exit", () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    assert.match(stderr, /bitnet-default\.gguf .* 4 sequences of 256 tokens \(KV cache [\d.]+ MiB each\)/);
    const res = await fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "And God said", max_tokens: 120, ignore_eos: true, stream: true }),
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    child.kill("SIGTERM");
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.match(text, /data: \[DONE\]\n\n$/, "the running stream finished");
    assert.equal((text.match(/"text":"[^"]+"/g) ?? []).length, 120, "all 120 tokens were sent");
    assert.equal(await exited, 0);
    assert.match(stderr, /bitnet serve: stopped/);
    await assert.rejects(fetch(`${url}/health`), "no new connections after the stop");
  } finally {
    child.kill("SIGKILL");
  }
});
