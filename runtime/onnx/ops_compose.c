/*
 * ops_compose.c - mappers of ONNX ops that lumen computes as short chains of its existing
 * device ops (unary activations, broadcasting binaries, reductions, argmax, layernorm) instead
 * of kernels of their own: the activations PRelu, Elu, Selu, Celu, Softplus, Softsign and
 * ThresholdedRelu, variadic Mean, the reductions L1, L2, SumSquare, LogSum, LogSumExp and Min,
 * ArgMin (also with select_last_index), Hardmax (argmax compared with an index ramp), Trilu,
 * Where and Shrink (the mask kind of the binary op), MeanVarianceNormalization, and the Mean /
 * InvStdDev outputs of LayerNormalization, LRN (a 1x1 convolution of x^2 with a band of ones). Each
 * chain is written as the op's definition reads; LogSumExp subtracts the maximum first so that it
 * does not overflow.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "onnx/map.h"

/* Unary activation act (parameters a, b) on x; binary kind on x, y; a scalar constant. Each
 * returns the value id or -1 with the message set; a -1 input makes the next op fail too. */
static int un(ox_ctx *c, ox_node *n, const char *sfx, lumen_act act, float a, float b, int x)
{
    lumen_opdesc d = lumen_opdesc_unary(act);
    d.p.unary.act.a = a;
    d.p.unary.act.b = b;
    return x < 0 ? -2 : lumen__ox_op(c, n, sfx, &d, 1, &x);
}

static int bin(ox_ctx *c, ox_node *n, const char *sfx, int kind, int x, int y)
{
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    d.p.binary.kind = kind;
    int in[2] = {x, y};
    return x < 0 || y < 0 ? -2 : lumen__ox_op(c, n, sfx, &d, 2, in);
}

static int scalar(ox_ctx *c, ox_node *n, const char *sfx, float v)
{
    lumen_shape s = {0, {0}};
    return lumen__ox_const(c, n, sfx, &s, &v);
}

/* Output 0 becomes y (or the failure is reported). */
static lumen_status done(ox_ctx *c, ox_node *n, int y)
{
    return lumen__ox_set_gv(c, n, 0, y < 0 ? -1 : y);
}

