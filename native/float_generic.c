/*
 * Portable C float matmul (f32, f16, bf16 weights): out [T, N] = x [T, K] · Wᵀ.
 *
 * Every (row, token) dot is the same sequence of float32 operations wherever it is computed: eight
 * lanes, lane l summing products k ≡ l (mod 8) in k order (a product, then a sum: two roundings), the
 * last partial step only over k < K, then ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)). So a token's result does
 * not depend on the other tokens of the call. Error against floatMatmulRef's float64 sum:
 * |y − ref| ≤ (K/8 + 5)·2⁻²⁴·Σ|w·x|, inside the (K/8 + 8) bound the tests hold every backend to.
 */
#include "bitnet.h"

static inline float weight_at(const bn_fmat *m, int64_t i) {
  switch (m->format) {
  case BN_F16: return bn_f16_to_f32(((const uint16_t *)m->data)[i]);
  case BN_BF16: return bn_bf16_to_f32(((const uint16_t *)m->data)[i]);
  default: return ((const float *)m->data)[i];
  }
}

static float dot(const bn_fmat *m, int64_t row, const float *x) {
  const int64_t K = m->K, base = row * K;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= K; k += 8)
    for (int l = 0; l < 8; l++) acc[l] = acc[l] + weight_at(m, base + k + l) * x[k + l];
  for (int l = 0; k + l < K; l++) acc[l] = acc[l] + weight_at(m, base + k + l) * x[k + l];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void bn_float_rows_generic(const bn_fmat *m, const float *x, int64_t T, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; r++)
    for (int64_t t = 0; t < T; t++) m->out[t * m->N + r] = bn_out_scale(dot(m, r, x + t * m->K), m->out_scale);
}
