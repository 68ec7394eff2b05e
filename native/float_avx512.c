/*
 * AVX-512 float matmul (f32, f16, bf16 weights; F16C-style widening by vcvtph2ps, bf16 by a shift).
 *
 * Every (row, token) dot is one fixed sequence: four 16-lane accumulators, step s (values 16s..16s+15,
 * the last one masked to zeros past K) fused-multiply-added into accumulator s mod 4, then
 * (a0 + a1) + (a2 + a3) and _mm512_reduce_add_ps's fixed tree. GEMV reads one row at a time: rows are
 * contiguous, so that is one stream for the hardware prefetchers, which matters for a head of 0.66 GB
 * read once per token (interleaving rows streamed a third slower). Full steps use plain loads (masked
 * ones streamed slower). Error: at most (K/64 + 6)·2⁻²⁴·Σ|w·x| from the float64 reference, inside the
 * (K/8 + 8) bound the kernels state.
 *
 * Several tokens (a serving step of many sequences through a 128256-row head) are compute-bound, and a
 * tile holding all four accumulators of each dot in registers could only be 2 rows × 2 tokens (four
 * 16-lane registers per dot, 32 registers), converting each F16 weight step once per 4 FMAs. The four
 * accumulators are independent chains, though: a pass tile of 4 rows × up to 6 tokens runs one
 * accumulator at a time (steps a, a+4, a+8, ...) over a block of KBLOCK steps, parks it in memory, and
 * sums the four at the end in GEMV's order: the same operations on the same values per dot, so the bits
 * do not depend on the batch, with one conversion per 6 FMAs and 24 independent chains. Blocks keep the
 * reads of a row contiguous, and the next tile's rows are prefetched evenly over the steps (the head
 * for 8 tokens on 2 threads: 48 -> 26..33 ms; 2 tokens: 23 -> 14..17 ms).
 */
#include <immintrin.h>

#include "bitnet.h"

#define GEMV_R 1

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

/* Accumulator A's steps in [S0, S1) (A, A+4, ... : S0 a multiple of 4) of a PASS_R × MT tile, continuing part[A]. */
#define PASS(MT, FORMAT, A, S0, S1)                                                                             \
  do {                                                                                                        \
    __m512 acc[PASS_R][MT];                                                                                   \
    for (int i = 0; i < PASS_R; i++)                                                                          \
      for (int j = 0; j < MT; j++) acc[i][j] = _mm512_load_ps(part[A][i][j]);                                 \
    for (int64_t s = (S0) + (A); s < (S1); s += 4) {                                                          \
      __m512 w[PASS_R];                                                                                       \
      for (int i = 0; i < PASS_R; i++) w[i] = load_w(FORMAT, rows[i], s << 4, 0xffff);                        \
      for (int q = 0; q < pf_lines && pf < pf_end; q++, pf += 64) _mm_prefetch(pf, PF_HINT);                  \
      for (int j = 0; j < MT; j++) {                                                                          \
        __m512 x = _mm512_loadu_ps(xs[j] + (s << 4));                                                         \
        for (int i = 0; i < PASS_R; i++) acc[i][j] = _mm512_fmadd_ps(w[i], x, acc[i][j]);                     \
      }                                                                                                       \
    }                                                                                                         \
    for (int i = 0; i < PASS_R; i++)                                                                          \
      for (int j = 0; j < MT; j++) _mm512_store_ps(part[A][i][j], acc[i][j]);                                 \
  } while (0)

#define KBLOCK 32

#define DEFINE_PASS_TILE(NAME, MT, FORMAT)                                                                     \
  static void NAME(const bn_fmat *m, const void *const *rows, const float *const *xs, const char *pf,         \
                   const char *pf_end, float *res) {                                                          \
    const int64_t full = m->K >> 4;                                                                           \
    /* as many lines per step as spread the prefetches over all of the tile's steps, not in one burst */        \
    const int pf_lines = full > 0 ? (int)((pf_end - pf + 64 * full - 1) / (64 * full)) : 0;                  \
    const __mmask16 tail = (__mmask16)((1u << (m->K & 15)) - 1);                                              \
    BN_ALIGN(64) float part[4][PASS_R][MT][16];                                                               \
    memset(part, 0, sizeof part);                                                                             \
    for (int64_t b = 0; b < full; b += KBLOCK) {                                                              \
      const int64_t e = full - b < KBLOCK ? full : b + KBLOCK;                                                \
      PASS(MT, FORMAT, 0, b, e);                                                                              \
      PASS(MT, FORMAT, 1, b, e);                                                                              \
      PASS(MT, FORMAT, 2, b, e);                                                                              \
      PASS(MT, FORMAT, 3, b, e);                                                                              \
    }                                                                                                         \
    if (tail) {                                                                                               \
      const int a = (int)(full & 3);                                                                          \
      for (int i = 0; i < PASS_R; i++) {                                                                      \
        __m512 w = load_w(FORMAT, rows[i], full << 4, tail);                                                  \
        for (int j = 0; j < MT; j++) {                                                                        \
          __m512 x = _mm512_maskz_loadu_ps(tail, xs[j] + (full << 4));                                        \
          _mm512_store_ps(part[a][i][j], _mm512_fmadd_ps(w, x, _mm512_load_ps(part[a][i][j])));               \
        }                                                                                                     \
      }                                                                                                       \
    }                                                                                                         \
    for (int i = 0; i < PASS_R; i++)                                                                          \
      for (int j = 0; j < MT; j++)                                                                            \
        res[i * MT + j] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_load_ps(part[0][i][j]), _mm512_load_ps(part[1][i][j])), \
                                                             _mm512_add_ps(_mm512_load_ps(part[2][i][j]), _mm512_load_ps(part[3][i][j])))); \
  }

#define PF_HINT _MM_HINT_T0
#define PASS_R 4
#define PASS_T 6

#define FLOAT_ROWS bn_float_rows_avx512vnni
#include "float_driver.h"
