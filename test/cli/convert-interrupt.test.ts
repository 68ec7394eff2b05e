/**
 * `bitnet convert` interrupted, through the real CLI in a child process: SIGTERM and SIGINT in the middle
 * of a conversion exit with 143 / 130, print nothing, and leave neither the output nor a temporary file;
 * kill -9 cannot clean up, so it may leave the temporary file (never a partial output), and the next
 * write into the same folder sweeps it away.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { writeGGUF } from "../../src/formats/gguf/writer.ts";
import { atomicFileSink } from "../../src/node/atomic-file-sink.ts";
import { syntheticModel } from "../../src/model/synthetic.ts";
import { fixturesDir, tempDir } from "../formats/helpers.ts";
import { CLI_ARGS, repoRoot, runCli } from "./run-cli.ts";

const tmp = tempDir("cli-convert-interrupt");
after(() => tmp.remove());
const input = join(tmp.path, "in.gguf");

const temps = (dir: string) => readdirSync(dir).filter((n) => n.includes(".tmp-"));

/** Starts a conversion into `dir`, waits until its temporary file exists, sends `signal`, and reports how it ended. */
async function interrupted(dir: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; sawTemp: boolean }> {
  const child = spawn(process.execPath, [...CLI_ARGS, "convert", input, join(dir, "out.gguf"), "--type", "tq1_0"], { cwd: repoRoot });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, sig) => resolve({ code, signal: sig })));
  let sawTemp = false;
  let done = false;
  void exited.then(() => (done = true));
  while (!done && !sawTemp) {
    sawTemp = temps(dir).length > 0;
    if (!sawTemp) await new Promise((r) => setTimeout(r, 5));
  }
  if (sawTemp) child.kill(signal);
  return { ...(await exited), stderr, sawTemp };
}

describe("bitnet convert, interrupted", () => {
  before(async () => {
    // Big enough (about 15 MB of f16) that a conversion is still running when the signal comes.
    const m = syntheticModel({ architecture: "bitnet", dim: 256, ffnDim: 768, nLayers: 8, nHeads: 4, nKvHeads: 4, vocabSize: 1024, linearType: "f16", embeddingType: "f16", seed: 5 });
    await writeGGUF(await atomicFileSink(input), m.header, m.data);
  });

  it("SIGTERM and SIGINT: exit 143 / 130, nothing printed, no output and no temporary file", async () => {
    for (const [i, signal] of (["SIGTERM", "SIGINT", "SIGTERM", "SIGINT"] as const).entries()) {
      const dir = join(tmp.path, `signal-${i}`);
      await import("node:fs/promises").then((fs) => fs.mkdir(dir));
      const r = await interrupted(dir, signal);
      assert.ok(r.sawTemp, "the conversion was running when the signal came");
      assert.deepEqual({ code: r.code, signal: r.signal }, { code: signal === "SIGINT" ? 130 : 143, signal: null }, r.stderr);
      assert.equal(r.stderr, "", "nothing on stderr");
      assert.deepEqual(readdirSync(dir), [], "no output, no temporary file");
    }
  });

  it("kill -9 leaves at most a temporary file, never the output, and the next write to the folder sweeps it", async () => {
    const dir = join(tmp.path, "killed");
    await import("node:fs/promises").then((fs) => fs.mkdir(dir));
    const r = await interrupted(dir, "SIGKILL");
    assert.ok(r.sawTemp);
    assert.equal(r.signal, "SIGKILL");
    assert.equal(existsSync(join(dir, "out.gguf")), false, "the destination is never partial");
    assert.equal(temps(dir).length, 1, "the killed process could not clean up");
    const next = await runCli(["convert", join(fixturesDir, "bitnet-tiny-tq2_0.gguf"), join(dir, "other.gguf"), "--type", "tq1_0"]);
    assert.equal(next.code, 0, next.stderr);
    assert.deepEqual(readdirSync(dir), ["other.gguf"], "the stale temporary file is gone");
  });
});
