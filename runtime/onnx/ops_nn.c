/*
 * ops_nn.c - mappers of the compute ops: convolutions, matrix products, element-wise,
 * normalisation, reductions and pooling. Inputs that are host values (initializers, folded
 * constants) become float graph constants when a device op reads them (lumen__ox_gv). Every
 * rejection names the node and the attribute or input.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/map.h"

/* ---- convolutions ---- */

lumen_status lumen__ox_conv_desc(ox_ctx *c, ox_node *n, const lumen_shape *x, const lumen_shape *w,
                                 lumen_opdesc *d)
{
    lumen_status st;
    int nsp;
    if ((st = lumen__ox_spatial_rank(c, n, x, &nsp)) != LUMEN_OK)
        return st;
    if (w->ndim != x->ndim)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "weight rank %d differs from input rank %d",
                              w->ndim, x->ndim);
    ox_spatial s;
    if ((st = lumen__ox_spatial(c, n, nsp, w->d + 2, &s)) != LUMEN_OK)
        return st;
    int64_t group = lumen__ox_attr_int(n, "group", 1);
    if (group < 1 || group > OX_INT_MAX)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "group %lld must be > 0", (long long)group);
    int tr = !strcmp(n->p->op_type, "ConvTranspose");
    *d = (lumen_opdesc){.op = tr ? LUMEN_OP_CONV_TRANSPOSE : LUMEN_OP_CONV};
    lumen_conv_params *p = &d->p.conv;
    p->nsp = nsp;
    p->groups = (int)group;
    if (!tr) {
        lumen__ox_auto_pad(&s, x);
    } else {
        int64_t op[3] = {0, 0, 0}, os[5];
        int cnt = lumen__ox_attr_ints(n, "output_padding", op, 3);
        if (cnt == -2 || (cnt >= 0 && cnt != nsp))
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "output_padding has %d entries", cnt);
        int nos = lumen__ox_attr_ints(n, "output_shape", os, 5);
        if (nos == -2 || (nos >= 0 && nos != nsp && nos != nsp + 2))
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "output_shape has %d entries", nos);
        for (int i = 0; i < nsp; i++) {
            if (op[i] < 0 || op[i] >= (s.stride[i] > s.dil[i] ? s.stride[i] : s.dil[i]))
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "output_padding %lld out of range",
                                      (long long)op[i]);
            int64_t span = (int64_t)(w->d[2 + i] - 1) * s.dil[i] + 1;
            int64_t full = (x->d[2 + i] - 1) * s.stride[i] + span + op[i];
            int64_t want = -1;
            if (nos >= 0)
                want = os[nos - nsp + i];
            else if (!strncmp(s.auto_pad, "SAME", 4))
                want = x->d[2 + i] * s.stride[i];
            if (!strcmp(s.auto_pad, "VALID"))
                s.pad0[i] = s.pad1[i] = 0;
            if (want >= 0) {
                int64_t total = full - want;
                if (total < 0) {
                    op[i] += -total;
                    total = 0;
                }
                int64_t small = total / 2, big = total - small;
                int upper = !strcmp(s.auto_pad, "SAME_UPPER");
                s.pad0[i] = (int)(upper ? small : big);
                s.pad1[i] = (int)(upper ? big : small);
            }
            p->out_pad[i] = (int)op[i];
        }
    }
    for (int i = 0; i < nsp; i++) {
        p->stride[i] = s.stride[i], p->dil[i] = s.dil[i];
        p->pad0[i] = s.pad0[i], p->pad1[i] = s.pad1[i];
    }
    return LUMEN_OK;
}

static lumen_status map_conv(ox_ctx *c, ox_node *n)
{
    lumen_opdesc d;
    lumen_status st =
        lumen__ox_conv_desc(c, n, lumen__ox_in_shape(c, n, 0), lumen__ox_in_shape(c, n, 1), &d);
    if (st != LUMEN_OK)
        return st;
    int in[3] = {lumen__ox_in(c, n, 0), lumen__ox_in(c, n, 1), lumen__ox_in(c, n, 2)};
    return lumen__ox_emit(c, n, &d, in[2] == -1 ? 2 : 3, in);
}

