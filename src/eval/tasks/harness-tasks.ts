/**
 * The BitNet b1.58 paper's zero-shot tasks (its Table 2), with the prompts, choices, gold answers and
 * preprocessing of lm-evaluation-harness 0.4's task configs (lm_eval/tasks/<task>/*.yaml and utils), and
 * the generic format for anything else. Each task turns one row of the dataset, as exported from the Hub,
 * into an McItem. The split is the one the harness evaluates (its test_split if it has one, else
 * validation_split).
 *
 * | task | Hub dataset (config) | split | context | choices | metrics |
 * |---|---|---|---|---|---|
 * | arc_easy, arc_challenge | allenai/ai2_arc (ARC-Easy, ARC-Challenge) | test | `Question: {question}\nAnswer:` | choices.text | acc, acc_norm |
 * | hellaswag | Rowan/hellaswag | validation | preprocess(`{activity_label}: {ctx_a} {ctx_b.capitalize()}`) | preprocess(endings) | acc, acc_norm |
 * | boolq | aps/super_glue (boolq) | validation | `{passage}\nQuestion: {question}?\nAnswer:` | no, yes | acc |
 * | openbookqa | allenai/openbookqa (main) | test | question_stem | choices.text | acc, acc_norm |
 * | piqa | baber/piqa | validation | `Question: {goal}\nAnswer:` | sol1, sol2 | acc, acc_norm |
 * | winogrande | allenai/winogrande (winogrande_xl) | validation | sentence up to `_`, + option1 / option2 | the rest of the sentence (partial scoring) | acc |
 * | generic | any JSONL of {"context", "choices", "gold"} | — | context | choices | acc, acc_norm |
 *
 * Not here: the built-in KJV task (kjv.ts), reading files (src/node/task-files.ts).
 */
import { InvalidFileError } from "../../errors.ts";
import { choiceItem, multipleInputItem, type McItem, type Metric } from "../lm-eval.ts";
import { checkGold, intField, labelledChoices, str, strList, type SourcedRow } from "./rows.ts";

export interface TaskDef {
  /** The harness's task name. */
  name: string;
  /** The column heading of the paper's Table 2. */
  label: string;
  /** Where the rows come from, for the docs and messages: "allenai/ai2_arc (ARC-Easy), test". */
  dataset: string;
  /** The metrics the harness reports for it. */
  metrics: readonly Metric[];
  toItem(r: SourcedRow): McItem;
}

// Python's str.isspace() characters: strip() below is the harness's strip().
const PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const LEADING = new RegExp(`^${PY_SPACE}+`, "u");
const TRAILING = new RegExp(`${PY_SPACE}+$`, "u");

export function pyStrip(s: string): string {
  return s.replace(LEADING, "").replace(TRAILING, "");
}

/** Python's str.capitalize(): the first character upper-cased, every other one lower-cased. */
export function pyCapitalize(s: string): string {
  const [first = "", ...rest] = s;
  return first.toUpperCase() + rest.join("").toLowerCase();
}

/** HellaSwag's preprocess (lm_eval/tasks/hellaswag/utils.py): strip, " [title]" → ". ", drop "[…]", "  " → " ". */
export function hellaswagPreprocess(text: string): string {
  let t = pyStrip(text);
  t = t.replaceAll(" [title]", ". ");
  t = t.replace(/\[.*?\]/g, "");
  return t.replaceAll("  ", " ");
}

function labelIndex(r: SourcedRow, labels: readonly string[], key: string, strip = false): number {
  const raw = str(r, key);
  const answer = strip ? raw.replace(LEADING, "") : raw;
  const i = labels.indexOf(answer);
  if (i < 0) throw new InvalidFileError(`${r.where}: field '${key}' is ${JSON.stringify(raw)}, not one of the labels ${labels.join(", ")}`);
  return i;
}

