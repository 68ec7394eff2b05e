/**
 * Picks the fastest kernel backend this runtime supports: WebAssembly with relaxed SIMD, else
 * WebAssembly SIMD128, else the TypeScript reference. The choice rests on feature probes
 * (wasm/features.ts) and, for relaxed SIMD, on a small self-test against the reference, because
 * engines have shipped relaxed SIMD that computed wrong results (SPEC §8: Node 20 behind its flag).
 * Not here: the kernels themselves.
 */
import { refKernels } from "./ref.ts";
import { ternaryMatmulRef } from "./ternary-ref.ts";
import type { Kernels, QuantizedActivations, TernaryFormat, TernaryMatrix } from "./types.ts";
import { detectWasmFeatures } from "./wasm/features.ts";
import { createWasmKernels, type WasmKernels } from "./wasm/kernels.ts";
import type { WasmSimd } from "./wasm/module.ts";
import { i2_s, tq1_0, tq2_0 } from "../quant/codecs/index.ts";

export interface SelectKernelsOptions {
  /** "ref" forces the reference kernels; "wasm" (the default) takes the best WebAssembly variant available. */
  prefer?: "ref" | "wasm";
  /** Restrict WebAssembly to plain SIMD128 even where relaxed SIMD works (for comparisons). */
  simd?: WasmSimd;
  /** Bytes of WebAssembly memory to reserve up front (needed to load a model into a non-shared memory). */
  initialBytes?: number;
}

/** A backend and, when it is slower than the fastest this runtime could have, why. */
export interface ChosenKernels {
  kernels: Kernels;
  fallbackReason: string | null;
}

/** The fastest single-threaded backend this runtime supports (see the file comment). */
export async function selectKernels(options: SelectKernelsOptions = {}): Promise<Kernels> {
  return (await chooseKernels(options)).kernels;
}

/** selectKernels, with the reason a faster backend was passed over. */
export async function chooseKernels(options: SelectKernelsOptions = {}): Promise<ChosenKernels> {
  const features = detectWasmFeatures();
  if (options.prefer === "ref") return { kernels: refKernels, fallbackReason: null };
  if (!features.simd128) return { kernels: refKernels, fallbackReason: features.webAssembly ? "WebAssembly SIMD128 is not supported" : "WebAssembly is not available" };
  const shared = features.sharedMemory;
  // The variants to try, fastest first; each is loaded and held to the reference before it is trusted.
  const variants: { simd: WasmSimd; label: string }[] = [];
  let reason: string | null = null;
  if (options.simd !== "simd128") {
    if (features.relaxedSimd) variants.push({ simd: "relaxed", label: "relaxed SIMD" });
    else reason = "relaxed SIMD is not supported";
  }
  variants.push({ simd: "simd128", label: "SIMD128" });
  for (const { simd, label } of variants) {
    try {
      const k = await createWasmKernels({ simd, shared, initialBytes: options.initialBytes });
      const failed = kernelSelfTest(k);
      if (!failed) return { kernels: k, fallbackReason: reason };
      reason = `${label} kernels gave wrong results (${failed})`;
    } catch (e) {
      reason = `${label} kernels failed to load (${(e as Error).message})`;
    }
  }
  return { kernels: refKernels, fallbackReason: reason };
}

/** Memory the self-test may use: three small matrices plus the kernels' first scratch region (1 MiB, doubled once). */
const SELF_TEST_BYTES = 4 * 2 ** 20;

/**
 * A few small matmuls, one token and three, in each format, compared bit for bit with the reference.
 * Returns what failed, or null. Cheap (under a millisecond of work) and uses a few KiB of the memory.
 */
export function kernelSelfTest(k: WasmKernels): string | null {
  // An ordinary (non-shared) memory detaches every view when it grows: room for the test's weights and the
  // kernels' scratch first, so that nothing grows while the test's matrices are in use.
  k.reserve(SELF_TEST_BYTES);
  let seed = 0x9e3779b9;
  const next = (n: number): number => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return seed % n;
  };
  const codecs = { tq2_0, tq1_0, i2_s } as const;
  const rows = 3;
  const cols = 512;
  for (const format of ["tq2_0", "tq1_0", "i2_s"] as TernaryFormat[]) {
    const codes = new Int8Array(rows * cols).map(() => next(3) - 1);
    const packed = codecs[format].pack(codes, Float32Array.of(0.5), [cols, rows], "self-test");
    const data = k.allocWeights(packed.length, 64);
    data.set(packed);
    const w: TernaryMatrix = { kind: "ternary", format, name: `self-test ${format}`, rows, cols, data, blockScales: Float32Array.of(0.5), uniformScale: 0.5, outScale: 1 };
    for (const tokens of [1, 3]) {
      // Extreme activations on purpose: -128 and 127 are where a wrong dot (signed codes, saturation) shows.
      const q = new Int8Array(tokens * cols).map((_, i) => (i % 7 === 0 ? -128 : i % 11 === 0 ? 127 : next(256) - 128));
      const x: QuantizedActivations = { tokens, cols, q, group: cols, factors: new Float32Array(tokens).fill(0.01), sums: new Int32Array(tokens) };
      const want = new Float32Array(tokens * rows);
      const got = new Float32Array(tokens * rows);
      ternaryMatmulRef(w, x, want);
      k.ternaryMatmul(w, x, got);
      for (let i = 0; i < want.length; i++) if (!Object.is(want[i], got[i])) return `${format}, ${tokens} token(s): ${got[i]} instead of ${want[i]}`;
    }
  }
  return null;
}
