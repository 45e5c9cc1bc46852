/* cases_pool.c - POOL, REDUCE and the sampling ops' (RESIZE, GRID_SAMPLE, ROI_ALIGN) cases. */
#include <math.h>

#include "harness.h"

/* A pool with the same k, stride, pads and dilation on every spatial axis. */
static lumen_opdesc pool(int kind, int nsp, int k, int s, int pad, int dil, int ceil_mode, int incl)
{
    lumen_opdesc d = {.op = LUMEN_OP_POOL};
    lumen_pool_params *p = &d.p.pool;
    p->kind = kind, p->nsp = nsp, p->ceil_mode = ceil_mode, p->count_include_pad = incl;
    for (int i = 0; i < 3; i++) {
        p->k[i] = k, p->stride[i] = s, p->pad0[i] = p->pad1[i] = pad, p->dil[i] = dil;
    }
    return d;
}

/* Max pooling's indices (storage order 'col': column-major). */
static lumen_opdesc pool_idx(int nsp, int k, int s, int pad, int dil, int ceil_mode, int col)
{
    lumen_opdesc d = pool(LUMEN_POOL_MAX, nsp, k, s, pad, dil, ceil_mode, 0);
    d.p.pool.indices = 1, d.p.pool.storage_order = col;
    return d;
}

/* Pads only at the end (TensorFlow's SAME on even inputs). */
static lumen_opdesc pool_pad_end(int kind, int k, int s, int p1)
{
    lumen_opdesc d = pool(kind, 2, k, s, 0, 1, 0, 0);
    d.p.pool.pad1[0] = d.p.pool.pad1[1] = p1;
    return d;
}

/* A 2d pool over the width only: k 1 x kw. */
static lumen_opdesc pool_w(int kind, int kw, int s, int ceil_mode)
{
    lumen_opdesc d = pool(kind, 2, kw, s, 0, 1, ceil_mode, 0);
    d.p.pool.k[0] = d.p.pool.stride[0] = 1;
    return d;
}

static lumen_opdesc reduce(int kind, unsigned axes, int keepdims)
{
    lumen_opdesc d = {.op = LUMEN_OP_REDUCE};
    d.p.reduce.kind = kind, d.p.reduce.axes = axes, d.p.reduce.keepdims = keepdims;
    return d;
}

/* Resizes the last nsp axes to o0.. (0s for unused); scale s for every axis (0: out/in). */
static lumen_opdesc resize(int mode, int coord, int nearest, int nsp, int64_t o0, int64_t o1,
                           int64_t o2, float s)
{
    lumen_opdesc d = {.op = LUMEN_OP_RESIZE};
    lumen_resize_params *p = &d.p.resize;
    p->mode = mode, p->coord = coord, p->nearest = nearest, p->nsp = nsp;
    p->out[0] = o0, p->out[1] = o1, p->out[2] = o2;
    for (int i = 0; i < nsp; i++)
        p->scale[i] = s;
    return d;
}

/* Cubic resize of the last nsp axes with kernel parameter a, exclude_outside excl. */
static lumen_opdesc cubic(int coord, int nsp, int64_t o0, int64_t o1, int64_t o2, float s, float a,
                          int excl)
{
    lumen_opdesc d = resize(LUMEN_RESIZE_CUBIC, coord, 0, nsp, o0, o1, o2, s);
    d.p.resize.cubic_a = a, d.p.resize.exclude_outside = excl;
    return d;
}

/* tf_crop_and_resize of the last nsp axes, every axis cropped to [r0, r1], outside: 'extra'. */
static lumen_opdesc crop(int mode, int nsp, int64_t o0, int64_t o1, float r0, float r1, float extra)
{
    lumen_opdesc d = resize(mode, LUMEN_COORD_TF_CROP_AND_RESIZE, 0, nsp, o0, o1, 0, 0);
    d.p.resize.cubic_a = -0.75f, d.p.resize.extrapolation = extra;
    for (int i = 0; i < nsp; i++)
        d.p.resize.roi0[i] = r0, d.p.resize.roi1[i] = r1;
    return d;
}

