/**
 * Checkpoints on disk, for Node: one file per saved step in a directory (`step-00000120.ckpt`, a
 * safetensors file, see src/train/checkpoint.ts), written atomically (temporary file + fsync + rename,
 * atomic-file-sink.ts) so a crash never leaves a half-written checkpoint under a real name, and pruned
 * to the newest `keep` after each save. It does not decide when to save (the CLI does).
 */
import { mkdir, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { readCheckpoint, writeCheckpoint, type CheckpointState } from "../train/checkpoint.ts";
import { atomicFileSink } from "./atomic-file-sink.ts";
import { openFileSource } from "./file-source.ts";

const NAME = /^step-(\d+)\.ckpt$/;

export function checkpointFileName(step: number): string {
  return `step-${String(step).padStart(8, "0")}.ckpt`;
}

export class CheckpointStore {
  readonly dir: string;
  readonly keep: number;

  constructor(dir: string, keep: number) {
    if (!Number.isInteger(keep) || keep < 1) throw new Error(`checkpoint store: keep must be a positive integer, got ${keep}`);
    this.dir = dir;
    this.keep = keep;
  }

  /** Checkpoint files, oldest step first. */
  async list(): Promise<{ step: number; path: string }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    return names
      .map((n) => ({ m: NAME.exec(n), n }))
      .filter((e): e is { m: RegExpExecArray; n: string } => e.m !== null)
      .map((e) => ({ step: Number(e.m[1]), path: join(this.dir, e.n) }))
      .sort((a, b) => a.step - b.step);
  }

  async latest(): Promise<string | undefined> {
    const all = await this.list();
    return all.length > 0 ? all[all.length - 1].path : undefined;
  }

  /** Writes the state atomically, then deletes all but the newest `keep` checkpoints. Returns the path. */
  async save(state: CheckpointState): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, checkpointFileName(state.step));
    await writeCheckpoint(await atomicFileSink(path), state);
    const all = await this.list();
    for (const old of all.slice(0, Math.max(0, all.length - this.keep))) await unlink(old.path);
    return path;
  }

  async load(path: string): Promise<CheckpointState> {
    const source = await openFileSource(path);
    try {
      return await readCheckpoint(source);
    } finally {
      await source.close();
    }
  }
}
