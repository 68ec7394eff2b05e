/* The Q8_0 matmul of the AVX-VNNI set: q8_avx2.c with vpdpbusd. */
#define BN_AVXVNNI 1
#include "q8_avx2.c"