/* ---- matrix products ---- */

static lumen_status map_matmul(ox_ctx *c, ox_node *n)
{
    lumen_opdesc d = {.op = LUMEN_OP_MATMUL};
    int in[2] = {lumen__ox_in(c, n, 0), lumen__ox_in(c, n, 1)};
    return lumen__ox_emit(c, n, &d, 2, in);
}

static lumen_status map_gemm(ox_ctx *c, ox_node *n)
{
    const lumen_shape *a = lumen__ox_in_shape(c, n, 0), *b = lumen__ox_in_shape(c, n, 1);
    if (a->ndim != 2 || b->ndim != 2)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "A and B must be matrices (ranks %d, %d)",
                              a->ndim, b->ndim);
    lumen_opdesc d = {.op = LUMEN_OP_MATMUL};
    d.p.matmul.trans_a = lumen__ox_attr_int(n, "transA", 0) != 0;
    d.p.matmul.trans_b = lumen__ox_attr_int(n, "transB", 0) != 0;
    d.p.matmul.alpha = lumen__ox_attr_float(n, "alpha", 1.0f);
    float beta = lumen__ox_attr_float(n, "beta", 1.0f);
    if (d.p.matmul.alpha == 0.0f)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "alpha 0");
    int64_t N = d.p.matmul.trans_b ? b->d[0] : b->d[1];
    ox_val *cv = n->n_in > 2 ? n->in[2] : NULL;
    int in[3] = {lumen__ox_in(c, n, 0), lumen__ox_in(c, n, 1), -1};
    if (cv && beta != 0.0f && cv->host && !cv->is_int && lumen_shape_numel(&cv->host->shape) == N &&
        cv->host->shape.ndim <= 2 &&
        (cv->host->shape.ndim == 0 || cv->host->shape.d[cv->host->shape.ndim - 1] == N)) {
        /* a per-column bias: scaled on the host, fused into the matmul */
        float tmp[1];
        float *bias = N > 0 ? malloc((size_t)N * sizeof(float)) : tmp;
        if (!bias)
            return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
        for (int64_t j = 0; j < N; j++)
            bias[j] = beta * cv->host->f[j];
        lumen_shape bs = {1, {N}};
        in[2] = lumen__ox_const(c, n, ".bias", &bs, bias);
        if (bias != tmp)
            free(bias);
        if (in[2] < 0)
            return c->st;
        return lumen__ox_emit(c, n, &d, 3, in);
    }
    int y = lumen__ox_op(c, n, cv && beta != 0.0f ? ".matmul" : "", &d, 2, in);
    if (y < 0 || !cv || beta == 0.0f)
        return lumen__ox_set_gv(c, n, 0, y);
    int cg = lumen__ox_in(c, n, 2);
    if (beta != 1.0f) {
        lumen_shape one = {0, {0}};
        int bv = lumen__ox_const(c, n, ".beta", &one, &beta);
        lumen_opdesc m = {.op = LUMEN_OP_BINARY};
        m.p.binary.kind = LUMEN_BIN_MUL;
        int mi[2] = {cg, bv};
        cg = lumen__ox_op(c, n, ".c_beta", &m, 2, mi);
    }
    lumen_opdesc add = {.op = LUMEN_OP_BINARY};
    add.p.binary.kind = LUMEN_BIN_ADD;
    int ai[2] = {y, cg};
    return lumen__ox_emit(c, n, &add, 2, ai);
}

/* ---- element-wise ---- */

