/*
 * AVX-512 float matmul (f32, f16, bf16 weights; F16C-style widening by vcvtph2ps, bf16 by a shift).
 *
 * Every (row, token) dot is one fixed sequence: four 16-lane accumulators, step s (values 16s..16s+15,
 * the last one masked to zeros past K) fused-multiply-added into accumulator s mod 4, then
 * (a0 + a1) + (a2 + a3) and _mm512_reduce_add_ps's fixed tree. GEMV reads one row at a time: rows are
 * contiguous, so that is one stream for the hardware prefetchers, which matters for a head of 0.66 GB
 * read once per token (interleaving rows streamed a third slower). GEMM tiles (2 rows × 2 tokens) only
 * share loads, so a token's result does not depend on the other tokens of the call. Full steps use
 * plain loads (masked ones streamed slower). Error: at most (K/64 + 6)·2⁻²⁴·Σ|w·x| from the float64
 * reference, inside the (K/8 + 8) bound the kernels state.
 */
#include <immintrin.h>

#include "bitnet.h"

#define GEMV_R 1
#define GEMM_R 2
#define GEMM_T 2

static inline __m512 load_w(int format, const void *w, int64_t k, __mmask16 m) {
  if (m == 0xffff) {
    switch (format) {
    case BN_F16: return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + k)));
    case BN_BF16: return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + k))), 16));
    default: return _mm512_loadu_ps((const float *)w + k);
    }
  }
  switch (format) {
  case BN_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)w + k));
  case BN_BF16: return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t *)w + k)), 16));
  default: return _mm512_maskz_loadu_ps(m, (const float *)w + k);
  }
}

/* Step k (16 values) of an MR × MT tile into accumulator A. */
#define STEP(MR, MT, FORMAT, A, k, mask)                                                                       \
  do {                                                                                                        \
    __m512 w[MR];                                                                                             \
    for (int i = 0; i < MR; i++) w[i] = load_w(FORMAT, rows[i], (k), (mask));                                  \
    for (int j = 0; j < MT; j++) {                                                                            \
      __m512 x = (mask) == 0xffff ? _mm512_loadu_ps(xs[j] + (k)) : _mm512_maskz_loadu_ps((mask), xs[j] + (k)); \
      for (int i = 0; i < MR; i++) acc[i][j][A] = _mm512_fmadd_ps(w[i], x, acc[i][j][A]);                     \
    }                                                                                                         \
  } while (0)

#define DEFINE_TILE(NAME, MR, MT, FORMAT)                                                                        \
  static void NAME(const bn_fmat *m, const void *const *rows, const float *const *xs, int nr, int nt,         \
                   float *res) {                                                                              \
    const int64_t K = m->K, K64 = K & ~(int64_t)63;                                                           \
    __m512 acc[MR][MT][4];                                                                                    \
    for (int i = 0; i < MR; i++)                                                                              \
      for (int j = 0; j < MT; j++)                                                                            \
        for (int a = 0; a < 4; a++) acc[i][j][a] = _mm512_setzero_ps();                                       \
    for (int64_t k = 0; k < K64; k += 64) {                                                                   \
      STEP(MR, MT, FORMAT, 0, k, 0xffff);                                                                     \
      STEP(MR, MT, FORMAT, 1, k + 16, 0xffff);                                                                \
      STEP(MR, MT, FORMAT, 2, k + 32, 0xffff);                                                                \
      STEP(MR, MT, FORMAT, 3, k + 48, 0xffff);                                                                \
    }                                                                                                         \
    for (int64_t k = K64, a = 0; k < K; k += 16, a++) {                                                       \
      __mmask16 mask = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);                     \
      if (a == 0) STEP(MR, MT, FORMAT, 0, k, mask);                                                           \
      else if (a == 1) STEP(MR, MT, FORMAT, 1, k, mask);                                                      \
      else STEP(MR, MT, FORMAT, 2, k, mask);                                                                  \
    }                                                                                                         \
    for (int i = 0; i < nr; i++)                                                                              \
      for (int j = 0; j < nt; j++)                                                                            \
        res[i * nt + j] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[i][j][0], acc[i][j][1]),        \
                                                             _mm512_add_ps(acc[i][j][2], acc[i][j][3])));      \
  }

#define FLOAT_ROWS bn_float_rows_avx512vnni
#include "float_driver.h"
