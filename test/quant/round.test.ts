// Rounding rules against first-principles references written here (floor and compare, no Math.round).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ggmlNearestInt, roundHalfAway, roundHalfEven } from "../../src/quant/round.ts";

/** Half to even from the definition: compare the fraction above floor(x) with 1/2. */
function refHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const frac = x - f; // exact for doubles
  let r: number;
  if (frac < 0.5) r = f;
  else if (frac > 0.5) r = f + 1;
  else r = f % 2 === 0 ? f : f + 1;
  // torch keeps the sign of zero for negative inputs that round to zero
  return r === 0 && (x < 0 || Object.is(x, -0)) ? -0 : r;
}

/** Half away from zero from the definition (C roundf). */
function refHalfAway(x: number): number {
  if (!Number.isFinite(x)) return x;
  const a = Math.abs(x);
  const f = Math.floor(a);
  const r = a - f >= 0.5 ? f + 1 : f;
  return x < 0 || Object.is(x, -0) ? -r : r;
}

/** ggml's nearest_int exactly as the C code computes it: float32 add, then read the mantissa bits. */
function refNearestInt(x: number): number {
  const f = new Float32Array(1);
  const i = new Int32Array(f.buffer);
  f[0] = Math.fround(x) + 12582912;
  return (i[0] & 0x007fffff) - 0x00400000;
}

test("roundHalfEven: ties go to the even integer, and the sign of zero is kept", () => {
  const cases: [number, number][] = [
    [0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-0.5, -0], [-1.5, -2], [-2.5, -2], [-3.5, -4],
    [0, 0], [-0, -0], [0.49999999999999994, 0], [-0.49999999999999994, -0], [0.5000000000000001, 1],
    [4503599627370495.5, 4503599627370496], [4503599627370494.5, 4503599627370494],
    [2 ** 52, 2 ** 52], [2 ** 53 + 2, 2 ** 53 + 2], [-(2 ** 60), -(2 ** 60)], [1e300, 1e300],
    [Infinity, Infinity], [-Infinity, -Infinity], [5e-324, 0], [-5e-324, -0],
    [126.5, 126], [127.5, 128], [-127.5, -128], [-128.5, -128],
  ];
  for (const [x, want] of cases) assert.ok(Object.is(roundHalfEven(x), want), `roundHalfEven(${x}) = ${roundHalfEven(x)}, want ${want}`);
  assert.ok(Number.isNaN(roundHalfEven(NaN)));
});

test("roundHalfEven agrees with the definition on random doubles and on exact ties", () => {
  fc.assert(fc.property(fc.double({ noNaN: true }), (x) => Object.is(roundHalfEven(x), refHalfEven(x))), { seed: 1, numRuns: 20000 });
  fc.assert(fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), (k) => Object.is(roundHalfEven(k + 0.5), refHalfEven(k + 0.5))), { seed: 2, numRuns: 5000 });
  fc.assert(fc.property(fc.float({ noNaN: true }), (x) => Object.is(roundHalfEven(x), refHalfEven(x))), { seed: 3, numRuns: 20000 });
});

test("roundHalfAway is C roundf: ties away from zero", () => {
  const cases: [number, number][] = [
    [0.5, 1], [1.5, 2], [2.5, 3], [-0.5, -1], [-2.5, -3], [0.49999999999999994, 0], [-0.3, -0], [0, 0], [-0, -0],
    [4503599627370495.5, 4503599627370496], [2 ** 53, 2 ** 53], [Infinity, Infinity],
  ];
  for (const [x, want] of cases) assert.ok(Object.is(roundHalfAway(x), want), `roundHalfAway(${x}) = ${roundHalfAway(x)}, want ${want}`);
  fc.assert(fc.property(fc.double({ noNaN: true }), (x) => Object.is(roundHalfAway(x), refHalfAway(x))), { seed: 4, numRuns: 20000 });
});

test("ggmlNearestInt reproduces the C bit trick, inside and outside its asserted range", () => {
  fc.assert(
    fc.property(fc.float({ noNaN: true, min: -4194303, max: 4194303 }), (x) => ggmlNearestInt(x) === refNearestInt(x)),
    { seed: 5, numRuns: 20000 },
  );
  for (const x of [0.5, 1.5, -0.5, -1.5, 126.5, -127.5, 4194303, -4194303, 1e7, -1e7, 3e38, Infinity, -Infinity, NaN]) {
    assert.equal(ggmlNearestInt(x) | 0, refNearestInt(x) | 0, `ggmlNearestInt(${x})`);
  }
});
