/* The ternary kernels of the AVX-VNNI set: ternary_avx2.c with vpdpbusd. */
#define BN_AVXVNNI 1
#include "ternary_avx2.c"
