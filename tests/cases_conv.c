/*
 * cases_conv.c - CONV and CONV_TRANSPOSE cases: every dispatch path (depthwise 3x3/5x5,
 * pointwise GEMM, direct with 8 or 1 channels per work-item), 1d/2d/3d, stride, dilation,
 * asymmetric padding, groups, batch, bias absent, residual, every fused activation, and one
 * hand-computed case per op. Then a check that bad weight shapes are rejected.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

/* A convolution descriptor: same stride, padding and dilation on every spatial axis. */
static lumen_opdesc cv(lumen_op op, int nsp, int stride, int pad, int dil, int groups,
                       lumen_act act)
{
    lumen_opdesc d = lumen_opdesc_conv2d(stride, pad, dil, groups, act);
    d.op = op;
    d.p.conv.nsp = nsp;
    return d;
}

static lumen_opdesc cv2(int stride, int pad, int dil, int groups, lumen_act act)
{
    return cv(LUMEN_OP_CONV, 2, stride, pad, dil, groups, act);
}

/* A fused activation with the parameters its test uses. */
static lumen_opdesc with_act(lumen_opdesc d, lumen_act act, float a, float b)
{
    d.p.conv.act.act = act;
    d.p.conv.act.a = a;
    d.p.conv.act.b = b;
    return d;
}

static lumen_opdesc with_pads(lumen_opdesc d, int t, int l, int b, int r)
{
    d.p.conv.pad0[0] = t, d.p.conv.pad0[1] = l;
    d.p.conv.pad1[0] = b, d.p.conv.pad1[1] = r;
    return d;
}

static lumen_opdesc with_stride3(lumen_opdesc d, int sz, int sy, int sx)
{
    d.p.conv.stride[0] = sz, d.p.conv.stride[1] = sy, d.p.conv.stride[2] = sx;
    return d;
}

static lumen_opdesc with_out_pad(lumen_opdesc d, int op)
{
    for (int i = 0; i < 3; i++)
        d.p.conv.out_pad[i] = op;
    return d;
}

/* One case per fused activation on a small 3x3 conv. Inputs are positive where the function
 * needs it (log, sqrt, reciprocal) so that both sides compute the same well-conditioned value. */
static int act_cases(lumen_ctx *ctx)
{
    int failed = 0;
    for (int a = 0; a < LUMEN_ACT_EPILOGUE_COUNT; a++) {
        float pa = 0, pb = 0;
        if (a == LUMEN_ACT_LEAKY_RELU)
            pa = 0.1f;
        if (a == LUMEN_ACT_HARDSIGMOID)
            pa = 1.0f / 6.0f, pb = 0.5f;
        if (a == LUMEN_ACT_CLIP)
            pa = -0.5f, pb = 0.7f;
        if (a == LUMEN_ACT_THRESHOLD)
            pa = 0.2f;
        if (a == LUMEN_ACT_SCALE)
            pa = -1.5f, pb = 0.25f;
        int positive = a == LUMEN_ACT_LOG || a == LUMEN_ACT_SQRT || a == LUMEN_ACT_RECIPROCAL;
        char label[64];
        snprintf(label, sizeof label, "3x3 act %s", lumen_act_name((lumen_act)a));
        tcase c = {label,
                   with_act(cv2(1, 1, 1, 1, LUMEN_ACT_NONE), (lumen_act)a, pa, pb),
                   3,
                   {SHAPE(1, 3, 9, 11), SHAPE(5, 3, 3, 3), SHAPE(5)}};
        for (int i = 0; i < 3; i++) {
            c.lo[i] = positive ? 0.05f : -0.6f;
            c.hi[i] = positive ? 0.6f : 0.6f;
        }
        failed += !run_case(ctx, "conv", &c);
    }
    return failed;
}

