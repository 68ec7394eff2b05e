/**
 * Float32 GEMM for training: C[M, J] = (or +=) A[M, K] · B[K, J], with A and B read through strides so
 * that one kernel serves the three products of a linear layer (src/train/wasm-gemm.ts maps them):
 *   forward          out  = inp · wᵀ       A = inp (rows),   B = wᵀ (w's rows are B's columns)
 *   backward input   dinp += dout · w      A = dout (rows),  B = w (rows)
 *   backward weight  dw   += doutᵀ · inp   A = doutᵀ,        B = inp (rows)
 *
 * Blocked in the usual way: a block of B (KC × NC) is packed into panels of 8 columns, a block of A
 * (MC × KC) into panels of 4 rows, and a 4×8 register tile (8 f32x4 accumulators) multiplies one A panel
 * by one B panel, reading each packed value once per tile from contiguous memory. Packing zero-pads the
 * edges, so the tile is always 4×8; edge tiles store only their valid part.
 *
 * Summation order, fixed by the shapes alone (never by addresses, thread splits or row ranges): each
 * output is a sequential float32 sum over each K block of KC terms started from zero, and the blocks
 * are added to C in order (C = s₀, then C = C + s₁ …; accumulating calls start from C + s₀). So the
 * rounding error is at most (KC + ⌈K/KC⌉ + 1)·2⁻²⁴·Σ|a·b| (first order), and integer operands whose
 * partial sums stay below 2^24 give exact results (BitLinear's codes). Products and sums are plain
 * f32x4.mul and f32x4.add, never f32x4.relaxed_madd: a relaxed multiply-add rounds once or twice
 * depending on the CPU, so a checkpoint could not be resumed bit for bit on another machine or in a
 * runtime without relaxed SIMD. With mul + add both builds give the same bits everywhere, and on the
 * dev machine (AMD Zen 5: separate multiply and add pipes) relaxed_madd was no faster.
 *
 * Rows [m0, m1) of C only, so that threads can split a call by rows; `work` is the caller's own scratch
 * (f32GemmWorkBytes()). AssemblyScript, not TypeScript: compiled by `npm run build:wasm`.
 */

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 64;
const NC: i32 = 512;

/** Scratch bytes one caller needs: the packed B block, the packed A block, one edge tile. */
export function f32GemmWorkBytes(): usize {
  return <usize>(KC * NC + MC * KC + MR * NR) << 2;
}

// @ts-ignore: decorator
@inline function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Stores the transpose of the 4×4 block whose rows are r0..r3 as four vectors at dst, dst + step, … */
// @ts-ignore: decorator
@inline function storeTransposed(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, step: usize): void {
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5), t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, i32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(dst + step, i32x4.shuffle(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * step, i32x4.shuffle(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * step, i32x4.shuffle(t1, t3, 2, 3, 6, 7));
}

/**
 * dst[(p·kc + k)·8 + jj] = B(k0 + k, j0 + 8p + jj) for the nc columns from j0 (zero past J), where
 * B(k, j) is the float at b + 4·(k·bK + j·bJ).
 */
function packB(dst: usize, b: usize, bK: usize, bJ: usize, J: i32, j0: i32, nc: i32, k0: i32, kc: i32): void {
  for (let jp = 0; jp < nc; jp += NR) {
    const j = j0 + jp;
    const cols = min(NR, J - j);
    const panel = dst + (<usize>(jp * kc) << 2);
    if (cols == NR && bJ == 1) {
      // B's rows are contiguous: copy 8 floats per k.
      let src = b + ((<usize>k0 * bK + <usize>j) << 2);
      const stride = bK << 2;
      for (let k = 0; k < kc; k++) {
        v128.store(panel + (<usize>k << 5), v128.load(src));
        v128.store(panel + (<usize>k << 5), v128.load(src, 16), 16);
        src += stride;
      }
    } else if (cols == NR && bK == 1) {
      // B's columns are contiguous (a weight's rows): transpose 4×4 blocks.
      const stride = bJ << 2;
      const c0 = b + ((<usize>j * bJ + <usize>k0) << 2);
      const kc4 = kc & ~3;
      for (let k = 0; k < kc4; k += 4) {
        const s = c0 + (<usize>k << 2);
        const d = panel + (<usize>k << 5);
        storeTransposed(v128.load(s), v128.load(s + stride), v128.load(s + 2 * stride), v128.load(s + 3 * stride), d, 32);
        const s4 = s + 4 * stride;
        storeTransposed(v128.load(s4), v128.load(s4 + stride), v128.load(s4 + 2 * stride), v128.load(s4 + 3 * stride), d + 16, 32);
      }
      for (let k = kc4; k < kc; k++) {
        for (let jj = 0; jj < NR; jj++) store<f32>(panel + ((<usize>(k * NR + jj)) << 2), load<f32>(c0 + ((<usize>jj * bJ + <usize>k) << 2)));
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let jj = 0; jj < NR; jj++) {
          const v: f32 = jj < cols ? load<f32>(b + ((<usize>(k0 + k) * bK + <usize>(j + jj) * bJ) << 2)) : 0;
          store<f32>(panel + ((<usize>(k * NR + jj)) << 2), v);
        }
      }
    }
  }
}

/**
 * dst[(q·kc + k)·4 + r] = A(i0 + 4q + r, k0 + k) for the mc rows from i0 (zero from row m1 on), where
 * A(m, k) is the float at a + 4·(m·aM + k·aK).
 */
