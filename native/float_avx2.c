/*
 * AVX2 float matmul (f32, f16 by F16C's vcvtph2ps, bf16 by a shift), used by the AVX2 and AVX-VNNI sets.
 *
 * Every (row, token) dot is one fixed sequence: four 8-lane accumulators, step s (values 8s..8s+7, the
 * last one over zero-padded copies) fused-multiply-added into accumulator s mod 4, then
 * (a0 + a1) + (a2 + a3) and a fixed tree over the lanes. GEMV reads one row at a time (one stream for
 * the prefetchers, see float_avx512.c); GEMM tiles (1 row × 3 tokens: AVX2 has 16 registers) only share
 * loads, so a token's result does not depend on the other tokens of the call. Error: at most
 * (K/32 + 6)·2⁻²⁴·Σ|w·x| from the float64 reference, inside the (K/8 + 8) bound the kernels state.
 */
#include <immintrin.h>

#include "bitnet.h"

#define GEMV_R 1
#define GEMM_R 1
#define GEMM_T 3

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

/* Step k (8 values) of an MR × MT tile into accumulator A; TAIL: the last K − k values, zero-padded. */
#define STEP(MR, MT, FORMAT, A, k, TAIL)                                                                       \
  do {                                                                                                        \
    __m256 w[MR];                                                                                             \
    for (int i = 0; i < MR; i++) w[i] = TAIL ? load_w_tail(FORMAT, rows[i], (k), K - (k)) : load_w(FORMAT, rows[i], (k)); \
    for (int j = 0; j < MT; j++) {                                                                            \
      __m256 x = TAIL ? load_x_tail(xs[j], (k), K - (k)) : _mm256_loadu_ps(xs[j] + (k));                       \
      for (int i = 0; i < MR; i++) acc[i][j][A] = _mm256_fmadd_ps(w[i], x, acc[i][j][A]);                     \
    }                                                                                                         \
  } while (0)

#define DEFINE_TILE(NAME, MR, MT, FORMAT)                                                                        \
  static void NAME(const bn_fmat *m, const void *const *rows, const float *const *xs, int nr, int nt,         \
                   float *res) {                                                                              \
    const int64_t K = m->K, K32 = K & ~(int64_t)31;                                                           \
    __m256 acc[MR][MT][4];                                                                                    \
    for (int i = 0; i < MR; i++)                                                                              \
      for (int j = 0; j < MT; j++)                                                                            \
        for (int a = 0; a < 4; a++) acc[i][j][a] = _mm256_setzero_ps();                                       \
    for (int64_t k = 0; k < K32; k += 32) {                                                                   \
      STEP(MR, MT, FORMAT, 0, k, 0);                                                                          \
      STEP(MR, MT, FORMAT, 1, k + 8, 0);                                                                      \
      STEP(MR, MT, FORMAT, 2, k + 16, 0);                                                                     \
      STEP(MR, MT, FORMAT, 3, k + 24, 0);                                                                     \
    }                                                                                                         \
    for (int64_t k = K32, a = 0; k < K; k += 8, a++) {                                                        \
      int tail = K - k < 8;                                                                                   \
      if (a == 0) STEP(MR, MT, FORMAT, 0, k, tail);                                                           \
      else if (a == 1) STEP(MR, MT, FORMAT, 1, k, tail);                                                      \
      else if (a == 2) STEP(MR, MT, FORMAT, 2, k, tail);                                                      \
      else STEP(MR, MT, FORMAT, 3, k, tail);                                                                  \
    }                                                                                                         \
    for (int i = 0; i < nr; i++)                                                                              \
      for (int j = 0; j < nt; j++)                                                                            \
        res[i * nt + j] = hsum(_mm256_add_ps(_mm256_add_ps(acc[i][j][0], acc[i][j][1]), _mm256_add_ps(acc[i][j][2], acc[i][j][3]))); \
  }

#define FLOAT_ROWS bn_float_rows_avx2
#include "float_driver.h"
