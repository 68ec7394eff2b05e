// Every codec on random shapes: pack/unpack round trips, row decoding against whole decoding, and the
// element formulas of SPEC §3 (the independent decoders of test/helpers/spec-codecs.ts) / transformers' pack_weights.
// Also: the TQ quantizers' roundf ties, and clear errors for bad shapes, codes and buffers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bf16Codec, codecFor, f16Codec, f32Codec, hasCodec, i2_s, ternaryCodecFor, tq1_0, tq2_0, type TernaryCodec } from "../../src/quant/codecs/index.ts";
import { dequantizeHf, dequantizeRowHf, gammaFromWeightScale, hfPackedByteSize, packHf, quantizeHf, unpackHf } from "../../src/quant/codecs/hf-packed.ts";
import { f16ToF32, f32ToF16 } from "../../src/quant/half.ts";
import { quantizeAbsmean } from "../../src/quant/absmean.ts";
import { gaussian, prng, randInt, ternary } from "../helpers/prng.ts";
import { specI2S, specTq1_0, specTq2_0, type SpecDecoded } from "../helpers/spec-codecs.ts";

const SPEC: [TernaryCodec, (b: Uint8Array, n: number) => SpecDecoded][] = [
  [tq2_0, specTq2_0],
  [tq1_0, specTq1_0],
  [i2_s, specI2S],
];

function randomShape(rand: () => number, block: number): number[] {
  const cols = block * randInt(rand, 1, 3) * (block === 128 ? randInt(rand, 1, 2) : 1);
  const shape = [cols, randInt(rand, 1, 5)];
  if (rand() < 0.3) shape.push(randInt(rand, 1, 3));
  return shape;
}

for (const [codec, spec] of SPEC) {
  test(`${codec.name}: pack/unpack round trips and matches the SPEC element formula on random shapes`, () => {
    const rand = prng(1000 + codec.typeId);
    for (let t = 0; t < 25; t++) {
      const shape = randomShape(rand, codec.blockSize);
      const n = shape.reduce((a, b) => a * b, 1);
      const codes = ternary(rand, n);
      const groups = codec === i2_s ? 1 : n / 256;
      // Scales that survive fp16 storage exactly, so the round trip can be checked bit for bit.
      const scales = Float32Array.from({ length: groups }, () => f16ToF32(f32ToF16(rand() * 2)));
      const bytes = codec.pack(codes, scales, shape);
      assert.equal(bytes.length, codec === i2_s ? n / 4 + 32 : (n / 256) * (codec === tq2_0 ? 66 : 54));
      const u = codec.unpack(bytes, shape);
      assert.deepEqual(u.codes, codes);
      assert.deepEqual(u.scales, scales);
      assert.equal(u.scaleGroup, codec === i2_s ? n : 256);
      assert.deepEqual(codec.pack(u.codes, u.scales, shape), bytes);
      const ref = spec(bytes, n);
      assert.deepEqual(ref.codes, codes);
      assert.deepEqual(ref.d, Array.from(scales));
      // Whole decode = code·scale, and each row decode agrees with it.
      const all = codec.dequantize(bytes, shape);
      for (let i = 0; i < n; i++) assert.ok(Object.is(all[i], codes[i] * scales[codec === i2_s ? 0 : Math.floor(i / 256)]), `value ${i}`);
      const cols = shape[0];
      const row = new Float32Array(cols + 3);
      for (let r = 0; r < n / cols; r++) {
        codec.dequantizeRow(bytes, r, cols, row);
        for (let c = 0; c < cols; c++) assert.ok(Object.is(row[c], all[r * cols + c]), `row ${r} col ${c}`);
      }
      // The reference quantizer, given the decoded values, gives back the same bytes (up to blocks whose
      // codes are all 0, where TQ stores d = 0 instead of the packed scale).
      const requant = codec.quantize(all, shape);
      assert.deepEqual(codec.dequantize(requant, shape), all);
    }
  });
}

