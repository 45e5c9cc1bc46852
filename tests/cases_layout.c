/* cases_layout.c - placeholder until the layout family lands: no cases yet. */
#include "harness.h"

int cases_layout(lumen_ctx *ctx)
{
    (void)ctx;
    return 0;
}