/* The activations, from max(x, 0), min(x, 0), exp and the affine 'scale' (a*x + b). */
static lumen_status map_act(ox_ctx *c, ox_node *n)
{
    const char *op = n->p->op_type;
    int x = lumen__ox_in(c, n, 0), y;
    if (!strcmp(op, "Softplus")) /* log(exp(x) + 1) */
        y = un(c, n, "", LUMEN_ACT_LOG, 0, 0,
               un(c, n, ".p1", LUMEN_ACT_SCALE, 1, 1, un(c, n, ".exp", LUMEN_ACT_EXP, 0, 0, x)));
    else if (!strcmp(op, "Softsign")) /* x / (|x| + 1) */
        y = bin(c, n, "", LUMEN_BIN_DIV, x,
                un(c, n, ".p1", LUMEN_ACT_SCALE, 1, 1, un(c, n, ".abs", LUMEN_ACT_ABS, 0, 0, x)));
    else if (!strcmp(op, "ThresholdedRelu")) /* x * (x > alpha) */
        y = bin(c, n, "", LUMEN_BIN_MUL, x,
                un(c, n, ".gt", LUMEN_ACT_THRESHOLD, lumen__ox_attr_float(n, "alpha", 1.0f), 0, x));
    else {
        int zero = scalar(c, n, ".zero", 0.0f);
        int pos = bin(c, n, ".pos", LUMEN_BIN_MAX, x, zero);
        int neg = bin(c, n, ".neg", LUMEN_BIN_MIN, x, zero);
        if (!strcmp(op, "PRelu")) { /* max(x, 0) + slope * min(x, 0) */
            int sl = lumen__ox_in(c, n, 1);
            const lumen_shape *xs = lumen__ox_in_shape(c, n, 0), *ss = lumen__ox_in_shape(c, n, 1);
            if (c->opset < 7 && ss->ndim == 1 && xs->ndim > 2 && ss->d[0] == xs->d[1]) {
                /* opset 6: a per-channel slope [C] lines up with axis 1 */
                lumen_shape t = {xs->ndim - 1, {ss->d[0]}};
                for (int i = 1; i < t.ndim; i++)
                    t.d[i] = 1;
                sl = lumen__ox_reshape(c, n, ".c", sl, &t);
            }
            y = bin(c, n, "", LUMEN_BIN_ADD, pos, bin(c, n, ".slope", LUMEN_BIN_MUL, neg, sl));
        } else if (!strcmp(op, "Celu")) { /* max(x, 0) + min(alpha (exp(x / alpha) - 1), 0) */
            float a = lumen__ox_attr_float(n, "alpha", 1.0f);
            if (a == 0)
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "alpha 0");
            int e = un(c, n, ".exp", LUMEN_ACT_EXP, 0, 0,
                       un(c, n, ".div", LUMEN_ACT_SCALE, 1 / a, 0, x));
            y = bin(c, n, "", LUMEN_BIN_ADD, pos,
                    bin(c, n, ".min", LUMEN_BIN_MIN, un(c, n, ".em1", LUMEN_ACT_SCALE, a, -a, e),
                        zero));
        } else { /* Elu, Selu: [gamma *] (max(x, 0) + alpha (exp(min(x, 0)) - 1)) */
            int selu = !strcmp(op, "Selu");
            float a = lumen__ox_attr_float(n, "alpha", selu ? 1.67326319217681884765625f : 1.0f);
            float g = selu ? lumen__ox_attr_float(n, "gamma", 1.05070102214813232421875f) : 1.0f;
            int e = un(c, n, ".exp", LUMEN_ACT_EXP, 0, 0, neg);
            int s = bin(c, n, selu ? ".sum" : "", LUMEN_BIN_ADD, pos,
                        un(c, n, ".em1", LUMEN_ACT_SCALE, a, -a, e));
            y = selu ? un(c, n, "", LUMEN_ACT_SCALE, g, 0, s) : s;
        }
    }
    return done(c, n, y);
}

/* Mean of the inputs (numpy broadcasting): their sum over their count. */
static lumen_status map_mean(ox_ctx *c, ox_node *n)
{
    int acc = lumen__ox_in(c, n, 0);
    for (int i = 1; i < n->n_in; i++) {
        char sfx[16];
        snprintf(sfx, sizeof sfx, ".%d", i);
        acc = bin(c, n, sfx, LUMEN_BIN_ADD, acc, lumen__ox_in(c, n, i));
    }
    if (n->n_in == 1)
        return lumen__ox_alias(c, n, 0, n->in[0]);
    return done(c, n, un(c, n, "", LUMEN_ACT_SCALE, 1.0f / (float)n->n_in, 0, acc));
}

/* The reduced-axes mask of a Reduce* node on a rank-r input (axes attribute; all axes when
 * absent); 0 with *noop set for noop_with_empty_axes. */
static lumen_status reduce_axes(ox_ctx *c, ox_node *n, int r, unsigned *mask)
{
    int64_t ax[LUMEN_MAX_DIMS];
    int na = lumen__ox_attr_ints(n, "axes", ax, LUMEN_MAX_DIMS);
    if (na == -2)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "too many axes");
    *mask = 0;
    for (int i = 0; i < na; i++) {
        int a;
        lumen_status st = lumen__ox_axis(c, n, ax[i], r, &a);
        if (st != LUMEN_OK)
            return st;
        *mask |= 1u << a;
    }
    if (na <= 0 && !lumen__ox_attr_int(n, "noop_with_empty_axes", 0))
        *mask = (1u << r) - 1;
    return LUMEN_OK;
}

static int reduce(ox_ctx *c, ox_node *n, const char *sfx, int kind, unsigned mask, int x)
{
    lumen_opdesc d = {.op = LUMEN_OP_REDUCE};
    d.p.reduce.kind = kind;
    d.p.reduce.axes = mask;
    d.p.reduce.keepdims = 1;
    return x < 0 ? -2 : lumen__ox_op(c, n, sfx, &d, 1, &x);
}

/* ReduceL1, L2, SumSquare, LogSum, LogSumExp, Min: computed with keepdims, then reshaped when
 * the node drops the reduced axes. */
