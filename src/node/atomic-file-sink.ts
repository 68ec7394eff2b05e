/**
 * An atomic ByteSink over a local file, for Node. It writes a temporary file next to the target
 * (`.<basename>.tmp-<pid>-<random>`, same directory so the rename cannot cross filesystems);
 * `commit()` flushes, fsyncs and renames it over the target, `abort()` closes and deletes it.
 * A reader of the target therefore sees the old file or the complete new one, never a half
 * written one, and a crash leaves at most a hidden temp file. Small writes are gathered into
 * 4 MiB chunks; large ones go straight through.
 */
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { ByteSink } from "../formats/sink.ts";

const BUFFER_BYTES = 4 * 1024 * 1024;

export interface AtomicFileSink extends ByteSink {
  /** The temporary file being written. */
  readonly tempPath: string;
}

export async function atomicFileSink(path: string): Promise<AtomicFileSink> {
  const tempPath = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  const fh: FileHandle = await open(tempPath, "wx");
  const buffer = new Uint8Array(BUFFER_BYTES);
  let used = 0;
  let state: "open" | "committed" | "aborted" = "open";

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
      }
      await syncDirectory(dirname(path));
    },
    async abort(): Promise<void> {
      if (state !== "open") return;
      state = "aborted";
      used = 0;
      await fh.close().catch(() => undefined);
      await unlink(tempPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
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
