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
 * or, for several tokens, DEFINE_PASS_TILE(NAME, MT, FORMAT) with PASS_R rows × 2..PASS_T tokens
 * (res[i·MT + j], prefetching [pf, pf_end) as it goes) in place of GEMM_R, GEMM_T: the tokens are then cut
 * into the fewest chunks of at most PASS_T, as even as possible, so that no tile computes a repeated
 * token, and each chunk prefetches its share of the next row tile.
 */
#if defined(PASS_R)
#define GEMM_R 1
#define GEMM_T 1
#define PASS_TILES(SFX, FORMAT)                                                                                \
  DEFINE_PASS_TILE(pass2_##SFX, 2, FORMAT)                                                                    \
  DEFINE_PASS_TILE(pass3_##SFX, 3, FORMAT)                                                                    \
  DEFINE_PASS_TILE(pass4_##SFX, 4, FORMAT)                                                                    \
  DEFINE_PASS_TILE(pass5_##SFX, 5, FORMAT)                                                                    \
  DEFINE_PASS_TILE(pass6_##SFX, 6, FORMAT)                                                                    \
  static void pass_##SFX(const bn_fmat *m, const void *const *rows, const float *const *xs, int nt,          \
                         const char *pf, const char *pf_end, float *res) {                                    \
    switch (nt) {                                                                                             \
    case 2: pass2_##SFX(m, rows, xs, pf, pf_end, res); break;                                                 \
    case 3: pass3_##SFX(m, rows, xs, pf, pf_end, res); break;                                                 \
    case 4: pass4_##SFX(m, rows, xs, pf, pf_end, res); break;                                                 \
    case 5: pass5_##SFX(m, rows, xs, pf, pf_end, res); break;                                                 \
    default: pass6_##SFX(m, rows, xs, pf, pf_end, res); break;                                                \
    }                                                                                                         \
  }
#if PASS_T != 6
#error "PASS_TILES instantiates tiles of 2..6 tokens"
#endif
PASS_TILES(f32, BN_F32)
PASS_TILES(f16, BN_F16)
PASS_TILES(bf16, BN_BF16)

static inline void pass_tile(const bn_fmat *m, const void *const *rows, const float *const *xs, int nt, const char *pf, const char *pf_end, float *res) {
  if (m->format == BN_F16) pass_f16(m, rows, xs, nt, pf, pf_end, res);
  else if (m->format == BN_BF16) pass_bf16(m, rows, xs, nt, pf, pf_end, res);
  else pass_f32(m, rows, xs, nt, pf, pf_end, res);
}
#endif

#if !defined(TILE)
/* A kernel of its own per format, so that the format's loads are inlined into the loop. */
DEFINE_TILE(gemv_f32, GEMV_R, 1, BN_F32)
DEFINE_TILE(gemv_f16, GEMV_R, 1, BN_F16)
DEFINE_TILE(gemv_bf16, GEMV_R, 1, BN_BF16)
#if !defined(PASS_R)
DEFINE_TILE(gemm_f32, GEMM_R, GEMM_T, BN_F32)
DEFINE_TILE(gemm_f16, GEMM_R, GEMM_T, BN_F16)
DEFINE_TILE(gemm_bf16, GEMM_R, GEMM_T, BN_BF16)
#endif

static inline void float_tile(const bn_fmat *m, int gemv, const void *const *rows, const float *const *xs, int nr, int nt, float *res) {
  if (gemv) {
    if (m->format == BN_F16) gemv_f16(m, rows, xs, nr, nt, res);
    else if (m->format == BN_BF16) gemv_bf16(m, rows, xs, nr, nt, res);
    else gemv_f32(m, rows, xs, nr, nt, res);
  }
#if !defined(PASS_R)
  else {
    if (m->format == BN_F16) gemm_f16(m, rows, xs, nr, nt, res);
    else if (m->format == BN_BF16) gemm_bf16(m, rows, xs, nr, nt, res);
    else gemm_f32(m, rows, xs, nr, nt, res);
  }
#endif
}
#define TILE float_tile
#endif

#if defined(PASS_R)
#define FLOAT_TILE_R (GEMV_R > PASS_R ? GEMV_R : PASS_R)
#define FLOAT_TILE_T PASS_T
#else
#define FLOAT_TILE_R (GEMV_R > GEMM_R ? GEMV_R : GEMM_R)
#define FLOAT_TILE_T GEMM_T
#endif

void FLOAT_ROWS(const bn_fmat *m, const float *x, int64_t T, int64_t r0, int64_t r1) {
  const int gemv = T == 1;
  const void *rows[FLOAT_TILE_R];
  const float *xs[FLOAT_TILE_T];
  float res[FLOAT_TILE_R * FLOAT_TILE_T];
  const size_t row_bytes = (size_t)m->K * (m->format == BN_F32 ? 4 : 2);
#if defined(PASS_R)
  if (!gemv) {
    const int64_t chunks = (T + PASS_T - 1) / PASS_T;
    for (int64_t r = r0; r < r1; r += PASS_R) {
      int nr = (int)(r1 - r < PASS_R ? r1 - r : PASS_R);
      for (int i = 0; i < PASS_R; i++) rows[i] = (const char *)m->data + (size_t)(r + (i < nr ? i : nr - 1)) * row_bytes;
      for (int64_t c = 0, t = 0; c < chunks; c++) {
        int nt = (int)((T - t + (chunks - c) - 1) / (chunks - c));
        for (int j = 0; j < nt; j++) xs[j] = x + (t + j) * m->K;
        /* each chunk fetches its share of the next tile's rows (contiguous) while it computes */
        const int64_t next = r + PASS_R < r1 ? r + PASS_R : r1, next_end = r1 < r + 2 * PASS_R ? r1 : r + 2 * PASS_R;
        const char *base = (const char *)m->data + (size_t)next * row_bytes;
        const size_t share = (size_t)(next_end - next) * row_bytes / (size_t)chunks;
        pass_tile(m, rows, xs, nt, base + (size_t)c * share, base + (size_t)(c + 1) * share, res);
        for (int i = 0; i < nr; i++)
          for (int j = 0; j < nt; j++) m->out[(t + j) * m->N + r + i] = bn_out_scale(res[i * nt + j], m->out_scale);
        t += nt;
      }
    }
    return;
  }
#endif
  const int MR = gemv ? GEMV_R : GEMM_R, MT = gemv ? 1 : GEMM_T;
  for (int64_t r = r0; r < r1; r += MR) {
    int nr = (int)(r1 - r < MR ? r1 - r : MR);
    for (int i = 0; i < MR; i++) rows[i] = (const char *)m->data + (size_t)(r + (i < nr ? i : nr - 1)) * row_bytes;
    for (int64_t t = 0; t < T; t += MT) {
      int nt = (int)(T - t < MT ? T - t : MT);
      for (int j = 0; j < MT; j++) xs[j] = x + (t + (j < nt ? j : nt - 1)) * m->K;
      TILE(m, gemv, rows, xs, nr, nt, res);
      for (int i = 0; i < nr; i++)
        for (int j = 0; j < nt; j++) m->out[(t + j) * m->N + r + i] = bn_out_scale(res[i * nt + j], m->out_scale);
    }
  }
}
