/** The typed arrays concatArrays joins: the ones with a length and set(array, offset). */
interface Joinable extends ArrayLike<number> {
  set(array: ArrayLike<number>, offset?: number): void;
}

/** The parts one after another in a new array from `make(total length)`. */
export function concatArrays<T extends Joinable>(parts: readonly T[], make: (length: number) => T): T {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = make(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
