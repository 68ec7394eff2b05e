/**
 * Reads what evaluation needs from disk, for Node: a task's rows from its file (JSON Lines or a JSON
 * array, gzipped or not), the held-out KJV chapters of the bundled corpus for the built-in task, and text
 * files for perplexity. Turning rows into items and items into scores is src/eval's job.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError, InvalidFileError } from "../errors.ts";
import type { McItem } from "../eval/lm-eval.ts";
import type { TaskInfo } from "../eval/table.ts";
import { kjvHeldOutChapters, kjvHeldOutText, kjvItems, KJV_TASK_INFO } from "../eval/tasks/kjv.ts";
import type { TaskSpec } from "../eval/tasks/registry.ts";
import { parseRows } from "../eval/tasks/rows.ts";
import { corpusText } from "../train/data.ts";
import { readCorpus } from "./corpus-files.ts";

/** The corpus the default model and `bitnet reproduce` train on. */
export const BUNDLED_KJV = fileURLToPath(new URL("../../data/kjv.txt.gz", import.meta.url));

/** A text file (UTF-8, or gzip of it); errors name the file. */
export async function readTextFile(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InvalidArgumentError(`${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory, not a file" : `cannot read (${code ?? (e as Error).message})`}`);
  }
  try {
    return await corpusText(bytes, path);
  } catch (e) {
    throw new InvalidFileError((e as Error).message);
  }
}

/** The held-out chapters of the bundled KJV (or of another corpus split the same way). */
export async function heldOutChapters(corpus = BUNDLED_KJV): Promise<string[]> {
  return kjvHeldOutChapters((await readCorpus(corpus)).texts);
}

/** The held-out KJV text, for perplexity. */
export async function heldOutText(corpus = BUNDLED_KJV): Promise<string> {
  return kjvHeldOutText((await readCorpus(corpus)).texts);
}

export interface LoadedTask {
  info: TaskInfo;
  items: McItem[];
  /** Where the items came from: the file, or the built-in corpus. */
  source: string;
}

/** A task's items, the first `limit` of them when given (the harness's --limit). */
export async function loadTask(spec: TaskSpec, limit?: number): Promise<LoadedTask> {
  if (spec.kind === "kjv") {
    const items = kjvItems(await heldOutChapters());
    return { info: KJV_TASK_INFO, items: items.slice(0, limit ?? items.length), source: `${BUNDLED_KJV} (held-out chapters)` };
  }
  const rows = parseRows(await readTextFile(spec.file), spec.file);
  const wanted = rows.slice(0, limit ?? rows.length);
  const items = wanted.map((r) => spec.task.toItem(r));
  // A task name other than "generic" keeps the harness's name; a generic file is named after itself.
  const name = spec.task.name === "generic" ? (spec.file.split(/[\\/]/).pop() ?? spec.file).replace(/\.(jsonl|json)(\.gz)?$/, "") : spec.task.name;
  const label = spec.task.name === "generic" ? name : spec.task.label;
  return { info: { name, label, metrics: spec.task.metrics }, items, source: spec.file };
}
