/*
 * resize.c - the sampling ops. RESIZE: nearest, (bi,tri)linear and (bi,tri)cubic over the last
 * nsp (1..3) axes, with ONNX Resize semantics; GRID_SAMPLE and ROI_ALIGN (at the end of the
 * file, each with its own comment). Kernels: kernels/resize.cl.
 *
 * Coordinates. Output index x of an axis maps to the input coordinate
 *     x_orig = (x + c) * a - e
 * where a, c and e encode the ONNX coordinate_transformation_mode (r = 1/scale, scale = the
 * given scale or out/in):
 *     half_pixel           c = e = 0.5, a = r
 *     pytorch_half_pixel   same, but x_orig = 0 (a = c = e = 0) when the output extent is 1
 *     align_corners        c = e = 0,   a = (in-1)/(L-1), or 0 when L == 1, where L is in*scale
 *                          when a scale is given (ONNX's reference), else out
 *     asymmetric           c = e = 0,   a = r
 *     tf_half_pixel_for_nn c = 0.5, e = 0, a = r
 *     tf_crop_and_resize   c = 0, a = (roi1-roi0)(in-1)/(out-1), e = -roi0 (in-1); when out is
 *                          1, a = 0 and e = -(roi0+roi1)(in-1)/2. An output whose x_orig lies
 *                          outside [0, in-1] on any axis is 'extrapolation'.
 * a is rounded to float on the host and x_orig is computed in float, with the same operations
 * in the reference and the kernel (contraction into fma is off in resize.cl), so both take the
 * same nearest index even on exact ties. This is also how PyTorch computes 'nearest' (floor of
 * x * (float)(in/out)), so results match it bit for bit.
 * Nearest rounds x_orig (floor, ceil, round half down, round half up) and clamps the index to
 * [0, in-1]. Linear clamps x_orig to [0, in-1] and blends the two neighbours (the upper one
 * clamped), which equals ONNX's edge padding and PyTorch's clamping. Cubic takes the 4 taps
 * floor(x_orig)-1 .. floor(x_orig)+2 with Keys' weights for t = x_orig - floor(x_orig):
 *     w0 = ((a(t+1) - 5a)(t+1) + 8a)(t+1) - 4a      w1 = ((a+2)t - (a+3))t^2 + 1
 *     w2 = ((a+2)(1-t) - (a+3))(1-t)^2 + 1          w3 = ((a(2-t) - 5a)(2-t) + 8a)(2-t) - 4a
 * (a = cubic_a); a tap outside [0, in-1] reads the clamped index (edge padding), or with
 * exclude_outside gets weight 0 and the rest are divided by their sum. An extent-1 axis gets
 * t = 0, weights (0, 1, 0, 0), so padded axes cost nothing but the loop.
 *
 * Layout: leading axes are flattened into 'outer'; the resized axes are padded in front to 3
 * (extent 1, a = c = e = 0). The kernels run over the grid (OW, OH, OD * outer).
 */
#include <math.h>
#include <string.h>

#include "../internal.h"

typedef struct resize3 {
    int64_t outer;
    int in[3], out[3];
    float a[3], c[3], e[3];
} resize3;

static lumen_status resize_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                 lumen_shape *out, char *err)
{
    (void)n_in;
    const lumen_resize_params *p = &d->p.resize;
    const lumen_shape *x = in[0];
    char b[160];
    if (p->nsp < 1 || p->nsp > 3 || x->ndim < p->nsp)
        return lumen__errf(err, LUMEN_ESHAPE,
                           "resize: input %s cannot resize its last %d axes "
                           "(nsp must be 1..3 and at most the rank)",
                           lumen_shape_format(x, b, sizeof b), p->nsp);
    *out = *x;
    for (int i = 0; i < p->nsp; i++) {
        int64_t e = x->d[x->ndim - p->nsp + i];
        if (e < 1 || p->out[i] < 1 || !(p->scale[i] >= 0) || isinf(p->scale[i]))
            return lumen__errf(err, LUMEN_ESHAPE,
                               "resize: input %s, axis %d: extent %lld to %lld "
                               "with scale %g (need extents > 0 and scale >= 0, 0 = out/in)",
                               lumen_shape_format(x, b, sizeof b), x->ndim - p->nsp + i,
                               (long long)e, (long long)p->out[i], p->scale[i]);
        out->d[x->ndim - p->nsp + i] = p->out[i];
        if (p->coord == LUMEN_COORD_TF_CROP_AND_RESIZE &&
            !(fabsf(p->roi0[i]) <= 1e6f && fabsf(p->roi1[i]) <= 1e6f))
            return lumen__errf(err, LUMEN_EINVAL, "resize: roi %g .. %g on axis %d", p->roi0[i],
                               p->roi1[i], x->ndim - p->nsp + i);
    }
    if (p->mode == LUMEN_RESIZE_CUBIC && !(fabsf(p->cubic_a) <= 1e6f))
        return lumen__errf(err, LUMEN_EINVAL, "resize: cubic_a %g", p->cubic_a);
    return LUMEN_OK;
}

