/*
 * How each call is cut into pool work (see jobs.h): one index space per call (rows of the matrices,
 * tokens, elements, attention items), handed out in chunks through an atomic counter, so a lane that
 * is slowed down (a shared machine) takes fewer chunks. Calls too small to pay for waking the workers
 * run on the calling thread alone. Which lane computes what never changes a result.
 */
#include "jobs.h"

#include <stdlib.h>

#include "ops.h"

/* Work below which a call stays on the calling thread, relative to the context's min_split (2^18 by
 * default): multiply-adds count 1, element operations 8 (they cost more than a multiply-add each). */
#define COST_MAC 1
#define COST_ELEMENT 8
/* An RMSNorm element: its square joins one serial double-precision sum (the reference's order), a chain
   of adds that holds a row of 2560 to ~4K cycles, so the rows of a decode batch are worth splitting. */
#define COST_NORM_ELEMENT 64

typedef int (*range_fn)(void *arg, int lane, int64_t i0, int64_t i1);

typedef struct {
  range_fn fn;
  void *arg;
  int64_t n, chunk;
  volatile int64_t next;
  int status;
} range_job;

static void range_task(void *p, int lane, int lanes) {
  range_job *j = (range_job *)p;
  (void)lanes;
  for (;;) {
    int64_t i = bn_next(&j->next);
    int64_t i0 = i * j->chunk;
    if (i0 >= j->n) break;
    int64_t i1 = i0 + j->chunk < j->n ? i0 + j->chunk : j->n;
    int s = j->fn(j->arg, lane, i0, i1);
    if (s) __atomic_store_n(&j->status, s, __ATOMIC_RELAXED);
  }
}

/* fn over [0, n) in chunks of `chunk` (rounded up to `align`); on the pool when `work` is worth it. Returns a status fn gave, else 0. */
static int parallel_for(bn_ctx *c, int64_t n, int64_t chunk, int64_t align, int64_t work, int64_t cost, range_fn fn, void *arg) {
  if (n <= 0) return 0;
  if (c->lanes <= 1 || work * cost < c->min_split || n <= align) return fn(arg, 0, 0, n);
  chunk = (chunk + align - 1) / align * align;
  range_job j = {fn, arg, n, chunk, 0, 0};
  int64_t chunks = (n + chunk - 1) / chunk;
  bn_pool_run(c->pool, range_task, &j, chunks < c->lanes ? (int)chunks : c->lanes);
  return j.status;
}

/* A chunk that gives each lane about `per_lane` chunks of the n indices. */
static int64_t chunk_for(const bn_ctx *c, int64_t n, int64_t per_lane) {
  int64_t k = n / ((int64_t)c->lanes * per_lane);
  return k > 0 ? k : 1;
}

static void *scratch(bn_ctx *c, int which, size_t bytes) {
  if (bytes <= c->cap[which]) return c->scratch[which];
  size_t size = bytes + bytes / 4 + 4096;
  void *p = NULL;
#if defined(_MSC_VER)
  p = _aligned_malloc(size, 64);
#else
  if (posix_memalign(&p, 64, size) != 0) p = NULL;
#endif
  if (!p) return NULL;
#if defined(_MSC_VER)
  _aligned_free(c->scratch[which]);
#else
  free(c->scratch[which]);
#endif
  c->scratch[which] = p;
  c->cap[which] = size;
  return p;
}

bn_ctx *bn_ctx_create(const bn_isa *isa, int threads, int spin_us, int64_t min_split) {
  bn_ctx *c = (bn_ctx *)calloc(1, sizeof *c);
  if (!c) return NULL;
  c->isa = isa;
  c->min_split = min_split;
  c->pool = bn_pool_start(threads, spin_us);
  if (!c->pool) {
    free(c);
    return NULL;
  }
  c->lanes = bn_pool_lanes(c->pool);
  return c;
}

