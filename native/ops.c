/*
 * The forward-pass ops other than matmuls and attention, bit-identical to the TypeScript reference
 * (src/kernels/ops.ts, activations.ts, src/quant/absmax.ts, src/quant/half.ts): RMSNorm fused with int8
 * quantization (per token and per 256-block), quantization alone, RoPE, ReLU², the residual add and
 * float32 → f16; SiLU within 1 ulp (its exp is this file's, not the JavaScript engine's Math.exp).
 *
 * How each matches: the reference computes in float64 and stores float32. Where that is one float32
 * operation in disguise (a product or sum of two float32, a quotient) plain float arithmetic gives the
 * same bits; where it is not (x0·c − x1·s, g·g·up, the sum of squares), this file computes in double as
 * the reference does, in the same order. Functions work on a range of tokens or elements, so that api.c
 * can split large calls across the pool; a row's result never depends on the range.
 *
 * Not here: Q8_0 activation quantization and the ternary activation layouts (prep.c).
 */
#include <math.h>

#include "bn_math.h"
#include "ops.h"

#define INF_BITS 0x7f800000u
/* 1.5·2^23: adding it rounds a float32 of magnitude below 2^22 to an integer, half to even. */
#define MAGIC_F32 12582912.0f

/* max |x[i]| as bits: for non-negative floats the integer order is the value order, and anything ≥ +Inf's bits is not finite. */
static uint32_t absmax_bits(const float *x, int64_t n) {
  uint32_t m = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t b = bn_f32_bits(x[i]) & 0x7fffffffu;
    m = b > m ? b : m;
  }
  return m;
}

/* q[i] = clamp(roundHalfEven(f32(x[i]·s)), -128, 127); returns Σq. |x[i]·s| stays below 2^22 in both rules. */
static int32_t quantize_span(const float *x, int64_t n, float s, int8_t *q) {
  int32_t sum = 0;
  for (int64_t i = 0; i < n; i++) {
    float v = (x[i] * s + MAGIC_F32) - MAGIC_F32;
    v = v > 127.0f ? 127.0f : v;
    v = v < -128.0f ? -128.0f : v;
    int32_t k = (int32_t)v;
    q[i] = (int8_t)k;
    sum += k;
  }
  return sum;
}

/* BitNet's per-token rule: s = f32(127 / max(amax, f32(1e-5))), factor = f32(1/s). */
static int quantize_token(const float *x, int64_t n, int8_t *q, float *factor, int32_t *sum) {
  uint32_t bits = absmax_bits(x, n);
  if (bits >= INF_BITS) return BN_STATUS_NON_FINITE;
  float amax = bn_f32_from(bits);
  float s = (float)(127.0 / (double)(amax > 1e-5f ? amax : 1e-5f));
  *factor = (float)(1.0 / (double)s);
  *sum = quantize_span(x, n, s, q);
  return BN_STATUS_OK;
}

/* llama.cpp's Q8_K per 256-block: iscale = f32(-127/max) with max the first value of largest |x|, signed. */
static int quantize_blocks(const float *x, int64_t n, int8_t *q, float *d, int32_t *sums) {
  for (int64_t b = 0; b < n / BN_CHUNK; b++) {
    const float *xb = x + b * BN_CHUNK;
    int8_t *qb = q + b * BN_CHUNK;
    uint32_t bits = absmax_bits(xb, BN_CHUNK);
    if (bits >= INF_BITS) return BN_STATUS_NON_FINITE;
    if (bits == 0) {
      memset(qb, 0, BN_CHUNK);
      d[b] = 0.0f;
      sums[b] = 0;
      continue;
    }
    float amax = bn_f32_from(bits), max = 0.0f;
    for (int i = 0; i < BN_CHUNK; i++)
      if ((bn_f32_bits(xb[i]) & 0x7fffffffu) == bits) {
        max = xb[i];
        break;
      }
    float iscale = (float)(-127.0 / (double)max);
    /* past this, ggml's rounding is not half to even: the reference takes its exact path */
    if (!(fabsf(iscale) * amax <= 4194303.0f)) return BN_STATUS_NEEDS_REFERENCE;
    int32_t sum = 0;
    for (int i = 0; i < BN_CHUNK; i++) {
      float v = (iscale * xb[i] + MAGIC_F32) - MAGIC_F32;
      v = v > 127.0f ? 127.0f : v;
      int32_t k = (int32_t)(int8_t)(int32_t)v;
      qb[i] = (int8_t)k;
      sum += k;
    }
    sums[b] = sum;
    d[b] = (float)(1.0 / (double)iscale);
  }
  return BN_STATUS_OK;
}

