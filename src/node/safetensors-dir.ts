/**
 * Opens a Hugging Face checkpoint stored as safetensors, for Node: a directory (with a
 * `model.safetensors.index.json` and its shards, or a single `model.safetensors`), an index
 * file, or one `.safetensors` file, and exposes one tensor lookup across all shards.
 * Every shard the index names must exist and hold the tensors the index assigns to it, and no
 * tensor may live in two shards. The index is untrusted JSON like a header: its size and nesting are
 * bounded before it is parsed, and errors describe its values without printing them whole.
 * Tensor data is read lazily. Shapes are PyTorch order
 * (rows first). It does not map names or convert dtypes; the converter does.
 */
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { InvalidFileError } from "../errors.ts";
import { describeValue, printable } from "../formats/describe.ts";
import { scanJson } from "../formats/json-bounds.ts";
import { readSafetensors, SAFETENSORS_MAX_DEPTH, SAFETENSORS_MAX_HEADER_BYTES, type SafetensorsFile, type SafetensorsTensorInfo } from "../formats/safetensors/reader.ts";
import { openFileSource } from "./file-source.ts";

export const SAFETENSORS_INDEX = "model.safetensors.index.json";
export const SAFETENSORS_SINGLE = "model.safetensors";

export interface ShardedTensorInfo extends SafetensorsTensorInfo {
  /** Path of the shard that holds it. */
  file: string;
}

export interface SafetensorsCollection {
  /** The directory, index or file that was opened. */
  path: string;
  /** Shard paths, in index order. */
  files: string[];
  /** The index's `metadata` (e.g. `total_size`), or the single file's `__metadata__`. */
  metadata: Record<string, unknown>;
  /** All tensors, shard by shard, each in data order. */
  tensors: ShardedTensorInfo[];
  tensor(name: string): ShardedTensorInfo | undefined;
  readTensor(t: ShardedTensorInfo | string): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function openSafetensors(path: string): Promise<SafetensorsCollection> {
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${path}: cannot open (${err.code ?? err.message})`, { cause: err });
  });
  if (s.isDirectory()) {
    const index = join(path, SAFETENSORS_INDEX);
    if (await exists(index)) return openIndex(index);
    const single = join(path, SAFETENSORS_SINGLE);
    if (await exists(single)) return openShards(path, [single], undefined);
    throw new InvalidFileError(`${path}: no ${SAFETENSORS_INDEX} or ${SAFETENSORS_SINGLE} in this directory`);
  }
  if (path.endsWith(".json")) return openIndex(path);
  return openShards(path, [path], undefined);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function openIndex(indexPath: string): Promise<SafetensorsCollection> {
  const size = (await stat(indexPath)).size;
  // An index lists names only; one as large as the reference's header cap is already absurd.
  if (size > SAFETENSORS_MAX_HEADER_BYTES) throw new InvalidFileError(`${indexPath}: ${size} bytes is larger than the limit of ${SAFETENSORS_MAX_HEADER_BYTES} for an index`);
  const bytes = await readFile(indexPath);
  const tooDeepAt = scanJson(bytes, SAFETENSORS_MAX_DEPTH).tooDeepAt;
  if (tooDeepAt >= 0) throw new InvalidFileError(`${indexPath}: nested more than ${SAFETENSORS_MAX_DEPTH} levels deep (at byte ${tooDeepAt})`);
  let index: unknown;
  try {
    index = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new InvalidFileError(`${indexPath}: not a readable JSON index (${printable((err as Error).message, 100)})`, { cause: err });
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw new InvalidFileError(`${indexPath}: has no "weight_map" object`);
  }
  const assigned = new Map<string, string>();
  const shardNames: string[] = [];
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== "string" || shard.length === 0 || shard !== basename(shard)) {
      throw new InvalidFileError(`${indexPath}: weight_map entry '${printable(tensor)}' names ${describeValue(shard)}, not a file in this directory`);
    }
    assigned.set(tensor, shard);
    if (!shardNames.includes(shard)) shardNames.push(shard);
  }
  const dir = dirname(indexPath);
  for (const shard of shardNames) {
    if (!(await exists(join(dir, shard)))) throw new InvalidFileError(`${indexPath}: shard '${printable(shard)}' is missing from ${dir}`);
  }
  const rawMeta = (index as { metadata?: unknown }).metadata;
  const metadata = typeof rawMeta === "object" && rawMeta !== null ? (rawMeta as Record<string, unknown>) : {};
  return openShards(
    indexPath,
    shardNames.map((n) => join(dir, n)),
    { assigned, metadata },
  );
}

async function openShards(
  path: string,
  files: string[],
  index: { assigned: Map<string, string>; metadata: Record<string, unknown> } | undefined,
): Promise<SafetensorsCollection> {
  const opened: SafetensorsFile[] = [];
  try {
    for (const f of files) opened.push(await readSafetensors(await openFileSource(f)));
  } catch (err) {
    await Promise.all(opened.map((o) => o.source.close()));
    throw err;
  }
  const close = () => Promise.all(opened.map((o) => o.source.close())).then(() => undefined);

  const byName = new Map<string, ShardedTensorInfo>();
  const tensors: ShardedTensorInfo[] = [];
  const shardOf = new Map<ShardedTensorInfo, SafetensorsFile>();
  try {
    opened.forEach((shard, i) => {
      for (const t of shard.tensors) {
        const prior = byName.get(t.name);
        if (prior) throw new InvalidFileError(`${path}: tensor '${printable(t.name)}' is listed twice, in ${prior.file} and ${files[i]}`);
        const info: ShardedTensorInfo = { ...t, file: files[i] };
        byName.set(t.name, info);
        tensors.push(info);
        shardOf.set(info, shard);
      }
    });
    if (index) {
      for (const [name, shard] of index.assigned) {
        const t = byName.get(name);
        if (!t) throw new InvalidFileError(`${path}: tensor '${printable(name)}' is in the weight_map but not in shard '${printable(shard)}'`);
        if (basename(t.file) !== shard) throw new InvalidFileError(`${path}: tensor '${printable(name)}' is mapped to '${printable(shard)}' but found in '${basename(t.file)}'`);
      }
      for (const t of tensors) {
        if (!index.assigned.has(t.name)) throw new InvalidFileError(`${path}: tensor '${printable(t.name)}' in '${basename(t.file)}' is missing from the weight_map`);
      }
    }
  } catch (err) {
    await close();
    throw err;
  }

  return {
    path,
    files,
    metadata: index ? index.metadata : opened[0].metadata,
    tensors,
    tensor: (name) => byName.get(name),
    readTensor: (t) => {
      const info = typeof t === "string" ? byName.get(t) : t;
      const shard = info && shardOf.get(byName.get(info.name) as ShardedTensorInfo);
      if (!info || !shard) return Promise.reject(new InvalidFileError(`${path}: no tensor named '${printable(typeof t === "string" ? t : t.name)}'`));
      return shard.readTensor(info.name);
    },
    close,
  };
}
