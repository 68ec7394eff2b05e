// The Q8_0 codec against llama.cpp's own quantizers (golden digests, see q8_0-input.ts), against the
// format's rules re-implemented here in float64, and on its errors; and a file written with a Q8_0 tensor
// read back by @huggingface/gguf, an independent GGUF parser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { GGMLType, tensorByteSize } from "../../src/formats/gguf/types.ts";
import { writeGGUF } from "../../src/formats/gguf/writer.ts";
import { atomicFileSink } from "../../src/node/atomic-file-sink.ts";
import { codecFor, hasCodec, q8_0 } from "../../src/quant/codecs/index.ts";
import { quantizeQ8_0Activations } from "../../src/quant/codecs/q8_0.ts";
import { f16ToF32, f32ToF16 } from "../../src/quant/half.ts";
import { gaussian, prng } from "../helpers/prng.ts";
import { GOLDEN_BLOCKS, q8GoldenInput } from "./q8_0-input.ts";

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** ggml's quantize_row_q8_0_ref on the golden input (libggml-base.so of node-llama-cpp 3.22.1). */
const GGML_REF_SHA256 = "bb78314506500e1fbb85ec4f6e613b455034bf0a535510bcc8ebcc37b5cb43aa";
/** ggml-cpu's Q8_0 from_float on the golden input, as the AVX2 (haswell) and AVX-512 (zen4) backends compute it. */
const GGML_CPU_AVX_SHA256 = "9f32cf41050fc021ebd74e69a3582c4c7cc81db7a07e3a14012539df1a2f4b4e";

/** Activations in block_q8_0 bytes (fp16 d, then 32 int8), to compare with ggml's from_float output. */
function activationBlocks(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const q = new Int8Array(x.length);
  const scales = new Float32Array(nb);
  quantizeQ8_0Activations(x, 1, x.length, q, scales);
  const out = new Uint8Array(nb * 34);
  for (let b = 0; b < nb; b++) {
    const h = f32ToF16(scales[b]);
    assert.equal(f16ToF32(h), scales[b], "activation scales are fp16 values");
    out[b * 34] = h & 0xff;
    out[b * 34 + 1] = h >>> 8;
    for (let j = 0; j < 32; j++) out[b * 34 + 2 + j] = q[b * 32 + j] & 0xff;
  }
  return out;
}

test("q8_0 weights are byte-identical to ggml's quantize_row_q8_0_ref (roundf: ties away from zero)", () => {
  const x = q8GoldenInput();
  const bytes = q8_0.quantize(x, [32 * 8, GOLDEN_BLOCKS / 8]);
  assert.equal(bytes.length, GOLDEN_BLOCKS * 34);
  assert.equal(sha256(bytes), GGML_REF_SHA256);
});

test("q8_0 activations are byte-identical to ggml-cpu's AVX quantize_row_q8_0 (ties to even)", () => {
  assert.equal(sha256(activationBlocks(q8GoldenInput())), GGML_CPU_AVX_SHA256);
});

test("the two rounding rules on a tie: weights 2.5 → 3, activations 2.5 → 2", () => {
  const x = new Float32Array(32);
  x[0] = 127; // d = 1 exactly
  x[1] = 2.5;
  x[2] = -2.5;
  x[3] = 3.5;
  const w = q8_0.quantize(x, [32]);
  assert.equal(f16ToF32(w[0] | (w[1] << 8)), 1);
  assert.deepEqual([...new Int8Array(w.buffer, 2, 4)], [127, 3, -3, 4]);
  const q = new Int8Array(32);
  const s = new Float32Array(1);
  quantizeQ8_0Activations(x, 1, 32, q, s);
  assert.deepEqual([...q.subarray(0, 4)], [127, 2, -2, 4]);
  assert.equal(s[0], 1);
});

