/**
 * Parity with llama.cpp (node-llama-cpp, the independent reference) on random models our writer
 * produces: several shapes, TQ2_0 and TQ1_0, GQA and MHA, SiLU, F32 embedding. In llama.cpp's own
 * activation rule (block256, its Q8_K) the logits must agree within 1e-3 and 32 greedy tokens must be
 * identical; in BitNet's per-token rule we agree with an independent float64 reference instead.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeGGUF } from "../../src/formats/gguf/writer.ts";
import { loadModel } from "../../src/index.ts";
import { syntheticModel, type SyntheticSpec } from "../../src/model/synthetic.ts";
import { atomicFileSink } from "../../src/node/atomic-file-sink.ts";
import { assertMatchesLlamaCpp, disposeLlamaCpp } from "../helpers/llamacpp.ts";
import { referenceForward } from "../helpers/ref64.ts";
import { refModelFromGGUF } from "../helpers/ref-model-from-gguf.ts";
import { maxAbsDiff } from "../helpers/compare.ts";

const SHAPES: Omit<SyntheticSpec, "seed" | "architecture" | "vocabSize" | "embeddingType">[] = [
  { linearType: "tq2_0", dim: 256, ffnDim: 768, nLayers: 2, nHeads: 4, nKvHeads: 1 },
  { linearType: "tq1_0", dim: 256, ffnDim: 512, nLayers: 2, nHeads: 4, nKvHeads: 4 },
  { linearType: "tq2_0", dim: 512, ffnDim: 512, nLayers: 1, nHeads: 8, nKvHeads: 2 },
  { linearType: "tq1_0", dim: 512, ffnDim: 1024, nLayers: 1, nHeads: 4, nKvHeads: 2 },
  { linearType: "tq2_0", dim: 256, ffnDim: 512, nLayers: 2, nHeads: 2, nKvHeads: 1, outputScales: true },
];
const PROMPT = [1, 261, 300, 333, 280, 295, 310];

describe("parity with llama.cpp on random models", () => {
  let dir: string;
  const paths: string[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "bitnet-parity-"));
    for (const [i, shape] of SHAPES.entries()) {
      const { header, data } = syntheticModel({ architecture: "bitnet", vocabSize: 384, embeddingType: "f32", seed: 100 + i, ...shape });
      const path = join(dir, `m${i}.gguf`);
      await writeGGUF(await atomicFileSink(path), header, data);
      paths.push(path);
    }
  });
  after(async () => {
    await disposeLlamaCpp();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [i, shape] of SHAPES.entries()) {
    const label = `${shape.linearType} dim ${shape.dim} ffn ${shape.ffnDim} heads ${shape.nHeads}/${shape.nKvHeads}${shape.outputScales ? " with .scale tensors" : ""}`;
    it(`${label}: block256 logits within 1e-3 and 32 identical greedy tokens`, async () => {
      const model = await loadModel(paths[i], { contextLength: 256, actQuant: "block256" });
      try {
        await assertMatchesLlamaCpp(model, paths[i], PROMPT, 32, 1e-3);
      } finally {
        await model.dispose();
      }
    });
  }

  it("per-token mode agrees with the float64 reference of SPEC §1", async () => {
    const model = await loadModel(paths[0], { contextLength: 256 });
    const want = referenceForward(await refModelFromGGUF(paths[0], "silu", "token"), PROMPT).at(-1) as Float64Array;
    const got = model.logits(PROMPT);
    await model.dispose();
    const d = maxAbsDiff(got, want);
    assert.ok(d < 1e-4, `max |Δlogit| ${d}`);
  });
});

describe("the FP baseline through the same engine, against llama.cpp", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "bitnet-fp-"));
  });
  after(async () => {
    await disposeLlamaCpp();
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, Partial<SyntheticSpec>, number][] = [
    ["llama architecture, F32 weights, untied head, GQA", { architecture: "llama", linearType: "f32", untiedOutput: true, nKvHeads: 2 }, 1e-4],
    ["bitnet architecture with F32 (unquantized) linear layers", { architecture: "bitnet", linearType: "f32" }, 1e-4],
    // llama.cpp rounds activations to f16 before an f16 matmul; we keep them in f32.
    ["llama architecture, F16 weights", { architecture: "llama", linearType: "f16", embeddingType: "f16" }, 2e-2],
  ];
  for (const [i, [label, over, tol]] of cases.entries()) {
    it(`${label}: logits within ${tol} and identical greedy tokens`, async () => {
      const spec: SyntheticSpec = { architecture: "llama", dim: 256, ffnDim: 512, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 384, linearType: "f32", embeddingType: "f32", seed: 7 + i, ...over };
      const { header, data } = syntheticModel(spec);
      const path = join(dir, `fp${i}.gguf`);
      await writeGGUF(await atomicFileSink(path), header, data);
      const model = await loadModel(path, { contextLength: 256 });
      try {
        await assertMatchesLlamaCpp(model, path, PROMPT, 16, tol);
      } finally {
        await model.dispose();
      }
    });
  }
});
