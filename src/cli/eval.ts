/**
 * `bitnet eval -m FILE [--tasks NAMES|FILES] [--limit N] [--json] [--out DIR] [--data-dir DIR]`: zero-shot
 * multiple choice scored as lm-evaluation-harness 0.4 scores it (src/eval/lm-eval.ts), on the built-in
 * KJV task (the default) and on the paper's Table 2 tasks from files exported from the Hub
 * (src/eval/tasks/registry.ts says what --tasks accepts).
 *
 * Prints one line per task with acc and acc_norm ± their standard errors, then the Table 2 row;
 * `--json` prints {"model", "results": {"<task>": {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr", "n"}},
 * "headline", "average"}. `--out DIR` writes results.json, results.md and samples-<task>.jsonl (each
 * item's log-likelihoods, is_greedy, gold and scores).
 */
import type { Command } from "commander";
import { mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { ModelScorer } from "../eval/scorer.ts";
import { countParameters, formatParams } from "../eval/report.ts";
import { evalJson, metricsLines, table2Markdown } from "../eval/table.ts";
import { readModelHeader } from "../node/model-header.ts";
import { loadTasks, samplesJsonl, scoreTasks } from "../node/evaluate.ts";
import { writeFileAtomic } from "../node/write-atomic.ts";
import { defaultModelPath } from "../node/default-model.ts";
import { addModelFlags, openModel, parseIntFlag, type ModelFlags } from "./model-options.ts";
import { countProgressBar } from "./progress.ts";

interface EvalFlags extends ModelFlags {
  tasks: string;
  limit?: string;
  json?: boolean;
  out?: string;
  dataDir?: string;
  addBosToken: string;
}

/** --add-bos-token: lm-eval's add_bos_token model argument (None, True, False). */
export function parseAddBos(v: string): boolean | undefined {
  if (v === "auto") return undefined;
  if (v === "true" || v === "false") return v === "true";
  throw new Error(`--add-bos-token must be auto, true or false, got '${v}'`);
}

export function registerEval(program: Command): void {
  const cmd = program
    .command("eval")
    .description("zero-shot multiple-choice accuracy, scored as lm-evaluation-harness scores it")
    .option("--tasks <list>", "comma-separated: kjv (built in), TASK=FILE (arc_easy, arc_challenge, hellaswag, boolq, openbookqa, piqa, winogrande, generic), a .jsonl file, or TASK alone with --data-dir", "kjv")
    .option("--limit <n>", "score only the first N items of each task")
    .option("--data-dir <dir>", "where TASK alone is looked for, as TASK.jsonl or TASK.json")
    .option("--out <dir>", "write results.json, results.md and samples-<task>.jsonl there")
    .option("--add-bos-token <auto|true|false>", "BOS before each context: auto = when the vocabulary adds it (lm-eval ≥ 0.4.10); false = lm-eval 0.4.0–0.4.9's default", "auto")
    .option("--json", "print one JSON object");
  addModelFlags(cmd);
  cmd.action(async (flags: EvalFlags) => {
    const path = flags.model ?? defaultModelPath();
    if (!path) throw new Error("no model given: pass -m FILE (no embedded default model is installed)");
    const limit = parseIntFlag("limit", flags.limit, 1);
    const addBos = parseAddBos(flags.addBosToken);
    const tasks = await loadTasks(flags.tasks, { limit, dataDir: flags.dataDir }); // bad task files fail before the model loads
    const model = await openModel({ ...flags, model: path });
    try {
      const t0 = performance.now();
      const runs = await scoreTasks(new ModelScorer(model), model.tokenizer, tasks, { addBos, progress: flags.json ? undefined : countProgressBar });
      const seconds = (performance.now() - t0) / 1000;
      const results = runs.map((r) => r.result);
      const json = evalJson(path, results);
      const table = table2Markdown([{ model: basename(path), size: formatParams(countParameters((await readModelHeader(path)).tensors)), results }]);
      if (flags.out !== undefined) {
        await mkdir(flags.out, { recursive: true });
        await writeFileAtomic(join(flags.out, "results.json"), `${JSON.stringify(json, null, 2)}\n`);
        await writeFileAtomic(join(flags.out, "results.md"), `${table}\n\n${metricsLines(results).map((l) => `    ${l}`).join("\n")}\n`);
        for (const r of runs) await writeFileAtomic(join(flags.out, `samples-${r.result.task.name}.jsonl`), samplesJsonl(r));
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(json)}\n`);
        return;
      }
      process.stdout.write(`${metricsLines(results).join("\n")}\n\n${table}\n`);
      process.stderr.write(`${runs.reduce((s, r) => s + r.scores.length, 0)} items in ${seconds.toFixed(1)} s${flags.out ? `; results → ${flags.out}` : ""}\n`);
    } finally {
      await model.dispose();
    }
  });
}
