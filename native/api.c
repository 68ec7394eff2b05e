/*
 * The addon's JavaScript face (N-API, plain C): argument conversion and checks, then jobs.c. The
 * TypeScript wrapper (src/node/native/kernels.ts) checks shapes first and throws the library's errors;
 * the checks here only guarantee that no call reads or writes outside the arrays it was given, whatever
 * JavaScript passes (a TypeError or RangeError, never a crash).
 *
 * Exports: isas(), create(threads, isa, spinUs, minSplit), destroy(ctx), stats(ctx), alloc(bytes),
 * ternary(ctx, q, factors, T, K, group, ...7 per matrix), float(ctx, …), q8(ctx, …), attention(ctx, …),
 * rmsnorm(ctx, …), quantize(ctx, …), rope(ctx, …), gated(ctx, …), add(ctx, …), f16(ctx, …).
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#if !defined(_WIN32)
#include <sys/mman.h>
#endif

#include "jobs.h"
#include "ops.h"

#define MAX_ARGS 48
#define MAX_MATRICES 6

typedef struct {
  napi_env env;
  napi_value argv[MAX_ARGS];
  size_t argc;
  int failed;
} call;

static napi_value fail(call *c, const char *kind, const char *msg) {
  if (!c->failed) {
    c->failed = 1;
    if (kind[0] == 'R') napi_throw_range_error(c->env, NULL, msg);
    else napi_throw_type_error(c->env, NULL, msg);
  }
  return NULL;
}

static int begin(call *c, napi_env env, napi_callback_info info, size_t want) {
  c->env = env;
  c->argc = MAX_ARGS;
  c->failed = 0;
  if (napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL) != napi_ok) return 0;
  if (c->argc < want) {
    char m[96];
    snprintf(m, sizeof m, "bitnet native: expected %zu arguments, got %zu", want, c->argc);
    fail(c, "T", m);
    return 0;
  }
  return 1;
}

static double num(call *c, size_t i, const char *what) {
  double v = 0;
  if (c->failed) return 0;
  if (i >= c->argc || napi_get_value_double(c->env, c->argv[i], &v) != napi_ok) {
    char m[96];
    snprintf(m, sizeof m, "bitnet native: %s must be a number", what);
    fail(c, "T", m);
  }
  return v;
}

/* A non-negative integer below 2^48 (every size here). */
static int64_t count(call *c, size_t i, const char *what) {
  double v = num(c, i, what);
  if (c->failed) return 0;
  if (!(v >= 0 && v < 281474976710656.0) || v != (double)(int64_t)v) {
    char m[96];
    snprintf(m, sizeof m, "bitnet native: %s must be a non-negative integer, got %g", what, v);
    fail(c, "R", m);
    return 0;
  }
  return (int64_t)v;
}

/* Typed array argument i of one of the types in `types` (bit mask of napi_typedarray_type) with at least `need` elements. */
static void *array(call *c, size_t i, unsigned types, int64_t need, const char *what, napi_typedarray_type *type_out) {
  if (c->failed) return NULL;
  bool is = false;
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void *data = NULL;
  if (i < c->argc && napi_is_typedarray(c->env, c->argv[i], &is) == napi_ok && is)
    napi_get_typedarray_info(c->env, c->argv[i], &type, &length, &data, NULL, NULL);
  if (!is || !((types >> type) & 1)) {
    char m[96];
    snprintf(m, sizeof m, "bitnet native: %s has the wrong array type", what);
    return fail(c, "T", m);
  }
  if ((int64_t)length < need || (need > 0 && !data)) {
    char m[128];
    snprintf(m, sizeof m, "bitnet native: %s holds %zu values, needs %lld", what, length, (long long)need);
    return fail(c, "R", m);
  }
  if (type_out) *type_out = type;
  return data;
}

/* Products of sizes, saturating (a hostile size must fail the length check, not wrap around). */
static int64_t mul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > INT64_MAX / b ? INT64_MAX : a * b;
}

