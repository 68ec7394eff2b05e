/**
 * sweepStaleTemps: the temporary files and directories of our own naming pattern whose writer is gone are
 * deleted; everything else stays: other names, symlinks, files of a live writer, and of our own process.
 * A PID that is alive but started after the file was last written (a reused PID) does not protect it.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sweepStaleTemps } from "../../src/node/atomic-file-sink.ts";
import { tempDir } from "../formats/helpers.ts";

const tmp = tempDir("temp-sweep");
after(() => tmp.remove());

/** The PID of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => child.on("exit", r));
  return child.pid as number;
}

describe("sweepStaleTemps", () => {
  it("deletes our stale temporaries and nothing else", async () => {
    const dir = join(tmp.path, "a");
    mkdirSync(dir);
    const dead = await deadPid();
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const live = sleeper.pid as number;
      const hex = "0123456789ab";
      const stale = [`.model.gguf.tmp-${dead}-${hex}`, `.step-00000010.ckpt.tmp-${dead}-abcdefabcdef`];
      writeFileSync(join(dir, stale[0]), "partial");
      writeFileSync(join(dir, stale[1]), "partial");
      const staleDir = `.hf-model.tmp-${dead}-${hex}`;
      mkdirSync(join(dir, staleDir));
      writeFileSync(join(dir, staleDir, "model.safetensors"), "partial");
      const liveFile = `.model.gguf.tmp-${live}-${hex}`; // a live writer
      const ownFile = `.model.gguf.tmp-${process.pid}-${hex}`; // this process, which started before the file was written
      const keep = [
        liveFile,
        ownFile,
        `.model.gguf.tmp-${dead}-xyz`, // not our pattern
        `.model.gguf.tmp-${dead}-${hex}0`,
        `model.gguf.tmp-${dead}-${hex}`,
        `.model.gguf.tmp-1-${hex}`,
        `.model.gguf.tmp-0-${hex}`,
        "notes.txt",
      ];
      for (const k of keep) writeFileSync(join(dir, k), "keep");
      writeFileSync(join(tmp.path, "target.txt"), "elsewhere");
      symlinkSync(join(tmp.path, "target.txt"), join(dir, `.link.tmp-${dead}-${hex}`));
      keep.push(`.link.tmp-${dead}-${hex}`);

      const removed = await sweepStaleTemps(dir);
      assert.deepEqual(removed.map((p) => p.slice(dir.length + 1)).sort(), [...stale, staleDir].sort());
      assert.deepEqual(readdirSync(dir).sort(), [...keep].sort());
      assert.ok(existsSync(join(tmp.path, "target.txt")));

      // A live PID does not protect a file written before that process started: the PID was reused (Linux only).
      if (existsSync("/proc/self/stat")) {
        const old = new Date(Date.now() - 3600_000);
        utimesSync(join(dir, liveFile), old, old);
        utimesSync(join(dir, ownFile), old, old); // our own PID, also older than this process
        const again = await sweepStaleTemps(dir);
        assert.deepEqual(again.map((p) => p.slice(dir.length + 1)).sort(), [liveFile, ownFile].sort());
      }
    } finally {
      sleeper.kill();
    }
  });

  it("a missing folder is not an error", async () => {
    assert.deepEqual(await sweepStaleTemps(join(tmp.path, "nope")), []);
  });
});
