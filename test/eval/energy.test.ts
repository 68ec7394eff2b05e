/**
 * The b1.58 paper's arithmetic-energy model (src/eval/energy.ts): the 71.4× at 7 nm and 50× at 45 nm for
 * the paper's own setting, operation counts by hand on a small shape, and the matrices read from a GGUF.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ENERGY_45NM, ENERGY_7NM, estimateEnergy, llamaMatmuls, modelMatmuls, perOperationRatio } from "../../src/eval/energy.ts";
import { readModelHeader } from "../../src/node/model-header.ts";

test("the paper's figure: FP16 add + mul over an INT8 add is 71.4× at 7 nm (and 50.0× at 45 nm)", () => {
  assert.equal(perOperationRatio(ENERGY_7NM).toFixed(1), "71.4");
  assert.equal(perOperationRatio(ENERGY_45NM).toFixed(1), "50.0");
  // The paper's LLaMA 3B shape (3200 / 8640, 26 layers, 32 heads): the matmul energy ratio rounds to the same figures.
  const e = estimateEnergy(llamaMatmuls({ dim: 3200, ffnDim: 8640, nLayers: 26, nHeads: 32, nKvHeads: 32, vocabSize: 32000 }));
  assert.deepEqual(e.nodes.map((n) => n.ratio.toFixed(1)), ["71.4", "50.0"]);
  assert.equal(e.linearShapes, 26 * 7);
});

test("operation counts by hand: a 1×4 by 4×3 product", () => {
  const e = estimateEnergy({ linear: [{ name: "blk.0.attn_q.weight", n: 4, p: 3 }], head: { name: "output.weight", n: 4, p: 2 } });
  assert.deepEqual(e.ternaryOps, { adds: 9, muls: 0 }); // (n − 1)·p INT8 additions
  assert.deepEqual(e.fp16Ops, { adds: 9, muls: 12 }); // n·p multiplications + (n − 1)·p additions
  assert.deepEqual(e.headOps, { adds: 6, muls: 8 });
  const at7 = e.nodes[0];
  assert.ok(Math.abs(at7.ternaryPj - 9 * 0.007) < 1e-12);
  assert.ok(Math.abs(at7.fp16Pj - (9 * 0.16 + 12 * 0.34)) < 1e-12);
  assert.ok(Math.abs(at7.headPj - (6 * 0.16 + 8 * 0.34)) < 1e-12);
  assert.ok(Math.abs(at7.ratioWithHead - (at7.fp16Pj + at7.headPj) / (at7.ternaryPj + at7.headPj)) < 1e-12);
  const at45 = e.nodes[1];
  assert.ok(Math.abs(at45.fp16Pj - (9 * 0.4 + 12 * 1.1)) < 1e-12);
});

test("the matrices of a GGUF file: the default model's 21 BitLinear matrices and its tied head", async () => {
  const h = await readModelHeader(fileURLToPath(new URL("../../models/bitnet-default.gguf", import.meta.url)));
  const m = modelMatmuls(h.tensors);
  assert.equal(m.linear.length, 21);
  assert.deepEqual(m.linear.find((x) => x.name === "blk.0.ffn_down.weight"), { name: "blk.0.ffn_down.weight", n: 512, p: 256 });
  assert.deepEqual(m.head, { name: "token_embd.weight", n: 256, p: 2048 });
  assert.throws(() => modelMatmuls([{ name: "token_embd.weight", shape: [4, 4] }]), /no blk\.N\.attn_\*\/ffn_\* weight matrices/);
});
