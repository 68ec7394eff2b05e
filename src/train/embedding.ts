/**
 * Token embedding lookup and its backward (a scatter-add into the table's gradient).
 * The same table is the tied output head; its forward/backward as a head live in model.ts
 * (it is a plain linear product there). Not a tokenizer.
 */

/** out[n, :] = table[tokens[n], :]. Throws on an id outside [0, V). */
export function embeddingForward(out: Float32Array, tokens: Int32Array, table: Float32Array, N: number, D: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const id = tokens[n];
    if (!(id >= 0 && id < V)) throw new Error(`embedding: token id ${id} at position ${n} is outside the vocabulary [0, ${V})`);
    out.set(table.subarray(id * D, id * D + D), n * D);
  }
}

/** dtable[tokens[n], :] += dout[n, :] (accumulates). */
export function embeddingBackward(dtable: Float32Array, dout: Float32Array, tokens: Int32Array, N: number, D: number): void {
  for (let n = 0; n < N; n++) {
    const row = tokens[n] * D;
    const g = n * D;
    for (let i = 0; i < D; i++) dtable[row + i] += dout[g + i];
  }
}
