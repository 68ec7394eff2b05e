/*
 * Portable C ternary kernels: the scalar dots of ternary_scalar.h for each (row, token) of a tile.
 * Slow but exact; it is the kernel set for CPUs without the vector extensions the others need, and
 * BITNET_NATIVE_ISA=generic forces it (tests hold every set to the reference on one machine).
 */
#include "ternary_scalar.h"

static void generic_dots(const bn_tmat *m, const bn_tacts *a, int64_t r, int nr, int64_t t, int nt, int32_t *raw) {
  int64_t nd = m->per_row ? 1 : m->K / BN_CHUNK;
  for (int i = 0; i < nr; i++) {
    const uint8_t *row = bn_ternary_row(m, r + i);
    for (int j = 0; j < nt; j++) bn_ternary_row_dots(m, row, a->q + (t + j) * m->K, m->per_row, raw + ((size_t)i * nt + j) * nd);
  }
}

#define DOTS generic_dots
#define ROWS 4
#define TOKS 4
#define GEMV_ROWS 4
#define TERNARY_ROWS bn_ternary_rows_generic
#include "ternary_driver.h"
