/*
 * SIMD Q8_0 matmul, bit-identical to q8-ref.ts: compiled as the AVX2 set's (vpmaddubsw), the AVX-VNNI
 * set's (q8_avxvnni.c: vpdpbusd on 256 bits) and the AVX-512 set's (q8_avx512.c: EVEX vpdpbusd).
 *
 * Eight rows at a time, one row per float lane, so the float order of the reference (per row:
 * lanes[b mod 4] += f32(dot_b · f32(d_w · d_x)), then (l0 + l2) + (l1 + l3)) is the lanes' own order:
 * - each block's integer dot is exact: |w| (unsigned, so a -128 weight is 128) times x with w's sign
 *   (never overflowing: |x| ≤ 127), eight rows' dots summed into one vector by horizontal adds;
 * - d_w of the eight rows widened from f16, times d_x, times the dot, added to accumulator b mod 4.
 * Rows past the end of a range repeat the last row; their results are dropped.
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

/* [Σ d0, …, Σ d7]: lane i holds the sum of d_i's eight lanes. */
static inline __m256i sum8(const __m256i d[8]) {
  __m256i t0 = _mm256_hadd_epi32(d[0], d[1]), t1 = _mm256_hadd_epi32(d[2], d[3]);
  __m256i t2 = _mm256_hadd_epi32(d[4], d[5]), t3 = _mm256_hadd_epi32(d[6], d[7]);
  __m256i u0 = _mm256_hadd_epi32(t0, t1), u1 = _mm256_hadd_epi32(t2, t3);
  return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}

static inline uint16_t scale_bits(const uint8_t *blk) { return (uint16_t)(blk[0] | blk[1] << 8); }

void SFX(bn_q8_rows)(const bn_q8mat *m, int64_t r0, int64_t r1) {
  const int64_t K = m->K, nb = K / 32, row_bytes = nb * BN_Q8_BYTES;
  for (int64_t r = r0; r < r1; r += 8) {
    int nr = (int)(r1 - r < 8 ? r1 - r : 8);
    const uint8_t *rows[8];
    for (int i = 0; i < 8; i++) rows[i] = m->data + (r + (i < nr ? i : nr - 1)) * row_bytes;
    for (int64_t t = 0; t < m->T; t++) {
      const int8_t *xq = m->xq + t * K;
      const float *xs = m->xs + t * nb;
      __m256 lanes[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
      for (int64_t b = 0; b < nb; b++) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
        __m256i d[8];
        for (int i = 0; i < 8; i++) {
          const uint8_t *blk = rows[i] + b * BN_Q8_BYTES;
          __m256i w = _mm256_loadu_si256((const __m256i *)(blk + 2));
          d[i] = DOT(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
        }
        __m256 dots = _mm256_cvtepi32_ps(sum8(d));
        __m128i h = _mm_setr_epi16((short)scale_bits(rows[0] + b * BN_Q8_BYTES), (short)scale_bits(rows[1] + b * BN_Q8_BYTES),
                                   (short)scale_bits(rows[2] + b * BN_Q8_BYTES), (short)scale_bits(rows[3] + b * BN_Q8_BYTES),
                                   (short)scale_bits(rows[4] + b * BN_Q8_BYTES), (short)scale_bits(rows[5] + b * BN_Q8_BYTES),
                                   (short)scale_bits(rows[6] + b * BN_Q8_BYTES), (short)scale_bits(rows[7] + b * BN_Q8_BYTES));
        __m256 s = _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_set1_ps(xs[b]));
        lanes[b & 3] = _mm256_add_ps(lanes[b & 3], _mm256_mul_ps(dots, s));
      }
      BN_ALIGN(32) float y[8];
      _mm256_store_ps(y, _mm256_add_ps(_mm256_add_ps(lanes[0], lanes[2]), _mm256_add_ps(lanes[1], lanes[3])));
      for (int i = 0; i < nr; i++) m->out[t * m->N + r + i] = bn_out_scale(y[i], m->out_scale);
    }
  }
}
