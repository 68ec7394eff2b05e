/*
 * Activation preparation before a matmul, once per call (split by tokens across the pool for prefill):
 * - ternary: Σq per row and per 256-chunk (computed here rather than read from the caller, because the
 *   reference does not read them), and for ISAs that read a 64-byte vector of 2-bit codes at once (two
 *   TQ2_0 halves, two I2_S groups) a copy of q in the order those codes come out: for each 256-chunk,
 *   plane j (codes at bits 2j of TQ2_0, 6−2j of I2_S) holds values [32j, 32j+32) then [128+32j, 160+32j).
 *   An I2_S tail of 128 values stays in order.
 * - Q8_0: ggml's activation rule (src/quant/codecs/q8_0.ts quantizeQ8_0Activations), bit for bit.
 */
#include <math.h>

#include "ops.h"

void bn_ternary_prep(const int8_t *q, int64_t t0, int64_t t1, int64_t K, int8_t *qp, int32_t *rsum, int32_t *csum) {
  const int64_t nch = K / BN_CHUNK;
  for (int64_t t = t0; t < t1; t++) {
    const int8_t *x = q + t * K;
    int32_t total = 0;
    for (int64_t c = 0; c < nch; c++) {
      int32_t s = 0;
      for (int i = 0; i < BN_CHUNK; i++) s += x[c * BN_CHUNK + i];
      if (csum) csum[t * nch + c] = s;
      total += s;
    }
    for (int64_t i = nch * BN_CHUNK; i < K; i++) total += x[i];
    rsum[t] = total;
    if (!qp) continue;
    int8_t *y = qp + t * K;
    for (int64_t c = 0; c < nch; c++)
      for (int j = 0; j < 4; j++)
        for (int h = 0; h < 2; h++) memcpy(y + c * BN_CHUNK + j * 64 + h * 32, x + c * BN_CHUNK + h * 128 + 32 * j, 32);
    memcpy(y + nch * BN_CHUNK, x + nch * BN_CHUNK, (size_t)(K - nch * BN_CHUNK));
  }
}

void bn_q8_prep(const float *x, int64_t t0, int64_t t1, int64_t K, int8_t *q, float *scales) {
  const int64_t nb = K / 32;
  for (int64_t b = t0 * nb; b < t1 * nb; b++) {
    const float *xb = x + b * 32;
    int8_t *qb = q + b * 32;
    float amax = 0.0f;
    int finite = 1;
    for (int j = 0; j < 32; j++) {
      float a = fabsf(xb[j]);
      if (a > amax) amax = a;
      else if (!(a <= amax)) finite = 0; /* NaN */
    }
    if (!finite || amax == INFINITY) {
      memset(qb, 0, 32);
      scales[b] = NAN;
      continue;
    }
    scales[b] = bn_f16_to_f32(bn_f32_to_f16(amax / 127.0f));
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    if (!isfinite(id)) { /* a subnormal maximum: its f16 scale is 0, so the codes cannot matter */
      memset(qb, 0, 32);
      continue;
    }
    for (int j = 0; j < 32; j++) qb[j] = (int8_t)(int32_t)((xb[j] * id + 12582912.0f) - 12582912.0f);
  }
}
