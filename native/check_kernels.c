/*
 * A stand-alone check of every kernel set this CPU runs against the portable one, for builds that the
 * JavaScript tests cannot reach (arm64, cross-compiled and run under qemu by
 * test/kernels/native-arm64.test.ts). The portable set is itself held to the TypeScript reference by
 * the JavaScript tests, so agreeing with it bit for bit is agreeing with the reference:
 * - ternary (every format, per-row and per-chunk scaling, both groups, 1-9 tokens, odd row counts) and
 *   Q8_0 matmuls: the same bits;
 * - attention: within 1e-5 of the portable set (the sets with FMA fuse its multiply-adds), and each
 *   position the same bits whether a prompt is attended in one call or in chunks;
 * - float matmuls: within (K/8 + 8)·2⁻²⁴·Σ|w·x| of a double-precision sum, and each token's result the
 *   same bits alone and in a batch.
 * Inputs are random bytes: every byte is a valid TQ1_0 group of trits, and TQ2_0/I2_S code 3 is
 * computed the same way by every set. Exit status 0 when all agree; the first disagreement is printed.
 * Not part of the addon.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "jobs.h"

static uint64_t seed = 0x9e3779b97f4a7c15ull;
static uint32_t next(void) {
  seed ^= seed << 13;
  seed ^= seed >> 7;
  seed ^= seed << 17;
  return (uint32_t)(seed >> 16);
}
static float uniform(void) { return (float)(next() & 0xffffff) / 16777216.0f - 0.5f; }

static int failures = 0;
#define FAIL(...)                     \
  do {                                \
    if (failures++ < 10) {            \
      fprintf(stderr, __VA_ARGS__);   \
      fputc('\n', stderr);            \
    }                                 \
  } while (0)

static void *fill(size_t bytes) {
  uint8_t *p = (uint8_t *)malloc(bytes + 64);
  for (size_t i = 0; i < bytes + 64; i++) p[i] = (uint8_t)next();
  return p;
}

/* A random f16 scale in [2^-8, 2^-4). */
static uint16_t scale16(void) { return (uint16_t)(0x1c00 + (next() & 0xfff)); }

static void check_ternary(bn_ctx *ref, bn_ctx *c) {
  static const int64_t widths[3][4] = {{256, 512, 768, 2560}, {256, 512, 768, 2560}, {128, 384, 512, 2560}};
  static const int64_t rows[] = {1, 3, 17, 70};
  static const int64_t tokens[] = {1, 2, 5, 9};
  for (int format = 0; format < 3; format++)
    for (int wi = 0; wi < 4; wi++)
      for (int ri = 0; ri < 4; ri++)
        for (int ti = 0; ti < 4; ti++)
          for (int mode = 0; mode < 4; mode++) {
            int64_t K = widths[format][wi], N = rows[ri], T = tokens[ti];
            int has_gamma = format == BN_I2_S || (mode & 1), group_chunk = mode >> 1;
            if (K % 256 && (group_chunk || !has_gamma)) continue;
            int64_t group = group_chunk ? 256 : K, blocks = N * K / 256 + 1;
            size_t bytes = format == BN_TQ2_0 ? blocks * 66 : format == BN_TQ1_0 ? blocks * 54 : N * K / 4;
            uint8_t *data = (uint8_t *)fill(bytes);
            float *scales = (float *)malloc(blocks * sizeof(float));
            for (int64_t b = 0; b < blocks; b++) scales[b] = bn_f16_to_f32(scale16());
            int8_t *q = (int8_t *)fill(T * K);
            float *factors = (float *)malloc(T * (K / group) * sizeof(float));
            for (int64_t i = 0; i < T * (K / group); i++) factors[i] = 0.01f + (float)(next() % 1000) / 1e5f;
            float *want = (float *)malloc(T * N * 4), *got = (float *)malloc(T * N * 4);
            bn_tmat m = {format, has_gamma && !group_chunk, data, N, K, has_gamma ? NULL : scales, 0.0234375, has_gamma, ri & 1 ? 1.0 / 3 : 1.0, want};
            bn_run_ternary(ref, &m, 1, q, factors, T, K, group);
            m.out = got;
            bn_run_ternary(c, &m, 1, q, factors, T, K, group);
            for (int64_t i = 0; i < T * N; i++)
              if (bn_f32_bits(want[i]) != bn_f32_bits(got[i])) {
                FAIL("%s ternary format %d [%lld, %lld] T=%lld mode %d: out[%lld] %g, portable %g", c->isa->name, format, (long long)N, (long long)K, (long long)T, mode, (long long)i, got[i], want[i]);
                break;
              }
            free(data), free(scales), free(q), free(factors), free(want), free(got);
          }
}

