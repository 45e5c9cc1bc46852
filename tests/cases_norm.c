/* cases_norm.c - SOFTMAX, BATCHNORM, INSTANCENORM, LAYERNORM, ARGMAX and TOPK cases.
 *
 * Row shapes are chosen to reach both kernel shapes of norm.c on every device: 'col' (inner >
 * 1, short rows) and 'row' (a single long row, which takes it on CPUs too; on GPUs every
 * contiguous row of >= 64 elements). Labels name the kernel a CPU takes. */
#include <math.h>

#include "harness.h"

static lumen_opdesc axes(lumen_op op, int axis, int axis_end, float eps)
{
    lumen_opdesc d = {.op = op};
    d.p.axes.axis = axis;
    d.p.axes.axis_end = axis_end;
    d.p.axes.eps = eps;
    return d;
}

static lumen_opdesc norm(lumen_op op, float eps)
{
    lumen_opdesc d = {.op = op};
    d.p.norm.eps = eps;
    return d;
}

static lumen_opdesc argmax(int axis, int keepdims)
{
    lumen_opdesc d = {.op = LUMEN_OP_ARGMAX};
    d.p.argmax.axis = axis;
    d.p.argmax.keepdims = keepdims;
    return d;
}

static lumen_opdesc argmax_last(int axis, int keepdims)
{
    lumen_opdesc d = argmax(axis, keepdims);
    d.p.argmax.last = 1;
    return d;
}

#define SM LUMEN_OP_SOFTMAX
static lumen_opdesc topk(int axis, int k, int largest, int indices)
{
    lumen_opdesc d = {.op = LUMEN_OP_TOPK};
    d.p.topk = (lumen_topk_params){axis, k, largest, indices};
    return d;
}

#define LN LUMEN_OP_LAYERNORM
#define BN LUMEN_OP_BATCHNORM
#define IN LUMEN_OP_INSTANCENORM
/* batchnorm inputs: x, scale, bias, mean, var (var kept positive) */
#define BN_RANGE .lo = {-2, 0.5f, -1, -1, 0.1f}, .hi = {2, 2, 1, 1, 2}

