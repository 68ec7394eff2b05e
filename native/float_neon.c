/*
 * arm64 NEON float matmul (f32, f16 widened by fcvtl, bf16 by a shift), for both arm64 kernel sets.
 *
 * Every (row, token) dot is one fixed sequence: two 4-lane accumulators (lane l sums k ≡ l mod 8), one
 * fused multiply-add per 8 values in k order, the last partial step over zero-padded copies, then a
 * fixed tree. GEMV tiles (4 rows) and GEMM tiles (2 rows × 4 tokens) only share loads, so a token's
 * result does not depend on the other tokens of the call. Error: at most (K/8 + 4)·2⁻²⁴·Σ|w·x|.
 */
#include <arm_neon.h>

#include "bitnet.h"

#define GEMV_R 4
#define GEMM_R 2
#define GEMM_T 4

typedef struct {
  float32x4_t lo, hi;
} f8;

static inline f8 load_w(int format, const void *w, int64_t k) {
  f8 v;
  if (format == BN_F32) {
    v.lo = vld1q_f32((const float *)w + k);
    v.hi = vld1q_f32((const float *)w + k + 4);
  } else if (format == BN_F16) {
    float16x8_t h = vld1q_f16((const __fp16 *)((const uint16_t *)w + k));
    v.lo = vcvt_f32_f16(vget_low_f16(h));
    v.hi = vcvt_high_f32_f16(h);
  } else {
    uint16x8_t b = vld1q_u16((const uint16_t *)w + k);
    v.lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(b), 16));
    v.hi = vreinterpretq_f32_u32(vshll_high_n_u16(b, 16));
  }
  return v;
}

static inline f8 load_w_tail(int format, const void *w, int64_t k, int64_t n) {
  uint16_t h[8] = {0};
  float f[8] = {0};
  if (format == BN_F32) {
    memcpy(f, (const float *)w + k, (size_t)n * 4);
    return load_w(format, f, 0);
  }
  memcpy(h, (const uint16_t *)w + k, (size_t)n * 2);
  return load_w(format, h, 0);
}

static inline f8 load_x(const float *x, int64_t k) {
  f8 v = {vld1q_f32(x + k), vld1q_f32(x + k + 4)};
  return v;
}

static inline f8 load_x_tail(const float *x, int64_t k, int64_t n) {
  float f[8] = {0};
  memcpy(f, x + k, (size_t)n * 4);
  return load_x(f, 0);
}

static inline float hsum(f8 a) {
  float32x4_t s = vaddq_f32(a.lo, a.hi); /* lanes l and l+4 */
  float32x2_t p = vadd_f32(vget_low_f32(s), vget_high_f32(s));
  return vget_lane_f32(p, 0) + vget_lane_f32(p, 1);
}

#define DEFINE_TILE(NAME, MR, MT)                                                                               \
  static void NAME(const bn_fmat *m, const void *const *rows, const float *const *xs, int nr, int nt,        \
                   float *res) {                                                                             \
    const int64_t K = m->K, K8 = K & ~(int64_t)7;                                                             \
    f8 acc[MR][MT];                                                                                          \
    for (int i = 0; i < MR; i++)                                                                             \
      for (int j = 0; j < MT; j++) acc[i][j].lo = acc[i][j].hi = vdupq_n_f32(0);                             \
    for (int64_t k = 0; k <= K8; k += 8) {                                                                   \
      if (k == K8 && k == K) break;                                                                          \
      f8 w[MR];                                                                                              \
      for (int i = 0; i < MR; i++) w[i] = k < K8 ? load_w(m->format, rows[i], k) : load_w_tail(m->format, rows[i], k, K - k); \
      for (int j = 0; j < MT; j++) {                                                                         \
        f8 x = k < K8 ? load_x(xs[j], k) : load_x_tail(xs[j], k, K - k);                                     \
        for (int i = 0; i < MR; i++) {                                                                       \
          acc[i][j].lo = vfmaq_f32(acc[i][j].lo, w[i].lo, x.lo);                                             \
          acc[i][j].hi = vfmaq_f32(acc[i][j].hi, w[i].hi, x.hi);                                             \
        }                                                                                                    \
      }                                                                                                      \
    }                                                                                                        \
    for (int i = 0; i < nr; i++)                                                                             \
      for (int j = 0; j < nt; j++) res[i * nt + j] = hsum(acc[i][j]);                                        \
  }

DEFINE_TILE(gemv_tile, GEMV_R, 1)
DEFINE_TILE(gemm_tile, GEMM_R, GEMM_T)

static inline void float_tile(const bn_fmat *m, int gemv, const void *const *rows, const float *const *xs, int nr, int nt, float *res) {
  if (gemv) gemv_tile(m, rows, xs, nr, nt, res);
  else gemm_tile(m, rows, xs, nr, nt, res);
}

#define TILE float_tile
#define FLOAT_ROWS bn_float_rows_neon
#include "float_driver.h"
