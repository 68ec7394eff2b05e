// Rng against a from-first-principles BigInt xoshiro128** / splitmix32, hand-derived vectors, and basic uniformity.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/generate/rng.ts";

const M32 = 0xffffffffn;

/** Reference xoshiro128** written with BigInt masks, independent of the Math.imul code under test. */
function referenceXoshiro(state: bigint[], count: number): number[] {
  const s = [...state];
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M32;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number((rotl((s[1] * 5n) & M32, 7n) * 9n) & M32));
    const t = (s[1] << 9n) & M32;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
  }
  return out;
}

/** splitmix32 (golden-ratio increment, murmur3-style finalizer) in BigInt. */
function referenceSeedState(seed: number): bigint[] {
  let x = BigInt(seed);
  const words: bigint[] = [];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9n) & M32;
    let z = x;
    z = ((z ^ (z >> 16n)) * 0x85ebca6bn) & M32;
    z = ((z ^ (z >> 13n)) * 0xc2b2ae35n) & M32;
    words.push((z ^ (z >> 16n)) & M32);
  }
  return words;
}

test("xoshiro128** from state {1,2,3,4} gives the hand-derived first outputs", () => {
  // Step 1: rotl(2*5, 7) * 9 = 1280 * 9. Step 2: s1 became 0. Step 3: s1 = 1029 -> rotl(5145, 7) * 9.
  const rng = Rng.fromState([1, 2, 3, 4]);
  assert.deepEqual([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()], [11520, 0, 5927040]);
});

test("xoshiro128** matches the BigInt reference for 2000 outputs from several states", () => {
  for (const state of [[1, 2, 3, 4], [0xffffffff, 0x80000000, 0x12345678, 0xdeadbeef], [0, 0, 0, 1]] as const) {
    const rng = Rng.fromState(state);
    const ours = Array.from({ length: 2000 }, () => rng.nextUint32());
    assert.deepEqual(ours, referenceXoshiro(state.map(BigInt), 2000));
  }
});

test("seeding uses splitmix32 and matches the BigInt reference", () => {
  for (const seed of [0, 1, 42, 0x7fffffff, 0xffffffff]) {
    const rng = new Rng(seed);
    const ours = Array.from({ length: 500 }, () => rng.nextUint32());
    assert.deepEqual(ours, referenceXoshiro(referenceSeedState(seed), 500), `seed ${seed}`);
  }
});

test("same seed gives the same sequence, different seeds differ", () => {
  const a = new Rng(1234);
  const b = new Rng(1234);
  const c = new Rng(1235);
  const sa = Array.from({ length: 100 }, () => a.next());
  const sb = Array.from({ length: 100 }, () => b.next());
  const sc = Array.from({ length: 100 }, () => c.next());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test("next() is in [0, 1) and roughly uniform over 16 bins (chi-square, df 15)", () => {
  const rng = new Rng(7);
  const bins = new Array(16).fill(0);
  const n = 160000;
  for (let i = 0; i < n; i++) {
    const x = rng.next();
    assert.ok(x >= 0 && x < 1);
    bins[Math.floor(x * 16)]++;
  }
  const expected = n / 16;
  const chi2 = bins.reduce((acc, o) => acc + (o - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 37.7, `chi2 ${chi2} above the 0.001 critical value for df 15`);
});

test("bad seeds and the all-zero state are rejected", () => {
  assert.throws(() => new Rng(-1), /seed/);
  assert.throws(() => new Rng(1.5), /seed/);
  assert.throws(() => new Rng(2 ** 32), /seed/);
  assert.throws(() => Rng.fromState([0, 0, 0, 0]), /zero/);
});
