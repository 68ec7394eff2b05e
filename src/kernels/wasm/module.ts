/**
 * Loading the kernel module: picks one of the four generated binaries (relaxed SIMD or SIMD128, shared
 * or ordinary memory), compiles it once per process, and instantiates it over a given memory.
 * The binaries come from `npm run build:wasm` (generated/binaries.ts, base64). Not here: the arena
 * (arena.ts) or the Kernels object (kernels.ts).
 */
import { WASM_BINARIES } from "./generated/binaries.ts";
import type { KernelExports } from "./generated/exports.ts";

export type { KernelExports } from "./generated/exports.ts";

export type WasmSimd = "relaxed" | "simd128";

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
  // The one place the untyped instance meets its generated type (src/node/wasm-build.ts writes it from the module).
  const exports = instance.exports as unknown as KernelExports;
  if (exports.setup(1) !== 1) throw new Error("wasm kernels: setup failed");
  return exports;
}
