/*
 * TQ1_0 block decoding with AVX2 instructions (used by the AVX2, AVX-VNNI and AVX-512 kernel sets):
 * the 256 codes w+1 of a block, in value order. A byte holds ⌈t·256/243⌉ for five trits t; trit n is
 * the top "digit" of byte·3^n mod 256, so q·3 mod 256 steps to the next trit by two byte additions, and
 * the code is (q·3) >> 8 = [q ≥ 86] + [q ≥ 171] (ternary-ref.ts's trit(), unsigned).
 */
#ifndef BITNET_TQ1_AVX2_H
#define BITNET_TQ1_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "bitnet.h"

/* The 256 codes of a TQ1_0 block, in value order. */
static inline __m256i tq1_codes(__m256i q) {
  /* code = [q ≥ 86] + [q ≥ 171] (unsigned); a compare mask is 0 or -1, so the sum is −code */
  __m256i ge1 = _mm256_cmpeq_epi8(_mm256_max_epu8(q, _mm256_set1_epi8(86)), q);
  __m256i ge2 = _mm256_cmpeq_epi8(_mm256_max_epu8(q, _mm256_set1_epi8((char)171)), q);
  return _mm256_sub_epi8(_mm256_setzero_si256(), _mm256_add_epi8(ge1, ge2));
}

static inline __m128i tq1_codes128(__m128i q) {
  __m128i ge1 = _mm_cmpeq_epi8(_mm_max_epu8(q, _mm_set1_epi8(86)), q);
  __m128i ge2 = _mm_cmpeq_epi8(_mm_max_epu8(q, _mm_set1_epi8((char)171)), q);
  return _mm_sub_epi8(_mm_setzero_si128(), _mm_add_epi8(ge1, ge2));
}

static inline __m256i times3(__m256i q) { return _mm256_add_epi8(q, _mm256_add_epi8(q, q)); }
static inline __m128i times3_128(__m128i q) { return _mm_add_epi8(q, _mm_add_epi8(q, q)); }

/*
 * The 256 codes of one block as eight 32-byte vectors in value order: values [32v, 32v+32) in out[v].
 * Kept in registers by callers that use them at once; callers that store them for reuse store and load
 * whole 32-byte vectors, so loads are forwarded from the stores.
 */
static inline void tq1_decode(const uint8_t *blk, __m256i out[8]) {
  __m256i q = _mm256_loadu_si256((const __m256i *)blk);
  for (int n = 0; n < 5; n++, q = times3(q)) out[n] = tq1_codes(q);
  __m128i r = _mm_loadu_si128((const __m128i *)(blk + 32)), c[5];
  for (int n = 0; n < 5; n++, r = times3_128(r)) c[n] = tq1_codes128(r);
  /* qh: 4 bytes, trit n of byte j is value 240 + 4n + j: byte j times 3^n, as 16-bit products */
  uint32_t qh;
  memcpy(&qh, blk + 48, 4);
  __m128i rep = _mm_set1_epi32((int)qh);
  __m128i lo = _mm_mullo_epi16(_mm_cvtepu8_epi16(rep), _mm_setr_epi16(1, 1, 1, 1, 3, 3, 3, 3));
  __m128i hi = _mm_mullo_epi16(_mm_cvtepu8_epi16(rep), _mm_setr_epi16(9, 9, 9, 9, 27, 27, 27, 27));
  __m128i m = _mm_set1_epi16(0xff);
  __m128i h = tq1_codes128(_mm_packus_epi16(_mm_and_si128(lo, m), _mm_and_si128(hi, m)));
  out[5] = _mm256_set_m128i(c[1], c[0]); /* values 160..191 */
  out[6] = _mm256_set_m128i(c[3], c[2]); /* 192..223 */
  out[7] = _mm256_set_m128i(h, c[4]);    /* 224..255 */
}

#endif
