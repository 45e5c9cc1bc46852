/*
 * attention.c - ATTENTION: fused multi-head scaled dot-product attention on NCHW feature maps,
 * the core of angio_qa's L-GSAM block (local heads inside window x window tiles, global heads
 * over average-pooled keys). Kernel: kernels/attention.cl.
 *
 * Layout: q [N, Cq, H, W], k [N, Ck, Hk, Wk], v [N, Cv, Hk, Wk]; a token is a pixel, its
 * features are a channel slice. Head h reads channels q_c0 + h*d .. + d of q (likewise k_c0,
 * v_c0), so q, k and v may be channel ranges of larger tensors (one qkv projection) without a
 * copy. Output [N, heads*d, H, W], head h in channels h*d .. + d.
 *
 * For each query token t and head h, over its key set J (the w*w keys of t's tile when
 * window > 0, else all Hk*Wk keys):
 *     s_j = scale * <q_t, k_j>,  p_j = exp(s_j - max s) / sum exp(s - max s),  y_t = sum p_j v_j
 * computed in one kernel with an online softmax: no score tensor ever reaches global memory.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../internal.h"

static lumen_status attention_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                    lumen_shape *out, char *err)
{
    (void)n_in;
    static const char *const names[] = {"q", "k", "v"};
    const lumen_attention_params *p = &d->p.attention;
    const int c0[3] = {p->q_c0, p->k_c0, p->v_c0};
    char b1[160], b2[160];
    if (!isfinite(p->scale))
        return lumen__errf(err, LUMEN_EINVAL, "attention: scale %g is not finite", p->scale);
    for (int i = 0; i < 3; i++) {
        const lumen_shape *s = in[i];
        if (s->ndim != 4)
            return lumen__errf(err, LUMEN_ESHAPE, "attention: %s %s must be 4-d [N, C, H, W]",
                               names[i], lumen_shape_format(s, b1, sizeof b1));
        if (s->d[0] != in[0]->d[0])
            return lumen__errf(err, LUMEN_ESHAPE, "attention: batch of %s %s differs from q %s",
                               names[i], lumen_shape_format(s, b1, sizeof b1),
                               lumen_shape_format(in[0], b2, sizeof b2));
        if (c0[i] < 0 || (int64_t)c0[i] + (int64_t)p->heads * p->head_dim > s->d[1])
            return lumen__errf(
                err, LUMEN_ESHAPE,
                "attention: %s channels [%d, %lld) (c0 %d + %d heads x %d) are out "
                "of range for %s %s",
                names[i], c0[i], (long long)c0[i] + (long long)p->heads * p->head_dim, c0[i],
                p->heads, p->head_dim, names[i], lumen_shape_format(s, b1, sizeof b1));
    }
    const lumen_shape *q = in[0], *k = in[1], *v = in[2];
    if (k->d[2] != v->d[2] || k->d[3] != v->d[3])
        return lumen__errf(err, LUMEN_ESHAPE, "attention: k %s and v %s have different H, W",
                           lumen_shape_format(k, b1, sizeof b1),
                           lumen_shape_format(v, b2, sizeof b2));
    if (k->d[2] * k->d[3] == 0)
        return lumen__errf(err, LUMEN_ESHAPE, "attention: k %s has no keys",
                           lumen_shape_format(k, b1, sizeof b1));
    if (p->window > 0) {
        if (k->d[2] != q->d[2] || k->d[3] != q->d[3])
            return lumen__errf(err, LUMEN_ESHAPE,
                               "attention: local window %d needs k %s with the H, W of q %s",
                               p->window, lumen_shape_format(k, b1, sizeof b1),
                               lumen_shape_format(q, b2, sizeof b2));
        if (q->d[2] % p->window || q->d[3] % p->window)
            return lumen__errf(err, LUMEN_ESHAPE,
                               "attention: window %d does not divide H x W of q %s", p->window,
                               lumen_shape_format(q, b1, sizeof b1));
    }
    *out = (lumen_shape){4, {q->d[0], (int64_t)p->heads * p->head_dim, q->d[2], q->d[3]}};
    return LUMEN_OK;
}

static float attention_scale(const lumen_attention_params *p)
{
    return p->scale != 0 ? p->scale : (float)(1.0 / sqrt((double)p->head_dim));
}

static lumen_status attention_ref(const lumen_opdesc *d, int n_in,
                                  const lumen_shape *const *in_shape, const float *const *in,
                                  const lumen_shape *os, float *out, char *err)
{
    (void)n_in;
    const lumen_attention_params *p = &d->p.attention;
    const lumen_shape *qs = in_shape[0], *ks = in_shape[1], *vs = in_shape[2];
    int64_t N = qs->d[0], H = qs->d[2], W = qs->d[3], Hk = ks->d[2], Wk = ks->d[3];
    int64_t hw = H * W, khw = Hk * Wk, D = p->head_dim, w = p->window;
    double scale = attention_scale(p);
    double *s = malloc((size_t)khw * sizeof *s);
    if (!s)
        return lumen__errf(err, LUMEN_ENOMEM, "attention: out of host memory");
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < p->heads; h++) {
            const float *q = in[0] + (n * qs->d[1] + p->q_c0 + h * D) * hw;
            const float *k = in[1] + (n * ks->d[1] + p->k_c0 + h * D) * khw;
            const float *v = in[2] + (n * vs->d[1] + p->v_c0 + h * D) * khw;
            float *y = out + (n * os->d[1] + h * D) * hw;
            for (int64_t ty = 0; ty < H; ty++)
                for (int64_t tx = 0; tx < W; tx++) {
                    /* the key set: t's tile, or everything */
                    int64_t ky0 = w ? ty / w * w : 0, kx0 = w ? tx / w * w : 0;
                    int64_t kh = w ? w : Hk, kw = w ? w : Wk, t = ty * W + tx, nk = 0;
                    double m = -INFINITY, sum = 0;
                    for (int64_t ky = ky0; ky < ky0 + kh; ky++)
                        for (int64_t kx = kx0; kx < kx0 + kw; kx++, nk++) {
                            double dot = 0;
                            for (int64_t c = 0; c < D; c++)
                                dot += (double)q[c * hw + t] * k[c * khw + ky * Wk + kx];
                            s[nk] = scale * dot;
                            m = fmax(m, s[nk]);
                        }
                    for (int64_t j = 0; j < nk; j++) {
                        s[j] = exp(s[j] - m);
                        sum += s[j];
                    }
                    for (int64_t c = 0; c < D; c++) {
                        double acc = 0;
                        nk = 0;
                        for (int64_t ky = ky0; ky < ky0 + kh; ky++)
                            for (int64_t kx = kx0; kx < kx0 + kw; kx++, nk++)
                                acc += s[nk] * v[c * khw + ky * Wk + kx];
                        y[c * hw + t] = (float)(acc / sum);
                    }
                }
        }
    free(s);
    return LUMEN_OK;
}

