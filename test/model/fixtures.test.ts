/**
 * The engine against outputs other implementations wrote: llama.cpp's greedy path and logits on the
 * TQ2_0 fixture, bitnet.cpp's teacher-forced logits on the I2_S (2B4T architecture) fixture, and an
 * independent float64 re-implementation of SPEC §1 on all three.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadModel } from "../../src/index.ts";
import type { BitNetModel } from "../../src/model/model.ts";
import { referenceForward } from "../helpers/ref64.ts";
import { refModelFromGGUF } from "../helpers/ref-model-from-gguf.ts";
import { argmax } from "../helpers/llamacpp.ts";
import { FIXTURES_DIR as FIX } from "../helpers/fixtures.ts";
import { maxAbsDiff } from "../helpers/compare.ts";
import { greedyIds } from "../helpers/generate.ts";
const refJson = (name: string) => JSON.parse(readFileSync(`${FIX}${name}.ref.json`, "utf8"));

describe("bitnet-tiny-tq2_0 (llama.cpp, every matmul input 256 wide)", () => {
  const ref = refJson("bitnet-tiny-tq2_0");
  let model: BitNetModel;
  after(() => model?.dispose());

  it("per-token activation quantization reproduces llama.cpp's greedy path", async () => {
    model = await loadModel(`${FIX}bitnet-tiny-tq2_0.gguf`, { contextLength: 256 });
    assert.deepEqual(await greedyIds(model, ref.prompt, ref.greedy.length), ref.greedy);
  });

  it("last-position logits agree with llama.cpp within 1e-4", () => {
    assert.ok(maxAbsDiff(model.logits(ref.prompt), ref.lastLogits) < 1e-4);
  });

  it("agrees with the float64 reference of SPEC §1 within 1e-4", async () => {
    const m64 = await refModelFromGGUF(`${FIX}bitnet-tiny-tq2_0.gguf`, "silu", "token");
    const want = referenceForward(m64, ref.prompt).at(-1) as Float64Array;
    assert.ok(maxAbsDiff(model.logits(ref.prompt), want) < 1e-4);
  });
});

describe("bitnet-small-tq1_0 (llama.cpp, F16 embedding, 768-wide ffn_down, GQA 4/1)", () => {
  const ref = refJson("bitnet-small-tq1_0");

  it("agrees with the float64 reference in both activation modes within 1e-4", async () => {
    for (const mode of ["token", "block256"] as const) {
      const model = await loadModel(`${FIX}bitnet-small-tq1_0.gguf`, { contextLength: 256, actQuant: mode });
      const m64 = await refModelFromGGUF(`${FIX}bitnet-small-tq1_0.gguf`, "silu", mode);
      const want = referenceForward(m64, ref.prompt).at(-1) as Float64Array;
      assert.ok(maxAbsDiff(model.logits(ref.prompt), want) < 1e-4, mode);
      await model.dispose();
    }
  });

  it("block256 mode stays close to llama.cpp's logits (its F16 head rounds activations to f16)", async () => {
    const model = await loadModel(`${FIX}bitnet-small-tq1_0.gguf`, { contextLength: 256, actQuant: "block256" });
    const d = maxAbsDiff(model.logits(ref.prompt), ref.lastLogits);
    await model.dispose();
    assert.ok(d < 0.05, `max |Δlogit| ${d}`);
  });
});

describe("bitnet-b158-tiny-i2_s (bitnet.cpp, 2B4T architecture: ReLU², GQA, θ 500000, I2_S)", () => {
  const ref = refJson("bitnet-b158-tiny-i2_s");
  const TOL = 0.08; // bitnet.cpp keeps K/V, Q and softmax weights in f16: a few hundredths

  it("teacher-forced logits match bitnet.cpp at every step; argmax matches where the margin is clear", async () => {
    const model = await loadModel(`${FIX}bitnet-b158-tiny-i2_s.gguf`, { contextLength: 256 });
    assert.equal(model.config.activation, "relu2");
    const seq = [...ref.prompt];
    let checked = 0;
    for (let s = 0; s < ref.greedy.length; s++) {
      const logits = model.logits(seq);
      const d = maxAbsDiff(logits, ref.step_logits[s]);
      assert.ok(d < TOL, `step ${s}: max |Δlogit| ${d}`);
      if (ref.margins[s] > 2 * TOL) {
        assert.equal(argmax(logits), ref.greedy[s], `step ${s}`);
        checked++;
      }
      seq.push(ref.greedy[s]);
    }
    assert.ok(checked >= 4, "enough steps with a clear margin");
    await model.dispose();
  });

  it("agrees with the float64 reference (ReLU²) within 1e-4", async () => {
    const model = await loadModel(`${FIX}bitnet-b158-tiny-i2_s.gguf`, { contextLength: 256 });
    const m64 = await refModelFromGGUF(`${FIX}bitnet-b158-tiny-i2_s.gguf`, "relu2", "token");
    const ids = [...ref.prompt, ...ref.greedy.slice(0, 4)];
    const want = referenceForward(m64, ids).at(-1) as Float64Array;
    assert.ok(maxAbsDiff(model.logits(ids), want) < 1e-4);
    await model.dispose();
  });

  it("SiLU in place of ReLU² (a known bug) is visibly wrong, where ReLU² is not", async () => {
    const ids = [...ref.prompt, ...ref.greedy];
    for (const act of ["relu2", "silu"] as const) {
      const all = referenceForward(await refModelFromGGUF(`${FIX}bitnet-b158-tiny-i2_s.gguf`, act, "token"), ids);
      let worst = 0;
      let sameArgmax = 0;
      for (let s = 0; s < ref.greedy.length; s++) {
        const logits = all[ref.prompt.length - 1 + s];
        worst = Math.max(worst, maxAbsDiff(logits, ref.step_logits[s]));
        if (argmax(logits) === ref.greedy[s]) sameArgmax++;
      }
      if (act === "relu2") assert.ok(worst < TOL && sameArgmax === ref.greedy.length, `relu2: ${worst}, ${sameArgmax}`);
      else assert.ok(worst > 5 * TOL && sameArgmax < ref.greedy.length, `silu: ${worst}, ${sameArgmax}`);
    }
  });
});