static void resize_to3(const lumen_resize_params *p, const lumen_shape *x, resize3 *q)
{
    int lead = 3 - p->nsp, first = x->ndim - p->nsp;
    q->outer = 1;
    for (int i = 0; i < first; i++)
        q->outer *= x->d[i];
    for (int i = 0; i < 3; i++) {
        int j = i - lead;
        q->a[i] = q->c[i] = q->e[i] = 0.0f;
        q->in[i] = q->out[i] = 1;
        if (j < 0)
            continue;
        int64_t in = x->d[first + j], out = p->out[j];
        q->in[i] = (int)in, q->out[i] = (int)out;
        float r = p->scale[j] > 0 ? (float)(1.0 / p->scale[j]) : (float)in / (float)out;
        double len = p->scale[j] > 0 ? (double)in * p->scale[j] : (double)out;
        switch (p->coord) {
        case LUMEN_COORD_HALF_PIXEL:
            q->a[i] = r, q->c[i] = q->e[i] = 0.5f;
            break;
        case LUMEN_COORD_PYTORCH_HALF_PIXEL:
            if (out > 1)
                q->a[i] = r, q->c[i] = q->e[i] = 0.5f;
            break;
        case LUMEN_COORD_ALIGN_CORNERS:
            if (len > 1)
                q->a[i] = (float)((double)(in - 1) / (len - 1));
            break;
        case LUMEN_COORD_TF_HALF_PIXEL_FOR_NN:
            q->a[i] = r, q->c[i] = 0.5f;
            break;
        case LUMEN_COORD_TF_CROP_AND_RESIZE: {
            double r0 = p->roi0[j], r1 = p->roi1[j];
            if (out > 1)
                q->a[i] = (float)((r1 - r0) * (double)(in - 1) / (double)(out - 1));
            q->e[i] = (float)(out > 1 ? -r0 * (double)(in - 1) : -0.5 * (r0 + r1) * (in - 1));
            break;
        }
        default: /* asymmetric */
            q->a[i] = r;
            break;
        }
    }
}

/* The input coordinate of output index o (see the file comment); float on purpose. */
static float coord_of(const resize3 *q, int axis, int o)
{
    float t = (float)o + q->c[axis];
    float u = t * q->a[axis];
    return u - q->e[axis];
}

/* Cubic: the 4 taps of coordinate v on an axis of extent in (clamped indices) and their
 * weights (see the file comment). */
static void cubic_weights(float t, float ca, float *w)
{
    float s = 1.0f - t;
    w[0] = ((ca * (t + 1.0f) - 5.0f * ca) * (t + 1.0f) + 8.0f * ca) * (t + 1.0f) - 4.0f * ca;
    w[1] = ((ca + 2.0f) * t - (ca + 3.0f)) * t * t + 1.0f;
    w[2] = ((ca + 2.0f) * s - (ca + 3.0f)) * s * s + 1.0f;
    w[3] = ((ca * (s + 1.0f) - 5.0f * ca) * (s + 1.0f) + 8.0f * ca) * (s + 1.0f) - 4.0f * ca;
}

static void cubic_of(float v, int in, float ca, int excl, int *idx, float *w)
{
    float f = floorf(v);
    cubic_weights(v - f, ca, w);
    float sum = 0.0f;
    for (int k = 0; k < 4; k++) {
        int i = (int)f - 1 + k;
        if (excl && (i < 0 || i >= in))
            w[k] = 0.0f;
        sum += w[k];
        idx[k] = i < 0 ? 0 : i >= in ? in - 1 : i;
    }
    for (int k = 0; excl && k < 4; k++)
        w[k] = sum != 0.0f ? w[k] / sum : 0.0f;
}

/* tf_crop_and_resize: 1 when coordinate v falls outside an axis of extent in. */
static int outside(float v, int in)
{
    return v < 0.0f || v > (float)(in - 1);
}

static int nearest_of(int mode, float v, int in)
{
    float r;
    switch (mode) {
    case LUMEN_NEAREST_CEIL:
        r = ceilf(v);
        break;
    case LUMEN_NEAREST_ROUND_PREFER_FLOOR: /* halves go down */
        r = ceilf(v - 0.5f);
        break;
    case LUMEN_NEAREST_ROUND_PREFER_CEIL: /* halves go up */
        r = floorf(v + 0.5f);
        break;
    default:
        r = floorf(v);
        break;
    }
    if (!(r >= 0.0f))
        return 0;
    return r > (float)(in - 1) ? in - 1 : (int)r;
}

