/**
 * A memory-read-bandwidth probe for bench/kernels.ts: sums n bytes (a multiple of 128) as i32 lanes
 * with four independent accumulators, so the loop is bound by loads, not by adds. Not a kernel.
 */
import { hsum } from "./simd";

export function sumBytes(p: usize, n: usize): i32 {
  let a = i32x4.splat(0), b = a, c = a, d = a;
  const end = p + (n & ~127);
  for (; p < end; p += 128) {
    a = i32x4.add(a, v128.load(p));
    b = i32x4.add(b, v128.load(p, 16));
    c = i32x4.add(c, v128.load(p, 32));
    d = i32x4.add(d, v128.load(p, 48));
    a = i32x4.add(a, v128.load(p, 64));
    b = i32x4.add(b, v128.load(p, 80));
    c = i32x4.add(c, v128.load(p, 96));
    d = i32x4.add(d, v128.load(p, 112));
  }
  return hsum(i32x4.add(i32x4.add(a, b), i32x4.add(c, d)));
}
