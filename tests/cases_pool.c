/* cases_pool.c - placeholder until the pool family lands: no cases yet. */
#include "harness.h"

int cases_pool(lumen_ctx *ctx)
{
    (void)ctx;
    return 0;
}