/* Linear: the lower neighbour i0, the upper i1 and the weight w of i1. */
static void linear_of(float v, int in, int *i0, int *i1, float *w)
{
    v = fminf(fmaxf(v, 0.0f), (float)(in - 1));
    *i0 = (int)v;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *w = v - (float)*i0;
}

static lumen_status resize_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                               const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)os, (void)err;
    const lumen_resize_params *p = &d->p.resize;
    resize3 q;
    resize_to3(p, in_shape[0], &q);
    const int *I = q.in, *O = q.out;
    for (int64_t b = 0; b < q.outer; b++) {
        const float *x = in[0] + b * I[0] * I[1] * I[2];
        for (int od = 0; od < O[0]; od++)
            for (int oh = 0; oh < O[1]; oh++)
                for (int ow = 0; ow < O[2]; ow++) {
                    float vd = coord_of(&q, 0, od), vh = coord_of(&q, 1, oh),
                          vw = coord_of(&q, 2, ow);
                    if (p->coord == LUMEN_COORD_TF_CROP_AND_RESIZE &&
                        (outside(vd, I[0]) || outside(vh, I[1]) || outside(vw, I[2]))) {
                        *out++ = p->extrapolation;
                        continue;
                    }
                    if (p->mode == LUMEN_RESIZE_CUBIC) {
                        int di[4], hi[4], wi[4];
                        float fd[4], fh[4], fw[4];
                        cubic_of(vd, I[0], p->cubic_a, p->exclude_outside, di, fd);
                        cubic_of(vh, I[1], p->cubic_a, p->exclude_outside, hi, fh);
                        cubic_of(vw, I[2], p->cubic_a, p->exclude_outside, wi, fw);
                        double acc = 0;
                        for (int a = 0; a < 4; a++)
                            for (int e = 0; e < 4; e++)
                                for (int f = 0; f < 4; f++)
                                    acc += (double)fd[a] * fh[e] * fw[f] *
                                           x[((int64_t)di[a] * I[1] + hi[e]) * I[2] + wi[f]];
                        *out++ = (float)acc;
                        continue;
                    }
                    if (p->mode == LUMEN_RESIZE_NEAREST) {
                        int id = nearest_of(p->nearest, vd, I[0]);
                        int ih = nearest_of(p->nearest, vh, I[1]);
                        int iw = nearest_of(p->nearest, vw, I[2]);
                        *out++ = x[((int64_t)id * I[1] + ih) * I[2] + iw];
                        continue;
                    }
                    int d0, d1, h0, h1, w0, w1;
                    float wd, wh, ww;
                    linear_of(vd, I[0], &d0, &d1, &wd);
                    linear_of(vh, I[1], &h0, &h1, &wh);
                    linear_of(vw, I[2], &w0, &w1, &ww);
                    /* sum over the 8 corners, each weighted by its distance product */
                    int di[2] = {d0, d1}, hi[2] = {h0, h1}, wi[2] = {w0, w1};
                    double fd[2] = {1.0 - wd, wd}, fh[2] = {1.0 - wh, wh}, fw[2] = {1.0 - ww, ww};
                    double acc = 0;
                    for (int a = 0; a < 2; a++)
                        for (int e = 0; e < 2; e++)
                            for (int f = 0; f < 2; f++)
                                acc += fd[a] * fh[e] * fw[f] *
                                       x[((int64_t)di[a] * I[1] + hi[e]) * I[2] + wi[f]];
                    *out++ = (float)acc;
                }
    }
    return LUMEN_OK;
}

/* Bilinear x2 on the last two axes with half-pixel centres (PyTorch's align_corners=False, the
 * decoders' Up2) and a width that is a multiple of 4: a kernel that writes 8 outputs of a row
 * from 6 inputs, with the fixed weights 0.25 / 0.75. Returns 1 when it applies. */
static int is_up2(const lumen_resize_params *p, const lumen_shape *x, const lumen_shape *y)
{
    int nd = x->ndim;
    if (p->mode != LUMEN_RESIZE_LINEAR || p->nsp != 2 || nd < 2 ||
        (p->coord != LUMEN_COORD_HALF_PIXEL && p->coord != LUMEN_COORD_PYTORCH_HALF_PIXEL))
        return 0;
    for (int i = 0; i < 2; i++) {
        if (y->d[nd - 2 + i] != 2 * x->d[nd - 2 + i] || (p->scale[i] != 0 && p->scale[i] != 2))
            return 0;
    }
    return x->d[nd - 1] % 4 == 0 && x->d[nd - 2] >= 1;
}