test("pack accepts one shared scale (one absmean γ per matrix) for TQ formats", () => {
  const rand = prng(5);
  const w = gaussian(rand, 512 * 2, 0.02);
  const { codes, gamma } = quantizeAbsmean(w, "w");
  for (const codec of [tq1_0, tq2_0]) {
    const bytes = codec.pack(codes, Float32Array.of(gamma), [512, 2]);
    const u = codec.unpack(bytes, [512, 2]);
    assert.deepEqual(u.codes, codes);
    assert.ok(u.scales.every((s) => s === f16ToF32(f32ToF16(gamma))));
  }
});

test("TQ quantizers round x/d half away from zero (C roundf), per 256-block absmax", () => {
  // Block absmax 1 → id = 1: ±0.5 are ties and go to ±1; 0.49 stays 0; -0 and 0 stay 0.
  const x = new Float32Array(256);
  x.set([1, 0.5, -0.5, 0.49, -0.49, -0, 0.75, -1]);
  for (const codec of [tq1_0, tq2_0]) {
    const u = codec.unpack(codec.quantize(x, [256, 1]), [256, 1]);
    assert.deepEqual(Array.from(u.codes.subarray(0, 8)), [1, 1, -1, 0, 0, 0, 1, -1], codec.name);
    assert.equal(u.scales[0], 1);
  }
  // fp16 storage of d: absmax 0.1 is stored as the nearest f16, while id used the float32 0.1.
  x.fill(0);
  x[0] = Math.fround(0.1);
  x[1] = Math.fround(0.05);
  const u2 = tq2_0.unpack(tq2_0.quantize(x, [256, 1]), [256, 1]);
  assert.equal(u2.scales[0], f16ToF32(f32ToF16(0.1)));
  assert.deepEqual(Array.from(u2.codes.subarray(0, 2)), [1, 1]);
});

test("I2_S quantizer is bitnet.cpp's: sign with a 1e-6 dead zone, scale = max|W|", () => {
  const x = new Float32Array(128);
  // float32(1e-6) is just below the double 1e-6 that bitnet.cpp compares against, so it is still "zero".
  x.set([0.3, -0.2, 9e-7, -9e-7, 1e-6, -1e-6, 0, -0, 0.01, -0.7, 1.0000001e-6, -1.0000001e-6]);
  const bytes = i2_s.quantize(x, [128, 1]);
  const u = i2_s.unpack(bytes, [128, 1]);
  assert.deepEqual(Array.from(u.codes.subarray(0, 12)), [1, -1, 0, 0, 0, 0, 0, 0, 1, -1, 1, -1]);
  assert.equal(u.scales[0], Math.fround(0.7));
  assert.deepEqual(Array.from(bytes.subarray(36)), new Array(28).fill(0), "tail padding is zeros");
  // An all-zero tensor: scale 0, all codes 0 (bitnet.cpp stores max = 0 as is).
  const z = i2_s.unpack(i2_s.quantize(new Float32Array(256), [256]), [256]);
  assert.equal(z.scales[0], 0);
  assert.ok(z.codes.every((c) => c === 0));
});

