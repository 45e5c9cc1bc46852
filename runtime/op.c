/*
 * op.c - the operator table and the three entry points every op goes through: shape check,
 * plain-C reference and device run.
 *
 * The table is indexed by lumen_op and assembled from each family's lumen__impl_<OP>; an op
 * whose family leaves a part NULL answers "unsupported" instead of crashing. The static_assert
 * below catches an op added to LUMEN_OP_LIST without thought for the rest.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

_Static_assert(LUMEN_OP_COUNT == 24, "a new op needs an entry in every table: update this count");

static const lumen__op_impl *const impls[LUMEN_OP_COUNT] = {
#define LUMEN_X(name, str) [LUMEN_OP_##name] = &lumen__impl_##name,
    LUMEN_OP_LIST(LUMEN_X)
#undef LUMEN_X
};

static const char *const op_names[] = {
#define LUMEN_X(name, str) str,
    LUMEN_OP_LIST(LUMEN_X)
#undef LUMEN_X
};

static const char *const act_names[] = {
#define LUMEN_X(name, str, a, b) str,
    LUMEN_ACT_LIST(LUMEN_X)
#undef LUMEN_X
};

const char *lumen_op_name(lumen_op op)
{
    return ((int)op >= 0 && op < LUMEN_OP_COUNT) ? op_names[op] : NULL;
}

const char *lumen_act_name(lumen_act act)
{
    return ((int)act >= 0 && act < LUMEN_ACT_COUNT) ? act_names[act] : "?";
}

int lumen_act_from_name(const char *str)
{
    for (int i = 0; i < LUMEN_ACT_COUNT; i++)
        if (!strcmp(act_names[i], str))
            return i;
    return -1;
}

lumen_actdesc lumen_actdesc_default(lumen_act act)
{
    static const float def[][2] = {
#define LUMEN_X(name, str, a, b) {a, b},
        LUMEN_ACT_LIST(LUMEN_X)
#undef LUMEN_X
    };
    lumen_actdesc a = {act, 0, 0};
    if ((int)act >= 0 && act < LUMEN_ACT_COUNT) {
        a.a = def[act][0];
        a.b = def[act][1];
    }
    return a;
}

lumen_opdesc lumen_opdesc_unary(lumen_act act)
{
    lumen_opdesc d = lumen_opdesc_default(LUMEN_OP_UNARY);
    d.p.unary.act = lumen_actdesc_default(act);
    return d;
}

lumen_opdesc lumen_opdesc_conv2d(int stride, int pad, int dil, int groups, lumen_act act)
{
    lumen_opdesc d = lumen_opdesc_default(LUMEN_OP_CONV);
    lumen_conv_params *c = &d.p.conv;
    c->nsp = 2;
    for (int i = 0; i < 3; i++) {
        c->stride[i] = stride;
        c->dil[i] = dil;
        c->pad0[i] = c->pad1[i] = pad;
    }
    c->groups = groups;
    c->act = lumen_actdesc_default(act);
    return d;
}

static const lumen__op_impl *impl_of(const lumen_opdesc *d)
{
    if (!d || (int)d->op < 0 || d->op >= LUMEN_OP_COUNT)
        return NULL;
    return impls[d->op];
}

const lumen__op_impl *lumen__impl(lumen_op op)
{
    return ((int)op >= 0 && op < LUMEN_OP_COUNT) ? impls[op] : NULL;
}

const lumen_param *lumen_op_params(lumen_op op, int *n)
{
    const lumen__op_impl *im = lumen__impl(op);
    *n = 0;
    if (!im || !im->params)
        return NULL;
    while (im->params[*n].name)
        (*n)++;
    return im->params;
}

void lumen_op_arity(lumen_op op, int *min_in, int *max_in)
{
    const lumen__op_impl *im = ((int)op >= 0 && op < LUMEN_OP_COUNT) ? impls[op] : NULL;
    *min_in = im ? im->min_in : 0;
    *max_in = im ? im->max_in : 0;
}

static lumen_status check_arity(const lumen_opdesc *d, const lumen__op_impl *im, int n_in,
                                const void *const *in, char *err)
{
    if (!im || !im->shape)
        return lumen__errf(err, LUMEN_EUNSUPPORTED, "unsupported op %d", d ? (int)d->op : -1);
    if (n_in < im->min_in || n_in > im->max_in)
        return lumen__errf(err, LUMEN_EINVAL, "%s: takes %d..%d inputs, got %d", op_names[d->op],
                           im->min_in, im->max_in, n_in);
    for (int i = 0; i < im->min_in; i++)
        if (!in[i])
            return lumen__errf(err, LUMEN_EINVAL, "%s: input %d is required", op_names[d->op], i);
    return LUMEN_OK;
}

lumen_status lumen_op_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                            lumen_shape *out, char *err)
{
    const lumen__op_impl *im = impl_of(d);
    lumen_status st = check_arity(d, im, n_in, (const void *const *)in, err);
    if (st != LUMEN_OK)
        return st;
    for (int i = 0; i < n_in; i++)
        if (in[i] && lumen_shape_numel(in[i]) < 0)
            return lumen__errf(err, LUMEN_ESHAPE, "%s: input %d has an invalid shape",
                               op_names[d->op], i);
    if ((st = lumen_opdesc_check(d, err)) != LUMEN_OK)
        return st;
    memset(out, 0, sizeof *out);
    st = im->shape(d, n_in, in, out, err);
    if (st == LUMEN_OK && lumen_shape_numel(out) < 0)
        st = lumen__errf(err, LUMEN_ERANGE, "%s: output size overflows", op_names[d->op]);
    return st;
}

lumen_status lumen_op_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                          const float *const *in, float *out, char *err)
{
    lumen_shape os;
    lumen_status st = lumen_op_shape(d, n_in, in_shape, &os, err);
    if (st != LUMEN_OK)
        return st;
    for (int i = 0; i < n_in; i++)
        if ((in_shape[i] == NULL) != (in[i] == NULL))
            return lumen__errf(err, LUMEN_EINVAL,
                               "%s: input %d has data but no shape or the "
                               "reverse",
                               op_names[d->op], i);
    const lumen__op_impl *im = impls[d->op];
    if (!im->ref)
        return lumen__errf(err, LUMEN_EUNSUPPORTED, "%s: no reference implementation",
                           op_names[d->op]);
    return im->ref(d, n_in, in_shape, in, &os, out, err);
}

lumen_status lumen__fp16_exact(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                               char *err)
{
    const char *what = NULL, *unit = "elements";
    int64_t top = 0; /* the largest integer the output (or an index input) can hold */
    (void)n_in;
    switch (d->op) {
    case LUMEN_OP_ARGMAX:
        what = "indices along an axis of", top = in[0]->d[d->p.argmax.axis] - 1;
        break;
    case LUMEN_OP_TOPK:
        if (d->p.topk.indices)
            what = "indices along an axis of", top = in[0]->d[d->p.topk.axis] - 1;
        break;
    case LUMEN_OP_POOL:
        if (d->p.pool.indices)
            what = "flat indices into an input of", top = lumen_shape_numel(in[0]) - 1;
        break;
    case LUMEN_OP_ROI_ALIGN:
        what = "batch indices into a batch of", unit = "images", top = in[0]->d[0] - 1;
        break;
    default:
        break;
    }
    if (what && top > LUMEN_FP16_MAX_INT)
        return lumen__errf(err, LUMEN_EUNSUPPORTED,
                           "%s: %s %lld %s are not exact in fp16 storage (integers up to %d "
                           "are); use fp32",
                           op_names[d->op], what, (long long)top + 1, unit, LUMEN_FP16_MAX_INT);
    return LUMEN_OK;
}