static lumen_status map_reduce_more(ox_ctx *c, ox_node *n)
{
    const char *op = n->p->op_type + 6; /* after "Reduce" */
    const lumen_shape *xs = lumen__ox_in_shape(c, n, 0);
    unsigned mask = 0;
    lumen_status st = reduce_axes(c, n, xs->ndim, &mask);
    if (st != LUMEN_OK)
        return st;
    if (!mask)
        return lumen__ox_alias(c, n, 0, n->in[0]);
    int x = lumen__ox_in(c, n, 0), y;
    if (!strcmp(op, "L1"))
        y = reduce(c, n, ".sum", LUMEN_REDUCE_SUM, mask, un(c, n, ".abs", LUMEN_ACT_ABS, 0, 0, x));
    else if (!strcmp(op, "L2") || !strcmp(op, "SumSquare")) {
        y = reduce(c, n, ".sum", LUMEN_REDUCE_SUM, mask, bin(c, n, ".sq", LUMEN_BIN_MUL, x, x));
        if (!strcmp(op, "L2"))
            y = un(c, n, ".sqrt", LUMEN_ACT_SQRT, 0, 0, y);
    } else if (!strcmp(op, "LogSum"))
        y = un(c, n, ".log", LUMEN_ACT_LOG, 0, 0, reduce(c, n, ".sum", LUMEN_REDUCE_SUM, mask, x));
    else if (!strcmp(op, "LogSumExp")) { /* m + log(sum(exp(x - m))) */
        int m = reduce(c, n, ".max", LUMEN_REDUCE_MAX, mask, x);
        int e = un(c, n, ".exp", LUMEN_ACT_EXP, 0, 0, bin(c, n, ".sub", LUMEN_BIN_SUB, x, m));
        y = bin(
            c, n, ".add", LUMEN_BIN_ADD, m,
            un(c, n, ".log", LUMEN_ACT_LOG, 0, 0, reduce(c, n, ".sum", LUMEN_REDUCE_SUM, mask, e)));
    } else /* Min: -max(-x) */
        y = un(
            c, n, ".neg2", LUMEN_ACT_NEG, 0, 0,
            reduce(c, n, ".max", LUMEN_REDUCE_MAX, mask, un(c, n, ".neg", LUMEN_ACT_NEG, 0, 0, x)));
    if (y >= 0 && !lumen__ox_attr_int(n, "keepdims", 1)) {
        lumen_shape o = {0, {0}};
        for (int i = 0; i < xs->ndim; i++)
            if (!(mask >> i & 1))
                o.d[o.ndim++] = xs->d[i];
        y = lumen__ox_reshape(c, n, "", y, &o);
    }
    return done(c, n, y);
}

/* Shrink: x + bias below -lambd, x - bias above lambd, else 0; each side is a mask of the
 * shifted x, so the zero band is exactly 0. */
static lumen_status map_shrink(ox_ctx *c, ox_node *n)
{
    float bias = lumen__ox_attr_float(n, "bias", 0.0f), l = lumen__ox_attr_float(n, "lambd", 0.5f);
    int x = lumen__ox_in(c, n, 0);
    int lo = bin(c, n, ".lo", LUMEN_BIN_MASK, un(c, n, ".plus", LUMEN_ACT_SCALE, 1, bias, x),
                 bin(c, n, ".lt", LUMEN_BIN_LT, x, scalar(c, n, ".nl", -l)));
    int hi = bin(c, n, ".hi", LUMEN_BIN_MASK, un(c, n, ".minus", LUMEN_ACT_SCALE, 1, -bias, x),
                 bin(c, n, ".gt", LUMEN_BIN_GT, x, scalar(c, n, ".l", l)));
    return done(c, n, bin(c, n, "", LUMEN_BIN_ADD, lo, hi));
}

/* MeanVarianceNormalization: (x - mean) / (sqrt(mean((x - mean)^2)) + 1e-9) over 'axes'
 * (default N, H, W), as the op's function body reads. */