static lumen_opdesc grid(int mode, int padding, int align)
{
    lumen_opdesc d = {.op = LUMEN_OP_GRID_SAMPLE};
    d.p.grid = (lumen_grid_sample_params){mode, padding, align};
    return d;
}

static lumen_opdesc roi(int mode, int oh, int ow, int sampling, float scale, int half_pixel)
{
    lumen_opdesc d = {.op = LUMEN_OP_ROI_ALIGN};
    d.p.roi = (lumen_roi_align_params){mode, oh, ow, sampling, scale, half_pixel};
    return d;
}

enum {
    MAX = LUMEN_POOL_MAX,
    AVG = LUMEN_POOL_AVG,
    LIN = LUMEN_RESIZE_LINEAR,
    NN = LUMEN_RESIZE_NEAREST,
    HALF = LUMEN_COORD_HALF_PIXEL,
    ALIGN = LUMEN_COORD_ALIGN_CORNERS,
    ASYM = LUMEN_COORD_ASYMMETRIC,
    PTHALF = LUMEN_COORD_PYTORCH_HALF_PIXEL,
    TFNN = LUMEN_COORD_TF_HALF_PIXEL_FOR_NN,
    FLOOR = LUMEN_NEAREST_FLOOR,
    RFLOOR = LUMEN_NEAREST_ROUND_PREFER_FLOOR,
    RCEIL = LUMEN_NEAREST_ROUND_PREFER_CEIL,
    CEIL = LUMEN_NEAREST_CEIL
};

