/*
 * Shared declarations of the native kernels: the matrices and activations as the kernels see them, the
 * table of per-ISA kernels (cpu.c picks one at run time), and the scalar rules every ISA must end with.
 *
 * Numerics. The TypeScript reference (src/kernels/ and its .ts files) defines every result. Integer dots are exact in
 * any order; the float steps after them are written here once, in double where JavaScript computes in
 * double, so that every ISA rounds exactly as the reference does. All sources are compiled with
 * -ffp-contract=off: a fused multiply-add where the reference rounds twice would change bits.
 *
 * Not here: the kernels (ternary_*.c, float_*.c, q8_*.c, ops.c, attention_impl.h), threads (pool.c),
 * JavaScript glue (api.c).
 */
#ifndef BITNET_H
#define BITNET_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(_MSC_VER)
#define BN_INLINE static __forceinline
#define BN_ALIGN(n) __declspec(align(n))
#else
#define BN_INLINE static inline __attribute__((always_inline))
#define BN_ALIGN(n) __attribute__((aligned(n)))
#endif

/* Ternary formats, as src/kernels/types.ts names them. */
enum { BN_TQ2_0 = 0, BN_TQ1_0 = 1, BN_I2_S = 2 };
/* Float formats of floatMatmul. */
enum { BN_F32 = 0, BN_F16 = 1, BN_BF16 = 2, BN_Q8_0 = 3 };

#define BN_CHUNK 256          /* values per TQ block and per scale group of the per-chunk rule */
#define BN_TQ2_BYTES 66       /* qs[64], d (f16) */
#define BN_TQ1_BYTES 54       /* qs[48], qh[4], d (f16) */
#define BN_Q8_BYTES 34        /* d (f16), qs[32] */

/*
 * A ternary matrix [N, K] in its file layout, and where its results go (out [T, N], token-major).
 * per_row: one scale for the whole row and one activation factor per token (BitNet), so the integer dot
 * is summed over the row before scaling; else per 256-chunk (ternary-ref.ts states both rules).
 */
typedef struct {
  int format;
  int per_row;
  const uint8_t *data;
  int64_t N, K;
  const float *block_scales; /* [N, K/256], TQ formats only; NULL when has_gamma */
  double gamma;              /* the uniform scale, when has_gamma */
  int has_gamma;
  double out_scale;
  float *out;
} bn_tmat;

/*
 * int8 activations [T, K] as the ternary kernels read them.
 * - q: as given; qp: the same values permuted for ISAs that read four 2-bit planes of 64 bytes at once
 *   (bn_isa.perm; see prep.c), else NULL.
 * - rsum [T] (Σq over the row) and csum [T, K/256] (Σq per chunk, for matrices that are not per_row):
 *   computed by prep.c, never trusted from the caller, because the reference does not read the caller's.
 * - factors [T, K/group]: the dequantization factor per group (group = K or 256).
 */
typedef struct {
  const int8_t *q;
  const int8_t *qp;
  const int32_t *rsum;
  const int32_t *csum;
  const float *factors;
  int64_t T, K, group;
} bn_tacts;

/* A float matrix [N, K] (f32, f16 or bf16 values) and its output. */
typedef struct {
  int format;
  const void *data;
  int64_t N, K;
  double out_scale;
  float *out;
} bn_fmat;

/* A Q8_0 matrix [N, K] and its activations, quantized to Q8_0 by prep (q [T, K], scales [T, K/32]). */
typedef struct {
  const uint8_t *data;
  int64_t N, K, T;
  const int8_t *xq;
  const float *xs;
  double out_scale;
  float *out;
} bn_q8mat;

/* One attention work item: query heads h0..h0+nh-1 (all reading KV head g) of token t. */
typedef struct {
  float *out;
  const float *q;
  const void *keys, *values; /* [ctx, HKV·hd], float or f16 bits */
  int half;
  int64_t pos0, T, H, HKV, hd;
} bn_attn;

/*
 * The kernels one ISA provides. Each computes rows [r0, r1) for every token (the pool hands out row
 * ranges); a result never depends on the range, the token count or the thread that computes it.
 */
typedef struct {
  const char *name;
  /* Whether ternary_rows reads bn_tacts.qp (TQ2_0 and I2_S only; TQ1_0 always reads q). */
  int perm;
  int (*ternary_rows)(const bn_tmat *m, const bn_tacts *a, int64_t r0, int64_t r1); /* 0, or -1: out of memory */
  void (*float_rows)(const bn_fmat *m, const float *x, int64_t T, int64_t r0, int64_t r1);
  void (*q8_rows)(const bn_q8mat *m, int64_t r0, int64_t r1);
  /* scratch: at least bn_attn_scratch_floats(len, nh, hd) floats, 64-aligned */
  void (*attention_item)(const bn_attn *a, int64_t t, int64_t g, int64_t h0, int64_t nh, float *scratch);
} bn_isa;

/* Floats of scratch one attention item needs. */
static inline size_t bn_attn_scratch_floats(int64_t len, int64_t nh, int64_t hd) {
  return (size_t)(nh * (len + 16) + 32 * hd + 64); /* scores, a block of widened rows (attention_impl.h) */
}

