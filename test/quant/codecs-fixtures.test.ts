// Codecs against files written by other programs: tq-layout.gguf (gguf-py's TQ1_0/TQ2_0 quantizer and
// dequantizer) and bitnet-b158-tiny-i2_s.gguf (bitnet.cpp's llama-quantize). The tensor table comes from
// the independent reader @huggingface/gguf, the bytes from node:fs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { codecFor, i2_s } from "../../src/quant/codecs/index.ts";
import { f16Codec, f32Codec } from "../../src/quant/codecs/float.ts";
import { f32Of, readFixture } from "./fixtures.ts";

const layout = await readFixture("tq-layout.gguf");
const i2sModel = await readFixture("bitnet-b158-tiny-i2_s.gguf");

const quantized = [...layout.values()].filter((t) => t.type === 34 || t.type === 35);

test("tq-layout.gguf has the six quantized tensors the README lists", () => {
  assert.deepEqual(quantized.map((t) => t.name).sort(), [
    "gauss_4x768.tq1_0", "gauss_4x768.tq2_0", "ternary_8x512.tq1_0", "ternary_8x512.tq2_0", "ties_2x256.tq1_0", "ties_2x256.tq2_0",
  ]);
});

for (const t of quantized) {
  test(`${t.name}: decodes bit for bit to ${t.name}.expected, and re-encodes to the stored bytes`, () => {
    const expected = f32Of(layout.get(`${t.name}.expected`)!);
    const codec = codecFor(t.type, t.name);
    const got = codec.dequantize(t.bytes, t.shape, t.name);
    assert.equal(got.length, expected.length);
    for (let i = 0; i < got.length; i++) assert.ok(Object.is(got[i], expected[i]), `${t.name}[${i}]: ${got[i]} vs ${expected[i]}`);
    // Row by row reads only that row's blocks and gives the same values.
    const [cols, rows] = t.shape;
    const row = new Float32Array(cols);
    for (let r = 0; r < rows; r++) {
      codec.dequantizeRow(t.bytes, r, cols, row, t.name);
      for (let c = 0; c < cols; c++) assert.ok(Object.is(row[c], expected[r * cols + c]), `${t.name} row ${r} col ${c}`);
    }
    assert.deepEqual(codec.quantize(expected, t.shape, t.name), t.bytes);
  });
}

for (const name of ["ties_2x256.tq2_0", "ties_2x256.tq1_0"]) {
  test(`${name}: its all-zero row is stored with d = 0 and decodes to zeros`, () => {
    const t = layout.get(name)!;
    const expected = f32Of(layout.get(`${name}.expected`)!);
    const zeroRows = [0, 1].filter((r) => expected.subarray(r * 256, r * 256 + 256).every((v) => v === 0));
    assert.equal(zeroRows.length, 1);
    const blockBytes = t.type === 35 ? 66 : 54;
    const end = (zeroRows[0] + 1) * blockBytes;
    assert.deepEqual(Array.from(t.bytes.subarray(end - 2, end)), [0, 0], "fp16 d of the zero row");
    const got = codecFor(t.type).dequantize(t.bytes, t.shape);
    assert.ok(got.subarray(zeroRows[0] * 256, zeroRows[0] * 256 + 256).every((v) => v === 0));
  });
}

test("plain.f16 and plain.f32 decode to finite values; plain.f16 re-encodes to its bytes", () => {
  const h = layout.get("plain.f16")!;
  assert.equal(h.type, 1);
  const hv = f16Codec.dequantize(h.bytes, h.shape, h.name);
  assert.equal(hv.length, 64 * 3);
  assert.ok(hv.every(Number.isFinite));
  assert.deepEqual(f16Codec.quantize(hv, h.shape), h.bytes);
  const row = new Float32Array(64);
  f16Codec.dequantizeRow(h.bytes, 2, 64, row);
  assert.deepEqual(row, hv.subarray(128, 192));
  const f = layout.get("plain.f32")!;
  const fv = f32Codec.dequantize(f.bytes, f.shape, f.name);
  assert.equal(fv.length, 5);
  assert.ok(fv.every(Number.isFinite));
  assert.deepEqual(fv, new Float32Array(f.bytes.buffer.slice(f.bytes.byteOffset, f.bytes.byteOffset + 20)));
});

const i2sTensors = [...i2sModel.values()].filter((t) => t.type === 36);

test("bitnet-b158-tiny-i2_s.gguf holds 14 I2_S tensors of n/4 + 32 bytes", () => {
  assert.equal(i2sTensors.length, 14);
});

for (const t of i2sTensors) {
  test(`${t.name}: I2_S decodes to ternary codes times one positive scale, and re-encodes identically`, () => {
    const n = t.shape[0] * t.shape[1];
    const u = i2_s.unpack(t.bytes, t.shape, t.name);
    assert.equal(u.scaleGroup, n);
    const scale = u.scales[0];
    assert.ok(scale > 0 && scale < 1, `scale ${scale}`);
    // The fixture's weights are random ternary: each code should take roughly a third.
    const counts = [0, 0, 0];
    for (const c of u.codes) counts[c + 1]++;
    for (const c of counts) assert.ok(c / n > 0.28 && c / n < 0.39, `code fractions ${counts.map((k) => (k / n).toFixed(3))}`);
    // Decoded values are exactly {-scale, 0, +scale}.
    const values = i2_s.dequantize(t.bytes, t.shape, t.name);
    for (let i = 0; i < n; i++) assert.ok(values[i] === 0 || Math.abs(values[i]) === scale);
    // decode → encode, both with our packer and with bitnet.cpp's quantizer rule, reproduces the
    // code bytes and the scale (the other 28 tail bytes are uninitialised in the file).
    const keep = n / 4 + 4;
    assert.deepEqual(i2_s.pack(u.codes, u.scales, t.shape).subarray(0, keep), t.bytes.subarray(0, keep));
    assert.deepEqual(i2_s.quantize(values, t.shape).subarray(0, keep), t.bytes.subarray(0, keep));
    // Row reads agree with the whole-tensor decode.
    const [cols, rows] = t.shape;
    const row = new Float32Array(cols);
    for (const r of [0, 1, rows >> 1, rows - 1]) {
      i2_s.dequantizeRow(t.bytes, r, cols, row, t.name);
      assert.deepEqual(row, values.subarray(r * cols, (r + 1) * cols));
    }
  });
}
