/*
 * onnx_ops.c - one mapping function per ONNX op: reads the node's attributes (with the
 * opset-dependent places they live in), checks their ranges and adds the lumen ops that compute
 * it. The table 'ox_ops' lists every supported op type with the opset range its mapper
 * understands; anything else is LUMEN_EUNSUPPORTED before any node is imported.
 *
 * Conventions: inputs that are host values (initializers, folded constants) become float graph
 * constants when a device op reads them (lumen__ox_gv). Every rejection names the node and the
 * attribute or input. Integer attributes that end up in lumen's int params are bounded to
 * OX_INT_MAX so that no conversion overflows.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

#define OX_INT_MAX (1 << 24)

/* Graph value of input i: -1 when absent, -2 after a failure (the message is set). */
static int gv_of(ox_ctx *c, ox_node *n, int i)
{
    if (i >= n->n_in || !n->in[i])
        return -1;
    int v = lumen__ox_gv(c, n, n->in[i]);
    return v < 0 ? -2 : v;
}

static const lumen_shape *shape_of(ox_ctx *c, ox_node *n, int i)
{
    return i < n->n_in && n->in[i] ? lumen__ox_shape(c, n->in[i]) : NULL;
}

static lumen_status need_inputs(ox_ctx *c, ox_node *n, int k)
{
    for (int i = 0; i < k; i++)
        if (i >= n->n_in || !n->in[i])
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "input %d is missing", i);
    return LUMEN_OK;
}

static lumen_status emit(ox_ctx *c, ox_node *n, const lumen_opdesc *d, int n_in, const int *in)
{
    return lumen__ox_set_gv(c, n, 0, lumen__ox_op(c, n, "", d, n_in, in));
}

/* ---- spatial attributes shared by Conv, ConvTranspose and the pools ---- */

typedef struct spatial {
    int nsp;
    int k[3], stride[3], dil[3], pad0[3], pad1[3];
    char auto_pad[32];
} spatial;

/* Reads kernel_shape (or takes kfrom), strides, dilations, pads, auto_pad for nsp axes. */
static lumen_status read_spatial(ox_ctx *c, ox_node *n, int nsp, const int64_t *kfrom, spatial *s)
{
    int64_t v[6];
    int cnt;
    memset(s, 0, sizeof *s);
    s->nsp = nsp;
    for (int i = 0; i < 3; i++)
        s->stride[i] = s->dil[i] = s->k[i] = 1;
    static const char *const lists[] = {"kernel_shape", "strides", "dilations", "pads"};
    for (int a = 0; a < 4; a++)
        if (lumen__ox_attr_ints(n, lists[a], v, a == 3 ? 6 : 3) == -2)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "%s has more than %d entries", lists[a],
                                  a == 3 ? 6 : 3);
    cnt = lumen__ox_attr_ints(n, "kernel_shape", v, 3);
    if (cnt == -1 && !kfrom)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "kernel_shape is missing");
    if (cnt >= 0 && cnt != nsp)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "kernel_shape has %d entries for %d spatial "
                              "axes",
                              cnt, nsp);
    for (int i = 0; i < nsp; i++) {
        int64_t k = cnt >= 0 ? v[i] : kfrom[i];
        if (kfrom && cnt >= 0 && v[i] != kfrom[i])
            return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                                  "kernel_shape %lld differs from the "
                                  "weight's %lld",
                                  (long long)v[i], (long long)kfrom[i]);
        if (k < 1 || k > OX_INT_MAX)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "kernel_shape %lld must be > 0",
                                  (long long)k);
        s->k[i] = (int)k;
    }
    static const char *const names[] = {"strides", "dilations"};
    int *dst[] = {s->stride, s->dil};
    for (int a = 0; a < 2; a++) {
        cnt = lumen__ox_attr_ints(n, names[a], v, 3);
        if (cnt >= 0 && cnt != nsp)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "%s has %d entries for %d spatial axes",
                                  names[a], cnt, nsp);
        for (int i = 0; i < cnt; i++) {
            if (v[i] < 1 || v[i] > OX_INT_MAX)
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "%s %lld must be > 0", names[a],
                                      (long long)v[i]);
            dst[a][i] = (int)v[i];
        }
    }
    cnt = lumen__ox_attr_ints(n, "pads", v, 6);
    if (cnt >= 0 && cnt != 2 * nsp)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "pads has %d entries, expected %d", cnt,
                              2 * nsp);
    for (int i = 0; i < cnt; i++)
        if (v[i] < 0 || v[i] > OX_INT_MAX)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "pads %lld must be >= 0", (long long)v[i]);
    for (int i = 0; cnt > 0 && i < nsp; i++)
        s->pad0[i] = (int)v[i], s->pad1[i] = (int)v[nsp + i];
    lumen__ox_attr_str(n, "auto_pad", "NOTSET", s->auto_pad, sizeof s->auto_pad);
    if (strcmp(s->auto_pad, "NOTSET") && strcmp(s->auto_pad, "SAME_UPPER") &&
        strcmp(s->auto_pad, "SAME_LOWER") && strcmp(s->auto_pad, "VALID"))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "auto_pad '%s' is not valid", s->auto_pad);
    return LUMEN_OK;
}

