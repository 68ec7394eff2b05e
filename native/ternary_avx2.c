/*
 * AVX2 ternary kernels (and, compiled again by ternary_avxvnni.c with BN_AVXVNNI, AVX-VNNI's).
 *
 * Dot form (SPEC §4): codes stay unsigned (w+1 ∈ {0, 1, 2}) and multiply-add against the int8
 * activations, an unsigned × signed byte dot: vpdpbusd with AVX-VNNI; with plain AVX2, vpmaddubsw into
 * 16-bit sums within a 256-value block (8 products of at most 2·128 each, |sum| ≤ 4096) and vpmaddwd
 * into 32 bits once per block. Σq is subtracted in the epilogue (bitnet.h).
 *
 * Layouts read in place:
 * - TQ2_0 and I2_S: 32 code bytes give four 32-value planes by shifts of 0, 2, 4, 6 (I2_S: 6, 4, 2, 0),
 *   each lining up with 32 consecutive activations, so no shuffles are needed.
 * - TQ1_0: each block is first decoded to its 256 codes (base 3: byte·3^n mod 256 by byte additions,
 *   then code = [q ≥ 86] + [q ≥ 171]), then dotted like the others; in a GEMM tile a row's codes serve
 *   every token of the tile.
 * Tiles: GEMV one row at a time (TQ1_0: four), GEMM 2 rows × 4 tokens (AVX2 has 16 vector registers);
 * partial tiles repeat their last row or token and drop the extra results.
 */
#include <immintrin.h>

#include "ternary_scalar.h"
#include "tq1_avx2.h"

#if defined(BN_AVXVNNI)
#define SFX(name) name##_avxvnni
#define GEMM_T 4
#else
#define SFX(name) name##_avx2
#define GEMM_T 2
#endif
#define GEMV_R 4
#define GEMM_R 2

/* Per (row, token) accumulation of one block: AVX-VNNI adds into 32 bits directly; AVX2 keeps a 16-bit
 * partial sum per block and widens it at the block's end. */
typedef struct {
  __m256i acc; /* int32 lanes */
#if !defined(BN_AVXVNNI)
  __m256i part; /* int16 lanes, this block */
#endif
} dotacc;

static inline void acc_zero(dotacc *a) {
  a->acc = _mm256_setzero_si256();
#if !defined(BN_AVXVNNI)
  a->part = _mm256_setzero_si256();
#endif
}

static inline void acc_step(dotacc *a, __m256i codes, __m256i x) {
#if defined(BN_AVXVNNI)
  a->acc = _mm256_dpbusd_avx_epi32(a->acc, codes, x);
#else
  a->part = _mm256_add_epi16(a->part, _mm256_maddubs_epi16(codes, x));
#endif
}

static inline void acc_block_end(dotacc *a) {
#if !defined(BN_AVXVNNI)
  a->acc = _mm256_add_epi32(a->acc, _mm256_madd_epi16(a->part, _mm256_set1_epi16(1)));
  a->part = _mm256_setzero_si256();
#else
  (void)a;
#endif
}

#define ACC_SUM(v) hsum((v).acc)
#define ACC_ZERO(v) acc_zero(&(v))
#define ACC_CHUNK_DONE(v) acc_block_end(&(v))
#include "ternary_tile.h"

static inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

/* Code plane j (0..3) of 32 code bytes: the 2 bits at `shift`. */
#define PLANE(b, shift) _mm256_and_si256(_mm256_srli_epi16((b), (shift)), _mm256_set1_epi8(3))

/*
 * Raw dots of MR rows × MT tokens over whole 256-chunks [0, nch): rows[i] point at row i's first block
 * (`stride` bytes a block), xs[j] at token j's activations. Per chunk into
 * raw[(i·nt + j)·nd + c] unless per_row, then summed over the row into raw[(i·nt + j)·nd].
 * REV: I2_S's plane order (values 32p.. in bits 6−2p).
 */
#define DEFINE_TQ2_TILE(NAME, MR, MT, REV)                                                                                   \
  static void NAME(const uint8_t *const *rows, const int8_t *const *xs, int64_t nch, int64_t stride, int per_row,          \
                   int nr, int nt, int64_t nd, int32_t *raw) {                                                             \
    dotacc a[MR][MT];                                                                                                      \
    TILE_ZERO(a, MR, MT);                                                                                                  \
    for (int64_t c = 0; c < nch; c++) {                                                                                    \
      for (int h = 0; h < 2; h++) {                                                                                        \
        __m256i b[MR];                                                                                                     \
        for (int i = 0; i < MR; i++) b[i] = _mm256_loadu_si256((const __m256i *)(rows[i] + c * stride + 32 * h));         \
        for (int p = 0; p < 4; p++) {                                                                                      \
          const int shift = REV ? 6 - 2 * p : 2 * p;                                                                       \
          __m256i code[MR];                                                                                                \
          for (int i = 0; i < MR; i++) code[i] = PLANE(b[i], shift);                                                       \
          for (int j = 0; j < MT; j++) {                                                                                   \
            __m256i x = _mm256_loadu_si256((const __m256i *)(xs[j] + c * BN_CHUNK + 128 * h + 32 * p));                    \
            for (int i = 0; i < MR; i++) acc_step(&a[i][j], code[i], x);                                                   \
          }                                                                                                                \
        }                                                                                                                  \
      }                                                                                                                    \
      TILE_CHUNK_END(a, MR, MT, nr, nt, nd, c, per_row, raw);                                                              \
    }                                                                                                                      \
    TILE_ROW_END(a, nr, nt, nd, per_row, raw);                                                                             \
  }