/* ---- the kernel sets: each ISA's functions (cpu.c builds the tables and chooses) ---- */
#define BN_DECLARE_ISA(sfx) \
  int bn_ternary_rows_##sfx(const bn_tmat *m, const bn_tacts *a, int64_t r0, int64_t r1); \
  void bn_float_rows_##sfx(const bn_fmat *m, const float *x, int64_t T, int64_t r0, int64_t r1); \
  void bn_q8_rows_##sfx(const bn_q8mat *m, int64_t r0, int64_t r1); \
  void bn_attention_item_##sfx(const bn_attn *a, int64_t t, int64_t g, int64_t h0, int64_t nh, float *scratch);
BN_DECLARE_ISA(generic)
#if defined(BN_X86_SETS)
BN_DECLARE_ISA(avx2)
BN_DECLARE_ISA(avx512vnni)
int bn_ternary_rows_avxvnni(const bn_tmat *m, const bn_tacts *a, int64_t r0, int64_t r1);
void bn_q8_rows_avxvnni(const bn_q8mat *m, int64_t r0, int64_t r1);
#endif
#if defined(BN_ARM_SETS)
BN_DECLARE_ISA(neon)
int bn_ternary_rows_neondot(const bn_tmat *m, const bn_tacts *a, int64_t r0, int64_t r1);
void bn_q8_rows_neondot(const bn_q8mat *m, int64_t r0, int64_t r1);
#endif

/* Every compiled ISA the CPU runs, best first, and the best one; `name` picks one ("generic", …) or NULL. */
int bn_isa_list(const bn_isa **out, int max);
const bn_isa *bn_isa_pick(const char *name);

/* ---- scalar rules shared by every ISA ---- */

/* Bit casts. */
BN_INLINE uint32_t bn_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
BN_INLINE float bn_f32_from(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* f16 bits → float32, exactly (subnormals, Inf and NaN included). */
BN_INLINE float bn_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 31) return bn_f32_from(sign | 0x7f800000u | (mant << 13));
  /* finite: sign | the bits shifted into float32 position, times 2^112 (exact, subnormals included) */
  return bn_f32_from(sign | ((uint32_t)(h & 0x7fff) << 13)) * 5.192296858534828e33f;
}

/* bf16 bits → float32 (exact). */
BN_INLINE float bn_bf16_to_f32(uint16_t h) { return bn_f32_from((uint32_t)h << 16); }

/* float32 → f16 bits, round to nearest even, NaN → sign|0x7E00, as src/quant/half.ts f32ToF16. */
BN_INLINE uint16_t bn_f32_to_f16(float f) {
  uint32_t u = bn_f32_bits(f);
  uint32_t sign = (u >> 16) & 0x8000;
  int32_t exp = (int32_t)((u >> 23) & 0xff);
  uint32_t mant = u & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(mant ? (sign | 0x7e00) : (sign | 0x7c00));
  int32_t e = exp - 112;
  if (e >= 31) return (uint16_t)(sign | 0x7c00);
  if (e >= 1) {
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  int32_t shift = 14 - e;
  if (shift > 24) return (uint16_t)sign;
  uint32_t m = mant | 0x800000;
  uint32_t h = m >> shift;
  uint32_t rest = m & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

/* y·outScale as the reference writes it: y itself when the scale is 1, else f32(y·s) in double. */
BN_INLINE float bn_out_scale(float y, double s) {
  return s == 1.0 ? y : (float)((double)y * s);
}

/*
 * The ternary epilogue of ternaryMatmulRef for output (r, t), from raw dots of the unsigned codes
 * (Σ (w+1)·q): per_row, `raw` is one row dot; else raw[c] per 256-chunk.
 */
BN_INLINE void bn_ternary_store(const bn_tmat *m, const bn_tacts *a, int64_t r, int64_t t, const int32_t *raw) {
  float y;
  if (m->per_row) {
    int64_t isum = (int64_t)raw[0] - a->rsum[t];
    y = (float)((double)isum * (double)(float)(m->gamma * (double)a->factors[t]));
  } else {
    int64_t nch = m->K / BN_CHUNK, gpt = m->K / a->group;
    const int32_t *cs = a->csum + t * nch;
    const float *xf = a->factors + t * gpt;
    y = 0.0f;
    for (int64_t c = 0; c < nch; c++) {
      int32_t isum = raw[c] - cs[c];
      double ws = m->has_gamma ? m->gamma : (double)m->block_scales[r * nch + c];
      float s = (float)(ws * (double)xf[(c * BN_CHUNK) / a->group]);
      y = (float)((double)y + (double)(float)((double)isum * (double)s));
    }
  }
  m->out[t * m->N + r] = bn_out_scale(y, m->out_scale);
}

/*
 * The Q8_0 float order of q8-ref.ts for one (row, token): lanes[b mod 4] += f32(dot_b · f32(d_w · d_x)),
 * then f32(f32(l0 + l2) + f32(l1 + l3)). Kernels that vectorize across rows repeat it lane by lane.
 */
BN_INLINE float bn_q8_finish(const float lanes[4]) {
  return (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
}

#endif
