/* cases_gemm.c - placeholder until the gemm family lands: no cases yet. */
#include "harness.h"

int cases_gemm(lumen_ctx *ctx)
{
    (void)ctx;
    return 0;
}
