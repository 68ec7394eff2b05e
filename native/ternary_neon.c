/*
 * arm64 NEON ternary kernels (and, compiled again by ternary_neondot.c with BN_NEONDOT, those of NEON
 * with the dot-product extension).
 *
 * Codes w+1 ∈ {0, 1, 2} fit a signed byte, so the dot is signed × signed: sdot (vdotq_s32) with the
 * extension; without it, vmull_s8 into 16-bit products and vpadalq_s16 into 32-bit sums. Σq is
 * subtracted in the epilogue (bitnet.h), as on x86.
 * Layouts are read in place as ternary_avx2.c does (16-byte vectors instead of 32): a TQ2_0 half-block
 * or an I2_S group gives four code planes by shifts, each lining up with 32 consecutive activations;
 * TQ1_0 blocks are decoded to their 256 codes first. Tiles: GEMV one row at a time (one stream for the
 * prefetchers; TQ1_0 four rows), GEMM 2 rows × 4 tokens.
 */
#include <arm_neon.h>

#include "ternary_scalar.h"
#include "ternary_tile.h"

#if defined(BN_NEONDOT)
#define SFX(name) name##_neondot
#else
#define SFX(name) name##_neon
#endif
#define GEMV_R 4
#define GEMM_R 2
#define GEMM_T 4

/* acc += Σ codes·x over 16 bytes, in 4 lanes. */
static inline int32x4_t dot16(int32x4_t acc, int8x16_t codes, int8x16_t x) {
#if defined(BN_NEONDOT)
  return vdotq_s32(acc, codes, x);
#else
  int16x8_t lo = vmull_s8(vget_low_s8(codes), vget_low_s8(x));
  int16x8_t hi = vmull_high_s8(codes, x);
  return vpadalq_s16(vpadalq_s16(acc, lo), hi);
#endif
}

#define ACC_SUM(v) vaddvq_s32(v)
#define ACC_ZERO(v) ((v) = vdupq_n_s32(0))

static inline int8x16_t plane(uint8x16_t b, int shift) {
  return vreinterpretq_s8_u8(vandq_u8(vshlq_u8(b, vdupq_n_s8((int8_t)-shift)), vdupq_n_u8(3)));
}

#define DEFINE_TQ2_TILE(NAME, MR, MT, REV)                                                                                 \
  static void NAME(const uint8_t *const *rows, const int8_t *const *xs, int64_t nch, int64_t stride, int per_row,       \
                   int nr, int nt, int64_t nd, int32_t *raw) {                                                          \
    int32x4_t a[MR][MT];                                                                                                \
    TILE_ZERO(a, MR, MT);                                                                                               \
    for (int64_t c = 0; c < nch; c++) {                                                                                 \
      for (int h = 0; h < 2; h++)                                                                                       \
        for (int s = 0; s < 2; s++) {                                                                                   \
          uint8x16_t b[MR];                                                                                             \
          for (int i = 0; i < MR; i++) b[i] = vld1q_u8(rows[i] + c * stride + 32 * h + 16 * s);                         \
          for (int p = 0; p < 4; p++) {                                                                                 \
            const int shift = REV ? 6 - 2 * p : 2 * p;                                                                  \
            int8x16_t code[MR];                                                                                         \
            for (int i = 0; i < MR; i++) code[i] = plane(b[i], shift);                                                  \
            for (int j = 0; j < MT; j++) {                                                                              \
              int8x16_t x = vld1q_s8(xs[j] + c * BN_CHUNK + 128 * h + 32 * p + 16 * s);                                 \
              for (int i = 0; i < MR; i++) a[i][j] = dot16(a[i][j], code[i], x);                                       \
            }                                                                                                           \
          }                                                                                                             \
        }                                                                                                               \
      TILE_CHUNK_END(a, MR, MT, nr, nt, nd, c, per_row, raw);                                                           \
    }                                                                                                                   \
    TILE_ROW_END(a, nr, nt, nd, per_row, raw);                                                                          \
  }