/* lumen_op_shape must refuse weights that do not fit the input. */
static int bad_shape_checks(void)
{
    char err[LUMEN_ERR_MAX];
    lumen_shape x = SHAPE(1, 6, 8, 8), out;
    struct {
        const char *what;
        lumen_opdesc d;
        lumen_shape w;
    } bad[] = {
        {"Cin mismatch", cv2(1, 1, 1, 1, LUMEN_ACT_NONE), SHAPE(4, 5, 3, 3)},
        {"groups not dividing Cin", cv2(1, 1, 1, 4, LUMEN_ACT_NONE), SHAPE(4, 1, 3, 3)},
        {"groups not dividing Cout", cv2(1, 1, 1, 3, LUMEN_ACT_NONE), SHAPE(4, 2, 3, 3)},
        {"weight rank", cv2(1, 1, 1, 1, LUMEN_ACT_NONE), SHAPE(4, 6, 3)},
        {"kernel larger than input", cv2(1, 0, 1, 1, LUMEN_ACT_NONE), SHAPE(4, 6, 9, 3)},
        {"transposed Cin mismatch", cv(LUMEN_OP_CONV_TRANSPOSE, 2, 2, 0, 1, 1, LUMEN_ACT_NONE),
         SHAPE(5, 4, 2, 2)},
        {"transposed groups not dividing Cin",
         cv(LUMEN_OP_CONV_TRANSPOSE, 2, 2, 0, 1, 4, LUMEN_ACT_NONE), SHAPE(6, 1, 2, 2)},
        {"math function as epilogue", cv2(1, 1, 1, 1, LUMEN_ACT_SIN), SHAPE(4, 6, 3, 3)},
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const lumen_shape *in[2] = {&x, &bad[i].w};
        err[0] = '\0';
        lumen_status st = lumen_op_shape(&bad[i].d, 2, in, &out, err);
        if (st != LUMEN_ESHAPE && st != LUMEN_EINVAL) {
            printf("%-9s bad shape: %-32s not rejected (%s) FAIL\n", lumen_op_name(bad[i].d.op),
                   bad[i].what, lumen_status_name(st));
            failed++;
        }
    }
    if (!failed)
        printf("conv bad-shape rejected OK (%d shapes)\n", (int)(sizeof bad / sizeof bad[0]));
    return failed;
}

