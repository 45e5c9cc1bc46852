/*
 * norm.c - normalisations and reductions along axes: SOFTMAX, BATCHNORM (inference),
 * INSTANCENORM, LAYERNORM, ARGMAX, TOPK and DET. Kernels: kernels/norm.cl.
 *
 * Layout: every op here except BATCHNORM sees its input as [outer, red, inner] (row-major):
 * 'red' is the product of the normalised (or searched) axes, 'outer' of the axes before them,
 * 'inner' of the axes after them. Element (o, r, i) lives at (o * red + r) * inner + i. A "row"
 * is the red elements of one (o, i) pair; each row is normalised on its own.
 *   SOFTMAX, LAYERNORM over [axis, axis_end): the split at those axes.
 *   INSTANCENORM on [N, C, spatial...]: outer = N*C, red = spatial, inner = 1.
 *   ARGMAX on one axis: red = that axis.
 *
 * Two kernel shapes cover all rows (norm.cl): 'col' gives one work-item per row and suits rows
 * whose elements are 'inner' apart with inner > 1 (neighbouring work-items read neighbouring
 * addresses), short rows, and CPUs; 'row' gives one work-group per row and reduces in local
 * memory, for long contiguous rows on GPUs (LayerNorm over trailing axes, InstanceNorm over
 * H*W) and for few long rows, where one work-item per row would leave the device idle
 * (use_row_kernel).
 *
 * Accuracy: the references accumulate in double and use two passes (mean, then the biased
 * variance around it); the kernels are two-pass too, in fp32, which is exact enough because
 * the variance never comes from E[x^2] - E[x]^2.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../internal.h"

/* ---- shared helpers ---- */

typedef struct norm_split {
    int64_t outer, red, inner;
} norm_split;

static norm_split split_axes(const lumen_shape *s, int a, int b)
{
    norm_split p = {1, 1, 1};
    for (int i = 0; i < s->ndim; i++) {
        if (i < a)
            p.outer *= s->d[i];
        else if (i < b)
            p.red *= s->d[i];
        else
            p.inner *= s->d[i];
    }
    return p;
}

/* Checks 0 <= axis < axis_end <= ndim for SOFTMAX and LAYERNORM. */
static lumen_status check_axes(const char *op, const lumen_axes_params *p, const lumen_shape *x,
                               char *err)
{
    char b[160];
    if (p->axis < 0 || p->axis_end <= p->axis || p->axis_end > x->ndim)
        return lumen__errf(err, LUMEN_EINVAL,
                           "%s: axes [%d, %d) must satisfy 0 <= axis < axis_end <= ndim for x %s",
                           op, p->axis, p->axis_end, lumen_shape_format(x, b, sizeof b));
    return LUMEN_OK;
}

/* Work-group size for the 'row' kernel k: a power of two that fits the device, k and the local
 * memory (one float of scratch per work-item), more for longer rows so that each work-item
 * still has a few elements to sum. */
static size_t row_lws(lumen_ctx *ctx, cl_kernel k, int64_t red)
{
    size_t want = red >= 8192 ? 256 : red >= 1024 ? 128 : 64, lws = 1;
    size_t cap = lumen__max_wg(ctx, k), local = (size_t)lumen__local_free(ctx, k) / sizeof(float);
    while (lws * 2 <= want && lws * 2 <= cap && lws * 2 <= local)
        lws *= 2;
    return lws;
}

/* The 'row' kernels pay off for long rows: on GPUs when the rows are contiguous (one
 * work-item per row would read uncoalesced) or too few to fill the device; on CPUs only when
 * there are fewer rows than cores, since one work-item streaming a row through the cache beats
 * a group that mostly waits at barriers (PoCL, InstanceNorm 16x256x256: 3 ms against 9). */
static int use_row_kernel(const lumen_ctx *ctx, norm_split p)
{
    int64_t rows = p.outer * p.inner;
    if (p.red < 64)
        return 0;
    if (ctx->info.type == LUMEN_DEV_CPU)
        return rows < (int64_t)ctx->info.compute_units;
    return p.inner == 1 || rows < 256;
}

