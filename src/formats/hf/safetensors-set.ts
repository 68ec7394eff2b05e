/**
 * The weights of a Hugging Face checkpoint directory, browser-safe: `model.safetensors`, or the shards that
 * `model.safetensors.index.json` names, opened through an HFDirectory and looked up by tensor name across
 * shards. Every shard the index names must exist and hold exactly the tensors the index assigns to it.
 * It does not map names or convert anything (checkpoint.ts does); src/node/safetensors-dir.ts is the
 * path-based equivalent used by the trainer's tools.
 */
import { BitNetError, InvalidFileError } from "../../errors.ts";
import { readSafetensors, type SafetensorsFile, type SafetensorsTensorInfo } from "../safetensors/reader.ts";
import { filePath, isPlainFileName, readJSONObject, type HFDirectory } from "./directory.ts";

export const INDEX_FILE = "model.safetensors.index.json";
export const SINGLE_FILE = "model.safetensors";

export interface ShardTensor {
  info: SafetensorsTensorInfo;
  shard: SafetensorsFile;
  /** The shard's file name inside the directory. */
  file: string;
}

export interface SafetensorsSet {
  /** Shard file names, in index order. */
  files: string[];
  tensors: Map<string, ShardTensor>;
  close(): Promise<void>;
}

async function openShard(dir: HFDirectory, file: string): Promise<SafetensorsFile> {
  const source = await dir.open(file);
  try {
    return await readSafetensors(source);
  } catch (err) {
    await source.close();
    if (err instanceof BitNetError) throw err;
    throw new InvalidFileError((err as Error).message, { cause: err });
  }
}

export async function openSafetensorsSet(dir: HFDirectory): Promise<SafetensorsSet> {
  let files: string[];
  let assigned: Map<string, string> | undefined;
  if (await dir.exists(INDEX_FILE)) {
    const indexPath = filePath(dir, INDEX_FILE);
    const index = await readJSONObject(dir, INDEX_FILE);
    const map = index.weight_map;
    if (typeof map !== "object" || map === null || Array.isArray(map)) throw new InvalidFileError(`${indexPath}: key 'weight_map' is missing or not an object`);
    assigned = new Map();
    files = [];
    for (const [tensor, shard] of Object.entries(map)) {
      if (typeof shard !== "string" || !isPlainFileName(shard)) throw new InvalidFileError(`${indexPath}: weight_map entry '${tensor}' names ${JSON.stringify(String(shard)).slice(0, 80)}, not a file in this directory`);
      assigned.set(tensor, shard);
      if (!files.includes(shard)) files.push(shard);
    }
    if (files.length === 0) throw new InvalidFileError(`${indexPath}: weight_map is empty`);
    for (const shard of files) if (!(await dir.exists(shard))) throw new InvalidFileError(`${indexPath}: shard '${shard}' is missing from ${dir.name}`);
  } else if (await dir.exists(SINGLE_FILE)) {
    files = [SINGLE_FILE];
  } else {
    throw new InvalidFileError(`${dir.name}: no ${SINGLE_FILE} or ${INDEX_FILE}`);
  }

  const opened: SafetensorsFile[] = [];
  const close = async () => {
    await Promise.all(opened.map((s) => s.source.close()));
  };
  try {
    for (const f of files) opened.push(await openShard(dir, f));
    const tensors = new Map<string, ShardTensor>();
    opened.forEach((shard, i) => {
      for (const info of shard.tensors) {
        const prior = tensors.get(info.name);
        if (prior) throw new InvalidFileError(`${filePath(dir, files[i])}: tensor '${info.name}' is also in ${prior.file}`);
        tensors.set(info.name, { info, shard, file: files[i] });
      }
    });
    if (assigned) {
      const indexPath = filePath(dir, INDEX_FILE);
      for (const [name, shard] of assigned) {
        const t = tensors.get(name);
        if (!t) throw new InvalidFileError(`${indexPath}: tensor '${name}' is in the weight_map but not in shard '${shard}'`);
        if (t.file !== shard) throw new InvalidFileError(`${indexPath}: tensor '${name}' is mapped to '${shard}' but found in '${t.file}'`);
      }
      for (const t of tensors.values()) {
        if (!assigned.has(t.info.name)) throw new InvalidFileError(`${filePath(dir, t.file)}: tensor '${t.info.name}' is missing from the weight_map of ${INDEX_FILE}`);
      }
    }
    return { files, tensors, close };
  } catch (err) {
    await close();
    throw err;
  }
}