static lumen_status map_binary(ox_ctx *c, ox_node *n)
{
    static const struct {
        const char *type;
        int kind;
    } kinds[] = {{"Add", LUMEN_BIN_ADD}, {"Sub", LUMEN_BIN_SUB}, {"Mul", LUMEN_BIN_MUL},
                 {"Div", LUMEN_BIN_DIV}, {"Pow", LUMEN_BIN_POW}, {"Max", LUMEN_BIN_MAX},
                 {"Min", LUMEN_BIN_MIN}, {"Sum", LUMEN_BIN_ADD}};
    int kind = -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].type, n->p->op_type))
            kind = kinds[i].kind;
    int variadic = kind == LUMEN_BIN_MAX || kind == LUMEN_BIN_MIN || !strcmp(n->p->op_type, "Sum");
    if (n->n_in < 1 || (!variadic && n->n_in != 2))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "%d inputs", n->n_in);
    lumen_status st = lumen__ox_need(c, n, n->n_in);
    if (st != LUMEN_OK)
        return st;
    if (n->n_in == 1)
        return lumen__ox_alias(c, n, 0, n->in[0]);
    /* Pow by a constant 2 or 0.5: cheaper and exact as mul / sqrt */
    if (kind == LUMEN_BIN_POW && n->in[1]->host && lumen_shape_numel(&n->in[1]->host->shape) == 1 &&
        n->in[1]->host->shape.ndim <= lumen__ox_in_shape(c, n, 0)->ndim) {
        double e = lumen__ox_host_get(n->in[1]->host, 0);
        int x = lumen__ox_in(c, n, 0);
        if (e == 2.0) {
            lumen_opdesc d = {.op = LUMEN_OP_BINARY};
            d.p.binary.kind = LUMEN_BIN_MUL;
            int in[2] = {x, x};
            return lumen__ox_emit(c, n, &d, 2, in);
        }
        if (e == 0.5) {
            lumen_opdesc d = lumen_opdesc_unary(LUMEN_ACT_SQRT);
            return lumen__ox_emit(c, n, &d, 1, &x);
        }
    }
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    d.p.binary.kind = kind;
    int acc = lumen__ox_in(c, n, 0);
    if (c->opset < 7 && !variadic && lumen__ox_attr_int(n, "broadcast", 0) &&
        lumen__ox_attr(n, "axis")) {
        /* opset < 7: B's axes line up with A's from 'axis' on (not numpy's right alignment) */
        const lumen_shape *a = lumen__ox_in_shape(c, n, 0), *bs = lumen__ox_in_shape(c, n, 1);
        int axis;
        if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), a->ndim, &axis)) !=
            LUMEN_OK)
            return st;
        if (axis + bs->ndim > a->ndim)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "B does not fit A from axis %d", axis);
        lumen_shape t = *bs;
        while (t.ndim < a->ndim - axis)
            t.d[t.ndim++] = 1;
        int in[2] = {acc, lumen__ox_reshape(c, n, ".b", lumen__ox_in(c, n, 1), &t)};
        return lumen__ox_emit(c, n, &d, 2, in);
    }
    for (int i = 1; i < n->n_in; i++) {
        int in[2] = {acc, lumen__ox_in(c, n, i)};
        char suffix[16] = "";
        if (i + 1 < n->n_in)
            snprintf(suffix, sizeof suffix, ".%d", i);
        acc = lumen__ox_op(c, n, suffix, &d, 2, in);
        if (acc < 0)
            return c->st;
    }
    return lumen__ox_set_gv(c, n, 0, acc);
}

