// The wasm thread pool as a generic row splitter (src/kernels/wasm/pool.ts), driven directly: any export
// by name, any alignment, more lanes than rows, and calls that trap on a helper or on the caller, after
// which the pool still works. The f32 rows are checked against float64 dot products computed here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createThreadedWasmKernels } from "../../src/node/wasm-threads.ts";
import { gaussian, prng } from "../helpers/prng.ts";

/** The f32 format code of floatRows (src/kernels/wasm/kernels.ts). */
const F32 = 0;

test("the pool runs an export over rows split at any alignment, idle helpers included", async () => {
  const k = await createThreadedWasmKernels({ simd: "relaxed", threads: 3, minParallelWork: 0 });
  const { pool } = k;
  const rand = prng(41);
  try {
    assert.equal(pool.lanes, 3);
    assert.throws(() => pool.fn("noSuchKernel"), /exports no function 'noSuchKernel'/);
    const floatRows = pool.fn("floatRows");
    const K = 64;
    for (const [N, align] of [[5, 1], [2, 1], [13, 4], [40, 8]]) {
      const w = gaussian(rand, N * K, 1);
      const x = gaussian(rand, K, 1);
      const wAt = k.arena.alloc(N * K * 4, 64, "test weights");
      const xAt = k.arena.alloc(K * 4, 64, "test input");
      const yAt = k.arena.alloc(N * 4, 64, "test output");
      new Float32Array(k.arena.memory.buffer, wAt, N * K).set(w);
      new Float32Array(k.arena.memory.buffer, xAt, K).set(x);
      new Float32Array(k.arena.memory.buffer, yAt, N).fill(NaN);
      const before = pool.splitJobs;
      pool.run(floatRows, [F32, wAt, N, K, xAt, 1, 1, yAt], N, 1, undefined, align);
      assert.equal(pool.splitJobs, before + 1, `N=${N}, align ${align}: the job was not split`);
      const y = new Float32Array(k.arena.memory.buffer, yAt, N);
      for (let n = 0; n < N; n++) {
        let want = 0;
        let scale = 0;
        for (let i = 0; i < K; i++) {
          want += w[n * K + i] * x[i];
          scale += Math.abs(w[n * K + i] * x[i]);
        }
        assert.ok(Math.abs(y[n] - want) <= 1e-5 * scale, `N=${N}, align ${align}: row ${n} is ${y[n]}, expected ${want}`);
      }
    }
  } finally {
    await k.close();
  }
});

test("a call that traps on a helper or on the caller throws, and the pool keeps working", async () => {
  const k = await createThreadedWasmKernels({ simd: "relaxed", threads: 2, minParallelWork: 0 });
  const { pool } = k;
  try {
    const floatRows = pool.fn("floatRows");
    const N = 4, K = 64;
    const xAt = k.arena.alloc(K * 4, 64, "test input");
    const yAt = k.arena.alloc(N * 4, 64, "test output");
    new Float32Array(k.arena.memory.buffer, xAt, K).fill(1);
    const end = k.arena.memory.buffer.byteLength;
    // Rows 0-1 (the caller's) end exactly at the memory's end; rows 2-3 (the helper's) lie beyond it.
    assert.throws(() => pool.run(floatRows, [F32, end - 2 * K * 4, N, K, xAt, 1, 1, yAt], N, 1, undefined, 1), /a helper thread failed in floatRows/);
    // Every row out of bounds: the caller's own trap is what surfaces, once the helper is done too.
    assert.throws(() => pool.run(floatRows, [F32, end, N, K, xAt, 1, 1, yAt], N, 1, undefined, 1), WebAssembly.RuntimeError);
    const wAt = k.arena.alloc(N * K * 4, 64, "test weights");
    new Float32Array(k.arena.memory.buffer, wAt, N * K).fill(0.5);
    pool.run(floatRows, [F32, wAt, N, K, xAt, 1, 1, yAt], N, 1, undefined, 1);
    assert.deepEqual([...new Float32Array(k.arena.memory.buffer, yAt, N)], [32, 32, 32, 32]);
  } finally {
    await k.close();
  }
});