#define T_I8 (1u << napi_int8_array)
#define T_U8 (1u << napi_uint8_array)
#define T_U16 (1u << napi_uint16_array)
#define T_I32 (1u << napi_int32_array)
#define T_F32 (1u << napi_float32_array)

static napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static napi_value undefined(napi_env env) {
  napi_value r;
  napi_get_undefined(env, &r);
  return r;
}

static napi_value no_memory(call *c, const char *what) {
  char m[96];
  snprintf(m, sizeof m, "bitnet native: out of memory for %s scratch", what);
  return fail(c, "R", m);
}

/* ---- contexts ---- */

typedef struct {
  bn_ctx *ctx;
} holder;

static void holder_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  holder *h = (holder *)data;
  bn_ctx_destroy(h->ctx);
  free(h);
}

static napi_value js_isas(napi_env env, napi_callback_info info) {
  (void)info;
  const bn_isa *list[8];
  int n = bn_isa_list(list, 8);
  napi_value arr;
  napi_create_array_with_length(env, (size_t)n, &arr);
  for (int i = 0; i < n; i++) {
    napi_value s;
    napi_create_string_utf8(env, list[i]->name, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, (uint32_t)i, s);
  }
  return arr;
}

/* create(threads, isa name or "", spinUs, minSplit) → an external holding the context. */
static napi_value js_create(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 4)) return NULL;
  int64_t threads = count(&c, 0, "threads");
  int64_t spin = count(&c, 2, "spinUs");
  int64_t min_split = count(&c, 3, "minSplit");
  char name[32] = "";
  size_t len = 0;
  if (c.failed) return NULL;
  if (napi_get_value_string_utf8(env, c.argv[1], name, sizeof name, &len) != napi_ok) return fail(&c, "T", "bitnet native: isa must be a string");
  if (threads < 1 || threads > 1024) return fail(&c, "R", "bitnet native: threads must be between 1 and 1024");
  const bn_isa *isa = bn_isa_pick(name);
  if (!isa) {
    char m[96];
    snprintf(m, sizeof m, "bitnet native: this CPU cannot run the '%s' kernels", name);
    return fail(&c, "R", m);
  }
  holder *h = (holder *)calloc(1, sizeof *h);
  if (!h) return fail(&c, "R", "bitnet native: out of memory");
  h->ctx = bn_ctx_create(isa, (int)threads, (int)spin, min_split);
  if (!h->ctx) {
    free(h);
    return fail(&c, "R", "bitnet native: could not start the threads");
  }
  napi_value ext;
  napi_create_external(env, h, holder_finalize, NULL, &ext);
  return ext;
}

static holder *holder_of(call *c, size_t i) {
  holder *h = NULL;
  if (i >= c->argc || napi_get_value_external(c->env, c->argv[i], (void **)&h) != napi_ok || !h) {
    fail(c, "T", "bitnet native: not a kernel context");
    return NULL;
  }
  return h;
}

/* destroy(ctx): joins the threads now; later calls throw "closed". */
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 1)) return NULL;
  holder *h = holder_of(&c, 0);
  if (!h) return NULL;
  bn_ctx_destroy(h->ctx);
  h->ctx = NULL;
  return undefined(env);
}

static bn_ctx *ctx_of(call *c) {
  if (c->failed) return NULL;
  holder *h = holder_of(c, 0);
  if (!h) return NULL;
  if (!h->ctx) {
    fail(c, "T", "bitnet native: the kernels were closed");
    return NULL;
  }
  return h->ctx;
}

/* stats(ctx) → { isa, lanes, splitTasks } */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 1)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  if (!ctx) return NULL;
  napi_value o, s;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, ctx->isa->name, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "isa", s);
  napi_set_named_property(env, o, "lanes", number(env, ctx->lanes));
  napi_set_named_property(env, o, "splitTasks", number(env, (double)bn_pool_split_tasks(ctx->pool)));
  return o;
}

/* ---- memory ---- */

#define HUGE_MIN (2u << 20)

