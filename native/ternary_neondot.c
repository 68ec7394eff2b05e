/* The ternary kernels of the NEON-with-dotprod set: ternary_neon.c with sdot. */
#define BN_NEONDOT 1
#include "ternary_neon.c"
