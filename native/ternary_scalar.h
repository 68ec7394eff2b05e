/*
 * Scalar raw dots Σ (w+1)·q over the file layouts (src/kernels/ternary-ref.ts reads the same bytes):
 * the portable kernel set uses them for everything, the SIMD sets for what their vectors do not cover.
 * Codes are the unsigned w+1 ∈ {0, 1, 2}; bn_ternary_store subtracts Σq.
 */
#ifndef BITNET_TERNARY_SCALAR_H
#define BITNET_TERNARY_SCALAR_H

#include "bitnet.h"

/* One TQ2_0 block (256 values): byte m of half h holds values h·128 + 32j + m in bits 2j..2j+1. */
static inline int32_t bn_tq2_block_dot(const uint8_t *qs, const int8_t *x) {
  int32_t sum = 0;
  for (int h = 0; h < 2; h++) {
    const uint8_t *b = qs + 32 * h;
    const int8_t *xs = x + 128 * h;
    for (int m = 0; m < 32; m++) {
      int v = b[m];
      sum += (v & 3) * xs[m] + ((v >> 2) & 3) * xs[32 + m] + ((v >> 4) & 3) * xs[64 + m] + ((v >> 6) & 3) * xs[96 + m];
    }
  }
  return sum;
}

/* Trit n of a TQ1_0 byte, as a code 0..2: the byte holds ⌈t·256/243⌉, so byte·3^n mod 256 times 3 keeps trit n on top. */
static inline int bn_tq1_code(int byte, int pow3) { return (((byte * pow3) & 255) * 3) >> 8; }

/* One TQ1_0 block: qs[0..32) hold values m + 32n, qs[32..48) values 160 + m + 16n, qh[0..4) values 240 + j + 4n. */
static inline int32_t bn_tq1_block_dot(const uint8_t *blk, const int8_t *x) {
  static const int pow3[5] = {1, 3, 9, 27, 81};
  int32_t sum = 0;
  for (int n = 0; n < 5; n++)
    for (int m = 0; m < 32; m++) sum += bn_tq1_code(blk[m], pow3[n]) * x[m + 32 * n];
  for (int n = 0; n < 5; n++)
    for (int m = 0; m < 16; m++) sum += bn_tq1_code(blk[32 + m], pow3[n]) * x[160 + m + 16 * n];
  for (int n = 0; n < 4; n++)
    for (int j = 0; j < 4; j++) sum += bn_tq1_code(blk[48 + j], pow3[n]) * x[240 + j + 4 * n];
  return sum;
}

/* One I2_S group of 128 values (32 bytes): byte m holds values m, m+32, m+64, m+96 in bits 6-7, 4-5, 2-3, 0-1. */
static inline int32_t bn_i2s_group_dot(const uint8_t *g, const int8_t *x) {
  int32_t sum = 0;
  for (int m = 0; m < 32; m++) {
    int v = g[m];
    sum += ((v >> 6) & 3) * x[m] + ((v >> 4) & 3) * x[32 + m] + ((v >> 2) & 3) * x[64 + m] + (v & 3) * x[96 + m];
  }
  return sum;
}

/* Where row r's codes start. I2_S rows start on a group boundary because K is a multiple of 128 (api.c checks). */
static inline const uint8_t *bn_ternary_row(const bn_tmat *m, int64_t r) {
  int64_t K = m->K;
  switch (m->format) {
  case BN_TQ2_0: return m->data + r * (K / BN_CHUNK) * BN_TQ2_BYTES;
  case BN_TQ1_0: return m->data + r * (K / BN_CHUNK) * BN_TQ1_BYTES;
  default: return m->data + r * (K / 4);
  }
}

/* Raw dot of one row against one token's q, per chunk (nd = K/256 values) or over the whole row (nd = 1). */
static inline void bn_ternary_row_dots(const bn_tmat *m, const uint8_t *row, const int8_t *x, int per_row, int32_t *raw) {
  int64_t K = m->K, nch = K / BN_CHUNK;
  int32_t total = 0;
  for (int64_t c = 0; c < nch; c++) {
    int32_t d;
    if (m->format == BN_TQ2_0) d = bn_tq2_block_dot(row + c * BN_TQ2_BYTES, x + c * BN_CHUNK);
    else if (m->format == BN_TQ1_0) d = bn_tq1_block_dot(row + c * BN_TQ1_BYTES, x + c * BN_CHUNK);
    else d = bn_i2s_group_dot(row + c * 64, x + c * BN_CHUNK) + bn_i2s_group_dot(row + c * 64 + 32, x + c * BN_CHUNK + 128);
    if (per_row) total += d;
    else raw[c] = d;
  }
  if (m->format == BN_I2_S && K % BN_CHUNK) total += bn_i2s_group_dot(row + nch * 64, x + nch * BN_CHUNK);
  if (per_row) raw[0] = total;
}

#endif