static lumen_status run_up2(lumen_ctx *ctx, const lumen_tensor *x, lumen_tensor *y)
{
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "resize", "", "resize_up2_f32", &k);
    if (st != LUMEN_OK)
        return st;
    int nd = x->shape.ndim, H = (int)x->shape.d[nd - 2], W = (int)x->shape.d[nd - 1];
    int xo = lumen__off(x), yo = lumen__off(y);
    lumen__arg args[] = {{sizeof(cl_mem), &x->mem}, {sizeof(int), &xo}, {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},        {sizeof(int), &H},  {sizeof(int), &W}};
    if ((st = lumen__set_args(ctx, k, "resize_up2_f32", 6, args)) != LUMEN_OK)
        return st;
    size_t g[3] = {(size_t)W / 4, (size_t)H * 2, (size_t)(lumen_tensor_numel(x) / H / W)};
    double n = (double)lumen_tensor_numel(y);
    return lumen__launch(ctx, k, 3, g, NULL, "resize_up2", n * 8, 4.0 * n * 1.25);
}

static lumen_status resize_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                               const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    const lumen_resize_params *p = &d->p.resize;
    if (is_up2(p, &in[0]->shape, &y->shape))
        return run_up2(ctx, in[0], y);
    static const char *const names[] = {"resize_nearest_f32", "resize_linear_f32",
                                        "resize_cubic_f32"};
    const char *name = names[p->mode];
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "resize", "", name, &k);
    if (st != LUMEN_OK)
        return st;
    resize3 q;
    resize_to3(p, &in[0]->shape, &q);
    cl_int4 isz = {{q.in[0], q.in[1], q.in[2], 0}}, osz = {{q.out[0], q.out[1], q.out[2], 0}};
    cl_float4 a = {{q.a[0], q.a[1], q.a[2], 0}}, c = {{q.c[0], q.c[1], q.c[2], 0}};
    cl_float4 e = {{q.e[0], q.e[1], q.e[2], 0}};
    int xo = lumen__off(in[0]), yo = lumen__off(y), outer = (int)q.outer;
    int crop = p->coord == LUMEN_COORD_TF_CROP_AND_RESIZE, excl = p->exclude_outside != 0;
    float extra = p->extrapolation, ca = p->cubic_a;
    /* the kernel's branch-free rounding: sgn * floor(sgn * v + off) */
    float sgn = p->nearest == LUMEN_NEAREST_CEIL || p->nearest == LUMEN_NEAREST_ROUND_PREFER_FLOOR
                    ? -1.0f
                    : 1.0f;
    float off = p->nearest == LUMEN_NEAREST_ROUND_PREFER_FLOOR ||
                        p->nearest == LUMEN_NEAREST_ROUND_PREFER_CEIL
                    ? 0.5f
                    : 0.0f;
    lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem},
                         {sizeof(int), &xo},
                         {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},
                         {sizeof(int), &outer},
                         {sizeof isz, &isz},
                         {sizeof osz, &osz},
                         {sizeof a, &a},
                         {sizeof c, &c},
                         {sizeof e, &e},
                         {sizeof(int), &crop},
                         {sizeof(float), &extra},
                         {sizeof(float), p->mode == LUMEN_RESIZE_NEAREST ? &sgn : &ca},
                         {sizeof(float), p->mode == LUMEN_RESIZE_NEAREST ? (void *)&off : &excl}};
    /* nearest: rounding (sgn, off); cubic: (cubic_a, exclude_outside); linear: neither */
    st = lumen__set_args(ctx, k, name, p->mode == LUMEN_RESIZE_LINEAR ? 12 : 14, args);
    if (st != LUMEN_OK)
        return st;
    size_t g[3] = {(size_t)q.out[2], (size_t)q.out[1], (size_t)q.out[0] * (size_t)q.outer}, l[3];
    lumen__exact_lws(3, g, lumen__wg_target(ctx, k, 64), l);
    double n = (double)lumen_tensor_numel(y);
    int taps = p->mode == LUMEN_RESIZE_CUBIC ? 4 : 2;
    int corners = p->mode == LUMEN_RESIZE_NEAREST ? 1
                  : p->nsp == 1                   ? taps
                  : p->nsp == 2                   ? taps * taps
                                                  : taps * taps * taps;
    static const char *const labels[] = {"resize_nearest", "resize_linear", "resize_cubic"};
    return lumen__launch(ctx, k, 3, g, l, labels[p->mode], n * 2 * corners,
                         4.0 * n * (corners + 1));
}

static double resize_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                           const lumen_shape *out)
{
    (void)n_in, (void)in;
    int taps = d->p.resize.mode == LUMEN_RESIZE_NEAREST  ? 0
               : d->p.resize.mode == LUMEN_RESIZE_LINEAR ? 2
                                                         : 4;
    double corners = pow(taps, d->p.resize.nsp);
    return 2.0 * corners * (double)lumen_shape_numel(out);
}