function arc(name: string, label: string, config: string): TaskDef {
  return {
    name, label, dataset: `allenai/ai2_arc (${config}), test split`, metrics: ["acc", "acc_norm"],
    toItem(r) {
      const choices = labelledChoices(r, "choices");
      return choiceItem(`Question: ${str(r, "question")}\nAnswer:`, choices.text, labelIndex(r, choices.label, "answerKey"), r.where);
    },
  };
}

export const HARNESS_TASKS: readonly TaskDef[] = [
  arc("arc_easy", "ARCe", "ARC-Easy"),
  arc("arc_challenge", "ARCc", "ARC-Challenge"),
  {
    name: "hellaswag", label: "HS", dataset: "Rowan/hellaswag, validation split", metrics: ["acc", "acc_norm"],
    toItem(r) {
      const endings = strList(r, "endings");
      const ctx = `${str(r, "ctx_a")} ${pyCapitalize(str(r, "ctx_b"))}`;
      const query = hellaswagPreprocess(`${str(r, "activity_label")}: ${ctx}`);
      return choiceItem(query, endings.map(hellaswagPreprocess), checkGold(r, intField(r, "label"), endings.length, "label"), r.where);
    },
  },
  {
    name: "boolq", label: "BQ", dataset: "aps/super_glue (boolq), validation split", metrics: ["acc"],
    toItem(r) {
      // super_glue has `label` (0 = no, 1 = yes); google/boolq has `answer` (false / true).
      const gold = typeof r.row.answer === "boolean" && r.row.label === undefined ? Number(r.row.answer) : checkGold(r, intField(r, "label"), 2, "label");
      return choiceItem(`${str(r, "passage")}\nQuestion: ${str(r, "question")}?\nAnswer:`, ["no", "yes"], gold, r.where);
    },
  },
  {
    name: "openbookqa", label: "OQ", dataset: "allenai/openbookqa (main), test split", metrics: ["acc", "acc_norm"],
    toItem(r) {
      const choices = labelledChoices(r, "choices");
      return choiceItem(str(r, "question_stem"), choices.text, labelIndex(r, choices.label, "answerKey", true), r.where);
    },
  },
  {
    name: "piqa", label: "PQ", dataset: "baber/piqa, validation split", metrics: ["acc", "acc_norm"],
    toItem(r) {
      return choiceItem(`Question: ${str(r, "goal")}\nAnswer:`, [str(r, "sol1"), str(r, "sol2")], checkGold(r, intField(r, "label"), 2, "label"), r.where);
    },
  },
  {
    name: "winogrande", label: "WGe", dataset: "allenai/winogrande (winogrande_xl), validation split", metrics: ["acc"],
    toItem(r) {
      const sentence = str(r, "sentence");
      const blank = sentence.indexOf("_");
      if (blank < 0) throw new InvalidFileError(`${r.where}: field 'sentence' has no '_' to fill`);
      const answer = str(r, "answer");
      if (answer !== "1" && answer !== "2") throw new InvalidFileError(`${r.where}: field 'answer' must be "1" or "2", got ${JSON.stringify(answer)}`);
      const before = sentence.slice(0, blank);
      const contexts = [before + str(r, "option1"), before + str(r, "option2")];
      return multipleInputItem(contexts, pyStrip(sentence.slice(blank + 1)), Number(answer) - 1, r.where);
    },
  },
];

/** {"context": string, "choices": [string, …], "gold": index}: scored like the harness's tasks, with acc and acc_norm. */
export const GENERIC_TASK: TaskDef = {
  name: "generic", label: "generic", dataset: 'JSON Lines of {"context", "choices", "gold"}', metrics: ["acc", "acc_norm"],
  toItem(r) {
    const choices = strList(r, "choices");
    choices.forEach((c, i) => {
      if (c === "") throw new InvalidFileError(`${r.where}: field 'choices' has an empty choice (${i})`);
    });
    return choiceItem(str(r, "context"), choices, checkGold(r, intField(r, "gold"), choices.length, "gold"), r.where);
  },
};

export function harnessTask(name: string): TaskDef | undefined {
  return HARNESS_TASKS.find((t) => t.name === name);
}
