/**
 * Reads a training corpus from disk, for Node: a text file, a gzip file (detected by its magic bytes,
 * whatever its name), or a folder, whose files are read recursively in sorted path order (hidden
 * files skipped). Returns one text per file; splitting into documents is src/train/data.ts's job.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { corpusText } from "../train/data.ts";

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith(".")).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The texts of the corpus at `path` (a file or a folder); errors name the file at fault. */
export async function readCorpus(path: string): Promise<{ files: string[]; texts: string[] }> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new Error(`${path}: corpus not found`);
  }
  const files = info.isDirectory() ? await filesUnder(path) : [path];
  if (files.length === 0) throw new Error(`${path}: the corpus folder holds no files`);
  const texts: string[] = [];
  for (const f of files) texts.push(await corpusText(new Uint8Array(await readFile(f)), f));
  return { files, texts };
}