test("hf-packed: transformers' slab layout, round trips, row decoding and γ conventions", () => {
  const rand = prng(77);
  for (let t = 0; t < 20; t++) {
    const cols = randInt(rand, 1, 40);
    const rows = 4 * randInt(rand, 1, 10);
    const shape = [cols, rows];
    const codes = ternary(rand, cols * rows);
    const packed = packHf(codes, shape);
    assert.equal(packed.length, hfPackedByteSize(shape));
    // transformers: packed[r][c] bits 2i..2i+1 = W[i·R + r][c] + 1, R = rows / 4.
    const R = rows / 4;
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < cols; c++) {
        let want = 0;
        for (let i = 0; i < 4; i++) want |= (codes[(i * R + r) * cols + c] + 1) << (2 * i);
        assert.equal(packed[r * cols + c], want);
      }
    }
    assert.deepEqual(unpackHf(packed, shape), codes);
    const gamma = Math.fround(0.01 + rand());
    const all = dequantizeHf(packed, shape, gamma);
    const row = new Float32Array(cols);
    for (let r = 0; r < rows; r++) {
      dequantizeRowHf(packed, r, shape, gamma, row);
      assert.deepEqual(row, all.subarray(r * cols, (r + 1) * cols));
      for (let c = 0; c < cols; c++) assert.equal(row[c], Math.fround(codes[r * cols + c] * gamma));
    }
  }
  // transformers' unpack_weights docstring example: packed [[0b10100001, 0b00011000], [0b10010000, 0b00001010]]
  // (shape [2, 2], so W is [8, 2]) unpacks to [[0,-1],[-1,1],[-1,1],[-1,1],[1,0],[0,-1],[1,-1],[1,-1]].
  const doc = unpackHf(Uint8Array.of(0b10100001, 0b00011000, 0b10010000, 0b00001010), [2, 8]);
  assert.deepEqual(Array.from(doc), [0, -1, -1, 1, -1, 1, -1, 1, 1, 0, 0, -1, 1, -1, 1, -1]);
  const w = gaussian(rand, 16 * 8, 0.05);
  const q = quantizeHf(w, [16, 8]);
  assert.equal(q.weightScale, quantizeAbsmean(w).gamma);
  assert.deepEqual(unpackHf(q.weight, [16, 8]), quantizeAbsmean(w).codes);
  assert.equal(gammaFromWeightScale(0.25, "autobitlinear"), 0.25);
  assert.equal(gammaFromWeightScale(4, "bitlinear"), 0.25);
  assert.throws(() => gammaFromWeightScale(1, "mystery"), /unknown quantization_config\.linear_class "mystery"/);
  assert.throws(() => packHf(new Int8Array(6), [2, 3], "model.layers.0.mlp.up_proj.weight"), /model\.layers\.0\.mlp\.up_proj\.weight: hf-packed ternary needs an output count \(ne\[1\]\) divisible by 4, got 3/);
  assert.throws(() => unpackHf(Uint8Array.of(0b11), [1, 4]), /invalid code 3/);
});

test("float codecs: F32/F16/BF16 round trips at unaligned offsets, row decoding", () => {
  const rand = prng(3);
  const values = gaussian(rand, 3 * 17, 100);
  for (const codec of [f32Codec, f16Codec, bf16Codec]) {
    const bytes = codec.quantize(values, [17, 3]);
    const width = codec === f32Codec ? 4 : 2;
    assert.equal(bytes.length, 51 * width);
    // Place the bytes at an odd offset of a bigger buffer.
    const host = new Uint8Array(bytes.length + 3);
    host.set(bytes, 1);
    const shifted = host.subarray(1, 1 + bytes.length);
    const dec = codec.dequantize(shifted, [17, 3]);
    const decAligned = codec.dequantize(bytes, [17, 3]);
    assert.deepEqual(dec, decAligned);
    assert.deepEqual(codec.quantize(dec, [17, 3]), bytes);
    for (let i = 0; i < values.length; i++) {
      const err = Math.abs(dec[i] - values[i]) / Math.abs(values[i]);
      assert.ok(err <= (codec === f32Codec ? 0 : codec === f16Codec ? 2 ** -11 : 2 ** -8), `${codec.name}[${i}] rel err ${err}`);
    }
    const row = new Float32Array(17);
    codec.dequantizeRow(shifted, 2, 17, row);
    assert.deepEqual(row, dec.subarray(34));
  }
  // f32 decode returns a copy, not a view of the file.
  const b = f32Codec.quantize(Float32Array.of(1, 2), [2]);
  const d = f32Codec.dequantize(b, [2]);
  d[0] = 99;
  assert.deepEqual(f32Codec.dequantize(b, [2]), Float32Array.of(1, 2));
});

