/*
 * pool.c - POOL (max / average over 1d, 2d or 3d windows) and REDUCE (sum / mean / max over an
 * axis set). Kernels: kernels/pool.cl.
 *
 * POOL layout: x is [N, C, spatial...] with nsp spatial axes. Both the reference and the kernels
 * treat every pool as 3d: missing leading spatial axes get extent 1, k 1, stride 1, no padding.
 * Output extent per axis follows PyTorch (and ONNX):
 *     out = floor_or_ceil((in + pad0 + pad1 - dil*(k-1) - 1) / stride) + 1
 * and in ceil_mode a last window that would start in the right padding is dropped. Max ignores
 * padded positions. Average sums the positions inside the input; its divisor counts either those
 * (count_include_pad 0) or every window position inside [-pad0, in + pad1) (count_include_pad 1,
 * which is PyTorch's clipped window in ceil_mode). A dil of 0 is taken as 1.
 *
 * REDUCE: the input's axes are grouped into runs of consecutive kept or reduced axes (extent-1
 * axes dropped), giving at most 3 kept and 3 reduced groups. Reducing one trailing run (global
 * average pool: the H*W of each (n, c)) uses one work-group per row with a tree in local memory
 * when rows are long; everything else uses one work-item per output element looping over the
 * reduced groups. 'axes' == 0 reduces nothing (a copy).
 */
#include <math.h>
#include <string.h>

#include "../internal.h"

/* ---- POOL ---- */

/* One pool as 3 spatial axes (index 0 is depth). */
typedef struct pool3 {
    int64_t nc; /* N*C */
    int in[3], out[3], k[3], s[3], p0[3], lim[3], dil[3];
} pool3;

/* PyTorch's pooling_output_shape. Returns <= 0 when the window does not fit. */
static int64_t pool_out_len(int64_t in, int k, int s, int p0, int p1, int dil, int ceil_mode)
{
    int64_t num = in + p0 + p1 - (int64_t)dil * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    if (num < 0)
        return 0;
    int64_t out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= in + p0)
        out--;
    return out;
}

static lumen_status pool_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                               lumen_shape *out, char *err)
{
    (void)n_in;
    const lumen_pool_params *p = &d->p.pool;
    const lumen_shape *x = in[0];
    char b[160];
    if (x->ndim != p->nsp + 2)
        return lumen__errf(err, LUMEN_ESHAPE,
                           "pool: input %s has rank %d, expected %d (N, C and "
                           "%d spatial axes)",
                           lumen_shape_format(x, b, sizeof b), x->ndim, p->nsp + 2, p->nsp);
    if (p->indices && (p->kind != LUMEN_POOL_MAX || lumen_shape_numel(x) > (1 << 24)))
        return lumen__errf(err, LUMEN_EINVAL,
                           "pool: indices of %s pooling over %s (max pooling of at most 2^24 "
                           "elements, so that float holds every index)",
                           p->kind == LUMEN_POOL_MAX ? "max" : "average",
                           lumen_shape_format(x, b, sizeof b));
    *out = *x;
    for (int i = 0; i < p->nsp; i++) {
        int dil = p->dil[i] ? p->dil[i] : 1;
        int64_t o = pool_out_len(x->d[2 + i], p->k[i], p->stride[i], p->pad0[i], p->pad1[i], dil,
                                 p->ceil_mode);
        if (o < 1)
            return lumen__errf(err, LUMEN_ESHAPE,
                               "pool: input %s: window %d (dil %d) does not fit "
                               "spatial axis %d of extent %lld with pads %d/%d",
                               lumen_shape_format(x, b, sizeof b), p->k[i], dil, i,
                               (long long)x->d[2 + i], p->pad0[i], p->pad1[i]);
        out->d[2 + i] = o;
    }
    return LUMEN_OK;
}