static lumen_status map_mvn(ox_ctx *c, ox_node *n)
{
    const lumen_shape *xs = lumen__ox_in_shape(c, n, 0);
    int64_t ax[LUMEN_MAX_DIMS] = {0, 2, 3};
    int na = lumen__ox_attr_ints(n, "axes", ax, LUMEN_MAX_DIMS);
    if (na == -2)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "too many axes");
    if (na == -1)
        na = 3;
    unsigned mask = 0;
    for (int i = 0; i < na; i++) {
        int a;
        lumen_status st = lumen__ox_axis(c, n, ax[i], xs->ndim, &a);
        if (st != LUMEN_OK)
            return st;
        mask |= 1u << a;
    }
    int x = lumen__ox_in(c, n, 0);
    int d = bin(c, n, ".d", LUMEN_BIN_SUB, x, reduce(c, n, ".mean", LUMEN_REDUCE_MEAN, mask, x));
    int var = reduce(c, n, ".var", LUMEN_REDUCE_MEAN, mask, bin(c, n, ".d2", LUMEN_BIN_MUL, d, d));
    int den =
        un(c, n, ".eps", LUMEN_ACT_SCALE, 1, 1e-9f, un(c, n, ".std", LUMEN_ACT_SQRT, 0, 0, var));
    return done(c, n, bin(c, n, "", LUMEN_BIN_DIV, d, den));
}

/* ArgMin: the argmax of -x (the first minimum is the first maximum of -x). */
static lumen_status map_argmin(ox_ctx *c, ox_node *n)
{
    return lumen__ox_argmax(c, n, un(c, n, ".neg", LUMEN_ACT_NEG, 0, 0, lumen__ox_in(c, n, 0)));
}

/* Hardmax: 1 at the first maximum along the axis, else 0, as argmax compared with 0..K-1 (a
 * constant) on [outer, K, inner]. Before opset 13 the axes from 'axis' on are one axis. */
static lumen_status map_hardmax(ox_ctx *c, ox_node *n)
{
    const lumen_shape *xs = lumen__ox_in_shape(c, n, 0);
    int axis;
    lumen_status st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", c->opset < 13 ? 1 : -1),
                                     xs->ndim, &axis);
    if (st != LUMEN_OK)
        return st;
    int64_t outer = 1, k = 1, inner = 1;
    for (int i = 0; i < xs->ndim; i++) {
        if (i < axis)
            outer *= xs->d[i];
        else if (i == axis || c->opset < 13)
            k *= xs->d[i];
        else
            inner *= xs->d[i];
    }
    if (k < 1 || k > (1 << 24))
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "axis of %lld elements", (long long)k);
    lumen_shape s3 = {3, {outer, k, inner}}, ks = {3, {1, k, 1}};
    float *iota = malloc((size_t)k * sizeof(float));
    if (!iota)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    for (int64_t i = 0; i < k; i++)
        iota[i] = (float)i;
    int ix = lumen__ox_const(c, n, ".iota", &ks, iota);
    free(iota);
    lumen__graph_mark_index(c->g, ix); /* compared with the argmax exactly */
    lumen_opdesc d = {.op = LUMEN_OP_ARGMAX};
    d.p.argmax.axis = 1;
    d.p.argmax.keepdims = 1;
    int x = lumen__ox_reshape(c, n, ".3d", lumen__ox_in(c, n, 0), &s3);
    int am = x < 0 || ix < 0 ? -2 : lumen__ox_op(c, n, ".argmax", &d, 1, &x);
    int y = bin(c, n, ".eq", LUMEN_BIN_EQ, am, ix);
    return done(c, n, y < 0 ? -1 : lumen__ox_reshape(c, n, "", y, xs));
}

/* Trilu: x where the element is on the kept side of diagonal k of the last two axes, else 0
 * (the mask is a constant: shapes and k are known at load time). */
