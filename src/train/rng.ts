/**
 * A small seeded random source for the trainer: uniform floats and normal deviates, the same
 * sequence on every platform for a given seed (integer arithmetic only, then Math.log/cos/sin for
 * Box–Muller, which V8 computes with its own portable fdlibm port).
 *
 * It is for initialization, data shuffling and tests; it is not a sampler for generation and not
 * cryptographic.
 */

export interface Rng {
  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** mulberry32 state stepping (public-domain generator by Tommy Ettinger) with a Box–Muller normal. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  let spare = 0;
  let hasSpare = false;
  const next32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const uniform = (): number => next32() / 4294967296;
  return {
    uniform,
    normal(): number {
      if (hasSpare) {
        hasSpare = false;
        return spare;
      }
      // 1 - u keeps the logarithm's argument in (0, 1].
      const r = Math.sqrt(-2 * Math.log(1 - uniform()));
      const a = 2 * Math.PI * uniform();
      spare = r * Math.sin(a);
      hasSpare = true;
      return r * Math.cos(a);
    },
    int(n: number): number {
      return Math.floor(uniform() * n);
    },
  };
}

/** Fill `out` with N(0, std²) deviates. */
export function fillNormal(rng: Rng, out: Float32Array, std: number): void {
  for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
}