int cases_conv(lumen_ctx *ctx)
{
    /* 2d by hand: x = 1..9 (3x3), w = [[1,2],[3,4]], bias 0.5, no padding. */
    static const float hx[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, hw[] = {1, 2, 3, 4}, hb[] = {0.5f};
    static const float hy[] = {37.5f, 47.5f, 67.5f, 77.5f};
    /* Transposed by hand: x = [[1,2],[3,4]], w = [[1,2],[3,4]], stride 1: a full 2d
     * correlation of the two, 3x3. */
    static const float tx[] = {1, 2, 3, 4}, tw[] = {1, 2, 3, 4};
    static const float ty[] = {1, 4, 4, 6, 20, 16, 9, 24, 16};
    const lumen_op T = LUMEN_OP_CONV_TRANSPOSE;
    const lumen_act NO = LUMEN_ACT_NONE;
    const tcase cases[] = {
        {"2x2 hand",
         cv2(1, 0, 1, 1, NO),
         3,
         {SHAPE(1, 1, 3, 3), SHAPE(1, 1, 2, 2), SHAPE(1)},
         {hx, hw, hb},
         .expect = hy},
        /* direct */
        {"3x3 s1 p1 odd",
         cv2(1, 1, 1, 1, NO),
         3,
         {SHAPE(1, 9, 34, 17), SHAPE(8, 9, 3, 3), SHAPE(8)}},
        {"3x3 s2 p1 relu",
         cv2(2, 1, 1, 1, LUMEN_ACT_RELU),
         3,
         {SHAPE(1, 9, 34, 17), SHAPE(16, 9, 3, 3), SHAPE(16)}},
        {"3x3 s2 stem 1->16",
         cv2(2, 1, 1, 1, LUMEN_ACT_RELU),
         3,
         {SHAPE(1, 1, 64, 61), SHAPE(16, 1, 3, 3), SHAPE(16)}},
        {"3x3 s3 p0", cv2(3, 0, 1, 1, NO), 3, {SHAPE(1, 4, 20, 29), SHAPE(9, 4, 3, 3), SHAPE(9)}},
        /* more than CONV_CB = 64 input channels per group: several partial-sum blocks + a tail */
        {"3x3 Cin 150 blocked", cv2(1, 1, 1, 1, NO), 3, {SHAPE(1, 150, 9, 11), SHAPE(10, 150, 3, 3), SHAPE(10)}},
        {"3x3 groups 2 Cig 70 blocked", cv2(1, 1, 1, 2, NO), 3, {SHAPE(1, 140, 7, 9), SHAPE(6, 70, 3, 3), SHAPE(6)}},
        {"3x3 dil2 p2 Cout5",
         cv2(1, 2, 2, 1, NO),
         3,
         {SHAPE(1, 6, 23, 19), SHAPE(5, 6, 3, 3), SHAPE(5)}},
        {"3x3 groups 3",
         cv2(1, 1, 1, 3, NO),
         3,
         {SHAPE(1, 9, 17, 13), SHAPE(12, 3, 3, 3), SHAPE(12)}},
        {"3x3 groups 3 Cog 2",
         cv2(2, 1, 1, 3, NO),
         3,
         {SHAPE(2, 6, 15, 14), SHAPE(6, 2, 3, 3), SHAPE(6)}},
        {"3x3 batch 2", cv2(1, 1, 1, 1, NO), 3, {SHAPE(2, 5, 19, 21), SHAPE(7, 5, 3, 3), SHAPE(7)}},
        {"3x3 asym pads",
         with_pads(cv2(1, 0, 1, 1, NO), 0, 2, 1, 0),
         3,
         {SHAPE(1, 4, 15, 18), SHAPE(6, 4, 3, 3), SHAPE(6)}},
        {"5x5 s1 p2", cv2(1, 2, 1, 1, NO), 3, {SHAPE(1, 3, 20, 27), SHAPE(9, 3, 5, 5), SHAPE(9)}},
        {"3x1 p(1,0) no bias",
         with_pads(cv2(1, 0, 1, 1, NO), 1, 0, 1, 0),
         2,
         {SHAPE(1, 5, 12, 10), SHAPE(8, 5, 3, 1)}},
        {"3x3 no bias", cv2(1, 1, 1, 1, NO), 2, {SHAPE(2, 4, 11, 9), SHAPE(10, 4, 3, 3)}},
        {"3x3 residual",
         cv2(1, 1, 1, 1, NO),
         4,
         {SHAPE(1, 6, 13, 17), SHAPE(8, 6, 3, 3), SHAPE(8), SHAPE(1, 8, 13, 17)}},
        {"3x3 residual relu no bias",
         cv2(1, 1, 1, 1, LUMEN_ACT_RELU),
         4,
         {SHAPE(2, 3, 10, 9), SHAPE(4, 3, 3, 3), ABSENT, SHAPE(2, 4, 10, 9)}},
        {"3x3 64->64 wide",
         cv2(1, 1, 1, 1, NO),
         3,
         {SHAPE(1, 64, 12, 20), SHAPE(64, 64, 3, 3), SHAPE(64)}},
        {"7x7 depthwise (direct)",
         cv2(1, 3, 1, 6, NO),
         3,
         {SHAPE(1, 6, 15, 13), SHAPE(6, 1, 7, 7), SHAPE(6)}},
        /* depthwise fast path */
        {"dw3x3 s1 odd",
         cv2(1, 1, 1, 9, NO),
         3,
         {SHAPE(1, 9, 34, 17), SHAPE(9, 1, 3, 3), SHAPE(9)}},
        {"dw3x3 s2 odd relu6",
         cv2(2, 1, 1, 9, LUMEN_ACT_RELU6),
         3,
         {SHAPE(2, 9, 33, 19), SHAPE(9, 1, 3, 3), SHAPE(9)},
         .lo = {-3, -3, -3},
         .hi = {3, 3, 3}},
        {"dw5x5 s1 odd",
         cv2(1, 2, 1, 7, NO),
         3,
         {SHAPE(1, 7, 21, 35), SHAPE(7, 1, 5, 5), SHAPE(7)}},
        {"dw5x5 s2 odd",
         cv2(2, 2, 1, 5, NO),
         3,
         {SHAPE(1, 5, 23, 37), SHAPE(5, 1, 5, 5), SHAPE(5)}},
        {"dw3x3 dil2 asym no bias",
         with_pads(cv2(1, 0, 2, 4, NO), 1, 2, 3, 0),
         2,
         {SHAPE(1, 4, 16, 19), SHAPE(4, 1, 3, 3)}},
        {"dw3x3 residual hardswish",
         cv2(1, 1, 1, 8, LUMEN_ACT_HARDSWISH),
         4,
         {SHAPE(1, 8, 9, 26), SHAPE(8, 1, 3, 3), SHAPE(8), SHAPE(1, 8, 9, 26)}},
        /* pointwise GEMM path */
        {"1x1 bias relu6",
         cv2(1, 0, 1, 1, LUMEN_ACT_RELU6),
         3,
         {SHAPE(1, 9, 34, 17), SHAPE(16, 9, 1, 1), SHAPE(16)},
         .lo = {-3, -3, -3},
         .hi = {3, 3, 3}},
        {"1x1 residual",
         cv2(1, 0, 1, 1, NO),
         4,
         {SHAPE(1, 24, 7, 13), SHAPE(11, 24, 1, 1), SHAPE(11), SHAPE(1, 11, 7, 13)}},
        {"1x1 batch 2 no bias", cv2(1, 0, 1, 1, NO), 2, {SHAPE(2, 13, 9, 10), SHAPE(5, 13, 1, 1)}},
        {"1x1 s2 (direct)",
         cv2(2, 0, 1, 1, NO),
         3,
         {SHAPE(1, 6, 13, 11), SHAPE(8, 6, 1, 1), SHAPE(8)}},
        /* 1d and 3d */
        {"conv1d k3 s2 p1",
         cv(LUMEN_OP_CONV, 1, 2, 1, 1, 1, NO),
         3,
         {SHAPE(2, 5, 37), SHAPE(6, 5, 3), SHAPE(6)}},
        {"conv1d k5 dil3 groups 2",
         cv(LUMEN_OP_CONV, 1, 1, 4, 3, 2, LUMEN_ACT_TANH),
         3,
         {SHAPE(1, 4, 41), SHAPE(10, 2, 5), SHAPE(10)}},
        {"conv3d k3 s(1,2,2)",
         with_stride3(cv(LUMEN_OP_CONV, 3, 1, 1, 1, 1, NO), 1, 2, 2),
         3,
         {SHAPE(1, 3, 7, 9, 11), SHAPE(4, 3, 3, 3, 3), SHAPE(4)}},
        {"conv3d k3 batch 2 res",
         cv(LUMEN_OP_CONV, 3, 1, 1, 1, 1, LUMEN_ACT_RELU),
         4,
         {SHAPE(2, 2, 5, 6, 9), SHAPE(9, 2, 3, 3, 3), SHAPE(9), SHAPE(2, 9, 5, 6, 9)}},
        {"conv3d depthwise",
         cv(LUMEN_OP_CONV, 3, 1, 1, 1, 3, NO),
         3,
         {SHAPE(1, 3, 5, 8, 7), SHAPE(3, 1, 3, 3, 3), SHAPE(3)}},
        {"conv3d 1x1x1 (gemm)",
         cv(LUMEN_OP_CONV, 3, 1, 0, 1, 1, NO),
         3,
         {SHAPE(1, 6, 3, 5, 7), SHAPE(4, 6, 1, 1, 1), SHAPE(4)}},
        {"wide rows 3x3 s2 W=70 (both vector paths)",
         cv2(2, 1, 1, 1, LUMEN_ACT_RELU6),
         3,
         {SHAPE(1, 5, 9, 70), SHAPE(11, 5, 3, 3), SHAPE(11)}},
        {"wide rows 3x3 s1 W=67 residual",
         cv2(1, 1, 1, 1, NO),
         4,
         {SHAPE(1, 3, 4, 67), SHAPE(9, 3, 3, 3), SHAPE(9), SHAPE(1, 9, 4, 67)}},
        /* transposed */
        {"T 2x2 hand",
         cv(T, 2, 1, 0, 1, 1, NO),
         2,
         {SHAPE(1, 1, 2, 2), SHAPE(1, 1, 2, 2)},
         {tx, tw},
         .expect = ty},
        {"T2d k2 s2",
         cv(T, 2, 2, 0, 1, 1, NO),
         3,
         {SHAPE(1, 8, 9, 7), SHAPE(8, 4, 2, 2), SHAPE(4)}},
        {"T2d k2 s2 Cin 130 blocked", cv(T, 2, 2, 0, 1, 1, NO), 3, {SHAPE(1, 130, 5, 6), SHAPE(130, 4, 2, 2), SHAPE(4)}},
        {"T2d k2 s2 wide",
         cv(T, 2, 2, 0, 1, 1, LUMEN_ACT_RELU),
         3,
         {SHAPE(1, 32, 6, 21), SHAPE(32, 16, 2, 2), SHAPE(16)}},
        {"T2d k3 s2 p1 outpad1 batch 2",
         with_out_pad(cv(T, 2, 2, 1, 1, 1, NO), 1),
         3,
         {SHAPE(2, 5, 7, 6), SHAPE(5, 6, 3, 3), SHAPE(6)}},
        {"T2d k3 s1 p1 no bias",
         cv(T, 2, 1, 1, 1, 1, NO),
         2,
         {SHAPE(1, 3, 10, 13), SHAPE(3, 9, 3, 3)}},
        {"T2d k4 s3 dil2 sigmoid",
         cv(T, 2, 3, 2, 2, 1, LUMEN_ACT_SIGMOID),
         3,
         {SHAPE(1, 4, 5, 7), SHAPE(4, 3, 4, 4), SHAPE(3)}},
        {"T2d groups 2 s2",
         cv(T, 2, 2, 1, 1, 2, NO),
         3,
         {SHAPE(1, 6, 8, 9), SHAPE(6, 2, 3, 3), SHAPE(4)}},
        {"T2d groups 2 Cog 8",
         cv(T, 2, 2, 0, 1, 2, NO),
         3,
         {SHAPE(1, 4, 5, 6), SHAPE(4, 8, 2, 2), SHAPE(16)}},
        {"T1d k4 s2 p1", cv(T, 1, 2, 1, 1, 1, NO), 3, {SHAPE(2, 3, 19), SHAPE(3, 5, 4), SHAPE(5)}},
        {"T3d k3 s2 p1",
         cv(T, 3, 2, 1, 1, 1, NO),
         3,
         {SHAPE(1, 4, 3, 5, 6), SHAPE(4, 3, 3, 3, 3), SHAPE(3)}},
        {"T3d k2 s2 batch 2",
         cv(T, 3, 2, 0, 1, 1, NO),
         3,
         {SHAPE(2, 5, 3, 4, 5), SHAPE(5, 8, 2, 2, 2), SHAPE(8)}},
    };
    /* every case once per vector width of the kernels (conv_f32, convt_f32, gemm_direct) */
    int saved = ctx->vec_width, failed = 0;
    for (int vw = 8; vw <= 16; vw += 8) {
        ctx->vec_width = vw;
        printf("conv         vector width %d\n", vw);
        failed += run_cases(ctx, "conv", cases, (int)(sizeof cases / sizeof cases[0]));
    }
    ctx->vec_width = saved;
    failed += act_cases(ctx);
    failed += bad_shape_checks();
    return failed;
}