static void pool_to3(const lumen_pool_params *p, const lumen_shape *x, const lumen_shape *y,
                     pool3 *q)
{
    int lead = 3 - p->nsp;
    q->nc = x->d[0] * x->d[1];
    for (int i = 0; i < 3; i++) {
        int j = i - lead; /* spatial axis of the op, < 0 for a padded one */
        q->in[i] = j < 0 ? 1 : (int)x->d[2 + j];
        q->out[i] = j < 0 ? 1 : (int)y->d[2 + j];
        q->k[i] = j < 0 ? 1 : p->k[j];
        q->s[i] = j < 0 ? 1 : p->stride[j];
        q->p0[i] = j < 0 ? 0 : p->pad0[j];
        q->lim[i] = q->in[i] + (j < 0 ? 0 : p->pad1[j]);
        q->dil[i] = j < 0 || p->dil[j] == 0 ? 1 : p->dil[j];
    }
}

static lumen_status pool_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                             const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)err;
    const lumen_pool_params *p = &d->p.pool;
    pool3 q;
    pool_to3(p, in_shape[0], os, &q);
    const int *I = q.in, *O = q.out;
    for (int64_t nc = 0; nc < q.nc; nc++) {
        const float *x = in[0] + nc * I[0] * I[1] * I[2];
        for (int od = 0; od < O[0]; od++)
            for (int oh = 0; oh < O[1]; oh++)
                for (int ow = 0; ow < O[2]; ow++) {
                    double acc = p->kind == LUMEN_POOL_MAX ? -INFINITY : 0.0;
                    int count = 0;
                    int64_t at = -1; /* indices: as PyTorch, a later NaN or larger value wins */
                    for (int kd = 0; kd < q.k[0]; kd++)
                        for (int kh = 0; kh < q.k[1]; kh++)
                            for (int kw = 0; kw < q.k[2]; kw++) {
                                int id = od * q.s[0] - q.p0[0] + kd * q.dil[0];
                                int ih = oh * q.s[1] - q.p0[1] + kh * q.dil[1];
                                int iw = ow * q.s[2] - q.p0[2] + kw * q.dil[2];
                                int inside = id >= 0 && id < I[0] && ih >= 0 && ih < I[1] &&
                                             iw >= 0 && iw < I[2];
                                int in_pad = id < q.lim[0] && ih < q.lim[1] && iw < q.lim[2];
                                if (p->count_include_pad ? in_pad : inside)
                                    count++;
                                if (!inside)
                                    continue;
                                double v = x[((int64_t)id * I[1] + ih) * I[2] + iw];
                                if (p->indices && (at < 0 || v > acc || isnan(v))) {
                                    at = p->storage_order ? ((int64_t)iw * I[1] + ih) * I[0] + id
                                                          : ((int64_t)id * I[1] + ih) * I[2] + iw;
                                    acc = v;
                                } else if (p->kind == LUMEN_POOL_MAX)
                                    acc = lumen__nmax(acc, v);
                                else
                                    acc += v;
                            }
                    if (p->kind == LUMEN_POOL_AVG)
                        acc /= count;
                    *out++ = p->indices ? (float)(nc * I[0] * I[1] * I[2] + at) : (float)acc;
                }
    }
    return LUMEN_OK;
}

