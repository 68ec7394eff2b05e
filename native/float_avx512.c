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

static inline const void *row_at(const bn_fmat *m, int64_t r) {
  return (const char *)m->data + r * m->K * (m->format == BN_F32 ? 4 : 2);
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

DEFINE_TILE(gemv_f32, GEMV_R, 1, BN_F32)
DEFINE_TILE(gemv_f16, GEMV_R, 1, BN_F16)
DEFINE_TILE(gemv_bf16, GEMV_R, 1, BN_BF16)
DEFINE_TILE(gemm_f32, GEMM_R, GEMM_T, BN_F32)
DEFINE_TILE(gemm_f16, GEMM_R, GEMM_T, BN_F16)
DEFINE_TILE(gemm_bf16, GEMM_R, GEMM_T, BN_BF16)

void bn_float_rows_avx512vnni(const bn_fmat *m, const float *x, int64_t T, int64_t r0, int64_t r1) {
  const int gemv = T == 1;
  const int MR = gemv ? GEMV_R : GEMM_R, MT = gemv ? 1 : GEMM_T;
  const void *rows[GEMV_R > GEMM_R ? GEMV_R : GEMM_R];
  const float *xs[GEMM_T];
  float res[(GEMV_R > GEMM_R ? GEMV_R : GEMM_R) * GEMM_T];
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
