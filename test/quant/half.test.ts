// f16/bf16 conversions against independent references: V8's Math.f16round / DataView.getFloat16 for f16,
// and a nearest-of-two-candidates search in float64 for bf16.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bf16ArrayToF32,
  bf16ToF32,
  f16ArrayToF32,
  f16ToF32,
  f32ArrayToBf16,
  f32ArrayToF16,
  f32Bits,
  f32FromBits,
  f32ToBf16,
  f32ToF16,
} from "../../src/quant/half.ts";

const dv = new DataView(new ArrayBuffer(4));
function refF16Bits(x: number): number {
  dv.setFloat16(0, Math.f16round(Math.fround(x)), true);
  return dv.getUint16(0, true);
}
function refF16Value(h: number): number {
  dv.setUint16(0, h, true);
  return dv.getFloat16(0, true);
}

/** bf16 of a finite float32 from first principles: pick the nearer of the two neighbours, ties to even mantissa. */
function refBf16(x: number): number {
  const u = f32Bits(x);
  const lo = u >>> 16;
  const loVal = f32FromBits(lo << 16);
  if (loVal === x) return lo;
  const hi = lo + 1;
  const hiVal = hi === 0x7f80 || hi === 0xff80 ? (x > 0 ? Infinity : -Infinity) : f32FromBits((hi & 0xffff) << 16);
  // bf16's largest finite value rounds up to Inf only past the midpoint to 2^128.
  const hiCmp = Number.isFinite(hiVal) ? hiVal : Math.sign(x) * 2 ** 128;
  const dLo = Math.abs(x - loVal);
  const dHi = Math.abs(hiCmp - x);
  if (dLo < dHi) return lo;
  if (dHi < dLo) return hi & 0xffff;
  return (lo & 1) === 0 ? lo : hi & 0xffff;
}

test("f16ToF32 decodes all 65536 patterns like DataView.getFloat16", () => {
  for (let h = 0; h < 65536; h++) {
    const want = refF16Value(h);
    const got = f16ToF32(h);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `h=${h}`);
    else assert.ok(Object.is(got, want), `h=0x${h.toString(16)}: ${got} vs ${want}`);
  }
  const all = new Uint16Array(65536).map((_, i) => i);
  const bulk = f16ArrayToF32(all);
  for (let h = 0; h < 65536; h++) if (!Number.isNaN(bulk[h])) assert.ok(Object.is(bulk[h], f16ToF32(h)));
});

test("f32ToF16 round-trips every f16 and rounds every midpoint between neighbours to even", () => {
  for (let h = 0; h < 65536; h++) {
    const v = f16ToF32(h);
    if (Number.isNaN(v)) {
      assert.equal(f32ToF16(v) & 0x7fff, 0x7e00);
      continue;
    }
    assert.equal(f32ToF16(v), h, `h=0x${h.toString(16)}`);
    // Midpoints to the next pattern (same sign, not past Inf) are exact float32 values.
    if ((h & 0x7fff) < 0x7c00) {
      const next = f16ToF32(h + 1);
      const mid = (v + next) / 2;
      if (Math.fround(mid) === mid) assert.equal(f32ToF16(mid), refF16Bits(mid), `midpoint after 0x${h.toString(16)}`);
    }
  }
  for (const [x, want] of [[65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00], [1e9, 0x7c00], [-1e9, 0xfc00], [2 ** -25, 0], [2 ** -25 * 1.0001, 1], [-0, 0x8000], [Infinity, 0x7c00]] as const) {
    assert.equal(f32ToF16(x), want, `f32ToF16(${x})`);
  }
  assert.equal(f32ToF16(NaN), 0x7e00); // ggml's canonical quiet NaN
});

test("f32ToF16 agrees with Math.f16round on random float32 values, scalar and bulk", () => {
  fc.assert(fc.property(fc.float({ noNaN: true }), (x) => f32ToF16(x) === refF16Bits(x)), { seed: 11, numRuns: 50000 });
  fc.assert(fc.property(fc.float({ noNaN: true, min: Math.fround(-1e-4), max: Math.fround(1e-4) }), (x) => f32ToF16(x) === refF16Bits(x)), { seed: 12, numRuns: 20000 });
  const xs = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 13) - 8));
  const bulk = f32ArrayToF16(xs);
  for (let i = 0; i < xs.length; i++) assert.equal(bulk[i], refF16Bits(xs[i]));
});

test("bf16: round to nearest even like ggml, NaN stays NaN and quiet, widening is exact", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (bits) => {
      const x = f32FromBits(bits);
      if (Number.isNaN(x)) {
        const h = f32ToBf16(x);
        return (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      }
      return f32ToBf16(x) === refBf16(x);
    }),
    { seed: 13, numRuns: 50000 },
  );
  for (let h = 0; h < 65536; h++) {
    const v = bf16ToF32(h);
    if (!Number.isNaN(v)) assert.equal(f32ToBf16(v), h);
  }
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie, even mantissa stays
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82); // tie, odd mantissa rounds up
  assert.equal(f32ToBf16(3.4028234663852886e38), 0x7f80); // max float32 rounds to Inf
  // ggml keeps the NaN's sign and payload top bits and sets the quiet bit: 0x7f800001 → 0x7fc0.
  assert.equal(f32ToBf16(f32FromBits(0x7f800001)), 0x7fc0);
  const xs = new Float32Array(new Uint32Array([0x3f808000, 0x3f818000, 0x7f800001, 0xff812345, 0x00008000, 0x80000000]).buffer);
  const bulk = f32ArrayToBf16(xs);
  assert.deepEqual(Array.from(bulk), [0x3f80, 0x3f82, 0x7fc0, 0xffc1, 0x0000, 0x8000]);
  const back = bf16ArrayToF32(bulk);
  for (let i = 0; i < bulk.length; i++) if (!Number.isNaN(back[i])) assert.ok(Object.is(back[i], bf16ToF32(bulk[i])));
});