static lumen_status pool_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                             const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    const lumen_pool_params *p = &d->p.pool;
    const char *name = p->indices                  ? "maxpool_idx_f32"
                       : p->kind == LUMEN_POOL_MAX ? "maxpool_f32"
                                                   : "avgpool_f32";
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "pool", "", name, &k);
    if (st != LUMEN_OK)
        return st;
    pool3 q;
    pool_to3(p, &in[0]->shape, &y->shape, &q);
    cl_int4 isz = {{q.in[0], q.in[1], q.in[2], 0}}, osz = {{q.out[0], q.out[1], q.out[2], 0}};
    cl_int4 kk = {{q.k[0], q.k[1], q.k[2], 0}}, ss = {{q.s[0], q.s[1], q.s[2], 0}};
    cl_int4 p0 = {{q.p0[0], q.p0[1], q.p0[2], 0}}, lim = {{q.lim[0], q.lim[1], q.lim[2], 0}};
    cl_int4 dil = {{q.dil[0], q.dil[1], q.dil[2], 0}};
    int xo = lumen__off(in[0]), yo = lumen__off(y), nc = (int)q.nc,
        incl = p->indices ? p->storage_order != 0 : p->count_include_pad;
    lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem},
                         {sizeof(int), &xo},
                         {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},
                         {sizeof(int), &nc},
                         {sizeof isz, &isz},
                         {sizeof osz, &osz},
                         {sizeof kk, &kk},
                         {sizeof ss, &ss},
                         {sizeof p0, &p0},
                         {sizeof lim, &lim},
                         {sizeof dil, &dil},
                         {sizeof(int), &incl}};
    /* the kernels take the same arguments; max pooling ignores 'lim', and 'incl' is the
     * storage order of maxpool_idx_f32 */
    st = lumen__set_args(ctx, k, name, 13, args);
    if (st != LUMEN_OK)
        return st;
    size_t g[3] = {(size_t)q.out[2], (size_t)q.out[1], (size_t)q.out[0] * (size_t)q.nc}, l[3];
    lumen__exact_lws(3, g, lumen__wg_target(ctx, k, 64), l);
    double win = (double)q.k[0] * q.k[1] * q.k[2], n = (double)lumen_tensor_numel(y);
    return lumen__launch(ctx, k, 3, g, l, p->kind == LUMEN_POOL_MAX ? "maxpool" : "avgpool",
                         n * win, 4.0 * (n * win + n));
}

static double pool_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                         const lumen_shape *out)
{
    (void)n_in, (void)in;
    double win = 1;
    for (int i = 0; i < d->p.pool.nsp; i++)
        win *= d->p.pool.k[i];
    return win * (double)lumen_shape_numel(out);
}

#define POOL_COUNTED .flags = LUMEN_PARAM_COUNT_IN, .count_at = LUMEN__AT(pool.nsp)
static const char *const pool_kinds[] = {"max", "avg", NULL};
static const lumen_param pool_params[] = {
    {LUMEN__PARAM("kind", pool.kind), .names = pool_kinds},
    {LUMEN__PARAM("nsp", pool.nsp), .def = 2, .lo = 1, .hi = 3},
    {LUMEN__PARAM("kernel", pool.k), POOL_COUNTED, .def = 2, .lo = 1, .hi = INT_MAX},
    /* PyTorch: the stride defaults to the kernel size */
    {LUMEN__PARAM("stride", pool.stride), POOL_COUNTED, .def_from = "kernel", .lo = 1,
     .hi = INT_MAX},
    /* 0 counts as 1 */
    {LUMEN__PARAM("dilation", pool.dil), POOL_COUNTED, .def = 1, .lo = 0, .hi = INT_MAX},
    {LUMEN__PARAM("pad", pool.pad0), .at2 = LUMEN__AT(pool.pad1),
     .flags = LUMEN_PARAM_COUNT_IN | LUMEN_PARAM_MIRROR, .count_at = LUMEN__AT(pool.nsp)},
    {LUMEN__PARAM("pads", pool.pad0), .at2 = LUMEN__AT(pool.pad1),
     .flags = LUMEN_PARAM_COUNT_IN | LUMEN_PARAM_SPLIT | LUMEN_PARAM_KEEP,
     .count_at = LUMEN__AT(pool.nsp), .lo = 0, .hi = INT_MAX},
    {LUMEN__PARAM("count_include_pad", pool.count_include_pad)},
    {LUMEN__PARAM("ceil_mode", pool.ceil_mode)},
    {LUMEN__PARAM("indices", pool.indices), .lo = 0, .hi = 1},
    {LUMEN__PARAM("storage_order", pool.storage_order), .lo = 0, .hi = 1},
    {NULL}};
static const lumen__variant pool_programs[] = {{"pool", ""}, {NULL}};
static const lumen__variant *const pool_variants[] = {pool_programs, NULL};

const lumen__op_impl lumen__impl_POOL = {1,        1,          pool_shape,  pool_ref,
                                         pool_run, pool_flops, pool_params, pool_variants};

/* ---- REDUCE ---- */