function packA(dst: usize, a: usize, aM: usize, aK: usize, m1: i32, i0: i32, mc: i32, k0: i32, kc: i32): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const m = i0 + ip;
    const rows = min(MR, m1 - m);
    const panel = dst + (<usize>(ip * kc) << 2);
    if (rows == MR && aM == 1) {
      // A is a transpose (dout for the weight gradient): four rows are four adjacent floats.
      let src = a + ((<usize>m + <usize>k0 * aK) << 2);
      const stride = aK << 2;
      for (let k = 0; k < kc; k++) {
        v128.store(panel + (<usize>k << 4), v128.load(src));
        src += stride;
      }
    } else if (rows == MR && aK == 1) {
      const stride = aM << 2;
      const r0 = a + ((<usize>m * aM + <usize>k0) << 2);
      const kc4 = kc & ~3;
      for (let k = 0; k < kc4; k += 4) {
        const s = r0 + (<usize>k << 2);
        storeTransposed(v128.load(s), v128.load(s + stride), v128.load(s + 2 * stride), v128.load(s + 3 * stride), panel + (<usize>k << 4), 16);
      }
      for (let k = kc4; k < kc; k++) {
        for (let r = 0; r < MR; r++) store<f32>(panel + ((<usize>(k * MR + r)) << 2), load<f32>(r0 + ((<usize>r * aM + <usize>k) << 2)));
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let r = 0; r < MR; r++) {
          const v: f32 = r < rows ? load<f32>(a + ((<usize>(m + r) * aM + <usize>(k0 + k) * aK) << 2)) : 0;
          store<f32>(panel + ((<usize>(k * MR + r)) << 2), v);
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function put(c: usize, acc: v128, overwrite: bool): void {
  v128.store(c, overwrite ? acc : f32x4.add(v128.load(c), acc));
}

/**
 * The 4×8 tile: Σ_k over one packed A panel (kc × 4) and one packed B panel (kc × 8), then C = sum
 * (overwrite) or C = C + sum for the rows × cols that are valid. ldc in bytes. This is the hot loop.
 */
function tile(kc: i32, ap: usize, bp: usize, c: usize, ldc: usize, overwrite: bool, rows: i32, cols: i32, edge: usize): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    const a0 = v128.load32_splat(ap);
    c00 = madd(c00, a0, b0);
    c01 = madd(c01, a0, b1);
    const a1 = v128.load32_splat(ap, 4);
    c10 = madd(c10, a1, b0);
    c11 = madd(c11, a1, b1);
    const a2 = v128.load32_splat(ap, 8);
    c20 = madd(c20, a2, b0);
    c21 = madd(c21, a2, b1);
    const a3 = v128.load32_splat(ap, 12);
    c30 = madd(c30, a3, b0);
    c31 = madd(c31, a3, b1);
    ap += 16;
    bp += 32;
  }
  if (rows == MR && cols == NR) {
    put(c, c00, overwrite);
    put(c + 16, c01, overwrite);
    put(c + ldc, c10, overwrite);
    put(c + ldc + 16, c11, overwrite);
    put(c + 2 * ldc, c20, overwrite);
    put(c + 2 * ldc + 16, c21, overwrite);
    put(c + 3 * ldc, c30, overwrite);
    put(c + 3 * ldc + 16, c31, overwrite);
    return;
  }
  v128.store(edge, c00);
  v128.store(edge, c01, 16);
  v128.store(edge, c10, 32);
  v128.store(edge, c11, 48);
  v128.store(edge, c20, 64);
  v128.store(edge, c21, 80);
  v128.store(edge, c30, 96);
  v128.store(edge, c31, 112);
  for (let r = 0; r < rows; r++) {
    const row = c + <usize>r * ldc;
    for (let j = 0; j < cols; j++) {
      const s = load<f32>(edge + (<usize>(r * NR + j) << 2));
      const at = row + (<usize>j << 2);
      store<f32>(at, overwrite ? s : load<f32>(at) + s);
    }
  }
}

/**
 * Rows [m0, m1) of C[M, J] (row stride ldc floats) = A · B, or C += A · B when `accumulate`, with
 * A(m, k) at a + 4·(m·aM + k·aK) and B(k, j) at b + 4·(k·bK + j·bJ). `work` holds f32GemmWorkBytes().
 */
export function f32Gemm(
  J: i32, K: i32, a: usize, aM: i32, aK: i32, b: usize, bK: i32, bJ: i32,
  c: usize, ldc: i32, accumulate: bool, work: usize, m0: i32, m1: i32,
): void {
  const ldcBytes = <usize>ldc << 2;
  if (K == 0) {
    if (!accumulate) for (let m = m0; m < m1; m++) memory.fill(c + <usize>m * ldcBytes, 0, <usize>J << 2);
    return;
  }
  const bPack = work;
  const aPack = bPack + (<usize>(KC * NC) << 2);
  const edge = aPack + (<usize>(MC * KC) << 2);
  for (let j0 = 0; j0 < J; j0 += NC) {
    const nc = min(NC, J - j0);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = min(KC, K - k0);
      const overwrite = !accumulate && k0 == 0;
      packB(bPack, b, <usize>bK, <usize>bJ, J, j0, nc, k0, kc);
      for (let i0 = m0; i0 < m1; i0 += MC) {
        const mc = min(MC, m1 - i0);
        packA(aPack, a, <usize>aM, <usize>aK, m1, i0, mc, k0, kc);
        for (let jp = 0; jp < nc; jp += NR) {
          const cols = min(NR, nc - jp);
          const bp = bPack + (<usize>(jp * kc) << 2);
          const cCol = c + (<usize>(j0 + jp) << 2);
          for (let ip = 0; ip < mc; ip += MR) {
            tile(kc, aPack + (<usize>(ip * kc) << 2), bp, cCol + <usize>(i0 + ip) * ldcBytes, ldcBytes, overwrite, min(MR, mc - ip), cols, edge);
          }
        }
      }
    }
  }
}