static void free_region(napi_env env, void *data, void *hint) {
  size_t bytes = (size_t)(uintptr_t)hint;
  int64_t adjusted;
  napi_adjust_external_memory(env, -(int64_t)bytes, &adjusted);
#if !defined(_WIN32)
  if (bytes >= HUGE_MIN) {
    munmap(data, bytes);
    return;
  }
#endif
  free(data);
}

/*
 * alloc(bytes) → an ArrayBuffer of zeros, 64-aligned (large ones page-aligned, in transparent huge pages
 * where the system allows), or undefined where external buffers are not allowed (then JavaScript
 * allocates; kernels cope with any alignment). Not limited to 4 GiB.
 */
static napi_value js_alloc(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 1)) return NULL;
  int64_t bytes = count(&c, 0, "bytes");
  if (c.failed) return NULL;
  size_t n = bytes > 0 ? (size_t)bytes : 1;
  void *p = NULL;
#if !defined(_WIN32)
  if (n >= HUGE_MIN) {
    p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) p = NULL;
#if defined(MADV_HUGEPAGE)
    else madvise(p, n, MADV_HUGEPAGE);
#endif
  } else if (posix_memalign(&p, 64, n) == 0) {
    memset(p, 0, n);
  } else {
    p = NULL;
  }
#endif
  if (!p) return undefined(env);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, (size_t)bytes, free_region, (void *)(uintptr_t)n, &ab) != napi_ok) {
#if !defined(_WIN32)
    if (n >= HUGE_MIN) munmap(p, n);
    else
#endif
      free(p);
    return undefined(env);
  }
  int64_t adjusted;
  napi_adjust_external_memory(env, (int64_t)n, &adjusted);
  return ab;
}

/* ---- matmuls ---- */

static int64_t ternary_bytes(int format, int64_t N, int64_t K) {
  if (format == BN_TQ2_0) return mul(mul(N, K / BN_CHUNK), BN_TQ2_BYTES);
  if (format == BN_TQ1_0) return mul(mul(N, K / BN_CHUNK), BN_TQ1_BYTES);
  return mul(N, K / 4);
}

/*
 * ternary(ctx, q, factors, T, K, group, then per matrix: format, data, N, blockScales, gamma (NaN: none),
 * outScale, out). All matrices read the same activations; they run as one pool task.
 */
static napi_value js_ternary(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 13)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  int64_t T = count(&c, 3, "tokens"), K = count(&c, 4, "cols"), group = count(&c, 5, "group");
  if (c.failed) return NULL;
  if (K == 0 || (group != K && group != BN_CHUNK) || K % group) return fail(&c, "R", "bitnet native: the activation group must be the row length or 256");
  const int8_t *q = (const int8_t *)array(&c, 1, T_I8, mul(T, K), "activations", NULL);
  const float *factors = (const float *)array(&c, 2, T_F32, mul(T, K / group), "activation factors", NULL);
  size_t count_m = (c.argc - 6) / 7;
  if ((c.argc - 6) % 7 || count_m < 1 || count_m > MAX_MATRICES) return fail(&c, "T", "bitnet native: ternary takes 7 arguments per matrix");
  bn_tmat mats[MAX_MATRICES];
  for (size_t k = 0; k < count_m && !c.failed; k++) {
    size_t a = 6 + 7 * k;
    bn_tmat *m = &mats[k];
    m->format = (int)count(&c, a, "format");
    m->N = count(&c, a + 2, "rows");
    m->K = K;
    if (c.failed) return NULL;
    if (m->format > BN_I2_S) return fail(&c, "R", "bitnet native: unknown ternary format");
    if (m->format == BN_I2_S ? K % 128 : K % BN_CHUNK) return fail(&c, "R", "bitnet native: the row length does not fit the format's blocks");
    m->data = (const uint8_t *)array(&c, a + 1, T_U8, ternary_bytes(m->format, m->N, K), "weights", NULL);
    m->gamma = num(&c, a + 4, "gamma");
    m->has_gamma = m->gamma == m->gamma;
    m->per_row = m->has_gamma && group == K;
    if (m->format == BN_I2_S && !m->has_gamma) return fail(&c, "R", "bitnet native: i2_s needs its tensor scale");
    if (!m->per_row && K % BN_CHUNK) return fail(&c, "R", "bitnet native: per-block scaling needs 256-wide rows");
    m->block_scales = m->has_gamma ? NULL : (const float *)array(&c, a + 3, T_F32, mul(m->N, K / BN_CHUNK), "block scales", NULL);
    m->out_scale = num(&c, a + 5, "outScale");
    m->out = (float *)array(&c, a + 6, T_F32, mul(T, m->N), "output", NULL);
  }
  if (c.failed || !ctx) return NULL;
  if (T > 0 && bn_run_ternary(ctx, mats, (int)count_m, q, factors, T, K, group) != 0) return no_memory(&c, "ternary");
  return undefined(env);
}

