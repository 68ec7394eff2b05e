/**
 * The element-wise forward ops as pool jobs: each export does rows [r0, r1) of one call of the whole op
 * (norm-quant.ts, rope.ts, pointwise.ts), so threads can share a prefill's (or a batch's) rows. Rows are
 * independent in all of them, so any cut gives the bits of one call; the element-wise ops are cut at
 * multiples of their vector width, so each range runs the vector loop the whole call would (the pool's
 * `align`), and the SiLU's constants live in each lane's own `work`.
 */
import { QUANT_BLOCK256, rmsnormQuantize, quantizeRows } from "./norm-quant";
import { rope } from "./rope";
import { addInPlace, f32ToF16, gatedActivation } from "./pointwise";

/** Where token t's activation factors (and sums) begin: one per token, or one per 256-block. */
// @ts-ignore: decorator
@inline function factorOffset(t: i32, n: i32, mode: i32): usize {
  return (mode == QUANT_BLOCK256 ? <usize>t * (n >> 8) : <usize>t) << 2;
}

/** rmsnormQuantize on tokens [r0, r1); its STATUS goes to the i32 at `status` (this lane's own). */
export function rmsnormQuantizeRange(x: usize, w: usize, out: usize, n: i32, eps: f64, mode: i32, q: usize, factors: usize, sums: usize, status: usize, r0: i32, r1: i32): void {
  const row = (<usize>r0 * n) << 2;
  const f = factorOffset(r0, n, mode);
  store<i32>(status, rmsnormQuantize(x + row, w, out + row, r1 - r0, n, eps, mode, q + <usize>r0 * n, factors + f, sums + f));
}

/** quantizeRows on tokens [r0, r1); its STATUS goes to the i32 at `status`. */
export function quantizeRowsRange(x: usize, n: i32, mode: i32, q: usize, factors: usize, sums: usize, status: usize, r0: i32, r1: i32): void {
  const f = factorOffset(r0, n, mode);
  store<i32>(status, quantizeRows(x + ((<usize>r0 * n) << 2), r1 - r0, n, mode, q + <usize>r0 * n, factors + f, sums + f));
}

/** rope on tokens [r0, r1) of a call for tokens at pos0... */
export function ropeRange(x: usize, heads: i32, hd: i32, pos0: i32, cos: usize, sin: usize, dims: i32, neox: bool, r0: i32, r1: i32): void {
  rope(x + ((<usize>r0 * heads * hd) << 2), r1 - r0, heads, hd, pos0 + r0, cos, sin, dims, neox);
}

/** gatedActivation on values [r0, r1) (r0 a multiple of 4); `work`: this lane's EXP_CONSTANT_BYTES. */
export function gatedActivationRange(gate: usize, up: usize, relu2: bool, work: usize, r0: i32, r1: i32): void {
  gatedActivation(gate + (<usize>r0 << 2), up + (<usize>r0 << 2), r1 - r0, relu2, work);
}

/** addInPlace on values [r0, r1) (r0 a multiple of 4). */
export function addInPlaceRange(x: usize, y: usize, r0: i32, r1: i32): void {
  addInPlace(x + (<usize>r0 << 2), y + (<usize>r0 << 2), r1 - r0);
}

/** f32ToF16 on values [r0, r1) (r0 a multiple of 8). */
export function f32ToF16Range(src: usize, dst: usize, r0: i32, r1: i32): void {
  f32ToF16(src + (<usize>r0 << 2), dst + (<usize>r0 << 1), r1 - r0);
}