/** The format's rules in float64, written from ggml's description, not from the codec. */
function specQuantize(x: Float32Array): { d: number[]; q: number[] } {
  const d: number[] = [];
  const q: number[] = [];
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
    const db = Math.fround(amax / 127);
    const id = db === 0 ? 0 : Math.fround(1 / db);
    d.push(f16ToF32(f32ToF16(db)));
    for (let j = 0; j < 32; j++) {
      const v = Math.fround(x[b * 32 + j] * id);
      q.push(Math.sign(v) * Math.floor(Math.abs(v) + 0.5) + 0); // C roundf, then stored as an integer (no -0)
    }
  }
  return { d, q };
}

test("q8_0 quantize, dequantize and dequantizeRow follow the format on random data", () => {
  const rand = prng(81);
  for (const [cols, rows] of [[32, 1], [64, 3], [2560, 4], [96, 7]]) {
    const x = gaussian(rand, cols * rows, 0.05);
    const bytes = q8_0.quantize(x, [cols, rows], "t");
    assert.equal(bytes.length, tensorByteSize(GGMLType.Q8_0, [cols, rows]));
    const spec = specQuantize(x);
    const values = q8_0.dequantize(bytes, [cols, rows], "t");
    for (let i = 0; i < x.length; i++) {
      const b = Math.floor(i / 32);
      assert.equal(values[i], spec.q[i] * spec.d[b], `element ${i}`);
      // Half a step for rounding x/d, plus up to 127 times the fp16 rounding of d (2^-11 of it).
      assert.ok(Math.abs(values[i] - x[i]) <= 0.57 * spec.d[b] + 1e-12, `element ${i}: ${values[i]} for ${x[i]}`);
    }
    const row = new Float32Array(cols);
    for (let r = 0; r < rows; r++) {
      q8_0.dequantizeRow(bytes, r, cols, row, "t");
      assert.deepEqual(row, values.subarray(r * cols, (r + 1) * cols));
    }
  }
  assert.equal(codecFor(GGMLType.Q8_0), q8_0);
  assert.ok(hasCodec(GGMLType.Q8_0));
});

test("q8_0 errors name the tensor and the rule", () => {
  assert.throws(() => q8_0.quantize(new Float32Array(48), [48], "blk.0.x"), /blk\.0\.x: q8_0 needs a row length \(ne\[0\]\) divisible by 32, got 48/);
  assert.throws(() => q8_0.quantize(Float32Array.of(...new Array<number>(31).fill(0), NaN), [32], "head"), /head: non-finite value NaN at index 31/);
  assert.throws(() => q8_0.dequantize(new Uint8Array(60), [64], "emb"), /emb: q8_0 data is 60 bytes, shape needs 68/);
  assert.throws(() => q8_0.dequantizeRow(new Uint8Array(68), 2, 32, new Float32Array(32), "emb"), /emb row 2: q8_0 data is 68 bytes, shape needs 102/);
});

test("non-finite activations give a NaN block scale, not garbage codes", () => {
  const x = new Float32Array(64).fill(0.5);
  x[40] = Infinity;
  const q = new Int8Array(64);
  const s = new Float32Array(2);
  quantizeQ8_0Activations(x, 1, 64, q, s);
  assert.equal(s[0], f16ToF32(f32ToF16(Math.fround(0.5 / 127))));
  assert.ok(Number.isNaN(s[1]));
  assert.deepEqual([...q.subarray(32)], new Array<number>(32).fill(0));
});

test("a GGUF file with a Q8_0 tensor reads back through @huggingface/gguf", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bitnet-q8-"));
  try {
    const path = join(dir, "q8.gguf");
    const x = gaussian(prng(5), 64 * 3, 1);
    const bytes = q8_0.quantize(x, [64, 3]);
    await writeGGUF(await atomicFileSink(path), { metadata: [{ key: "general.architecture", value: "llama" }], tensors: [{ name: "w", shape: [64, 3], type: GGMLType.Q8_0 }] }, () => bytes);
    const { tensorInfos } = await gguf(path, { allowLocalFile: true });
    assert.equal(tensorInfos.length, 1);
    assert.equal(Number(tensorInfos[0].dtype), 8);
    assert.deepEqual(tensorInfos[0].shape.map(Number), [64, 3]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
