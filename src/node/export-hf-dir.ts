/**
 * Writes a trained model as a Hugging Face model directory, atomically, for Node: everything goes into a hidden
 * temporary directory next to the target (`.<name>.tmp-<pid>-<random>`, same parent so the rename cannot cross
 * filesystems), which is renamed to the target only when every file is complete. A reader sees no directory or
 * the whole new one; a failure removes the temporary directory. An existing target is refused unless
 * `overwrite`, in which case it is moved aside, replaced, and then deleted.
 * The content comes from src/train/export-safetensors.ts; this file only does the file system work.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { TrainedTokenizer } from "../train/export-tokenizer.ts";
import { exportSafetensors, hfJsonFiles, HF_WEIGHTS_FILE, type ExportSafetensorsOptions } from "../train/export-safetensors.ts";
import type { ParamSet } from "../train/params.ts";
import { atomicFileSink, sweepStaleTemps } from "./atomic-file-sink.ts";

export interface ExportHFDirOptions extends ExportSafetensorsOptions {
  /** Replace an existing directory at the target path (default: refuse). */
  overwrite?: boolean;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return false;
      throw err;
    },
  );
}

function sibling(target: string, tag: string): string {
  return join(dirname(target), `.${basename(target)}.${tag}-${process.pid}-${randomBytes(6).toString("hex")}`);
}

/** Writes `dir` (config.json, generation_config.json, model.safetensors, tokenizer files); returns the file names. */
export async function exportHFDir(params: ParamSet, tokenizer: TrainedTokenizer, dir: string, options: ExportHFDirOptions = {}): Promise<string[]> {
  const target = resolve(dir);
  // Build the JSON first: a bad vocabulary or config fails before anything touches the disk.
  const json = hfJsonFiles(params, tokenizer, options);
  if (!options.overwrite && (await exists(target))) throw new Error(`${target}: already exists (pass overwrite to replace it)`);
  await sweepStaleTemps(dirname(target)); // temporary directories of killed exports
  const temp = sibling(target, "tmp");
  await mkdir(temp);
  try {
    await exportSafetensors(params, await atomicFileSink(join(temp, HF_WEIGHTS_FILE)), options);
    for (const [name, value] of Object.entries(json)) await writeFile(join(temp, name), `${JSON.stringify(value, null, 2)}\n`);
    if (options.overwrite && (await exists(target))) {
      const old = sibling(target, "old");
      await rename(target, old);
      await rename(temp, target).catch(async (err: unknown) => {
        await rename(old, target);
        throw err;
      });
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temp, target); // fails (ENOTEMPTY/EEXIST) if someone created the target meanwhile
    }
  } catch (err) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw new Error(`${target}: could not write the model directory: ${(err as Error).message}`, { cause: err });
  }
  return [HF_WEIGHTS_FILE, ...Object.keys(json)].sort();
}
