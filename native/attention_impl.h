/*
 * Causal GQA attention for one work item, in float32 vectors of 16 lanes (GCC/clang vector extensions,
 * which each ISA's translation unit lowers to its own registers; multiply-adds are fused where the ISA
 * has FMA). Included by attention_<isa>.c with BN_ATTENTION_ITEM defined.
 *
 * A work item is query heads h0..h0+nh−1 of token t, all reading KV head g, over keys 0..pos0+t, in
 * blocks of BLOCK keys: an F16 block is widened once into scratch and serves every query of the item
 * (first for the scores, then for the values). Each query's arithmetic is its own and the same whatever
 * the item holds, so a position's result does not depend on how many tokens the call has, nor on how
 * the pool cut the work (the tests check chunked prefills against one call).
 *
 * Per query, against src/kernels/attention.ts (float64 dots, sequential float32 ·V sums):
 * - scores: float32 dot (16 lanes, then a fixed tree, sixteen keys at a time), times f32(1/√hd) in
 *   float32, as the reference rounds;
 * - softmax: e = f32(exp(s − max)) with a float64 exp within ~1 ulp, Σe in float64 (8 lanes), weights
 *   f32(e · (1/Σe)) as the reference;
 * - out = Σ_p w_p·v_p in float32, key after key (in registers for head sizes 64 and 128).
 * So |o − o_ref| ≤ (2Δs + 2^-19 + (len + 64)·2^-23)·Σ_p w_p·|v_p| (the bound stated for the wasm kernel,
 * src/kernels/wasm/forward-ops.ts, with Δs from the float32 dot), far inside it in practice.
 */
#include <math.h>

#include "bn_math.h"

#if defined(__AVX512F__) || defined(__F16C__) || defined(__FMA__)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

typedef float bn_v16 __attribute__((vector_size(64)));
typedef double bn_v8d __attribute__((vector_size(64)));

/* Keys a block (a multiple of 16: scores() takes sixteen at a time from the block's start, so a key's
 * score is computed the same way whatever the number of keys): 32 widened rows of 128 floats are
 * 16 KiB, at home in L1 next to the scores. */
#define BLOCK 32

static inline bn_v16 v16_load(const float *p) {
  bn_v16 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline void v16_store(float *p, bn_v16 v) { memcpy(p, &v, sizeof v); }

/* acc + a·b, fused where the ISA has it. */
static inline bn_v16 madd(bn_v16 acc, bn_v16 a, bn_v16 b) {
#if defined(__AVX512F__)
  return (bn_v16)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)acc);
#elif defined(__FMA__)
  __m256 a0, a1, b0, b1, c0, c1;
  memcpy(&a0, &a, 32), memcpy(&a1, (const char *)&a + 32, 32);
  memcpy(&b0, &b, 32), memcpy(&b1, (const char *)&b + 32, 32);
  memcpy(&c0, &acc, 32), memcpy(&c1, (const char *)&acc + 32, 32);
  c0 = _mm256_fmadd_ps(a0, b0, c0), c1 = _mm256_fmadd_ps(a1, b1, c1);
  memcpy(&acc, &c0, 32), memcpy((char *)&acc + 32, &c1, 32);
  return acc;
#elif defined(__aarch64__)
  float32x4_t r[4];
  for (int i = 0; i < 4; i++) {
    float32x4_t x, y, z;
    memcpy(&x, (const char *)&acc + 16 * i, 16), memcpy(&y, (const char *)&a + 16 * i, 16), memcpy(&z, (const char *)&b + 16 * i, 16);
    r[i] = vfmaq_f32(x, y, z);
  }
  memcpy(&acc, r, 64);
  return acc;
#else
  return acc + a * b;
#endif
}

