/*
 * Causal GQA attention for one work item, in float32 vectors of 16 lanes (GCC/clang vector extensions,
 * which each ISA's translation unit lowers to its own registers: the arithmetic, and so every bit of the
 * result, is the same for all ISAs). Included by attention_<isa>.c with BN_ATTENTION_ITEM defined.
 *
 * A work item is query heads h0..h0+nh−1 of token t, all reading KV head g, over keys 0..pos0+t: the
 * queries of an item share every key and value row they load. Each query's arithmetic is its own and
 * the same whatever the item holds, so a position's result does not depend on how many tokens the call
 * has, nor on how the pool cut the work (the tests check chunked prefills against one call).
 *
 * Per query, against src/kernels/attention.ts (float64 dots, sequential float32 ·V sums):
 * - scores: float32 dot (16 lanes, then a fixed tree), times f32(1/√hd) in float32, as the reference rounds;
 * - softmax: e = f32(exp(s − max)) with a float64 exp within ~1 ulp, Σe in float64 (8 lanes), weights
 *   f32(e · (1/Σe)) as the reference;
 * - out = Σ_p w_p·v_p in float32, in key order (a product and a sum per key).
 * So |o − o_ref| ≤ (2Δs + 2^-19 + (len + 64)·2^-23)·Σ_p w_p·|v_p| (the bound stated for the wasm kernel,
 * src/kernels/wasm/forward-ops.ts, with Δs from the float32 dot), far inside it in practice.
 */
#include <math.h>

#include "bn_math.h"

#if defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#endif

typedef float bn_v16 __attribute__((vector_size(64)));
typedef double bn_v8d __attribute__((vector_size(64)));

static inline bn_v16 v16_load(const float *p) {
  bn_v16 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline void v16_store(float *p, bn_v16 v) { memcpy(p, &v, sizeof v); }

static inline float v16_sum(bn_v16 a) {
  float s8[8], s4[4];
  for (int i = 0; i < 8; i++) s8[i] = a[i] + a[i + 8];
  for (int i = 0; i < 4; i++) s4[i] = s8[i] + s8[i + 4];
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

/* float32 dot of hd values: lanes of 16, the tail in the first lanes, then a fixed tree. */
static inline float dot_hd(const float *a, const float *b, int64_t hd) {
  bn_v16 acc = {0};
  int64_t i = 0;
  for (; i + 16 <= hd; i += 16) acc = acc + v16_load(a + i) * v16_load(b + i);
  for (int l = 0; i + l < hd; l++) acc[l] = acc[l] + a[i + l] * b[i + l];
  return v16_sum(acc);
}

/* hd f16 values → float32 (exact). */
static inline void widen_row(const uint16_t *src, float *dst, int64_t hd) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= hd; i += 16) _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
#elif defined(__F16C__)
  for (; i + 8 <= hd; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
#endif
  for (; i < hd; i++) dst[i] = bn_half_to_float(src[i]);
}

void BN_ATTENTION_ITEM(const bn_attn *a, int64_t t, int64_t g, int64_t h0, int64_t nh, float *scratch) {
  const int64_t hd = a->hd, len = a->pos0 + t + 1;
  const int64_t stride = a->HKV * hd, dim = a->H * hd;
  const int64_t sstride = (len + 15) & ~(int64_t)15;
  const float scale = (float)(1.0 / sqrt((double)hd));
  float *S = scratch;                  /* [nh][sstride] scores, then weights */
  float *row = scratch + nh * sstride; /* one widened key or value row */
  const float *q = a->q + t * dim + h0 * hd;
  float *out = a->out + t * dim + h0 * hd;

  for (int64_t p = 0; p < len; p++) {
    const float *k;
    if (a->half) {
      widen_row((const uint16_t *)a->keys + p * stride + g * hd, row, hd);
      k = row;
    } else {
      k = (const float *)a->keys + p * stride + g * hd;
    }
    for (int64_t i = 0; i < nh; i++) S[i * sstride + p] = dot_hd(q + i * hd, k, hd) * scale;
  }

  for (int64_t i = 0; i < nh; i++) {
    float *s = S + i * sstride;
    float max = -INFINITY;
    for (int64_t p = 0; p < len; p++)
      if (s[p] > max) max = s[p]; /* NaN scores are skipped, as in the reference */
    bn_v8d lanes = {0};
    int64_t p = 0;
    for (; p + 8 <= len; p += 8) {
      bn_v8d e = {0};
      for (int l = 0; l < 8; l++) {
        float v = (float)bn_exp((double)s[p + l] - (double)max);
        s[p + l] = v;
        e[l] = v;
      }
      lanes = lanes + e;
    }
    for (int l = 0; p < len; p++, l++) {
      float v = (float)bn_exp((double)s[p] - (double)max);
      s[p] = v;
      lanes[l] = lanes[l] + v;
    }
    double sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    double inv = 1.0 / sum;
    for (p = 0; p < len; p++) s[p] = (float)((double)s[p] * inv);
  }

  for (int64_t i = 0; i < nh; i++) memset(out + i * hd, 0, (size_t)hd * sizeof(float));
  for (int64_t p = 0; p < len; p++) {
    const float *v;
    if (a->half) {
      widen_row((const uint16_t *)a->values + p * stride + g * hd, row, hd);
      v = row;
    } else {
      v = (const float *)a->values + p * stride + g * hd;
    }
    for (int64_t i = 0; i < nh; i++) {
      float *o = out + i * hd;
      const float w = S[i * sstride + p];
      const bn_v16 wv = {w, w, w, w, w, w, w, w, w, w, w, w, w, w, w, w};
      int64_t j = 0;
      for (; j + 16 <= hd; j += 16) v16_store(o + j, v16_load(o + j) + wv * v16_load(v + j));
      for (; j < hd; j++) o[j] = o[j] + w * v[j];
    }
  }
}
