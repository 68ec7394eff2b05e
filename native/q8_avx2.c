/*
 * SIMD Q8_0 matmul, bit-identical to q8-ref.ts: compiled as the AVX2 set's (vpmaddubsw), the AVX-VNNI
 * set's (q8_avxvnni.c: vpdpbusd on 256 bits) and the AVX-512 set's (q8_avx512.c: EVEX vpdpbusd).
 *
 * One row at a time (rows are contiguous: one stream for the prefetchers), four blocks per step, one
 * block per float lane: the reference adds block b to accumulator b mod 4, so lane j of one 4-lane
 * vector is accumulator j, and f32(l0 + l2) + f32(l1 + l3) closes the row as the reference does.
 * - each block's integer dot is exact: |w| (unsigned, so a -128 weight is 128) times x with w's sign
 *   (never overflowing: |x| ≤ 127), the four blocks' dots summed into one vector by horizontal adds;
 * - d_w of the four blocks widened from f16, times d_x, times the dot, added to the lanes.
 * A last step of fewer than four blocks adds exact zeros to the missing lanes.
 */
#include <immintrin.h>

#include "bitnet.h"

#if defined(BN_Q8_AVX512)
#define SFX(name) name##_avx512vnni
#define DOT(a, b) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (a), (b))
#elif defined(BN_AVXVNNI)
#define SFX(name) name##_avxvnni
#define DOT(a, b) _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), (a), (b))
#else
#define SFX(name) name##_avx2
#define DOT(a, b) _mm256_madd_epi16(_mm256_maddubs_epi16((a), (b)), _mm256_set1_epi16(1))
#endif

/* [Σ d0, Σ d1, Σ d2, Σ d3]: lane i holds the sum of d_i's eight lanes. */
static inline __m128i sum4(__m256i d0, __m256i d1, __m256i d2, __m256i d3) {
  __m256i u = _mm256_hadd_epi32(_mm256_hadd_epi32(d0, d1), _mm256_hadd_epi32(d2, d3));
  return _mm_add_epi32(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1));
}

static inline uint16_t scale_bits(const uint8_t *blk) { return (uint16_t)(blk[0] | blk[1] << 8); }

/* The dot of one 32-value block (0 past the row's end). */
static inline __m256i block_dot(const uint8_t *blk, const int8_t *x) {
  __m256i w = _mm256_loadu_si256((const __m256i *)(blk + 2)), xv = _mm256_loadu_si256((const __m256i *)x);
  return DOT(_mm256_abs_epi8(w), _mm256_sign_epi8(xv, w));
}

void SFX(bn_q8_rows)(const bn_q8mat *m, int64_t r0, int64_t r1) {
  const int64_t K = m->K, nb = K / 32, nb4 = nb & ~(int64_t)3, row_bytes = nb * BN_Q8_BYTES;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *row = m->data + r * row_bytes;
    for (int64_t t = 0; t < m->T; t++) {
      const int8_t *xq = m->xq + t * K;
      const float *xs = m->xs + t * nb;
      __m128 lanes = _mm_setzero_ps();
      for (int64_t b = 0; b < nb4; b += 4) {
        const uint8_t *blk = row + b * BN_Q8_BYTES;
        __m128i dots = sum4(block_dot(blk, xq + b * 32), block_dot(blk + BN_Q8_BYTES, xq + b * 32 + 32),
                            block_dot(blk + 2 * BN_Q8_BYTES, xq + b * 32 + 64), block_dot(blk + 3 * BN_Q8_BYTES, xq + b * 32 + 96));
        __m128i h = _mm_setr_epi16((short)scale_bits(blk), (short)scale_bits(blk + BN_Q8_BYTES), (short)scale_bits(blk + 2 * BN_Q8_BYTES),
                                   (short)scale_bits(blk + 3 * BN_Q8_BYTES), 0, 0, 0, 0);
        __m128 s = _mm_mul_ps(_mm_cvtph_ps(h), _mm_loadu_ps(xs + b));
        lanes = _mm_add_ps(lanes, _mm_mul_ps(_mm_cvtepi32_ps(dots), s));
      }
      if (nb4 < nb) {
        BN_ALIGN(16) int32_t d[4] = {0, 0, 0, 0};
        BN_ALIGN(16) float s[4] = {0, 0, 0, 0};
        for (int64_t b = nb4; b < nb; b++) {
          const uint8_t *blk = row + b * BN_Q8_BYTES;
          __m128i one = sum4(block_dot(blk, xq + b * 32), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256());
          d[b - nb4] = _mm_cvtsi128_si32(one);
          s[b - nb4] = bn_f16_to_f32(scale_bits(blk)) * xs[b];
        }
        lanes = _mm_add_ps(lanes, _mm_mul_ps(_mm_cvtepi32_ps(_mm_load_si128((const __m128i *)d)), _mm_load_ps(s)));
      }
      BN_ALIGN(16) float l[4];
      _mm_store_ps(l, lanes);
      m->out[t * m->N + r] = bn_out_scale(bn_q8_finish(l), m->out_scale);
    }
  }
}
