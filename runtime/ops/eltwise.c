/*
 * eltwise.c - UNARY (activations and math) and BINARY (add, sub, mul, div, pow, max, min,
 * comparisons, fmod and mask with numpy broadcasting and a fused activation). Kernels:
 * kernels/eltwise.cl. Comparisons give 1 or 0 in float (lumen's device tensors are float32).
 *
 * Broadcast layout: the output shape is right-aligned into 6 axes; each input gets a stride per
 * output axis, 0 on axes where it has extent 1 (or does not exist).
 */
#include <math.h>
#include <string.h>

#include "../internal.h"

/* ---- UNARY ---- */

static lumen_status unary_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                lumen_shape *out, char *err)
{
    (void)n_in, (void)d, (void)err;
    *out = *in[0];
    return LUMEN_OK;
}

static lumen_status unary_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                              const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)in_shape, (void)err;
    int64_t n = lumen_shape_numel(os);
    for (int64_t i = 0; i < n; i++)
        out[i] = lumen__act_ref(&d->p.unary.act, in[0][i]);
    return LUMEN_OK;
}

static lumen_status unary_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                              const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "eltwise", "", "unary_f32", &k);
    if (st != LUMEN_OK)
        return st;
    const lumen_actdesc *a = &d->p.unary.act;
    int n = (int)lumen_tensor_numel(y), xo = lumen__off(in[0]), yo = lumen__off(y),
        act = (int)a->act;
    lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem},
                         {sizeof(int), &xo},
                         {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},
                         {sizeof(int), &n},
                         {sizeof(int), &act},
                         {sizeof(float), &a->a},
                         {sizeof(float), &a->b}};
    st = lumen__set_args(ctx, k, "unary_f32", 8, args);
    if (st != LUMEN_OK)
        return st;
    size_t g = ((size_t)n + 7) / 8;
    return lumen__launch(ctx, k, 1, &g, NULL, lumen_act_name(a->act), n, 8.0 * n);
}

/* the unary op also takes the math functions no epilogue does (LUMEN_PARAM_MATH) */
static const lumen_param unary_params[] = {
    {LUMEN__PARAM("act", unary.act), .flags = LUMEN_PARAM_MATH},
    {LUMEN__PARAM("act_a", unary.act.a), .flags = LUMEN_PARAM_KEEP},
    {LUMEN__PARAM("act_b", unary.act.b), .flags = LUMEN_PARAM_KEEP},
    {NULL}};
static const lumen__variant eltwise_programs[] = {{"eltwise", ""}, {NULL}};
static const lumen__variant *const eltwise_variants[] = {eltwise_programs, NULL};

const lumen__op_impl lumen__impl_UNARY = {1,         1,    unary_shape,  unary_ref,
                                          unary_run, NULL, unary_params, eltwise_variants};

/* ---- BINARY ---- */

static lumen_status binary_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                 lumen_shape *out, char *err)
{
    (void)n_in, (void)d;
    return lumen__broadcast(in[0], in[1], out, err);
}

/* Strides of input s for each of the 6 right-aligned axes of output o; 0 where broadcast. */
static void bcast_strides(const lumen_shape *s, const lumen_shape *o, int64_t st6[6])
{
    int64_t st[LUMEN_MAX_DIMS];
    lumen__strides(s, st);
    for (int i = 0; i < 6; i++)
        st6[i] = 0;
    for (int i = 0; i < s->ndim; i++) {
        int oi = o->ndim - s->ndim + i; /* output axis */
        st6[6 - o->ndim + oi] = s->d[i] == 1 ? 0 : st[i];
    }
}

static void out6(const lumen_shape *o, int64_t os[6])
{
    for (int i = 0; i < 6; i++)
        os[i] = 1;
    for (int i = 0; i < o->ndim; i++)
        os[6 - o->ndim + i] = o->d[i];
}