int bn_quantize_rows(const float *x, int64_t t0, int64_t t1, int64_t n, int mode, int8_t *q, float *factors, int32_t *sums) {
  for (int64_t t = t0; t < t1; t++) {
    int status;
    if (mode == BN_QUANT_TOKEN) status = quantize_token(x + t * n, n, q + t * n, factors + t, sums + t);
    else status = quantize_blocks(x + t * n, n, q + t * n, factors + t * (n / BN_CHUNK), sums + t * (n / BN_CHUNK));
    if (status != BN_STATUS_OK) return status;
  }
  return BN_STATUS_OK;
}

/* Every row is normalized even after a quantization status other than OK, so that the caller can
 * quantize `out` with the reference (out may be x: the input is gone by then). */
int bn_rmsnorm_rows(const float *x, const float *w, float *out, int64_t t0, int64_t t1, int64_t n, double eps, int mode, int8_t *q, float *factors, int32_t *sums) {
  int result = BN_STATUS_OK;
  for (int64_t t = t0; t < t1; t++) {
    const float *xt = x + t * n;
    float *ot = out + t * n;
    double ss = 0.0; /* in index order, as the reference: each square is exact in double, the sums are not */
    for (int64_t i = 0; i < n; i++) ss += (double)xt[i] * (double)xt[i];
    float scale = (float)(1.0 / sqrt((double)(float)(ss / (double)n) + eps));
    for (int64_t i = 0; i < n; i++) ot[i] = (xt[i] * scale) * w[i];
    if (mode != BN_QUANT_NONE && result == BN_STATUS_OK) result = bn_quantize_rows(out, t, t + 1, n, mode, q, factors, sums);
  }
  return result;
}

void bn_rope_rows(float *x, int64_t t0, int64_t t1, int64_t heads, int64_t hd, int64_t pos0, const float *cos_, const float *sin_, int64_t dims, int neox) {
  const int64_t half = dims / 2;
  for (int64_t t = t0; t < t1; t++) {
    const float *c = cos_ + (pos0 + t) * half, *s = sin_ + (pos0 + t) * half;
    for (int64_t h = 0; h < heads; h++) {
      float *p = x + (t * heads + h) * hd;
      if (neox) {
        for (int64_t i = 0; i < half; i++) {
          double a = p[i], b = p[i + half];
          p[i] = (float)(a * c[i] - b * s[i]);
          p[i + half] = (float)(a * s[i] + b * c[i]);
        }
      } else {
        for (int64_t i = 0; i < half; i++) {
          double a = p[2 * i], b = p[2 * i + 1];
          p[2 * i] = (float)(a * c[i] - b * s[i]);
          p[2 * i + 1] = (float)(a * s[i] + b * c[i]);
        }
      }
    }
  }
}

double bn_exp_f64(double x) { return bn_exp(x); }

void bn_gated_range(float *gate, const float *up, int64_t i0, int64_t i1, int relu2) {
  if (relu2) {
    for (int64_t i = i0; i < i1; i++) {
      double g = gate[i] > 0.0f ? (double)gate[i] : 0.0; /* NaN and -0 become +0, as in the reference */
      gate[i] = (float)(g * g * (double)up[i]);
    }
    return;
  }
  for (int64_t i = i0; i < i1; i++) {
    double g = gate[i];
    gate[i] = (float)((g / (1.0 + bn_exp(-g))) * (double)up[i]);
  }
}

void bn_add_range(float *x, const float *y, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; i++) x[i] = x[i] + y[i];
}

void bn_f16_range(const float *src, uint16_t *dst, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; i++) dst[i] = bn_f32_to_f16(src[i]);
}