static lumen_status map_unary(ox_ctx *c, ox_node *n)
{
    static const struct {
        const char *type;
        lumen_act act;
    } acts[] = {{"Relu", LUMEN_ACT_RELU},
                {"LeakyRelu", LUMEN_ACT_LEAKY_RELU},
                {"Sigmoid", LUMEN_ACT_SIGMOID},
                {"Tanh", LUMEN_ACT_TANH},
                {"HardSigmoid", LUMEN_ACT_HARDSIGMOID},
                {"HardSwish", LUMEN_ACT_HARDSWISH},
                {"Exp", LUMEN_ACT_EXP},
                {"Log", LUMEN_ACT_LOG},
                {"Sqrt", LUMEN_ACT_SQRT},
                {"Erf", LUMEN_ACT_ERF},
                {"Neg", LUMEN_ACT_NEG},
                {"Abs", LUMEN_ACT_ABS},
                {"Reciprocal", LUMEN_ACT_RECIPROCAL},
                {"Sin", LUMEN_ACT_SIN},
                {"Cos", LUMEN_ACT_COS},
                {"Tan", LUMEN_ACT_TAN},
                {"Asin", LUMEN_ACT_ASIN},
                {"Acos", LUMEN_ACT_ACOS},
                {"Atan", LUMEN_ACT_ATAN},
                {"Sinh", LUMEN_ACT_SINH},
                {"Cosh", LUMEN_ACT_COSH},
                {"Asinh", LUMEN_ACT_ASINH},
                {"Acosh", LUMEN_ACT_ACOSH},
                {"Atanh", LUMEN_ACT_ATANH},
                {"Floor", LUMEN_ACT_FLOOR},
                {"Ceil", LUMEN_ACT_CEIL},
                {"Round", LUMEN_ACT_ROUND},
                {"Sign", LUMEN_ACT_SIGN},
                {"IsNaN", LUMEN_ACT_ISNAN},
                {"IsInf", LUMEN_ACT_ISINF}};
    lumen_opdesc d = {.op = LUMEN_OP_UNARY};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (!strcmp(acts[i].type, n->p->op_type))
            d.p.unary.act.act = acts[i].act;
    if (d.p.unary.act.act == LUMEN_ACT_LEAKY_RELU)
        d.p.unary.act.a = lumen__ox_attr_float(n, "alpha", 0.01f);
    if (d.p.unary.act.act == LUMEN_ACT_HARDSIGMOID) {
        d.p.unary.act.a = lumen__ox_attr_float(n, "alpha", 0.2f);
        d.p.unary.act.b = lumen__ox_attr_float(n, "beta", 0.5f);
    }
    if (d.p.unary.act.act == LUMEN_ACT_ISINF) {
        d.p.unary.act.a = lumen__ox_attr_int(n, "detect_positive", 1) != 0;
        d.p.unary.act.b = lumen__ox_attr_int(n, "detect_negative", 1) != 0;
    }
    int x = lumen__ox_in(c, n, 0);
    lumen_status st = lumen__ox_emit(c, n, &d, 1, &x);
    ox_val *v = lumen__ox_out(c, n, 0);
    if (st == LUMEN_OK && v)
        v->is_int = d.p.unary.act.act == LUMEN_ACT_ISNAN || d.p.unary.act.act == LUMEN_ACT_ISINF;
    return st;
}

/* The graph value of bool input i of n: a host constant as 0/1 floats, or a run-time bool
 * (comparisons, IsNaN, IsInf, Cast to bool: always 0 or 1). -1 after setting the message. */
static int bool_in(ox_ctx *c, ox_node *n, int i)
{
    ox_val *v = n->in[i];
    if (v->host || v->gv < 0)
        return lumen__ox_in(c, n, i);
    if (!v->is_int) {
        lumen__ox_fail(c, n, LUMEN_EFORMAT, "input '%s' is a float tensor, not a bool", v->name);
        return -1;
    }
    return v->gv;
}

/* Not, And, Or, Xor on run-time bools (0 or 1): x == 0, min, max and !=. */
static lumen_status map_logic(ox_ctx *c, ox_node *n)
{
    const char *op = n->p->op_type;
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    d.p.binary.kind = !strcmp(op, "Not")   ? LUMEN_BIN_EQ
                      : !strcmp(op, "And") ? LUMEN_BIN_MIN
                      : !strcmp(op, "Or")  ? LUMEN_BIN_MAX
                                           : LUMEN_BIN_NE;
    lumen_shape one = {0, {0}};
    float zero = 0;
    int in[2] = {bool_in(c, n, 0), -1};
    if (in[0] >= 0)
        in[1] = d.p.binary.kind == LUMEN_BIN_EQ ? lumen__ox_const(c, n, ".zero", &one, &zero)
                                                : bool_in(c, n, 1);
    lumen_status st = in[0] < 0 || in[1] < 0 ? c->st : lumen__ox_emit(c, n, &d, 2, in);
    ox_val *v = lumen__ox_out(c, n, 0);
    if (st == LUMEN_OK && v)
        v->is_int = 1;
    return st;
}