#define ARG_MEM(m)                                                                                 \
    {                                                                                              \
        sizeof(cl_mem), &(m)                                                                       \
    }
#define ARG_INT(i)                                                                                 \
    {                                                                                              \
        sizeof(int), &(i)                                                                          \
    }
#define ARG_FLOAT(f)                                                                               \
    {                                                                                              \
        sizeof(float), &(f)                                                                        \
    }

/* ---- SOFTMAX: y = exp(x - max) / sum(exp(x - max)) over each row ---- */

static lumen_status softmax_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                  lumen_shape *out, char *err)
{
    (void)n_in;
    lumen_status st = check_axes("softmax", &d->p.axes, in[0], err);
    if (st == LUMEN_OK)
        *out = *in[0];
    return st;
}

static lumen_status softmax_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                                const float *const *in, const lumen_shape *os, float *out,
                                char *err)
{
    (void)n_in, (void)os, (void)err;
    norm_split p = split_axes(in_shape[0], d->p.axes.axis, d->p.axes.axis_end);
    const float *x = in[0];
    for (int64_t o = 0; o < p.outer; o++)
        for (int64_t i = 0; i < p.inner; i++) {
            const float *xr = x + o * p.red * p.inner + i;
            float *yr = out + o * p.red * p.inner + i;
            double m = -INFINITY, s = 0;
            for (int64_t r = 0; r < p.red; r++)
                m = fmax(m, xr[r * p.inner]);
            for (int64_t r = 0; r < p.red; r++)
                s += exp(xr[r * p.inner] - m);
            for (int64_t r = 0; r < p.red; r++)
                yr[r * p.inner] = (float)(exp(xr[r * p.inner] - m) / s);
        }
    return LUMEN_OK;
}

static lumen_status softmax_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                                const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    norm_split p = split_axes(&y->shape, d->p.axes.axis, d->p.axes.axis_end);
    int row = use_row_kernel(ctx, p);
    const char *name = row ? "softmax_row_f32" : "softmax_col_f32";
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "norm", "", name, &k);
    if (st != LUMEN_OK)
        return st;
    int xo = lumen__off(in[0]), yo = lumen__off(y), outer = (int)p.outer, red = (int)p.red,
        inner = (int)p.inner;
    size_t lws = row_lws(ctx, k, p.red);
    lumen__arg args[] = {
        ARG_MEM(in[0]->mem), ARG_INT(xo),  ARG_MEM(y->mem), ARG_INT(yo),
        ARG_INT(outer),      ARG_INT(red), ARG_INT(inner),  {lws * sizeof(float), NULL}};
    if ((st = lumen__set_args(ctx, k, name, row ? 8 : 7, args)) != LUMEN_OK)
        return st;
    double n = (double)p.outer * p.red * p.inner;
    if (row) {
        size_t g = lws * (size_t)(p.outer * p.inner), l = lws;
        return lumen__launch(ctx, k, 1, &g, &l, "softmax", 4 * n, 8 * n);
    }
    size_t g[2] = {(size_t)p.inner, (size_t)p.outer};
    return lumen__launch(ctx, k, 2, g, NULL, "softmax", 4 * n, 8 * n);
}

static double softmax_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                            const lumen_shape *out)
{
    (void)d, (void)n_in, (void)in;
    return 4.0 * (double)lumen_shape_numel(out); /* max, sub+exp, sum, divide */
}

/* axis_end defaults to axis + 1: one axis */
#define AXES_PARAMS                                                                                \
    {LUMEN__PARAM("axis", axes.axis), .def = 1},                                                   \
    {                                                                                              \
        LUMEN__PARAM("axis_end", axes.axis_end), .def_from = "axis", .def = 1                      \
    }
#define EPS_PARAM(m)                                                                               \
    {                                                                                              \
        LUMEN__PARAM("eps", m), .def = 1e-5, .lo = 0, .hi = HUGE_VAL                               \
    }
static const lumen_param softmax_params[] = {AXES_PARAMS, {NULL}};
static const lumen_param layernorm_params[] = {AXES_PARAMS, EPS_PARAM(axes.eps), {NULL}};
static const lumen_param norm_params[] = {EPS_PARAM(norm.eps), {NULL}};
static const lumen__variant norm_programs[] = {{"norm", ""}, {NULL}};
static const lumen__variant *const norm_variants[] = {norm_programs, NULL};