static void check_q8(bn_ctx *ref, bn_ctx *c) {
  static const int64_t shapes[][2] = {{1, 32}, {5, 96}, {17, 512}, {33, 2560}};
  for (int s = 0; s < 4; s++)
    for (int64_t T = 1; T <= 5; T += 2) {
      int64_t N = shapes[s][0], K = shapes[s][1], nb = N * K / 32;
      uint8_t *data = (uint8_t *)fill(nb * 34);
      for (int64_t b = 0; b < nb; b++) {
        uint16_t h = scale16();
        data[b * 34] = (uint8_t)h, data[b * 34 + 1] = (uint8_t)(h >> 8);
      }
      float *x = (float *)malloc(T * K * 4);
      for (int64_t i = 0; i < T * K; i++) x[i] = uniform();
      float *want = (float *)malloc(T * N * 4), *got = (float *)malloc(T * N * 4);
      bn_q8mat m = {data, N, K, T, NULL, NULL, 0.75, want};
      bn_run_q8(ref, &m, x);
      m.out = got;
      bn_run_q8(c, &m, x);
      for (int64_t i = 0; i < T * N; i++)
        if (bn_f32_bits(want[i]) != bn_f32_bits(got[i])) {
          FAIL("%s q8_0 [%lld, %lld] T=%lld: out[%lld] %g, portable %g", c->isa->name, (long long)N, (long long)K, (long long)T, (long long)i, got[i], want[i]);
          break;
        }
      free(data), free(x), free(want), free(got);
    }
}

static float weight(int format, const void *w, int64_t i) {
  if (format == BN_F16) return bn_f16_to_f32(((const uint16_t *)w)[i]);
  if (format == BN_BF16) return bn_bf16_to_f32(((const uint16_t *)w)[i]);
  return ((const float *)w)[i];
}

static void check_float(bn_ctx *c) {
  static const int64_t shapes[][2] = {{1, 1}, {3, 7}, {17, 13}, {9, 256}, {37, 2560}, {130, 129}};
  for (int format = 0; format < 3; format++)
    for (int s = 0; s < 6; s++) {
      int64_t N = shapes[s][0], K = shapes[s][1], T = 7;
      void *w;
      if (format == BN_F32) {
        float *f = (float *)malloc(N * K * 4);
        for (int64_t i = 0; i < N * K; i++) f[i] = uniform();
        w = f;
      } else {
        uint16_t *h = (uint16_t *)malloc(N * K * 2);
        for (int64_t i = 0; i < N * K; i++) h[i] = (uint16_t)(next() & 0xbfff); /* finite */
        w = h;
      }
      float *x = (float *)malloc(T * K * 4), *all = (float *)malloc(T * N * 4), *one = (float *)malloc(N * 4);
      for (int64_t i = 0; i < T * K; i++) x[i] = uniform() * 4;
      bn_fmat m = {format, w, N, K, 1.0, all};
      bn_run_float(c, &m, x, T);
      for (int64_t t = 0; t < T; t++) {
        m.out = one;
        bn_run_float(c, &m, x + t * K, 1);
        for (int64_t n = 0; n < N; n++) {
          if (bn_f32_bits(one[n]) != bn_f32_bits(all[t * N + n])) FAIL("%s float format %d [%lld, %lld]: token %lld alone %g, in a batch %g", c->isa->name, format, (long long)N, (long long)K, (long long)t, one[n], all[t * N + n]);
          double sum = 0, mag = 0;
          for (int64_t k = 0; k < K; k++) {
            double p = (double)weight(format, w, n * K + k) * x[t * K + k];
            sum += p, mag += fabs(p);
          }
          if (fabs(one[n] - sum) > (K / 8.0 + 8) * ldexp(1, -24) * mag + 1e-37) FAIL("%s float format %d [%lld, %lld]: %g, double %g", c->isa->name, format, (long long)N, (long long)K, one[n], sum);
        }
      }
      free(w), free(x), free(all), free(one);
    }
}

