// End-to-end check of the I2_S decoder against bitnet.cpp itself: the float64 forward pass of SPEC §1
// (test/helpers/ref64.ts: sub-norms, ReLU², NEOX RoPE, GQA, tied head, per-token int8 activations),
// run on weights decoded by our I2_S codec, must reproduce bitnet.cpp's logits
// (bitnet-b158-tiny-i2_s.ref.json) within a few hundredths, teacher-forced.
// The same pass on the other layout bitnet.cpp can build (four rows interleaved per byte, its non-default
// non-ACT_PARALLEL branch) must not: that pins the 128-value block layout down from the outside.
// This is a decoder test, not the engine: src/model has its own forward pass and tests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { GGMLType } from "../../src/formats/gguf/types.ts";
import { codecFor } from "../../src/quant/codecs/index.ts";
import { i2_s } from "../../src/quant/codecs/i2_s.ts";
import { maxAbsDiff } from "../helpers/compare.ts";
import { referenceForward } from "../helpers/ref64.ts";
import { refModelFromGGUF, type TensorDecoder } from "../helpers/ref-model-from-gguf.ts";
import { FIXTURES } from "./fixtures.ts";

const MODEL = `${FIXTURES}/bitnet-b158-tiny-i2_s.gguf`;
const ref = JSON.parse(readFileSync(`${FIXTURES}/bitnet-b158-tiny-i2_s.ref.json`, "utf8")) as {
  prompt: number[];
  greedy: number[];
  step_logits: number[][];
};

/** bitnet.cpp's non-default layout: byte (g, c) = q[4g][c]<<6 | q[4g+1][c]<<4 | q[4g+2][c]<<2 | q[4g+3][c]. */
const rowInterleaved: TensorDecoder = (name, type, bytes, shape) => {
  if (type !== GGMLType.I2_S) return codecFor(type).dequantize(bytes, shape, name);
  const [cols, rows] = shape;
  const scale = i2_s.unpack(bytes, shape).scales[0];
  const v = new Float32Array(rows * cols);
  for (let g = 0; g < rows / 4; g++) {
    for (let c = 0; c < cols; c++) {
      for (let k = 0; k < 4; k++) v[(4 * g + k) * cols + c] = (((bytes[g * cols + c] >> (6 - 2 * k)) & 3) - 1) * scale;
    }
  }
  return v;
};

const STEPS = 4;
const tokens = [...ref.prompt, ...ref.greedy.slice(0, STEPS - 1)];

async function worstDiff(decode?: TensorDecoder): Promise<number> {
  const logits = referenceForward(await refModelFromGGUF(MODEL, "relu2", "token", decode), tokens);
  let worst = 0;
  for (let s = 0; s < STEPS; s++) {
    worst = Math.max(worst, maxAbsDiff(logits[ref.prompt.length - 1 + s], ref.step_logits[s]));
  }
  return worst;
}

test("I2_S weights decoded with the 128-value block layout reproduce bitnet.cpp's logits (teacher-forced, 4 steps)", async () => {
  const worst = await worstDiff();
  assert.ok(worst < 0.1, `max |Δlogit| = ${worst}`);
});

test("the row-interleaved I2_S layout does not (negative control)", async () => {
  const worst = await worstDiff(rowInterleaved);
  assert.ok(worst > 1, `max |Δlogit| = ${worst}`);
});