void bn_ctx_destroy(bn_ctx *c) {
  if (!c) return;
  bn_pool_stop(c->pool);
  for (int i = 0; i < BN_SCRATCH_COUNT; i++) {
#if defined(_MSC_VER)
    _aligned_free(c->scratch[i]);
#else
    free(c->scratch[i]);
#endif
  }
  free(c);
}

/* ---- ternary ---- */

typedef struct {
  const bn_isa *isa;
  const bn_tmat *mats;
  int count;
  const bn_tacts *acts;
  /* prep */
  const int8_t *q;
  int64_t K;
  int8_t *qp;
  int32_t *rsum, *csum;
} ternary_job;

static int ternary_prep_range(void *p, int lane, int64_t t0, int64_t t1) {
  ternary_job *j = (ternary_job *)p;
  (void)lane;
  bn_ternary_prep(j->q, t0, t1, j->K, j->qp, j->rsum, j->csum);
  return 0;
}

/* Rows [i0, i1) of the matrices' rows laid end to end. */
static int ternary_range(void *p, int lane, int64_t i0, int64_t i1) {
  ternary_job *j = (ternary_job *)p;
  (void)lane;
  int64_t base = 0;
  for (int k = 0; k < j->count && i0 < i1; k++) {
    int64_t N = j->mats[k].N;
    if (i0 < base + N) {
      int64_t r1 = i1 < base + N ? i1 : base + N;
      if (j->isa->ternary_rows(&j->mats[k], j->acts, i0 - base, r1 - base) != 0) return -1;
      i0 = r1;
    }
    base += N;
  }
  return 0;
}

int bn_run_ternary(bn_ctx *c, bn_tmat *mats, int count, const int8_t *q, const float *factors, int64_t T, int64_t K, int64_t group) {
  int need_csum = 0, perm = 0;
  int64_t rows = 0;
  for (int k = 0; k < count; k++) {
    need_csum |= !mats[k].per_row;
    perm |= c->isa->perm && mats[k].format != BN_TQ1_0;
    rows += mats[k].N;
  }
  ternary_job j = {c->isa, mats, count, NULL, q, K, NULL, NULL, NULL};
  j.rsum = (int32_t *)scratch(c, BN_SCRATCH_RSUM, (size_t)T * sizeof(int32_t));
  if (need_csum) j.csum = (int32_t *)scratch(c, BN_SCRATCH_CSUM, (size_t)(T * (K / BN_CHUNK)) * sizeof(int32_t) + 4);
  if (perm) j.qp = (int8_t *)scratch(c, BN_SCRATCH_QP, (size_t)(T * K));
  if (!j.rsum || (need_csum && !j.csum) || (perm && !j.qp)) return -1;
  parallel_for(c, T, chunk_for(c, T, 2), 1, T * K * 8, COST_MAC, ternary_prep_range, &j);
  bn_tacts acts = {q, j.qp, j.rsum, j.csum, factors, T, K, group};
  j.acts = &acts;
  /* GEMV rows in chunks of 16 or more; GEMM chunks of 4-row tiles */
  int64_t chunk = chunk_for(c, rows, 8);
  return parallel_for(c, rows, chunk < 16 && T == 1 ? 16 : chunk, T == 1 ? 16 : 4, rows * K * T, COST_MAC, ternary_range, &j) ? -1 : 0;
}

/* ---- float and Q8_0 ---- */

typedef struct {
  const bn_isa *isa;
  const bn_fmat *m;
  const float *x;
  int64_t T;
  bn_q8mat *q8;
} float_job;

static int float_range(void *p, int lane, int64_t r0, int64_t r1) {
  float_job *j = (float_job *)p;
  (void)lane;
  j->isa->float_rows(j->m, j->x, j->T, r0, r1);
  return 0;
}

int bn_run_float(bn_ctx *c, const bn_fmat *m, const float *x, int64_t T) {
  float_job j = {c->isa, m, x, T, NULL};
  parallel_for(c, m->N, chunk_for(c, m->N, 8), 16, m->N * m->K * T, COST_MAC, float_range, &j);
  return 0;
}

