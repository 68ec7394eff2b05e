/**
 * Loading the kernel module: picks one of the four generated binaries (relaxed SIMD or SIMD128, shared
 * or ordinary memory), compiles it once per process, and instantiates it over a given memory.
 * The binaries come from `npm run build:wasm` (generated/binaries.ts, base64). Not here: the arena
 * (arena.ts) or the Kernels object (kernels.ts).
 */
import { WASM_BINARIES } from "./generated/binaries.ts";

export type WasmSimd = "relaxed" | "simd128";

/** The module's exports (src/kernels/wasm/assembly/index.ts); pointers are byte offsets, bools are 0/1. */
export interface KernelExports {
  setup(one: number): number;
  ternaryWorkBytes(tokens: number, cols: number): number;
  ternaryRows(
    format: number, weights: number, rows: number, cols: number, q: number, tokens: number, factors: number, group: number,
    uniform: number, hasUniform: number, outScale: number, out: number, work: number, r0: number, r1: number,
  ): void;
  floatRows(format: number, weights: number, rows: number, cols: number, x: number, tokens: number, outScale: number, out: number, r0: number, r1: number): void;
  f16HasNonFinite(ptr: number, count: number): number;
  q8Check(ptr: number, blocks: number): number;
  prescaleForHalf(x: number, count: number, dst: number): number;
  sumBytes(ptr: number, bytes: number): number;
  lutBytes(rows: number, cols: number): number;
  lutRepackWorkBytes(cols: number): number;
  lutRepack(format: number, weights: number, rows: number, cols: number, dst: number, work: number): void;
  /** The LUT kernel on its own (ternaryRows reaches it as format 3); for its tests and bench/lut.ts. */
  lutWorkBytes(cols: number): number;
  lutRows(
    format: number, weights: number, lut: number, rows: number, cols: number, q: number, factors: number, group: number,
    uniform: number, hasUniform: number, outScale: number, out: number, work: number, r0: number, r1: number,
  ): void;
}

function variantName(simd: WasmSimd, shared: boolean): keyof typeof WASM_BINARIES {
  return `${simd}-${shared ? "shared" : "plain"}`;
}

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/** The compiled module for a variant (cached: compiling is the slow part, and workers reuse it). */
export function compileKernels(simd: WasmSimd, shared: boolean): Promise<WebAssembly.Module> {
  const name = variantName(simd, shared);
  let m = compiled.get(name);
  if (!m) {
    m = WebAssembly.compile(decodeBase64(WASM_BINARIES[name]));
    compiled.set(name, m);
  }
  return m;
}

export async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<KernelExports> {
  const instance = await WebAssembly.instantiate(module, {
    env: {
      memory,
      abort: () => {
        throw new Error("wasm kernels: abort");
      },
    },
  });
  const exports = instance.exports as unknown as KernelExports;
  if (exports.setup(1) !== 1) throw new Error("wasm kernels: setup failed");
  return exports;
}
