/**
 * Finite differences for gradient checks against the float64 reference (ref64.ts): a central difference at
 * one element, the whole gradient, and the scalar a vector output is reduced to.
 */

/** Central difference of f at x[i] (x is restored). */
export function centralDiff(f: () => number, x: Float64Array, i: number, h: number): number {
  const x0 = x[i];
  x[i] = x0 + h;
  const fp = f();
  x[i] = x0 - h;
  const fm = f();
  x[i] = x0;
  return (fp - fm) / (2 * h);
}

/** Finite-difference gradient of f with respect to every element of x (float64, step h). */
export function fdGradient(f: () => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) g[i] = centralDiff(f, x, i, h);
  return g;
}

/** Σ r ⊙ y: turns a vector output into the scalar a gradient check differentiates. */
export function dot64(r: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += r[i] * y[i];
  return s;
}
