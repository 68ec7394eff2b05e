/**
 * A small seeded pseudo-random generator for sampling: xoshiro128** (Blackman & Vigna),
 * its 128-bit state filled from a 32-bit seed by splitmix32.
 *
 * Only 32-bit integer arithmetic (`Math.imul`, shifts, `>>> 0`) is used, so the same seed
 * gives the same sequence in Node and in every browser. It is fast and statistically good,
 * and it is NOT cryptographically secure: never use it for secrets.
 */

/** splitmix32 step: returns the next state and a well-mixed 32-bit output. */
function splitmix32(state: number): { state: number; value: number } {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return { state: next, value: (z ^ (z >>> 16)) >>> 0 };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is any integer in [0, 2^32); other numbers are rejected. */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`Rng: seed must be an integer in [0, 2^32), got ${seed}`);
    }
    let state = seed >>> 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const step = splitmix32(state);
      state = step.state;
      words.push(step.value);
    }
    this.s0 = words[0];
    this.s1 = words[1];
    this.s2 = words[2];
    this.s3 = words[3];
    // splitmix32 is a bijection per step, but guard the one state xoshiro cannot leave.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Starts from an explicit 128-bit state (for reference vectors); it must not be all zero. */
  static fromState(state: readonly [number, number, number, number]): Rng {
    const rng = new Rng(0);
    const [a, b, c, d] = state.map((w) => w >>> 0);
    if ((a | b | c | d) === 0) throw new Error("Rng.fromState: the all-zero state never leaves zero");
    rng.s0 = a;
    rng.s1 = b;
    rng.s2 = c;
    rng.s3 = d;
    return rng;
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }
}
