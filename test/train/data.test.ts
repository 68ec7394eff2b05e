// Training data: document split, the train/validation rule, token streams, gzip input, and the batcher's
// determinism and exact resumability (the cursor is the whole state of the data order).

import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  Batcher, corpusText, epochPlan, splitDocuments, splitTrainValidation, tokenStream, validationWindows,
} from "../../src/train/data.ts";

test("splitDocuments cuts at blank lines (CRLF too) and ends every document with one newline", () => {
  const docs = splitDocuments(["Genesis 1\r\nIn the beginning.\r\n\r\n\r\nGenesis 2\nThus the heavens.\n   \nlast", "\n\nsecond file\n"]);
  assert.deepEqual(docs, ["Genesis 1\nIn the beginning.\n", "Genesis 2\nThus the heavens.\n", "last\n", "second file\n"]);
});

test("the split sends every k-th document to validation, k = round(1/valFraction), and falls back to lines", () => {
  const docs = Array.from({ length: 45 }, (_, i) => `doc ${i}\n`);
  const s = splitTrainValidation(docs, 0.1);
  assert.equal(s.unit, "documents");
  assert.deepEqual(s.validation, ["doc 9\n", "doc 19\n", "doc 29\n", "doc 39\n"]);
  assert.equal(s.train.length, 41);
  assert.ok(!s.train.includes("doc 9\n") && s.train.includes("doc 10\n"));
  assert.deepEqual(splitTrainValidation(docs, 0.1), s, "deterministic");
  // Two documents of many lines: lines are the units.
  const lines = splitTrainValidation(["a\nb\nc\nd\ne\n", "f\ng\nh\ni\nj\n"], 0.25);
  assert.equal(lines.unit, "lines");
  assert.deepEqual(lines.validation, ["d\n", "h\n"]);
  assert.deepEqual(splitTrainValidation(docs, 0).validation, []);
  assert.throws(() => splitTrainValidation(["a\n"], 0.1), /needs at least 20/);
  assert.throws(() => splitTrainValidation(docs, 0.6), /valFraction/);
});

test("tokenStream is bos, tokens, eos per document", () => {
  const enc = (t: string): number[] => [...t].map((c) => c.charCodeAt(0));
  assert.deepEqual([...tokenStream(["ab", "c"], enc, 1, 2)], [1, 97, 98, 2, 1, 99, 2]);
});

test("corpusText reads gzip (by magic bytes) and plain UTF-8, and names the file on bad bytes", async () => {
  const text = "In the beginning God created the heaven and the earth. — ✓\n";
  const bytes = new TextEncoder().encode(text);
  assert.equal(await corpusText(new Uint8Array(gzipSync(bytes)), "x.gz"), text);
  assert.equal(await corpusText(bytes, "x.txt"), text);
  await assert.rejects(corpusText(Uint8Array.of(0xff, 0xfe, 0x41), "bad.txt"), /bad\.txt: not UTF-8/);
});

test("an epoch plan is a seeded permutation of all windows at one offset", () => {
  const n = 1000;
  const T = 16;
  const p = epochPlan(n, T, 7, 3);
  assert.ok(p.offset >= 0 && p.offset < T);
  assert.equal(p.starts.length, Math.floor((n - p.offset - 1) / T));
  const sorted = [...p.starts].sort((a, b) => a - b);
  sorted.forEach((s, j) => assert.equal(s, p.offset + j * T));
  assert.ok(sorted[sorted.length - 1] + T + 1 <= n, "the last window's target fits");
  assert.deepEqual(epochPlan(n, T, 7, 3), p, "same seed and epoch, same plan");
  assert.notDeepEqual(epochPlan(n, T, 7, 4).starts, p.starts, "another epoch, another order");
  assert.notDeepEqual(epochPlan(n, T, 8, 3).starts, p.starts, "another seed, another order");
  assert.throws(() => epochPlan(2 * T, T, 1, 0), /fewer than/);
});

test("batches are windows of the stream (targets shifted by one) and resume exactly from a cursor, across epochs", () => {
  const tokens = Int32Array.from({ length: 300 }, (_, i) => i);
  const T = 8;
  const B = 5;
  const a = new Batcher(tokens, T, 42);
  const perEpoch = a.windowsPerEpoch;
  const batches: { inp: number[]; tgt: number[] }[] = [];
  const cursors = [];
  for (let i = 0; i < 30; i++) { // 150 windows: several epochs of ~37
    cursors.push(a.cursor);
    const inp = new Int32Array(B * T);
    const tgt = new Int32Array(B * T);
    a.next(inp, tgt, B);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        assert.equal(tgt[b * T + t], inp[b * T + t] + 1, "target is the next token");
        if (t > 0) assert.equal(inp[b * T + t], inp[b * T + t - 1] + 1, "a window is contiguous");
      }
    }
    batches.push({ inp: [...inp], tgt: [...tgt] });
  }
  assert.ok(a.cursor.epoch >= 3, `crossed epochs (cursor ${JSON.stringify(a.cursor)}, ${perEpoch} windows per epoch)`);
  // Within the first epoch every window is served once.
  const firstEpochStarts = batches.slice(0, Math.floor(perEpoch / B)).flatMap((b) => b.inp.filter((_, i) => i % T === 0));
  assert.equal(new Set(firstEpochStarts).size, firstEpochStarts.length);
  // Resume from any saved cursor: the same batches follow.
  for (const k of [0, 7, 8, 19]) {
    const r = new Batcher(tokens, T, 42, cursors[k]);
    for (let i = k; i < 30; i++) {
      const inp = new Int32Array(B * T);
      const tgt = new Int32Array(B * T);
      r.next(inp, tgt, B);
      assert.deepEqual([...inp], batches[i].inp, `resumed at batch ${k}, batch ${i}`);
    }
  }
  assert.throws(() => new Batcher(tokens, T, 42, { epoch: 0, index: 999 }), /past epoch 0/);
});

test("validation windows are evenly spaced, non-overlapping and capped by maxTokens", () => {
  assert.deepEqual([...validationWindows(101, 10, 1000)], [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  assert.deepEqual([...validationWindows(101, 10, 30)], [0, 30, 60]);
  assert.deepEqual([...validationWindows(5, 10, 100)], []);
});