/* auto_pad for a forward window op on input extents x[2..]. */
static void apply_auto_pad(spatial *s, const lumen_shape *x)
{
    if (!strcmp(s->auto_pad, "VALID")) {
        for (int i = 0; i < s->nsp; i++)
            s->pad0[i] = s->pad1[i] = 0;
        return;
    }
    if (strncmp(s->auto_pad, "SAME", 4))
        return;
    for (int i = 0; i < s->nsp; i++) {
        int64_t in = x->d[2 + i], out = (in + s->stride[i] - 1) / s->stride[i];
        int64_t span = (int64_t)(s->k[i] - 1) * s->dil[i] + 1;
        int64_t total = (out - 1) * s->stride[i] + span - in;
        if (total < 0)
            total = 0;
        int64_t small = total / 2, big = total - small;
        int upper = !strcmp(s->auto_pad, "SAME_UPPER");
        s->pad0[i] = (int)(upper ? small : big);
        s->pad1[i] = (int)(upper ? big : small);
    }
}

static lumen_status spatial_rank(ox_ctx *c, ox_node *n, const lumen_shape *x, int *nsp)
{
    *nsp = x->ndim - 2;
    if (*nsp < 1 || *nsp > 3)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "input of rank %d (1d, 2d and 3d only)",
                              x->ndim);
    return LUMEN_OK;
}

/* ---- convolutions ---- */

static lumen_status map_conv(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 2);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = shape_of(c, n, 0), *w = shape_of(c, n, 1);
    int nsp;
    if ((st = spatial_rank(c, n, x, &nsp)) != LUMEN_OK)
        return st;
    if (w->ndim != x->ndim)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "weight rank %d differs from input rank %d",
                              w->ndim, x->ndim);
    spatial s;
    if ((st = read_spatial(c, n, nsp, w->d + 2, &s)) != LUMEN_OK)
        return st;
    int64_t group = lumen__ox_attr_int(n, "group", 1);
    if (group < 1 || group > OX_INT_MAX)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "group %lld must be > 0", (long long)group);
    int tr = !strcmp(n->p->op_type, "ConvTranspose");
    lumen_opdesc d = {.op = tr ? LUMEN_OP_CONV_TRANSPOSE : LUMEN_OP_CONV};
    lumen_conv_params *p = &d.p.conv;
    p->nsp = nsp;
    p->groups = (int)group;
    if (!tr) {
        apply_auto_pad(&s, x);
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
    int in[3] = {gv_of(c, n, 0), gv_of(c, n, 1), gv_of(c, n, 2)};
    return emit(c, n, &d, in[2] == -1 ? 2 : 3, in);
}

/* ---- matrix products ---- */

static lumen_status map_matmul(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 2);
    if (st != LUMEN_OK)
        return st;
    lumen_opdesc d = {.op = LUMEN_OP_MATMUL};
    int in[2] = {gv_of(c, n, 0), gv_of(c, n, 1)};
    return emit(c, n, &d, 2, in);
}

static lumen_status map_gemm(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 2);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *a = shape_of(c, n, 0), *b = shape_of(c, n, 1);
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
    int in[3] = {gv_of(c, n, 0), gv_of(c, n, 1), -1};
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
        return emit(c, n, &d, 3, in);
    }
    int y = lumen__ox_op(c, n, cv && beta != 0.0f ? ".matmul" : "", &d, 2, in);
    if (y < 0 || !cv || beta == 0.0f)
        return lumen__ox_set_gv(c, n, 0, y);
    int cg = gv_of(c, n, 2);
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
    return emit(c, n, &add, 2, ai);
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
    lumen_status st = need_inputs(c, n, n->n_in);
    if (st != LUMEN_OK)
        return st;
    if (n->n_in == 1)
        return lumen__ox_alias(c, n, 0, n->in[0]);
    /* Pow by a constant 2 or 0.5: cheaper and exact as mul / sqrt */
    if (kind == LUMEN_BIN_POW && n->in[1]->host && lumen_shape_numel(&n->in[1]->host->shape) == 1 &&
        n->in[1]->host->shape.ndim <= shape_of(c, n, 0)->ndim) {
        double e = lumen__ox_host_get(n->in[1]->host, 0);
        int x = gv_of(c, n, 0);
        if (e == 2.0) {
            lumen_opdesc d = {.op = LUMEN_OP_BINARY};
            d.p.binary.kind = LUMEN_BIN_MUL;
            int in[2] = {x, x};
            return emit(c, n, &d, 2, in);
        }
        if (e == 0.5) {
            lumen_opdesc d = lumen_opdesc_unary(LUMEN_ACT_SQRT);
            return emit(c, n, &d, 1, &x);
        }
    }
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    d.p.binary.kind = kind;
    int acc = gv_of(c, n, 0);
    if (c->opset < 7 && !variadic && lumen__ox_attr_int(n, "broadcast", 0) &&
        lumen__ox_attr(n, "axis")) {
        /* opset < 7: B's axes line up with A's from 'axis' on (not numpy's right alignment) */
        const lumen_shape *a = shape_of(c, n, 0), *bs = shape_of(c, n, 1);
        int axis;
        if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), a->ndim, &axis)) !=
            LUMEN_OK)
            return st;
        if (axis + bs->ndim > a->ndim)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "B does not fit A from axis %d", axis);
        lumen_shape t = *bs;
        while (t.ndim < a->ndim - axis)
            t.d[t.ndim++] = 1;
        int in[2] = {acc, lumen__ox_reshape(c, n, ".b", gv_of(c, n, 1), &t)};
        return emit(c, n, &d, 2, in);
    }
    for (int i = 1; i < n->n_in; i++) {
        int in[2] = {acc, gv_of(c, n, i)};
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
                {"Reciprocal", LUMEN_ACT_RECIPROCAL}};
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
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
    int x = gv_of(c, n, 0);
    return emit(c, n, &d, 1, &x);
}

