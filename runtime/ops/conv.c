/*
 * conv.c - CONV (1d/2d/3d, stride, dilation, asymmetric padding, groups, fused bias + residual
 * + activation) and CONV_TRANSPOSE (PyTorch weight layout [Cin, Cout/groups, k...]).
 * Kernels: kernels/conv.cl.
 *
 * Layout: x [N, Cin, spatial...], y [N, Cout, spatial...], row-major, spatial = W, HW or DHW.
 * Internally every layout is seen as 3-d (D, H, W), the missing leading axes having extent 1,
 * stride 1 and no padding, so one reference and one kernel serve 1d, 2d and 3d.
 *
 * CONV dispatch, each path its own kernel:
 *   depthwise 2d, 3x3 or 5x5 (groups == Cin == Cout)  -> dwconv_f32, taps unrolled (-DKS)
 *   pointwise (k = 1, stride 1, no padding, groups 1) -> lumen__gemm: y[n] = W[Cout,Cin] x[n]
 *   everything else                                   -> conv_f32, 8 outputs x COB channels
 * CONV_TRANSPOSE runs as a gather (convt_f32): no atomics, each output sums its inputs.
 *
 * No im2col + GEMM path: measured on PoCL (2-core EPYC, 1x64x128x128 -> 64, 3x3), im2col alone
 * took longer than the whole direct convolution (im2col ~63 ms + GEMM ~55 ms + packing, against
 * ~40 ms of CPU time for conv_f32), so the direct kernel serves every non-pointwise shape.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"

/* The 3-d view of one convolution; axis 0 is D, 1 is H, 2 is W. */
typedef struct conv_geom {
    int n, cin, cout, groups;
    int in[3], out[3], k[3];
    int stride[3], dil[3], pad0[3];
} conv_geom;

/* Fills g from params and the shapes of x, w and y (already checked). */
static void geom_of(const lumen_conv_params *p, const lumen_shape *x, const lumen_shape *w,
                    const lumen_shape *y, conv_geom *g)
{
    g->n = (int)x->d[0];
    g->cin = (int)x->d[1];
    g->cout = (int)y->d[1];
    g->groups = p->groups;
    for (int a = 0; a < 3; a++) {
        int i = a - (3 - p->nsp); /* spatial index in the params, < 0 for a missing axis */
        g->in[a] = i < 0 ? 1 : (int)x->d[2 + i];
        g->out[a] = i < 0 ? 1 : (int)y->d[2 + i];
        g->k[a] = i < 0 ? 1 : (int)w->d[2 + i];
        g->stride[a] = i < 0 ? 1 : p->stride[i];
        g->dil[a] = i < 0 ? 1 : p->dil[i];
        g->pad0[a] = i < 0 ? 0 : p->pad0[i];
    }
}

/* ---- shape checks ---- */

/* What CONV and CONV_TRANSPOSE check alike: ranks, parameters, bias. */
static lumen_status check_common(const char *op, const lumen_conv_params *p, int transposed,
                                 const lumen_shape *x, const lumen_shape *w, char *err)
{
    char b1[160], b2[160];
    if (x->ndim != 2 + p->nsp || w->ndim != 2 + p->nsp)
        return lumen__errf(
            err, LUMEN_ESHAPE, "%s: %dd needs rank-%d input and weight, got %s and %s", op, p->nsp,
            2 + p->nsp, lumen_shape_format(x, b1, sizeof b1), lumen_shape_format(w, b2, sizeof b2));
    for (int i = 0; i < p->nsp; i++) {
        if (transposed && p->out_pad[i] >= p->stride[i] && p->out_pad[i] >= p->dil[i])
            return lumen__errf(err, LUMEN_EINVAL,
                               "%s: axis %d: output padding %d must be smaller than "
                               "stride %d or dilation %d",
                               op, i, p->out_pad[i], p->stride[i], p->dil[i]);
        if (w->d[2 + i] < 1)
            return lumen__errf(err, LUMEN_ESHAPE, "%s: empty kernel %s", op,
                               lumen_shape_format(w, b1, sizeof b1));
    }
    if (x->d[1] % p->groups != 0)
        return lumen__errf(err, LUMEN_ESHAPE,
                           "%s: groups %d does not divide the %lld input channels of %s", op,
                           p->groups, (long long)x->d[1], lumen_shape_format(x, b1, sizeof b1));
    return LUMEN_OK;
}