const lumen__op_impl lumen__impl_SOFTMAX = {
    1, 1, softmax_shape, softmax_ref, softmax_run, softmax_flops, softmax_params, norm_variants};

/* ---- BATCHNORM (inference): y = (x - mean[c]) * scale[c] / sqrt(var[c] + eps) + bias[c] ---- */

/* Checks that t (named what) is a 1-d tensor of C elements. */
static lumen_status check_per_channel(const char *op, const char *what, const lumen_shape *t,
                                      const lumen_shape *x, int64_t C, char *err)
{
    char b1[160], b2[160];
    if (t->ndim != 1 || t->d[0] != C)
        return lumen__errf(err, LUMEN_ESHAPE, "%s: %s has shape %s, expected [%lld] for x %s", op,
                           what, lumen_shape_format(t, b1, sizeof b1), (long long)C,
                           lumen_shape_format(x, b2, sizeof b2));
    return LUMEN_OK;
}

static lumen_status batchnorm_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                    lumen_shape *out, char *err)
{
    (void)n_in, (void)d;
    static const char *const names[] = {"x", "scale", "bias", "mean", "var"};
    char b[160];
    const lumen_shape *x = in[0];
    if (x->ndim < 2)
        return lumen__errf(err, LUMEN_ESHAPE, "batchnorm: x %s must be [N, C, ...]",
                           lumen_shape_format(x, b, sizeof b));
    for (int i = 1; i < 5; i++) {
        lumen_status st = check_per_channel("batchnorm", names[i], in[i], x, x->d[1], err);
        if (st != LUMEN_OK)
            return st;
    }
    *out = *x;
    return LUMEN_OK;
}

static lumen_status batchnorm_ref(const lumen_opdesc *d, int n_in,
                                  const lumen_shape *const *in_shape, const float *const *in,
                                  const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)os, (void)err;
    const lumen_shape *x = in_shape[0];
    norm_split p = split_axes(x, 1, 2); /* outer = N, red = C, inner = spatial */
    const float *scale = in[1], *bias = in[2], *mean = in[3], *var = in[4];
    for (int64_t n = 0; n < p.outer; n++)
        for (int64_t c = 0; c < p.red; c++) {
            double a = scale[c] / sqrt((double)var[c] + d->p.norm.eps);
            for (int64_t i = 0; i < p.inner; i++) {
                int64_t at = (n * p.red + c) * p.inner + i;
                out[at] = (float)((in[0][at] - (double)mean[c]) * a + bias[c]);
            }
        }
    return LUMEN_OK;
}

static lumen_status batchnorm_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                                  const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "norm", "", "batchnorm_f32", &k);
    if (st != LUMEN_OK)
        return st;
    norm_split p = split_axes(&y->shape, 1, 2);
    int xo = lumen__off(in[0]), so = lumen__off(in[1]), bo = lumen__off(in[2]),
        mo = lumen__off(in[3]), vo = lumen__off(in[4]), yo = lumen__off(y), C = (int)p.red,
        inner = (int)p.inner;
    float eps = d->p.norm.eps;
    lumen__arg args[] = {ARG_MEM(in[0]->mem), ARG_INT(xo),    ARG_MEM(in[1]->mem), ARG_INT(so),
                         ARG_MEM(in[2]->mem), ARG_INT(bo),    ARG_MEM(in[3]->mem), ARG_INT(mo),
                         ARG_MEM(in[4]->mem), ARG_INT(vo),    ARG_MEM(y->mem),     ARG_INT(yo),
                         ARG_INT(C),          ARG_INT(inner), ARG_FLOAT(eps)};
    if ((st = lumen__set_args(ctx, k, "batchnorm_f32", 15, args)) != LUMEN_OK)
        return st;
    size_t g[2] = {(size_t)p.inner, (size_t)(p.outer * p.red)};
    double n = (double)lumen_tensor_numel(y);
    return lumen__launch(ctx, k, 2, g, NULL, "batchnorm", 2 * n, 8 * n);
}

