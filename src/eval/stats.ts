/**
 * The statistics lm-evaluation-harness reports for a metric averaged over items (lm_eval/api/metrics.py):
 * the mean, and its standard error as the sample standard deviation (n − 1) over sqrt(n). With one item
 * the harness reports "N/A"; we return null.
 */

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** sqrt(Σ (x − mean)² / (n − 1)). */
export function sampleStddev(xs: readonly number[]): number {
  const mu = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - mu) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** The harness's mean_stderr: sampleStddev / sqrt(n); null below two items. */
export function meanStderr(xs: readonly number[]): number | null {
  return xs.length > 1 ? sampleStddev(xs) / Math.sqrt(xs.length) : null;
}
