/* Attention for the portable kernel set (attention_impl.h, baseline vectors). */
#define BN_ATTENTION_ITEM bn_attention_item_generic
#include "attention_impl.h"
