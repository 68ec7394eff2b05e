/* The Q8_0 matmul of the AVX-512 VNNI set: q8_avx2.c with the EVEX vpdpbusd on 256 bits. */
#define BN_Q8_AVX512 1
#include "q8_avx2.c"
