/*
 * A kernel context (one per NativeKernels object): the chosen ISA's kernels, the thread pool, and
 * scratch that grows to the largest call. jobs.c cuts each call into pool tasks; api.c only converts
 * arguments. Calls on one context are not reentrant (JavaScript makes them one at a time).
 */
#ifndef BITNET_JOBS_H
#define BITNET_JOBS_H

#include "bitnet.h"
#include "pool.h"

enum { BN_SCRATCH_QP, BN_SCRATCH_RSUM, BN_SCRATCH_CSUM, BN_SCRATCH_Q8Q, BN_SCRATCH_Q8S, BN_SCRATCH_ATTN, BN_SCRATCH_COUNT };

typedef struct {
  const bn_isa *isa;
  bn_pool *pool;
  int lanes;
  /* work (multiply-adds, element operations) below which a call stays on the calling thread */
  int64_t min_split;
  void *scratch[BN_SCRATCH_COUNT];
  size_t cap[BN_SCRATCH_COUNT];
} bn_ctx;

/* NULL when memory or a thread could not be had. */
bn_ctx *bn_ctx_create(const bn_isa *isa, int threads, int spin_us, int64_t min_split);
void bn_ctx_destroy(bn_ctx *c);

/* Each returns 0, or -1 when scratch memory could not be had (nothing was written then). */
/* Several matrices that read the same activations, in one pool task (q, k, v; gate, up). */
int bn_run_ternary(bn_ctx *c, bn_tmat *mats, int count, const int8_t *q, const float *factors, int64_t T, int64_t K, int64_t group);
int bn_run_float(bn_ctx *c, const bn_fmat *m, const float *x, int64_t T);
/* m's xq and xs are filled here. */
int bn_run_q8(bn_ctx *c, bn_q8mat *m, const float *x);
int bn_run_attention(bn_ctx *c, const bn_attn *a);

/* These return a BN_STATUS (ops.h); quantization outputs are complete only with BN_STATUS_OK. */
int bn_run_rmsnorm(bn_ctx *c, const float *x, const float *w, float *out, int64_t T, int64_t n, double eps, int mode, int8_t *q, float *factors, int32_t *sums);
int bn_run_quantize(bn_ctx *c, const float *x, int64_t T, int64_t n, int mode, int8_t *q, float *factors, int32_t *sums);
void bn_run_rope(bn_ctx *c, float *x, int64_t T, int64_t heads, int64_t hd, int64_t pos0, const float *cos_, const float *sin_, int64_t dims, int neox);
void bn_run_gated(bn_ctx *c, float *gate, const float *up, int64_t n, int relu2);
void bn_run_add(bn_ctx *c, float *x, const float *y, int64_t n);
void bn_run_f16(bn_ctx *c, const float *src, uint16_t *dst, int64_t n);

#endif