/* bias [Cout] when present. */
static lumen_status check_bias(const char *op, const lumen_shape *bias, int64_t cout, char *err)
{
    char b1[160];
    if (bias && !(bias->ndim == 1 && bias->d[0] == cout))
        return lumen__errf(err, LUMEN_ESHAPE, "%s: bias %s should be [%lld]", op,
                           lumen_shape_format(bias, b1, sizeof b1), (long long)cout);
    return LUMEN_OK;
}

static lumen_status conv_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                               lumen_shape *out, char *err)
{
    const lumen_conv_params *p = &d->p.conv;
    const lumen_shape *x = in[0], *w = in[1];
    char b1[160], b2[160], b3[160];
    lumen_status st = check_common("conv", p, 0, x, w, err);
    if (st != LUMEN_OK)
        return st;
    int64_t cout = w->d[0];
    if (cout < 1 || cout % p->groups != 0 || w->d[1] * p->groups != x->d[1])
        return lumen__errf(err, LUMEN_ESHAPE,
                           "conv: weight %s with groups %d does not fit input %s "
                           "(needs [Cout, Cin/groups, k...] with groups dividing Cout)",
                           lumen_shape_format(w, b1, sizeof b1), p->groups,
                           lumen_shape_format(x, b2, sizeof b2));
    out->ndim = x->ndim;
    out->d[0] = x->d[0];
    out->d[1] = cout;
    for (int i = 0; i < p->nsp; i++) {
        int64_t span = (int64_t)p->dil[i] * (w->d[2 + i] - 1) + 1;
        int64_t o = x->d[2 + i] + p->pad0[i] + p->pad1[i] - span;
        if (o < 0)
            return lumen__errf(err, LUMEN_ESHAPE,
                               "conv: input %s with padding %d,%d is smaller than the "
                               "dilated kernel of %s on axis %d",
                               lumen_shape_format(x, b1, sizeof b1), p->pad0[i], p->pad1[i],
                               lumen_shape_format(w, b2, sizeof b2), 2 + i);
        out->d[2 + i] = o / p->stride[i] + 1;
    }
    if ((st = check_bias("conv", n_in > 2 ? in[2] : NULL, cout, err)) != LUMEN_OK)
        return st;
    if (n_in > 3 && in[3] && !lumen_shape_equal(in[3], out))
        return lumen__errf(
            err, LUMEN_ESHAPE, "conv: residual %s should have the output's shape %s (input %s)",
            lumen_shape_format(in[3], b1, sizeof b1), lumen_shape_format(out, b2, sizeof b2),
            lumen_shape_format(x, b3, sizeof b3));
    return LUMEN_OK;
}

static lumen_status convt_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                lumen_shape *out, char *err)
{
    const lumen_conv_params *p = &d->p.conv;
    const lumen_shape *x = in[0], *w = in[1];
    char b1[160], b2[160];
    lumen_status st = check_common("conv_transpose", p, 1, x, w, err);
    if (st != LUMEN_OK)
        return st;
    if (w->d[0] != x->d[1] || w->d[1] < 1)
        return lumen__errf(err, LUMEN_ESHAPE,
                           "conv_transpose: weight %s should be [Cin=%lld, Cout/groups, k...] "
                           "for input %s",
                           lumen_shape_format(w, b1, sizeof b1), (long long)x->d[1],
                           lumen_shape_format(x, b2, sizeof b2));
    out->ndim = x->ndim;
    out->d[0] = x->d[0];
    out->d[1] = w->d[1] * p->groups;
    for (int i = 0; i < p->nsp; i++) {
        int64_t o = (x->d[2 + i] - 1) * p->stride[i] - p->pad0[i] - p->pad1[i] +
                    (int64_t)p->dil[i] * (w->d[2 + i] - 1) + p->out_pad[i] + 1;
        if (o < 1)
            return lumen__errf(err, LUMEN_ESHAPE,
                               "conv_transpose: input %s and weight %s give an empty output "
                               "on axis %d",
                               lumen_shape_format(x, b1, sizeof b1),
                               lumen_shape_format(w, b2, sizeof b2), 2 + i);
        out->d[2 + i] = o;
    }
    return check_bias("conv_transpose", n_in > 2 ? in[2] : NULL, out->d[1], err);
}

