/**
 * `bitnet convert` through the real CLI (src/cli/main.ts in a child process): the acceptance round trip
 * TQ2_0 → TQ1_0 → I2_S → TQ2_0 gives back the fixture written by gguf-py byte for byte; I2_S → TQ2_0
 * warns about the fp16 scale; and bad input fails with one line on stderr, exit code 1, no stack trace
 * and no output file. The conversion rules themselves are tested in test/convert/.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixturesDir, tempDir } from "../formats/helpers.ts";
import { assertOneLineError, runCli } from "./run-cli.ts";

const tmp = tempDir("cli-convert");
after(() => tmp.remove());

const tiny = join(fixturesDir, "bitnet-tiny-tq2_0.gguf");
const i2s = join(fixturesDir, "bitnet-b158-tiny-i2_s.gguf");

// The child processes are independent, so the tests run side by side (each in its own directory).
describe("bitnet convert", { concurrency: true }, () => {
  it("TQ2_0 -> TQ1_0 -> I2_S -> TQ2_0 returns the original file byte for byte", async () => {
    const a = join(tmp.path, "tiny.tq1_0.gguf");
    const b = join(tmp.path, "tiny.i2_s.gguf");
    const c = join(tmp.path, "tiny.tq2_0.gguf");
    for (const [from, to, type] of [
      [tiny, a, "tq1_0"],
      [a, b, "i2_s"],
      [b, c, "tq2_0"],
    ]) {
      const r = await runCli(["convert", from, to, "--type", type]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "", "no warnings: every step is lossless");
      assert.match(r.stdout, /14 linear tensors .* \(14 repacked\)/);
    }
    assert.ok(readFileSync(c).equals(readFileSync(tiny)), "byte-identical to bitnet-tiny-tq2_0.gguf");
    assert.ok(readFileSync(a).length < readFileSync(tiny).length, "TQ1_0 is smaller than TQ2_0");
  });

  it("I2_S -> TQ2_0 warns that the f32 scales are rounded to fp16", async () => {
    const out = join(tmp.path, "b158.tq2_0.gguf");
    const r = await runCli(["convert", i2s, out, "--type", "tq2_0", "--embedding-type", "f16"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^bitnet: warning: 14 ternary tensor\(s\) had scales that are not fp16 values .*largest relative change 4\.04e-4/);
    assert.match(r.stdout, /token_embd\.weight f32 -> f16/);
    assert.ok(existsSync(out));
  });

  it("bad input: one line on stderr naming the file, exit code 1, no stack trace, no output", async () => {
    const dir = join(tmp.path, "errors");
    mkdirSync(dir);
    const truncated = join(dir, "truncated.gguf");
    writeFileSync(truncated, readFileSync(tiny).subarray(0, 5000));
    const same = join(dir, "same.gguf");
    copyFileSync(tiny, same);
    const out = join(dir, "out.gguf");
    const missing = join(dir, "missing.gguf");
    const [rMissing, rTruncated, rType, rSame, rEmbd, rNoType] = await Promise.all([
      runCli(["convert", missing, out, "--type", "tq1_0"]),
      runCli(["convert", truncated, out, "--type", "tq1_0"]),
      runCli(["convert", tiny, out, "--type", "q4_0"]),
      runCli(["convert", same, same, "--type", "tq1_0"]),
      runCli(["convert", tiny, out, "--type", "tq1_0", "--embedding-type", "tq2_0"]),
      runCli(["convert", tiny, out]),
    ]);
    assertOneLineError(rMissing, missing);
    assertOneLineError(rTruncated, truncated);
    assertOneLineError(rType, "--type must be one of tq2_0, tq1_0, i2_s, f16, f32, got 'q4_0'");
    assertOneLineError(rSame, same);
    assertOneLineError(rEmbd, "--embedding-type must be one of keep, f32, f16, bf16");
    assertOneLineError(rNoType, "missing --type");
    assert.ok(readFileSync(same).equals(readFileSync(tiny)), "the input is untouched");
    assert.equal(existsSync(out), false);
    assert.deepEqual(
      readdirSync(dir).sort(),
      ["same.gguf", "truncated.gguf"],
      "no output and no temporary files left",
    );
  });

  it("--verbose adds the stack trace", async () => {
    const r = await runCli(["--verbose", "convert", join(tmp.path, "missing.gguf"), join(tmp.path, "x.gguf"), "--type", "tq1_0"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\n\s+at /);
  });
});