/* Head sizes with a specialised program (the accumulator lives in registers); any other size
 * runs the generic program, which walks the head in chunks of 16 channels. */
static const int attention_dims[] = {16, 32, 64};

/* The tiled kernel stages up to this many keys at a time in local memory. */
#define ATTN_MAX_KT 64
/* Work-group size of the tiled kernel for global keys, and the largest tile it takes (a window
 * of 16 x 16); larger windows run the per-token kernel. */
#define ATTN_GLOBAL_LSZ 64
#define ATTN_MAX_TILE 256

static lumen_status attention_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                                  const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    const lumen_attention_params *p = &d->p.attention;
    const lumen_shape *qs = &in[0]->shape, *ks = &in[1]->shape, *vs = &in[2]->shape;
    int H = (int)qs->d[2], W = (int)qs->d[3], Hk = (int)ks->d[2], Wk = (int)ks->d[3];
    int Cq = (int)qs->d[1], Ck = (int)ks->d[1], Cv = (int)vs->d[1], w = p->window;

    char opts[32] = "";
    for (size_t i = 0; i < sizeof attention_dims / sizeof attention_dims[0]; i++)
        if (p->head_dim == attention_dims[i])
            snprintf(opts, sizeof opts, "-DHEAD_DIM=%d", p->head_dim);
    /* tiled kernel: work-group size (what the device and the kernel allow), keys per staged
     * chunk (bounded by the local memory the kernel leaves free) */
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "attention", opts, "attention_tiled_f32", &k);
    if (st != LUMEN_OK)
        return st;
    size_t maxwg = lumen__max_wg(ctx, k);
    int nkeys = w ? w * w : Hk * Wk, hw = H * W;
    int lsz = w ? w * w : (hw < ATTN_GLOBAL_LSZ ? hw : ATTN_GLOBAL_LSZ);
    if ((size_t)lsz > maxwg)
        lsz = w ? 0 : (int)maxwg;
    int64_t local_bytes = (int64_t)lumen__local_free(ctx, k);
    int64_t kt_fit = (local_bytes - 256) / (2 * (int64_t)sizeof(float) * (p->head_dim + 1));
    int kt = nkeys < ATTN_MAX_KT ? nkeys : ATTN_MAX_KT;
    if (kt > kt_fit)
        kt = (int)kt_fit;
    int tiled = lsz > 0 && kt >= 1 && (!w || w * w <= ATTN_MAX_TILE);

    const char *name = tiled ? "attention_tiled_f32" : "attention_f32";
    if (!tiled && (st = lumen__kernel(ctx, "attention", opts, name, &k)) != LUMEN_OK)
        return st;
    int qo = lumen__off(in[0]), ko = lumen__off(in[1]), vo = lumen__off(in[2]), yo = lumen__off(y);
    float scale = attention_scale(p);
    lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem},
                         {sizeof(int), &qo},
                         {sizeof(cl_mem), &in[1]->mem},
                         {sizeof(int), &ko},
                         {sizeof(cl_mem), &in[2]->mem},
                         {sizeof(int), &vo},
                         {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},
                         {sizeof(int), &H},
                         {sizeof(int), &W},
                         {sizeof(int), &Hk},
                         {sizeof(int), &Wk},
                         {sizeof(int), &Cq},
                         {sizeof(int), &Ck},
                         {sizeof(int), &Cv},
                         {sizeof(int), &p->q_c0},
                         {sizeof(int), &p->k_c0},
                         {sizeof(int), &p->v_c0},
                         {sizeof(int), &p->heads},
                         {sizeof(int), &p->head_dim},
                         {sizeof(int), &p->window},
                         {sizeof(float), &scale},
                         {sizeof(int), &kt},
                         {2 * sizeof(float) * (size_t)kt * (size_t)(p->head_dim + 1), NULL}};
    if ((st = lumen__set_args(ctx, k, name, tiled ? 24 : 22, args)) != LUMEN_OK)
        return st;
    const lumen_shape *shapes[] = {qs, ks, vs};
    double flops = lumen_op_flops(d, 3, shapes, &y->shape);
    /* each element of the used channel slices read or written once; re-reads hit the cache */
    double bytes = 4.0 * p->heads * (double)qs->d[0] * p->head_dim * (2.0 * hw + 2.0 * Hk * Wk);
    if (!tiled) {
        size_t g[3] = {(size_t)hw, (size_t)p->heads, (size_t)qs->d[0]};
        return lumen__launch(ctx, k, 3, g, NULL, "attention", flops, bytes);
    }
    size_t groups = w ? (size_t)(hw / nkeys) : ((size_t)hw + lsz - 1) / (size_t)lsz;
    size_t g[3] = {groups * (size_t)lsz, (size_t)p->heads, (size_t)qs->d[0]};
    size_t l[3] = {(size_t)lsz, 1, 1};
    return lumen__launch(ctx, k, 3, g, l, "attention", flops, bytes);
}

