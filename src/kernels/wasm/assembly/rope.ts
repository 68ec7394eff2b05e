/**
 * Rotary position embedding in place, bit-identical to src/kernels/ops.ts `rope`: NEOX pairs (i, i + d/2)
 * and NORM pairs (2i, 2i+1). The reference computes x0·c − x1·s in float64 (each product of two float32
 * is exact there) and rounds once to float32; so does this, two pairs per f64x2.
 * Not here: the angle table (built once per context in TypeScript, read from memory here).
 */

/** The two 64-bit halves swapped: [x1, x0] of an f64x2, or float32 lanes 2, 3 moved to 0, 1 for promote_low. */
// @ts-ignore: decorator
@inline function swap(v: v128): v128 {
  return i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
}

/** f32x4 of two f64x2 (lanes 0, 1 from a, 2, 3 from b), each rounded to float32. */
// @ts-ignore: decorator
@inline function demote2(a: v128, b: v128): v128 {
  return i8x16.shuffle(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}

/** NEOX: element i pairs with i + half, for i < half, four pairs per step. */
function ropeNeox(x: usize, cos: usize, sin: usize, half: i32): void {
  const end = <usize>(half & ~3) << 2;
  const hb = <usize>half << 2;
  let o: usize = 0;
  for (; o < end; o += 16) {
    const a = v128.load(x + o), b = v128.load(x + o + hb), c = v128.load(cos + o), s = v128.load(sin + o);
    const a0 = f64x2.promote_low_f32x4(a), a1 = f64x2.promote_low_f32x4(swap(a));
    const b0 = f64x2.promote_low_f32x4(b), b1 = f64x2.promote_low_f32x4(swap(b));
    const c0 = f64x2.promote_low_f32x4(c), c1 = f64x2.promote_low_f32x4(swap(c));
    const s0 = f64x2.promote_low_f32x4(s), s1 = f64x2.promote_low_f32x4(swap(s));
    v128.store(x + o, demote2(f64x2.sub(f64x2.mul(a0, c0), f64x2.mul(b0, s0)), f64x2.sub(f64x2.mul(a1, c1), f64x2.mul(b1, s1))));
    v128.store(x + o + hb, demote2(f64x2.add(f64x2.mul(a0, s0), f64x2.mul(b0, c0)), f64x2.add(f64x2.mul(a1, s1), f64x2.mul(b1, c1))));
  }
  for (; o < hb; o += 4) {
    const a = <f64>load<f32>(x + o), b = <f64>load<f32>(x + o + hb);
    const c = <f64>load<f32>(cos + o), s = <f64>load<f32>(sin + o);
    store<f32>(x + o, <f32>(a * c - b * s));
    store<f32>(x + o + hb, <f32>(a * s + b * c));
  }
}

/** NORM: element 2i pairs with 2i+1, two pairs per step. */
function ropeNorm(x: usize, cos: usize, sin: usize, half: i32): void {
  const negFirst = f64x2(-1, 1);
  let i = 0;
  for (; i + 2 <= half; i += 2) {
    const p = x + (<usize>i << 3);
    const v = v128.load(p); // [x0, x1] of pair i, then of pair i+1
    const cs = v128.load64_zero(cos + (<usize>i << 2)), sn = v128.load64_zero(sin + (<usize>i << 2));
    const v0 = f64x2.promote_low_f32x4(v), v1 = f64x2.promote_low_f32x4(swap(v));
    // [x0·c − x1·s, x1·c + x0·s]: both products exact, one rounding each, as the reference
    const c0 = f64x2.splat(<f64>f32x4.extract_lane(cs, 0)), c1 = f64x2.splat(<f64>f32x4.extract_lane(cs, 1));
    const s0 = f64x2.mul(f64x2.splat(<f64>f32x4.extract_lane(sn, 0)), negFirst), s1 = f64x2.mul(f64x2.splat(<f64>f32x4.extract_lane(sn, 1)), negFirst);
    const r0 = f64x2.add(f64x2.mul(v0, c0), f64x2.mul(swap(v0), s0));
    const r1 = f64x2.add(f64x2.mul(v1, c1), f64x2.mul(swap(v1), s1));
    v128.store(p, demote2(r0, r1));
  }
  if (i < half) {
    const p = x + (<usize>i << 3);
    const a = <f64>load<f32>(p), b = <f64>load<f32>(p, 4);
    const c = <f64>load<f32>(cos + (<usize>i << 2)), s = <f64>load<f32>(sin + (<usize>i << 2));
    store<f32>(p, <f32>(a * c - b * s));
    store<f32>(p, <f32>(a * s + b * c), 4);
  }
}

/**
 * Rotates `heads` heads of hd floats for T tokens at positions pos0.. in place: x [T, heads·hd]; the
 * table holds cos and sin [ctx, dims/2] (float32); the first `dims` of each head rotate. neox: 1 or 0.
 */
export function rope(x: usize, T: i32, heads: i32, hd: i32, pos0: i32, cos: usize, sin: usize, dims: i32, neox: bool): void {
  const half = dims >> 1;
  for (let t = 0; t < T; t++) {
    const row = <usize>((pos0 + t) * half) << 2;
    for (let h = 0; h < heads; h++) {
      const p = x + (<usize>((t * heads + h) * hd) << 2);
      if (neox) ropeNeox(p, cos + row, sin + row, half);
      else ropeNorm(p, cos + row, sin + row, half);
    }
  }
}