/* ---- plain-C references ---- */

/* Offset of element (n, c, z, y, x) of a [N, C, D, H, W] tensor with C = nc, (D, H, W) = sp. */
static int64_t at5(int64_t nc, const int sp[3], int64_t n, int64_t c, int64_t z, int64_t y,
                   int64_t x)
{
    return (((n * nc + c) * sp[0] + z) * sp[1] + y) * sp[2] + x;
}

static int inside(int64_t i, int n)
{
    return i >= 0 && i < n;
}

static lumen_status conv_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                             const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)err;
    const lumen_conv_params *p = &d->p.conv;
    conv_geom g;
    geom_of(p, in_shape[0], in_shape[1], os, &g);
    const float *x = in[0], *w = in[1], *bias = n_in > 2 ? in[2] : NULL;
    const float *res = n_in > 3 ? in[3] : NULL;
    const int *s = g.stride, *dl = g.dil, *p0 = g.pad0;
    int64_t cig = g.cin / g.groups, cog = g.cout / g.groups, i = 0;
    for (int64_t n = 0; n < g.n; n++)
        for (int64_t co = 0; co < g.cout; co++)
            for (int64_t oz = 0; oz < g.out[0]; oz++)
                for (int64_t oy = 0; oy < g.out[1]; oy++)
                    for (int64_t ox = 0; ox < g.out[2]; ox++, i++) {
                        double sum = bias ? bias[co] : 0.0;
                        for (int64_t c = 0; c < cig; c++) {
                            int64_t ci = co / cog * cig + c; /* input channel of co's group */
                            for (int64_t kz = 0; kz < g.k[0]; kz++)
                                for (int64_t ky = 0; ky < g.k[1]; ky++)
                                    for (int64_t kx = 0; kx < g.k[2]; kx++) {
                                        int64_t iz = oz * s[0] + kz * dl[0] - p0[0];
                                        int64_t iy = oy * s[1] + ky * dl[1] - p0[1];
                                        int64_t ix = ox * s[2] + kx * dl[2] - p0[2];
                                        if (!inside(iz, g.in[0]) || !inside(iy, g.in[1]) ||
                                            !inside(ix, g.in[2]))
                                            continue; /* zero padding */
                                        sum += (double)x[at5(g.cin, g.in, n, ci, iz, iy, ix)] *
                                               w[at5(cig, g.k, co, c, kz, ky, kx)];
                                    }
                        }
                        if (res)
                            sum += res[i];
                        out[i] = lumen__act_ref(&p->act, (float)sum);
                    }
    return LUMEN_OK;
}

/* The transposed reference scatters (each input adds into the outputs it reaches), the
 * definition of the op, while the kernel gathers: the two formulations check each other. */
static lumen_status convt_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                              const float *const *in, const lumen_shape *os, float *out, char *err)
{
    const lumen_conv_params *p = &d->p.conv;
    conv_geom g;
    geom_of(p, in_shape[0], in_shape[1], os, &g);
    const float *x = in[0], *w = in[1], *bias = n_in > 2 ? in[2] : NULL;
    const int *s = g.stride, *dl = g.dil, *p0 = g.pad0;
    int64_t on = lumen_shape_numel(os), cig = g.cin / g.groups, cog = g.cout / g.groups;
    double *acc = calloc((size_t)(on ? on : 1), sizeof *acc);
    if (!acc)
        return lumen__errf(err, LUMEN_ENOMEM, "conv_transpose: out of host memory");
    for (int64_t n = 0; n < g.n; n++)
        for (int64_t ci = 0; ci < g.cin; ci++)
            for (int64_t iz = 0; iz < g.in[0]; iz++)
                for (int64_t iy = 0; iy < g.in[1]; iy++)
                    for (int64_t ix = 0; ix < g.in[2]; ix++) {
                        double v = x[at5(g.cin, g.in, n, ci, iz, iy, ix)];
                        for (int64_t c = 0; c < cog; c++) {
                            int64_t co = ci / cig * cog + c; /* output channel of ci's group */
                            for (int64_t kz = 0; kz < g.k[0]; kz++)
                                for (int64_t ky = 0; ky < g.k[1]; ky++)
                                    for (int64_t kx = 0; kx < g.k[2]; kx++) {
                                        int64_t oz = iz * s[0] + kz * dl[0] - p0[0];
                                        int64_t oy = iy * s[1] + ky * dl[1] - p0[1];
                                        int64_t ox = ix * s[2] + kx * dl[2] - p0[2];
                                        if (!inside(oz, g.out[0]) || !inside(oy, g.out[1]) ||
                                            !inside(ox, g.out[2]))
                                            continue; /* cropped by the padding */
                                        acc[at5(g.cout, g.out, n, co, oz, oy, ox)] +=
                                            v * w[at5(cog, g.k, ci, c, kz, ky, kx)];
                                    }
                        }
                    }
    int64_t plane = (int64_t)g.out[0] * g.out[1] * g.out[2];
    for (int64_t i = 0; i < on; i++) {
        double sum = acc[i] + (bias ? bias[i / plane % g.cout] : 0.0);
        out[i] = lumen__act_ref(&p->act, (float)sum);
    }
    free(acc);
    return LUMEN_OK;
}