/*
 * float and q8 end their arguments alike: N, K at `at` and `at` + 1, then x [T, K], T, outScale, out [T, N].
 * The sizes are read first, so that the weights' length can be checked before the buffers.
 */
static void matmul_sizes(call *c, size_t at, int64_t *N, int64_t *K, int64_t *T) {
  *N = count(c, at, "rows");
  *K = count(c, at + 1, "cols");
  *T = count(c, at + 3, "tokens");
}

/* The input x (returned), outScale and out of those arguments. */
static const float *matmul_buffers(call *c, size_t at, int64_t N, int64_t K, int64_t T, double *out_scale, float **out) {
  const float *x = (const float *)array(c, at + 2, T_F32, mul(T, K), "input", NULL);
  *out_scale = num(c, at + 4, "outScale");
  *out = (float *)array(c, at + 5, T_F32, mul(T, N), "output", NULL);
  return x;
}

/* float(ctx, format, data, N, K, x, T, outScale, out): f32 / f16 / bf16 weights. */
static napi_value js_float(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 9)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  bn_fmat m;
  int64_t T;
  m.format = (int)count(&c, 1, "format");
  matmul_sizes(&c, 3, &m.N, &m.K, &T);
  if (c.failed) return NULL;
  if (m.format > BN_BF16) return fail(&c, "R", "bitnet native: unknown float format");
  m.data = array(&c, 2, m.format == BN_F32 ? T_F32 : T_U16, mul(m.N, m.K), "weights", NULL);
  const float *x = matmul_buffers(&c, 3, m.N, m.K, T, &m.out_scale, &m.out);
  if (c.failed || !ctx) return NULL;
  if (T > 0) bn_run_float(ctx, &m, x, T);
  return undefined(env);
}

/* q8(ctx, data, N, K, x, T, outScale, out): Q8_0 weights, activations quantized to Q8_0 here. */
static napi_value js_q8(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 8)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  bn_q8mat m;
  memset(&m, 0, sizeof m);
  matmul_sizes(&c, 2, &m.N, &m.K, &m.T);
  if (c.failed) return NULL;
  if (m.K % 32) return fail(&c, "R", "bitnet native: q8_0 needs rows of whole 32-value blocks");
  m.data = (const uint8_t *)array(&c, 1, T_U8, mul(mul(m.N, m.K / 32), BN_Q8_BYTES), "weights", NULL);
  const float *x = matmul_buffers(&c, 2, m.N, m.K, m.T, &m.out_scale, &m.out);
  if (c.failed || !ctx) return NULL;
  if (m.T > 0 && bn_run_q8(ctx, &m, x) != 0) return no_memory(&c, "q8_0");
  return undefined(env);
}

