/**
 * What `--tasks` names: a comma-separated list whose entries are
 * - `kjv`: the built-in task (kjv.ts), which needs no file;
 * - `TASK=FILE`: one of the harness's tasks (harness-tasks.ts) or `generic`, with its rows in FILE;
 * - `FILE`: a task file; its task is the harness task its name starts with (`arc_easy-test.jsonl`,
 *   `hellaswag.jsonl`), otherwise the generic {"context", "choices", "gold"} format;
 * - `TASK` alone, for a harness task: the file `TASK.jsonl` (or `.json`) in the data directory.
 * Anything else is an unknown task. Browser-safe: whether a path exists is asked of the caller.
 */
import { InvalidArgumentError } from "../../errors.ts";
import { GENERIC_TASK, HARNESS_TASKS, harnessTask, type TaskDef } from "./harness-tasks.ts";
import { KJV_TASK_INFO } from "./kjv.ts";

export type TaskSpec = { kind: "kjv" } | { kind: "file"; task: TaskDef; file: string };

export const BUILTIN_TASKS = [KJV_TASK_INFO.name];

function knownList(): string {
  return `built in: ${BUILTIN_TASKS.join(", ")}; with a file: ${[...HARNESS_TASKS.map((t) => t.name), GENERIC_TASK.name].join(", ")} (TASK=FILE), or a .jsonl file`;
}

function basename(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** The harness task a file name starts with (the longest such name), or the generic format. */
export function taskForFile(path: string): TaskDef {
  const base = basename(path).toLowerCase();
  const match = [...HARNESS_TASKS].sort((a, b) => b.name.length - a.name.length).find((t) => base.startsWith(t.name));
  return match ?? GENERIC_TASK;
}

export interface ResolveOptions {
  exists: (path: string) => boolean;
  /** Where `TASK` alone is looked for (as TASK.jsonl or TASK.json). */
  dataDir?: string;
  join?: (dir: string, name: string) => string;
}

export function parseTaskList(arg: string, o: ResolveOptions): TaskSpec[] {
  const entries = arg.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (entries.length === 0) throw new InvalidArgumentError(`--tasks: no task given (${knownList()})`);
  const join = o.join ?? ((d: string, n: string) => `${d.replace(/[\\/]+$/, "")}/${n}`);
  return entries.map((e): TaskSpec => {
    if (e === KJV_TASK_INFO.name) return { kind: "kjv" };
    const eq = e.indexOf("=");
    if (eq > 0) {
      const name = e.slice(0, eq);
      const file = e.slice(eq + 1);
      const task = name === GENERIC_TASK.name ? GENERIC_TASK : harnessTask(name);
      if (!task) throw new InvalidArgumentError(`--tasks: unknown task '${name}' (${knownList()})`);
      if (!o.exists(file)) throw new InvalidArgumentError(`--tasks: ${file}: no such file (for task ${name})`);
      return { kind: "file", task, file };
    }
    if (o.exists(e)) return { kind: "file", task: taskForFile(e), file: e };
    const task = harnessTask(e);
    if (task) {
      for (const ext of [".jsonl", ".json"]) {
        const file = o.dataDir === undefined ? undefined : join(o.dataDir, `${e}${ext}`);
        if (file !== undefined && o.exists(file)) return { kind: "file", task, file };
      }
      throw new InvalidArgumentError(`--tasks: ${e} needs its rows (${task.dataset}): pass ${e}=FILE, or --data-dir DIR holding ${e}.jsonl`);
    }
    throw new InvalidArgumentError(`--tasks: unknown task '${e}' (${knownList()})`);
  });
}