/* ---- OpenCL launchers ---- */

/* Kernels index with int: refuse tensors past INT_MAX elements (the message names the op). */
static lumen_status check_int_range(lumen_ctx *ctx, const char *op, int n_in,
                                    const lumen_tensor *const *in, const lumen_tensor *y)
{
    int64_t m = lumen_tensor_numel(y);
    for (int i = 0; i < n_in; i++)
        if (in[i] && lumen_tensor_numel(in[i]) > m)
            m = lumen_tensor_numel(in[i]);
    if (m > INT_MAX)
        return lumen__fail(ctx, LUMEN_ERANGE, "%s: %lld elements exceed the kernels' int indexing",
                           op, (long long)m);
    return LUMEN_OK;
}

static cl_int4 int4_of(int a, int b, int c, int d)
{
    cl_int4 v = {{a, b, c, d}};
    return v;
}

/* Options of the general kernels: 8 channels per work-item unless a group has fewer than 4;
 * -DVW=16 where the device takes 16-wide vectors (lumen__vec_width). */
static const char *cob_options(int channels_per_group, int vw)
{
    if (vw == 16)
        return channels_per_group >= 4 ? "-DVW=16" : "-DCOB=1 -DVW=16";
    return channels_per_group >= 4 ? "" : "-DCOB=1";
}
static int cob_of(int channels_per_group)
{
    return channels_per_group >= 4 ? 8 : 1;
}

static double conv_bytes(int n_in, const lumen_tensor *const *in, const lumen_tensor *y)
{
    double b = (double)lumen_tensor_numel(y);
    for (int i = 0; i < n_in; i++)
        b += in[i] ? (double)lumen_tensor_numel(in[i]) : 0.0;
    return 4.0 * b;
}

/* y[n] = W[Cout, Cin] x[n][Cin, S] (+ bias per row, + residual, act): the pointwise path. */
static lumen_status run_pointwise(lumen_ctx *ctx, const lumen_conv_params *p, const conv_geom *g,
                                  const lumen_tensor *x, const lumen_tensor *w,
                                  const lumen_tensor *bias, const lumen_tensor *res,
                                  lumen_tensor *y)
{
    int sp = g->out[0] * g->out[1] * g->out[2];
    lumen__gemm_args a;
    memset(&a, 0, sizeof a);
    a.batch = g->n;
    a.M = g->cout;
    a.N = sp;
    a.K = g->cin;
    a.alpha = 1.0f;
    a.a = w->mem;
    a.a_off = lumen__off(w);
    a.lda = g->cin;
    a.a_bstride = 0;
    a.b = x->mem;
    a.b_off = lumen__off(x);
    a.ldb = sp;
    a.b_bstride = g->cin * sp;
    a.c = y->mem;
    a.c_off = lumen__off(y);
    a.ldc = sp;
    a.c_bstride = g->cout * sp;
    if (bias) {
        a.bias = bias->mem;
        a.bias_off = lumen__off(bias);
        a.bias_mode = 1;
    }
    if (res) {
        a.res = res->mem;
        a.res_off = lumen__off(res);
    }
    a.act = p->act;
    a.label = "conv 1x1 gemm";
    return lumen__gemm(ctx, &a);
}

/* The tensors' buffers and offsets as kernel arguments; an absent tensor is a NULL buffer. */
typedef struct mem_arg {
    cl_mem mem;
    int off;
} mem_arg;
static mem_arg mem_of(const lumen_tensor *t)
{
    mem_arg m = {t ? t->mem : NULL, t ? lumen__off(t) : 0};
    return m;
}