/* Comparisons and Mod on run-time floats (constants are folded on the host, fold.c): the
 * BINARY op, whose comparisons give 1 or 0; the result is an ONNX bool, which only a graph
 * output or a Cast to float may read. */
static lumen_status map_compare(ox_ctx *c, ox_node *n)
{
    static const struct {
        const char *type;
        int kind;
    } kinds[] = {{"Greater", LUMEN_BIN_GT}, {"GreaterOrEqual", LUMEN_BIN_GE},
                 {"Less", LUMEN_BIN_LT},    {"LessOrEqual", LUMEN_BIN_LE},
                 {"Equal", LUMEN_BIN_EQ},   {"Mod", LUMEN_BIN_FMOD}};
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].type, n->p->op_type))
            d.p.binary.kind = kinds[i].kind;
    if (d.p.binary.kind == LUMEN_BIN_FMOD && lumen__ox_attr_int(n, "fmod", 0) == 0)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "fmod 0 on float tensors (the spec wants 1)");
    int in[2] = {lumen__ox_in(c, n, 0), lumen__ox_in(c, n, 1)};
    lumen_status st = lumen__ox_emit(c, n, &d, 2, in);
    ox_val *v = lumen__ox_out(c, n, 0);
    if (st == LUMEN_OK && v)
        v->is_int = d.p.binary.kind != LUMEN_BIN_FMOD;
    return st;
}

static lumen_status map_clip(ox_ctx *c, ox_node *n)
{
    lumen_status st;
    float lo = -FLT_MAX, hi = FLT_MAX;
    if (c->opset < 11) {
        lo = lumen__ox_attr_float(n, "min", lo);
        hi = lumen__ox_attr_float(n, "max", hi);
    } else {
        ox_val *lv = n->n_in > 1 ? n->in[1] : NULL, *hv = n->n_in > 2 ? n->in[2] : NULL;
        if ((lv && !lv->host) || (hv && !hv->host)) {
            /* bounds computed at run time: max(x, min) then min(., max), which propagate a
             * NaN x as the constant form does */
            lumen_opdesc d = {.op = LUMEN_OP_BINARY};
            int y = lumen__ox_in(c, n, 0);
            for (int i = 1; i < 3 && y >= 0; i++) {
                if (i >= n->n_in || !n->in[i])
                    continue;
                d.p.binary.kind = i == 1 ? LUMEN_BIN_MAX : LUMEN_BIN_MIN;
                int in[2] = {y, lumen__ox_in(c, n, i)};
                y = lumen__ox_op(c, n, i == 1 && hv ? ".lo" : "", &d, 2, in);
            }
            return lumen__ox_set_gv(c, n, 0, y < 0 ? -1 : y);
        }
        if (lv && (st = lumen__ox_const_float(c, n, 1, &lo)) != LUMEN_OK)
            return st;
        if (hv && (st = lumen__ox_const_float(c, n, 2, &hi)) != LUMEN_OK)
            return st;
    }
    lumen_opdesc d = lumen_opdesc_unary(LUMEN_ACT_CLIP);
    if (lo == 0.0f && hi == 6.0f)
        d = lumen_opdesc_unary(LUMEN_ACT_RELU6);
    else if (lo == 0.0f && hi == FLT_MAX)
        d = lumen_opdesc_unary(LUMEN_ACT_RELU);
    d.p.unary.act.a = d.p.unary.act.act == LUMEN_ACT_CLIP ? lo : 0;
    d.p.unary.act.b = d.p.unary.act.act == LUMEN_ACT_CLIP ? hi : 0;
    int x = lumen__ox_in(c, n, 0);
    return lumen__ox_emit(c, n, &d, 1, &x);
}

/* ---- normalisation and reductions ---- */

