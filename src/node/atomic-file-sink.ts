/**
 * An atomic ByteSink over a local file, for Node. It writes a temporary file next to the target
 * (`.<basename>.tmp-<pid>-<random>`, same directory so the rename cannot cross filesystems);
 * `commit()` flushes, fsyncs and renames it over the target, `abort()` closes and deletes it.
 * A reader of the target therefore sees the old file or the complete new one, never a half
 * written one, and a crash leaves at most a hidden temp file. Small writes are gathered into
 * 4 MiB chunks; large ones go straight through.
 *
 * A process killed outright (kill -9, a power cut) cannot clean up, so each new sink first sweeps its
 * folder (`sweepStaleTemps`): temporary files and directories of exactly our naming pattern whose writer
 * is gone are deleted. Nothing else is ever touched, and a writer that may still be alive is left alone:
 * a PID that is running is taken to be the writer unless Linux's /proc shows that process started
 * after the file was last written (the PID was reused).
 */
import { lstat, open, readdir, readFile, rename, rm, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { ByteSink } from "../formats/sink.ts";

const BUFFER_BYTES = 4 * 1024 * 1024;

/** `.<name>.tmp-<pid>-<12 hex digits>`: what this file (and export-hf-dir.ts, for directories) creates. */
const TEMP_NAME = /^\..+\.tmp-(\d+)-[0-9a-f]{12}$/;
/** Temp paths this module instance is writing; never swept. */
const active = new Set<string>();
/** Clock differences between a file's mtime and a process's start time smaller than this prove nothing. */
const SLACK_MS = 2000;

/**
 * Deletes the stale temporary files (and directories) of our naming pattern in `dir`: those whose writer
 * process is gone. Returns the paths deleted. Errors are ignored: sweeping is housekeeping, never a reason
 * for a write to fail.
 */
export async function sweepStaleTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    if (active.has(path)) continue;
    try {
      const st = await lstat(path);
      if (st.isSymbolicLink()) continue; // not something we create
      if (!(await writerIsGone(Number(m[1]), st.mtimeMs))) continue;
      await rm(path, { recursive: st.isDirectory(), force: true });
      removed.push(path);
    } catch {
      // Gone already, or not ours to remove: leave it.
    }
  }
  return removed;
}

/** Whether the process `pid` that last wrote a temp file at `mtimeMs` can no longer be writing it. */
async function writerIsGone(pid: number, mtimeMs: number): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 1) return false;
  // Our own PID: the file is from an earlier process that had it, if we started after it was written.
  if (pid === process.pid) return Date.now() - process.uptime() * 1000 > mtimeMs + SLACK_MS;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH"; // EPERM: alive under another user
  }
  const started = await linuxProcessStartMs(pid);
  return started !== undefined && started > mtimeMs + SLACK_MS;
}

/** When process `pid` started (ms since the epoch), from /proc; undefined where that cannot be read. */
async function linuxProcessStartMs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[22 - 3]);
    const btime = Number(/^btime (\d+)$/m.exec(await readFile("/proc/stat", "utf8"))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return undefined;
    return (btime + ticks / 100) * 1000; // /proc counts in USER_HZ, which is 100 on Linux
  } catch {
    return undefined;
  }
}

export interface AtomicFileSink extends ByteSink {
  /** The temporary file being written. */
  readonly tempPath: string;
}

export async function atomicFileSink(path: string): Promise<AtomicFileSink> {
  await sweepStaleTemps(dirname(path));
  const tempPath = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  const fh: FileHandle = await open(tempPath, "wx");
  active.add(tempPath);
  const buffer = new Uint8Array(BUFFER_BYTES);
  let used = 0;
  let state: "open" | "committed" | "aborted" = "open";
  let aborting: Promise<void> | undefined;

  async function writeAll(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.byteLength) {
      const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.byteLength - done, 1 << 30));
      done += bytesWritten;
    }
  }
  async function flush(): Promise<void> {
    if (used === 0) return;
    await writeAll(buffer.subarray(0, used));
    used = 0;
  }
  function ensureOpen(op: string): void {
    if (state !== "open") throw new Error(`${path}: ${op} after ${state}`);
  }

  return {
    tempPath,
    async write(chunk: Uint8Array): Promise<void> {
      ensureOpen("write");
      if (used + chunk.byteLength <= BUFFER_BYTES) {
        buffer.set(chunk, used);
        used += chunk.byteLength;
        return;
      }
      await flush();
      if (chunk.byteLength >= BUFFER_BYTES) await writeAll(chunk);
      else {
        buffer.set(chunk, 0);
        used = chunk.byteLength;
      }
    },
    async commit(): Promise<void> {
      ensureOpen("commit");
      state = "committed";
      try {
        await flush();
        await fh.sync();
        await fh.close();
        await rename(tempPath, path);
      } catch (err) {
        await fh.close().catch(() => undefined);
        await unlink(tempPath).catch(() => undefined);
        throw new Error(`${path}: could not commit the written file: ${(err as Error).message}`, { cause: err });
      } finally {
        active.delete(tempPath);
      }
      await syncDirectory(dirname(path));
    },
    abort(): Promise<void> {
      // Every caller (the writer that failed, a signal handler about to exit) waits until the file is gone.
      if (state === "committed") return Promise.resolve();
      if (aborting) return aborting;
      state = "aborted";
      used = 0;
      aborting = (async () => {
        await fh.close().catch(() => undefined);
        await unlink(tempPath)
          .catch((err: NodeJS.ErrnoException) => {
            if (err.code !== "ENOENT") throw err;
          })
          .finally(() => active.delete(tempPath));
      })();
      return aborting;
    },
  };
}

/** Makes the rename itself durable where the platform allows it (Linux); elsewhere it is a no-op. */
async function syncDirectory(dir: string): Promise<void> {
  let dh: FileHandle | undefined;
  try {
    dh = await open(dir, "r");
    await dh.sync();
  } catch {
    // Windows cannot open directories and some filesystems refuse fsync on them: the data is already synced.
  } finally {
    await dh?.close().catch(() => undefined);
  }
}