/* The input as alternating runs of kept and reduced axes: kept groups ke/ks (extent, input
 * stride) and reduced groups re/rs, each padded at the front with extent 1, stride 0. */
typedef struct reduce_plan {
    int64_t ke[3], ks[3], re[3], rs[3];
    int64_t rows, len; /* product of kept / reduced extents */
    int trailing;      /* one reduced run, at the end: rows of 'len' contiguous elements */
} reduce_plan;

static lumen_status reduce_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                 lumen_shape *out, char *err)
{
    (void)n_in;
    const lumen_reduce_params *p = &d->p.reduce;
    const lumen_shape *x = in[0];
    char b[160];
    if (p->axes >> x->ndim)
        return lumen__errf(err, LUMEN_EINVAL,
                           "reduce: axes mask 0x%x names an axis beyond the "
                           "rank of input %s",
                           p->axes, lumen_shape_format(x, b, sizeof b));
    out->ndim = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (!(p->axes >> i & 1))
            out->d[out->ndim++] = x->d[i];
        else if (p->keepdims)
            out->d[out->ndim++] = 1;
    }
    return LUMEN_OK;
}

static void reduce_plan_of(unsigned axes, const lumen_shape *x, reduce_plan *rp)
{
    int64_t st[LUMEN_MAX_DIMS];
    lumen__strides(x, st);
    /* runs from the innermost axis outwards; ext/str/red per run */
    int64_t ext[LUMEN_MAX_DIMS], str[LUMEN_MAX_DIMS];
    int red[LUMEN_MAX_DIMS], n = 0;
    for (int i = x->ndim - 1; i >= 0; i--) {
        if (x->d[i] == 1)
            continue;
        int r = axes >> i & 1;
        if (n > 0 && red[n - 1] == r && str[n - 1] * ext[n - 1] == st[i]) {
            ext[n - 1] *= x->d[i];
            continue;
        }
        ext[n] = x->d[i], str[n] = st[i], red[n] = r;
        n++;
    }
    for (int i = 0; i < 3; i++)
        rp->ke[i] = rp->re[i] = 1, rp->ks[i] = rp->rs[i] = 0;
    int nk = 0, nr = 0; /* filled from the back (innermost group last) */
    rp->rows = rp->len = 1;
    for (int j = 0; j < n; j++) {
        if (red[j]) {
            rp->re[2 - nr] = ext[j], rp->rs[2 - nr] = str[j], nr++;
            rp->len *= ext[j];
        } else {
            rp->ke[2 - nk] = ext[j], rp->ks[2 - nk] = str[j], nk++;
            rp->rows *= ext[j];
        }
    }
    rp->trailing = nr == 1 && n > 0 && red[0];
}

static lumen_status reduce_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                               const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)os, (void)err;
    const lumen_reduce_params *p = &d->p.reduce;
    reduce_plan rp;
    reduce_plan_of(p->axes, in_shape[0], &rp);
    int64_t i = 0;
    for (int64_t k0 = 0; k0 < rp.ke[0]; k0++)
        for (int64_t k1 = 0; k1 < rp.ke[1]; k1++)
            for (int64_t k2 = 0; k2 < rp.ke[2]; k2++, i++) {
                const float *x = in[0] + k0 * rp.ks[0] + k1 * rp.ks[1] + k2 * rp.ks[2];
                double acc = p->kind == LUMEN_REDUCE_MAX    ? -INFINITY
                             : p->kind == LUMEN_REDUCE_PROD ? 1.0
                                                            : 0.0;
                for (int64_t r0 = 0; r0 < rp.re[0]; r0++)
                    for (int64_t r1 = 0; r1 < rp.re[1]; r1++)
                        for (int64_t r2 = 0; r2 < rp.re[2]; r2++) {
                            double v = x[r0 * rp.rs[0] + r1 * rp.rs[1] + r2 * rp.rs[2]];
                            if (p->kind == LUMEN_REDUCE_MAX)
                                acc = lumen__nmax(acc, v);
                            else if (p->kind == LUMEN_REDUCE_PROD)
                                acc *= v;
                            else
                                acc += v;
                        }
                if (p->kind == LUMEN_REDUCE_MEAN)
                    acc /= (double)rp.len;
                out[i] = (float)acc;
            }
    return LUMEN_OK;
}