static lumen_status map_clip(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    float lo = -FLT_MAX, hi = FLT_MAX;
    if (c->opset < 11) {
        lo = lumen__ox_attr_float(n, "min", lo);
        hi = lumen__ox_attr_float(n, "max", hi);
    } else {
        if (n->n_in > 1 && n->in[1] && (st = lumen__ox_const_float(c, n, 1, &lo)) != LUMEN_OK)
            return st;
        if (n->n_in > 2 && n->in[2] && (st = lumen__ox_const_float(c, n, 2, &hi)) != LUMEN_OK)
            return st;
    }
    lumen_opdesc d = lumen_opdesc_unary(LUMEN_ACT_CLIP);
    if (lo == 0.0f && hi == 6.0f)
        d = lumen_opdesc_unary(LUMEN_ACT_RELU6);
    else if (lo == 0.0f && hi == FLT_MAX)
        d = lumen_opdesc_unary(LUMEN_ACT_RELU);
    d.p.unary.act.a = d.p.unary.act.act == LUMEN_ACT_CLIP ? lo : 0;
    d.p.unary.act.b = d.p.unary.act.act == LUMEN_ACT_CLIP ? hi : 0;
    int x = gv_of(c, n, 0);
    return emit(c, n, &d, 1, &x);
}

/* Identity, Dropout (inference) and Cast to float: the same value under a new name. */
static lumen_status map_identity(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    if (!strcmp(n->p->op_type, "Cast")) {
        int64_t to = lumen__ox_attr_int(n, "to", 1);
        int to_float = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
                       to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ||
                       to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
        if (!to_float && !n->in[0]->is_int)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                                  "cast of a run-time float tensor to type %lld (device tensors "
                                  "are float32)",
                                  (long long)to);
        st = lumen__ox_alias(c, n, 0, n->in[0]);
        ox_val *v = lumen__ox_out(c, n, 0);
        if (v)
            v->is_int = !to_float;
        return st;
    }
    if (!strcmp(n->p->op_type, "Dropout") && n->n_in > 2 && n->in[2]) {
        float train;
        if ((st = lumen__ox_const_float(c, n, 2, &train)) != LUMEN_OK)
            return st;
        if (train != 0)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "training_mode");
    }
    return lumen__ox_alias(c, n, 0, n->in[0]);
}

/* Ops we evaluate only on constants: a run-time input reaching them is unsupported. */
static lumen_status map_host_only(ox_ctx *c, ox_node *n)
{
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] && !n->in[i]->host)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                                  "input '%s' is computed at run time; %s is only supported on "
                                  "values known at load time",
                                  n->in[i]->name, n->p->op_type);
    return lumen__ox_fail(c, n, LUMEN_EFORMAT, "missing inputs");
}

/* ---- normalisation and reductions ---- */

static lumen_status map_softmax(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = shape_of(c, n, 0);
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", c->opset < 13 ? 1 : -1), x->ndim,
                             &axis)) != LUMEN_OK)
        return st;
    lumen_opdesc d = {.op = LUMEN_OP_SOFTMAX};
    d.p.axes.axis = axis;
    d.p.axes.axis_end = c->opset < 13 ? x->ndim : axis + 1;
    int in = gv_of(c, n, 0);
    if (strcmp(n->p->op_type, "LogSoftmax"))
        return emit(c, n, &d, 1, &in);
    int y = lumen__ox_op(c, n, ".softmax", &d, 1, &in);
    lumen_opdesc l = lumen_opdesc_unary(LUMEN_ACT_LOG);
    return emit(c, n, &l, 1, &y);
}

static lumen_status map_reduce(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    const char *op = n->p->op_type;
    const lumen_shape *x = shape_of(c, n, 0);
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
    d.p.reduce.kind = !strcmp(op, "ReduceSum")   ? LUMEN_REDUCE_SUM
                      : !strcmp(op, "ReduceMax") ? LUMEN_REDUCE_MAX
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
    int in = gv_of(c, n, 0);
    if (!d.p.reduce.axes)
        return lumen__ox_alias(c, n, 0, n->in[0]);
    return emit(c, n, &d, 1, &in);
}

