// Backend selection: feature probes, the preference order relaxed SIMD → SIMD128 → reference, forced
// choices, and the fallbacks when a feature is missing (simulated by making WebAssembly.validate refuse
// the relaxed SIMD probe, or every SIMD probe).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseKernels, kernelSelfTest, selectKernels } from "../../src/kernels/select.ts";
import { createWasmKernels } from "../../src/kernels/wasm/kernels.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import type { WasmKernels } from "../../src/kernels/wasm/kernels.ts";
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
  const { kernels: k, fallbackReason } = await chooseKernels();
  assert.equal(k.name, "wasm-relaxed-simd");
  assert.equal(typeof k.allocWeights, "function");
  assert.equal((k as WasmKernels).arena.shared, true);
  assert.equal(fallbackReason, null);
});

test("prefer 'ref' forces the reference kernels; simd 'simd128' forces SIMD128", async () => {
  assert.equal(await selectKernels({ prefer: "ref" }), refKernels);
  assert.equal((await selectKernels({ simd: "simd128" })).name, "wasm-simd128");
});

test("without relaxed SIMD the SIMD128 kernels are chosen, and the reason is kept", async () => {
  const { kernels: k, fallbackReason } = await withoutProbes([RELAXED_SIMD_PROBE], () => chooseKernels());
  assert.equal(k.name, "wasm-simd128");
  assert.match(fallbackReason ?? "", /relaxed SIMD is not supported/);
});

test("without SIMD at all the reference kernels are chosen", async () => {
  const { kernels: k, fallbackReason } = await withoutProbes([RELAXED_SIMD_PROBE, SIMD128_PROBE], () => chooseKernels());
  assert.equal(k, refKernels);
  assert.match(fallbackReason ?? "", /SIMD128 is not supported/);
});

test("over an ordinary (non-shared) memory, as a page without cross-origin isolation has, the self-test passes", async () => {
  // The test's matrices used to be placed before the kernels' first scratch grew the memory, which
  // detached them: such pages fell back to the reference kernels.
  for (const simd of ["relaxed", "simd128"] as const) {
    const k = await createWasmKernels({ simd, shared: false });
    assert.equal(kernelSelfTest(k), null, simd);
  }
});
