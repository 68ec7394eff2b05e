/*
 * Run-time CPU dispatch: which of the compiled kernel sets this CPU (and its operating system) can run,
 * best first. x86-64: AVX-512 VNNI (with BW, VL, DQ), AVX-VNNI (with AVX2), AVX2 (with FMA and F16C);
 * arm64: NEON with the dot-product extension, NEON. The portable C set is always there.
 * Each kernel set lives in its own translation unit, compiled with its own target flags (binding.gyp,
 * which defines BN_X86_SETS or BN_ARM_SETS when it builds them), so the addon loads on any CPU of its
 * architecture; nothing outside those files uses the instructions.
 * Not here: the kernels, and the BITNET_NATIVE_ISA override (api.c reads it and calls bn_isa_pick).
 */
#include "bitnet.h"

#if defined(BN_X86_SETS)
#if defined(_MSC_VER)
#include <intrin.h>
static void cpuid(int leaf, int sub, unsigned r[4]) {
  int v[4];
  __cpuidex(v, leaf, sub);
  for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
}
static unsigned long long xgetbv0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void cpuid(int leaf, int sub, unsigned r[4]) { __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]); }
static unsigned long long xgetbv0(void) {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}
#endif

typedef struct {
  int avx2, avxvnni, avx512vnni;
} x86_features;

static x86_features detect(void) {
  x86_features f = {0, 0, 0};
  unsigned r[4];
  cpuid(0, 0, r);
  unsigned max = r[0];
  if (max < 7) return f;
  cpuid(1, 0, r);
  int osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1, f16c = (r[2] >> 29) & 1;
  if (!osxsave || !avx) return f;
  unsigned long long xcr0 = xgetbv0();
  int ymm_os = (xcr0 & 0x6) == 0x6;            /* SSE and AVX state */
  int zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM0-15 upper halves, ZMM16-31 */
  cpuid(7, 0, r);
  unsigned ebx = r[1], ecx = r[2];
  int avx2 = (ebx >> 5) & 1, bmi2 = (ebx >> 8) & 1;
  int avx512f = (ebx >> 16) & 1, avx512dq = (ebx >> 17) & 1, avx512bw = (ebx >> 30) & 1, avx512vl = (ebx >> 31) & 1;
  int vnni512 = (ecx >> 11) & 1;
  unsigned max7 = r[0];
  int avxvnni = 0;
  if (max7 >= 1) {
    cpuid(7, 1, r);
    avxvnni = (r[0] >> 4) & 1;
  }
  f.avx2 = ymm_os && avx2 && fma && f16c && bmi2;
  f.avxvnni = f.avx2 && avxvnni;
  f.avx512vnni = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl && vnni512;
  return f;
}
#endif

#if defined(BN_ARM_SETS)
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
static int has_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
#elif defined(__APPLE__)
#include <sys/sysctl.h>
static int has_dotprod(void) {
  int v = 0;
  size_t n = sizeof v;
  if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &n, NULL, 0) != 0) return 0;
  return v != 0;
}
#else
static int has_dotprod(void) { return 0; }
#endif
#endif

/* A kernel set: its name, whether its ternary kernels read permuted activations, and the suffix of each kernel it uses. */
#define ISA(name, perm_, ternary, float_, q8, attention) \
  static const bn_isa isa_##name = {#name, perm_, bn_ternary_rows_##ternary, bn_float_rows_##float_, bn_q8_rows_##q8, bn_attention_item_##attention};
ISA(generic, 0, generic, generic, generic, generic)
#if defined(BN_X86_SETS)
ISA(avx2, 0, avx2, avx2, avx2, avx2)
ISA(avxvnni, 0, avxvnni, avx2, avxvnni, avx2)
ISA(avx512vnni, 1, avx512vnni, avx512vnni, avx512vnni, avx512vnni)
#endif
#if defined(BN_ARM_SETS)
ISA(neon, 0, neon, neon, neon, neon)
ISA(neondot, 0, neondot, neon, neondot, neon)
#endif

int bn_isa_list(const bn_isa **out, int max) {
  int n = 0;
#define ADD(isa) \
  if (n < max) out[n++] = &(isa)
#if defined(BN_X86_SETS)
  x86_features f = detect();
  if (f.avx512vnni) ADD(isa_avx512vnni);
  if (f.avxvnni) ADD(isa_avxvnni);
  if (f.avx2) ADD(isa_avx2);
#endif
#if defined(BN_ARM_SETS)
  if (has_dotprod()) ADD(isa_neondot);
  ADD(isa_neon);
#endif
  ADD(isa_generic);
#undef ADD
  return n;
}

const bn_isa *bn_isa_pick(const char *name) {
  const bn_isa *list[8];
  int n = bn_isa_list(list, 8);
  if (!name || !*name) return list[0];
  for (int i = 0; i < n; i++)
    if (strcmp(list[i]->name, name) == 0) return list[i];
  return NULL;
}
