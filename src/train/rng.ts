/**
 * Normal deviates for the trainer (initialization, tests), built on the project's one seeded
 * uniform generator (src/generate/rng.ts, xoshiro128**) with the Box–Muller transform. The same
 * seed gives the same values on every platform (integer uniform bits; Math.log/sin/cos are V8's
 * fdlibm port). Not a sampler for generation and not cryptographic.
 */

import { Rng } from "../generate/rng.ts";

export interface NormalRng {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** A seeded source of uniform and normal deviates (seed: integer in [0, 2^32)). */
export function createRng(seed: number): NormalRng {
  const u = new Rng(seed);
  let spare = 0;
  let hasSpare = false;
  return {
    uniform: () => u.next(),
    normal(): number {
      if (hasSpare) {
        hasSpare = false;
        return spare;
      }
      // 1 − u keeps the logarithm's argument in (0, 1].
      const r = Math.sqrt(-2 * Math.log(1 - u.next()));
      const a = 2 * Math.PI * u.next();
      spare = r * Math.sin(a);
      hasSpare = true;
      return r * Math.cos(a);
    },
    int: (n: number) => Math.floor(u.next() * n),
  };
}

/** Fill `out` with N(0, std²) deviates. */
export function fillNormal(rng: NormalRng, out: Float32Array, std: number): void {
  for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
}