test("registry: codecs by ggml id, clear errors for unknown or unsupported types", () => {
  for (const [id, name] of [[0, "f32"], [1, "f16"], [30, "bf16"], [34, "tq1_0"], [35, "tq2_0"], [36, "i2_s"]] as const) {
    assert.equal(codecFor(id).name, name);
    assert.equal(codecFor(id).typeId, id);
    assert.ok(hasCodec(id));
  }
  assert.equal(ternaryCodecFor(35), tq2_0);
  assert.throws(() => codecFor(12, "blk.0.ffn_up.weight"), /blk\.0\.ffn_up\.weight: no codec for ggml type q4_k \(id 12\)/);
  assert.throws(() => codecFor(39), /no codec for ggml type unknown\(39\) \(id 39\)/);
  assert.throws(() => ternaryCodecFor(0, "x"), /x: ggml type f32 \(id 0\) is not a ternary format/);
  assert.ok(!hasCodec(2));
});

test("bad shapes, codes, values and buffers are errors naming the tensor", () => {
  const w = "blk.0.attn_q.weight";
  assert.throws(() => tq2_0.quantize(new Float32Array(300), [300], w), /blk\.0\.attn_q\.weight: tq2_0 needs a row length \(ne\[0\]\) divisible by 256, got 300/);
  assert.throws(() => tq1_0.dequantize(new Uint8Array(54 * 2), [384, 1], w), /tq1_0 needs a row length \(ne\[0\]\) divisible by 256, got 384/);
  assert.throws(() => tq1_0.dequantizeRow(new Uint8Array(54), 0, 100, new Float32Array(100), w), /tq1_0 needs a row length \(ne\[0\]\) divisible by 256, got 100/);
  assert.throws(() => i2_s.quantize(new Float32Array(96), [96], w), /i2_s needs an element count divisible by 128, got 96/);
  assert.throws(() => tq2_0.dequantize(new Uint8Array(65), [256], w), /tq2_0 data is 65 bytes, shape needs 66/);
  assert.throws(() => tq2_0.dequantizeRow(new Uint8Array(66), 1, 256, new Float32Array(256), w), /row 1: tq2_0 data is 66 bytes, shape needs 132/);
  assert.throws(() => tq2_0.pack(Int8Array.of(2, ...new Array(255).fill(0)), Float32Array.of(1), [256], w), /code 2 at index 0 is not ternary/);
  assert.throws(() => tq2_0.pack(new Int8Array(512), new Float32Array(3), [256, 2], w), /expected 1 or 2 scales, got 3/);
  assert.throws(() => i2_s.pack(new Int8Array(128), new Float32Array(2), [128], w), /expected 1 or 1 scales, got 2/);
  assert.throws(() => tq1_0.quantize(Float32Array.from({ length: 256 }, (_, i) => (i === 5 ? Infinity : 0)), [256], w), /non-finite value Infinity at index 5/);
  assert.throws(() => i2_s.quantize(Float32Array.from({ length: 128 }, (_, i) => (i === 3 ? NaN : 0)), [128], w), /non-finite value NaN at index 3/);
  assert.throws(() => tq2_0.dequantize(new Uint8Array(66), [0, 1], w), /bad dimension ne\[0\] = 0/);
  assert.throws(() => i2_s.dequantizeRow(new Uint8Array(64), 1, 128, new Float32Array(128), w), /row 1 of length 128 is past the end/);
  assert.throws(() => i2_s.dequantizeRow(new Uint8Array(40), 0, 8, new Float32Array(8), w), /not n\/4 \+ 32/);
  assert.throws(() => tq2_0.dequantizeRow(new Uint8Array(66), 0, 256, new Float32Array(10), w), /output row holds 10 values, need 256/);
  // A stray code 3 is refused by unpack (ggml's decoder would read it as +2).
  const bad = tq2_0.pack(new Int8Array(256), Float32Array.of(1), [256]);
  bad[0] = 0b11;
  assert.throws(() => tq2_0.unpack(bad, [256], w), /invalid code 3/);
});
