/*
 * pending.c - ops whose family is not written yet: every part NULL, so lumen_op_* answers
 * LUMEN_EUNSUPPORTED ("no OpenCL implementation") instead of crashing. Remove an entry when its
 * family file defines it.
 */
#include "../internal.h"

const lumen__op_impl lumen__impl_CONV = {4, 4, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_CONV_TRANSPOSE = {2, 3, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_POOL = {1, 1, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_REDUCE = {1, 1, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_RESIZE = {1, 1, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_CONCAT = {1, LUMEN_MAX_IN, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_SLICE = {1, 1, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_PAD = {1, 1, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_SOFTMAX = {1, 1, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_BATCHNORM = {5, 5, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_INSTANCENORM = {3, 3, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_LAYERNORM = {1, 3, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_TRANSPOSE = {1, 1, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_RESHAPE = {1, 1, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_MATMUL = {2, 3, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_ATTENTION = {3, 3, NULL, NULL, NULL, NULL};
const lumen__op_impl lumen__impl_ARGMAX = {1, 1, NULL, NULL, NULL, NULL};

/* gemm.c */
lumen_status lumen_ctx_set_gemm(lumen_ctx *ctx, lumen_gemm_engine e)
{
    ctx->gemm = e;
    return LUMEN_OK;
}
lumen_gemm_engine lumen_ctx_gemm(lumen_ctx *ctx) { return ctx->gemm; }
void lumen__gemm_free(lumen_ctx *ctx) { (void)ctx; }
lumen_status lumen__gemm(lumen_ctx *ctx, const lumen__gemm_args *g)
{
    (void)g;
    return lumen__fail(ctx, LUMEN_EUNSUPPORTED, "gemm: not available yet");
}