/* Names in the order of the LUMEN_RESIZE_*, LUMEN_COORD_* and LUMEN_NEAREST_* enums. */
static const char *const resize_modes[] = {"nearest", "linear", "cubic", NULL};
static const char *const resize_coords[] = {
    "half_pixel",           "align_corners",      "asymmetric", "pytorch_half_pixel",
    "tf_half_pixel_for_nn", "tf_crop_and_resize", NULL};
static const char *const resize_nearests[] = {"floor", "round_prefer_floor", "round_prefer_ceil",
                                              "ceil", NULL};
static const lumen_param resize_params[] = {
    {LUMEN__PARAM("mode", resize.mode), .names = resize_modes, .def = LUMEN_RESIZE_LINEAR},
    {LUMEN__PARAM("coord", resize.coord), .names = resize_coords},
    {LUMEN__PARAM("nearest", resize.nearest), .names = resize_nearests},
    /* the output extents of the last axes: how many are given is nsp */
    {LUMEN__PARAM("size", resize.out), .flags = LUMEN_PARAM_COUNT_OUT | LUMEN_PARAM_REQUIRED,
     .count_at = LUMEN__AT(resize.nsp)},
    {LUMEN__PARAM("scale", resize.scale), .flags = LUMEN_PARAM_COUNT_IN,
     .count_at = LUMEN__AT(resize.nsp)},
    {LUMEN__PARAM("cubic_a", resize.cubic_a), .def = -0.75},
    {LUMEN__PARAM("exclude_outside", resize.exclude_outside), .lo = 0, .hi = 1},
    {LUMEN__PARAM("roi_start", resize.roi0), .flags = LUMEN_PARAM_COUNT_IN,
     .count_at = LUMEN__AT(resize.nsp)},
    {LUMEN__PARAM("roi_end", resize.roi1), .flags = LUMEN_PARAM_COUNT_IN,
     .count_at = LUMEN__AT(resize.nsp), .def = 1},
    {LUMEN__PARAM("extrapolation", resize.extrapolation)},
    {NULL}};
static const lumen__variant resize_programs[] = {{"resize", ""}, {NULL}};
static const lumen__variant *const resize_variants[] = {resize_programs, NULL};

const lumen__op_impl lumen__impl_RESIZE = {
    1, 1, resize_shape, resize_ref, resize_run, resize_flops, resize_params, resize_variants};

/* ---- GRID_SAMPLE: x [N, C, H, W] read at the points of grid [N, Ho, Wo, 2] -> [N, C, Ho, Wo]
 *
 * PyTorch's grid_sample (ONNX GridSample, opset 16). A grid point (gx, gy) in [-1, 1] is
 * unnormalised to input pixels: align_corners ? (g + 1) / 2 * (size - 1)
 * : ((g + 1) * size - 1) / 2. Padding then moves the coordinate: 'border' clamps it to
 * [0, size - 1], 'reflection' mirrors it at the corner centres (align_corners) or the outer
 * edges and clamps, 'zeros' leaves it, and a pixel outside the input reads 0. Bilinear blends
 * the 4 neighbours with PyTorch's weights, nearest rounds half to even, bicubic applies the
 * padding to each of its 4x4 taps (a = -0.75, as resize's cubic). A NaN coordinate reads 0. */

/* The unnormalised coordinate of grid value g on an axis of extent size. */
static float gs_unnorm(float g, int size, int align)
{
    return align ? (g + 1.0f) / 2.0f * (float)(size - 1) : ((g + 1.0f) * (float)size - 1.0f) / 2.0f;
}

static float gs_clip(float v, int size)
{
    return v < 0.0f ? 0.0f : v > (float)(size - 1) ? (float)(size - 1) : v;
}

/* v mirrored into [lo2/2, hi2/2]. */
static float gs_reflect(float v, float lo2, float hi2)
{
    if (lo2 == hi2)
        return 0.0f;
    float mn = lo2 / 2.0f, span = (hi2 - lo2) / 2.0f;
    v = fabsf(v - mn);
    float extra = fmodf(v, span), flips = floorf(v / span);
    return fmodf(flips, 2.0f) == 0.0f ? extra + mn : span - extra + mn;
}

static float gs_pad(float v, int size, int padding, int align)
{
    if (padding == LUMEN_GRID_BORDER)
        return gs_clip(v, size);
    if (padding == LUMEN_GRID_REFLECTION)
        return gs_clip(align ? gs_reflect(v, 0.0f, 2.0f * (float)(size - 1))
                             : gs_reflect(v, -1.0f, 2.0f * (float)size - 1.0f),
                       size);
    return v;
}

/* The pixel at integral coordinates (x, y) of plane p, 0 outside (and for NaN). */
static float gs_at(const float *p, int H, int W, float x, float y)
{
    if (!(x >= 0.0f && x <= (float)(W - 1) && y >= 0.0f && y <= (float)(H - 1)))
        return 0.0f;
    return p[(int64_t)y * W + (int64_t)x];
}

