/*
 * matmul.c - MATMUL: y[..., M, N] = act(alpha * op(a)[..., M, K] op(b)[..., K, N] + bias[N]),
 * batch dims broadcast numpy-style. Also "linear" (x W^T + b: trans_b = 1) and batched matmul.
 * The work is done by lumen__gemm (runtime/gemm.c).
 *
 * Layout: a is [..., M, K] ([..., K, M] when trans_a), b is [..., K, N] ([..., N, K] when
 * trans_b); a 1-d a is one row [K] and a 1-d b one column [K] (numpy), and that output axis is
 * dropped. The output batch dims are the broadcast of both inputs' batch dims. On the device,
 * adjacent batch axes whose strides line up are merged; the innermost merged axis becomes the
 * GEMM batch (stride 0 where an input is broadcast) and any outer ones are looped here. When b
 * is shared by every batch and a is not transposed, the batch folds into M (one tall GEMM).
 */
#include <string.h>

#include "../internal.h"

#define MM_MAX_BATCH (LUMEN_MAX_DIMS - 2)

/* Everything the reference and the launcher need, derived from the shapes. */
typedef struct mm_dims {
    int M, N, K;
    int nb;                                                       /* output batch axes */
    int64_t ext[MM_MAX_BATCH];                                    /* their extents */
    int64_t sa[MM_MAX_BATCH], sb[MM_MAX_BATCH], sc[MM_MAX_BATCH]; /* strides, 0: broadcast */
    int64_t nbatch;                                               /* product of ext */
} mm_dims;

/* Stride of x along each of the nb right-aligned output batch axes; 0 where x is broadcast
 * (extent 1, or the axis is beyond x's own batch dims; a 1-d x has none). */
static void batch_strides(const lumen_shape *x, int nb, int64_t *st)
{
    int xb = x->ndim >= 2 ? x->ndim - 2 : 0;
    int64_t s = x->ndim >= 2 ? x->d[x->ndim - 1] * x->d[x->ndim - 2] : 0;
    for (int i = nb - 1; i >= 0; i--) {
        int xi = i - (nb - xb);
        st[i] = xi < 0 || x->d[xi] == 1 ? 0 : s;
        if (xi >= 0)
            s *= x->d[xi];
    }
}

static lumen_status mm_dims_of(const lumen_opdesc *d, const lumen_shape *a, const lumen_shape *b,
                               const lumen_shape *bias, mm_dims *o, lumen_shape *out, char *err)
{
    const lumen_matmul_params *p = &d->p.matmul;
    char s1[160], s2[160];
    if (a->ndim < 1 || b->ndim < 1)
        return lumen__errf(
            err, LUMEN_ESHAPE, "matmul: inputs must have at least 1 dim, got %s and %s",
            lumen_shape_format(a, s1, sizeof s1), lumen_shape_format(b, s2, sizeof s2));
    int64_t M, K, Kb, N;
    if (a->ndim == 1)
        M = 1, K = a->d[0];
    else if (p->trans_a)
        M = a->d[a->ndim - 1], K = a->d[a->ndim - 2];
    else
        M = a->d[a->ndim - 2], K = a->d[a->ndim - 1];
    if (b->ndim == 1)
        N = 1, Kb = b->d[0];
    else if (p->trans_b)
        N = b->d[b->ndim - 2], Kb = b->d[b->ndim - 1];
    else
        N = b->d[b->ndim - 1], Kb = b->d[b->ndim - 2];
    if (K != Kb)
        return lumen__errf(
            err, LUMEN_ESHAPE, "matmul: inner dims differ: a %s%s has K=%lld, b %s%s has K=%lld",
            lumen_shape_format(a, s1, sizeof s1), p->trans_a ? " (trans)" : "", (long long)K,
            lumen_shape_format(b, s2, sizeof s2), p->trans_b ? " (trans)" : "", (long long)Kb);
    /* batch dims: numpy broadcasting of the leading dims */
    lumen_shape ba = {a->ndim >= 2 ? a->ndim - 2 : 0, {0}},
                bb = {b->ndim >= 2 ? b->ndim - 2 : 0, {0}};
    memcpy(ba.d, a->d, (size_t)ba.ndim * sizeof(int64_t));
    memcpy(bb.d, b->d, (size_t)bb.ndim * sizeof(int64_t));
    lumen_shape bo;
    char berr[LUMEN_ERR_MAX];
    if (lumen__broadcast(&ba, &bb, &bo, berr) != LUMEN_OK)
        return lumen__errf(err, LUMEN_ESHAPE, "matmul: batch dims of %s and %s do not broadcast",
                           lumen_shape_format(a, s1, sizeof s1),
                           lumen_shape_format(b, s2, sizeof s2));
    if (bias && (bias->ndim != 1 || bias->d[0] != N))
        return lumen__errf(err, LUMEN_ESHAPE, "matmul: bias %s must be [%lld] (N)",
                           lumen_shape_format(bias, s1, sizeof s1), (long long)N);
    if (M > INT32_MAX / 2 || N > INT32_MAX / 2 || K > INT32_MAX / 2)
        return lumen__errf(err, LUMEN_ERANGE, "matmul: dims of %s x %s too large",
                           lumen_shape_format(a, s1, sizeof s1),
                           lumen_shape_format(b, s2, sizeof s2));
    o->M = (int)M, o->N = (int)N, o->K = (int)K, o->nb = bo.ndim;
    o->nbatch = 1;
    for (int i = 0; i < bo.ndim; i++) {
        o->ext[i] = bo.d[i];
        o->nbatch *= bo.d[i];
    }
    batch_strides(a, o->nb, o->sa);
    batch_strides(b, o->nb, o->sb);
    int64_t s = M * N;
    for (int i = o->nb - 1; i >= 0; i--) {
        o->sc[i] = s;
        s *= o->ext[i];
    }
    if (out) {
        *out = bo;
        if (a->ndim >= 2)
            out->d[out->ndim++] = M;
        if (b->ndim >= 2)
            out->d[out->ndim++] = N;
    }
    return LUMEN_OK;
}

