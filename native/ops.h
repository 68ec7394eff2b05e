/*
 * Row- and range-wise forward-pass ops (ops.c) and activation preparation (prep.c), called by api.c on
 * one thread or split across the pool.
 */
#ifndef BITNET_OPS_H
#define BITNET_OPS_H

#include "bitnet.h"

enum { BN_QUANT_NONE = -1, BN_QUANT_TOKEN = 0, BN_QUANT_BLOCK256 = 1 };
/* BN_STATUS_NON_FINITE: an activation is NaN or infinite (the reference throws); NEEDS_REFERENCE: a block's
 * scale overflows float32 (the reference takes ggml's exact path). */
enum { BN_STATUS_OK = 0, BN_STATUS_NON_FINITE = 1, BN_STATUS_NEEDS_REFERENCE = 2 };

int bn_quantize_rows(const float *x, int64_t t0, int64_t t1, int64_t n, int mode, int8_t *q, float *factors, int32_t *sums);
int bn_rmsnorm_rows(const float *x, const float *w, float *out, int64_t t0, int64_t t1, int64_t n, double eps, int mode, int8_t *q, float *factors, int32_t *sums);
void bn_rope_rows(float *x, int64_t t0, int64_t t1, int64_t heads, int64_t hd, int64_t pos0, const float *cos_, const float *sin_, int64_t dims, int neox);
void bn_gated_range(float *gate, const float *up, int64_t i0, int64_t i1, int relu2);
void bn_add_range(float *x, const float *y, int64_t i0, int64_t i1);
void bn_f16_range(const float *src, uint16_t *dst, int64_t i0, int64_t i1);
double bn_exp_f64(double x);

/* prep.c: for tokens [t0, t1), Σq per row, per 256-chunk (when csum) and the permuted copy (when qp). */
void bn_ternary_prep(const int8_t *q, int64_t t0, int64_t t1, int64_t K, int8_t *qp, int32_t *rsum, int32_t *csum);
/* prep.c: Q8_0 activations of tokens [t0, t1) as q8-ref.ts quantizes them (ggml's AVX2 rule). */
void bn_q8_prep(const float *x, int64_t t0, int64_t t1, int64_t K, int8_t *q, float *scales);

#endif
