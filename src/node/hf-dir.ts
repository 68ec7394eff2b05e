/**
 * The Node side of Hugging Face checkpoint directories: an HFDirectory over a folder on disk (files opened as
 * positioned-read sources, never read whole), and `openHFDir(path)`, which opens the checkpoint as a virtual
 * GGUF file (src/formats/hf/checkpoint.ts). Names that would leave the folder are refused.
 */
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InvalidFileError } from "../errors.ts";
import { openHFCheckpoint, type HFCheckpoint, type OpenHFCheckpointOptions } from "../formats/hf/checkpoint.ts";
import { filePath, isPlainFileName, type HFDirectory } from "../formats/hf/directory.ts";
import { openFileSource } from "./file-source.ts";

export function nodeDirectory(path: string): HFDirectory {
  const dir: HFDirectory = {
    name: path,
    async exists(file) {
      if (!isPlainFileName(file)) return false;
      return stat(join(path, file)).then(
        (s) => s.isFile(),
        () => false,
      );
    },
    async open(file) {
      if (!isPlainFileName(file)) throw new InvalidFileError(`${filePath(dir, file)}: not a plain file name inside the model directory`);
      try {
        return await openFileSource(join(path, file));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new InvalidFileError(`${filePath(dir, file)}: ${code === "ENOENT" ? "missing" : `cannot open (${code ?? (err as Error).message})`}`, { cause: err });
      }
    },
    async list() {
      const entries = await readdir(path, { withFileTypes: true });
      return entries.filter((e) => e.isFile()).map((e) => e.name).sort();
    },
  };
  return dir;
}

/** Whether `path` is a directory that looks like a Hugging Face checkpoint (it has a config.json). */
export async function isHFDir(path: string): Promise<boolean> {
  const s = await stat(path).catch(() => undefined);
  if (!s?.isDirectory()) return false;
  return stat(join(path, "config.json")).then(
    (c) => c.isFile(),
    () => false,
  );
}

export async function openHFDir(path: string, options: OpenHFCheckpointOptions = {}): Promise<HFCheckpoint> {
  const s = await stat(path).catch(() => undefined);
  if (!s) throw new InvalidFileError(`${path}: no such file or directory`);
  if (!s.isDirectory()) throw new InvalidFileError(`${path}: not a directory`);
  return openHFCheckpoint(nodeDirectory(resolve(path) === path ? path : path), options);
}
