/* Attention for the AVX2 and AVX-VNNI sets (attention_impl.h on 256-bit registers, F16C widening). */
#define BN_ATTENTION_ITEM bn_attention_item_avx2
#include "attention_impl.h"
