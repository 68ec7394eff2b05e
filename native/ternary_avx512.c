/*
 * AVX-512 VNNI ternary kernels: vpdpbusd on 64-byte vectors (unsigned codes w+1 × int8 activations,
 * Σq subtracted in the epilogue, bitnet.h).
 *
 * TQ2_0 and I2_S: one 64-byte load holds a whole 256-value chunk's codes (both TQ2_0 halves; two I2_S
 * groups), and four shifts give four code planes. Plane p covers values [32p, 32p+32) and
 * [128+32p, 160+32p) (TQ2_0: bits 2p; I2_S: bits 6−2p), so these kernels read the activations in that
 * order: bn_tacts.qp, permuted once per call by prep.c. TQ1_0 decodes each block to codes
 * (tq1_avx2.h) and reads q as it is.
 * Tiles: GEMV one row at a time with an accumulator per code plane and two chunks in flight (see
 * DEFINE_GEMV), GEMM 4 rows × 4 tokens (each row's code planes serve four tokens, each activation
 * vector four rows).
 */
#include <immintrin.h>

#include "ternary_scalar.h"
#include "tq1_avx2.h"
#include "ternary_tile.h"

#define GEMV_R 1
#define GEMM_R 4
#define GEMM_T 4

#define ACC_SUM(v) _mm512_reduce_add_epi32(v)
#define ACC_ZERO(v) ((v) = _mm512_setzero_si512())

#define PLANE(b, shift) _mm512_and_si512(_mm512_srli_epi16((b), (shift)), _mm512_set1_epi8(3))

/*
 * Raw dots of MR rows × MT tokens over 256-chunks [0, nch): row i at row0 + i·rstride (`stride` bytes a
 * chunk), xs[j] at token j's permuted activations. REV: I2_S's plane order. Rows are addressed from one
 * base so that eight rows do not take eight registers.
 */
#define DEFINE_TILE(NAME, MR, MT, REV)                                                                                    \
  static void NAME(const uint8_t *row0, int64_t rstride, const int8_t *const *xs, int64_t nch, int64_t stride,         \
                   int per_row, int nt, int64_t nd, int32_t *raw) {                                                    \
    __m512i acc[MR][MT];                                                                                               \
    TILE_ZERO(acc, MR, MT);                                                                                            \
    for (int64_t c = 0; c < nch; c++) {                                                                                \
      const uint8_t *p = row0 + c * stride;                                                                            \
      __m512i b[MR];                                                                                                   \
      for (int i = 0; i < MR; i++) /* as two halves: see GEMV_CHUNK */                                                \
        b[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(p + i * rstride))),      \
                                  _mm256_loadu_si256((const __m256i *)(p + i * rstride + 32)), 1);                     \
      for (int q = 0; q < 4; q++) {                                                                                    \
        const int shift = REV ? 6 - 2 * q : 2 * q;                                                                     \
        if (MT == 1) {                                                                                                 \
          __m512i x = _mm512_loadu_si512((const void *)(xs[0] + c * BN_CHUNK + 64 * q));                               \
          for (int i = 0; i < MR; i++) acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], PLANE(b[i], shift), x);              \
        } else {                                                                                                       \
          __m512i code[MR];                                                                                            \
          for (int i = 0; i < MR; i++) code[i] = PLANE(b[i], shift);                                                   \
          for (int j = 0; j < MT; j++) {                                                                               \
            __m512i x = _mm512_loadu_si512((const void *)(xs[j] + c * BN_CHUNK + 64 * q));                             \
            for (int i = 0; i < MR; i++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], code[i], x);                       \
          }                                                                                                            \
        }                                                                                                              \
      }                                                                                                                \
      TILE_CHUNK_END(acc, MR, MT, MR, nt, nd, c, per_row, raw);                                                        \
    }                                                                                                                  \
    TILE_ROW_END(acc, MR, nt, nd, per_row, raw);                                                                       \
  }

DEFINE_TILE(tq2_gemm, GEMM_R, GEMM_T, 0)
DEFINE_TILE(tq2_gemm1, 1, GEMM_T, 0)
DEFINE_TILE(i2s_gemm, GEMM_R, GEMM_T, 1)
DEFINE_TILE(i2s_gemm1, 1, GEMM_T, 1)

