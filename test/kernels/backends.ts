/**
 * The kernel backends the kernel tests hold to the TypeScript reference, in one table, so that every
 * backend runs through the same cases: the wasm kernels (relaxed SIMD, SIMD128, and relaxed SIMD on two
 * threads) and the native kernels, once per kernel set this CPU runs (BITNET_NATIVE_ISA can force any of
 * them too) plus the best set on three threads splitting every call.
 *
 * The native addon is part of the build: when it is absent these tests leave it out and
 * native-status.test.ts says why (and fails if BITNET_REQUIRE_NATIVE is set, as CI sets it).
 */
import type { Kernels } from "../../src/kernels/types.ts";
import { createWasmKernels } from "../../src/kernels/wasm/kernels.ts";
import { createNativeKernels, nativeKernelsStatus } from "../../src/node/native/kernels.ts";
import { createThreadedWasmKernels } from "../../src/node/wasm-threads.ts";

/** Kernels with the memory of their own that the tests place weights in. */
export type TestKernels = Kernels & Required<Pick<Kernels, "allocWeights">>;

export interface Backend {
  label: string;
  kind: "wasm" | "native";
  threads: number;
  /**
   * Whether every token's float results are the same bits in a call of one token and a call of many
   * (floatMatmul, attention). The native kernels promise it; the wasm float GEMM is being changed to.
   */
  batchInvariant: boolean;
  create(): Promise<TestKernels>;
}

function native(isa: string, threads: number, minParallelWork?: number): Backend {
  return {
    label: `native ${isa}${threads > 1 ? ` ×${threads}` : ""}`,
    kind: "native",
    threads,
    batchInvariant: true,
    create: () => createNativeKernels({ isa, threads, minParallelWork }),
  };
}

const status = nativeKernelsStatus();

/** The native kernel sets under test: every one this CPU runs. */
export const NATIVE_ISAS: string[] = status.available ? status.isas : [];

export const BACKENDS: Backend[] = [
  { label: "wasm relaxed", kind: "wasm", threads: 1, batchInvariant: false, create: () => createWasmKernels({ simd: "relaxed", shared: true }) },
  { label: "wasm simd128", kind: "wasm", threads: 1, batchInvariant: false, create: () => createWasmKernels({ simd: "simd128", shared: true }) },
  { label: "wasm relaxed ×2", kind: "wasm", threads: 2, batchInvariant: false, create: () => createThreadedWasmKernels({ simd: "relaxed", threads: 2, minParallelWork: 0 }) },
  ...NATIVE_ISAS.map((isa) => native(isa, 1)),
  ...NATIVE_ISAS.slice(0, 1).map((isa) => native(isa, 3, 0)),
];

/** Runs `fn` with a fresh instance of the backend, closing it afterwards. */
export async function withKernels<T>(backend: Backend, fn: (k: TestKernels) => T | Promise<T>): Promise<T> {
  const k = await backend.create();
  try {
    return await fn(k);
  } finally {
    await k.close?.();
  }
}