static double batchnorm_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                              const lumen_shape *out)
{
    (void)d, (void)n_in, (void)in;
    return 2.0 * (double)lumen_shape_numel(out); /* one multiply-add per element */
}

const lumen__op_impl lumen__impl_BATCHNORM = {5,
                                              5,
                                              batchnorm_shape,
                                              batchnorm_ref,
                                              batchnorm_run,
                                              batchnorm_flops,
                                              norm_params,
                                              norm_variants};

/* ---- LAYERNORM and INSTANCENORM: y = (x - mean) / sqrt(var + eps) * w + b per row ---- */

/*
 * One reference and one launcher serve both. The affine parameters are indexed by the position
 * r inside the row (LAYERNORM: w has the shape of the normalised axes) or, when chan > 0, by
 * the row's channel o % chan (INSTANCENORM: outer = N*C, w is [C]). w or b NULL: 1 or 0.
 */
static void norm_rows_ref(const float *x, const float *w, const float *b, float *y, norm_split p,
                          int64_t chan, double eps)
{
    for (int64_t o = 0; o < p.outer; o++)
        for (int64_t i = 0; i < p.inner; i++) {
            const float *xr = x + o * p.red * p.inner + i;
            float *yr = y + o * p.red * p.inner + i;
            double mean = 0, var = 0;
            for (int64_t r = 0; r < p.red; r++)
                mean += xr[r * p.inner];
            mean /= (double)p.red;
            for (int64_t r = 0; r < p.red; r++)
                var += (xr[r * p.inner] - mean) * (xr[r * p.inner] - mean);
            var /= (double)p.red;
            double rstd = 1.0 / sqrt(var + eps);
            for (int64_t r = 0; r < p.red; r++) {
                int64_t wi = chan > 0 ? o % chan : r;
                double v = (xr[r * p.inner] - mean) * rstd;
                yr[r * p.inner] = (float)(v * (w ? w[wi] : 1.0) + (b ? b[wi] : 0.0));
            }
        }
}

static lumen_status norm_rows_run(lumen_ctx *ctx, const char *label, const lumen_tensor *x,
                                  const lumen_tensor *w, const lumen_tensor *b, lumen_tensor *y,
                                  norm_split p, int chan, float eps)
{
    int row = use_row_kernel(ctx, p);
    const char *name = row ? "norm_row_f32" : "norm_col_f32";
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "norm", "", name, &k);
    if (st != LUMEN_OK)
        return st;
    /* An absent weight or bias is passed as x's buffer with a flag, since a NULL cl_mem
     * argument is not portable across OpenCL 1.2 drivers. */
    int xo = lumen__off(x), yo = lumen__off(y), has_w = w != NULL, has_b = b != NULL;
    int wo = w ? lumen__off(w) : 0, bo = b ? lumen__off(b) : 0;
    int outer = (int)p.outer, red = (int)p.red, inner = (int)p.inner;
    cl_mem wm = w ? w->mem : x->mem, bm = b ? b->mem : x->mem;
    size_t lws = row_lws(ctx, k, p.red);
    lumen__arg args[] = {
        ARG_MEM(x->mem), ARG_INT(xo),   ARG_MEM(wm),    ARG_INT(wo),
        ARG_INT(has_w),  ARG_MEM(bm),   ARG_INT(bo),    ARG_INT(has_b),
        ARG_MEM(y->mem), ARG_INT(yo),   ARG_INT(outer), ARG_INT(red),
        ARG_INT(inner),  ARG_INT(chan), ARG_FLOAT(eps), {lws * sizeof(float), NULL}};
    if ((st = lumen__set_args(ctx, k, name, row ? 16 : 15, args)) != LUMEN_OK)
        return st;
    double n = (double)p.outer * p.red * p.inner;
    if (row) {
        size_t g = lws * (size_t)(p.outer * p.inner), l = lws;
        return lumen__launch(ctx, k, 1, &g, &l, label, 8 * n, 12 * n);
    }
    size_t g[2] = {(size_t)p.inner, (size_t)p.outer};
    return lumen__launch(ctx, k, 2, g, NULL, label, 8 * n, 12 * n);
}