/*
 * One token (GEMV), one row at a time: the rows are contiguous, so the weights are one sequential
 * stream for the hardware prefetchers (interleaving rows streamed at half the bandwidth from memory).
 * Code planes are not shifted down: plane p masked in place is code·4^s (s = p for TQ2_0, 3 − p for
 * I2_S), at most 192, still an unsigned byte; it accumulates in its own register, and the planes are
 * combined at the end with exact arithmetic shifts (every lane of plane p's sum is a multiple of 4^s).
 * Two adjacent chunks per step, each with its own four accumulators: eight independent chains hide
 * vpdpbusd's latency without leaving the stream.
 */
#define GEMV_CHUNK(A, c, REV)                                                                                               \
  do {                                                                                                                 \
    /* two 32-byte loads: a TQ2_0 chunk (66 bytes apart) almost always straddles two cache lines, and one   \
     * straddling 64-byte load cost TQ2_0 a fifth of its speed, hot or streaming from memory */            \
    const uint8_t *bp = row0 + (c) * stride;                                                                            \
    __m512i b = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)bp)),                     \
                                   _mm256_loadu_si256((const __m256i *)(bp + 32)), 1);                                  \
    for (int q = 0; q < 4; q++) {                                                                                      \
      const int shift = REV ? 6 - 2 * q : 2 * q;                                                                       \
      __m512i x = _mm512_loadu_si512((const void *)(xs[0] + (c) * BN_CHUNK + 64 * q));                                 \
      acc[A][q] = _mm512_dpbusd_epi32(acc[A][q], _mm512_and_si512(b, _mm512_set1_epi8((char)(3 << shift))), x);        \
    }                                                                                                                  \
  } while (0)

#define DEFINE_GEMV(NAME, REV)                                                                                            \
  static void NAME(const uint8_t *row0, int64_t rstride, const int8_t *const *xs, int64_t nch, int64_t stride,         \
                   int per_row, int nt, int64_t nd, int32_t *raw) {                                                    \
    (void)nt, (void)rstride;                                                                                           \
    __m512i acc[2][4];                                                                                                 \
    for (int a = 0; a < 2; a++)                                                                                        \
      for (int q = 0; q < 4; q++) acc[a][q] = _mm512_setzero_si512();                                                  \
    int64_t c = 0;                                                                                                     \
    for (; c + 2 <= nch; c += 2) {                                                                                     \
      GEMV_CHUNK(0, c, REV);                                                                                                \
      GEMV_CHUNK(1, c + 1, REV);                                                                                            \
      if (!per_row) {                                                                                                  \
        for (int a = 0; a < 2; a++) {                                                                                  \
          raw[c + a] = _mm512_reduce_add_epi32(combine(acc[a], REV));                                                  \
          for (int q = 0; q < 4; q++) acc[a][q] = _mm512_setzero_si512();                                              \
        }                                                                                                              \
      }                                                                                                                \
    }                                                                                                                  \
    if (c < nch) {                                                                                                     \
      GEMV_CHUNK(0, c, REV);                                                                                                \
      if (!per_row) {                                                                                                  \
        raw[c] = _mm512_reduce_add_epi32(combine(acc[0], REV));                                                        \
        for (int q = 0; q < 4; q++) acc[0][q] = _mm512_setzero_si512();                                                \
      }                                                                                                                \
    }                                                                                                                  \
    if (per_row) raw[0] = _mm512_reduce_add_epi32(_mm512_add_epi32(combine(acc[0], REV), combine(acc[1], REV)));      \
    (void)nd;                                                                                                          \
  }

DEFINE_COMBINE(combine, __m512i, _mm512_add_epi32, _mm512_srai_epi32)

DEFINE_GEMV(tq2_gemv, 0)
DEFINE_GEMV(i2s_gemv, 1)

/* TQ1_0: codes decoded per row and chunk (tq1_avx2.h), paired into 64-byte vectors, dotted with q in value order. */
#define DEFINE_TQ1_TILE(NAME, MR, MT)                                                                                   \
  static void NAME(const uint8_t *row0, int64_t rstride, const int8_t *const *xs, int64_t nch, int per_row, int nt,  \
                   int64_t nd, int32_t *raw) {                                                                        \
    __m512i acc[MR][MT];                                                                                              \
    TILE_ZERO(acc, MR, MT);                                                                                           \
    for (int64_t c = 0; c < nch; c++) {                                                                               \
      __m512i code[MR][4];                                                                                            \
      for (int i = 0; i < MR; i++) {                                                                                  \
        __m256i h[8];                                                                                                 \
        tq1_decode(row0 + i * rstride + c * BN_TQ1_BYTES, h);                                                         \
        for (int v = 0; v < 4; v++) code[i][v] = _mm512_inserti64x4(_mm512_castsi256_si512(h[2 * v]), h[2 * v + 1], 1); \
      }                                                                                                               \
      for (int v = 0; v < 4; v++)                                                                                     \
        for (int j = 0; j < MT; j++) {                                                                                \
          __m512i x = _mm512_loadu_si512((const void *)(xs[j] + c * BN_CHUNK + 64 * v));                              \
          for (int i = 0; i < MR; i++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], code[i][v], x);                     \
        }                                                                                                             \
      TILE_CHUNK_END(acc, MR, MT, MR, nt, nd, c, per_row, raw);                                                       \
    }                                                                                                                 \
    TILE_ROW_END(acc, MR, nt, nd, per_row, raw);                                                                      \
  }

