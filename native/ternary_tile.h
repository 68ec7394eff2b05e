/*
 * Pieces the SIMD ternary tile kernels (AVX2, AVX-512, NEON) share around their ISA-specific inner loops.
 *
 * A tile holds one accumulator acc[i][j] per row i < MR and token j < MT. Include after defining:
 *   ACC_SUM(v)         the int32 total of accumulator v
 *   ACC_ZERO(v)        restarts accumulator v
 *   ACC_CHUNK_DONE(v)  optional: what accumulator v does after each 256-chunk (AVX2 widens its 16-bit
 *                      partial sums there, before they can overflow)
 */
#ifndef BITNET_TERNARY_TILE_H
#define BITNET_TERNARY_TILE_H

#if !defined(ACC_CHUNK_DONE)
#define ACC_CHUNK_DONE(v) ((void)0)
#endif

#define TILE_ZERO(acc, MR, MT)                                                                        \
  do {                                                                                                \
    for (int i_ = 0; i_ < (MR); i_++)                                                                 \
      for (int j_ = 0; j_ < (MT); j_++) ACC_ZERO((acc)[i_][j_]);                                      \
  } while (0)

/*
 * End of chunk c: per chunk (!per_row), the nr × nt results wanted go to raw[(i·nt + j)·nd + c] and every
 * accumulator restarts (the padding ones too, so none can overflow); per row the sums go on.
 */
#define TILE_CHUNK_END(acc, MR, MT, nr, nt, nd, c, per_row, raw)                                     \
  do {                                                                                                \
    for (int i_ = 0; i_ < (MR); i_++)                                                                 \
      for (int j_ = 0; j_ < (MT); j_++) ACC_CHUNK_DONE((acc)[i_][j_]);                                \
    if (!(per_row)) {                                                                                 \
      for (int i_ = 0; i_ < (nr); i_++)                                                               \
        for (int j_ = 0; j_ < (nt); j_++) (raw)[(i_ * (nt) + j_) * (nd) + (c)] = ACC_SUM((acc)[i_][j_]); \
      TILE_ZERO(acc, MR, MT);                                                                         \
    }                                                                                                 \
  } while (0)

/* End of the row: per row, the nr × nt totals go to raw[(i·nt + j)·nd]. */
#define TILE_ROW_END(acc, nr, nt, nd, per_row, raw)                                                   \
  do {                                                                                                \
    if (per_row)                                                                                      \
      for (int i_ = 0; i_ < (nr); i_++)                                                               \
        for (int j_ = 0; j_ < (nt); j_++) (raw)[(i_ * (nt) + j_) * (nd)] = ACC_SUM((acc)[i_][j_]);   \
  } while (0)

/*
 * Σ_p plane p's sum / 4^s, exactly, for kernels that mask code planes in place instead of shifting them
 * down: plane p then sums code·4^s (s = p; I2_S, rev: 3 − p), so every lane is a multiple of 4^s and an
 * arithmetic shift divides it exactly.
 */
#define DEFINE_COMBINE(NAME, VEC, ADD, SRAI)                                                          \
  static inline VEC NAME(const VEC acc[4], int rev) {                                                 \
    if (rev) return ADD(ADD(SRAI(acc[0], 6), SRAI(acc[1], 4)), ADD(SRAI(acc[2], 2), acc[3]));        \
    return ADD(ADD(acc[0], SRAI(acc[1], 2)), ADD(SRAI(acc[2], 4), SRAI(acc[3], 6)));                 \
  }

#endif