static double norm_rows_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                              const lumen_shape *out)
{
    (void)d, (void)n_in, (void)in;
    return 8.0 * (double)lumen_shape_numel(out); /* sum, sub, square, sum, normalise, affine */
}

/* Drops leading extents of 1: LayerNorm weights [C] and [1, C] mean the same. */
static lumen_shape squeeze_leading(const lumen_shape *s)
{
    lumen_shape t = *s;
    int k = 0;
    while (k < s->ndim - 1 && s->d[k] == 1)
        k++;
    t.ndim = s->ndim - k;
    for (int i = 0; i < t.ndim; i++)
        t.d[i] = s->d[i + k];
    return t;
}

static lumen_status layernorm_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                    lumen_shape *out, char *err)
{
    const lumen_axes_params *p = &d->p.axes;
    char b1[160], b2[160];
    lumen_status st = check_axes("layernorm", p, in[0], err);
    if (st != LUMEN_OK)
        return st;
    lumen_shape norm = {p->axis_end - p->axis, {0}};
    for (int i = p->axis; i < p->axis_end; i++)
        norm.d[i - p->axis] = in[0]->d[i];
    lumen_shape want = squeeze_leading(&norm);
    for (int i = 1; i < n_in; i++) {
        if (!in[i])
            continue;
        lumen_shape got = squeeze_leading(in[i]);
        if (!lumen_shape_equal(&got, &want))
            return lumen__errf(err, LUMEN_ESHAPE,
                               "layernorm: %s has shape %s, expected the normalised axes %s of x",
                               i == 1 ? "weight" : "bias", lumen_shape_format(in[i], b1, sizeof b1),
                               lumen_shape_format(&norm, b2, sizeof b2));
    }
    *out = *in[0];
    return LUMEN_OK;
}

static lumen_status layernorm_ref(const lumen_opdesc *d, int n_in,
                                  const lumen_shape *const *in_shape, const float *const *in,
                                  const lumen_shape *os, float *out, char *err)
{
    (void)os, (void)err;
    norm_split p = split_axes(in_shape[0], d->p.axes.axis, d->p.axes.axis_end);
    norm_rows_ref(in[0], n_in > 1 ? in[1] : NULL, n_in > 2 ? in[2] : NULL, out, p, 0,
                  d->p.axes.eps);
    return LUMEN_OK;
}

static lumen_status layernorm_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                                  const lumen_tensor *const *in, lumen_tensor *y)
{
    norm_split p = split_axes(&y->shape, d->p.axes.axis, d->p.axes.axis_end);
    return norm_rows_run(ctx, "layernorm", in[0], n_in > 1 ? in[1] : NULL, n_in > 2 ? in[2] : NULL,
                         y, p, 0, d->p.axes.eps);
}

const lumen__op_impl lumen__impl_LAYERNORM = {1,
                                              3,
                                              layernorm_shape,
                                              layernorm_ref,
                                              layernorm_run,
                                              norm_rows_flops,
                                              layernorm_params,
                                              norm_variants};

static lumen_status instancenorm_shape(const lumen_opdesc *d, int n_in,
                                       const lumen_shape *const *in, lumen_shape *out, char *err)
{
    (void)n_in, (void)d;
    char b[160];
    const lumen_shape *x = in[0];
    if (x->ndim < 3)
        return lumen__errf(err, LUMEN_ESHAPE, "instancenorm: x %s must be [N, C, spatial...]",
                           lumen_shape_format(x, b, sizeof b));
    lumen_status st = check_per_channel("instancenorm", "scale", in[1], x, x->d[1], err);
    if (st == LUMEN_OK)
        st = check_per_channel("instancenorm", "bias", in[2], x, x->d[1], err);
    if (st == LUMEN_OK)
        *out = *x;
    return st;
}

static lumen_status instancenorm_ref(const lumen_opdesc *d, int n_in,
                                     const lumen_shape *const *in_shape, const float *const *in,
                                     const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)os, (void)err;
    const lumen_shape *x = in_shape[0];
    norm_split p = split_axes(x, 2, x->ndim); /* outer = N*C: one row per (n, c) */
    norm_rows_ref(in[0], in[1], in[2], out, p, x->d[1], d->p.norm.eps);
    return LUMEN_OK;
}