lumen_status lumen_op_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                          const lumen_tensor *const *in, lumen_tensor *y)
{
    const lumen__op_impl *im = impl_of(d);
    const lumen_shape *shapes[LUMEN_MAX_IN];
    char b1[160], b2[160];
    lumen_status st = check_arity(d, im, n_in, (const void *const *)in, ctx->err);
    if (st != LUMEN_OK)
        return st;
    if (!y)
        return lumen__fail(ctx, LUMEN_EINVAL, "%s: output tensor is NULL", op_names[d->op]);
    for (int i = 0; i < n_in; i++) {
        if (in[i] && in[i]->ctx != ctx)
            return lumen__fail(ctx, LUMEN_EINVAL, "%s: input %d belongs to another context",
                               op_names[d->op], i);
        shapes[i] = in[i] ? &in[i]->shape : NULL;
    }
    if (y->ctx != ctx)
        return lumen__fail(ctx, LUMEN_EINVAL, "%s: output belongs to another context",
                           op_names[d->op]);
    lumen_shape os;
    st = lumen_op_shape(d, n_in, shapes, &os, ctx->err);
    if (st != LUMEN_OK)
        return st;
    if (!lumen_shape_equal(&os, &y->shape))
        return lumen__fail(ctx, LUMEN_ESHAPE, "%s: output '%s' has shape %s, expected %s",
                           op_names[d->op], y->name, lumen_shape_format(&y->shape, b1, sizeof b1),
                           lumen_shape_format(&os, b2, sizeof b2));
    if (!im->run)
        return lumen__fail(ctx, LUMEN_EUNSUPPORTED, "%s: no OpenCL implementation",
                           op_names[d->op]);
    for (int i = 0; i < n_in; i++)
        if (in[i] && in[i]->prec != y->prec)
            return lumen__fail(ctx, LUMEN_EINVAL,
                               "%s: input %d '%s' is %s, the output '%s' %s: one op takes one "
                               "precision (lumen_tensor_copy converts)",
                               op_names[d->op], i, in[i]->name, lumen_precision_name(in[i]->prec),
                               y->name, lumen_precision_name(y->prec));
    if (y->prec == LUMEN_FP16 && (st = lumen__fp16_exact(d, n_in, shapes, ctx->err)) != LUMEN_OK)
        return st;
    ctx->err[0] = '\0';
    ctx->launch_prec = y->prec; /* lumen__kernel builds this storage's programs */
    st = im->run(ctx, d, n_in, in, y);
    ctx->launch_prec = LUMEN_FP32;
    return st;
}