static int q8_prep_range(void *p, int lane, int64_t t0, int64_t t1) {
  float_job *j = (float_job *)p;
  (void)lane;
  bn_q8_prep(j->x, t0, t1, j->q8->K, (int8_t *)j->q8->xq, (float *)j->q8->xs);
  return 0;
}

static int q8_range(void *p, int lane, int64_t r0, int64_t r1) {
  float_job *j = (float_job *)p;
  (void)lane;
  j->isa->q8_rows(j->q8, r0, r1);
  return 0;
}

int bn_run_q8(bn_ctx *c, bn_q8mat *m, const float *x) {
  m->xq = (const int8_t *)scratch(c, BN_SCRATCH_Q8Q, (size_t)(m->T * m->K));
  m->xs = (const float *)scratch(c, BN_SCRATCH_Q8S, (size_t)(m->T * (m->K / 32)) * sizeof(float));
  if (!m->xq || !m->xs) return -1;
  float_job j = {c->isa, NULL, x, m->T, m};
  parallel_for(c, m->T, chunk_for(c, m->T, 2), 1, m->T * m->K * 8, COST_MAC, q8_prep_range, &j);
  parallel_for(c, m->N, chunk_for(c, m->N, 8), 16, m->N * m->K * m->T, COST_MAC, q8_range, &j);
  return 0;
}

/* ---- attention ---- */

typedef struct {
  const bn_isa *isa;
  const bn_attn *a;
  /* items: (token, KV head, a group of `group` of its query heads); the queries of an item share the key and value rows they read */
  int64_t group;
  float *scratch;
  size_t lane_floats;
} attn_job;

static int attention_range(void *p, int lane, int64_t i0, int64_t i1) {
  attn_job *j = (attn_job *)p;
  const bn_attn *a = j->a;
  const int64_t G = a->H / a->HKV, per_token = a->H / j->group;
  float *s = j->scratch + (size_t)lane * j->lane_floats;
  for (int64_t i = i0; i < i1; i++) {
    int64_t t = a->T - 1 - i / per_token; /* the longest rows first, so the short ones fill in at the end */
    int64_t h0 = (i % per_token) * j->group;
    j->isa->attention_item(a, t, h0 / G, h0, j->group, s);
  }
  return 0;
}

/* The largest divisor of G giving at least 4 items a lane (decode: few tokens), or G. */
static int64_t attention_group(int64_t G, int64_t T, int64_t HKV, int lanes) {
  for (int64_t d = G; d > 1; d--)
    if (G % d == 0 && T * HKV * (G / d) >= 4 * (int64_t)lanes) return d;
  return lanes > 1 ? 1 : G;
}

int bn_run_attention(bn_ctx *c, const bn_attn *a) {
  const int64_t G = a->H / a->HKV, len = a->pos0 + a->T;
  attn_job j = {c->isa, a, attention_group(G, a->T, a->HKV, c->lanes), NULL, 0};
  j.lane_floats = (bn_attn_scratch_floats(len, j.group, a->hd) + 15) & ~(size_t)15;
  j.scratch = (float *)scratch(c, BN_SCRATCH_ATTN, (size_t)c->lanes * j.lane_floats * sizeof(float));
  if (!j.scratch) return -1;
  int64_t items = a->T * (a->H / j.group);
  int64_t work = a->T * a->H * len * a->hd * 2;
  parallel_for(c, items, 1, 1, work, COST_MAC, attention_range, &j);
  return 0;
}

/* ---- row- and element-wise ops ---- */

typedef struct {
  const float *x, *w;
  float *out;
  int64_t n, heads, hd, pos0, dims;
  double eps;
  int mode, flag;
  int8_t *q;
  float *factors;
  int32_t *sums;
  const float *cos_, *sin_;
  float *gate;
  const float *up;
  uint16_t *dst;
} ops_job;