int cases_norm(lumen_ctx *ctx)
{
    /* softmax of [1, 2, 3]: exp(x - 3) / (e^-2 + e^-1 + 1) */
    static const float sm_x[] = {1, 2, 3};
    static const float sm_y[] = {0.0900305732f, 0.244728471f, 0.665240956f};
    /* batchnorm [1,2,2], eps 0: c0 a = 2/sqrt(4) = 1, c1 a = 0.5/sqrt(0.25) = 1 */
    static const float bn_x[] = {1, 2, 3, 4}, bn_s[] = {2, 0.5f}, bn_b[] = {0.1f, -1},
                       bn_m[] = {1, 2}, bn_v[] = {4, 0.25f};
    static const float bn_y[] = {0.1f, 1.1f, 0, 1};
    /* instancenorm of [1, 2, 3, 4]: mean 2.5, var 1.25, eps 0; scale 2, bias 1 */
    static const float in_x[] = {1, 2, 3, 4}, in_s[] = {2}, in_b[] = {1};
    static const float in_y[] = {-1.68328157f, 0.105572809f, 1.89442719f, 3.68328157f};
    /* layernorm of [1, 2, 3, 4] (normalised: +-1.34164079, +-0.447213595), eps 0 */
    static const float ln_w[] = {1, -1, 2, 0.5f}, ln_b[] = {0, 1, 0, -1};
    static const float ln_y[] = {-1.34164079f, 1.44721360f, 0.894427191f, -0.329179607f};
    /* argmax along axis 1 of [[1, 5, 5], [7, 2, 7]]: ties keep the first index */
    static const float am_x[] = {1, 5, 5, 7, 2, 7}, am_y[] = {1, 0};
    /* rows of 2049 rising from 0 to 1 in steps of 1/2048 (exact in half): the maxima are at
     * index 2048, the largest integer half holds exactly */
    static float ramp[3 * 2049];
    for (int i = 0; i < 3 * 2049; i++)
        ramp[i] = (float)(i % 2049) / 2048.0f;
    /* topk 3 of [3, NaN, 1, 3, 2]: largest takes NaN first (PyTorch), ties in index order;
     * smallest puts NaN last */
    static const float tk_x[] = {3, NAN, 1, 3, 2};
    static const float tk_lv[] = {NAN, 3, 3}, tk_li[] = {1, 0, 3};
    static const float tk_sv[] = {1, 2, 3}, tk_si[] = {2, 4, 0};
    static const float tk_all[] = {1, 2, 3, 3, NAN}; /* smallest k = 5 */
    /* det: [[1, 2], [3, 4]] = -2 (one row swap); a singular 3x3; a 3x3 with a NaN */
    static const float det_x[] = {1, 2, 3, 4, 1, 2, 3, 2, 4, 6, 7, 8, 9, 1, 2, 3, 4, NAN, 6, 7, 8, 9};
    static const float det_y[] = {-2, 0, NAN};

    const tcase cases[] = {
        /* SOFTMAX */
        {"hand [1,2,3]", axes(SM, 1, 2, 0), 1, {SHAPE(1, 3)}, {sm_x}, .expect = sm_y},
        {"channels NCHW odd", axes(SM, 1, 2, 0), 1, {SHAPE(2, 9, 34, 17)}},
        {"last axis short", axes(SM, 2, 3, 0), 1, {SHAPE(17, 34, 9)}},
        {"last axis 300", axes(SM, 3, 4, 0), 1, {SHAPE(3, 5, 7, 300)}},
        {"axes 1..4", axes(SM, 1, 4, 0), 1, {SHAPE(2, 3, 5, 7)}},
        {"few long rows", axes(SM, 1, 2, 0), 1, {SHAPE(1, 300, 4)}},
        {"one row 3000 (row)", axes(SM, 1, 2, 0), 1, {SHAPE(1, 3000)}, .lo = {-9}, .hi = {9}},
        {"large logits", axes(SM, 1, 2, 0), 1, {SHAPE(2, 4, 7, 5)}, .lo = {-60}, .hi = {60}},
        {"cls K=4", axes(SM, 1, 2, 0), 1, {SHAPE(5, 4)}},
        /* BATCHNORM */
        {"hand [1,2,2] eps 0", norm(BN, 0), 5, {SHAPE(1, 2, 2), SHAPE(2), SHAPE(2), SHAPE(2), SHAPE(2)},
         {bn_x, bn_s, bn_b, bn_m, bn_v}, .expect = bn_y},
        {"2d odd batch 2", norm(BN, 1e-5f), 5,
         {SHAPE(2, 9, 34, 17), SHAPE(9), SHAPE(9), SHAPE(9), SHAPE(9)}, BN_RANGE},
        {"[N,C] only", norm(BN, 1e-3f), 5, {SHAPE(3, 5), SHAPE(5), SHAPE(5), SHAPE(5), SHAPE(5)},
         BN_RANGE},
        {"3d", norm(BN, 1e-5f), 5, {SHAPE(2, 4, 5, 6, 7), SHAPE(4), SHAPE(4), SHAPE(4), SHAPE(4)},
         BN_RANGE},
        /* INSTANCENORM */
        {"hand [1,1,4] eps 0", norm(IN, 0), 3, {SHAPE(1, 1, 4), SHAPE(1), SHAPE(1)},
         {in_x, in_s, in_b}, .expect = in_y},
        {"2d odd batch 2", norm(IN, 1e-5f), 3, {SHAPE(2, 9, 34, 17), SHAPE(9), SHAPE(9)}},
        {"3d", norm(IN, 1e-5f), 3, {SHAPE(2, 3, 5, 6, 7), SHAPE(3), SHAPE(3)}},
        {"small spatial 3x3 (col)", norm(IN, 1e-5f), 3, {SHAPE(3, 5, 3, 3), SHAPE(5), SHAPE(5)}},
        {"128x128 offset 100", norm(IN, 1e-5f), 3, {SHAPE(1, 4, 128, 128), SHAPE(4), SHAPE(4)},
         .lo = {100, -1, -1}, .hi = {101, 1, 1}},
        {"one row 3d offset (row)", norm(IN, 1e-5f), 3, {SHAPE(1, 1, 9, 33, 17), SHAPE(1),
         SHAPE(1)}, .lo = {100, -1, -1}, .hi = {101, 1, 1}},
        /* LAYERNORM */
        {"hand [1,4] eps 0", axes(LN, 1, 2, 0), 3, {SHAPE(1, 4), SHAPE(4), SHAPE(4)},
         {in_x, ln_w, ln_b}, .expect = ln_y},
        {"angio channels C=128", axes(LN, 1, 2, 1e-6f), 3,
         {SHAPE(1, 128, 32, 32), SHAPE(128), SHAPE(128)}},
        {"channels odd, weight only", axes(LN, 1, 2, 1e-5f), 2, {SHAPE(2, 9, 34, 17), SHAPE(9)}},
        {"channels offset 1000", axes(LN, 1, 2, 1e-6f), 3, {SHAPE(2, 256, 8, 8), SHAPE(256),
         SHAPE(256)}, .lo = {1000, -1, -1}, .hi = {1001, 1, 1}},
        {"onnx last axis 96", axes(LN, 2, 3, 1e-5f), 3, {SHAPE(3, 50, 96), SHAPE(96),
         SHAPE(96)}},
        {"axes 1..4 no affine", axes(LN, 1, 4, 1e-5f), 1, {SHAPE(2, 5, 7, 9)}},
        {"one row 768 (row)", axes(LN, 1, 2, 1e-5f), 3, {SHAPE(1, 768), SHAPE(768), SHAPE(768)}},
        {"bias only, last 33", axes(LN, 2, 3, 1e-5f), 3, {SHAPE(4, 17, 33), ABSENT, SHAPE(33)}},
        {"weight [1,7,9]", axes(LN, 2, 4, 1e-5f), 2, {SHAPE(3, 5, 7, 9), SHAPE(1, 7, 9)}},
        /* ARGMAX */
        {"hand ties last axis 1", argmax_last(1, 0), 1, {SHAPE(2, 3)}, {am_x}, .expect = (const float[]){2, 2}},
        {"hand ties last axis 0 keepdims", argmax_last(0, 1), 1, {SHAPE(3, 2)}, {(const float[]){1, 5, 3, 5, 3, 2}}, .expect = (const float[]){2, 1}},
        {"last random odd", argmax_last(2, 0), 1, {SHAPE(17, 34, 9)}},
        {"hand ties axis 1", argmax(1, 0), 1, {SHAPE(2, 3)}, {am_x}, .expect = am_y},
        {"channels keepdims", argmax(1, 1), 1, {SHAPE(2, 9, 34, 17)}},
        {"axis 0", argmax(0, 0), 1, {SHAPE(5, 7, 3)}},
        {"last axis odd", argmax(2, 0), 1, {SHAPE(17, 34, 9)}},
        {"axis of 2049 (fp16 edge)", argmax(1, 0), 1, {SHAPE(3, 2049)}, {ramp}},
        {"axis of 2050", argmax(1, 0), 1, {SHAPE(3, 2050)}, .fp16_refused = 1},
        /* TOPK */
        {"topk largest NaN ties hand", topk(1, 3, 1, 0), 1, {SHAPE(1, 5)}, {tk_x}, .expect = tk_lv},
        {"topk largest indices hand", topk(1, 3, 1, 1), 1, {SHAPE(1, 5)}, {tk_x}, .expect = tk_li},
        {"topk smallest hand", topk(0, 3, 0, 0), 1, {SHAPE(5)}, {tk_x}, .expect = tk_sv},
        {"topk smallest indices hand", topk(0, 3, 0, 1), 1, {SHAPE(5)}, {tk_x}, .expect = tk_si},
        {"topk smallest all, NaN last", topk(0, 5, 0, 0), 1, {SHAPE(5)}, {tk_x}, .expect = tk_all},
        {"topk 5 channels odd", topk(1, 5, 1, 0), 1, {SHAPE(2, 9, 34, 17)}},
        {"topk 5 channels indices", topk(1, 5, 1, 1), 1, {SHAPE(2, 9, 34, 17)}},
        {"topk smallest last axis", topk(2, 7, 0, 0), 1, {SHAPE(17, 3, 34)}},
        {"topk k = extent, axis 0", topk(0, 6, 1, 1), 1, {SHAPE(6, 11, 5)}},
        {"topk indices axis 2049 (fp16 edge)", topk(1, 4, 1, 1), 1, {SHAPE(3, 2049)}, {ramp}},
        {"topk indices axis 2050", topk(1, 4, 1, 1), 1, {SHAPE(3, 2050)}, .fp16_refused = 1},
        {"topk values axis 2050", topk(1, 4, 1, 0), 1, {SHAPE(3, 2050)}},
        /* DET */
        {"det 2x2 hand", {.op = LUMEN_OP_DET}, 1, {SHAPE(2, 2)}, {det_x}, .expect = det_y},
        {"det singular 3x3 hand", {.op = LUMEN_OP_DET}, 1, {SHAPE(1, 3, 3)}, {det_x + 4}, .expect = det_y + 1},
        {"det NaN 3x3 hand", {.op = LUMEN_OP_DET}, 1, {SHAPE(3, 3)}, {det_x + 13}, .expect = det_y + 2},
        {"det 1x1 batch", {.op = LUMEN_OP_DET}, 1, {SHAPE(7, 1, 1)}},
        {"det 5x5 batch odd", {.op = LUMEN_OP_DET}, 1, {SHAPE(3, 17, 5, 5)}},
        {"det 16x16", {.op = LUMEN_OP_DET}, 1, {SHAPE(2, 16, 16)}},
    };
    return run_cases(ctx, "norm", cases, (int)(sizeof cases / sizeof cases[0]));
}