static float gs_sample(const lumen_grid_sample_params *q, const float *p, int H, int W, float gx,
                       float gy)
{
    int pad = q->padding, al = q->align_corners;
    if (q->mode == LUMEN_GRID_BICUBIC) {
        float ix = gs_unnorm(gx, W, al), iy = gs_unnorm(gy, H, al);
        float x0 = floorf(ix), y0 = floorf(iy), wx[4], wy[4];
        cubic_weights(ix - x0, -0.75f, wx);
        cubic_weights(iy - y0, -0.75f, wy);
        float acc = 0.0f;
        for (int j = 0; j < 4; j++) {
            float yy = gs_pad(y0 - 1.0f + (float)j, H, pad, al), row = 0.0f;
            for (int i = 0; i < 4; i++)
                row += wx[i] * gs_at(p, H, W, gs_pad(x0 - 1.0f + (float)i, W, pad, al), yy);
            acc += wy[j] * row;
        }
        return acc;
    }
    float ix = gs_pad(gs_unnorm(gx, W, al), W, pad, al),
          iy = gs_pad(gs_unnorm(gy, H, al), H, pad, al);
    if (q->mode == LUMEN_GRID_NEAREST)
        return gs_at(p, H, W, rintf(ix), rintf(iy));
    float x0 = floorf(ix), y0 = floorf(iy), x1 = x0 + 1.0f, y1 = y0 + 1.0f;
    return (x1 - ix) * (y1 - iy) * gs_at(p, H, W, x0, y0) +
           (ix - x0) * (y1 - iy) * gs_at(p, H, W, x1, y0) +
           (x1 - ix) * (iy - y0) * gs_at(p, H, W, x0, y1) +
           (ix - x0) * (iy - y0) * gs_at(p, H, W, x1, y1);
}

static lumen_status grid_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                               lumen_shape *out, char *err)
{
    (void)d, (void)n_in;
    const lumen_shape *x = in[0], *g = in[1];
    char a[160], b[160];
    if (x->ndim != 4 || g->ndim != 4 || g->d[0] != x->d[0] || g->d[3] != 2 || x->d[2] < 1 ||
        x->d[3] < 1)
        return lumen__errf(err, LUMEN_ESHAPE,
                           "grid_sample: x %s and grid %s (need x [N,C,H,W] with H, W > 0 and "
                           "grid [N,Ho,Wo,2])",
                           lumen_shape_format(x, a, sizeof a), lumen_shape_format(g, b, sizeof b));
    *out = (lumen_shape){4, {x->d[0], x->d[1], g->d[1], g->d[2]}};
    return LUMEN_OK;
}

static lumen_status grid_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                             const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)err;
    const lumen_shape *x = in_shape[0];
    int64_t N = x->d[0], C = x->d[1], H = x->d[2], W = x->d[3], Ho = os->d[2], Wo = os->d[3];
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t h = 0; h < Ho; h++)
                for (int64_t w = 0; w < Wo; w++) {
                    const float *g = in[1] + ((n * Ho + h) * Wo + w) * 2;
                    *out++ = gs_sample(&d->p.grid, in[0] + (n * C + c) * H * W, (int)H, (int)W,
                                       g[0], g[1]);
                }
    return LUMEN_OK;
}

static lumen_status grid_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                             const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "resize", "", "grid_sample_f32", &k);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = &in[0]->shape;
    int xo = lumen__off(in[0]), go = lumen__off(in[1]), yo = lumen__off(y), C = (int)x->d[1],
        H = (int)x->d[2], W = (int)x->d[3], Ho = (int)y->shape.d[2], Wo = (int)y->shape.d[3],
        mode = d->p.grid.mode, pad = d->p.grid.padding, al = d->p.grid.align_corners != 0;
    lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem},
                         {sizeof(int), &xo},
                         {sizeof(cl_mem), &in[1]->mem},
                         {sizeof(int), &go},
                         {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},
                         {sizeof(int), &C},
                         {sizeof(int), &H},
                         {sizeof(int), &W},
                         {sizeof(int), &Ho},
                         {sizeof(int), &Wo},
                         {sizeof(int), &mode},
                         {sizeof(int), &pad},
                         {sizeof(int), &al}};
    if ((st = lumen__set_args(ctx, k, "grid_sample_f32", 14, args)) != LUMEN_OK)
        return st;
    size_t g[3] = {(size_t)Wo, (size_t)Ho, (size_t)(x->d[0] * C)};
    double n = (double)lumen_tensor_numel(y);
    return lumen__launch(ctx, k, 3, g, NULL, "grid_sample", n * 32, 4.0 * n * 6);
}