static lumen_status instancenorm_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                                     const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    norm_split p = split_axes(&y->shape, 2, y->shape.ndim);
    return norm_rows_run(ctx, "instancenorm", in[0], in[1], in[2], y, p, (int)y->shape.d[1],
                         d->p.norm.eps);
}

const lumen__op_impl lumen__impl_INSTANCENORM = {3,
                                                 3,
                                                 instancenorm_shape,
                                                 instancenorm_ref,
                                                 instancenorm_run,
                                                 norm_rows_flops,
                                                 norm_params,
                                                 norm_variants};

/* ---- ARGMAX: the index of the largest value along one axis (first or last on ties), as
 * float ---- */

static lumen_status argmax_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                 lumen_shape *out, char *err)
{
    (void)n_in;
    const lumen_argmax_params *p = &d->p.argmax;
    const lumen_shape *x = in[0];
    char b[160];
    if (p->axis < 0 || p->axis >= x->ndim)
        return lumen__errf(err, LUMEN_EINVAL, "argmax: axis %d out of range for x %s", p->axis,
                           lumen_shape_format(x, b, sizeof b));
    if (x->d[p->axis] == 0)
        return lumen__errf(err, LUMEN_ESHAPE, "argmax: axis %d of x %s is empty", p->axis,
                           lumen_shape_format(x, b, sizeof b));
    out->ndim = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i != p->axis)
            out->d[out->ndim++] = x->d[i];
        else if (p->keepdims)
            out->d[out->ndim++] = 1;
    }
    return LUMEN_OK;
}

static lumen_status argmax_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                               const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)os, (void)err;
    int a = d->p.argmax.axis;
    norm_split p = split_axes(in_shape[0], a, a + 1);
    for (int64_t o = 0; o < p.outer; o++)
        for (int64_t i = 0; i < p.inner; i++) {
            const float *xr = in[0] + o * p.red * p.inner + i;
            int64_t best = 0;
            for (int64_t r = 1; r < p.red; r++)
                if (xr[r * p.inner] > xr[best * p.inner] ||
                    (d->p.argmax.last && xr[r * p.inner] == xr[best * p.inner]))
                    best = r;
            out[o * p.inner + i] = (float)best;
        }
    return LUMEN_OK;
}

static lumen_status argmax_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                               const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "norm", "", "argmax_f32", &k);
    if (st != LUMEN_OK)
        return st;
    int a = d->p.argmax.axis;
    norm_split p = split_axes(&in[0]->shape, a, a + 1);
    int xo = lumen__off(in[0]), yo = lumen__off(y), red = (int)p.red, inner = (int)p.inner,
        last = d->p.argmax.last != 0;
    lumen__arg args[] = {ARG_MEM(in[0]->mem), ARG_INT(xo),    ARG_MEM(y->mem), ARG_INT(yo),
                         ARG_INT(red),        ARG_INT(inner), ARG_INT(last)};
    if ((st = lumen__set_args(ctx, k, "argmax_f32", 7, args)) != LUMEN_OK)
        return st;
    size_t g[2] = {(size_t)p.inner, (size_t)p.outer};
    double n = (double)lumen_shape_numel(&in[0]->shape);
    return lumen__launch(ctx, k, 2, g, NULL, "argmax", n, 4 * n);
}

static double argmax_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                           const lumen_shape *out)
{
    (void)d, (void)n_in, (void)out;
    return (double)lumen_shape_numel(in[0]); /* one comparison per input element */
}

static const lumen_param argmax_params[] = {{LUMEN__PARAM("axis", argmax.axis), .def = 1},
                                            {LUMEN__PARAM("keepdims", argmax.keepdims), .def = 1},
                                            {LUMEN__PARAM("last", argmax.last), .lo = 0, .hi = 1},
                                            {NULL}};

const lumen__op_impl lumen__impl_ARGMAX = {
    1, 1, argmax_shape, argmax_ref, argmax_run, argmax_flops, argmax_params, norm_variants};

