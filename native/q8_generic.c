/*
 * Portable C Q8_0 matmul: per (row, token), the exact integer dot of each 32-value block, then the
 * float order of q8-ref.ts (bitnet.h bn_q8_finish). Bit-identical to the reference.
 */
#include "bitnet.h"

void bn_q8_rows_generic(const bn_q8mat *m, int64_t r0, int64_t r1) {
  const int64_t K = m->K, nb = K / 32;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *row = m->data + r * nb * BN_Q8_BYTES;
    for (int64_t t = 0; t < m->T; t++) {
      const int8_t *xq = m->xq + t * K;
      const float *xs = m->xs + t * nb;
      float lanes[4] = {0, 0, 0, 0};
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * BN_Q8_BYTES;
        const int8_t *w = (const int8_t *)(blk + 2);
        int32_t d = 0;
        for (int j = 0; j < 32; j++) d += w[j] * xq[b * 32 + j];
        float s = bn_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8)) * xs[b];
        lanes[b & 3] = lanes[b & 3] + (float)d * s;
      }
      m->out[t * m->N + r] = bn_out_scale(bn_q8_finish(lanes), m->out_scale);
    }
  }
}