static lumen_status run_depthwise(lumen_ctx *ctx, const lumen_conv_params *p, const conv_geom *g,
                                  const lumen_tensor *const *in, int n_in, lumen_tensor *y)
{
    /* 8 wide on every device: 16 measured no faster on PoCL/AVX-512 (memory-bound) */
    const int vw = 8;
    const char *opts = g->k[1] == 3 ? "-DKS=3" : "-DKS=5";
    const char *label = g->k[1] == 3 ? "conv dw3x3" : "conv dw5x5";
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "conv", opts, "dwconv_f32", &k);
    if (st != LUMEN_OK)
        return st;
    mem_arg x = mem_of(in[0]), w = mem_of(in[1]), b = mem_of(n_in > 2 ? in[2] : NULL),
            r = mem_of(n_in > 3 ? in[3] : NULL), o = mem_of(y);
    cl_int4 xd = int4_of(g->cin, 1, g->in[1], g->in[2]),
            yd = int4_of(g->cout, 1, g->out[1], g->out[2]),
            sd = int4_of(0, 1, g->stride[1], g->stride[2]),
            dd = int4_of(0, 1, g->dil[1], g->dil[2]), pd = int4_of(0, 0, g->pad0[1], g->pad0[2]);
    int act = (int)p->act.act;
    lumen__arg args[] = {
        {sizeof(cl_mem), &x.mem}, {sizeof(int), &x.off},      {sizeof(cl_mem), &w.mem},
        {sizeof(int), &w.off},    {sizeof(cl_mem), &b.mem},   {sizeof(int), &b.off},
        {sizeof(cl_mem), &r.mem}, {sizeof(int), &r.off},      {sizeof(cl_mem), &o.mem},
        {sizeof(int), &o.off},    {sizeof xd, &xd},           {sizeof yd, &yd},
        {sizeof sd, &sd},         {sizeof dd, &dd},           {sizeof pd, &pd},
        {sizeof(int), &act},      {sizeof(float), &p->act.a}, {sizeof(float), &p->act.b}};
    if ((st = lumen__set_args(ctx, k, "dwconv_f32", 18, args)) != LUMEN_OK)
        return st;
    size_t gws[3] = {(size_t)(g->out[2] + vw - 1) / vw, (size_t)g->out[1], (size_t)g->n * g->cout};
    double flops = 2.0 * lumen_tensor_numel(y) * g->k[1] * g->k[2];
    return lumen__launch(ctx, k, 3, gws, NULL, label, flops, conv_bytes(n_in, in, y));
}

static lumen_status run_direct(lumen_ctx *ctx, const lumen_conv_params *p, const conv_geom *g,
                               const lumen_tensor *const *in, int n_in, lumen_tensor *y)
{
    int cog = g->cout / g->groups, cob = cob_of(cog);
    cl_kernel k;
    int vw = lumen__vec_width(ctx);
    lumen_status st = lumen__kernel(ctx, "conv", cob_options(cog, vw), "conv_f32", &k);
    if (st != LUMEN_OK)
        return st;
    mem_arg x = mem_of(in[0]), w = mem_of(in[1]), b = mem_of(n_in > 2 ? in[2] : NULL),
            r = mem_of(n_in > 3 ? in[3] : NULL), o = mem_of(y);
    cl_int4 xd = int4_of(g->cin, g->in[0], g->in[1], g->in[2]),
            yd = int4_of(g->cout, g->out[0], g->out[1], g->out[2]),
            kd = int4_of(g->groups, g->k[0], g->k[1], g->k[2]),
            sd = int4_of(0, g->stride[0], g->stride[1], g->stride[2]),
            dd = int4_of(0, g->dil[0], g->dil[1], g->dil[2]),
            pd = int4_of(0, g->pad0[0], g->pad0[1], g->pad0[2]);
    int act = (int)p->act.act;
    lumen__arg args[] = {
        {sizeof(cl_mem), &x.mem},  {sizeof(int), &x.off},    {sizeof(cl_mem), &w.mem},
        {sizeof(int), &w.off},     {sizeof(cl_mem), &b.mem}, {sizeof(int), &b.off},
        {sizeof(cl_mem), &r.mem},  {sizeof(int), &r.off},    {sizeof(cl_mem), &o.mem},
        {sizeof(int), &o.off},     {sizeof xd, &xd},         {sizeof yd, &yd},
        {sizeof kd, &kd},          {sizeof sd, &sd},         {sizeof dd, &dd},
        {sizeof pd, &pd},          {sizeof(int), &act},      {sizeof(float), &p->act.a},
        {sizeof(float), &p->act.b}};
    if ((st = lumen__set_args(ctx, k, "conv_f32", 19, args)) != LUMEN_OK)
        return st;
    size_t gws[3] = {(size_t)(g->out[2] + vw - 1) / vw, (size_t)g->out[0] * g->out[1],
                     (size_t)g->n * g->groups * ((cog + cob - 1) / cob)};
    double flops = 2.0 * lumen_tensor_numel(y) * (g->cin / g->groups) * g->k[0] * g->k[1] * g->k[2];
    return lumen__launch(ctx, k, 3, gws, NULL, "conv direct", flops, conv_bytes(n_in, in, y));
}