static lumen_status map_pool(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = shape_of(c, n, 0);
    int nsp;
    if ((st = spatial_rank(c, n, x, &nsp)) != LUMEN_OK)
        return st;
    lumen_opdesc d = {.op = LUMEN_OP_POOL};
    lumen_pool_params *p = &d.p.pool;
    int global = !strncmp(n->p->op_type, "Global", 6);
    p->kind = strstr(n->p->op_type, "Max") ? LUMEN_POOL_MAX : LUMEN_POOL_AVG;
    p->nsp = nsp;
    int in = gv_of(c, n, 0);
    if (global) {
        lumen_opdesc r = {.op = LUMEN_OP_REDUCE};
        r.p.reduce.kind = p->kind == LUMEN_POOL_MAX ? LUMEN_REDUCE_MAX : LUMEN_REDUCE_MEAN;
        r.p.reduce.keepdims = 1;
        r.p.reduce.axes = ((1u << x->ndim) - 1) & ~3u;
        return emit(c, n, &r, 1, &in);
    }
    spatial s;
    if ((st = read_spatial(c, n, nsp, NULL, &s)) != LUMEN_OK)
        return st;
    if (p->kind == LUMEN_POOL_AVG && lumen__ox_attr(n, "dilations"))
        for (int i = 0; i < nsp; i++)
            if (s.dil[i] != 1)
                return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "dilated average pooling");
    if (lumen__ox_attr_int(n, "storage_order", 0) != 0 && n->n_out > 1 && n->out[1][0])
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "storage_order 1");
    apply_auto_pad(&s, x);
    p->ceil_mode = lumen__ox_attr_int(n, "ceil_mode", 0) != 0;
    p->count_include_pad = lumen__ox_attr_int(n, "count_include_pad", 0) != 0;
    for (int i = 0; i < nsp; i++) {
        p->k[i] = s.k[i], p->stride[i] = s.stride[i], p->dil[i] = s.dil[i];
        p->pad0[i] = s.pad0[i], p->pad1[i] = s.pad1[i];
    }
    return emit(c, n, &d, 1, &in);
}

static lumen_status map_batchnorm(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 5);
    if (st != LUMEN_OK)
        return st;
    if (lumen__ox_attr_int(n, "training_mode", 0) != 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "training_mode 1");
    if (c->opset < 9 && lumen__ox_attr_int(n, "spatial", 1) != 1)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "spatial 0");
    lumen_opdesc d = {.op = LUMEN_OP_BATCHNORM};
    d.p.norm.eps = lumen__ox_attr_float(n, "epsilon", 1e-5f);
    int in[5];
    for (int i = 0; i < 5; i++)
        in[i] = gv_of(c, n, i);
    return emit(c, n, &d, 5, in);
}

static lumen_status map_instancenorm(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 3);
    if (st != LUMEN_OK)
        return st;
    lumen_opdesc d = {.op = LUMEN_OP_INSTANCENORM};
    d.p.norm.eps = lumen__ox_attr_float(n, "epsilon", 1e-5f);
    int in[3] = {gv_of(c, n, 0), gv_of(c, n, 1), gv_of(c, n, 2)};
    return emit(c, n, &d, 3, in);
}

static lumen_status map_layernorm(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 2);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = shape_of(c, n, 0);
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", -1), x->ndim, &axis)) != LUMEN_OK)
        return st;
    lumen_opdesc d = {.op = LUMEN_OP_LAYERNORM};
    d.p.axes.axis = axis;
    d.p.axes.axis_end = x->ndim;
    d.p.axes.eps = lumen__ox_attr_float(n, "epsilon", 1e-5f);
    int in[3] = {gv_of(c, n, 0), gv_of(c, n, 1), gv_of(c, n, 2)};
    return emit(c, n, &d, 3, in);
}

static lumen_status map_argmax(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    if (lumen__ox_attr_int(n, "select_last_index", 0) != 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "select_last_index 1");
    lumen_opdesc d = {.op = LUMEN_OP_ARGMAX};
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), shape_of(c, n, 0)->ndim,
                             &axis)) != LUMEN_OK)
        return st;
    d.p.argmax.axis = axis;
    d.p.argmax.keepdims = lumen__ox_attr_int(n, "keepdims", 1) != 0;
    int in = gv_of(c, n, 0);
    st = emit(c, n, &d, 1, &in);
    ox_val *v = lumen__ox_out(c, n, 0);
    if (st == LUMEN_OK && v)
        v->is_int = 1; /* int64 indices in ONNX: only a graph output may read them */
    return st;
}

/* ---- layout ---- */

static lumen_status map_concat(ox_ctx *c, ox_node *n)
{
    int ins[OX_MAX_IO], k = 0;
    const lumen_shape *s0 = NULL;
    for (int i = 0; i < n->n_in; i++) {
        if (!n->in[i])
            continue;
        const lumen_shape *s = shape_of(c, n, i);
        if (!s0)
            s0 = s;
        if (lumen_shape_numel(s) == 0)
            continue;
        if ((ins[k++] = gv_of(c, n, i)) < 0)
            return c->st;
    }
    if (!s0)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "no inputs");
    lumen_opdesc d = {.op = LUMEN_OP_CONCAT};
    lumen_status st;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), s0->ndim, &d.p.concat.axis)) !=
        LUMEN_OK)
        return st;
    if (k == 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "all inputs are empty");
    if (k == 1)
        return lumen__ox_set_gv(c, n, 0, ins[0]);
    /* at most LUMEN_MAX_IN per op: concatenate in chunks */
    int acc = -1, done = 0, part = 0;
    while (done < k) {
        int chunk[LUMEN_MAX_IN], m = 0;
        if (acc >= 0)
            chunk[m++] = acc;
        while (m < LUMEN_MAX_IN && done < k)
            chunk[m++] = ins[done++];
        char suffix[16] = "";
        if (done < k)
            snprintf(suffix, sizeof suffix, ".part%d", part++);
        acc = lumen__ox_op(c, n, suffix, &d, m, chunk);
        if (acc < 0)
            return c->st;
    }
    return lumen__ox_set_gv(c, n, 0, acc);
}

