/* The Q8_0 matmul of the NEON-with-dotprod set: q8_neon.c with sdot. */
#define BN_NEONDOT 1
#include "q8_neon.c"
