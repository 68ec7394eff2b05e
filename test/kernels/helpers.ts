/**
 * Test helpers for the kernel tests: random ternary matrices packed by the format codecs (so the
 * layouts come from src/quant, not from the kernels under test), random int8 activations, a
 * bit-level comparison of float32 arrays, a ternary matmul held to the reference, and the matrix cases the
 * ternary kernel tests share.
 */
import assert from "node:assert/strict";
import { ternaryBlockIsZero, ternaryMatmulRef } from "../../src/kernels/ternary-ref.ts";
import type { ActQuantMode, Kernels, QuantizedActivations, TernaryFormat, TernaryMatrix } from "../../src/kernels/types.ts";
import { i2_s, tq1_0, tq2_0 } from "../../src/quant/codecs/index.ts";
import { f16ToF32 } from "../../src/quant/half.ts";

export type Rand = () => number;

/** How the block scales of a TQ matrix vary: one γ, a different d per block, or one γ with some all-zero blocks of other d. */
export type ScaleKind = "uniform" | "per-block" | "zero-blocks";

const CODECS = { tq2_0, tq1_0, i2_s } as const;
const BLOCK_BYTES = { tq2_0: 66, tq1_0: 54 } as const;

/** An f16-representable positive scale in [0.01, 2). */
function randomScale(rand: Rand): number {
  return Math.fround(0.01 + rand() * 2);
}

export interface RandomTernaryOptions {
  scales?: ScaleKind;
  /** Where the packed bytes go (e.g. WasmKernels.allocWeights); a plain array otherwise. */
  alloc?: (bytes: number, align: number) => Uint8Array;
  outScale?: number;
}

/**
 * A random [rows, cols] matrix in `format`, as src/model/weights.ts builds TernaryMatrix objects: block
 * scales read back from the packed f16 `d`, uniformScale found the same way (all-zero blocks ignored).
 */
export function randomTernary(format: TernaryFormat, rows: number, cols: number, rand: Rand, opts: RandomTernaryOptions = {}): TernaryMatrix {
  const n = rows * cols;
  const codes = new Int8Array(n);
  for (let i = 0; i < n; i++) codes[i] = Math.floor(rand() * 3) - 1;
  const kind = format === "i2_s" ? "uniform" : (opts.scales ?? "uniform");
  const gamma = randomScale(rand);
  let scales = Float32Array.of(gamma);
  if (kind !== "uniform") {
    scales = new Float32Array(n / 256);
    for (let b = 0; b < scales.length; b++) {
      const zero = kind === "zero-blocks" && rand() < 0.3;
      if (zero) codes.fill(0, b * 256, (b + 1) * 256);
      scales[b] = kind === "per-block" || zero ? randomScale(rand) : gamma;
    }
  }
  const packed = CODECS[format].pack(codes, scales, [cols, rows], "test matrix");
  const data = opts.alloc ? opts.alloc(packed.length, 64) : new Uint8Array(packed.length);
  data.set(packed);
  const outScale = opts.outScale ?? 1;
  if (format === "i2_s") {
    const s = new DataView(data.buffer, data.byteOffset + n / 4, 4).getFloat32(0, true);
    return { kind: "ternary", format, name: `test.${format}`, rows, cols, data, blockScales: Float32Array.of(s), uniformScale: s, outScale };
  }
  const bb = BLOCK_BYTES[format];
  const blockScales = new Float32Array(n / 256);
  let uniform: number | null = null;
  let isUniform = true;
  for (let b = 0; b < blockScales.length; b++) {
    const d = f16ToF32(data[b * bb + bb - 2] | (data[b * bb + bb - 1] << 8));
    blockScales[b] = d;
    if (ternaryBlockIsZero(format, data, b * bb)) continue;
    if (uniform === null) uniform = d;
    else if (d !== uniform) isUniform = false;
  }
  return { kind: "ternary", format, name: `test.${format}`, rows, cols, data, blockScales, uniformScale: isUniform ? (uniform ?? 0) : null, outScale };
}

/**
 * Random int8 activations for T tokens, drawn directly (not through a quantizer) so that the extremes
 * -128 and 127 occur, with random positive factors per group.
 */
export function randomActivations(tokens: number, cols: number, mode: ActQuantMode, rand: Rand): QuantizedActivations {
  const group = mode === "token" ? cols : 256;
  const groups = (tokens * cols) / group;
  const q = new Int8Array(tokens * cols);
  for (let i = 0; i < q.length; i++) {
    const r = rand();
    q[i] = r < 0.02 ? -128 : r < 0.04 ? 127 : Math.floor(rand() * 256) - 128;
  }
  const factors = new Float32Array(groups);
  const sums = new Int32Array(groups);
  for (let g = 0; g < groups; g++) {
    factors[g] = Math.fround((0.5 + rand()) / 127);
    for (let i = 0; i < group; i++) sums[g] += q[g * group + i];
  }
  return { tokens, cols, q, group, factors, sums };
}

/** Index of the first element whose float32 bits differ (so -0 ≠ +0 and NaNs compare by payload), or -1. */
export function firstBitDifference(a: Float32Array, b: Float32Array, n: number): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, n);
  const ub = new Uint32Array(b.buffer, b.byteOffset, n);
  for (let i = 0; i < n; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

/** `k.ternaryMatmul(w, x)` equals ternaryMatmulRef bit for bit, every output written (it starts as NaN). */
export function assertTernaryMatchesRef(k: Pick<Kernels, "ternaryMatmul">, label: string, w: TernaryMatrix, x: QuantizedActivations): void {
  const n = x.tokens * w.rows;
  const want = new Float32Array(n);
  const got = new Float32Array(n).fill(NaN);
  ternaryMatmulRef(w, x, want);
  k.ternaryMatmul(w, x, got);
  const d = firstBitDifference(want, got, n);
  assert.equal(d, -1, `${label}: element ${d} is ${got[d]}, the reference says ${want[d]}`);
}

/** Both activation modes. */
export const ACT_QUANT_MODES: readonly ActQuantMode[] = ["token", "block256"];

export interface TernaryCase {
  format: TernaryFormat;
  /** Columns: the edge widths of each format (I2_S also widths that are not a multiple of 256). */
  K: number;
  mode: ActQuantMode;
  scales: ScaleKind;
  /** Rows, odd counts included. */
  N: number;
}

/**
 * The matrices every ternary kernel is held to its reference on: each format at its edge widths, both
 * activation modes (block256 only where K is a multiple of 256: the reference rejects the rest), the scale
 * kinds the format can carry, and odd row counts. Always the same cases in the same order.
 */
export function* ternaryCases(): Generator<TernaryCase> {
  const widths: Record<TernaryFormat, number[]> = { tq2_0: [256, 512, 768, 2560], tq1_0: [256, 512, 768, 2560], i2_s: [128, 384, 512, 2560] };
  for (const format of ["tq2_0", "tq1_0", "i2_s"] as const) {
    const scaleKinds: ScaleKind[] = format === "i2_s" ? ["uniform"] : ["uniform", "per-block", "zero-blocks"];
    for (const K of widths[format]) {
      for (const mode of ACT_QUANT_MODES) {
        if (mode === "block256" && K % 256 !== 0) continue;
        for (const scales of scaleKinds) for (const N of [1, 3, 5, 17]) yield { format, K, mode, scales, N };
      }
    }
  }
}