static lumen_status map_split(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = shape_of(c, n, 0);
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), x->ndim, &axis)) != LUMEN_OK)
        return st;
    int64_t sizes[OX_MAX_IO];
    int ns = -1;
    if (c->opset < 13) {
        ns = lumen__ox_attr_ints(n, "split", sizes, OX_MAX_IO);
    } else if (n->n_in > 1 && n->in[1]) {
        if ((st = lumen__ox_const_ints(c, n, 1, sizes, OX_MAX_IO, &ns)) != LUMEN_OK)
            return st;
    }
    if (ns == -2 || (ns >= 0 && ns != n->n_out) || n->n_out < 1)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "split sizes do not match %d outputs", n->n_out);
    int64_t dim = x->d[axis], total = 0;
    if (ns < 0) {
        if (dim % n->n_out)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "axis extent %lld does not split into %d",
                                  (long long)dim, n->n_out);
        for (int j = 0; j < n->n_out; j++)
            sizes[j] = dim / n->n_out;
    }
    for (int j = 0; j < n->n_out; j++) {
        if (sizes[j] < 0 || sizes[j] > dim - total)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "split sizes exceed the axis extent %lld",
                                  (long long)dim);
        total += sizes[j];
    }
    if (total != dim)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "split sizes sum to %lld, axis extent %lld",
                              (long long)total, (long long)dim);
    int in = gv_of(c, n, 0);
    int64_t off = 0;
    for (int j = 0; j < n->n_out; j++) {
        lumen_opdesc d = {.op = LUMEN_OP_SLICE};
        for (int i = 0; i < x->ndim; i++)
            d.p.slice.step[i] = 1, d.p.slice.count[i] = x->d[i];
        d.p.slice.start[axis] = sizes[j] ? off : 0;
        d.p.slice.count[axis] = sizes[j];
        off += sizes[j];
        if (!n->out[j][0])
            continue;
        char suffix[16];
        snprintf(suffix, sizeof suffix, ".%d", j);
        int y = lumen__ox_op(c, n, suffix, &d, 1, &in);
        if ((st = lumen__ox_set_gv(c, n, j, y)) != LUMEN_OK)
            return st;
    }
    return LUMEN_OK;
}

static lumen_status map_slice(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = shape_of(c, n, 0);
    lumen_opdesc d = {.op = LUMEN_OP_SLICE};
    if ((st = lumen__ox_slice_params(c, n, x, &d.p.slice)) != LUMEN_OK)
        return st;
    int whole = 1;
    for (int i = 0; i < x->ndim; i++)
        whole &= d.p.slice.start[i] == 0 && d.p.slice.step[i] == 1 && d.p.slice.count[i] == x->d[i];
    if (whole)
        return lumen__ox_alias(c, n, 0, n->in[0]);
    int in = gv_of(c, n, 0);
    return emit(c, n, &d, 1, &in);
}

/* The ONNX extents of input i (its wide shape when above LUMEN_MAX_DIMS). */
static int onnx_extents(ox_ctx *c, ox_node *n, int i, int64_t *d)
{
    ox_val *v = n->in[i];
    if (v->wide_ndim) {
        memcpy(d, v->wide, (size_t)v->wide_ndim * sizeof *d);
        return v->wide_ndim;
    }
    const lumen_shape *s = lumen__ox_shape(c, v);
    memcpy(d, s->d, (size_t)s->ndim * sizeof *d);
    return s->ndim;
}

/* Output 0 of n becomes graph value gv, with ONNX extents d[0..r) (wide when r > 6). */
static lumen_status set_gv_wide(ox_ctx *c, ox_node *n, int gv, const int64_t *d, int r)
{
    lumen_status st = lumen__ox_set_gv(c, n, 0, gv);
    ox_val *v = lumen__ox_out(c, n, 0);
    if (st == LUMEN_OK && v && r > LUMEN_MAX_DIMS) {
        v->wide_ndim = r;
        memcpy(v->wide, d, (size_t)r * sizeof *d);
    }
    return st;
}

/* The extents d[0..r) with extent-1 axes dropped when r > LUMEN_MAX_DIMS. */
static lumen_status squeezed(ox_ctx *c, ox_node *n, const int64_t *d, int r, lumen_shape *s)
{
    s->ndim = 0;
    for (int i = 0; i < r; i++) {
        if (r > LUMEN_MAX_DIMS && d[i] == 1)
            continue;
        if (s->ndim == LUMEN_MAX_DIMS)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                                  "rank %d with more than %d "
                                  "extents above 1",
                                  r, LUMEN_MAX_DIMS);
        s->d[s->ndim++] = d[i];
    }
    return LUMEN_OK;
}

static lumen_status map_reshape(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    int64_t x[OX_MAX_RANK], o[OX_MAX_RANK];
    int xr = onnx_extents(c, n, 0, x), r;
    lumen_shape s;
    if ((st = lumen__ox_reshape_shape(c, n, x, xr, o, &r)) != LUMEN_OK ||
        (st = squeezed(c, n, o, r, &s)) != LUMEN_OK)
        return st;
    int in = n->in[0]->wide_ndim ? n->in[0]->gv : gv_of(c, n, 0);
    return set_gv_wide(c, n, lumen__ox_reshape(c, n, "", in, &s), o, r);
}

