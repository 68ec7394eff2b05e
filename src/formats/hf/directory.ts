/**
 * The one thing the Hugging Face checkpoint reader needs from storage: open a file of a model directory by
 * its relative name as a ByteSource, and tell which files exist. Node supplies it over the file system
 * (src/node/hf-dir.ts), a browser over fetched Blobs or OPFS, tests over bytes in memory (`memoryDirectory`).
 * It also reads the small JSON files of a checkpoint, with a size cap and one-line errors naming the file.
 * It does not interpret any file; config.ts, tokenizer.ts and checkpoint.ts do.
 */
import { InvalidFileError } from "../../errors.ts";
import { bufferSource, type ByteSource } from "../source.ts";

export interface HFDirectory {
  /** Shown in error messages: the directory's path or URL. Files are named `<name>/<file>`. */
  readonly name: string;
  /** Whether `file` (a name relative to the directory, no "..") exists and is a regular file. */
  exists(file: string): Promise<boolean>;
  /** Opens `file`; throws a one-line error naming it when it is missing or unreadable. */
  open(file: string): Promise<ByteSource>;
  /** The names of the directory's regular files (not recursive). */
  list(): Promise<string[]>;
}

/** config.json and friends are small; a tokenizer.json of a 256k vocabulary is ~20 MB. */
export const MAX_JSON_BYTES = 64 * 2 ** 20;

/** `<dir>/<file>`, the name every message about a file of the checkpoint uses. */
export function filePath(dir: HFDirectory, file: string): string {
  return `${dir.name.replace(/\/+$/, "")}/${file}`;
}

/** A file name an index or a caller gave: one plain component, nothing that leaves the directory. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && !/[/\\\0]/.test(name) && name !== "." && name !== "..";
}

/** Parses `file` as a JSON object, or returns undefined when it does not exist and `optional` is set. */
export async function readJSONObject(dir: HFDirectory, file: string, optional: true): Promise<Record<string, unknown> | undefined>;
export async function readJSONObject(dir: HFDirectory, file: string, optional?: false): Promise<Record<string, unknown>>;
export async function readJSONObject(dir: HFDirectory, file: string, optional = false): Promise<Record<string, unknown> | undefined> {
  const path = filePath(dir, file);
  if (!(await dir.exists(file))) {
    if (optional) return undefined;
    throw new InvalidFileError(`${path}: missing (a Hugging Face model directory needs it)`);
  }
  const source = await dir.open(file);
  let text: string;
  try {
    if (source.size > MAX_JSON_BYTES) throw new InvalidFileError(`${path}: ${source.size} bytes is larger than the ${MAX_JSON_BYTES}-byte limit for a JSON file`);
    text = new TextDecoder("utf-8", { fatal: true }).decode(await source.read(0, source.size));
  } catch (err) {
    if (err instanceof InvalidFileError) throw err;
    throw new InvalidFileError(`${path}: not valid UTF-8 text (${(err as Error).message})`, { cause: err });
  } finally {
    await source.close();
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidFileError(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InvalidFileError(`${path}: expected a JSON object at the top level`);
  return value as Record<string, unknown>;
}

/** A directory over bytes in memory (tests, and a browser that fetched the files itself). */
export function memoryDirectory(name: string, files: Record<string, Uint8Array | string>): HFDirectory {
  const enc = new TextEncoder();
  const bytes = new Map(Object.entries(files).map(([k, v]) => [k, typeof v === "string" ? enc.encode(v) : v]));
  return {
    name,
    exists: async (file) => bytes.has(file),
    open: async (file) => {
      const b = bytes.get(file);
      if (!b) throw new InvalidFileError(`${filePath({ name } as HFDirectory, file)}: missing`);
      return bufferSource(b, filePath({ name } as HFDirectory, file));
    },
    list: async () => [...bytes.keys()].sort(),
  };
}