static float binop_ref(int kind, float u, float v)
{
    switch (kind) {
    case LUMEN_BIN_ADD:
        return u + v;
    case LUMEN_BIN_SUB:
        return u - v;
    case LUMEN_BIN_MUL:
        return u * v;
    case LUMEN_BIN_DIV:
        return u / v;
    case LUMEN_BIN_POW:
        return (float)pow(u, v);
    case LUMEN_BIN_MAX:
        return (float)lumen__nmax(u, v);
    case LUMEN_BIN_MIN:
        return (float)lumen__nmin(u, v);
    case LUMEN_BIN_GT:
        return u > v;
    case LUMEN_BIN_GE:
        return u >= v;
    case LUMEN_BIN_LT:
        return u < v;
    case LUMEN_BIN_LE:
        return u <= v;
    case LUMEN_BIN_EQ:
        return u == v;
    case LUMEN_BIN_NE:
        return u != v;
    case LUMEN_BIN_FMOD:
        return fmodf(u, v);
    default:
        return v != 0 ? u : 0.0f;
    }
}

static lumen_status binary_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                               const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)err;
    int64_t o6[6], a6[6], b6[6];
    out6(os, o6);
    bcast_strides(in_shape[0], os, a6);
    bcast_strides(in_shape[1], os, b6);
    int64_t i = 0;
    for (int64_t c0 = 0; c0 < o6[0]; c0++)
        for (int64_t c1 = 0; c1 < o6[1]; c1++)
            for (int64_t c2 = 0; c2 < o6[2]; c2++)
                for (int64_t c3 = 0; c3 < o6[3]; c3++)
                    for (int64_t c4 = 0; c4 < o6[4]; c4++)
                        for (int64_t c5 = 0; c5 < o6[5]; c5++, i++) {
                            int64_t ia = c0 * a6[0] + c1 * a6[1] + c2 * a6[2] + c3 * a6[3] +
                                         c4 * a6[4] + c5 * a6[5];
                            int64_t ib = c0 * b6[0] + c1 * b6[1] + c2 * b6[2] + c3 * b6[3] +
                                         c4 * b6[4] + c5 * b6[5];
                            float v = binop_ref(d->p.binary.kind, in[0][ia], in[1][ib]);
                            out[i] = lumen__act_ref(&d->p.binary.act, v);
                        }
    return LUMEN_OK;
}

/*
 * Collapses the 6 right-aligned axes to as few as possible: axes of extent 1 go, and neighbours
 * merge when, for both inputs, the outer stride is the inner stride times the inner extent (both
 * contiguous, or both broadcast). [1,16,256,256] * [1,16,1,1] becomes [16, 65536] with strides
 * a (65536, 1), b (1, 0). Returns the number of axes left (outermost first in e/sa/sb).
 */
static int bcast_collapse(const int64_t o6[6], const int64_t a6[6], const int64_t b6[6],
                          int64_t e[6], int64_t sa[6], int64_t sb[6])
{
    int n = 0; /* built innermost first, reversed at the end */
    for (int i = 5; i >= 0; i--) {
        if (o6[i] == 1)
            continue;
        if (n > 0 && a6[i] == sa[n - 1] * e[n - 1] && b6[i] == sb[n - 1] * e[n - 1]) {
            e[n - 1] *= o6[i];
            continue;
        }
        e[n] = o6[i];
        sa[n] = a6[i];
        sb[n] = b6[i];
        n++;
    }
    for (int i = 0; i < n / 2; i++) {
        int64_t t;
        t = e[i], e[i] = e[n - 1 - i], e[n - 1 - i] = t;
        t = sa[i], sa[i] = sa[n - 1 - i], sa[n - 1 - i] = t;
        t = sb[i], sb[i] = sb[n - 1 - i], sb[n - 1 - i] = t;
    }
    return n;
}

