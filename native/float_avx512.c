/*
 * AVX-512 float matmul (f32, f16, bf16 weights; F16C-style widening by vcvtph2ps, bf16 by a shift).
 *
 * Every (row, token) dot is one fixed sequence: a 16-lane accumulator, one fused multiply-add per 16
 * values in k order, the last partial step with masked (zeroed) loads, then _mm512_reduce_add_ps's fixed
 * tree. GEMV tiles (8 rows) and GEMM tiles (4 rows × 4 tokens) only share loads, so a token's result does
 * not depend on the other tokens of the call. Error: at most (K/16 + 5)·2⁻²⁴·Σ|w·x| from the float64
 * reference, inside the (K/8 + 8) bound the kernels state.
 */
#include <immintrin.h>

#include "bitnet.h"

#define GEMV_R 8
#define GEMM_R 4
#define GEMM_T 4

static inline __m512 load_w(int format, const void *w, int64_t k, __mmask16 m) {
  switch (format) {
  case BN_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)w + k));
  case BN_BF16: return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t *)w + k)), 16));
  default: return _mm512_maskz_loadu_ps(m, (const float *)w + k);
  }
}

static inline const void *row_at(const bn_fmat *m, int64_t r) {
  return (const char *)m->data + r * m->K * (m->format == BN_F32 ? 4 : 2);
}

#define DEFINE_TILE(NAME, MR, MT, FORMAT)                                                                        \
  static void NAME(const bn_fmat *m, const void *const *rows, const float *const *xs, int nr, int nt,         \
                   float *res) {                                                                              \
    const int64_t K = m->K;                                                                                   \
    __m512 acc[MR][MT];                                                                                       \
    for (int i = 0; i < MR; i++)                                                                              \
      for (int j = 0; j < MT; j++) acc[i][j] = _mm512_setzero_ps();                                           \
    for (int64_t k = 0; k < K; k += 16) {                                                                     \
      __mmask16 mask = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);                     \
      __m512 w[MR];                                                                                           \
      for (int i = 0; i < MR; i++) w[i] = load_w(FORMAT, rows[i], k, mask);                                    \
      for (int j = 0; j < MT; j++) {                                                                          \
        __m512 x = _mm512_maskz_loadu_ps(mask, xs[j] + k);                                                    \
        for (int i = 0; i < MR; i++) acc[i][j] = _mm512_fmadd_ps(w[i], x, acc[i][j]);                         \
      }                                                                                                       \
    }                                                                                                         \
    for (int i = 0; i < nr; i++)                                                                              \
      for (int j = 0; j < nt; j++) res[i * nt + j] = _mm512_reduce_add_ps(acc[i][j]);                         \
  }

DEFINE_TILE(gemv_f32, GEMV_R, 1, BN_F32)
DEFINE_TILE(gemv_f16, GEMV_R, 1, BN_F16)
DEFINE_TILE(gemv_bf16, GEMV_R, 1, BN_BF16)
DEFINE_TILE(gemm_f32, GEMM_R, GEMM_T, BN_F32)
DEFINE_TILE(gemm_f16, GEMM_R, GEMM_T, BN_F16)
DEFINE_TILE(gemm_bf16, GEMM_R, GEMM_T, BN_BF16)

void bn_float_rows_avx512vnni(const bn_fmat *m, const float *x, int64_t T, int64_t r0, int64_t r1) {
  const int gemv = T == 1;
  const int MR = gemv ? GEMV_R : GEMM_R, MT = gemv ? 1 : GEMM_T;
  const void *rows[GEMV_R];
  const float *xs[GEMM_T];
  float res[GEMV_R * GEMM_T];
  for (int64_t r = r0; r < r1; r += MR) {
    int nr = (int)(r1 - r < MR ? r1 - r : MR);
    for (int i = 0; i < MR; i++) rows[i] = row_at(m, r + (i < nr ? i : nr - 1));
    for (int64_t t = 0; t < T; t += MT) {
      int nt = (int)(T - t < MT ? T - t : MT);
      for (int j = 0; j < MT; j++) xs[j] = x + (t + (j < nt ? j : nt - 1)) * m->K;
      if (gemv) {
        if (m->format == BN_F16) gemv_f16(m, rows, xs, nr, nt, res);
        else if (m->format == BN_BF16) gemv_bf16(m, rows, xs, nr, nt, res);
        else gemv_f32(m, rows, xs, nr, nt, res);
      } else {
        if (m->format == BN_F16) gemm_f16(m, rows, xs, nr, nt, res);
        else if (m->format == BN_BF16) gemm_bf16(m, rows, xs, nr, nt, res);
        else gemm_f32(m, rows, xs, nr, nt, res);
      }
      for (int i = 0; i < nr; i++)
        for (int j = 0; j < nt; j++) m->out[(t + j) * m->N + r + i] = bn_out_scale(res[i * nt + j], m->out_scale);
    }
  }
}
