/*
 * AVX2 float matmul (f32, f16 by F16C's vcvtph2ps, bf16 by a shift), used by the AVX2 and AVX-VNNI sets.
 *
 * Every (row, token) dot is one fixed sequence: an 8-lane accumulator, one fused multiply-add per 8
 * values in k order, the last partial step over zero-padded copies, then a fixed tree over the lanes.
 * GEMV tiles (8 rows) and GEMM tiles (2 rows × 4 tokens) only share loads, so a token's result does not
 * depend on the other tokens of the call. Error: at most (K/8 + 4)·2⁻²⁴·Σ|w·x| from the float64
 * reference, inside the (K/8 + 8) bound the kernels state.
 */
#include <immintrin.h>

#include "bitnet.h"

#define GEMV_R 8
#define GEMM_R 2
#define GEMM_T 4

static inline __m256 load_w(int format, const void *w, int64_t k) {
  switch (format) {
  case BN_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + k)));
  case BN_BF16: return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + k))), 16));
  default: return _mm256_loadu_ps((const float *)w + k);
  }
}

/* The last K mod 8 weights, zero-padded to 8. */
static inline __m256 load_w_tail(int format, const void *w, int64_t k, int64_t n) {
  BN_ALIGN(32) uint16_t h[8] = {0};
  BN_ALIGN(32) float f[8] = {0};
  if (format == BN_F32) {
    memcpy(f, (const float *)w + k, (size_t)n * 4);
    return _mm256_load_ps(f);
  }
  memcpy(h, (const uint16_t *)w + k, (size_t)n * 2);
  return load_w(format, h, 0);
}

static inline __m256 load_x_tail(const float *x, int64_t k, int64_t n) {
  BN_ALIGN(32) float f[8] = {0};
  memcpy(f, x + k, (size_t)n * 4);
  return _mm256_load_ps(f);
}

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

static inline const void *row_at(const bn_fmat *m, int64_t r) {
  return (const char *)m->data + r * m->K * (m->format == BN_F32 ? 4 : 2);
}

#define DEFINE_TILE(NAME, MR, MT, FORMAT)                                                                        \
  static void NAME(const bn_fmat *m, const void *const *rows, const float *const *xs, int nr, int nt,         \
                   float *res) {                                                                              \
    const int64_t K = m->K, K8 = K & ~(int64_t)7;                                                              \
    __m256 acc[MR][MT];                                                                                       \
    for (int i = 0; i < MR; i++)                                                                              \
      for (int j = 0; j < MT; j++) acc[i][j] = _mm256_setzero_ps();                                           \
    for (int64_t k = 0; k < K8; k += 8) {                                                                     \
      __m256 w[MR];                                                                                           \
      for (int i = 0; i < MR; i++) w[i] = load_w(FORMAT, rows[i], k);                                          \
      for (int j = 0; j < MT; j++) {                                                                          \
        __m256 x = _mm256_loadu_ps(xs[j] + k);                                                                \
        for (int i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(w[i], x, acc[i][j]);                         \
      }                                                                                                       \
    }                                                                                                         \
    if (K8 < K) {                                                                                             \
      __m256 w[MR];                                                                                           \
      for (int i = 0; i < MR; i++) w[i] = load_w_tail(FORMAT, rows[i], K8, K - K8);                            \
      for (int j = 0; j < MT; j++) {                                                                          \
        __m256 x = load_x_tail(xs[j], K8, K - K8);                                                            \
        for (int i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(w[i], x, acc[i][j]);                         \
      }                                                                                                       \
    }                                                                                                         \
    for (int i = 0; i < nr; i++)                                                                              \
      for (int j = 0; j < nt; j++) res[i * nt + j] = hsum(acc[i][j]);                                         \
  }

DEFINE_TILE(gemv_f32, GEMV_R, 1, BN_F32)
DEFINE_TILE(gemv_f16, GEMV_R, 1, BN_F16)
DEFINE_TILE(gemv_bf16, GEMV_R, 1, BN_BF16)
DEFINE_TILE(gemm_f32, GEMM_R, GEMM_T, BN_F32)
DEFINE_TILE(gemm_f16, GEMM_R, GEMM_T, BN_F16)
DEFINE_TILE(gemm_bf16, GEMM_R, GEMM_T, BN_BF16)

void bn_float_rows_avx2(const bn_fmat *m, const float *x, int64_t T, int64_t r0, int64_t r1) {
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
