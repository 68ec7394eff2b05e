/** The few statistics the benchmarks report: medians of interleaved rounds, and their spread. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of no samples");
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** "min–max" of the samples, for a table cell. */
export function range(xs: readonly number[], digits = 1): string {
  return `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
}

/** Seconds per call of `fn`, repeated until one sample lasts at least `minMs` (the count is fixed after a warm-up). */
export function timer(fn: () => void, minMs: number): () => number {
  let reps = 0;
  return () => {
    if (reps === 0) {
      fn(); // warm-up: V8 tiers the wasm up to TurboFan
      const t0 = performance.now();
      fn();
      reps = Math.max(1, Math.ceil(minMs / Math.max(performance.now() - t0, 1e-3)));
    }
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    return (performance.now() - t0) / 1000 / reps;
  };
}