static int rmsnorm_range(void *p, int lane, int64_t t0, int64_t t1) {
  ops_job *j = (ops_job *)p;
  (void)lane;
  return bn_rmsnorm_rows(j->x, j->w, j->out, t0, t1, j->n, j->eps, j->mode, j->q, j->factors, j->sums);
}

int bn_run_rmsnorm(bn_ctx *c, const float *x, const float *w, float *out, int64_t T, int64_t n, double eps, int mode, int8_t *q, float *factors, int32_t *sums) {
  ops_job j = {.x = x, .w = w, .out = out, .n = n, .eps = eps, .mode = mode, .q = q, .factors = factors, .sums = sums};
  return parallel_for(c, T, chunk_for(c, T, 2), 1, T * n, COST_NORM_ELEMENT, rmsnorm_range, &j);
}

static int quantize_range(void *p, int lane, int64_t t0, int64_t t1) {
  ops_job *j = (ops_job *)p;
  (void)lane;
  return bn_quantize_rows(j->x, t0, t1, j->n, j->mode, j->q, j->factors, j->sums);
}

int bn_run_quantize(bn_ctx *c, const float *x, int64_t T, int64_t n, int mode, int8_t *q, float *factors, int32_t *sums) {
  ops_job j = {.x = x, .n = n, .mode = mode, .q = q, .factors = factors, .sums = sums};
  return parallel_for(c, T, chunk_for(c, T, 2), 1, T * n, COST_ELEMENT, quantize_range, &j);
}

static int rope_range(void *p, int lane, int64_t t0, int64_t t1) {
  ops_job *j = (ops_job *)p;
  (void)lane;
  bn_rope_rows(j->out, t0, t1, j->heads, j->hd, j->pos0, j->cos_, j->sin_, j->dims, j->flag);
  return 0;
}

void bn_run_rope(bn_ctx *c, float *x, int64_t T, int64_t heads, int64_t hd, int64_t pos0, const float *cos_, const float *sin_, int64_t dims, int neox) {
  ops_job j = {.out = x, .heads = heads, .hd = hd, .pos0 = pos0, .dims = dims, .flag = neox, .cos_ = cos_, .sin_ = sin_};
  parallel_for(c, T, chunk_for(c, T, 2), 1, T * heads * dims, COST_ELEMENT, rope_range, &j);
}

static int gated_range(void *p, int lane, int64_t i0, int64_t i1) {
  ops_job *j = (ops_job *)p;
  (void)lane;
  bn_gated_range(j->gate, j->up, i0, i1, j->flag);
  return 0;
}

void bn_run_gated(bn_ctx *c, float *gate, const float *up, int64_t n, int relu2) {
  ops_job j = {.gate = gate, .up = up, .flag = relu2};
  /* SiLU's exp costs some 30 operations an element: worth splitting sooner */
  parallel_for(c, n, chunk_for(c, n, 4), 1024, relu2 ? n : 16 * n, COST_ELEMENT, gated_range, &j);
}

static int add_range(void *p, int lane, int64_t i0, int64_t i1) {
  ops_job *j = (ops_job *)p;
  (void)lane;
  bn_add_range(j->out, j->x, i0, i1);
  return 0;
}

void bn_run_add(bn_ctx *c, float *x, const float *y, int64_t n) {
  ops_job j = {.out = x, .x = y};
  parallel_for(c, n, chunk_for(c, n, 4), 1024, n / 4, COST_ELEMENT, add_range, &j);
}

static int f16_range(void *p, int lane, int64_t i0, int64_t i1) {
  ops_job *j = (ops_job *)p;
  (void)lane;
  bn_f16_range(j->x, j->dst, i0, i1);
  return 0;
}

void bn_run_f16(bn_ctx *c, const float *src, uint16_t *dst, int64_t n) {
  ops_job j = {.x = src, .dst = dst};
  parallel_for(c, n, chunk_for(c, n, 4), 1024, 4 * n, COST_ELEMENT, f16_range, &j);
}
