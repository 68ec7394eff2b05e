// The native backend's life cycle and its failure modes: the addon present (required when
// BITNET_REQUIRE_NATIVE is set, as CI sets it), absent or broken (the status says why, creating the
// kernels throws a typed error, and nativeOrElse falls back to the wasm kernels), forced kernel sets,
// threads that sleep when idle and are joined by close(), memory over 4 GiB, and hostile arguments to
// the addon's raw functions (errors, never a crash).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BitNetError, DisposedError, InvalidArgumentError } from "../../src/errors.ts";
import { ternaryMatmulRef } from "../../src/kernels/ternary-ref.ts";
import { loadAddon } from "../../src/node/native/addon.ts";
import { createNativeKernels, nativeKernelsStatus } from "../../src/node/native/kernels.ts";
import { nativeOrElse } from "../../src/node/native/prefer.ts";
import { nativeSelfTest } from "../../src/node/native/self-test.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import { createNodeKernels } from "../../src/node/kernels.ts";
import { prng } from "../helpers/prng.ts";
import { firstBitDifference, randomActivations, randomTernary } from "./helpers.ts";

const status = nativeKernelsStatus();
const present = status.available;

test("the native addon is built and loads (required where BITNET_REQUIRE_NATIVE is set)", { skip: !process.env.BITNET_REQUIRE_NATIVE && !present && `the addon is absent: ${status.reason}` }, () => {
  assert.equal(status.available, true, `native kernels unavailable: ${status.reason}`);
  assert.ok(status.isas.includes("generic"), "the portable kernels are always compiled");
  assert.equal(status.isa, process.env.BITNET_NATIVE_ISA || status.isas[0]);
});

