/*
 * resize.c - RESIZE: nearest, (bi,tri)linear and (bi,tri)cubic over the last nsp (1..3) axes,
 * with ONNX Resize semantics. Kernels: kernels/resize.cl.
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
static void cubic_of(float v, int in, float ca, int excl, int *idx, float *w)
{
    float f = floorf(v), t = v - f, s = 1.0f - t;
    w[0] = ((ca * (t + 1.0f) - 5.0f * ca) * (t + 1.0f) + 8.0f * ca) * (t + 1.0f) - 4.0f * ca;
    w[1] = ((ca + 2.0f) * t - (ca + 3.0f)) * t * t + 1.0f;
    w[2] = ((ca + 2.0f) * s - (ca + 3.0f)) * s * s + 1.0f;
    w[3] = ((ca * (s + 1.0f) - 5.0f * ca) * (s + 1.0f) + 8.0f * ca) * (s + 1.0f) - 4.0f * ca;
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
