/**
 * Rotary position embedding, rotate-half (NEOX) pairing as in SPEC §1: within each head of width hd,
 * element i is rotated with element i + hd/2 by the angle pos · θ^(−2i/hd), i < hd/2.
 * Positions are 0…T−1 within each sequence of the batch. The rotation is applied in place; its
 * backward is the inverse (transposed) rotation, also in place.
 */

/** cos[t, i], sin[t, i] for t < T, i < hd/2 (angles computed in float64, stored as float32). */
export function ropeTables(cos: Float32Array, sin: Float32Array, T: number, hd: number, theta: number): void {
  const half = hd / 2;
  for (let i = 0; i < half; i++) {
    const freq = Math.pow(theta, (-2 * i) / hd);
    for (let t = 0; t < T; t++) {
      const a = t * freq;
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
}

/** x is [B·T, H·hd]; rotates every head of every row by its position t = row mod T. */
export function ropeForward(x: Float32Array, cos: Float32Array, sin: Float32Array, B: number, T: number, H: number, hd: number): void {
  rotate(x, cos, sin, B, T, H, hd, 1);
}

/** dx (in place, over dy) = Rᵀ · dy: the rotation by the opposite angle. */
export function ropeBackward(dx: Float32Array, cos: Float32Array, sin: Float32Array, B: number, T: number, H: number, hd: number): void {
  rotate(dx, cos, sin, B, T, H, hd, -1);
}

function rotate(x: Float32Array, cos: Float32Array, sin: Float32Array, B: number, T: number, H: number, hd: number, sign: number): void {
  const half = hd / 2;
  const C = H * hd;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * C;
      const tab = t * half;
      for (let h = 0; h < H; h++) {
        const base = row + h * hd;
        for (let i = 0; i < half; i++) {
          const c = cos[tab + i];
          const s = sign * sin[tab + i];
          const x0 = x[base + i];
          const x1 = x[base + i + half];
          x[base + i] = x0 * c - x1 * s;
          x[base + i + half] = x0 * s + x1 * c;
        }
      }
    }
  }
}
