/* cases_attention.c - placeholder until the attention family lands: no cases yet. */
#include "harness.h"

int cases_attention(lumen_ctx *ctx)
{
    (void)ctx;
    return 0;
}