static lumen_status map_softmax(ox_ctx *c, ox_node *n)
{
    lumen_status st;
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", c->opset < 13 ? 1 : -1), x->ndim,
                             &axis)) != LUMEN_OK)
        return st;
    lumen_opdesc d = {.op = LUMEN_OP_SOFTMAX};
    d.p.axes.axis = axis;
    d.p.axes.axis_end = c->opset < 13 ? x->ndim : axis + 1;
    int in = lumen__ox_in(c, n, 0);
    if (strcmp(n->p->op_type, "LogSoftmax"))
        return lumen__ox_emit(c, n, &d, 1, &in);
    int y = lumen__ox_op(c, n, ".softmax", &d, 1, &in);
    lumen_opdesc l = lumen_opdesc_unary(LUMEN_ACT_LOG);
    return lumen__ox_emit(c, n, &l, 1, &y);
}

static lumen_status map_reduce(ox_ctx *c, ox_node *n)
{
    lumen_status st;
    const char *op = n->p->op_type;
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    int64_t ax[LUMEN_MAX_DIMS];
    int na = -1;
    if (!strcmp(op, "ReduceSum") && c->opset >= 13) {
        if (n->n_in > 1 && n->in[1] &&
            (st = lumen__ox_const_ints(c, n, 1, ax, LUMEN_MAX_DIMS, &na)) != LUMEN_OK)
            return st;
    } else if ((na = lumen__ox_attr_ints(n, "axes", ax, LUMEN_MAX_DIMS)) == -2) {
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "too many axes");
    }
    if (na <= 0 && lumen__ox_attr_int(n, "noop_with_empty_axes", 0))
        return lumen__ox_alias(c, n, 0, n->in[0]);
    lumen_opdesc d = {.op = LUMEN_OP_REDUCE};
    d.p.reduce.kind = !strcmp(op, "ReduceSum")    ? LUMEN_REDUCE_SUM
                      : !strcmp(op, "ReduceMax")  ? LUMEN_REDUCE_MAX
                      : !strcmp(op, "ReduceProd") ? LUMEN_REDUCE_PROD
                                                  : LUMEN_REDUCE_MEAN;
    d.p.reduce.keepdims = lumen__ox_attr_int(n, "keepdims", 1) != 0;
    for (int i = 0; i < na; i++) {
        int a;
        if ((st = lumen__ox_axis(c, n, ax[i], x->ndim, &a)) != LUMEN_OK)
            return st;
        d.p.reduce.axes |= 1u << a;
    }
    if (na <= 0)
        d.p.reduce.axes = (1u << x->ndim) - 1;
    int in = lumen__ox_in(c, n, 0);
    if (!d.p.reduce.axes)
        return lumen__ox_alias(c, n, 0, n->in[0]);
    return lumen__ox_emit(c, n, &d, 1, &in);
}