/* One token (GEMV), one row at a time (one sequential stream for the prefetchers), an accumulator per code plane. */
#define DEFINE_GEMV(NAME, REV)                                                                                    \
  static void NAME(const uint8_t *row, const int8_t *x, int64_t nch, int64_t stride, int per_row, int32_t *raw) { \
    int32x4_t a[4];                                                                                            \
    for (int p = 0; p < 4; p++) a[p] = vdupq_n_s32(0);                                                         \
    for (int64_t c = 0; c < nch; c++) {                                                                        \
      for (int h = 0; h < 2; h++)                                                                              \
        for (int s = 0; s < 2; s++) {                                                                          \
          uint8x16_t b = vld1q_u8(row + c * stride + 32 * h + 16 * s);                                         \
          for (int p = 0; p < 4; p++)                                                                          \
            a[p] = dot16(a[p], plane(b, REV ? 6 - 2 * p : 2 * p), vld1q_s8(x + c * BN_CHUNK + 128 * h + 32 * p + 16 * s)); \
        }                                                                                                      \
      if (!per_row) {                                                                                          \
        raw[c] = vaddvq_s32(vaddq_s32(vaddq_s32(a[0], a[1]), vaddq_s32(a[2], a[3])));                          \
        for (int p = 0; p < 4; p++) a[p] = vdupq_n_s32(0);                                                     \
      }                                                                                                        \
    }                                                                                                          \
    if (per_row) raw[0] = vaddvq_s32(vaddq_s32(vaddq_s32(a[0], a[1]), vaddq_s32(a[2], a[3])));                 \
  }

/* code = [q ≥ 86] + [q ≥ 171] (unsigned), from compare masks (0 or all ones, so their sum is −code). */
static inline uint8x16_t tq1_codes(uint8x16_t q) {
  uint8x16_t m = vaddq_u8(vcgeq_u8(q, vdupq_n_u8(86)), vcgeq_u8(q, vdupq_n_u8(171)));
  return vsubq_u8(vdupq_n_u8(0), m);
}

static inline uint8x16_t times3(uint8x16_t q) { return vaddq_u8(q, vaddq_u8(q, q)); }

/* The 256 codes of a TQ1_0 block in value order (ternary-ref.ts's trits; see tq1_avx2.h). */
static void tq1_decode(const uint8_t *blk, uint8_t *codes) {
  uint8x16_t q0 = vld1q_u8(blk), q1 = vld1q_u8(blk + 16);
  for (int n = 0; n < 5; n++, q0 = times3(q0), q1 = times3(q1)) {
    vst1q_u8(codes + 32 * n, tq1_codes(q0));
    vst1q_u8(codes + 32 * n + 16, tq1_codes(q1));
  }
  uint8x16_t r = vld1q_u8(blk + 32);
  for (int n = 0; n < 5; n++, r = times3(r)) vst1q_u8(codes + 160 + 16 * n, tq1_codes(r));
  /* qh: byte j times 3^n (as 16-bit products, low byte kept) is trit n of value 240 + 4n + j */
  uint32_t qh;
  memcpy(&qh, blk + 48, 4);
  uint8x8_t rep = vreinterpret_u8_u32(vdup_n_u32(qh));
  static const uint16_t lo3[8] = {1, 1, 1, 1, 3, 3, 3, 3}, hi3[8] = {9, 9, 9, 9, 27, 27, 27, 27};
  uint16x8_t wide = vmovl_u8(rep);
  uint8x8_t lo = vmovn_u16(vmulq_u16(wide, vld1q_u16(lo3))), hi = vmovn_u16(vmulq_u16(wide, vld1q_u16(hi3)));
  vst1q_u8(codes + 240, tq1_codes(vcombine_u8(lo, hi)));
}

#define DEFINE_TQ1_TILE(NAME, MR, MT)                                                                                   \
  static void NAME(const uint8_t *const *rows, const int8_t *const *xs, int64_t nch, int per_row, int nr, int nt,    \
                   int64_t nd, int32_t *raw) {                                                                        \
    uint8_t codes[MR][BN_CHUNK];                                                                                      \
    int32x4_t a[MR][MT];                                                                                              \
    TILE_ZERO(a, MR, MT);                                                                                             \
    for (int64_t c = 0; c < nch; c++) {                                                                               \
      for (int i = 0; i < MR; i++) tq1_decode(rows[i] + c * BN_TQ1_BYTES, codes[i]);                                  \
      for (int k = 0; k < BN_CHUNK; k += 16) {                                                                        \
        int8x16_t code[MR];                                                                                           \
        for (int i = 0; i < MR; i++) code[i] = vreinterpretq_s8_u8(vld1q_u8(codes[i] + k));                           \
        for (int j = 0; j < MT; j++) {                                                                                \
          int8x16_t x = vld1q_s8(xs[j] + c * BN_CHUNK + k);                                                           \
          for (int i = 0; i < MR; i++) a[i][j] = dot16(a[i][j], code[i], x);                                          \
        }                                                                                                             \
      }                                                                                                               \
      TILE_CHUNK_END(a, MR, MT, nr, nt, nd, c, per_row, raw);                                                         \
    }                                                                                                                 \
    TILE_ROW_END(a, nr, nt, nd, per_row, raw);                                                                        \
  }

#define TERNARY_ROWS SFX(bn_ternary_rows)
#include "ternary_driver.h"
