/*
 * Inline math shared by the ops and the attention kernels (compiled into each ISA's attention): a
 * float64 exp that vectorizes, and f16 widening without branches.
 */
#ifndef BITNET_MATH_H
#define BITNET_MATH_H

#include "bitnet.h"

/*
 * e^x in double, branch-free so that loops over it vectorize: x = k·ln2 + r with |r| ≤ ln2/2
 * (Cody–Waite: LN2_HI has 42 significant bits, so k·LN2_HI is exact), e^r by its Taylor series to degree
 * 13 (truncation below 5e-18) with the 1 added last, times 2^k as two powers of two so that overflow and
 * gradual underflow round as one multiply does. Within about 1 ulp of a correctly rounded exp; NaN stays NaN.
 */
static inline double bn_exp(double x) {
  const double LN2_HI = 0.6931471805598903, LN2_LO = 5.497923018708371e-14, INV_LN2 = 1.4426950408889634;
  const double ROUND = 6755399441055744.0; /* 1.5·2^52 */
  double xc = x < -746.0 ? -746.0 : x;
  xc = 710.0 < xc ? 710.0 : xc;
  double kr = xc * INV_LN2 + ROUND;
  double k = kr - ROUND;
  double r = (xc - k * LN2_HI) - k * LN2_LO;
  double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const double f2 = 1.0 / 2, f3 = 1.0 / 6, f4 = 1.0 / 24, f5 = 1.0 / 120, f6 = 1.0 / 720, f7 = 1.0 / 5040, f8 = 1.0 / 40320,
               f9 = 1.0 / 362880, f10 = 1.0 / 3628800, f11 = 1.0 / 39916800, f12 = 1.0 / 479001600, f13 = 1.0 / 6227020800.0;
  double p23 = f2 + f3 * r, p45 = f4 + f5 * r, p67 = f6 + f7 * r, p89 = f8 + f9 * r, pab = f10 + f11 * r, pcd = f12 + f13 * r;
  double inner = (p23 + p45 * r2) + ((p67 + p89 * r2) * r4 + (pab + pcd * r2) * r8);
  double p = 1.0 + (r + r2 * inner);
  int64_t kb, rb;
  memcpy(&kb, &kr, 8);
  memcpy(&rb, &ROUND, 8);
  int64_t ki = kb - rb, k1 = ki >> 1;
  int64_t b1 = (k1 + 1023) << 52, b2 = (ki - k1 + 1023) << 52;
  double s1, s2;
  memcpy(&s1, &b1, 8);
  memcpy(&s2, &b2, 8);
  double e = p * s1 * s2;
  return x != x ? x : e;
}

/* f16 bits → float32, exactly, without branches (bn_f16_to_f32 with the special case as a select). */
static inline float bn_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, body = (uint32_t)(h & 0x7fff) << 13;
  float finite = bn_f32_from(sign | body) * 5.192296858534828e33f; /* × 2^112 */
  uint32_t special = sign | 0x7f800000u | body;
  return (h & 0x7c00) == 0x7c00 ? bn_f32_from(special) : finite;
}

#endif