static lumen_status map_trilu(ox_ctx *c, ox_node *n)
{
    const lumen_shape *xs = lumen__ox_in_shape(c, n, 0);
    int64_t k = 0;
    int cnt = 0;
    if (n->n_in > 1 && n->in[1]) {
        lumen_status st = lumen__ox_const_ints(c, n, 1, &k, 1, &cnt);
        if (st != LUMEN_OK)
            return st;
        if (cnt != 1)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "k has %d values", cnt);
    }
    if (xs->ndim < 2)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "input of rank %d (at least 2)", xs->ndim);
    int upper = lumen__ox_attr_int(n, "upper", 1) != 0;
    int64_t rows = xs->d[xs->ndim - 2], cols = xs->d[xs->ndim - 1];
    lumen_shape ms = {2, {rows, cols}};
    float one[1];
    float *m = rows * cols > 0 ? malloc((size_t)(rows * cols) * sizeof(float)) : one;
    if (!m)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) /* j - i compared with k, without overflow */
            m[i * cols + j] = upper ? (j - i >= k) : (j - i <= k);
    int mask = lumen__ox_const(c, n, ".mask", &ms, m);
    if (m != one)
        free(m);
    return done(c, n, bin(c, n, "", LUMEN_BIN_MASK, lumen__ox_in(c, n, 0), mask));
}

/* Where on run-time values: mask(x, c) + mask(y, c == 0), each term exactly x, y or 0, so a
 * NaN or inf on the side not taken does not leak. The condition is an ONNX bool: 0 or 1 in a
 * float tensor when computed at run time (comparisons, IsNaN, IsInf). */
static lumen_status map_where(ox_ctx *c, ox_node *n)
{
    ox_val *cv = n->in[0];
    int cond = cv->host || !cv->is_int ? lumen__ox_in(c, n, 0) : cv->gv;
    if (cond < 0 && cond != -2)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "condition '%s' has no value", cv->name);
    int not = bin(c, n, ".not", LUMEN_BIN_EQ, cond, scalar(c, n, ".zero", 0.0f));
    int a = bin(c, n, ".x", LUMEN_BIN_MASK, lumen__ox_in(c, n, 1), cond);
    int b = bin(c, n, ".y", LUMEN_BIN_MASK, lumen__ox_in(c, n, 2), not );
    return done(c, n, bin(c, n, "", LUMEN_BIN_ADD, a, b));
}

/* LayerNormalization: the op itself, and its Mean and InvStdDev outputs (over the normalised
 * axes, kept as extent 1) when the model reads them. */
static lumen_status map_layernorm(ox_ctx *c, ox_node *n)
{
    lumen_status st;
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", -1), x->ndim, &axis)) != LUMEN_OK)
        return st;
    float eps = lumen__ox_attr_float(n, "epsilon", 1e-5f);
    lumen_opdesc d = {.op = LUMEN_OP_LAYERNORM};
    d.p.axes.axis = axis;
    d.p.axes.axis_end = x->ndim;
    d.p.axes.eps = eps;
    int xi = lumen__ox_in(c, n, 0);
    int in[3] = {xi, lumen__ox_in(c, n, 1), lumen__ox_in(c, n, 2)};
    if ((st = lumen__ox_emit(c, n, &d, 3, in)) != LUMEN_OK)
        return st;
    ox_val *mv = lumen__ox_out(c, n, 1), *iv = lumen__ox_out(c, n, 2);
    if ((!mv || !mv->uses) && (!iv || !iv->uses))
        return LUMEN_OK;
    unsigned mask = ((1u << x->ndim) - 1) & ~((1u << axis) - 1);
    int mean = reduce(c, n, ".mean", LUMEN_REDUCE_MEAN, mask, xi);
    int dv = bin(c, n, ".d", LUMEN_BIN_SUB, xi, mean);
    int var =
        reduce(c, n, ".var", LUMEN_REDUCE_MEAN, mask, bin(c, n, ".d2", LUMEN_BIN_MUL, dv, dv));
    int inv =
        un(c, n, ".inv", LUMEN_ACT_RECIPROCAL, 0, 0,
           un(c, n, ".std", LUMEN_ACT_SQRT, 0, 0, un(c, n, ".eps", LUMEN_ACT_SCALE, 1, eps, var)));
    if (mean < 0 || inv < 0)
        return c->st;
    if ((st = lumen__ox_set_gv(c, n, 1, mean)) != LUMEN_OK)
        return st;
    return lumen__ox_set_gv(c, n, 2, inv);
}

