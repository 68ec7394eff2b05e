/* Attention for the AVX-512 set (attention_impl.h on 512-bit registers). */
#define BN_ATTENTION_ITEM bn_attention_item_avx512vnni
#include "attention_impl.h"