/* ---- TOPK: the k largest (or smallest) elements along one axis, or their indices ----
 *
 * The order is total: 'largest' sorts by value descending with NaN first (PyTorch's topk takes
 * NaN as the largest value), 'smallest' ascending with NaN last; equal values keep index order.
 * Output j is the first element of the row in that order that comes after output j-1, found by
 * one pass over the row per output (k passes, no scratch memory), in the reference and the
 * kernel alike. */

static lumen_status topk_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                               lumen_shape *out, char *err)
{
    (void)n_in;
    const lumen_topk_params *p = &d->p.topk;
    const lumen_shape *x = in[0];
    char b[160];
    if (p->axis < 0 || p->axis >= x->ndim)
        return lumen__errf(err, LUMEN_EINVAL, "topk: axis %d out of range for x %s", p->axis,
                           lumen_shape_format(x, b, sizeof b));
    if (p->k < 1 || p->k > x->d[p->axis])
        return lumen__errf(err, LUMEN_ESHAPE, "topk: k %d for axis %d of x %s", p->k, p->axis,
                           lumen_shape_format(x, b, sizeof b));
    *out = *x;
    out->d[p->axis] = p->k;
    return LUMEN_OK;
}

/* 1 when (a, ia) comes before (b, ib) in the order of the comment above. */
static int topk_before(float a, int ia, float b, int ib, int largest)
{
    int an = a != a, bn = b != b;
    if (an || bn)
        return an && bn ? ia < ib : largest ? an : bn;
    if (a != b)
        return largest ? a > b : a < b;
    return ia < ib;
}

static lumen_status topk_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                             const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)os, (void)err;
    const lumen_topk_params *p = &d->p.topk;
    norm_split s = split_axes(in_shape[0], p->axis, p->axis + 1);
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t i = 0; i < s.inner; i++) {
            const float *xr = in[0] + o * s.red * s.inner + i;
            float *yr = out + o * p->k * s.inner + i;
            float pv = 0.0f;
            int pi = -1;
            for (int j = 0; j < p->k; j++) {
                int bi = -1;
                for (int r = 0; r < (int)s.red; r++) {
                    float v = xr[r * s.inner];
                    if ((pi < 0 || topk_before(pv, pi, v, r, p->largest)) &&
                        (bi < 0 || topk_before(v, r, xr[bi * s.inner], bi, p->largest)))
                        bi = r;
                }
                pv = xr[bi * s.inner], pi = bi;
                yr[j * s.inner] = p->indices ? (float)bi : pv;
            }
        }
    return LUMEN_OK;
}

static lumen_status topk_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                             const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "norm", "", "topk_f32", &k);
    if (st != LUMEN_OK)
        return st;
    const lumen_topk_params *p = &d->p.topk;
    norm_split s = split_axes(&in[0]->shape, p->axis, p->axis + 1);
    int xo = lumen__off(in[0]), yo = lumen__off(y), red = (int)s.red, inner = (int)s.inner,
        kk = p->k, largest = p->largest != 0, idx = p->indices != 0;
    lumen__arg args[] = {ARG_MEM(in[0]->mem), ARG_INT(xo),      ARG_MEM(y->mem),
                         ARG_INT(yo),         ARG_INT(red),     ARG_INT(inner),
                         ARG_INT(kk),         ARG_INT(largest), ARG_INT(idx)};
    if ((st = lumen__set_args(ctx, k, "topk_f32", 9, args)) != LUMEN_OK)
        return st;
    size_t g[2] = {(size_t)s.inner, (size_t)s.outer};
    double n = (double)lumen_shape_numel(&in[0]->shape);
    return lumen__launch(ctx, k, 2, g, NULL, "topk", n * p->k, 4 * n * p->k);
}

static double topk_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                         const lumen_shape *out)
{
    (void)n_in, (void)out;
    return (double)lumen_shape_numel(in[0]) * d->p.topk.k; /* k passes of comparisons */
}

static const lumen_param topk_params[] = {
    {LUMEN__PARAM("axis", topk.axis), .lo = 0, .hi = LUMEN_MAX_DIMS - 1},
    {LUMEN__PARAM("k", topk.k), .def = 1, .lo = 1, .hi = INT_MAX},
    {LUMEN__PARAM("largest", topk.largest), .def = 1, .lo = 0, .hi = 1},
    {LUMEN__PARAM("indices", topk.indices), .lo = 0, .hi = 1},
    {NULL}};