/*
 * One token (GEMV), one row at a time: rows are contiguous, so the weights are one sequential stream
 * for the prefetchers (interleaved rows streamed at half the bandwidth, see ternary_avx512.c). One
 * accumulator per code plane for independent chains. With AVX-VNNI the planes are masked in place
 * (code·4^s ≤ 192, still an unsigned byte) and combined by exact shifts at the end; plain AVX2 shifts
 * them down (vpmaddubsw's 16-bit sums would overflow with the scaled codes).
 */
#if defined(BN_AVXVNNI)
DEFINE_COMBINE(combine, __m256i, _mm256_add_epi32, _mm256_srai_epi32)
#define PLANE_ACC(a, b, q, x, REV) \
  (a)[q] = _mm256_dpbusd_avx_epi32((a)[q], _mm256_and_si256((b), _mm256_set1_epi8((char)(3 << (REV ? 6 - 2 * (q) : 2 * (q))))), (x))
#define PLANE_END(a) ((void)0)
#define PLANE_TOTAL(a, REV) combine((a), REV)
#else
/* 16-bit partial sums per plane within a chunk (at most 2·2·3·128 = 1536), widened at its end. */
#define PLANE_ACC(a, b, q, x, REV) \
  part[q] = _mm256_add_epi16(part[q], _mm256_maddubs_epi16(PLANE((b), REV ? 6 - 2 * (q) : 2 * (q)), (x)))
#define PLANE_END(a)                                                                                   \
  for (int q = 0; q < 4; q++) {                                                                        \
    (a)[q] = _mm256_add_epi32((a)[q], _mm256_madd_epi16(part[q], _mm256_set1_epi16(1)));               \
    part[q] = _mm256_setzero_si256();                                                                  \
  }
#define PLANE_TOTAL(a, REV) _mm256_add_epi32(_mm256_add_epi32((a)[0], (a)[1]), _mm256_add_epi32((a)[2], (a)[3]))
#endif

#define DEFINE_GEMV(NAME, REV)                                                                                    \
  static void NAME(const uint8_t *row, const int8_t *x, int64_t nch, int64_t stride, int per_row, int32_t *raw) { \
    __m256i acc[4], part[4];                                                                                   \
    for (int q = 0; q < 4; q++) acc[q] = part[q] = _mm256_setzero_si256();                                     \
    (void)part;                                                                                                \
    for (int64_t c = 0; c < nch; c++) {                                                                        \
      for (int h = 0; h < 2; h++) {                                                                            \
        __m256i b = _mm256_loadu_si256((const __m256i *)(row + c * stride + 32 * h));                          \
        for (int q = 0; q < 4; q++) {                                                                          \
          __m256i xv = _mm256_loadu_si256((const __m256i *)(x + c * BN_CHUNK + 128 * h + 32 * q));             \
          PLANE_ACC(acc, b, q, xv, REV);                                                                       \
        }                                                                                                      \
      }                                                                                                        \
      PLANE_END(acc);                                                                                          \
      if (!per_row) {                                                                                          \
        raw[c] = hsum(PLANE_TOTAL(acc, REV));                                                                  \
        for (int q = 0; q < 4; q++) acc[q] = _mm256_setzero_si256();                                           \
      }                                                                                                        \
    }                                                                                                          \
    if (per_row) raw[0] = hsum(PLANE_TOTAL(acc, REV));                                                         \
  }

/* Raw dots of MR rows × MT tokens of TQ1_0, each block decoded once per row (in registers for one token). */
#define DEFINE_TQ1_TILE(NAME, MR, MT)                                                                                   \
  static void NAME(const uint8_t *const *rows, const int8_t *const *xs, int64_t nch, int per_row, int nr, int nt,    \
                   int64_t nd, int32_t *raw) {                                                                        \
    BN_ALIGN(32) __m256i codes[MR][8];                                                                                \
    dotacc a[MR][MT];                                                                                                 \
    TILE_ZERO(a, MR, MT);                                                                                             \
    for (int64_t c = 0; c < nch; c++) {                                                                               \
      for (int i = 0; i < MR; i++) tq1_decode(rows[i] + c * BN_TQ1_BYTES, codes[i]);                                  \
      for (int v = 0; v < 8; v++)                                                                                     \
        for (int j = 0; j < MT; j++) {                                                                                \
          __m256i x = _mm256_loadu_si256((const __m256i *)(xs[j] + c * BN_CHUNK + 32 * v));                           \
          for (int i = 0; i < MR; i++) acc_step(&a[i][j], codes[i][v], x);                                            \
        }                                                                                                             \
      TILE_CHUNK_END(a, MR, MT, nr, nt, nd, c, per_row, raw);                                                         \
    }                                                                                                                 \
    TILE_ROW_END(a, nr, nt, nd, per_row, raw);                                                                        \
  }

#define TERNARY_ROWS SFX(bn_ternary_rows)
#include "ternary_driver.h"