/* Work-group size of the row kernel k: a power of two that the device and k allow, with its
 * scratch (one float per work-item) within the local memory. */
static size_t reduce_wg(lumen_ctx *ctx, cl_kernel k)
{
    size_t want = ctx->info.type == LUMEN_DEV_CPU ? 64 : 256, w = 1;
    size_t cap = lumen__max_wg(ctx, k), local = (size_t)lumen__local_free(ctx, k) / sizeof(float);
    while (w * 2 <= want && w * 2 <= cap && w * 2 <= local)
        w *= 2;
    return w;
}

static lumen_status reduce_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                               const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    const lumen_reduce_params *p = &d->p.reduce;
    reduce_plan rp;
    reduce_plan_of(p->axes, &in[0]->shape, &rp);
    int xo = lumen__off(in[0]), yo = lumen__off(y), kind = p->kind, len = (int)rp.len;
    double n_in_el = (double)lumen_tensor_numel(in[0]), n_out = (double)lumen_tensor_numel(y);
    double bytes = 4.0 * (n_in_el + n_out);
    cl_kernel k;
    lumen_status st;
    if (rp.trailing && rp.len > 64) {
        if ((st = lumen__kernel(ctx, "pool", "", "reduce_rows_f32", &k)) != LUMEN_OK)
            return st;
        size_t wg = reduce_wg(ctx, k);
        lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem}, {sizeof(int), &xo},
                             {sizeof(cl_mem), &y->mem},     {sizeof(int), &yo},
                             {sizeof(int), &len},           {sizeof(int), &kind},
                             {wg * sizeof(float), NULL}};
        if ((st = lumen__set_args(ctx, k, "reduce_rows_f32", 7, args)) != LUMEN_OK)
            return st;
        size_t g = (size_t)rp.rows * wg;
        return lumen__launch(ctx, k, 1, &g, &wg, "reduce_rows", n_in_el, bytes);
    }
    if ((st = lumen__kernel(ctx, "pool", "", "reduce_f32", &k)) != LUMEN_OK)
        return st;
    cl_int4 ke = {{0}}, ks = {{0}}, re = {{0}}, rs = {{0}};
    for (int i = 0; i < 3; i++) {
        ke.s[i] = (cl_int)rp.ke[i], ks.s[i] = (cl_int)rp.ks[i];
        re.s[i] = (cl_int)rp.re[i], rs.s[i] = (cl_int)rp.rs[i];
    }
    int rows = (int)rp.rows;
    lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem},
                         {sizeof(int), &xo},
                         {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},
                         {sizeof(int), &rows},
                         {sizeof ke, &ke},
                         {sizeof ks, &ks},
                         {sizeof re, &re},
                         {sizeof rs, &rs},
                         {sizeof(int), &len},
                         {sizeof(int), &kind}};
    if ((st = lumen__set_args(ctx, k, "reduce_f32", 11, args)) != LUMEN_OK)
        return st;
    size_t g = (size_t)rp.rows;
    return lumen__launch(ctx, k, 1, &g, NULL, "reduce", n_in_el, bytes);
}

static double reduce_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                           const lumen_shape *out)
{
    (void)d, (void)n_in, (void)out;
    return (double)lumen_shape_numel(in[0]);
}

static const char *const reduce_kinds[] = {"sum", "mean", "max", "prod", NULL};
static const lumen_param reduce_params[] = {
    {LUMEN__PARAM("kind", reduce.kind), .names = reduce_kinds, .def = LUMEN_REDUCE_MEAN},
    {LUMEN__PARAM("axes", reduce.axes)},
    {LUMEN__PARAM("keepdims", reduce.keepdims), .def = 1},
    {NULL}};

const lumen__op_impl lumen__impl_REDUCE = {
    1, 1, reduce_shape, reduce_ref, reduce_run, reduce_flops, reduce_params, pool_variants};