test("without the addon, the status says why, creating the kernels throws, and nativeOrElse falls back to wasm", async () => {
  const empty = mkdtempSync(join(tmpdir(), "bitnet-native-"));
  try {
    const s = nativeKernelsStatus({ addonDir: empty });
    assert.equal(s.available, false);
    assert.equal(s.isa, "");
    assert.match(s.reason ?? "", new RegExp(`no bitnet_native\\.node in ${empty.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    await assert.rejects(createNativeKernels({ addonDir: empty }), (e: Error) => e instanceof BitNetError && /native kernels are unavailable: no bitnet_native\.node/.test(e.message));
    const { kernels, fallbackReason } = await nativeOrElse({ addonDir: empty, threads: 1 }, async () => (await createNodeKernels({ threads: 1, backend: "wasm" })).kernels);
    assert.equal(kernels.name, "wasm-relaxed-simd");
    assert.match(fallbackReason ?? "", /native kernels unavailable: no bitnet_native\.node/);
    // the fallback computes what the reference does
    const rand = prng(9);
    const w = randomTernary("tq2_0", 5, 512, rand, { alloc: (b, a) => kernels.allocWeights?.(b, a) ?? new Uint8Array(b) });
    const x = randomActivations(2, 512, "token", rand);
    const want = new Float32Array(10), got = new Float32Array(10);
    ternaryMatmulRef(w, x, want);
    kernels.ternaryMatmul(w, x, got);
    assert.equal(firstBitDifference(want, got, 10), -1);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("a broken addon file is reported, not thrown", () => {
  const dir = mkdtempSync(join(tmpdir(), "bitnet-native-"));
  try {
    mkdirSync(join(dir, "Release"));
    writeFileSync(join(dir, "Release", "bitnet_native.node"), "not a shared object");
    const s = loadAddon(dir);
    assert.equal(s.addon, null);
    assert.match(s.reason ?? "", /bitnet_native\.node failed to load: /);
    assert.equal(nativeKernelsStatus({ addonDir: dir }).available, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("native: forced kernel sets, bad options and use after close are typed errors", { skip: !present && "the addon is absent" }, async () => {
  for (const isa of status.isas) {
    const k = await createNativeKernels({ isa, threads: 1 });
    assert.equal(k.name, `native-${isa}`);
    await k.close();
  }
  await assert.rejects(createNativeKernels({ isa: "sse9" }), (e: Error) => e instanceof InvalidArgumentError && /isa: this CPU cannot run the 'sse9' native kernels/.test(e.message));
  await assert.rejects(createNativeKernels({ threads: 0 }), InvalidArgumentError);
  await assert.rejects(createNativeKernels({ threads: 1.5 }), InvalidArgumentError);
  await assert.rejects(createNativeKernels({ spinUs: -1 }), InvalidArgumentError);
  const k = await createNativeKernels({ threads: 2 });
  await k.close();
  await k.close(); // twice is fine
  assert.throws(() => k.addInPlace(new Float32Array(4), new Float32Array(4), 4), DisposedError);
});

test("the start-up self-test passes the reference and catches a kernel one bit off", () => {
  assert.equal(nativeSelfTest(refKernels), null);
  const offByOne = { ...refKernels, ternaryMatmul: (w: Parameters<typeof ternaryMatmulRef>[0], x: Parameters<typeof ternaryMatmulRef>[1], out: Float32Array) => {
    ternaryMatmulRef(w, x, out);
    if (w.format === "i2_s" && x.tokens === 3) out[4] = Math.fround(out[4] * (1 + 2 ** -20));
  } };
  assert.equal(nativeSelfTest(offByOne), "i2_s, 3 token(s), group 512");
});

/** Threads of this process (Linux: one entry per thread in /proc/self/task). */
function threadCount(): number {
  return readdirSync("/proc/self/task").length;
}

test("native: the pool's threads split large calls, sleep when idle (no CPU used), and close() joins them", { skip: (!present || process.platform !== "linux") && "needs the addon on Linux" }, async () => {
  const before = threadCount();
  const k = await createNativeKernels({ threads: 3 });
  assert.equal(k.lanes, 3);
  assert.equal(threadCount(), before + 2);
  const rand = prng(21);
  const w = randomTernary("i2_s", 2048, 2048, rand, { alloc: (b, a) => k.allocWeights(b, a) });
  const x = randomActivations(1, 2048, "token", rand);
  const out = new Float32Array(2048);
  const split = k.splitTasks;
  for (let i = 0; i < 20; i++) k.ternaryMatmul(w, x, out);
  assert.ok(k.splitTasks >= split + 20, "every call was split across the threads");
  await new Promise((r) => setTimeout(r, 50)); // past the spin time (200 µs)
  const t0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, 500));
  const used = process.cpuUsage(t0);
  const ms = (used.user + used.system) / 1000;
  // Two spinning threads would burn about 1000 ms here; sleeping ones nothing (Node itself a little).
  assert.ok(ms < 60, `the idle process used ${ms.toFixed(1)} ms of CPU in 500 ms`);
  await k.close();
  assert.equal(threadCount(), before);
});

test("native: weights past 4 GiB in one buffer are read where they are", { skip: !present && "the addon is absent" }, async () => {
  // Pages of an untouched allocation cost nothing: only the matrix's own pages become memory.
  const k = await createNativeKernels({ threads: 1 });
  try {
    const big = k.allocWeights(2 ** 32 + 2 ** 20, 64);
    assert.equal(big.length, 2 ** 32 + 2 ** 20);
    const rand = prng(22);
    const small = randomTernary("tq2_0", 64, 1024, rand);
    const at = 2 ** 32 + 4096; // past 4 GiB
    const data = big.subarray(at, at + small.data.length);
    data.set(small.data);
    const w = { ...small, data };
    const x = randomActivations(3, 1024, "token", rand);
    const want = new Float32Array(3 * 64), got = new Float32Array(3 * 64);
    ternaryMatmulRef(small, x, want);
    k.ternaryMatmul(w, x, got);
    assert.equal(firstBitDifference(want, got, want.length), -1);
  } finally {
    await k.close();
  }
});

test("native: the addon's raw functions reject hostile arguments with errors, never a crash", { skip: !present && "the addon is absent" }, () => {
  const { addon } = loadAddon();
  assert.ok(addon);
  const ctx = addon.create(2, "", 0, 0);
  try {
    const q = new Int8Array(256), f = new Float32Array(1), out = new Float32Array(4);
    const data = new Uint8Array(66 * 4);
    const call = (...args: unknown[]) => (addon.ternary as (...a: unknown[]) => void)(ctx, ...args);
    assert.throws(() => call(q, f, 1, 256, 256, 0, data, 4, f, 1, 1, out.subarray(0, 3)), /output holds 3 values, needs 4/);
    assert.throws(() => call(q, f, 1, 256, 256, 0, data.subarray(0, 100), 4, f, 1, 1, out), /weights holds 100 values, needs 264/);
    assert.throws(() => call(q, f, 2, 256, 256, 0, data, 4, f, 1, 1, out), /activations holds 256 values, needs 512/);
    assert.throws(() => call(q, f, -1, 256, 256, 0, data, 4, f, 1, 1, out), /tokens must be a non-negative integer/);
    assert.throws(() => call(q, f, 1, 256, 256, 0, data, 2 ** 60, f, 1, 1, out), /rows must be a non-negative integer/);
    assert.throws(() => call(q, f, 1, 256, 256, 0, data, 2 ** 40, f, 1, 1, out), /needs/); // sizes that would overflow are caught
    assert.throws(() => call(q, f, 1, 256, 256, 7, data, 4, f, 1, 1, out), /unknown ternary format/);
    assert.throws(() => call(q, f, 1, 256, 100, 0, data, 4, f, 1, 1, out), /activation group/);
    assert.throws(() => call(new Uint8Array(256), f, 1, 256, 256, 0, data, 4, f, 1, 1, out), /activations has the wrong array type/);
    assert.throws(() => call(q, f, 1, 256, 256, 0, data, 4, f, NaN, 1, out), /block scales holds 1 values, needs 4/);
    assert.throws(() => (addon.attention as (...a: unknown[]) => void)(ctx, out, out, new Float32Array(8), new Uint16Array(8), 0, 1, 2, 1, 2), /same type/);
    assert.throws(() => (addon.attention as (...a: unknown[]) => void)(ctx, out, out, out, out, 0, 1, 3, 2, 1), /multiple of kv heads/);
    assert.throws(() => addon.f16(ctx, new Float32Array(4), new Uint16Array(4), 2, 4), /f16 conversion output holds 4 values, needs 6/);
    assert.throws(() => (addon.add as (...a: unknown[]) => void)(ctx, "x", out, 4), /residual has the wrong array type/);
    assert.throws(() => (addon.create as (...a: unknown[]) => void)(0, "", 0, 0), /threads must be between 1 and 1024/);
    assert.throws(() => (addon.stats as (...a: unknown[]) => void)({}), /not a kernel context/);
  } finally {
    addon.destroy(ctx);
  }
  assert.throws(() => addon.add(ctx, new Float32Array(4), new Float32Array(4), 4), /the kernels were closed/);
});
