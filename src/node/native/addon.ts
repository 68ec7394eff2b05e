/**
 * Finding and loading the native kernel addon (native/, built into build/Release by `npm install`),
 * node-gyp-build style: the first of build/Release and build/Debug under the package root that holds
 * bitnet_native.node. Nothing is fatal here: when the file is absent, or fails to load, the status says
 * why and the caller falls back (to the wasm kernels). The addon's raw functions are typed here;
 * kernels.ts wraps them in the Kernels interface.
 *
 * Environment: BITNET_NATIVE_DIR replaces the build directory searched; BITNET_NATIVE_ISA forces a
 * kernel set ("generic", "avx2", "avxvnni", "avx512vnni", "neon", "neondot").
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** An opaque kernel context (threads and scratch) owned by the addon. */
export type NativeContext = object & { readonly __nativeContext: unique symbol };

/** The addon's exports (native/api.c). Sizes are element counts; gamma NaN means "no uniform scale". */
export interface NativeAddon {
  /** The kernel sets this CPU runs, best first. */
  isas(): string[];
  /** minSplit: work (multiply-adds) below which a call stays on the calling thread. */
  create(threads: number, isa: string, spinUs: number, minSplit: number): NativeContext;
  destroy(ctx: NativeContext): void;
  stats(ctx: NativeContext): { isa: string; lanes: number; splitTasks: number };
  /** Zeroed memory outside the JavaScript heap, 64-aligned, any size; undefined where the runtime forbids it. */
  alloc(bytes: number): ArrayBuffer | undefined;
  ternary(ctx: NativeContext, q: Int8Array, factors: Float32Array, T: number, K: number, group: number, ...matrices: (number | Uint8Array | Float32Array)[]): void;
  float(ctx: NativeContext, format: number, data: Float32Array | Uint16Array, N: number, K: number, x: Float32Array, T: number, outScale: number, out: Float32Array): void;
  q8(ctx: NativeContext, data: Uint8Array, N: number, K: number, x: Float32Array, T: number, outScale: number, out: Float32Array): void;
  attention(ctx: NativeContext, out: Float32Array, q: Float32Array, keys: Float32Array | Uint16Array, values: Float32Array | Uint16Array, pos0: number, T: number, H: number, HKV: number, hd: number): void;
  rmsnorm(ctx: NativeContext, x: Float32Array, w: Float32Array, out: Float32Array, T: number, n: number, eps: number, mode: number, q: Int8Array | null, factors: Float32Array | null, sums: Int32Array | null): number;
  quantize(ctx: NativeContext, x: Float32Array, T: number, n: number, mode: number, q: Int8Array, factors: Float32Array, sums: Int32Array): number;
  rope(ctx: NativeContext, x: Float32Array, T: number, heads: number, hd: number, pos0: number, cos: Float32Array, sin: Float32Array, dims: number, neox: number): void;
  gated(ctx: NativeContext, gate: Float32Array, up: Float32Array, n: number, relu2: number): void;
  add(ctx: NativeContext, x: Float32Array, y: Float32Array, n: number): void;
  f16(ctx: NativeContext, src: Float32Array, dst: Uint16Array, at: number, n: number): void;
}

export interface AddonLoad {
  addon: NativeAddon | null;
  /** The file loaded, or the last one tried. */
  path: string | null;
  /** Why there is no addon, or null. */
  reason: string | null;
}

const FILE = "bitnet_native.node";
/** The package's build directory (this file is src/node/native/addon.ts). */
export const DEFAULT_BUILD_DIR = fileURLToPath(new URL("../../../build/", import.meta.url));

const loaded = new Map<string, AddonLoad>();

/** The build directory to search: `dir`, else BITNET_NATIVE_DIR, else the package's build/. */
export function addonDir(dir?: string): string {
  return dir ?? process.env.BITNET_NATIVE_DIR ?? DEFAULT_BUILD_DIR;
}

/** Loads the addon from `dir` (see addonDir) once; later calls return the same result. */
export function loadAddon(dir?: string): AddonLoad {
  const root = addonDir(dir);
  let result = loaded.get(root);
  if (result) return result;
  const candidates = [join(root, "Release", FILE), join(root, "Debug", FILE)];
  const path = candidates.find((p) => existsSync(p)) ?? null;
  if (!path) {
    result = { addon: null, path: null, reason: `no ${FILE} in ${join(root, "Release")} (the native build did not run or failed: npm run build:native)` };
  } else {
    try {
      const addon = createRequire(import.meta.url)(path) as NativeAddon;
      if (typeof addon.create !== "function" || typeof addon.isas !== "function") throw new Error("it does not export the kernel functions");
      result = { addon, path, reason: null };
    } catch (e) {
      result = { addon: null, path, reason: `${path} failed to load: ${(e as Error).message.split("\n")[0]}` };
    }
  }
  loaded.set(root, result);
  return result;
}