static double grid_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                         const lumen_shape *out)
{
    (void)n_in, (void)in;
    int taps = d->p.grid.mode == LUMEN_GRID_BICUBIC   ? 16
               : d->p.grid.mode == LUMEN_GRID_NEAREST ? 1
                                                      : 4;
    return 2.0 * taps * (double)lumen_shape_numel(out);
}

static const char *const grid_modes[] = {"bilinear", "nearest", "bicubic", NULL};
static const char *const grid_pads[] = {"zeros", "border", "reflection", NULL};
static const lumen_param grid_params[] = {
    {LUMEN__PARAM("mode", grid.mode), .names = grid_modes},
    {LUMEN__PARAM("padding", grid.padding), .names = grid_pads},
    {LUMEN__PARAM("align_corners", grid.align_corners), .lo = 0, .hi = 1},
    {NULL}};

const lumen__op_impl lumen__impl_GRID_SAMPLE = {2,        2,          grid_shape,  grid_ref,
                                                grid_run, grid_flops, grid_params, resize_variants};

/* ---- ROI_ALIGN: x [N, C, H, W], rois [R, 4] (x1, y1, x2, y2), batch [R] -> [R, C, oh, ow]
 *
 * ONNX RoiAlign as ONNX Runtime computes it. A roi scaled by spatial_scale (and shifted by -0.5
 * with half_pixel; without it, its extents are at least 1) is cut into oh x ow bins; each bin
 * averages (or takes the max of) sampling x sampling bilinear samples at the sub-bin centres
 * (sampling 0: ceil(roi extent / bins) per axis, at most 256). A sample more than one pixel
 * outside the input counts as 0; others clamp to the border. 'max' is ONNX Runtime's: the
 * largest of the 4 weighted corner terms of each sample, then the largest over the samples. A
 * batch index outside [0, N) gives zeros. */

#define ROI_MAX_SAMPLING 256

static lumen_status roi_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                              lumen_shape *out, char *err)
{
    (void)n_in;
    const lumen_roi_align_params *p = &d->p.roi;
    const lumen_shape *x = in[0], *r = in[1], *b = in[2];
    char s0[160], s1[160], s2[160];
    if (x->ndim != 4 || r->ndim != 2 || r->d[1] != 4 || b->ndim != 1 || b->d[0] != r->d[0] ||
        x->d[2] < 1 || x->d[3] < 1 || p->out_h < 1 || p->out_w < 1)
        return lumen__errf(err, LUMEN_ESHAPE,
                           "roi_align: x %s, rois %s, batch %s, bins %dx%d (need x [N,C,H,W], "
                           "rois [R,4], batch [R], bins > 0)",
                           lumen_shape_format(x, s0, sizeof s0),
                           lumen_shape_format(r, s1, sizeof s1),
                           lumen_shape_format(b, s2, sizeof s2), p->out_h, p->out_w);
    if (!(fabsf(p->spatial_scale) <= 1e6f))
        return lumen__errf(err, LUMEN_EINVAL, "roi_align: spatial_scale %g", p->spatial_scale);
    *out = (lumen_shape){4, {r->d[0], x->d[1], p->out_h, p->out_w}};
    return LUMEN_OK;
}

/* Samples per bin along an axis of roi extent e cut into 'bins'. */
static int roi_grid(const lumen_roi_align_params *p, float e, int bins)
{
    if (p->sampling > 0)
        return p->sampling;
    float g = ceilf(e / (float)bins);
    return g >= 1.0f && g <= (float)ROI_MAX_SAMPLING ? (int)g : g >= 1.0f ? ROI_MAX_SAMPLING : 1;
}

/* One bin (ph, pw) of roi r over plane p (H x W). */
static float roi_bin(const lumen_roi_align_params *q, const float *p, int H, int W, const float *r,
                     int ph, int pw)
{
    float off = q->half_pixel ? 0.5f : 0.0f, s = q->spatial_scale;
    float x0 = r[0] * s - off, y0 = r[1] * s - off, rw = r[2] * s - off - x0,
          rh = r[3] * s - off - y0;
    if (!q->half_pixel) {
        rw = fmaxf(rw, 1.0f);
        rh = fmaxf(rh, 1.0f);
    }
    float bh = rh / (float)q->out_h, bw = rw / (float)q->out_w;
    int gh = roi_grid(q, rh, q->out_h), gw = roi_grid(q, rw, q->out_w), first = 1;
    float acc = 0.0f;
    for (int iy = 0; iy < gh; iy++) {
        float y = y0 + (float)ph * bh + ((float)iy + 0.5f) * bh / (float)gh;
        for (int ix = 0; ix < gw; ix++) {
            float x = x0 + (float)pw * bw + ((float)ix + 0.5f) * bw / (float)gw, v = 0.0f;
            if (y >= -1.0f && y <= (float)H && x >= -1.0f && x <= (float)W) {
                float yy = fmaxf(y, 0.0f), xx = fmaxf(x, 0.0f);
                int yl = (int)yy, xl = (int)xx, yh = yl + 1, xh = xl + 1;
                if (yl >= H - 1)
                    yh = yl = H - 1, yy = (float)yl;
                if (xl >= W - 1)
                    xh = xl = W - 1, xx = (float)xl;
                float ly = yy - (float)yl, lx = xx - (float)xl, hy = 1.0f - ly, hx = 1.0f - lx;
                float t1 = hy * hx * p[yl * W + xl], t2 = hy * lx * p[yl * W + xh],
                      t3 = ly * hx * p[yh * W + xl], t4 = ly * lx * p[yh * W + xh];
                v = q->mode == LUMEN_ROI_MAX ? fmaxf(fmaxf(t1, t2), fmaxf(t3, t4))
                                             : t1 + t2 + t3 + t4;
            }
            if (q->mode == LUMEN_ROI_MAX)
                acc = first ? v : fmaxf(acc, v);
            else
                acc += v;
            first = 0;
        }
    }
    return q->mode == LUMEN_ROI_MAX ? acc : acc / (float)(gh * gw);
}

