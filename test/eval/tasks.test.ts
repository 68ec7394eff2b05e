/**
 * Task readers (src/eval/tasks): each Table 2 task's row, as exported from the Hub, becomes the harness's
 * prompt, choices and gold (lm_eval/tasks/*.yaml and utils.py, read for this test); HellaSwag's preprocess
 * and Python's capitalize; what --tasks accepts; and careless input: malformed JSON (the error names the
 * file and line), a gold index out of range, missing fields, an unlabelled test split, unknown tasks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError, InvalidFileError } from "../../src/errors.ts";
import { GENERIC_TASK, harnessTask, hellaswagPreprocess, pyCapitalize, pyStrip } from "../../src/eval/tasks/harness-tasks.ts";
import { parseTaskList, taskForFile } from "../../src/eval/tasks/registry.ts";
import { parseRows } from "../../src/eval/tasks/rows.ts";

function item(task: string, row: Record<string, unknown>) {
  const def = task === "generic" ? GENERIC_TASK : harnessTask(task);
  assert.ok(def, task);
  return def.toItem({ row, where: "f.jsonl:1" });
}

test("ARC: Question/Answer prompt, choices.text, gold = the index of answerKey among the labels", () => {
  const it = item("arc_easy", { question: "Which is a gas?", choices: { text: ["ice", "steam", "rock"], label: ["1", "2", "3"] }, answerKey: "2" });
  assert.equal(it.requests[0].context, "Question: Which is a gas?\nAnswer:");
  assert.deepEqual(it.requests.map((r) => r.continuation), [" ice", " steam", " rock"]);
  assert.equal(it.gold, 1);
  assert.throws(() => item("arc_challenge", { question: "q", choices: { text: ["a", "b"], label: ["A", "B"] }, answerKey: "E" }), /f\.jsonl:1: field 'answerKey' is "E", not one of the labels A, B/);
});

test("HellaSwag: activity_label: ctx_a Ctx_b (Python capitalize), the preprocess, gold from the string label", () => {
  assert.equal(pyCapitalize("then THE man [title] Runs"), "Then the man [title] runs");
  assert.equal(pyStrip(" \t x \n"), "x");
  assert.equal(hellaswagPreprocess(" How to cook [title] Boil water. [step] Add  salt [header]  "), "How to cook. Boil water. Add salt ", "as Python computes it: the trailing space stays");
  const it = item("hellaswag", {
    activity_label: "Removing ice from car", ctx_a: "Then, the man writes over the snow covering the window of a car, and a woman wearing winter clothes smiles.", ctx_b: "then",
    endings: [", the man adds wax to the windshield and cuts it.", ", a person board a ski lift, while two men supporting the head of the person wearing winter clothes snow as the we girls sled.", ", the man puts on a christmas coat, knitted with netting.", ", the man continues removing the snow on his car."],
    label: "3",
  });
  assert.equal(it.requests[0].context, "Removing ice from car: Then, the man writes over the snow covering the window of a car, and a woman wearing winter clothes smiles. Then");
  assert.equal(it.requests[3].continuation, " , the man continues removing the snow on his car.");
  assert.equal(it.gold, 3);
  assert.throws(() => item("hellaswag", { activity_label: "a", ctx_a: "b", ctx_b: "c", endings: ["x", "y"], label: "" }), /f\.jsonl:1: field 'label' must be an integer, got ""/);
  assert.throws(() => item("hellaswag", { activity_label: "a", ctx_a: "b", ctx_b: "c", endings: ["x", "y"], label: 4 }), /f\.jsonl:1: field 'label' gives answer 4, outside the 2 choices \[0, 1\]/);
});

test("BoolQ: passage, question with '?', no/yes; super_glue's label or google/boolq's answer", () => {
  const it = item("boolq", { passage: "Water boils at 100 C.", question: "does water boil at 100 c", label: 1 });
  assert.equal(it.requests[0].context, "Water boils at 100 C.\nQuestion: does water boil at 100 c?\nAnswer:");
  assert.deepEqual(it.choices, ["no", "yes"]);
  assert.equal(it.gold, 1);
  assert.equal(item("boolq", { passage: "p", question: "q", answer: false }).gold, 0);
  assert.throws(() => item("boolq", { passage: "p", question: "q", label: 2 }), /field 'label' gives answer 2, outside the 2 choices/);
});

test("OpenBookQA: question_stem alone, answerKey lstripped; PIQA: Question/Answer with sol1, sol2", () => {
  const o = item("openbookqa", { question_stem: "The sun is responsible for", choices: { text: ["puppies learning new tricks", "plants sprouting"], label: ["A", "B"] }, answerKey: " B" });
  assert.equal(o.requests[0].context, "The sun is responsible for");
  assert.equal(o.gold, 1);
  const p = item("piqa", { goal: "How do I open a jar?", sol1: "Twist the lid.", sol2: "Eat the lid.", label: 0 });
  assert.equal(p.requests[1].context, "Question: How do I open a jar?\nAnswer:");
  assert.deepEqual(p.requests.map((r) => r.continuation), [" Twist the lid.", " Eat the lid."]);
});

test("WinoGrande: two contexts (the sentence up to _ with each option), one continuation (the rest, stripped)", () => {
  const it = item("winogrande", { sentence: "The trophy doesn't fit into the suitcase because the _ is too large.", option1: "trophy", option2: "suitcase", answer: "1" });
  assert.deepEqual(it.requests.map((r) => r.context), ["The trophy doesn't fit into the suitcase because the trophy", "The trophy doesn't fit into the suitcase because the suitcase"]);
  assert.deepEqual(it.requests.map((r) => r.continuation), [" is too large.", " is too large."]);
  assert.equal(it.gold, 0);
  assert.throws(() => item("winogrande", { sentence: "no blank", option1: "a", option2: "b", answer: "1" }), /field 'sentence' has no '_'/);
  assert.throws(() => item("winogrande", { sentence: "a _ b", option1: "a", option2: "b", answer: "" }), /field 'answer' must be "1" or "2", got ""/);
});

test("generic rows: context, choices, gold; a gold out of range, an empty choice and missing fields name the line", () => {
  const it = item("generic", { context: "2 + 2 =", choices: ["4", "5"], gold: 0 });
  assert.deepEqual([it.requests[0].context, it.requests[1].continuation, it.gold], ["2 + 2 =", " 5", 0]);
  assert.throws(() => item("generic", { context: "c", choices: ["a", "b"], gold: 2 }), (e: Error) => e instanceof InvalidFileError && e.message === "f.jsonl:1: field 'gold' gives answer 2, outside the 2 choices [0, 1]");
  assert.throws(() => item("generic", { context: "c", choices: ["a", "b"], gold: -1 }), /outside the 2 choices/);
  assert.throws(() => item("generic", { context: "c", choices: ["a", ""], gold: 0 }), /f\.jsonl:1: field 'choices' has an empty choice \(1\)/);
  assert.throws(() => item("generic", { choices: ["a"], gold: 0 }), /f\.jsonl:1: field 'context' must be a string, got missing/);
  assert.throws(() => item("generic", { context: "c", choices: "a", gold: 0 }), /field 'choices' must be a non-empty list of strings/);
  assert.throws(() => item("generic", { context: "c", choices: ["a"], gold: 0.5 }), /field 'gold' must be an integer, got 0\.5/);
});

test("parseRows: JSON Lines (blank lines skipped, CRLF), a JSON array; malformed rows name the file and line", () => {
  const rows = parseRows('{"a": 1}\r\n\n{"a": 2}\n', "t.jsonl");
  assert.deepEqual(rows.map((r) => [r.row.a, r.where]), [[1, "t.jsonl:1"], [2, "t.jsonl:3"]]);
  assert.deepEqual(parseRows('[{"a": 1}, {"a": 2}]', "t.json").map((r) => r.where), ["t.json: row 1", "t.json: row 2"]);
  assert.throws(() => parseRows('{"a": 1}\n{"a": 2\n', "bad.jsonl"), (e: Error) => e instanceof InvalidFileError && /^bad\.jsonl:2: not valid JSON \(/.test(e.message) && !e.message.includes("\n"));
  assert.throws(() => parseRows('{"a": 1}\n[1, 2]\n', "arr.jsonl"), /arr\.jsonl:2: a row must be a JSON object/);
  assert.throws(() => parseRows("", "empty.jsonl"), /empty\.jsonl: the task file is empty/);
  assert.throws(() => parseRows("[1]", "x.json"), /x\.json: row 1: a row must be a JSON object/);
  assert.throws(() => parseRows("[{", "y.json"), /y\.json: not valid JSON/);
});

test("--tasks: built-in names, TASK=FILE, files by name, TASK alone in --data-dir; unknown tasks are one clear error", () => {
  const files = new Set(["data/arc_easy-test.jsonl", "mine.jsonl", "dir/piqa.jsonl", "x.jsonl"]);
  const o = { exists: (p: string) => files.has(p), dataDir: "dir" };
  const specs = parseTaskList("kjv, hellaswag=x.jsonl,data/arc_easy-test.jsonl,mine.jsonl,piqa", o);
  assert.deepEqual(specs.map((s) => (s.kind === "kjv" ? "kjv" : `${s.task.name}:${s.file}`)), ["kjv", "hellaswag:x.jsonl", "arc_easy:data/arc_easy-test.jsonl", "generic:mine.jsonl", "piqa:dir/piqa.jsonl"]);
  assert.equal(taskForFile("/a/b/ARC_Challenge.jsonl").name, "arc_challenge");
  assert.throws(() => parseTaskList("mmlu", o), (e: Error) => e instanceof InvalidArgumentError && /^--tasks: unknown task 'mmlu' \(built in: kjv; with a file: arc_easy, /.test(e.message));
  assert.throws(() => parseTaskList("nope=x.jsonl", o), /--tasks: unknown task 'nope'/);
  assert.throws(() => parseTaskList("boolq", o), /--tasks: boolq needs its rows \(aps\/super_glue \(boolq\), validation split\): pass boolq=FILE, or --data-dir DIR holding boolq\.jsonl/);
  assert.throws(() => parseTaskList("piqa=missing.jsonl", o), /--tasks: missing\.jsonl: no such file \(for task piqa\)/);
  assert.throws(() => parseTaskList(" , ", o), /--tasks: no task given/);
});
