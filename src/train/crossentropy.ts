/**
 * Softmax fused with cross-entropy, mean over the counted tokens. A target < 0 marks a position that
 * is not scored (padding): it adds no loss and gets a zero gradient.
 * The backward overwrites the probabilities with dlogits in place (llm.c style), since nothing
 * needs them afterwards.
 */

/**
 * probs[n,:] = softmax(logits[n,:]), losses[n] = −log probs[n, targets[n]] (0 when not counted).
 * Returns the mean loss over counted tokens (NaN if none). Throws on a target ≥ V.
 */
export function softmaxCrossEntropyForward(probs: Float32Array, losses: Float32Array, logits: Float32Array, targets: Int32Array, N: number, V: number): number {
  let total = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    const r = n * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[r + i] > max) max = logits[r + i];
    let sum = 0;
    for (let i = 0; i < V; i++) {
      const e = Math.exp(logits[r + i] - max);
      probs[r + i] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let i = 0; i < V; i++) probs[r + i] *= inv;
    const t = targets[n];
    if (t >= V) throw new Error(`cross-entropy: target ${t} at position ${n} is outside the vocabulary [0, ${V})`);
    if (t < 0) {
      losses[n] = 0;
      continue;
    }
    // From the logits rather than log(probs[t]): exact for tiny probabilities.
    const loss = Math.log(sum) - (logits[r + t] - max);
    losses[n] = loss;
    total += loss;
    count++;
  }
  return count > 0 ? total / count : NaN;
}

/** Number of counted targets (the mean's denominator). */
export function countTargets(targets: Int32Array, N: number): number {
  let c = 0;
  for (let n = 0; n < N; n++) if (targets[n] >= 0) c++;
  return c;
}

/**
 * In place: probs becomes dlogits = dloss · (probs − onehot(target)) / count, where count is the
 * number of counted targets; rows with no target become 0.
 */
export function softmaxCrossEntropyBackward(probs: Float32Array, targets: Int32Array, N: number, V: number, dloss: number): void {
  const count = countTargets(targets, N);
  const scale = count > 0 ? dloss / count : 0;
  for (let n = 0; n < N; n++) {
    const r = n * V;
    const t = targets[n];
    if (t < 0) {
      probs.fill(0, r, r + V);
      continue;
    }
    for (let i = 0; i < V; i++) probs[r + i] *= scale;
    probs[r + t] -= scale;
  }
}
