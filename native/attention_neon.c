/* Attention for both arm64 kernel sets (attention_impl.h on NEON registers). */
#define BN_ATTENTION_ITEM bn_attention_item_neon
#include "attention_impl.h"
