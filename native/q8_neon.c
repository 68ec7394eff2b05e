/*
 * arm64 NEON Q8_0 matmul, bit-identical to q8-ref.ts (and q8_neondot.c: the same with sdot). Four rows
 * at a time, one row per float lane, so the reference's float order (lanes[b mod 4] += f32(dot_b ·
 * f32(d_w · d_x)), then (l0 + l2) + (l1 + l3)) is each lane's own; block dots are exact (signed × signed
 * bytes: sdot, or 16-bit products summed pairwise into 32 bits). See q8_avx2.c.
 */
#include <arm_neon.h>

#include "bitnet.h"

#if defined(BN_NEONDOT)
#define SFX(name) name##_neondot
#else
#define SFX(name) name##_neon
#endif

/* Σ w·x over 32 bytes, in four 32-bit lanes. */
static inline int32x4_t dot32(const int8_t *w, const int8_t *x) {
  int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
#if defined(BN_NEONDOT)
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
#else
  int32x4_t a = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
  a = vpadalq_s16(a, vmull_high_s8(w0, x0));
  a = vpadalq_s16(a, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
  return vpadalq_s16(a, vmull_high_s8(w1, x1));
#endif
}

void SFX(bn_q8_rows)(const bn_q8mat *m, int64_t r0, int64_t r1) {
  const int64_t K = m->K, nb = K / 32, row_bytes = nb * BN_Q8_BYTES;
  for (int64_t r = r0; r < r1; r += 4) {
    int nr = (int)(r1 - r < 4 ? r1 - r : 4);
    const uint8_t *rows[4];
    for (int i = 0; i < 4; i++) rows[i] = m->data + (r + (i < nr ? i : nr - 1)) * row_bytes;
    for (int64_t t = 0; t < m->T; t++) {
      const int8_t *xq = m->xq + t * K;
      const float *xs = m->xs + t * nb;
      float32x4_t lanes[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
      for (int64_t b = 0; b < nb; b++) {
        int32x4_t d[4];
        uint16_t h[4];
        for (int i = 0; i < 4; i++) {
          const uint8_t *blk = rows[i] + b * BN_Q8_BYTES;
          d[i] = dot32((const int8_t *)(blk + 2), xq + b * 32);
          h[i] = (uint16_t)(blk[0] | blk[1] << 8);
        }
        int32x4_t dots = vpaddq_s32(vpaddq_s32(d[0], d[1]), vpaddq_s32(d[2], d[3]));
        float32x4_t dw = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
        float32x4_t s = vmulq_f32(dw, vdupq_n_f32(xs[b]));
        lanes[b & 3] = vaddq_f32(lanes[b & 3], vmulq_f32(vcvtq_f32_s32(dots), s));
      }
      float y[4];
      vst1q_f32(y, vaddq_f32(vaddq_f32(lanes[0], lanes[2]), vaddq_f32(lanes[1], lanes[3])));
      for (int i = 0; i < nr; i++) m->out[t * m->N + r + i] = bn_out_scale(y[i], m->out_scale);
    }
  }
}