const lumen__op_impl lumen__impl_TOPK = {1,        1,          topk_shape,  topk_ref,
                                         topk_run, topk_flops, topk_params, norm_variants};

/* ---- DET: the determinant of each n x n matrix in the last two axes (n <= DET_MAX_N) ----
 *
 * LU decomposition with partial pivoting (the first row of largest magnitude), in float, on a
 * private copy of the matrix: det = sign of the row swaps * the product of the pivots, 0 as
 * soon as a column has no non-zero pivot. A matrix holding a NaN gives NaN (PyTorch's linalg.det
 * does). The kernel runs the same loop, one work-item per matrix. */

#define DET_MAX_N 16

static lumen_status det_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                              lumen_shape *out, char *err)
{
    (void)d, (void)n_in;
    const lumen_shape *x = in[0];
    char b[160];
    if (x->ndim < 2 || x->d[x->ndim - 1] != x->d[x->ndim - 2] || x->d[x->ndim - 1] < 1 ||
        x->d[x->ndim - 1] > DET_MAX_N)
        return lumen__errf(err, LUMEN_ESHAPE,
                           "det: x %s must end in square matrices of 1 to %d rows",
                           lumen_shape_format(x, b, sizeof b), DET_MAX_N);
    *out = *x;
    out->ndim -= 2;
    return LUMEN_OK;
}

static float det_one(const float *m, int n)
{
    float a[DET_MAX_N * DET_MAX_N], det = 1.0f;
    for (int i = 0; i < n * n; i++) {
        if (m[i] != m[i])
            return NAN;
        a[i] = m[i];
    }
    for (int j = 0; j < n; j++) {
        int p = j;
        for (int i = j + 1; i < n; i++)
            if (fabsf(a[i * n + j]) > fabsf(a[p * n + j]))
                p = i;
        if (a[p * n + j] == 0.0f)
            return 0.0f;
        if (p != j) {
            for (int k = 0; k < n; k++) {
                float t = a[j * n + k];
                a[j * n + k] = a[p * n + k];
                a[p * n + k] = t;
            }
            det = -det;
        }
        det *= a[j * n + j];
        for (int i = j + 1; i < n; i++) {
            float f = a[i * n + j] / a[j * n + j];
            for (int k = j + 1; k < n; k++)
                a[i * n + k] -= f * a[j * n + k];
        }
    }
    return det;
}

static lumen_status det_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                            const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)d, (void)n_in, (void)err;
    int n = (int)in_shape[0]->d[in_shape[0]->ndim - 1];
    for (int64_t b = 0; b < lumen_shape_numel(os); b++)
        out[b] = det_one(in[0] + b * n * n, n);
    return LUMEN_OK;
}

static lumen_status det_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                            const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)d, (void)n_in;
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "norm", "", "det_f32", &k);
    if (st != LUMEN_OK)
        return st;
    int xo = lumen__off(in[0]), yo = lumen__off(y), n = (int)in[0]->shape.d[in[0]->shape.ndim - 1];
    lumen__arg args[] = {ARG_MEM(in[0]->mem), ARG_INT(xo), ARG_MEM(y->mem), ARG_INT(yo),
                         ARG_INT(n)};
    if ((st = lumen__set_args(ctx, k, "det_f32", 5, args)) != LUMEN_OK)
        return st;
    size_t g[1] = {(size_t)lumen_tensor_numel(y)};
    double m = (double)g[0];
    return lumen__launch(ctx, k, 1, g, NULL, "det", m * n * n * n, 4.0 * m * (n * n + 1));
}

static double det_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                        const lumen_shape *out)
{
    (void)d, (void)n_in;
    double n = (double)in[0]->d[in[0]->ndim - 1];
    return (double)lumen_shape_numel(out) * 2.0 * n * n * n / 3.0;
}

static const lumen_param det_params[] = {{NULL}};

const lumen__op_impl lumen__impl_DET = {1,       1,         det_shape,  det_ref,
                                        det_run, det_flops, det_params, norm_variants};
