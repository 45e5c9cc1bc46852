/* cases_conv.c - placeholder until the conv family lands: no cases yet. */
#include "harness.h"

int cases_conv(lumen_ctx *ctx)
{
    (void)ctx;
    return 0;
}
