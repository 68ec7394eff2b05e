/**
 * A zero-shot task that needs no download: multiple-choice items made from the held-out chapters of the
 * bundled King James Bible (data/kjv.txt.gz), the chapters no model trained by `bitnet train` or
 * `bitnet reproduce` on that corpus has seen. The held-out chapters are exactly the training pipeline's
 * validation split (src/train/data.ts: every 20th chapter, valFraction 0.05), computed by the same code.
 *
 * An item, for each verse of 8 words or more that follows another verse of its chapter:
 * - context: the previous verse, a newline, and the first ⌊w/2⌋ of the verse's w words;
 * - choices: the next words of the verse, at most 6 (the answer), and the same stretch of three other
 *   held-out verses, from other chapters, with the same number of words where there are enough (else
 *   the nearest counts), so that length alone says nothing; the answer's position is drawn at random.
 *   Six words keep the continuations short enough for models with a context of 64 tokens and a
 *   byte-like vocabulary, and leave the words that depend most on the context;
 * - everything is drawn from a generator with a fixed seed, so the items are the same on every run.
 * Chance is 25%. Scored like every other task (lm-eval.ts): acc and acc_norm.
 *
 * Text in, items out: reading the corpus is src/node/task-files.ts's job.
 */
import { splitDocuments, splitTrainValidation } from "../../train/data.ts";
import { createRng } from "../../train/rng.ts";
import { choiceItem, type McItem } from "../lm-eval.ts";
import type { TaskDef } from "./harness-tasks.ts";

/** The validation share of the training runs (configs/default.json and bitnet reproduce): every 20th chapter. */
export const KJV_VAL_FRACTION = 0.05;
export const KJV_SEED = 20240227; // the b1.58 paper's arXiv date
const MIN_WORDS = 8;
const CHOICES = 4;
const MAX_ANSWER_WORDS = 6;

export const KJV_TASK_INFO: Omit<TaskDef, "toItem"> = {
  name: "kjv", label: "KJV", dataset: "the held-out chapters of data/kjv.txt.gz (built in)", metrics: ["acc", "acc_norm"],
};

/** The held-out chapters (documents) of the corpus texts, as the trainer splits them. */
export function kjvHeldOutChapters(texts: readonly string[]): string[] {
  return splitTrainValidation(splitDocuments(texts), KJV_VAL_FRACTION).validation;
}

/** The held-out text as one string, chapters separated by a blank line (for perplexity). */
export function kjvHeldOutText(texts: readonly string[]): string {
  return kjvHeldOutChapters(texts).join("\n");
}

interface Candidate {
  chapter: number;
  context: string;
  answer: string;
  words: number;
}

/** The items of the KJV task, in chapter and verse order. */
export function kjvItems(chapters: readonly string[], what = "kjv"): McItem[] {
  const cands: Candidate[] = [];
  chapters.forEach((doc, c) => {
    const verses = doc.split("\n").filter((l) => l.trim() !== "").slice(1); // the first line is the heading ("Genesis 20")
    for (let v = 1; v < verses.length; v++) {
      const words = verses[v].trim().split(/\s+/);
      if (words.length < MIN_WORDS) continue;
      const k = Math.floor(words.length / 2);
      const answer = words.slice(k, k + MAX_ANSWER_WORDS);
      cands.push({ chapter: c, context: `${verses[v - 1].trim()}\n${words.slice(0, k).join(" ")}`, answer: answer.join(" "), words: answer.length });
    }
  });
  const byWords = new Map<number, Candidate[]>();
  for (const x of cands) byWords.set(x.words, [...(byWords.get(x.words) ?? []), x]);
  const rng = createRng(KJV_SEED);
  const items: McItem[] = [];
  cands.forEach((item) => {
    const picked: string[] = [];
    // Same word count first, then ±1, ±2, …: distractors from other chapters, distinct from the answer and each other.
    for (let d = 0; picked.length < CHOICES - 1 && d < 64; d++) {
      for (const w of d === 0 ? [item.words] : [item.words - d, item.words + d]) {
        const pool = (byWords.get(w) ?? []).filter((x) => x.chapter !== item.chapter && x.answer !== item.answer && !picked.includes(x.answer));
        while (picked.length < CHOICES - 1 && pool.length > 0) picked.push(pool.splice(rng.int(pool.length), 1)[0].answer);
      }
    }
    if (picked.length === 0) return; // a corpus too small to offer another choice
    const gold = rng.int(picked.length + 1);
    const choices = [...picked];
    choices.splice(gold, 0, item.answer);
    items.push(choiceItem(item.context, choices, gold, `${what}: item ${items.length + 1}`));
  });
  return items;
}