static lumen_status binary_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                               const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    const lumen_binary_params *p = &d->p.binary;
    int n = (int)lumen_tensor_numel(y), ao = lumen__off(in[0]), bo = lumen__off(in[1]),
        yo = lumen__off(y), kind = p->kind, act = (int)p->act.act;
    int64_t o6[6], a6[6], b6[6], e[6], sa[6], sb[6];
    out6(&y->shape, o6);
    bcast_strides(&in[0]->shape, &y->shape, a6);
    bcast_strides(&in[1]->shape, &y->shape, b6);
    int nd = bcast_collapse(o6, a6, b6, e, sa, sb);
    /* same: both contiguous; 2d: at most two axes left, indexed by a 2-d grid (no division);
     * bcast: the general 6-axis kernel */
    int same = nd <= 1 && (nd == 0 || (sa[0] == 1 && sb[0] == 1));
    int vec2d = !same && nd <= 2 && e[nd - 1] % 8 == 0 && (sa[nd - 1] == 0 || sa[nd - 1] == 1) &&
                (sb[nd - 1] == 0 || sb[nd - 1] == 1);
    const char *name = same      ? "binary_same_f32"
                       : vec2d   ? "binary_2d8_f32"
                       : nd <= 2 ? "binary_2d_f32"
                                 : "binary_bcast_f32";
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "eltwise", "", name, &k);
    if (st != LUMEN_OK)
        return st;
    lumen__arg args[14] = {{sizeof(cl_mem), &in[0]->mem}, {sizeof(int), &ao},
                           {sizeof(cl_mem), &in[1]->mem}, {sizeof(int), &bo},
                           {sizeof(cl_mem), &y->mem},     {sizeof(int), &yo}};
    int na = 6;
    cl_int8 os = {{0}}, as = {{0}}, bs = {{0}};
    cl_int4 st2 = {{0}};
    size_t g[2] = {(size_t)n, 1};
    if (same) {
        g[0] = ((size_t)n + 7) / 8;
        args[na++] = (lumen__arg){sizeof(int), &n};
    } else if (nd <= 2) {
        /* (outer, inner) with strides (a outer, a inner, b outer, b inner) */
        int64_t inner = e[nd - 1], outer = nd == 2 ? e[0] : 1;
        st2.s[0] = nd == 2 ? (cl_int)sa[0] : 0;
        st2.s[1] = (cl_int)sa[nd - 1];
        st2.s[2] = nd == 2 ? (cl_int)sb[0] : 0;
        st2.s[3] = (cl_int)sb[nd - 1];
        g[0] = (size_t)(vec2d ? inner / 8 : inner);
        g[1] = (size_t)outer;
        args[na++] = (lumen__arg){sizeof st2, &st2};
    } else {
        for (int i = 0; i < 6; i++) {
            os.s[i] = (cl_int)o6[i];
            as.s[i] = (cl_int)a6[i];
            bs.s[i] = (cl_int)b6[i];
        }
        args[na++] = (lumen__arg){sizeof(int), &n};
        args[na++] = (lumen__arg){sizeof os, &os};
        args[na++] = (lumen__arg){sizeof as, &as};
        args[na++] = (lumen__arg){sizeof bs, &bs};
    }
    args[na++] = (lumen__arg){sizeof(int), &kind};
    args[na++] = (lumen__arg){sizeof(int), &act};
    args[na++] = (lumen__arg){sizeof(float), &p->act.a};
    args[na++] = (lumen__arg){sizeof(float), &p->act.b};
    st = lumen__set_args(ctx, k, name, na, args);
    if (st != LUMEN_OK)
        return st;
    return lumen__launch(ctx, k, nd <= 2 && !same ? 2 : 1, g, NULL, "binary", n, 12.0 * n);
}

static const char *const binary_kinds[] = {"add", "sub", "mul", "div", "pow", "max",  "min",  "gt",
                                           "ge",  "lt",  "le",  "eq",  "ne",  "fmod", "mask", NULL};
_Static_assert(sizeof binary_kinds / sizeof binary_kinds[0] == LUMEN_BIN_COUNT + 1,
               "a name per LUMEN_BIN_* kind, in order");
static const lumen_param binary_params[] = {
    {LUMEN__PARAM("kind", binary.kind), .names = binary_kinds},
    LUMEN__ACT_PARAMS(binary.act),
    {NULL}};

const lumen__op_impl lumen__impl_BINARY = {2,          2,    binary_shape,  binary_ref,
                                           binary_run, NULL, binary_params, eltwise_variants};