static lumen_status conv_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                             const lumen_tensor *const *in, lumen_tensor *y)
{
    const lumen_conv_params *p = &d->p.conv;
    lumen_status st = check_int_range(ctx, "conv", n_in, in, y);
    if (st != LUMEN_OK)
        return st;
    conv_geom g;
    geom_of(p, &in[0]->shape, &in[1]->shape, &y->shape, &g);
    int depthwise = p->nsp == 2 && g.groups == g.cin && g.cout == g.cin && g.k[1] == g.k[2] &&
                    (g.k[1] == 3 || g.k[1] == 5);
    int pointwise = g.groups == 1;
    for (int a = 0; a < 3; a++)
        pointwise &= g.k[a] == 1 && g.stride[a] == 1 && g.pad0[a] == 0 && g.out[a] == g.in[a];
    if (depthwise)
        return run_depthwise(ctx, p, &g, in, n_in, y);
    if (pointwise)
        return run_pointwise(ctx, p, &g, in[0], in[1], n_in > 2 ? in[2] : NULL,
                             n_in > 3 ? in[3] : NULL, y);
    return run_direct(ctx, p, &g, in, n_in, y);
}

static lumen_status convt_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                              const lumen_tensor *const *in, lumen_tensor *y)
{
    const lumen_conv_params *p = &d->p.conv;
    lumen_status st = check_int_range(ctx, "conv_transpose", n_in, in, y);
    if (st != LUMEN_OK)
        return st;
    conv_geom g;
    geom_of(p, &in[0]->shape, &in[1]->shape, &y->shape, &g);
    int cog = g.cout / g.groups, cob = cob_of(cog);
    cl_kernel k;
    int vw = lumen__vec_width(ctx);
    if ((st = lumen__kernel(ctx, "conv", cob_options(cog, vw), "convt_f32", &k)) != LUMEN_OK)
        return st;
    mem_arg x = mem_of(in[0]), w = mem_of(in[1]), b = mem_of(n_in > 2 ? in[2] : NULL),
            o = mem_of(y);
    cl_int4 xd = int4_of(g.cin, g.in[0], g.in[1], g.in[2]),
            yd = int4_of(g.cout, g.out[0], g.out[1], g.out[2]),
            kd = int4_of(g.groups, g.k[0], g.k[1], g.k[2]),
            sd = int4_of(0, g.stride[0], g.stride[1], g.stride[2]),
            dd = int4_of(0, g.dil[0], g.dil[1], g.dil[2]),
            pd = int4_of(0, g.pad0[0], g.pad0[1], g.pad0[2]);
    int act = (int)p->act.act;
    lumen__arg args[] = {
        {sizeof(cl_mem), &x.mem},   {sizeof(int), &x.off},     {sizeof(cl_mem), &w.mem},
        {sizeof(int), &w.off},      {sizeof(cl_mem), &b.mem},  {sizeof(int), &b.off},
        {sizeof(cl_mem), &o.mem},   {sizeof(int), &o.off},     {sizeof xd, &xd},
        {sizeof yd, &yd},           {sizeof kd, &kd},          {sizeof sd, &sd},
        {sizeof dd, &dd},           {sizeof pd, &pd},          {sizeof(int), &act},
        {sizeof(float), &p->act.a}, {sizeof(float), &p->act.b}};
    if ((st = lumen__set_args(ctx, k, "convt_f32", 17, args)) != LUMEN_OK)
        return st;
    int sx = g.stride[2], per_phase = (g.out[2] + sx - 1) / sx;
    size_t gws[3] = {(size_t)sx * ((per_phase + vw - 1) / vw), (size_t)g.out[0] * g.out[1],
                     (size_t)g.n * g.groups * ((cog + cob - 1) / cob)};
    double flops = 2.0 * lumen_tensor_numel(in[0]) * cog * g.k[0] * g.k[1] * g.k[2];
    return lumen__launch(ctx, k, 3, gws, NULL, "conv_transpose", flops, conv_bytes(n_in, in, y));
}

