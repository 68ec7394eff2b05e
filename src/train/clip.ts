/**
 * Global-norm gradient clipping over the flat gradient array (torch's clip_grad_norm_ with norm 2):
 * if ‖g‖ > maxNorm, scale every gradient by maxNorm / (‖g‖ + 1e-6).
 */

/** ‖g‖₂, accumulated in float64. */
export function gradNorm(grads: Float32Array): number {
  let ss = 0;
  for (let i = 0; i < grads.length; i++) ss += grads[i] * grads[i];
  return Math.sqrt(ss);
}

/** Clips in place; returns the norm before clipping (for logging). Throws on a non-finite norm. */
export function clipGradNorm(grads: Float32Array, maxNorm: number): number {
  const norm = gradNorm(grads);
  if (!Number.isFinite(norm)) throw new Error(`clip: gradient norm is ${norm} (the loss diverged or the data is bad)`);
  if (norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (let i = 0; i < grads.length; i++) grads[i] *= scale;
  }
  return norm;
}