/* attention(ctx, out, q, keys, values, pos0, T, H, HKV, hd): keys/values Float32Array or Uint16Array (f16). */
static napi_value js_attention(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 10)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  bn_attn a;
  a.pos0 = count(&c, 5, "pos0");
  a.T = count(&c, 6, "tokens");
  a.H = count(&c, 7, "heads");
  a.HKV = count(&c, 8, "kv heads");
  a.hd = count(&c, 9, "head size");
  if (c.failed) return NULL;
  if (a.H == 0 || a.HKV == 0 || a.hd == 0 || a.H % a.HKV) return fail(&c, "R", "bitnet native: heads must be a multiple of kv heads, both positive");
  int64_t dim = mul(a.H, a.hd), cache = mul(mul(a.pos0 + a.T, a.HKV), a.hd);
  a.out = (float *)array(&c, 1, T_F32, mul(a.T, dim), "attention output", NULL);
  a.q = (const float *)array(&c, 2, T_F32, mul(a.T, dim), "queries", NULL);
  napi_typedarray_type kt = napi_float32_array, vt = napi_float32_array;
  a.keys = array(&c, 3, T_F32 | T_U16, cache, "key cache", &kt);
  a.values = array(&c, 4, T_F32 | T_U16, cache, "value cache", &vt);
  if (c.failed || !ctx) return NULL;
  if (kt != vt) return fail(&c, "T", "bitnet native: keys and values must have the same type");
  a.half = kt == napi_uint16_array;
  if (a.T > 0 && bn_run_attention(ctx, &a) != 0) return no_memory(&c, "attention");
  return undefined(env);
}

/* ---- row- and element-wise ops ---- */

/* Quantization outputs for [T, n] in mode (-1: none), or NULL; sets *ok = 0 on a bad argument. */
static int quant_outputs(call *c, size_t at, int64_t T, int64_t n, int mode, int8_t **q, float **f, int32_t **s) {
  if (mode == BN_QUANT_NONE) return 1;
  if (mode != BN_QUANT_TOKEN && mode != BN_QUANT_BLOCK256) return fail(c, "R", "bitnet native: unknown quantization mode"), 0;
  if (mode == BN_QUANT_BLOCK256 && n % BN_CHUNK) return fail(c, "R", "bitnet native: block quantization needs rows of whole 256-blocks"), 0;
  int64_t groups = mode == BN_QUANT_TOKEN ? T : mul(T, n / BN_CHUNK);
  *q = (int8_t *)array(c, at, T_I8, mul(T, n), "activations", NULL);
  *f = (float *)array(c, at + 1, T_F32, groups, "activation factors", NULL);
  *s = (int32_t *)array(c, at + 2, T_I32, groups, "activation sums", NULL);
  return !c->failed;
}

/* rmsnorm(ctx, x, w, out, T, n, eps, mode, q, factors, sums) → status (mode -1: no quantization, q… ignored). */
static napi_value js_rmsnorm(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 11)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  int64_t T = count(&c, 4, "tokens"), n = count(&c, 5, "width");
  double eps = num(&c, 6, "eps");
  int mode = (int)num(&c, 7, "mode");
  if (c.failed) return NULL;
  const float *x = (const float *)array(&c, 1, T_F32, mul(T, n), "rmsnorm input", NULL);
  const float *w = (const float *)array(&c, 2, T_F32, n, "rmsnorm weight", NULL);
  float *out = (float *)array(&c, 3, T_F32, mul(T, n), "rmsnorm output", NULL);
  int8_t *q = NULL;
  float *f = NULL;
  int32_t *s = NULL;
  if (!quant_outputs(&c, 8, T, n, mode, &q, &f, &s) || !ctx) return NULL;
  return number(env, T > 0 && n > 0 ? bn_run_rmsnorm(ctx, x, w, out, T, n, eps, mode, q, f, s) : 0);
}

/* quantize(ctx, x, T, n, mode, q, factors, sums) → status */
static napi_value js_quantize(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 8)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  int64_t T = count(&c, 2, "tokens"), n = count(&c, 3, "width");
  int mode = (int)num(&c, 4, "mode");
  if (c.failed) return NULL;
  if (mode == BN_QUANT_NONE) return fail(&c, "R", "bitnet native: unknown quantization mode");
  const float *x = (const float *)array(&c, 1, T_F32, mul(T, n), "activations input", NULL);
  int8_t *q = NULL;
  float *f = NULL;
  int32_t *s = NULL;
  if (!quant_outputs(&c, 5, T, n, mode, &q, &f, &s) || !ctx) return NULL;
  return number(env, T > 0 && n > 0 ? bn_run_quantize(ctx, x, T, n, mode, q, f, s) : 0);
}