static lumen_status map_pool(ox_ctx *c, ox_node *n)
{
    lumen_status st;
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    int nsp;
    if ((st = lumen__ox_spatial_rank(c, n, x, &nsp)) != LUMEN_OK)
        return st;
    lumen_opdesc d = {.op = LUMEN_OP_POOL};
    lumen_pool_params *p = &d.p.pool;
    int global = !strncmp(n->p->op_type, "Global", 6);
    p->kind = strstr(n->p->op_type, "Max") ? LUMEN_POOL_MAX : LUMEN_POOL_AVG;
    p->nsp = nsp;
    int in = lumen__ox_in(c, n, 0);
    if (global) {
        lumen_opdesc r = {.op = LUMEN_OP_REDUCE};
        r.p.reduce.kind = p->kind == LUMEN_POOL_MAX ? LUMEN_REDUCE_MAX : LUMEN_REDUCE_MEAN;
        r.p.reduce.keepdims = 1;
        r.p.reduce.axes = ((1u << x->ndim) - 1) & ~3u;
        return lumen__ox_emit(c, n, &r, 1, &in);
    }
    ox_spatial s;
    if ((st = lumen__ox_spatial(c, n, nsp, NULL, &s)) != LUMEN_OK)
        return st;
    if (p->kind == LUMEN_POOL_AVG && lumen__ox_attr(n, "dilations"))
        for (int i = 0; i < nsp; i++)
            if (s.dil[i] != 1)
                return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "dilated average pooling");
    int64_t order = lumen__ox_attr_int(n, "storage_order", 0);
    if (order != 0 && order != 1)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "storage_order %lld", (long long)order);
    lumen__ox_auto_pad(&s, x);
    p->ceil_mode = lumen__ox_attr_int(n, "ceil_mode", 0) != 0;
    p->count_include_pad = lumen__ox_attr_int(n, "count_include_pad", 0) != 0;
    for (int i = 0; i < nsp; i++) {
        p->k[i] = s.k[i], p->stride[i] = s.stride[i], p->dil[i] = s.dil[i];
        p->pad0[i] = s.pad0[i], p->pad1[i] = s.pad1[i];
    }
    if ((st = lumen__ox_emit(c, n, &d, 1, &in)) != LUMEN_OK)
        return st;
    ox_val *iv = p->kind == LUMEN_POOL_MAX ? lumen__ox_out(c, n, 1) : NULL;
    if (!iv)
        return LUMEN_OK;
    /* MaxPool's Indices: int64 in ONNX, so only a graph output may read them (as ArgMax's) */
    p->indices = 1, p->storage_order = (int)order;
    st = lumen__ox_set_gv(c, n, 1, lumen__ox_op(c, n, ".indices", &d, 1, &in));
    iv->is_int = 1;
    return st;
}

static lumen_status map_batchnorm(ox_ctx *c, ox_node *n)
{
    if (lumen__ox_attr_int(n, "training_mode", 0) != 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "training_mode 1");
    if (c->opset < 7 && lumen__ox_attr_int(n, "is_test", 0) == 0) /* opset 6: same math */
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "is_test 0 (training mode)");
    if (c->opset < 9 && lumen__ox_attr_int(n, "spatial", 1) != 1)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "spatial 0");
    lumen_opdesc d = {.op = LUMEN_OP_BATCHNORM};
    d.p.norm.eps = lumen__ox_attr_float(n, "epsilon", 1e-5f);
    int in[5];
    for (int i = 0; i < 5; i++)
        in[i] = lumen__ox_in(c, n, i);
    return lumen__ox_emit(c, n, &d, 5, in);
}

static lumen_status map_instancenorm(ox_ctx *c, ox_node *n)
{
    lumen_opdesc d = {.op = LUMEN_OP_INSTANCENORM};
    d.p.norm.eps = lumen__ox_attr_float(n, "epsilon", 1e-5f);
    int in[3] = {lumen__ox_in(c, n, 0), lumen__ox_in(c, n, 1), lumen__ox_in(c, n, 2)};
    return lumen__ox_emit(c, n, &d, 3, in);
}

lumen_status lumen__ox_argmax(ox_ctx *c, ox_node *n, int x)
{
    lumen_status st;
    lumen_opdesc d = {.op = LUMEN_OP_ARGMAX};
    d.p.argmax.last = lumen__ox_attr_int(n, "select_last_index", 0) != 0;
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0),
                             lumen__ox_in_shape(c, n, 0)->ndim, &axis)) != LUMEN_OK)
        return st;
    d.p.argmax.axis = axis;
    d.p.argmax.keepdims = lumen__ox_attr_int(n, "keepdims", 1) != 0;
    st = lumen__ox_set_gv(c, n, 0, x < 0 ? -1 : lumen__ox_op(c, n, "", &d, 1, &x));
    ox_val *v = lumen__ox_out(c, n, 0);
    if (st == LUMEN_OK && v)
        v->is_int = 1; /* int64 indices in ONNX: only a graph output may read them */
    return st;
}

static lumen_status map_argmax(ox_ctx *c, ox_node *n)
{
    return lumen__ox_argmax(c, n, lumen__ox_in(c, n, 0));
}

/* ---- the table ---- */