static lumen_status mm_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                             lumen_shape *out, char *err)
{
    mm_dims md;
    return mm_dims_of(d, in[0], in[1], n_in > 2 ? in[2] : NULL, &md, out, err);
}

/* GEMM arguments for one batch element (or all, when merged) of a matmul. */
static lumen__gemm_args mm_gemm_args(const lumen_opdesc *d, const lumen_shape *as,
                                     const lumen_shape *bs, const mm_dims *md, int has_bias)
{
    const lumen_matmul_params *p = &d->p.matmul;
    lumen__gemm_args g = {.batch = 1, .M = md->M, .N = md->N, .K = md->K};
    /* a 1-d operand is never transposed: [K] is one row of A, one column of B */
    g.trans_a = as->ndim >= 2 && p->trans_a;
    g.trans_b = bs->ndim >= 2 && p->trans_b;
    g.alpha = p->alpha == 0 ? 1.0f : p->alpha;
    g.lda = g.trans_a ? md->M : md->K;
    g.ldb = g.trans_b ? md->K : md->N;
    g.ldc = md->N;
    g.bias_mode = has_bias ? 2 : 0;
    g.act = p->act;
    g.label = "matmul";
    return g;
}

static lumen_status mm_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                           const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)os;
    mm_dims md;
    const float *bias = n_in > 2 ? in[2] : NULL;
    lumen_status st =
        mm_dims_of(d, in_shape[0], in_shape[1], bias ? in_shape[2] : NULL, &md, NULL, err);
    if (st != LUMEN_OK)
        return st;
    lumen__gemm_args g = mm_gemm_args(d, in_shape[0], in_shape[1], &md, bias != NULL);
    for (int64_t i = 0; i < md.nbatch; i++) {
        int64_t r = i, ao = 0, bo = 0, co = 0;
        for (int ax = md.nb - 1; ax >= 0; ax--) {
            int64_t c = r % md.ext[ax];
            r /= md.ext[ax];
            ao += c * md.sa[ax], bo += c * md.sb[ax], co += c * md.sc[ax];
        }
        lumen__gemm_ref(&g, in[0] + ao, in[1] + bo, bias, NULL, out + co);
    }
    return LUMEN_OK;
}

