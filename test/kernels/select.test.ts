// Backend selection: feature probes, the preference order relaxed SIMD → SIMD128 → reference, forced
// choices, and the fallbacks when a feature is missing (simulated by making WebAssembly.validate refuse
// the relaxed SIMD probe, or every SIMD probe).
import { test } from "node:test";
import assert from "node:assert/strict";
import { kernelsInfo, selectKernels } from "../../src/kernels/select.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import { detectWasmFeatures, RELAXED_SIMD_PROBE, SIMD128_PROBE } from "../../src/kernels/wasm/features.ts";

function sameBytes(a: BufferSource, b: Uint8Array): boolean {
  const u = a instanceof Uint8Array ? a : new Uint8Array(a as ArrayBuffer);
  return u.length === b.length && u.every((v, i) => v === b[i]);
}

/** Runs `fn` with WebAssembly.validate refusing the given probe modules. */
async function withoutProbes<T>(refused: Uint8Array[], fn: () => Promise<T>): Promise<T> {
  const original = WebAssembly.validate;
  WebAssembly.validate = (bytes: BufferSource) => (refused.some((p) => sameBytes(bytes, p)) ? false : original(bytes));
  try {
    return await fn();
  } finally {
    WebAssembly.validate = original;
  }
}

test("the probes validate on Node 24, and a corrupted opcode does not", () => {
  assert.equal(WebAssembly.validate(SIMD128_PROBE), true);
  assert.equal(WebAssembly.validate(RELAXED_SIMD_PROBE), true);
  const bad = RELAXED_SIMD_PROBE.slice();
  bad[bad.length - 3] = 0xff; // not an opcode
  assert.equal(WebAssembly.validate(bad), false);
  assert.deepEqual(detectWasmFeatures(), { webAssembly: true, simd128: true, relaxedSimd: true, sharedMemory: true });
});

test("by default the relaxed SIMD kernels over shared memory are chosen", async () => {
  const k = await selectKernels();
  assert.equal(k.name, "wasm-relaxed-simd");
  assert.equal(typeof k.allocWeights, "function");
  const info = kernelsInfo();
  assert.equal(info.name, "wasm-relaxed-simd");
  assert.equal(info.sharedMemory, true);
  assert.equal(info.fallbackReason, null);
});

test("prefer 'ref' forces the reference kernels; simd 'simd128' forces SIMD128", async () => {
  assert.equal(await selectKernels({ prefer: "ref" }), refKernels);
  assert.equal(kernelsInfo().name, "ref");
  assert.equal((await selectKernels({ simd: "simd128" })).name, "wasm-simd128");
});

test("without relaxed SIMD the SIMD128 kernels are chosen, and the reason is kept", async () => {
  const k = await withoutProbes([RELAXED_SIMD_PROBE], () => selectKernels());
  assert.equal(k.name, "wasm-simd128");
  assert.match(kernelsInfo().fallbackReason ?? "", /relaxed SIMD is not supported/);
});

test("without SIMD at all the reference kernels are chosen", async () => {
  const k = await withoutProbes([RELAXED_SIMD_PROBE, SIMD128_PROBE], () => selectKernels());
  assert.equal(k, refKernels);
  assert.match(kernelsInfo().fallbackReason ?? "", /SIMD128 is not supported/);
});