static lumen_status map_transpose(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    int64_t x[OX_MAX_RANK], perm[OX_MAX_RANK], o[OX_MAX_RANK];
    int r = onnx_extents(c, n, 0, x);
    int np = lumen__ox_attr_ints(n, "perm", perm, OX_MAX_RANK);
    if (np == -2 || (np >= 0 && np != r))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "perm does not match rank %d", r);
    unsigned seen = 0;
    for (int i = 0; i < r; i++) {
        int64_t p = np < 0 ? r - 1 - i : perm[i];
        if (p < 0 || p >= r || (seen >> p & 1))
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "perm is not a permutation of %d axes", r);
        seen |= 1u << p;
        perm[i] = p;
        o[i] = x[p];
    }
    /* on a wide value the graph holds only the axes of extent > 1: permute those */
    int sq[OX_MAX_RANK], k = 0;
    for (int i = 0; i < r; i++)
        sq[i] = r <= LUMEN_MAX_DIMS || x[i] != 1 ? k++ : -1;
    lumen_opdesc d = {.op = LUMEN_OP_TRANSPOSE};
    int m = 0, identity = 1;
    for (int i = 0; i < r; i++)
        if (sq[perm[i]] >= 0) {
            identity &= sq[perm[i]] == m;
            d.p.transpose.perm[m++] = sq[perm[i]];
        }
    if (k > LUMEN_MAX_DIMS)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "rank %d with more than %d extents "
                              "above 1",
                              r, LUMEN_MAX_DIMS);
    int in = n->in[0]->wide_ndim ? n->in[0]->gv : gv_of(c, n, 0);
    int y = identity ? in : lumen__ox_op(c, n, "", &d, 1, &in);
    if (identity && r <= LUMEN_MAX_DIMS && y >= 0) {
        lumen_shape s = {r, {0}};
        memcpy(s.d, o, (size_t)r * sizeof o[0]);
        y = lumen__ox_reshape(c, n, "", y, &s);
    }
    return set_gv_wide(c, n, y, o, r);
}

static lumen_status map_pad(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    char mode[32];
    lumen__ox_attr_str(n, "mode", "constant", mode, sizeof mode);
    if (strcmp(mode, "constant"))
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "mode '%s' (constant only)", mode);
    const lumen_shape *x = shape_of(c, n, 0);
    int64_t pads[2 * LUMEN_MAX_DIMS];
    int np;
    lumen_opdesc d = {.op = LUMEN_OP_PAD};
    if (c->opset < 11) {
        np = lumen__ox_attr_ints(n, "pads", pads, 2 * LUMEN_MAX_DIMS);
        d.p.pad.value = lumen__ox_attr_float(n, "value", 0.0f);
    } else {
        if ((st = lumen__ox_const_ints(c, n, 1, pads, 2 * LUMEN_MAX_DIMS, &np)) != LUMEN_OK)
            return st;
        if (n->n_in > 2 && n->in[2] &&
            (st = lumen__ox_const_float(c, n, 2, &d.p.pad.value)) != LUMEN_OK)
            return st;
        if (n->n_in > 3 && n->in[3])
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "axes input");
    }
    if (np != 2 * x->ndim)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "pads has %d entries for rank %d", np, x->ndim);
    for (int i = 0; i < x->ndim; i++) {
        d.p.pad.pad0[i] = pads[i];
        d.p.pad.pad1[i] = pads[x->ndim + i];
        if (pads[i] < 0 || pads[x->ndim + i] < 0)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "negative pads (cropping)");
        if (pads[i] > OX_INT_MAX || pads[x->ndim + i] > OX_INT_MAX)
            return lumen__ox_fail(c, n, LUMEN_ERANGE, "pads too large");
    }
    int in = gv_of(c, n, 0);
    return emit(c, n, &d, 1, &in);
}

