/**
 * How tests compare arrays of numbers: the largest absolute difference, a tolerance check scaled by the
 * expected array, and the greedy margin of a logit vector.
 */
import assert from "node:assert/strict";
import { argmax } from "../../src/generate/sampler.ts";

/** max_i |a_i − b_i|; the lengths must agree. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "lengths differ");
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/**
 * Every element: |actual − expected| ≤ rtol·max_j |expected_j| + rtol·|expected_i|.
 * (Scaled by the largest expected value, so elements near 0 are judged by the array's scale.)
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  assert.ok(scale > 0, `${label}: expected values are all zero, the check would be empty`);
  for (let i = 0; i < expected.length; i++) {
    const tol = rtol * (scale + Math.abs(expected[i]));
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${label}[${i}]: got ${actual[i]}, expected ${expected[i]} (tol ${tol.toExponential(2)})`);
  }
}

/** Largest minus second largest. */
export function margin(v: ArrayLike<number>): number {
  const top = argmax(v);
  let second = -Infinity;
  for (let i = 0; i < v.length; i++) if (i !== top && v[i] > second) second = v[i];
  return v[top] - second;
}
