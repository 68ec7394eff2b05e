// A model whose weights cannot be placed in the kernels' memory (wasm32 stops at 4 GiB) fails to load with
// an error that names the file, the size and the ways out. A backend that refuses every reservation stands
// in for a file of more than 4 GiB, which the suite cannot afford to write.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadModel } from "../../src/index.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import type { Kernels } from "../../src/kernels/types.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const fixture = fixturePath("bitnet-tiny-tq2_0.gguf");

test("weights that do not fit wasm32 give an error naming the file and what to do", async () => {
  const full: Kernels = {
    ...refKernels,
    name: "wasm-full",
    reserve(bytes: number) {
      throw new Error(`wasm kernels: cannot reserve ${bytes} bytes more: wasm32 stops at 4 GiB`);
    },
  };
  await assert.rejects(
    loadModel(fixture, { kernels: full }),
    (e: Error) =>
      /bitnet-tiny-tq2_0\.gguf: [\d.]+ GiB of weights do not fit in WebAssembly's 4 GiB \(wasm32\) with the wasm-full kernels/.test(e.message) &&
      /q8_0/.test(e.message) && /refKernels/.test(e.message) && /wasm32 stops at 4 GiB/.test(e.message),
  );
  // The same file loads when the memory has room.
  const m = await loadModel(new Uint8Array(readFileSync(fixture)), { kernels: refKernels });
  assert.equal(m.config.nLayers > 0, true);
  await m.dispose();
});