/* Merges adjacent batch axes whose strides line up; returns the new axis count. */
static int merge_axes(int nb, int64_t *ext, int64_t *sa, int64_t *sb, int64_t *sc)
{
    int n = 0;
    for (int i = 0; i < nb; i++) {
        if (ext[i] == 1)
            continue; /* contributes nothing */
        if (n > 0 && sa[n - 1] == sa[i] * ext[i] && sb[n - 1] == sb[i] * ext[i] &&
            sc[n - 1] == sc[i] * ext[i]) {
            ext[n - 1] *= ext[i];
            sa[n - 1] = sa[i], sb[n - 1] = sb[i], sc[n - 1] = sc[i];
            continue;
        }
        ext[n] = ext[i], sa[n] = sa[i], sb[n] = sb[i], sc[n] = sc[i];
        n++;
    }
    return n;
}

static lumen_status mm_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                           const lumen_tensor *const *in, lumen_tensor *y)
{
    const lumen_tensor *bias = n_in > 2 ? in[2] : NULL;
    mm_dims md;
    lumen_status st = mm_dims_of(d, &in[0]->shape, &in[1]->shape, bias ? &bias->shape : NULL, &md,
                                 NULL, ctx->err);
    if (st != LUMEN_OK)
        return st;
    lumen__gemm_args g = mm_gemm_args(d, &in[0]->shape, &in[1]->shape, &md, bias != NULL);
    g.a = in[0]->mem, g.b = in[1]->mem, g.c = y->mem;
    if (bias)
        g.bias = bias->mem, g.bias_off = lumen__off(bias);
    int nb = merge_axes(md.nb, md.ext, md.sa, md.sb, md.sc);
    int64_t outer = 1;
    for (int i = 0; i + 1 < nb; i++)
        outer *= md.ext[i];
    if (nb > 0) {
        g.batch = (int)md.ext[nb - 1];
        g.a_bstride = (int)md.sa[nb - 1];
        g.b_bstride = (int)md.sb[nb - 1];
        g.c_bstride = (int)md.sc[nb - 1];
    }
    /* b shared by the whole batch and a's rows contiguous across it: one tall GEMM */
    if (nb == 1 && g.b_bstride == 0 && !g.trans_a && g.a_bstride == g.M * g.K &&
        g.c_bstride == g.M * g.N) {
        g.M *= g.batch;
        g.batch = 1;
        g.a_bstride = g.c_bstride = 0;
    }
    for (int64_t i = 0; i < outer; i++) {
        int64_t r = i, ao = 0, bo = 0, co = 0;
        for (int ax = nb - 2; ax >= 0; ax--) {
            int64_t c = r % md.ext[ax];
            r /= md.ext[ax];
            ao += c * md.sa[ax], bo += c * md.sb[ax], co += c * md.sc[ax];
        }
        g.a_off = lumen__off(in[0]) + (int)ao;
        g.b_off = lumen__off(in[1]) + (int)bo;
        g.c_off = lumen__off(y) + (int)co;
        if ((st = lumen__gemm(ctx, &g)) != LUMEN_OK)
            return st;
    }
    return LUMEN_OK;
}

static double mm_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                       const lumen_shape *out)
{
    (void)out;
    mm_dims md;
    char err[LUMEN_ERR_MAX];
    if (mm_dims_of(d, in[0], in[1], n_in > 2 ? in[2] : NULL, &md, NULL, err) != LUMEN_OK)
        return 0;
    return 2.0 * md.M * md.N * md.K * (double)md.nbatch;
}

/* alpha 0 is taken as 1 (a zeroed struct is a plain matmul); the schema's default says 1 */
static const lumen_param matmul_params[] = {{LUMEN__PARAM("trans_a", matmul.trans_a)},
                                            {LUMEN__PARAM("trans_b", matmul.trans_b)},
                                            {LUMEN__PARAM("alpha", matmul.alpha), .def = 1},
                                            LUMEN__ACT_PARAMS(matmul.act),
                                            {NULL}};
static const lumen__variant *const matmul_variants[] = {lumen__gemm_variants, NULL};

const lumen__op_impl lumen__impl_MATMUL = {2,      3,        mm_shape,      mm_ref,
                                           mm_run, mm_flops, matmul_params, matmul_variants};