const ox_op lumen__ox_ops_nn[] = {
    {"Conv", 1, 17, 2, map_conv},
    {"ConvTranspose", 1, 17, 2, map_conv},
    {"Gemm", 6, 17, 2, map_gemm},
    {"MatMul", 1, 17, 2, map_matmul},
    {"Add", 1, 17, 1, map_binary},
    {"Sub", 1, 17, 1, map_binary},
    {"Mul", 1, 17, 1, map_binary},
    {"Div", 1, 17, 1, map_binary},
    {"Pow", 1, 17, 1, map_binary},
    {"Max", 6, 17, 1, map_binary},
    {"Min", 6, 17, 1, map_binary},
    {"Sum", 6, 17, 1, map_binary},
    {"Relu", 6, 17, 1, map_unary},
    {"LeakyRelu", 6, 17, 1, map_unary},
    {"Sigmoid", 6, 17, 1, map_unary},
    {"Tanh", 6, 17, 1, map_unary},
    {"HardSigmoid", 6, 17, 1, map_unary},
    {"HardSwish", 14, 17, 1, map_unary},
    {"Exp", 6, 17, 1, map_unary},
    {"Log", 6, 17, 1, map_unary},
    {"Sqrt", 6, 17, 1, map_unary},
    {"Erf", 9, 17, 1, map_unary},
    {"Neg", 6, 17, 1, map_unary},
    {"Abs", 6, 17, 1, map_unary},
    {"Reciprocal", 6, 17, 1, map_unary},
    {"Sin", 7, 17, 1, map_unary},
    {"Cos", 7, 17, 1, map_unary},
    {"Tan", 7, 17, 1, map_unary},
    {"Asin", 7, 17, 1, map_unary},
    {"Acos", 7, 17, 1, map_unary},
    {"Atan", 7, 17, 1, map_unary},
    {"Sinh", 9, 17, 1, map_unary},
    {"Cosh", 9, 17, 1, map_unary},
    {"Asinh", 9, 17, 1, map_unary},
    {"Acosh", 9, 17, 1, map_unary},
    {"Atanh", 9, 17, 1, map_unary},
    {"Floor", 6, 17, 1, map_unary},
    {"Ceil", 6, 17, 1, map_unary},
    {"Round", 11, 17, 1, map_unary},
    {"Sign", 9, 17, 1, map_unary},
    {"IsNaN", 9, 17, 1, map_unary},
    {"IsInf", 10, 17, 1, map_unary},
    {"Greater", 7, 17, 2, map_compare},
    {"GreaterOrEqual", 12, 17, 2, map_compare},
    {"Less", 7, 17, 2, map_compare},
    {"LessOrEqual", 12, 17, 2, map_compare},
    {"Equal", 7, 17, 2, map_compare},
    {"Mod", 10, 17, 2, map_compare},
    {"Not", 1, 17, 1, map_logic},
    {"And", 7, 17, 2, map_logic},
    {"Or", 7, 17, 2, map_logic},
    {"Xor", 7, 17, 2, map_logic},
    {"Clip", 6, 17, 1, map_clip},
    {"Softmax", 1, 17, 1, map_softmax},
    {"LogSoftmax", 1, 17, 1, map_softmax},
    {"ReduceMean", 1, 17, 1, map_reduce},
    {"ReduceSum", 1, 17, 1, map_reduce},
    {"ReduceMax", 1, 17, 1, map_reduce},
    {"ReduceProd", 1, 17, 1, map_reduce},
    {"MaxPool", 1, 17, 1, map_pool},
    {"AveragePool", 1, 17, 1, map_pool},
    {"GlobalAveragePool", 1, 17, 1, map_pool},
    {"GlobalMaxPool", 1, 17, 1, map_pool},
    {"BatchNormalization", 6, 17, 5, map_batchnorm},
    {"InstanceNormalization", 6, 17, 3, map_instancenorm},
    {"ArgMax", 1, 17, 1, map_argmax},
    {NULL, 0, 0, 0, NULL},
};
