/*
 * The loop every SIMD float_rows shares: rows [r0, r1) × all tokens, cut into tiles of GEMM_R rows ×
 * GEMM_T tokens (one token: GEMV_R rows × 1), each tile's dots computed by the ISA's TILE, then scaled
 * as bitnet.h rules. A partial tile repeats its last row or token and drops the extra results, so the
 * kernels always run at their full, fixed shape.
 *
 * Include after defining:
 *   TILE(m, gemv, rows, xs, nr, nt, res)  res[i·nt + j] = row i · token j (gemv: the GEMV_R × 1 tile),
 *                                         or instead DEFINE_TILE(NAME, MR, MT, FORMAT), a tile kernel
 *                                         for one format, which this header instantiates per format
 *   GEMV_R, GEMM_R, GEMM_T                tile sizes
 *   FLOAT_ROWS                            the name of the function to define
 */
#if !defined(TILE)
/* A kernel of its own per format, so that the format's loads are inlined into the loop. */
DEFINE_TILE(gemv_f32, GEMV_R, 1, BN_F32)
DEFINE_TILE(gemv_f16, GEMV_R, 1, BN_F16)
DEFINE_TILE(gemv_bf16, GEMV_R, 1, BN_BF16)
DEFINE_TILE(gemm_f32, GEMM_R, GEMM_T, BN_F32)
DEFINE_TILE(gemm_f16, GEMM_R, GEMM_T, BN_F16)
DEFINE_TILE(gemm_bf16, GEMM_R, GEMM_T, BN_BF16)

static inline void float_tile(const bn_fmat *m, int gemv, const void *const *rows, const float *const *xs, int nr, int nt, float *res) {
  if (gemv) {
    if (m->format == BN_F16) gemv_f16(m, rows, xs, nr, nt, res);
    else if (m->format == BN_BF16) gemv_bf16(m, rows, xs, nr, nt, res);
    else gemv_f32(m, rows, xs, nr, nt, res);
  } else {
    if (m->format == BN_F16) gemm_f16(m, rows, xs, nr, nt, res);
    else if (m->format == BN_BF16) gemm_bf16(m, rows, xs, nr, nt, res);
    else gemm_f32(m, rows, xs, nr, nt, res);
  }
}
#define TILE float_tile
#endif

#define FLOAT_TILE_R (GEMV_R > GEMM_R ? GEMV_R : GEMM_R)

void FLOAT_ROWS(const bn_fmat *m, const float *x, int64_t T, int64_t r0, int64_t r1) {
  const int gemv = T == 1;
  const int MR = gemv ? GEMV_R : GEMM_R, MT = gemv ? 1 : GEMM_T;
  const void *rows[FLOAT_TILE_R];
  const float *xs[GEMM_T];
  float res[FLOAT_TILE_R * GEMM_T];
  for (int64_t r = r0; r < r1; r += MR) {
    int nr = (int)(r1 - r < MR ? r1 - r : MR);
    for (int i = 0; i < MR; i++) rows[i] = (const char *)m->data + (r + (i < nr ? i : nr - 1)) * m->K * (m->format == BN_F32 ? 4 : 2);
    for (int64_t t = 0; t < T; t += MT) {
      int nt = (int)(T - t < MT ? T - t : MT);
      for (int j = 0; j < MT; j++) xs[j] = x + (t + (j < nt ? j : nt - 1)) * m->K;
      TILE(m, gemv, rows, xs, nr, nt, res);
      for (int i = 0; i < nr; i++)
        for (int j = 0; j < nt; j++) m->out[(t + j) * m->N + r + i] = bn_out_scale(res[i * nt + j], m->out_scale);
    }
  }
}