/* Σ lanes: (i, i+8), then (i, i+4), then (0+2) + (1+3). */
static inline float v16_sum(bn_v16 a) {
  typedef float v8 __attribute__((vector_size(32)));
  typedef float v4 __attribute__((vector_size(16)));
  v8 lo8, hi8;
  memcpy(&lo8, &a, 32), memcpy(&hi8, (const char *)&a + 32, 32);
  v8 s8 = lo8 + hi8;
  v4 lo4, hi4;
  memcpy(&lo4, &s8, 16), memcpy(&hi4, (const char *)&s8 + 16, 16);
  v4 s4 = lo4 + hi4;
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

/* The last hd mod 16 values at p, zero-padded to 16. */
static inline bn_v16 v16_tail(const float *p, int64_t n) {
  float f[16] = {0};
  memcpy(f, p, (size_t)n * sizeof(float));
  return v16_load(f);
}

/* The lanes of a dot over hd values: a multiply-add per 16 values (the last step zero-padded). */
static inline bn_v16 dot_lanes(const float *a, const float *b, int64_t hd) {
  bn_v16 acc = {0};
  int64_t i = 0;
  for (; i + 16 <= hd; i += 16) acc = madd(acc, v16_load(a + i), v16_load(b + i));
  if (i < hd) acc = madd(acc, v16_tail(a + i, hd - i), v16_tail(b + i, hd - i));
  return acc;
}

/*
 * Sixteen dots' lanes → their sums, lane k = v16_sum(d[k]) exactly (the same pairs added in the same
 * order, four keys' partial sums per vector), at three operations a key instead of a dozen.
 */
#if defined(__clang__)
#define SHUF(a, b, ...) __builtin_shufflevector((a), (b), __VA_ARGS__)
#else
typedef int32_t bn_v16i __attribute__((vector_size(64)));
#define SHUF(a, b, ...) __builtin_shuffle((a), (b), (bn_v16i){__VA_ARGS__})
#endif
static inline bn_v16 sum16(const bn_v16 d[16]) {
  bn_v16 c[8], e[4], g[2];
  for (int k = 0; k < 8; k++) /* two keys a vector: a[i] + a[i+8] */
    c[k] = SHUF(d[2 * k], d[2 * k + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
           SHUF(d[2 * k], d[2 * k + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  for (int k = 0; k < 4; k++) /* four keys: s8[i] + s8[i+4] */
    e[k] = SHUF(c[2 * k], c[2 * k + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
           SHUF(c[2 * k], c[2 * k + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  for (int k = 0; k < 2; k++) /* eight keys: s4[0] + s4[2], s4[1] + s4[3] */
    g[k] = SHUF(e[2 * k], e[2 * k + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
           SHUF(e[2 * k], e[2 * k + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
  return SHUF(g[0], g[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
         SHUF(g[0], g[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

/* s[p] = f32(q·k_p)·scale for keys p < n (rows of hd, rs floats apart): sixteen at a time, then one by one. */
static void scores(float *s, const float *q, const float *k, int64_t rs, int64_t n, int64_t hd, float scale) {
  const bn_v16 sc = {scale, scale, scale, scale, scale, scale, scale, scale, scale, scale, scale, scale, scale, scale, scale, scale};
  int64_t p = 0;
  for (; p + 16 <= n; p += 16) {
    bn_v16 d[16];
    for (int j = 0; j < 16; j++) d[j] = (bn_v16){0};
    int64_t i = 0;
    for (; i + 16 <= hd; i += 16) {
      const bn_v16 qv = v16_load(q + i);
      for (int j = 0; j < 16; j++) d[j] = madd(d[j], qv, v16_load(k + (p + j) * rs + i));
    }
    if (i < hd) {
      const bn_v16 qv = v16_tail(q + i, hd - i);
      for (int j = 0; j < 16; j++) d[j] = madd(d[j], qv, v16_tail(k + (p + j) * rs + i, hd - i));
    }
    v16_store(s + p, sum16(d) * sc);
  }
  for (; p < n; p++) s[p] = v16_sum(dot_lanes(q, k + p * rs, hd)) * scale;
}

/* n rows of hd f16 values (row stride `stride` values) → float32 rows of hd at dst (exact). */
static inline void widen_rows(const uint16_t *src, int64_t stride, int64_t n, int64_t hd, float *dst) {
  for (int64_t p = 0; p < n; p++) {
    const uint16_t *s = src + p * stride;
    float *d = dst + p * hd;
    int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= hd; i += 16) _mm512_storeu_ps(d + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + i))));
#elif defined(__F16C__)
    for (; i + 8 <= hd; i += 8) _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
#elif defined(__aarch64__)
    for (; i + 4 <= hd; i += 4) vst1q_f32(d + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(s + i))));
#endif
    for (; i < hd; i++) d[i] = bn_half_to_float(s[i]);
  }
}

/* o[0..hd) += Σ_{p < n} w[p]·v_p (rows at v, vs floats apart), key after key; NV = hd/16 vectors in registers. */
#define DEFINE_WEIGHTED(NAME, NV)                                                                         \
  static void NAME(float *o, const float *w, const float *v, int64_t vs, int64_t n, int64_t hd) {       \
    (void)hd;                                                                                           \
    bn_v16 acc[NV];                                                                                     \
    for (int j = 0; j < NV; j++) acc[j] = v16_load(o + 16 * j);                                         \
    for (int64_t p = 0; p < n; p++) {                                                                   \
      const bn_v16 wv = {w[p], w[p], w[p], w[p], w[p], w[p], w[p], w[p],                                \
                         w[p], w[p], w[p], w[p], w[p], w[p], w[p], w[p]};                               \
      for (int j = 0; j < NV; j++) acc[j] = madd(acc[j], wv, v16_load(v + p * vs + 16 * j));            \
    }                                                                                                   \
    for (int j = 0; j < NV; j++) v16_store(o + 16 * j, acc[j]);                                         \
  }

DEFINE_WEIGHTED(weighted4, 4)
DEFINE_WEIGHTED(weighted8, 8)

/* The same for any head size, through memory (and lane by lane past the last whole vector). */
static void weighted_any(float *o, const float *w, const float *v, int64_t vs, int64_t n, int64_t hd) {
  for (int64_t p = 0; p < n; p++) {
    const float wp = w[p];
    const bn_v16 wv = {wp, wp, wp, wp, wp, wp, wp, wp, wp, wp, wp, wp, wp, wp, wp, wp};
    int64_t j = 0;
    for (; j + 16 <= hd; j += 16) v16_store(o + j, madd(v16_load(o + j), wv, v16_load(v + p * vs + j)));
    for (; j < hd; j++) o[j] = o[j] + wp * v[p * vs + j];
  }
}

/* Rows of keys or values p0..p0+n−1 of KV head g as float32 rows of hd: in place (F32, row stride
 * `stride`) or widened into buf (F16, row stride hd). Returns the rows and their stride. */
static inline const float *rows_at(const bn_attn *a, const void *cache, int64_t g, int64_t p0, int64_t n, float *buf, int64_t *rstride) {
  const int64_t stride = a->HKV * a->hd;
  if (!a->half) {
    *rstride = stride;
    return (const float *)cache + p0 * stride + g * a->hd;
  }
  widen_rows((const uint16_t *)cache + p0 * stride + g * a->hd, stride, n, a->hd, buf);
  *rstride = a->hd;
  return buf;
}

void BN_ATTENTION_ITEM(const bn_attn *a, int64_t t, int64_t g, int64_t h0, int64_t nh, float *scratch) {
  const int64_t hd = a->hd, len = a->pos0 + t + 1, dim = a->H * hd;
  const int64_t sstride = (len + 15) & ~(int64_t)15;
  const float scale = (float)(1.0 / sqrt((double)hd));
  float *S = scratch;                  /* [nh][sstride] scores, then weights */
  float *buf = scratch + nh * sstride; /* BLOCK widened rows */
  const float *q = a->q + t * dim + h0 * hd;
  float *out = a->out + t * dim + h0 * hd;

  for (int64_t p0 = 0; p0 < len; p0 += BLOCK) {
    const int64_t n = len - p0 < BLOCK ? len - p0 : BLOCK;
    int64_t rs;
    const float *k = rows_at(a, a->keys, g, p0, n, buf, &rs);
    for (int64_t i = 0; i < nh; i++) scores(S + i * sstride + p0, q + i * hd, k, rs, n, hd, scale);
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
  for (int64_t p0 = 0; p0 < len; p0 += BLOCK) {
    const int64_t n = len - p0 < BLOCK ? len - p0 : BLOCK;
    int64_t rs;
    const float *v = rows_at(a, a->values, g, p0, n, buf, &rs);
    for (int64_t i = 0; i < nh; i++) {
      const float *w = S + i * sstride + p0;
      if (hd == 128) weighted8(out + i * hd, w, v, rs, n, hd);
      else if (hd == 64) weighted4(out + i * hd, w, v, rs, n, hd);
      else weighted_any(out + i * hd, w, v, rs, n, hd);
    }
  }
}
