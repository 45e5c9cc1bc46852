/* cases_norm.c - placeholder until the norm family lands: no cases yet. */
#include "harness.h"

int cases_norm(lumen_ctx *ctx)
{
    (void)ctx;
    return 0;
}