static void check_attention(bn_ctx *ref, bn_ctx *c) {
  static const int64_t shapes[][3] = {{4, 4, 64}, {8, 2, 128}, {20, 5, 128}, {6, 2, 40}};
  for (int s = 0; s < 4; s++)
    for (int half = 0; half < 2; half++) {
      int64_t H = shapes[s][0], HKV = shapes[s][1], hd = shapes[s][2], len = 45, dim = H * hd;
      float *q = (float *)malloc(len * dim * 4), *kv[2];
      for (int64_t i = 0; i < len * dim; i++) q[i] = uniform() * 3;
      for (int j = 0; j < 2; j++) {
        kv[j] = (float *)malloc(len * HKV * hd * 4);
        for (int64_t i = 0; i < len * HKV * hd; i++) kv[j][i] = uniform() * 2;
        if (half)
          for (int64_t i = 0; i < len * HKV * hd; i++) ((uint16_t *)kv[j])[i] = bn_f32_to_f16(kv[j][i]);
      }
      float *want = (float *)malloc(len * dim * 4), *got = (float *)malloc(len * dim * 4), *part = (float *)malloc(len * dim * 4);
      bn_attn a = {want, q, kv[0], kv[1], half, 0, len, H, HKV, hd};
      bn_run_attention(ref, &a);
      a.out = got;
      bn_run_attention(c, &a);
      for (int64_t p0 = 0; p0 < len; p0 += 7) { /* the same prompt in chunks of 7 */
        bn_attn b = {part + p0 * dim, q + p0 * dim, kv[0], kv[1], half, p0, len - p0 < 7 ? len - p0 : 7, H, HKV, hd};
        bn_run_attention(c, &b);
      }
      for (int64_t i = 0; i < len * dim; i++) {
        if (fabsf(want[i] - got[i]) > 1e-5f * (1 + fabsf(want[i]))) {
          FAIL("%s attention H %lld/%lld hd %lld half %d: out[%lld] %g, portable %g", c->isa->name, (long long)H, (long long)HKV, (long long)hd, half, (long long)i, got[i], want[i]);
          break;
        }
        if (bn_f32_bits(part[i]) != bn_f32_bits(got[i])) {
          FAIL("%s attention H %lld/%lld hd %lld half %d: position %lld differs in chunks", c->isa->name, (long long)H, (long long)HKV, (long long)hd, half, (long long)(i / dim));
          break;
        }
      }
      free(q), free(kv[0]), free(kv[1]), free(want), free(got), free(part);
    }
}

int main(void) {
  const bn_isa *list[8];
  int n = bn_isa_list(list, 8);
  bn_ctx *ref = bn_ctx_create(bn_isa_pick("generic"), 1, 0, 1 << 18);
  for (int i = 0; i < n; i++) {
    for (int threads = 1; threads <= 3; threads += 2) {
      bn_ctx *c = bn_ctx_create(list[i], threads, 50, threads > 1 ? 0 : 1 << 18);
      check_ternary(ref, c);
      check_q8(ref, c);
      check_float(c);
      check_attention(ref, c);
      bn_ctx_destroy(c);
    }
    printf("%s: %s\n", list[i]->name, failures ? "FAILED" : "agrees with the portable kernels");
  }
  bn_ctx_destroy(ref);
  return failures ? 1 : 0;
}