static lumen_status map_resize(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 1);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = shape_of(c, n, 0);
    int r = x->ndim, upsample = !strcmp(n->p->op_type, "Upsample");
    char mode[32], coord[48], nearest[48];
    lumen__ox_attr_str(n, "mode", "nearest", mode, sizeof mode);
    lumen__ox_attr_str(n, "coordinate_transformation_mode",
                       upsample || c->opset < 11 ? "asymmetric" : "half_pixel", coord,
                       sizeof coord);
    lumen__ox_attr_str(n, "nearest_mode",
                       upsample || c->opset < 11 ? "floor" : "round_prefer_floor", nearest,
                       sizeof nearest);
    lumen_opdesc d = {.op = LUMEN_OP_RESIZE};
    lumen_resize_params *p = &d.p.resize;
    if (!strcmp(mode, "nearest"))
        p->mode = LUMEN_RESIZE_NEAREST;
    else if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear") || !strcmp(mode, "trilinear"))
        p->mode = LUMEN_RESIZE_LINEAR;
    else
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "mode '%s' (opset %d)", mode, c->opset);
    static const char *const coords[] = {"half_pixel", "align_corners", "asymmetric",
                                         "pytorch_half_pixel"};
    static const char *const nearests[] = {"floor", "round_prefer_floor", "round_prefer_ceil",
                                           "ceil"};
    p->coord = p->nearest = -1;
    for (int i = 0; i < 4; i++) {
        if (!strcmp(coord, coords[i]))
            p->coord = i;
        if (!strcmp(nearest, nearests[i]))
            p->nearest = i;
    }
    if (p->coord < 0 || p->nearest < 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "coordinate_transformation_mode '%s' / nearest_mode '%s' (opset %d)",
                              coord, nearest, c->opset);
    if (lumen__ox_attr_int(n, "exclude_outside", 0) != 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "exclude_outside 1");
    /* scales or sizes: attribute (Upsample 7-8), input 1 (Resize 10, Upsample 9), input 2 / 3 */
    double scales[LUMEN_MAX_DIMS];
    int64_t out[LUMEN_MAX_DIMS];
    int have_scales = 0;
    int si = upsample || c->opset < 11 ? 1 : 2;
    ox_val *sv = NULL, *zv = n->n_in > 3 ? n->in[3] : NULL;
    if (upsample && c->opset < 9) {
        const Onnx__AttributeProto *a = lumen__ox_attr(n, "scales");
        if (!a || a->n_floats != (size_t)r)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "scales must have %d entries", r);
        for (int i = 0; i < r; i++)
            scales[i] = a->floats[i];
        have_scales = 1;
    } else {
        sv = si < n->n_in ? n->in[si] : NULL;
        if (sv && !sv->host)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                                  "scales '%s' are not known at load "
                                  "time",
                                  sv->name);
        if (zv && !zv->host)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                                  "sizes '%s' are not known at load "
                                  "time",
                                  zv->name);
        if (zv && lumen_shape_numel(&zv->host->shape) > 0) {
            if (lumen_shape_numel(&zv->host->shape) != r)
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "sizes must have %d entries", r);
            for (int i = 0; i < r; i++)
                out[i] = lumen__ox_host_geti(zv->host, i);
        } else if (sv && lumen_shape_numel(&sv->host->shape) > 0) {
            if (lumen_shape_numel(&sv->host->shape) != r)
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "scales must have %d entries", r);
            for (int i = 0; i < r; i++)
                scales[i] = lumen__ox_host_get(sv->host, i);
            have_scales = 1;
        } else {
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "neither scales nor sizes given");
        }
    }
    for (int i = 0; have_scales && i < r; i++) {
        if (!(scales[i] > 0) || scales[i] > 1e6)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "scale %g on axis %d", scales[i], i);
        out[i] = (int64_t)floor((double)x->d[i] * scales[i] + 1e-9);
    }
    int first = r;
    for (int i = 0; i < r; i++) {
        if (out[i] < 1 || out[i] > OX_INT_MAX)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "output extent %lld on axis %d",
                                  (long long)out[i], i);
        if (first == r && (out[i] != x->d[i] || (have_scales && scales[i] != 1.0)))
            first = i;
    }
    if (first == r)
        return lumen__ox_alias(c, n, 0, n->in[0]);
    p->nsp = r - first;
    if (p->nsp > 3)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "resizes axis %d of a rank-%d tensor "
                              "(the last 3 axes only)",
                              first, r);
    for (int i = 0; i < p->nsp; i++) {
        p->out[i] = out[first + i];
        p->scale[i] = have_scales ? (float)scales[first + i] : 0.0f;
    }
    int in = gv_of(c, n, 0);
    return emit(c, n, &d, 1, &in);
}

/* Gather on a run-time tensor with constant indices: a scalar index or an arithmetic run. */
static lumen_status map_gather(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 2);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = shape_of(c, n, 0);
    ox_val *iv = n->in[1];
    if (!iv->host)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "indices computed at run time");
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), x->ndim, &axis)) != LUMEN_OK)
        return st;
    const ox_host *ih = iv->host;
    int64_t cnt = lumen_shape_numel(&ih->shape), dim = x->d[axis], idx[2] = {0, 0};
    if (ih->shape.ndim > 1 || cnt < 1)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "indices of rank %d", ih->shape.ndim);
    for (int64_t k = 0; k < cnt; k++) {
        int64_t v = lumen__ox_host_geti(ih, k);
        v = v < 0 ? v + dim : v;
        if (v < 0 || v >= dim)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "index %lld out of range [0, %lld)",
                                  (long long)lumen__ox_host_geti(ih, k), (long long)dim);
        if (k < 2)
            idx[k] = v;
        else if (v - lumen__ox_host_geti(ih, k - 1) != idx[1] - idx[0])
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "indices are not an arithmetic run");
    }
    int64_t step = cnt > 1 ? idx[1] - idx[0] : 1;
    if (step == 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "repeated indices");
    lumen_opdesc d = {.op = LUMEN_OP_SLICE};
    for (int i = 0; i < x->ndim; i++)
        d.p.slice.step[i] = 1, d.p.slice.count[i] = x->d[i];
    d.p.slice.start[axis] = idx[0];
    d.p.slice.step[axis] = step;
    d.p.slice.count[axis] = cnt;
    int in = gv_of(c, n, 0);
    int y = lumen__ox_op(c, n, ih->shape.ndim == 0 ? ".slice" : "", &d, 1, &in);
    if (y >= 0 && ih->shape.ndim == 0) {
        lumen_shape o = {0, {0}};
        for (int i = 0; i < x->ndim; i++)
            if (i != axis)
                o.d[o.ndim++] = x->d[i];
        y = lumen__ox_reshape(c, n, "", y, &o);
    }
    return lumen__ox_set_gv(c, n, 0, y);
}