DEFINE_TQ1_TILE(tq1_gemv, 4, 1)
DEFINE_TQ1_TILE(tq1_gemv1, 1, 1)
DEFINE_TQ1_TILE(tq1_gemm, GEMM_R, GEMM_T)
DEFINE_TQ1_TILE(tq1_gemm1, 1, GEMM_T)

/* Tokens up to which a GEMM reads one row at a time: on the 2B4T shape at 2 threads a 2-token step took
   2.2× a 1-token step with 4-row tiles and 1.2× row by row; from about 16 tokens the tiles are faster. */
#define SMALL_BATCH 8

/* Rows r..r+nr−1 (nr ≤ the tile's rows) × tokens t..t+nt−1: full tiles, else row by row. */
static void avx512_dots(const bn_tmat *m, const bn_tacts *a, int64_t r, int nr, int64_t t, int nt, int32_t *raw) {
  const int64_t K = m->K, nch = K / BN_CHUNK, nd = m->per_row ? 1 : nch;
  const int gemv = a->T == 1;
  const int tq1 = m->format == BN_TQ1_0;
  const int full = gemv ? (tq1 ? 4 : GEMV_R) : GEMM_R, MT = gemv ? 1 : GEMM_T;
  const int8_t *x = tq1 ? a->q : a->qp;
  const int8_t *xs[GEMM_T];
  for (int j = 0; j < MT; j++) xs[j] = x + (t + (j < nt ? j : nt - 1)) * K;
  const uint8_t *row0 = bn_ternary_row(m, r);
  const int64_t rstride = bn_ternary_row(m, r + 1) - row0;
  const int64_t stride = m->format == BN_TQ2_0 ? BN_TQ2_BYTES : 64;
  for (int i = 0; i < nr;) {
    const uint8_t *p = row0 + i * rstride;
    int32_t *o = raw + (size_t)i * nt * nd;
    /* A few tokens (a decode batch) read row by row: one prefetch stream, as the GEMV does; 4-row tiles
       only pay once there are enough tokens to reuse each loaded row. */
    int step = nr - i >= full && (gemv || a->T > SMALL_BATCH) ? full : 1;
    if (tq1) {
      if (gemv) (step > 1 ? tq1_gemv : tq1_gemv1)(p, rstride, xs, nch, m->per_row, nt, nd, o);
      else (step > 1 ? tq1_gemm : tq1_gemm1)(p, rstride, xs, nch, m->per_row, nt, nd, o);
    } else if (m->format == BN_TQ2_0) {
      if (gemv) tq2_gemv(p, rstride, xs, nch, stride, m->per_row, nt, nd, o);
      else (step > 1 ? tq2_gemm : tq2_gemm1)(p, rstride, xs, nch, stride, m->per_row, nt, nd, o);
    } else {
      if (gemv) i2s_gemv(p, rstride, xs, nch, stride, m->per_row, nt, nd, o);
      else (step > 1 ? i2s_gemm : i2s_gemm1)(p, rstride, xs, nch, stride, m->per_row, nt, nd, o);
    }
    i += step;
  }
  /* an I2_S row of 128·odd values ends with one 32-byte group, kept in value order by prep.c (per_row only) */
  if (m->format == BN_I2_S && K % BN_CHUNK)
    for (int i = 0; i < nr; i++)
      for (int j = 0; j < nt; j++) raw[(i * nt + j) * nd] += bn_i2s_group_dot(row0 + i * rstride + nch * 64, xs[j] + nch * BN_CHUNK);
}

#define DOTS avx512_dots
#define ROWS GEMM_R
#define TOKS GEMM_T
#define GEMV_ROWS 16 /* rows per call of DOTS: the kernel still reads them one by one */
#define TERNARY_ROWS bn_ternary_rows_avx512vnni
#include "ternary_driver.h"