/* rope(ctx, x, T, heads, hd, pos0, cos, sin, dims, neox) */
static napi_value js_rope(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 10)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  int64_t T = count(&c, 2, "tokens"), heads = count(&c, 3, "heads"), hd = count(&c, 4, "head size");
  int64_t pos0 = count(&c, 5, "pos0"), dims = count(&c, 8, "rotary dims");
  int neox = (int)num(&c, 9, "pairing");
  if (c.failed) return NULL;
  if (dims % 2 || dims > hd) return fail(&c, "R", "bitnet native: rotary dims must be even and at most the head size");
  float *x = (float *)array(&c, 1, T_F32, mul(mul(T, heads), hd), "rope input", NULL);
  const float *cs = (const float *)array(&c, 6, T_F32, mul(pos0 + T, dims / 2), "rope table", NULL);
  const float *sn = (const float *)array(&c, 7, T_F32, mul(pos0 + T, dims / 2), "rope table", NULL);
  if (c.failed || !ctx) return NULL;
  if (T > 0 && dims > 0) bn_run_rope(ctx, x, T, heads, hd, pos0, cs, sn, dims, neox);
  return undefined(env);
}

/* gated(ctx, gate, up, n, relu2) */
static napi_value js_gated(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 5)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  int64_t n = count(&c, 3, "count");
  int relu2 = (int)num(&c, 4, "activation");
  float *g = (float *)array(&c, 1, T_F32, n, "gate", NULL);
  const float *u = (const float *)array(&c, 2, T_F32, n, "up", NULL);
  if (c.failed || !ctx) return NULL;
  bn_run_gated(ctx, g, u, n, relu2);
  return undefined(env);
}

/* add(ctx, x, y, n) */
static napi_value js_add(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 4)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  int64_t n = count(&c, 3, "count");
  float *x = (float *)array(&c, 1, T_F32, n, "residual", NULL);
  const float *y = (const float *)array(&c, 2, T_F32, n, "residual addend", NULL);
  if (c.failed || !ctx) return NULL;
  bn_run_add(ctx, x, y, n);
  return undefined(env);
}

/* f16(ctx, src, dst, at, n): dst[at + i] = f16 bits of src[i] */
static napi_value js_f16(napi_env env, napi_callback_info info) {
  call c;
  if (!begin(&c, env, info, 5)) return NULL;
  bn_ctx *ctx = ctx_of(&c);
  int64_t at = count(&c, 3, "offset"), n = count(&c, 4, "count");
  const float *src = (const float *)array(&c, 1, T_F32, n, "f16 conversion input", NULL);
  uint16_t *dst = (uint16_t *)array(&c, 2, T_U16, at + n, "f16 conversion output", NULL);
  if (c.failed || !ctx) return NULL;
  bn_run_f16(ctx, src, dst + at, n);
  return undefined(env);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"isas", NULL, js_isas, NULL, NULL, NULL, napi_default, NULL},
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"destroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"alloc", NULL, js_alloc, NULL, NULL, NULL, napi_default, NULL},
      {"ternary", NULL, js_ternary, NULL, NULL, NULL, napi_default, NULL},
      {"float", NULL, js_float, NULL, NULL, NULL, napi_default, NULL},
      {"q8", NULL, js_q8, NULL, NULL, NULL, napi_default, NULL},
      {"attention", NULL, js_attention, NULL, NULL, NULL, napi_default, NULL},
      {"rmsnorm", NULL, js_rmsnorm, NULL, NULL, NULL, napi_default, NULL},
      {"quantize", NULL, js_quantize, NULL, NULL, NULL, napi_default, NULL},
      {"rope", NULL, js_rope, NULL, NULL, NULL, napi_default, NULL},
      {"gated", NULL, js_gated, NULL, NULL, NULL, napi_default, NULL},
      {"add", NULL, js_add, NULL, NULL, NULL, napi_default, NULL},
      {"f16", NULL, js_f16, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof *props, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