int cases_pool(lumen_ctx *ctx)
{
    /* pool hands */
    static const float x16[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    /* 0 to 1 in steps of 1/2048 (exact in half): the last window's maximum is at index 2048 */
    static float ramp[2049];
    for (int i = 0; i < 2049; i++)
        ramp[i] = (float)i / 2048.0f;
    static const float max2_x[] = {5, 7, 13, 15};
    /* indices of those maxima, flat (row-major) and column-major (w * 4 + h) */
    static const float max2_i[] = {5, 7, 13, 15}, max2_ic[] = {5, 13, 7, 15};
    /* with a NaN at 5 the first window takes it; channel 2 of [1,2,2,2] adds 4 */
    static const float max2_in[] = {5, 7, 13, 15};
    static const float x8c[] = {1, 3, 3, 0, NAN, 2, 9, 9}, x8c_i[] = {1, 4};
    /* NaN propagates through max pooling and max reduction, as in PyTorch */
    static const float x16n[] = {0, 1, 2, 3, 4, NAN, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const float max2_n[] = {NAN, 7, 13, 15};
    static const float x6n[] = {1, NAN, 2, -3, 0, -1}, max0_n[] = {1, NAN, 2};
    static const float x9[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const float avg_excl_x[] = {3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7};
    static const float avg_incl_x[] = {12 / 9.0f, 21 / 9.0f, 16 / 9.0f, 27 / 9.0f, 45 / 9.0f,
                                       33 / 9.0f, 24 / 9.0f, 39 / 9.0f, 28 / 9.0f};
    static const float x5[] = {1, 2, 3, 4, 5};
    static const float avg_ceil_x[] = {1.5f, 3.5f, 5}; /* the last window holds only 5 */
    /* reduce hands */
    static const float x6[] = {1, 5, 2, -3, 0, -1};
    static const float sum1_x[] = {8, -4}, max0_x[] = {1, 5, 2};
    static const float mean_all_x[] = {4.0f / 6};
    /* resize hands */
    static const float x4[] = {1, 2, 3, 4};
    static const float nn2_x[] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    static const float x04[] = {0, 4}, lin_half_x[] = {0, 1, 3, 4};
    static const float x0210[] = {0, 2, 10}, lin_align_x[] = {0, 1, 2, 6, 10};
    static const float x8[] = {0, 1, 2, 3, 4, 5, 6, 7};
    static const float tie_floor_x[] = {0, 2, 4, 6}, tie_ceil_x[] = {1, 3, 5, 7};
    /* cubic, a = -0.75, asymmetric x2 of [1, 2, 4, 8]: the taps clamp at both ends */
    static const float x1248[] = {1, 2, 4, 8};
    static const float cubic_x[] = {1, 1.3125f, 2, 2.71875f, 4, 6.1875f, 8, 8.375f};
    /* tf_crop_and_resize of 5 values to 4 over roi [-0.25, 0.5]: x_orig = o - 1, the first
     * outside (extrapolation 7) */
    static const float x5s[] = {0, 10, 20, 30, 40}, crop_x[] = {7, 0, 10, 20};
    /* tf_half_pixel_for_nn, 8 -> 3: x_orig = (o + 0.5) * 8/3 = 1.33, 4, 6.67, floored */
    static const float tfnn_x[] = {1, 4, 6};
    /* grid_sample of the 2x2 plane [1, 2; 3, 4]: grid (0, 0) is the centre (2.5 bilinear),
     * (-1, -1) the top-left corner: 1 with align_corners, a quarter of it (the rest is zero
     * padding) without; (1.5, 0) is x = 1.25 px with align_corners: 0.75 of the right column's
     * 3 = 2.25 (zeros), 3 (border); x = 2 without: outside, 0 */
    static const float g22[] = {1, 2, 3, 4};
    static const float gpts[] = {0, 0, -1, -1, 1.5f, 0};
    static const float g_al[] = {2.5f, 1, 2.25f}, g_noal[] = {2.5f, 0.25f, 0}, g_border[] = {2.5f, 1, 3};
    /* roi_align of the 4x4 ramp 0..15, one bin over the roi (0, 0)-(2, 2), scale 1,
     * output_half_pixel, 2x2 samples at 0.5 and 1.5: mean of 2.5, 3.5, 6.5, 7.5 = 5 */
    static const float r44[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const float rbox[] = {0, 0, 2, 2}, rbatch0[] = {0}, r_avg[] = {5};
    /* random-input rois: [x1, y1, x2, y2] in pixels of a 13x17 input (some past the border) and
     * their batch indices (one outside the batch: zeros) */
    static const float rois5[] = {0, 0, 16, 12, 2.5f, 1, 9, 7.5f, -3, -2, 5, 4,
                                  10, 8, 20, 15, 4, 4, 4.2f, 4.1f};
    static const float rb5[] = {0, 1, 1, 0, 2}, rb5_1[] = {0, 0, 0, 0, 1};
    const tcase cases[] = {
        /* POOL */
        {"max 2x2 s2 hand",
         pool(MAX, 2, 2, 2, 0, 1, 0, 0),
         1,
         {SHAPE(1, 1, 4, 4)},
         {x16},
         .expect = max2_x},
        {"max 2x2 s2 NaN hand", pool(MAX, 2, 2, 2, 0, 1, 0, 0), 1, {SHAPE(1, 1, 4, 4)}, {x16n}, .expect = max2_n},
        {"reduce prod hand", reduce(LUMEN_REDUCE_PROD, 1u << 1, 0), 1, {SHAPE(2, 3)}, {(const float[]){1, 2, 3, -4, 0.5f, 2}}, .expect = (const float[]){6, -4}},
        {"reduce prod NaN hand", reduce(LUMEN_REDUCE_PROD, 1u << 0, 1), 1, {SHAPE(2, 3)}, {x6n}},
        {"reduce prod rows", reduce(LUMEN_REDUCE_PROD, 1u << 2, 1), 1, {SHAPE(3, 5, 37)}, .lo = {0.8f}, .hi = {1.2f}},
        {"reduce prod mixed axes", reduce(LUMEN_REDUCE_PROD, 5u, 0), 1, {SHAPE(7, 3, 9, 2)}, .lo = {-1.5f}, .hi = {1.5f}},
        {"reduce max NaN hand", reduce(LUMEN_REDUCE_MAX, 1u << 0, 1), 1, {SHAPE(2, 3)}, {x6n}, .expect = max0_n},
        {"avg 3x3 p1 excl hand",
         pool(AVG, 2, 3, 1, 1, 1, 0, 0),
         1,
         {SHAPE(1, 1, 3, 3)},
         {x9},
         .expect = avg_excl_x},
        {"avg 3x3 p1 incl hand",
         pool(AVG, 2, 3, 1, 1, 1, 0, 1),
         1,
         {SHAPE(1, 1, 3, 3)},
         {x9},
         .expect = avg_incl_x},
        {"avg 1x2 s2 ceil hand",
         pool_w(AVG, 2, 2, 1),
         1,
         {SHAPE(1, 1, 1, 5)},
         {x5},
         .expect = avg_ceil_x},
        {"max indices 2x2 s2 hand", pool_idx(2, 2, 2, 0, 1, 0, 0), 1, {SHAPE(1, 1, 4, 4)}, {x16}, .expect = max2_i},
        {"max indices col-major hand", pool_idx(2, 2, 2, 0, 1, 0, 1), 1, {SHAPE(1, 1, 4, 4)}, {x16}, .expect = max2_ic},
        {"max indices NaN hand", pool_idx(2, 2, 2, 0, 1, 0, 0), 1, {SHAPE(1, 1, 4, 4)}, {x16n}, .expect = max2_in},
        {"max indices ties, channel 1 hand", pool_idx(2, 2, 2, 0, 1, 0, 0), 1, {SHAPE(1, 2, 2, 2)}, {x8c}, .expect = x8c_i},
        {"max indices 3x3 s2 p1 odd", pool_idx(2, 3, 2, 1, 1, 0, 0), 1, {SHAPE(2, 9, 34, 17)}, .fp16_refused = 1},
        {"max indices col-major ceil", pool_idx(2, 3, 2, 0, 1, 1, 1), 1, {SHAPE(1, 3, 17, 34)}},
        {"max indices 3d dil2", pool_idx(3, 2, 1, 1, 2, 0, 0), 1, {SHAPE(1, 2, 5, 6, 7)}},
        {"max indices 1d", pool_idx(1, 4, 3, 1, 1, 0, 0), 1, {SHAPE(2, 3, 25)}},
        /* fp16 holds indices up to 2048: an input of 2049 elements is the largest it takes */
        {"max indices 1d 2049 (fp16 edge)", pool_idx(1, 3, 2, 0, 1, 0, 0), 1, {SHAPE(1, 1, 2049)}, {ramp}},
        {"max indices 1d 2050", pool_idx(1, 3, 2, 0, 1, 0, 0), 1, {SHAPE(1, 1, 2050)}, .fp16_refused = 1},
        {"max 3x3 s2 p1 odd", pool(MAX, 2, 3, 2, 1, 1, 0, 0), 1, {SHAPE(2, 9, 34, 17)}},
        {"max 2x2 s2 odd", pool(MAX, 2, 2, 2, 0, 1, 0, 0), 1, {SHAPE(2, 9, 34, 17)}},
        {"max 3x3 s2 ceil", pool(MAX, 2, 3, 2, 0, 1, 1, 0), 1, {SHAPE(1, 3, 17, 34)}},
        {"max 3x3 s2 p1 ceil", pool(MAX, 2, 3, 2, 1, 1, 1, 0), 1, {SHAPE(2, 3, 18, 9)}},
        {"max k3 dil2 p2", pool(MAX, 2, 3, 1, 2, 2, 0, 0), 1, {SHAPE(1, 4, 17, 20)}},
        {"max 2x2 pad end", pool_pad_end(MAX, 2, 2, 1), 1, {SHAPE(1, 2, 7, 7)}},
        {"avg 3x3 s2 p1 excl", pool(AVG, 2, 3, 2, 1, 1, 0, 0), 1, {SHAPE(2, 5, 17, 9)}},
        {"avg 3x3 s2 p1 incl", pool(AVG, 2, 3, 2, 1, 1, 0, 1), 1, {SHAPE(2, 5, 17, 9)}},
        {"avg 3x3 s2 p1 ceil incl", pool(AVG, 2, 3, 2, 1, 1, 1, 1), 1, {SHAPE(2, 5, 18, 10)}},
        {"avg 3x3 s2 p1 ceil excl", pool(AVG, 2, 3, 2, 1, 1, 1, 0), 1, {SHAPE(2, 5, 18, 10)}},
        {"avg 2x2 s2 odd", pool(AVG, 2, 2, 2, 0, 1, 0, 0), 1, {SHAPE(2, 9, 34, 17)}},
        {"max 3d k3 s2 p1", pool(MAX, 3, 3, 2, 1, 1, 0, 0), 1, {SHAPE(2, 3, 9, 10, 11)}},
        {"avg 3d k2 s2 ceil incl", pool(AVG, 3, 2, 2, 0, 1, 1, 1), 1, {SHAPE(1, 2, 7, 9, 8)}},
        {"avg 3d k3 s1 p1 excl", pool(AVG, 3, 3, 1, 1, 1, 0, 0), 1, {SHAPE(1, 3, 5, 6, 7)}},
        {"avg 1d k4 s3 p1", pool(AVG, 1, 4, 3, 1, 1, 0, 1), 1, {SHAPE(2, 3, 25)}},
        /* REDUCE */
        {"sum axis1 hand",
         reduce(LUMEN_REDUCE_SUM, 1u << 1, 0),
         1,
         {SHAPE(2, 3)},
         {x6},
         .expect = sum1_x},
        {"max axis0 keep hand",
         reduce(LUMEN_REDUCE_MAX, 1u << 0, 1),
         1,
         {SHAPE(2, 3)},
         {x6},
         .expect = max0_x},
        {"mean all hand",
         reduce(LUMEN_REDUCE_MEAN, 3u, 0),
         1,
         {SHAPE(2, 3)},
         {x6},
         .expect = mean_all_x},
        {"gap mean HW keep", reduce(LUMEN_REDUCE_MEAN, 3u << 2, 1), 1, {SHAPE(2, 9, 34, 17)}},
        {"gap mean 7x7", reduce(LUMEN_REDUCE_MEAN, 3u << 2, 1), 1, {SHAPE(2, 64, 7, 7)}},
        {"gap mean 3d DHW", reduce(LUMEN_REDUCE_MEAN, 7u << 2, 0), 1, {SHAPE(2, 5, 9, 10, 11)}},
        {"max channels", reduce(LUMEN_REDUCE_MAX, 1u << 1, 0), 1, {SHAPE(2, 9, 34, 17)}},
        {"sum axes 0,2", reduce(LUMEN_REDUCE_SUM, 5u, 1), 1, {SHAPE(3, 5, 7, 4)}},
        {"sum all odd", reduce(LUMEN_REDUCE_SUM, 7u, 0), 1, {SHAPE(17, 34, 9)}},
        {"max last long", reduce(LUMEN_REDUCE_MAX, 1u << 1, 0), 1, {SHAPE(5, 1000)}},
        {"sum last short", reduce(LUMEN_REDUCE_SUM, 1u << 2, 1), 1, {SHAPE(3, 7, 17)}},
        {"mean axes 1,3,5 6-d", reduce(LUMEN_REDUCE_MEAN, 42u, 0), 1, {SHAPE(2, 3, 2, 4, 3, 5)}},
        {"sum extent-1 gap", reduce(LUMEN_REDUCE_SUM, 1u << 2, 0), 1, {SHAPE(4, 1, 6, 5)}},
        {"no axes (copy)", reduce(LUMEN_REDUCE_SUM, 0u, 0), 1, {SHAPE(3, 4)}},
        /* RESIZE */
        {"nearest x2 hand",
         resize(NN, ASYM, FLOOR, 2, 4, 4, 0, 0),
         1,
         {SHAPE(1, 1, 2, 2)},
         {x4},
         .expect = nn2_x},
        {"linear half_pixel hand",
         resize(LIN, HALF, 0, 1, 4, 0, 0, 0),
         1,
         {SHAPE(1, 1, 2)},
         {x04},
         .expect = lin_half_x},
        {"linear align hand",
         resize(LIN, ALIGN, 0, 1, 5, 0, 0, 0),
         1,
         {SHAPE(1, 3)},
         {x0210},
         .expect = lin_align_x},
        {"nearest tie prefer_floor hand",
         resize(NN, HALF, RFLOOR, 1, 4, 0, 0, 0),
         1,
         {SHAPE(1, 8)},
         {x8},
         .expect = tie_floor_x},
        {"nearest tie prefer_ceil hand",
         resize(NN, HALF, RCEIL, 1, 4, 0, 0, 0),
         1,
         {SHAPE(1, 8)},
         {x8},
         .expect = tie_ceil_x},
        {"bilinear x2 half_pixel", resize(LIN, HALF, 0, 2, 34, 18, 0, 0), 1, {SHAPE(2, 3, 17, 9)}},
        {"bilinear x2 align", resize(LIN, ALIGN, 0, 2, 34, 18, 0, 0), 1, {SHAPE(1, 4, 17, 9)}},
        {"up2 fast path W%4", resize(LIN, HALF, 0, 2, 34, 24, 0, 0), 1, {SHAPE(2, 3, 17, 12)}},
        {"up2 fast path H=1 scale 2", resize(LIN, HALF, 0, 2, 2, 8, 0, 2), 1, {SHAPE(1, 5, 1, 4)}},
        {"up2 fast path pt_half 3-d", resize(LIN, PTHALF, 0, 2, 16, 16, 0, 0), 1, {SHAPE(16, 8, 8)}},
        {"bilinear x2 asymmetric", resize(LIN, ASYM, 0, 2, 34, 18, 0, 2), 1, {SHAPE(1, 4, 17, 9)}},
        {"bilinear down half_pixel",
         resize(LIN, HALF, 0, 2, 17, 9, 0, 0),
         1,
         {SHAPE(2, 3, 34, 17)}},
        {"bilinear down align", resize(LIN, ALIGN, 0, 2, 11, 6, 0, 0), 1, {SHAPE(1, 3, 34, 17)}},
        {"bilinear pt_half out 1", resize(LIN, PTHALF, 0, 2, 1, 13, 0, 0), 1, {SHAPE(1, 2, 5, 7)}},
        {"bilinear scale 1.7", resize(LIN, HALF, 0, 2, 17, 18, 0, 1.7f), 1, {SHAPE(1, 3, 10, 11)}},
        {"bilinear 13/17 non-int",
         resize(LIN, PTHALF, 0, 2, 13, 20, 0, 0),
         1,
         {SHAPE(2, 2, 17, 9)}},
        {"nearest x2 floor", resize(NN, ASYM, FLOOR, 2, 34, 18, 0, 0), 1, {SHAPE(2, 3, 17, 9)}},
        {"nearest down 0.5 floor",
         resize(NN, ASYM, FLOOR, 2, 17, 8, 0, 0),
         1,
         {SHAPE(1, 2, 34, 17)}},
        {"nearest scale 3 prefer_floor",
         resize(NN, HALF, RFLOOR, 2, 15, 21, 0, 3),
         1,
         {SHAPE(1, 2, 5, 7)}},
        {"nearest non-int prefer_ceil",
         resize(NN, HALF, RCEIL, 2, 13, 20, 0, 0),
         1,
         {SHAPE(1, 2, 9, 13)}},
        {"nearest align ceil down",
         resize(NN, ALIGN, CEIL, 2, 5, 6, 0, 0),
         1,
         {SHAPE(1, 2, 9, 13)}},
        {"nearest 13/17 floor", resize(NN, ASYM, FLOOR, 2, 13, 7, 0, 0), 1, {SHAPE(2, 2, 17, 9)}},
        {"trilinear x2 half_pixel",
         resize(LIN, HALF, 0, 3, 10, 12, 14, 0),
         1,
         {SHAPE(1, 2, 5, 6, 7)}},
        {"trilinear align non-int",
         resize(LIN, ALIGN, 0, 3, 7, 9, 5, 0),
         1,
         {SHAPE(2, 1, 4, 5, 3)}},
        {"nearest 3d prefer_ceil",
         resize(NN, ASYM, RCEIL, 3, 8, 10, 6, 0),
         1,
         {SHAPE(1, 2, 4, 5, 3)}},
        {"cubic asym x2 hand", cubic(ASYM, 1, 8, 0, 0, 2, -0.75f, 0), 1, {SHAPE(1, 4)}, {x1248}, .expect = cubic_x},
        {"crop linear extrapolate hand", crop(LIN, 1, 4, 0, -0.25f, 0.5f, 7), 1, {SHAPE(1, 5)}, {x5s}, .expect = crop_x},
        {"nearest tf_half_pixel_for_nn hand", resize(NN, TFNN, FLOOR, 1, 3, 0, 0, 0), 1, {SHAPE(1, 8)}, {x8}, .expect = tfnn_x},
        {"bicubic x2 half_pixel odd", cubic(HALF, 2, 34, 13, 0, 0, -0.75f, 0), 1, {SHAPE(2, 3, 17, 9)}},
        {"bicubic down excl a-0.5", cubic(HALF, 2, 5, 17, 0, 0, -0.5f, 1), 1, {SHAPE(1, 2, 9, 34)}},
        {"bicubic align non-int", cubic(ALIGN, 2, 13, 20, 0, 0, -0.75f, 0), 1, {SHAPE(2, 2, 17, 9)}},
        {"bicubic asym scale 1.7", cubic(ASYM, 2, 17, 18, 0, 1.7f, -0.75f, 1), 1, {SHAPE(1, 3, 10, 11)}},
        {"bicubic pt_half out 1", cubic(PTHALF, 2, 1, 13, 0, 0, -0.75f, 0), 1, {SHAPE(1, 2, 5, 7)}},
        {"tricubic half_pixel", cubic(HALF, 3, 7, 9, 5, 0, -0.75f, 0), 1, {SHAPE(1, 2, 5, 6, 7)}},
        {"tricubic depth 1 excl", cubic(HALF, 3, 3, 9, 5, 0, -0.75f, 1), 1, {SHAPE(1, 2, 1, 6, 7)}},
        {"crop bicubic 2d", crop(LUMEN_RESIZE_CUBIC, 2, 9, 7, 0.1f, 1.2f, -3), 1, {SHAPE(1, 3, 13, 11)}},
        {"crop nearest out 1", crop(NN, 2, 1, 5, 0.4f, 0.6f, 0), 1, {SHAPE(2, 1, 7, 9)}},
        /* GRID_SAMPLE */
        {"grid bilinear align hand", grid(LUMEN_GRID_BILINEAR, LUMEN_GRID_ZEROS, 1), 2, {SHAPE(1, 1, 2, 2), SHAPE(1, 1, 3, 2)}, {g22, gpts}, .expect = g_al},
        {"grid bilinear zeros hand", grid(LUMEN_GRID_BILINEAR, LUMEN_GRID_ZEROS, 0), 2, {SHAPE(1, 1, 2, 2), SHAPE(1, 1, 3, 2)}, {g22, gpts}, .expect = g_noal},
        {"grid bilinear border hand", grid(LUMEN_GRID_BILINEAR, LUMEN_GRID_BORDER, 1), 2, {SHAPE(1, 1, 2, 2), SHAPE(1, 1, 3, 2)}, {g22, gpts}, .expect = g_border},
        {"grid bilinear zeros odd", grid(LUMEN_GRID_BILINEAR, LUMEN_GRID_ZEROS, 0), 2, {SHAPE(2, 3, 17, 9), SHAPE(2, 5, 7, 2)}, .lo = {-1, -1.3f}, .hi = {1, 1.3f}},
        {"grid bilinear reflection align", grid(LUMEN_GRID_BILINEAR, LUMEN_GRID_REFLECTION, 1), 2, {SHAPE(1, 4, 9, 13), SHAPE(1, 11, 6, 2)}, .lo = {-1, -3}, .hi = {1, 3}},
        {"grid nearest border", grid(LUMEN_GRID_NEAREST, LUMEN_GRID_BORDER, 0), 2, {SHAPE(2, 2, 7, 5), SHAPE(2, 9, 4, 2)}, .lo = {-1, -1.5f}, .hi = {1, 1.5f}},
        {"grid nearest reflection", grid(LUMEN_GRID_NEAREST, LUMEN_GRID_REFLECTION, 0), 2, {SHAPE(1, 3, 6, 8), SHAPE(1, 5, 5, 2)}, .lo = {-1, -2.5f}, .hi = {1, 2.5f}},
        {"grid bicubic zeros", grid(LUMEN_GRID_BICUBIC, LUMEN_GRID_ZEROS, 0), 2, {SHAPE(1, 3, 11, 7), SHAPE(1, 6, 9, 2)}, .lo = {-1, -1.2f}, .hi = {1, 1.2f}},
        {"grid bicubic border align", grid(LUMEN_GRID_BICUBIC, LUMEN_GRID_BORDER, 1), 2, {SHAPE(2, 2, 5, 9), SHAPE(2, 4, 3, 2)}, .lo = {-1, -1.4f}, .hi = {1, 1.4f}},
        {"grid bicubic reflection", grid(LUMEN_GRID_BICUBIC, LUMEN_GRID_REFLECTION, 0), 2, {SHAPE(1, 2, 8, 6), SHAPE(1, 7, 5, 2)}, .lo = {-1, -2}, .hi = {1, 2}},
        /* ROI_ALIGN */
        {"roi avg one bin hand", roi(LUMEN_ROI_AVG, 1, 1, 2, 1, 0), 3, {SHAPE(1, 1, 4, 4), SHAPE(1, 4), SHAPE(1)}, {r44, rbox, rbatch0}, .expect = r_avg},
        {"roi avg adaptive half_pixel", roi(LUMEN_ROI_AVG, 3, 5, 0, 1, 1), 3, {SHAPE(3, 4, 13, 17), SHAPE(5, 4), SHAPE(5)}, {NULL, rois5, rb5}},
        {"roi avg sampling 2 scale 0.5", roi(LUMEN_ROI_AVG, 2, 2, 2, 0.5f, 0), 3, {SHAPE(2, 3, 13, 17), SHAPE(5, 4), SHAPE(5)}, {NULL, rois5, rb5_1}},
        {"roi max adaptive", roi(LUMEN_ROI_MAX, 4, 3, 0, 1, 0), 3, {SHAPE(2, 2, 13, 17), SHAPE(5, 4), SHAPE(5)}, {NULL, rois5, rb5_1}},
        {"roi batch of 2050", roi(LUMEN_ROI_AVG, 2, 2, 2, 1, 0), 3, {SHAPE(2050, 1, 3, 3), SHAPE(5, 4), SHAPE(5)}, {NULL, rois5, rb5}, .fp16_refused = 1},
    };
    return run_cases(ctx, "pool", cases, (int)(sizeof cases / sizeof cases[0]));
}