/* ---- flops: two per multiply-add ---- */

static double conv_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                         const lumen_shape *out)
{
    (void)d, (void)n_in;
    const lumen_shape *w = in[1];
    double macs = (double)lumen_shape_numel(out) * (double)w->d[1]; /* w->d[1] = Cin/groups */
    for (int i = 2; i < w->ndim; i++)
        macs *= (double)w->d[i];
    return 2.0 * macs;
}

static double convt_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                          const lumen_shape *out)
{
    (void)d, (void)n_in, (void)out;
    const lumen_shape *w = in[1];
    double macs = (double)lumen_shape_numel(in[0]) * (double)w->d[1]; /* w->d[1] = Cout/groups */
    for (int i = 2; i < w->ndim; i++)
        macs *= (double)w->d[i];
    return 2.0 * macs;
}

/* ---- parameters and programs ---- */

#define CONV_COUNTED(m) .flags = LUMEN_PARAM_COUNT_IN, .count_at = LUMEN__AT(conv.nsp)
#define CONV_PARAMS                                                                                \
    {LUMEN__PARAM("nsp", conv.nsp), .def = 2, .lo = 1, .hi = 3},                                   \
        {LUMEN__PARAM("stride", conv.stride), CONV_COUNTED(), .def = 1, .lo = 1, .hi = INT_MAX},   \
        {LUMEN__PARAM("dilation", conv.dil), CONV_COUNTED(), .def = 1, .lo = 1, .hi = INT_MAX},    \
        {LUMEN__PARAM("pad", conv.pad0), .at2 = LUMEN__AT(conv.pad1),                              \
         .flags = LUMEN_PARAM_COUNT_IN | LUMEN_PARAM_MIRROR, .count_at = LUMEN__AT(conv.nsp)},     \
        {LUMEN__PARAM("pads", conv.pad0),                                                          \
         .at2 = LUMEN__AT(conv.pad1),                                                              \
         .flags = LUMEN_PARAM_COUNT_IN | LUMEN_PARAM_SPLIT | LUMEN_PARAM_KEEP,                     \
         .count_at = LUMEN__AT(conv.nsp),                                                          \
         .lo = 0,                                                                                  \
         .hi = INT_MAX},                                                                           \
        {LUMEN__PARAM("groups", conv.groups), .def = 1, .lo = 1, .hi = INT_MAX},                   \
        LUMEN__ACT_PARAMS(conv.act)

static const lumen_param conv_params[] = {CONV_PARAMS, {NULL}};
static const lumen_param convt_params[] = {
    CONV_PARAMS,
    {LUMEN__PARAM("out_pad", conv.out_pad), CONV_COUNTED(), .lo = 0, .hi = INT_MAX},
    {NULL}};

/* cob_options (8 or 16 wide) and run_depthwise's -DKS */
static const lumen__variant conv_programs[] = {{"conv", ""},
                                               {"conv", "-DCOB=1"},
                                               {"conv", "-DVW=16"},
                                               {"conv", "-DKS=3"},
                                               {"conv", "-DCOB=1 -DVW=16"},
                                               {"conv", "-DKS=5"},
                                               {NULL}};
static const lumen__variant *const conv_variants[] = {conv_programs, lumen__gemm_variants, NULL};

const lumen__op_impl lumen__impl_CONV = {2,        4,          conv_shape,  conv_ref,
                                         conv_run, conv_flops, conv_params, conv_variants};
const lumen__op_impl lumen__impl_CONV_TRANSPOSE = {
    2, 3, convt_shape, convt_ref, convt_run, convt_flops, convt_params, conv_variants};