static lumen_status roi_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                            const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)err;
    const lumen_shape *x = in_shape[0];
    int64_t N = x->d[0], C = x->d[1], H = x->d[2], W = x->d[3], R = os->d[0];
    for (int64_t r = 0; r < R; r++) {
        float bf = in[2][r];
        int64_t b = bf >= 0.0f && bf < (float)N ? (int64_t)bf : -1;
        for (int64_t c = 0; c < C; c++)
            for (int ph = 0; ph < d->p.roi.out_h; ph++)
                for (int pw = 0; pw < d->p.roi.out_w; pw++)
                    *out++ = b < 0 ? 0.0f
                                   : roi_bin(&d->p.roi, in[0] + (b * C + c) * H * W, (int)H, (int)W,
                                             in[1] + r * 4, ph, pw);
    }
    return LUMEN_OK;
}

static lumen_status roi_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                            const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "resize", "", "roi_align_f32", &k);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = &in[0]->shape;
    const lumen_roi_align_params *p = &d->p.roi;
    int xo = lumen__off(in[0]), ro = lumen__off(in[1]), bo = lumen__off(in[2]), yo = lumen__off(y),
        N = (int)x->d[0], C = (int)x->d[1], H = (int)x->d[2], W = (int)x->d[3], oh = p->out_h,
        ow = p->out_w, mode = p->mode, smp = p->sampling, hp = p->half_pixel != 0;
    float sc = p->spatial_scale;
    lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem},
                         {sizeof(int), &xo},
                         {sizeof(cl_mem), &in[1]->mem},
                         {sizeof(int), &ro},
                         {sizeof(cl_mem), &in[2]->mem},
                         {sizeof(int), &bo},
                         {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},
                         {sizeof(int), &N},
                         {sizeof(int), &C},
                         {sizeof(int), &H},
                         {sizeof(int), &W},
                         {sizeof(int), &oh},
                         {sizeof(int), &ow},
                         {sizeof(int), &mode},
                         {sizeof(int), &smp},
                         {sizeof(float), &sc},
                         {sizeof(int), &hp}};
    if ((st = lumen__set_args(ctx, k, "roi_align_f32", 18, args)) != LUMEN_OK)
        return st;
    size_t g[3] = {(size_t)ow, (size_t)oh, (size_t)(y->shape.d[0] * C)};
    double n = (double)lumen_tensor_numel(y);
    return lumen__launch(ctx, k, 3, g, NULL, "roi_align", n * 40, 4.0 * n * 5);
}

static double roi_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                        const lumen_shape *out)
{
    (void)n_in, (void)in;
    int s = d->p.roi.sampling > 0 ? d->p.roi.sampling : 2;
    return 10.0 * s * s * (double)lumen_shape_numel(out);
}

static const char *const roi_modes[] = {"avg", "max", NULL};
static const lumen_param roi_params[] = {
    {LUMEN__PARAM("mode", roi.mode), .names = roi_modes},
    {LUMEN__PARAM("out_h", roi.out_h), .def = 1, .lo = 1, .hi = 1 << 16},
    {LUMEN__PARAM("out_w", roi.out_w), .def = 1, .lo = 1, .hi = 1 << 16},
    {LUMEN__PARAM("sampling", roi.sampling), .lo = 0, .hi = ROI_MAX_SAMPLING},
    {LUMEN__PARAM("spatial_scale", roi.spatial_scale), .def = 1},
    {LUMEN__PARAM("half_pixel", roi.half_pixel), .def = 1, .lo = 0, .hi = 1},
    {NULL}};

const lumen__op_impl lumen__impl_ROI_ALIGN = {3,       3,         roi_shape,  roi_ref,
                                              roi_run, roi_flops, roi_params, resize_variants};