/* LRN: y = x / (bias + alpha/size * S)^beta, S the sum of x^2 over the channels
 * c - floor((size-1)/2) .. c + ceil((size-1)/2); S is a 1x1 convolution of x^2 with a band of
 * ones as its weight. */
static lumen_status map_lrn(ox_ctx *c, ox_node *n)
{
    const lumen_shape *xs = lumen__ox_in_shape(c, n, 0);
    int64_t size = lumen__ox_attr_int(n, "size", 0);
    float alpha = lumen__ox_attr_float(n, "alpha", 1e-4f),
          beta = lumen__ox_attr_float(n, "beta", 0.75f),
          bias = lumen__ox_attr_float(n, "bias", 1.0f);
    if (xs->ndim < 3 || xs->ndim > 5)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "input of rank %d (3 to 5)", xs->ndim);
    if (size < 1 || size > OX_INT_MAX || !isfinite(alpha) || !isfinite(beta) || !isfinite(bias))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "size %lld, alpha %g, beta %g, bias %g",
                              (long long)size, alpha, beta, bias);
    int64_t C = xs->d[1], lo = (size - 1) / 2, hi = size - 1 - lo;
    if (C > 4096)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "%lld channels (at most 4096)",
                              (long long)C);
    lumen_shape ws = {xs->ndim, {C, C, 1, 1, 1}};
    float *w = calloc((size_t)(C * C), sizeof *w);
    if (!w)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    for (int64_t o = 0; o < C; o++)
        for (int64_t i = o - lo; i <= o + hi; i++)
            if (i >= 0 && i < C)
                w[o * C + i] = 1.0f;
    int wv = lumen__ox_const(c, n, ".band", &ws, w);
    free(w);
    int x = lumen__ox_in(c, n, 0);
    lumen_opdesc conv = {.op = LUMEN_OP_CONV};
    conv.p.conv.nsp = xs->ndim - 2;
    conv.p.conv.groups = 1;
    for (int i = 0; i < 3; i++)
        conv.p.conv.stride[i] = conv.p.conv.dil[i] = 1;
    int in[2] = {bin(c, n, ".sq", LUMEN_BIN_MUL, x, x), wv};
    int sum = in[0] < 0 || wv < 0 ? -2 : lumen__ox_op(c, n, ".sum", &conv, 2, in);
    int den = un(c, n, ".den", LUMEN_ACT_SCALE, alpha / (float)size, bias, sum);
    den = bin(c, n, ".pow", LUMEN_BIN_POW, den, scalar(c, n, ".beta", beta));
    return done(c, n, bin(c, n, "", LUMEN_BIN_DIV, x, den));
}

/* ---- the table ---- */

const ox_op lumen__ox_ops_compose[] = {
    {"PRelu", 6, 17, 2, map_act},
    {"Elu", 6, 17, 1, map_act},
    {"Selu", 6, 17, 1, map_act},
    {"Celu", 12, 17, 1, map_act},
    {"Softplus", 1, 17, 1, map_act},
    {"Softsign", 1, 17, 1, map_act},
    {"ThresholdedRelu", 10, 17, 1, map_act},
    {"Mean", 6, 17, 1, map_mean},
    {"Shrink", 9, 17, 1, map_shrink},
    {"MeanVarianceNormalization", 9, 17, 1, map_mvn},
    {"ReduceL1", 1, 17, 1, map_reduce_more},
    {"ReduceL2", 1, 17, 1, map_reduce_more},
    {"ReduceSumSquare", 1, 17, 1, map_reduce_more},
    {"ReduceLogSum", 1, 17, 1, map_reduce_more},
    {"ReduceLogSumExp", 1, 17, 1, map_reduce_more},
    {"ReduceMin", 1, 17, 1, map_reduce_more},
    {"ArgMin", 1, 17, 1, map_argmin},
    {"Hardmax", 1, 17, 1, map_hardmax},
    {"Trilu", 14, 17, 1, map_trilu},
    {"Where", 9, 17, 3, map_where},
    {"LayerNormalization", 17, 17, 2, map_layernorm},
    {"LRN", 1, 17, 1, map_lrn},
    {NULL, 0, 0, 0, NULL},
};