static double attention_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                              const lumen_shape *out)
{
    (void)n_in, (void)out;
    const lumen_attention_params *p = &d->p.attention;
    double keys = p->window ? (double)p->window * p->window : (double)in[1]->d[2] * in[1]->d[3];
    return 4.0 * (double)in[0]->d[0] * p->heads * (double)in[0]->d[2] * in[0]->d[3] * keys *
           p->head_dim;
}

static const lumen_param attention_params[] = {
    {LUMEN__PARAM("heads", attention.heads), .def = 1, .lo = 1, .hi = INT_MAX},
    {LUMEN__PARAM("head_dim", attention.head_dim), .flags = LUMEN_PARAM_REQUIRED, .lo = 1,
     .hi = INT_MAX},
    {LUMEN__PARAM("window", attention.window), .lo = 0, .hi = INT_MAX},
    {LUMEN__PARAM("scale", attention.scale)}, /* 0: 1/sqrt(head_dim) */
    {LUMEN__PARAM("q_c0", attention.q_c0)},
    {LUMEN__PARAM("k_c0", attention.k_c0)},
    {LUMEN__PARAM("v_c0", attention.v_c0)},
    {NULL}};
/* -DHEAD_DIM for each of attention_dims, and the generic kernel */
static const lumen__variant attention_programs[] = {{"attention", ""},
                                                    {"attention", "-DHEAD_DIM=16"},
                                                    {"attention", "-DHEAD_DIM=32"},
                                                    {"attention", "-DHEAD_DIM=64"},
                                                    {NULL}};
static const lumen__variant *const attention_variants[] = {attention_programs, NULL};

const lumen__op_impl lumen__impl_ATTENTION = {3,
                                              3,
                                              attention_shape,
                                              attention_ref,
                                              attention_run,
                                              attention_flops,
                                              attention_params,
                                              attention_variants};
