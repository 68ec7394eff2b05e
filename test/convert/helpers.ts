/**
 * Shared pieces of the convert and info tests: small from-the-spec re-implementations (absmean from the float64
 * reference, fp16 rounding) that the tests hold bitnet-ts's converter to, beside the SPEC §3 decoders of
 * test/helpers/spec-codecs.ts. None of it imports the code under test.
 */
import { prng } from "../helpers/prng.ts";
import { absmean64 as absmeanRef } from "../helpers/ref64.ts";

/** Nearest fp16 value (ties to even); Node 24 has Math.f16round, TypeScript's ES2023 lib does not know it yet. */
export const f16round: (x: number) => number = (Math as unknown as { f16round(x: number): number }).f16round;

/**
 * BitNet's absmean rule (SPEC §1) from the float64 reference, with the codes as the Int8Array the SPEC §3 decoders
 * return, and `gamma32`: γ rounded once to float32, the value a file stores.
 */
export function absmean64(w: ArrayLike<number>): { gamma: number; gamma32: number; codes: Int8Array } {
  const { codes, gamma } = absmeanRef(w);
  return { gamma, gamma32: Math.fround(gamma), codes: Int8Array.from(codes) };
}

/** A seeded standard normal sequence (mulberry32 + Box–Muller), the same on every run. */
export function gaussian(seed: number): () => number {
  const uniform = prng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}
