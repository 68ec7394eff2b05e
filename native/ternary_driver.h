/*
 * The loop every ISA's ternary_rows shares: rows [r0, r1) × all tokens, cut into tiles of ROWS rows and
 * TOKS tokens (one token: GEMV tiles of GEMV_ROWS rows), each tile's raw dots computed by the ISA's
 * DOTS function, then the scalar epilogue of bitnet.h. Integer dots are exact, so a result does not
 * depend on the tile it was computed in, nor on the token count.
 *
 * Include after defining:
 *   DOTS(m, a, r, nr, t, nt, raw)  raw[(i·nt + j)·nd + c] = Σ (w+1)·q of row r+i, token t+j, over chunk c
 *                                  (nd = 1 and the whole row when m->per_row, else nd = K/256)
 *   ROWS, TOKS, GEMV_ROWS          tile sizes
 *   TERNARY_ROWS                   the name of the function to define
 */
#include <stdlib.h>

int TERNARY_ROWS(const bn_tmat *m, const bn_tacts *a, int64_t r0, int64_t r1) {
  const int64_t T = a->T;
  const int64_t nd = m->per_row ? 1 : m->K / BN_CHUNK;
  const int rows = T == 1 ? GEMV_ROWS : ROWS;
  const int toks = T == 1 ? 1 : TOKS;
  int32_t stack_raw[4096];
  int32_t *raw = stack_raw;
  size_t need = (size_t)(rows * toks * nd); /* past the stack buffer only for per-chunk rows of over 64Ki values */
  if (need > sizeof stack_raw / sizeof *stack_raw) {
    raw = (int32_t *)malloc(need * sizeof *raw);
    if (!raw) return -1;
  }
  for (int64_t r = r0; r < r1; r += rows) {
    int nr = (int)(r1 - r < rows ? r1 - r : rows);
    for (int64_t t = 0; t < T; t += toks) {
      int nt = (int)(T - t < toks ? T - t : toks);
      DOTS(m, a, r, nr, t, nt, raw);
      for (int i = 0; i < nr; i++)
        for (int j = 0; j < nt; j++) bn_ternary_store(m, a, r + i, t + j, raw + ((size_t)i * nt + j) * nd);
    }
  }
  if (raw != stack_raw) free(raw);
  return 0;
}
