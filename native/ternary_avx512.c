/*
 * AVX-512 VNNI ternary kernels: vpdpbusd on 64-byte vectors (unsigned codes w+1 × int8 activations,
 * Σq subtracted in the epilogue, bitnet.h).
 *
 * TQ2_0 and I2_S: one 64-byte load holds a whole 256-value chunk's codes (both TQ2_0 halves; two I2_S
 * groups), and four shifts give four code planes. Plane p covers values [32p, 32p+32) and
 * [128+32p, 160+32p) (TQ2_0: bits 2p; I2_S: bits 6−2p), so these kernels read the activations in that
 * order: bn_tacts.qp, permuted once per call by prep.c. TQ1_0 decodes each block to codes
 * (tq1_avx2.h) and reads q as it is.
 * Tiles: GEMV 8 rows (8 independent accumulator chains hide vpdpbusd's latency), GEMM 4 rows × 4 tokens
 * (each row's code planes serve four tokens, each activation vector four rows).
 */
#include <immintrin.h>

#include "ternary_scalar.h"
#include "tq1_avx2.h"

#define GEMV_R 8
#define GEMM_R 4
#define GEMM_T 4

#define PLANE(b, shift) _mm512_and_si512(_mm512_srli_epi16((b), (shift)), _mm512_set1_epi8(3))

/*
 * Raw dots of MR rows × MT tokens over 256-chunks [0, nch): rows[i] at row i's first chunk (`stride`
 * bytes a chunk), xs[j] at token j's permuted activations. REV: I2_S's plane order.
 */
#define DEFINE_TILE(NAME, MR, MT, REV)                                                                                    \
  static void NAME(const uint8_t *const *rows, const int8_t *const *xs, int64_t nch, int64_t stride, int per_row,      \
                   int nr, int nt, int64_t nd, int32_t *raw) {                                                         \
    __m512i acc[MR][MT];                                                                                               \
    for (int i = 0; i < MR; i++)                                                                                       \
      for (int j = 0; j < MT; j++) acc[i][j] = _mm512_setzero_si512();                                                 \
    for (int64_t c = 0; c < nch; c++) {                                                                                \
      __m512i b[MR];                                                                                                   \
      for (int i = 0; i < MR; i++) b[i] = _mm512_loadu_si512((const void *)(rows[i] + c * stride));                   \
      for (int p = 0; p < 4; p++) {                                                                                    \
        const int shift = REV ? 6 - 2 * p : 2 * p;                                                                     \
        if (MT == 1) {                                                                                                 \
          __m512i x = _mm512_loadu_si512((const void *)(xs[0] + c * BN_CHUNK + 64 * p));                               \
          for (int i = 0; i < MR; i++) acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], PLANE(b[i], shift), x);              \
        } else {                                                                                                       \
          __m512i code[MR];                                                                                            \
          for (int i = 0; i < MR; i++) code[i] = PLANE(b[i], shift);                                                   \
          for (int j = 0; j < MT; j++) {                                                                               \
            __m512i x = _mm512_loadu_si512((const void *)(xs[j] + c * BN_CHUNK + 64 * p));                             \
            for (int i = 0; i < MR; i++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], code[i], x);                       \
          }                                                                                                            \
        }                                                                                                              \
      }                                                                                                                \
      if (!per_row) {                                                                                                  \
        for (int i = 0; i < nr; i++)                                                                                   \
          for (int j = 0; j < nt; j++) raw[(i * nt + j) * nd + c] = _mm512_reduce_add_epi32(acc[i][j]);                \
        for (int i = 0; i < MR; i++)                                                                                   \
          for (int j = 0; j < MT; j++) acc[i][j] = _mm512_setzero_si512();                                             \
      }                                                                                                                \
    }                                                                                                                  \
    if (per_row)                                                                                                       \
      for (int i = 0; i < nr; i++)                                                                                     \
        for (int j = 0; j < nt; j++) raw[(i * nt + j) * nd] = _mm512_reduce_add_epi32(acc[i][j]);                      \
  }

DEFINE_TILE(tq2_gemv, GEMV_R, 1, 0)
DEFINE_TILE(tq2_gemm, GEMM_R, GEMM_T, 0)
DEFINE_TILE(i2s_gemv, GEMV_R, 1, 1)
DEFINE_TILE(i2s_gemm, GEMM_R, GEMM_T, 1)

