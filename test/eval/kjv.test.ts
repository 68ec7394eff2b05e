/**
 * The built-in KJV task (src/eval/tasks/kjv.ts): its held-out chapters are the training runs' validation
 * split (the same fraction as configs/default.json and bitnet reproduce, every 20th chapter), every item's
 * context and choices come from those chapters only, the items are the same on every run, the choices
 * match in word count, and the default model scores clearly above chance (25%) on them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { scoreItems, taskMetrics } from "../../src/eval/lm-eval.ts";
import { ModelScorer } from "../../src/eval/scorer.ts";
import { KJV_VAL_FRACTION, kjvItems } from "../../src/eval/tasks/kjv.ts";
import { loadModel } from "../../src/index.ts";
import { readCorpus } from "../../src/node/corpus-files.ts";
import { BUNDLED_KJV, heldOutChapters } from "../../src/node/task-files.ts";
import { splitDocuments } from "../../src/train/data.ts";
import { DEFAULT_REPRO_SETTINGS, REPRO_SIZES, reproRunConfig } from "../../src/train/reproduce.ts";

const DEFAULT = fileURLToPath(new URL("../../models/bitnet-default.gguf", import.meta.url));
const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));

test("the held-out chapters are the training runs' validation split: every 20th chapter", async () => {
  assert.equal(JSON.parse(readFileSync(root("configs/default.json"), "utf8")).valFraction, KJV_VAL_FRACTION);
  assert.equal(JSON.parse(readFileSync(root("models/bitnet-default.config.json"), "utf8")).valFraction, KJV_VAL_FRACTION);
  assert.equal(reproRunConfig(REPRO_SIZES[0], "bitnet", "silu", DEFAULT_REPRO_SETTINGS).valFraction, KJV_VAL_FRACTION);
  const docs = splitDocuments((await readCorpus(BUNDLED_KJV)).texts);
  const held = await heldOutChapters();
  assert.deepEqual(held, docs.filter((_, i) => i % 20 === 19));
  assert.equal(held.length, 59);
  assert.equal(held[0].split("\n")[0], "Genesis 20");
});

test("items come only from held-out chapters, are deterministic, and have matched choices", async () => {
  const held = await heldOutChapters();
  const items = kjvItems(held);
  assert.ok(items.length > 1000, `${items.length} items`);
  assert.deepEqual(kjvItems(held), items, "the same items on every call");
  const words = (s: string) => s.split(" ").length;
  let equalLengths = 0;
  const golds = [0, 0, 0, 0];
  for (const it of items) {
    assert.equal(it.choices.length, 4);
    assert.equal(new Set(it.choices).size, 4, `${it.source}: distinct choices`);
    const [prev, start] = it.requests[0].context.split("\n");
    const verse = `${prev}\n${start} ${it.choices[it.gold]}`;
    assert.ok(held.some((ch) => ch.includes(verse)), `${it.source}: the context and answer are consecutive held-out text`);
    for (const c of it.choices) assert.ok(held.some((ch) => ch.includes(` ${c}`)), `${it.source}: choice "${c}" is held-out text`);
    if (it.choices.every((c) => words(c) === words(it.choices[0]))) equalLengths++;
    golds[it.gold]++;
  }
  assert.ok(equalLengths >= 0.99 * items.length, `${equalLengths} of ${items.length} items with choices of one word count`);
  for (const g of golds) assert.ok(g > 0.2 * items.length && g < 0.3 * items.length, `gold positions ${golds}`);
});

test("the default model scores clearly above chance on the first 300 items", { skip: existsSync(DEFAULT) ? false : "models/bitnet-default.gguf is absent" }, async (t) => {
  const items = kjvItems(await heldOutChapters()).slice(0, 300);
  const model = await loadModel(DEFAULT, { threads: 1 });
  try {
    const m = taskMetrics(await scoreItems(new ModelScorer(model), model.tokenizer, items), ["acc", "acc_norm"]);
    t.diagnostic(`acc ${m.acc.toFixed(3)} ± ${m.acc_stderr?.toFixed(3)}, acc_norm ${m.acc_norm?.toFixed(3)} ± ${m.acc_norm_stderr?.toFixed(3)} (chance 0.25)`);
    assert.ok(m.acc > 0.33 && (m.acc_norm as number) > 0.33, "more than 3 standard errors above chance");
  } finally {
    await model.dispose();
  }
});
