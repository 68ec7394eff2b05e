/*
 * The loop every ISA's ternary_rows shares: rows [r0, r1) × all tokens, cut into tiles of ROWS rows and
 * TOKS tokens (one token: GEMV tiles of GEMV_ROWS rows), each tile's raw dots computed by the ISA's
 * DOTS function, then the scalar epilogue of bitnet.h. Integer dots are exact, so a result does not
 * depend on the tile it was computed in, nor on the token count.
 *
 * Include after defining:
 *   DOTS(m, a, r, nr, t, nt, raw)  raw[(i·nt + j)·nd + c] = Σ (w+1)·q of row r+i, token t+j, over chunk c
 *                                  (nd = 1 and the whole row when m->per_row, else nd = K/256)
 *   ROWS, TOKS, GEMV_ROWS          tile sizes
 *   TERNARY_ROWS                   the name of the function to define
 * or, instead of DOTS and the tile sizes, the row-pointer kernel templates below (AVX2, NEON) and the
 * sizes GEMV_R, GEMM_R, GEMM_T, from which this header builds DOTS.
 */
#include <stdlib.h>

/*
 * Tokens up to which a GEMM reads one weight row at a time (see ternary_avx512.c). Measured on x86 only
 * (2B4T shape, 2 threads, AVX2: a 2-token step 81 → 42 ms, 8 tokens 154 → 121 ms; AVX-VNNI: 87 → 57 ms,
 * 107 → 111 ms); the NEON kernels keep their tiles until someone can measure them on an ARM machine.
 */
#ifndef SMALL_BATCH
#if defined(__x86_64__) || defined(_M_X64)
#define SMALL_BATCH 8
#else
#define SMALL_BATCH 1
#endif
#endif

#if !defined(DOTS)
/*
 * The kernels, from the set's templates:
 *   DEFINE_GEMV(NAME, REV)           NAME(row, x, nch, stride, per_row, raw): one row, one token
 *   DEFINE_TQ2_TILE(NAME, MR, MT, REV), DEFINE_TQ1_TILE(NAME, MR, MT)
 *                                    NAME(rows, xs, nch, [stride,] per_row, nr, nt, nd, raw): MR rows × MT tokens
 * REV: I2_S's plane order (values 32p.. in bits 6−2p). TQ1_0 has no GEMV of its own: its blocks are decoded
 * once for GEMV_R rows.
 */
DEFINE_GEMV(tq2_gemv, 0)
DEFINE_GEMV(i2s_gemv, 1)
DEFINE_TQ2_TILE(tq2_gemm, GEMM_R, GEMM_T, 0)
DEFINE_TQ2_TILE(i2s_gemm, GEMM_R, GEMM_T, 1)
DEFINE_TQ2_TILE(tq2_gemm1, 1, GEMM_T, 0)
DEFINE_TQ2_TILE(i2s_gemm1, 1, GEMM_T, 1)
DEFINE_TQ1_TILE(tq1_gemv, GEMV_R, 1)
DEFINE_TQ1_TILE(tq1_gemm, GEMM_R, GEMM_T)

/* Rows r..r+nr−1 × tokens t..t+nt−1 (GEMV: up to GEMV_ROWS rows; GEMM: one tile). */
static void tiled_dots(const bn_tmat *m, const bn_tacts *a, int64_t r, int nr, int64_t t, int nt, int32_t *raw) {
  const int64_t K = m->K, nch = K / BN_CHUNK, nd = m->per_row ? 1 : nch;
  const int8_t *xs[GEMM_T];
  for (int j = 0; j < GEMM_T; j++) xs[j] = a->q + (t + (j < nt ? j : nt - 1)) * K;
  if (a->T == 1 && m->format != BN_TQ1_0) {
    for (int i = 0; i < nr; i++) {
      const uint8_t *row = bn_ternary_row(m, r + i);
      if (m->format == BN_TQ2_0) tq2_gemv(row, xs[0], nch, BN_TQ2_BYTES, m->per_row, raw + i * nd);
      else i2s_gemv(row, xs[0], nch, 64, m->per_row, raw + i * nd);
    }
  } else {
    /* tiles of MR rows; a partial tile repeats its last row. A decode batch of a few tokens reads one
       row at a time (one prefetch stream, as the GEMV), as the AVX-512 kernels do. */
    const int rowwise = a->T > 1 && a->T <= SMALL_BATCH && m->format != BN_TQ1_0;
    const int MR = a->T == 1 ? GEMV_R : rowwise ? 1 : GEMM_R;
    for (int i0 = 0; i0 < nr; i0 += MR) {
      int n = nr - i0 < MR ? nr - i0 : MR;
      const uint8_t *rows[GEMV_R > GEMM_R ? GEMV_R : GEMM_R];
      for (int i = 0; i < MR; i++) rows[i] = bn_ternary_row(m, r + i0 + (i < n ? i : n - 1));
      int32_t *o = raw + (size_t)i0 * nt * nd;
      if (m->format == BN_TQ1_0) {
        if (a->T == 1) tq1_gemv(rows, xs, nch, m->per_row, n, nt, nd, o);
        else tq1_gemm(rows, xs, nch, m->per_row, n, nt, nd, o);
      } else if (m->format == BN_TQ2_0) {
        (rowwise ? tq2_gemm1 : tq2_gemm)(rows, xs, nch, BN_TQ2_BYTES, m->per_row, n, nt, nd, o);
      } else {
        (rowwise ? i2s_gemm1 : i2s_gemm)(rows, xs, nch, 64, m->per_row, n, nt, nd, o);
      }
    }
  }
  /* an I2_S row of 128·odd values ends with half a chunk: one 32-byte group (per_row only) */
  if (m->format == BN_I2_S && K % BN_CHUNK)
    for (int i = 0; i < nr; i++)
      for (int j = 0; j < nt; j++) raw[(i * nt + j) * nd] += bn_i2s_group_dot(bn_ternary_row(m, r + i) + nch * 64, xs[j] + nch * BN_CHUNK);
}

#define DOTS tiled_dots
#define ROWS GEMM_R
#define TOKS GEMM_T
#define GEMV_ROWS 16 /* rows per call of DOTS (TQ2_0 and I2_S read them one by one, TQ1_0 GEMV_R at a time) */
#endif

int TERNARY_ROWS(const bn_tmat *m, const bn_tacts *a, int64_t r0, int64_t r1) {
  const int64_t T = a->T;
  const int64_t nd = m->per_row ? 1 : m->K / BN_CHUNK;
  const int rows = T == 1 ? GEMV_ROWS : ROWS;
  const int toks = T == 1 ? 1 : TOKS;
  int32_t stack_raw[4096];
  int32_t *raw = stack_raw;
  size_t need = (size_t)(rows * toks * nd); /* past the stack buffer only for per-chunk rows of over 64Ki values */
  if (need > sizeof stack_raw / sizeof *stack_raw) {
    raw = (int32_t *)malloc(need * sizeof *raw);
    if (!raw) return -1;
  }
  for (int64_t r = r0; r < r1; r += rows) {
    int nr = (int)(r1 - r < rows ? r1 - r : rows);
    for (int64_t t = 0; t < T; t += toks) {
      int nt = (int)(T - t < toks ? T - t : toks);
      DOTS(m, a, r, nr, t, nt, raw);
      for (int i = 0; i < nr; i++)
        for (int j = 0; j < nt; j++) bn_ternary_store(m, a, r + i, t + j, raw + ((size_t)i * nt + j) * nd);
    }
  }
  if (raw != stack_raw) free(raw);
  return 0;
}
