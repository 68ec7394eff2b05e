// StopMatcher: stop strings split across pieces, overlapping prefixes, several stops, flush.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StopMatcher } from "../../src/generate/stop.ts";

/** Feeds pieces one by one; returns everything emitted, whether it stopped, and the emits per push. */
function run(stops: string[], pieces: string[]) {
  const m = new StopMatcher(stops);
  const emits: string[] = [];
  let stopped = false;
  for (const piece of pieces) {
    const r = m.push(piece);
    emits.push(r.emit);
    stopped = r.stopped;
    if (stopped) break;
  }
  const tail = m.flush();
  return { text: emits.join("") + tail, stopped, emits, tail, matched: m.matched };
}

test("no stop strings: text passes straight through", () => {
  const r = run([], ["Hel", "lo", " world"]);
  assert.deepEqual(r.emits, ["Hel", "lo", " world"]);
  assert.equal(r.stopped, false);
});

test("a stop string inside one piece cuts the text before it", () => {
  const r = run(["\nUser:"], ["Sure thing.\nUser: next"]);
  assert.equal(r.text, "Sure thing.");
  assert.equal(r.stopped, true);
  assert.equal(r.matched, "\nUser:");
});

test("a stop string split across pieces is held back and never emitted", () => {
  const r = run(["<|eot_id|>"], ["Answer", " is 4", "<|e", "ot", "_id|>", "ignored"]);
  assert.deepEqual(r.emits, ["Answer", " is 4", "", "", ""]);
  assert.equal(r.text, "Answer is 4");
  assert.equal(r.stopped, true);
});

test("a held-back prefix that turns out not to be a stop is released", () => {
  const r = run(["STOP"], ["a ST", "ART b", " ST"]);
  assert.deepEqual(r.emits, ["a ", "START b", " "]);
  assert.equal(r.tail, "ST");
  assert.equal(r.text, "a START b ST");
  assert.equal(r.stopped, false);
});

test("overlapping prefixes: 'abab' then 'c' finds 'abc' starting at the second a", () => {
  const r = run(["abc"], ["xab", "ab", "c", "tail"]);
  assert.equal(r.text, "xab");
  assert.equal(r.stopped, true);
  // While waiting, only the part that can still start "abc" is held back.
  assert.deepEqual(r.emits.slice(0, 2), ["x", "ab"]);
});

test("self-overlapping stop 'aab' over 'aaab'", () => {
  const r = run(["aab"], ["a", "a", "a", "b"]);
  assert.deepEqual(r.emits, ["", "", "a", ""]);
  assert.equal(r.text, "a");
  assert.equal(r.stopped, true);
});

test("with several stops the earliest occurrence wins", () => {
  const r = run(["world", "lo w"], ["hel", "lo wor", "ld"]);
  assert.equal(r.text, "hel");
  assert.equal(r.matched, "lo w");
  const r2 = run(["END", "\n\n"], ["one\n", "\ntwo END"]);
  assert.equal(r2.text, "one");
  assert.equal(r2.matched, "\n\n");
});

test("the longest possible partial match is held when stops share prefixes", () => {
  const m = new StopMatcher(["<|eot_id|>", "<|end_of_text|>"]);
  assert.deepEqual(m.push("hi <|e"), { emit: "hi ", stopped: false });
  assert.deepEqual(m.push("nd_of"), { emit: "", stopped: false });
  assert.deepEqual(m.push("_text|> more"), { emit: "", stopped: true });
  assert.equal(m.matched, "<|end_of_text|>");
  assert.equal(m.flush(), "");
  assert.deepEqual(m.push("after"), { emit: "", stopped: true });
});

test("a stop string at the very start emits nothing", () => {
  const r = run(["###"], ["###", "x"]);
  assert.equal(r.text, "");
  assert.equal(r.stopped, true);
});

test("multi-byte text around a stop string", () => {
  const r = run(["。"], ["日本", "語です", "。次"]);
  assert.equal(r.text, "日本語です");
  const e = run(["🛑"], ["go 🚀", " 🛑 no"]);
  assert.equal(e.text, "go 🚀 ");
});

test("character-by-character streaming gives the same result as one push", () => {
  const text = "The answer: 42.\n\nUser: thanks";
  const stops = ["\n\nUser:", "\nAssistant:"];
  const whole = run(stops, [text]);
  const chars = run(stops, [...text]);
  assert.equal(chars.text, whole.text);
  assert.equal(whole.text, "The answer: 42.");
});

test("empty stop strings are rejected", () => {
  assert.throws(() => new StopMatcher(["ok", ""]), /stops\[1\]/);
});