/* Expand on a run-time tensor: x + zeros(shape), which broadcasts both ways. */
static lumen_status map_expand(ox_ctx *c, ox_node *n)
{
    lumen_status st = need_inputs(c, n, 2);
    if (st != LUMEN_OK)
        return st;
    int64_t v[LUMEN_MAX_DIMS];
    int nv;
    if ((st = lumen__ox_const_ints(c, n, 1, v, LUMEN_MAX_DIMS, &nv)) != LUMEN_OK)
        return st;
    lumen_shape s = {nv, {0}}, o;
    for (int i = 0; i < nv; i++) {
        if (v[i] < 0)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "negative extent");
        s.d[i] = v[i];
    }
    char err[LUMEN_ERR_MAX];
    if (lumen__broadcast(shape_of(c, n, 0), &s, &o, err) != LUMEN_OK)
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "%s", err);
    if (lumen_shape_equal(&o, shape_of(c, n, 0)))
        return lumen__ox_alias(c, n, 0, n->in[0]);
    int64_t k = lumen_shape_numel(&s);
    if (k < 0 || k > c->max_elements)
        return lumen__ox_fail(c, n, LUMEN_ERANGE, "expand target too large");
    float *zeros = calloc((size_t)(k ? k : 1), sizeof(float));
    if (!zeros)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    int z = lumen__ox_const(c, n, ".zeros", &s, zeros);
    free(zeros);
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    d.p.binary.kind = LUMEN_BIN_ADD;
    int in[2] = {gv_of(c, n, 0), z};
    return emit(c, n, &d, 2, in);
}

/* ---- the table ---- */

static const ox_op ox_ops[] = {
    {"Conv", 1, 17, map_conv},
    {"ConvTranspose", 1, 17, map_conv},
    {"Gemm", 7, 17, map_gemm},
    {"MatMul", 1, 17, map_matmul},
    {"Add", 1, 17, map_binary},
    {"Sub", 1, 17, map_binary},
    {"Mul", 1, 17, map_binary},
    {"Div", 1, 17, map_binary},
    {"Pow", 1, 17, map_binary},
    {"Max", 6, 17, map_binary},
    {"Min", 6, 17, map_binary},
    {"Sum", 6, 17, map_binary},
    {"Relu", 6, 17, map_unary},
    {"LeakyRelu", 6, 17, map_unary},
    {"Sigmoid", 6, 17, map_unary},
    {"Tanh", 6, 17, map_unary},
    {"HardSigmoid", 6, 17, map_unary},
    {"HardSwish", 14, 17, map_unary},
    {"Exp", 6, 17, map_unary},
    {"Log", 6, 17, map_unary},
    {"Sqrt", 6, 17, map_unary},
    {"Erf", 9, 17, map_unary},
    {"Neg", 6, 17, map_unary},
    {"Abs", 6, 17, map_unary},
    {"Reciprocal", 6, 17, map_unary},
    {"Clip", 6, 17, map_clip},
    {"Softmax", 1, 17, map_softmax},
    {"LogSoftmax", 1, 17, map_softmax},
    {"ReduceMean", 1, 17, map_reduce},
    {"ReduceSum", 1, 17, map_reduce},
    {"ReduceMax", 1, 17, map_reduce},
    {"MaxPool", 1, 17, map_pool},
    {"AveragePool", 1, 17, map_pool},
    {"GlobalAveragePool", 1, 17, map_pool},
    {"GlobalMaxPool", 1, 17, map_pool},
    {"BatchNormalization", 7, 17, map_batchnorm},
    {"InstanceNormalization", 6, 17, map_instancenorm},
    {"LayerNormalization", 17, 17, map_layernorm},
    {"Concat", 4, 17, map_concat},
    {"Split", 2, 17, map_split},
    {"Slice", 1, 17, map_slice},
    {"Reshape", 5, 17, map_reshape},
    {"Flatten", 1, 17, map_reshape},
    {"Squeeze", 1, 17, map_reshape},
    {"Unsqueeze", 1, 17, map_reshape},
    {"Transpose", 1, 17, map_transpose},
    {"Pad", 2, 17, map_pad},
    {"Resize", 10, 17, map_resize},
    {"Upsample", 7, 9, map_resize},
    {"Identity", 1, 17, map_identity},
    {"Dropout", 7, 17, map_identity},
    {"Cast", 6, 17, map_identity},
    {"ArgMax", 1, 17, map_argmax},
    {"Gather", 1, 17, map_gather},
    {"Expand", 8, 17, map_expand},
    /* evaluated on the host only (onnx_fold.c) */
    {"Constant", 1, 17, map_host_only},
    {"Shape", 1, 17, map_host_only},
    {"Size", 1, 17, map_host_only},
    {"ConstantOfShape", 9, 17, map_host_only},
    {"Range", 11, 17, map_host_only},
    {"Equal", 7, 17, map_host_only},
    {"Less", 7, 17, map_host_only},
    {"Greater", 7, 17, map_host_only},
    {"Not", 1, 17, map_host_only},
    {"And", 7, 17, map_host_only},
    {"Or", 7, 17, map_host_only},
    {"Mod", 10, 17, map_host_only},
    {"Where", 9, 17, map_host_only},
    {"Floor", 6, 17, map_host_only},
    {"Ceil", 6, 17, map_host_only},
};

const ox_op *lumen__ox_find_op(const char *type, int opset, int *known)
{
    if (known)
        *known = 0;
    for (size_t i = 0; i < sizeof ox_ops / sizeof ox_ops[0]; i++) {
        if (strcmp(ox_ops[i].type, type))
            continue;
        if (known)
            *known = 1;
        if (opset >= ox_ops[i].since && opset <= ox_ops[i].until)
            return &ox_ops[i];
    }
    return NULL;
}