double lumen_op_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                      const lumen_shape *out)
{
    const lumen__op_impl *im = impl_of(d);
    if (!im)
        return 0;
    if (im->flops)
        return im->flops(d, n_in, in, out);
    return (double)lumen_shape_numel(out);
}

/* ---- helpers shared by families ---- */

void lumen__strides(const lumen_shape *s, int64_t *st)
{
    int64_t acc = 1;
    for (int i = s->ndim - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= s->d[i];
    }
}

lumen_status lumen__broadcast(const lumen_shape *a, const lumen_shape *b, lumen_shape *out,
                              char *err)
{
    char b1[160], b2[160];
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    out->ndim = n;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return lumen__errf(err, LUMEN_ESHAPE, "shapes %s and %s do not broadcast (axis %d)",
                               lumen_shape_format(a, b1, sizeof b1),
                               lumen_shape_format(b, b2, sizeof b2), i);
        out->d[i] = da == 1 ? db : da;
    }
    return LUMEN_OK;
}

float lumen__act_ref(const lumen_actdesc *a, float xf)
{
    double x = xf;
    switch (a->act) {
    case LUMEN_ACT_NONE:
        return xf;
    case LUMEN_ACT_RELU:
        return (float)lumen__nmax(x, 0.0);
    case LUMEN_ACT_RELU6:
        return (float)lumen__nmin(lumen__nmax(x, 0.0), 6.0);
    case LUMEN_ACT_LEAKY_RELU:
        return (float)(x < 0 ? a->a * x : x);
    case LUMEN_ACT_SIGMOID:
        return (float)(1.0 / (1.0 + exp(-x)));
    case LUMEN_ACT_TANH:
        return (float)tanh(x);
    case LUMEN_ACT_GELU:
        return (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
    case LUMEN_ACT_HARDSWISH:
        return (float)(x * lumen__nmin(lumen__nmax(x + 3.0, 0.0), 6.0) / 6.0);
    case LUMEN_ACT_HARDSIGMOID:
        return (float)lumen__nmin(lumen__nmax(a->a * x + a->b, 0.0), 1.0);
    case LUMEN_ACT_CLIP:
        return (float)lumen__nmin(lumen__nmax(x, a->a), a->b);
    case LUMEN_ACT_EXP:
        return (float)exp(x);
    case LUMEN_ACT_LOG:
        return (float)log(x);
    case LUMEN_ACT_SQRT:
        return (float)sqrt(x);
    case LUMEN_ACT_ERF:
        return (float)erf(x);
    case LUMEN_ACT_NEG:
        return -xf;
    case LUMEN_ACT_ABS:
        return fabsf(xf);
    case LUMEN_ACT_RECIPROCAL:
        return (float)(1.0 / x);
    case LUMEN_ACT_THRESHOLD:
        return x > a->a ? 1.0f : 0.0f;
    case LUMEN_ACT_SCALE:
        return (float)(a->a * x + a->b);
    case LUMEN_ACT_SOFTPLUS: /* max(x, 0) + log1p(exp(-|x|)): no overflow for large x */
        return (float)(fmax(x, 0.0) + log1p(exp(-fabs(x))));
    case LUMEN_ACT_SIN:
        return (float)sin(x);
    case LUMEN_ACT_COS:
        return (float)cos(x);
    case LUMEN_ACT_TAN:
        return (float)tan(x);
    case LUMEN_ACT_ASIN:
        return (float)asin(x);
    case LUMEN_ACT_ACOS:
        return (float)acos(x);
    case LUMEN_ACT_ATAN:
        return (float)atan(x);
    case LUMEN_ACT_SINH:
        return (float)sinh(x);
    case LUMEN_ACT_COSH:
        return (float)cosh(x);
    case LUMEN_ACT_ASINH:
        return (float)asinh(x);
    case LUMEN_ACT_ACOSH:
        return (float)acosh(x);
    case LUMEN_ACT_ATANH:
        return (float)atanh(x);
    case LUMEN_ACT_FLOOR:
        return floorf(xf);
    case LUMEN_ACT_CEIL:
        return ceilf(xf);
    case LUMEN_ACT_ROUND:
        return nearbyintf(xf); /* the default rounding mode: half to even */
    case LUMEN_ACT_SIGN:
        return xf > 0 ? 1.0f : xf < 0 ? -1.0f : xf; /* 0 stays 0, NaN stays NaN */
    case LUMEN_ACT_ISNAN:
        return xf != xf ? 1.0f : 0.0f;
    case LUMEN_ACT_ISINF:
        return (a->a != 0 && xf == INFINITY) || (a->b != 0 && xf == -INFINITY) ? 1.0f : 0.0f;
    default:
        return NAN;
    }
}

lumen_status lumen__act_check(const lumen_actdesc *a, char *err)
{
    if ((int)a->act < 0 || a->act >= LUMEN_ACT_COUNT)
        return lumen__errf(err, LUMEN_EINVAL, "unknown activation %d", (int)a->act);
    if (a->act >= LUMEN_ACT_EPILOGUE_COUNT)
        return lumen__errf(err, LUMEN_EINVAL, "'%s' is a function of the unary op, not an epilogue",
                           lumen_act_name(a->act));
    if (a->act == LUMEN_ACT_CLIP && !(a->a <= a->b))
        return lumen__errf(err, LUMEN_EINVAL, "clip: min %g > max %g", a->a, a->b);
    return LUMEN_OK;
}