/* TQ1_0: codes decoded per row and chunk, dotted with q in value order. */
#define DEFINE_TQ1_TILE(NAME, MR, MT)                                                                                   \
  static void NAME(const uint8_t *const *rows, const int8_t *const *xs, int64_t nch, int per_row, int nr, int nt,    \
                   int64_t nd, int32_t *raw) {                                                                        \
    BN_ALIGN(64) uint8_t codes[MR][BN_CHUNK];                                                                         \
    __m512i acc[MR][MT];                                                                                              \
    for (int i = 0; i < MR; i++)                                                                                      \
      for (int j = 0; j < MT; j++) acc[i][j] = _mm512_setzero_si512();                                                \
    for (int64_t c = 0; c < nch; c++) {                                                                               \
      for (int i = 0; i < MR; i++) tq1_decode(rows[i] + c * BN_TQ1_BYTES, codes[i]);                                  \
      for (int k = 0; k < BN_CHUNK; k += 64) {                                                                        \
        __m512i code[MR];                                                                                             \
        for (int i = 0; i < MR; i++) code[i] = _mm512_load_si512((const void *)(codes[i] + k));                       \
        for (int j = 0; j < MT; j++) {                                                                                \
          __m512i x = _mm512_loadu_si512((const void *)(xs[j] + c * BN_CHUNK + k));                                   \
          for (int i = 0; i < MR; i++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], code[i], x);                        \
        }                                                                                                             \
      }                                                                                                               \
      if (!per_row) {                                                                                                 \
        for (int i = 0; i < nr; i++)                                                                                  \
          for (int j = 0; j < nt; j++) raw[(i * nt + j) * nd + c] = _mm512_reduce_add_epi32(acc[i][j]);               \
        for (int i = 0; i < MR; i++)                                                                                  \
          for (int j = 0; j < MT; j++) acc[i][j] = _mm512_setzero_si512();                                            \
      }                                                                                                               \
    }                                                                                                                 \
    if (per_row)                                                                                                      \
      for (int i = 0; i < nr; i++)                                                                                    \
        for (int j = 0; j < nt; j++) raw[(i * nt + j) * nd] = _mm512_reduce_add_epi32(acc[i][j]);                     \
  }

DEFINE_TQ1_TILE(tq1_gemv, GEMV_R, 1)
DEFINE_TQ1_TILE(tq1_gemm, GEMM_R, GEMM_T)

static void avx512_dots(const bn_tmat *m, const bn_tacts *a, int64_t r, int nr, int64_t t, int nt, int32_t *raw) {
  const int64_t K = m->K, nch = K / BN_CHUNK, nd = m->per_row ? 1 : nch;
  const int gemv = a->T == 1;
  const int tq1 = m->format == BN_TQ1_0;
  const int MR = gemv ? GEMV_R : GEMM_R, MT = gemv ? 1 : GEMM_T;
  const int8_t *x = tq1 ? a->q : a->qp;
  const uint8_t *rows[GEMV_R];
  const int8_t *xs[GEMM_T];
  for (int i = 0; i < MR; i++) rows[i] = bn_ternary_row(m, r + (i < nr ? i : nr - 1));
  for (int j = 0; j < MT; j++) xs[j] = x + (t + (j < nt ? j : nt - 1)) * K;
  if (tq1) {
    if (gemv) tq1_gemv(rows, xs, nch, m->per_row, nr, nt, nd, raw);
    else tq1_gemm(rows, xs, nch, m->per_row, nr, nt, nd, raw);
    return;
  }
  if (m->format == BN_TQ2_0) {
    if (gemv) tq2_gemv(rows, xs, nch, BN_TQ2_BYTES, m->per_row, nr, nt, nd, raw);
    else tq2_gemm(rows, xs, nch, BN_TQ2_BYTES, m->per_row, nr, nt, nd, raw);
    return;
  }
  if (gemv) i2s_gemv(rows, xs, nch, 64, m->per_row, nr, nt, nd, raw);
  else i2s_gemm(rows, xs, nch, 64, m->per_row, nr, nt, nd, raw);
  /* an I2_S row of 128·odd values ends with one 32-byte group, kept in value order by prep.c (per_row only) */
  if (K % BN_CHUNK)
    for (int i = 0; i < nr; i++)
      for (int j = 0; j < nt; j++) raw[(i * nt + j) * nd] += bn_i2s_group_dot(rows[i] + nch * 64, xs[j] + nch * BN_CHUNK);
}

#define DOTS avx512_dots
#define ROWS GEMM_R
#define TOKS GEMM_T
#define GEMV_ROWS GEMV_R
#define TERNARY_ROWS bn_ternary_rows_avx512vnni
#include "ternary_driver.h"
