/**
 * Runtime detection of the WebAssembly features the kernels can use, by validating tiny hand-assembled
 * modules (each a single function returning one v128), so that nothing is compiled or run to find out.
 * Not here: choosing a backend (src/kernels/select.ts).
 */

export interface WasmFeatures {
  /** WebAssembly itself. */
  webAssembly: boolean;
  /** Fixed-width SIMD (v128). */
  simd128: boolean;
  /** Relaxed SIMD, probed with the one instruction the kernels need: i32x4.relaxed_dot_i8x16_i7x16_add_s. */
  relaxedSimd: boolean;
  /** Shared WebAssembly memory (threads), which also needs cross-origin isolation in browsers. */
  sharedMemory: boolean;
}

const V128_ZERO = [0xfd, 0x0c, ...new Array<number>(16).fill(0)]; // v128.const 0

/** A module with one function `() -> v128` whose body is `body` (without the trailing `end`). */
function probeModule(body: number[]): Uint8Array<ArrayBuffer> {
  const code = [0x00, ...body, 0x0b]; // no locals, body, end
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: func [] -> [v128]
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x0a, code.length + 2, 0x01, code.length, ...code, // code section
  ]);
}

/** v128.const 0 */
export const SIMD128_PROBE = probeModule(V128_ZERO);
/** i32x4.relaxed_dot_i8x16_i7x16_add_s (0xfd 0x113) of three zero vectors */
export const RELAXED_SIMD_PROBE = probeModule([...V128_ZERO, ...V128_ZERO, ...V128_ZERO, 0xfd, 0x93, 0x02]);

function validates(bytes: Uint8Array<ArrayBuffer>): boolean {
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

function sharedMemoryWorks(): boolean {
  if (typeof SharedArrayBuffer === "undefined") return false;
  // Browsers expose shared memory only to cross-origin-isolated pages; Node has no such flag.
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

export function detectWasmFeatures(): WasmFeatures {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.validate !== "function") {
    return { webAssembly: false, simd128: false, relaxedSimd: false, sharedMemory: false };
  }
  const simd128 = validates(SIMD128_PROBE);
  return { webAssembly: true, simd128, relaxedSimd: simd128 && validates(RELAXED_SIMD_PROBE), sharedMemory: sharedMemoryWorks() };
}
