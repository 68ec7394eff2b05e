/**
 * A check run once when native kernels start, before anything trusts them: a few small ternary matmuls
 * (every format; one token and three; per-row and per-block scaling) and a Q8_0 matmul, compared bit
 * for bit with the TypeScript reference. It costs well under a millisecond and guards against a kernel
 * set that a CPU, an operating system or a compiler runs wrongly (the wasm backend's selection does the
 * same: src/kernels/select.ts).
 * Not here: the exhaustive tests (test/kernels).
 */
import { q8MatmulRef } from "../../kernels/q8-ref.ts";
import { ternaryMatmulRef } from "../../kernels/ternary-ref.ts";
import type { FloatMatrix, Kernels, QuantizedActivations, TernaryFormat, TernaryMatrix } from "../../kernels/types.ts";
import { i2_s, q8_0, tq1_0, tq2_0 } from "../../quant/codecs/index.ts";

/** What failed, or null. */
export function nativeSelfTest(k: Kernels): string | null {
  let seed = 0x2545f491;
  const next = (n: number): number => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return seed % n;
  };
  const same = (a: Float32Array, b: Float32Array): boolean => a.every((v, i) => Object.is(v, b[i]));
  const codecs = { tq2_0, tq1_0, i2_s } as const;
  const rows = 9, cols = 512;
  for (const format of ["tq2_0", "tq1_0", "i2_s"] as TernaryFormat[]) {
    const codes = new Int8Array(rows * cols).map(() => next(3) - 1);
    const data = codecs[format].pack(codes, Float32Array.of(0.5), [cols, rows], "self-test");
    const w: TernaryMatrix = { kind: "ternary", format, name: `self-test ${format}`, rows, cols, data, blockScales: new Float32Array(rows * 2).fill(0.5), uniformScale: 0.5, outScale: 1 };
    for (const [tokens, group] of [[1, cols], [3, cols], [3, 256]]) {
      // -128 and 127 are where a wrong dot (signed codes, saturation) shows
      const q = new Int8Array(tokens * cols).map((_, i) => (i % 7 === 0 ? -128 : i % 11 === 0 ? 127 : next(256) - 128));
      const x: QuantizedActivations = { tokens, cols, q, group, factors: new Float32Array((tokens * cols) / group).fill(0.01), sums: new Int32Array((tokens * cols) / group) };
      for (const scaled of format === "i2_s" ? [w] : [w, { ...w, uniformScale: null }]) {
        const want = new Float32Array(tokens * rows), got = new Float32Array(tokens * rows);
        ternaryMatmulRef(scaled, x, want);
        k.ternaryMatmul(scaled, x, got);
        if (!same(want, got)) return `${format}, ${tokens} token(s), group ${group}`;
      }
    }
  }
  const values = new Float32Array(rows * 64).map(() => (next(2001) - 1000) / 1000);
  const w: FloatMatrix = { kind: "float", format: "q8_0", name: "self-test q8_0", rows, cols: 64, data: q8_0.quantize(values, [64, rows], "self-test"), outScale: 1 };
  const x = new Float32Array(2 * 64).map(() => (next(2001) - 1000) / 100);
  const want = new Float32Array(2 * rows), got = new Float32Array(2 * rows);
  q8MatmulRef(w, x, 2, want);
  k.floatMatmul(w, x, 2, got);
  return same(want, got) ? null : "q8_0";
}
