/*
 * ops_quant.c - the quantisation ops, computed in float32 (lumen has no integer arithmetic on
 * the device): QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear, as the
 * quantise-dequantise (QDQ) pairs of quantised exports use them, and the integer products
 * MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv (see their section).
 *
 *     QuantizeLinear    y = clip(round_half_even(x / scale) + zero_point, lo, hi)
 *     DequantizeLinear  y = (x - zero_point) * scale
 *     DynamicQuantizeLinear  scale = (max(0, max x) - min(0, min x)) / 255,
 *                       zero_point = clip(round(-min(0, min x) / scale), 0, 255), y as above
 * [lo, hi] is the zero point's type range: uint8 (also without a zero point) or int8. Scale and
 * zero point are per tensor or, for a 1-d scale, per slice along 'axis'. Every value is exact
 * in float (integers below 2^24). A quantised tensor computed at run time is a float tensor
 * holding integers, marked as an ONNX integer value: DequantizeLinear (and graph outputs) read
 * it. With every input known at load time the op is folded on the host.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "onnx/map.h"

/* The range of zero point v's type (absent: uint8). A zero point computed at run time must
 * be an integer value of known type (a Cast's output). */
static lumen_status zp_range(ox_ctx *c, ox_node *n, const ox_val *v, int dequant, float *lo,
                             float *hi)
{
    int dt = !v ? ONNX__TENSOR_PROTO__DATA_TYPE__UINT8 : v->host ? v->host->dtype : v->dtype;
    if (v && !v->host && (!v->is_int || v->gv < 0 || !v->dtype))
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "zero point '%s' computed at run time without a known integer type",
                              v->name);
    if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__UINT8)
        *lo = 0, *hi = 255;
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT8)
        *lo = -128, *hi = 127;
    else if (dequant && dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
        *lo = -2147483648.0f, *hi = 2147483647.0f;
    else
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "zero point of ONNX type %d", dt);
    return LUMEN_OK;
}

/* Checks scale (input 1) and zero point (input 2, may be absent) against x: one value each, or
 * one per slice along axis. *per_axis: 1 for the latter. */
static lumen_status check_params(ox_ctx *c, ox_node *n, const lumen_shape *x, int *axis,
                                 int *per_axis)
{
    const lumen_shape *s = lumen__ox_in_shape(c, n, 1), *z = lumen__ox_in_shape(c, n, 2);
    int64_t ns = lumen_shape_numel(s);
    *per_axis = s->ndim == 1 && ns != 1;
    *axis = 0;
    lumen_status st = *per_axis
                          ? lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 1), x->ndim, axis)
                          : LUMEN_OK;
    if (st != LUMEN_OK)
        return st;
    if ((*per_axis && (x->ndim <= *axis || x->d[*axis] != ns)) || (!*per_axis && ns != 1))
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "scale of %lld values for axis %d", (long long)ns,
                              *axis);
    if (z && lumen_shape_numel(z) != ns)
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "zero point of %lld values, scale of %lld",
                              (long long)lumen_shape_numel(z), (long long)ns);
    return LUMEN_OK;
}

/* Graph value v broadcast along axis of a rank-r tensor: [k] -> [1, .., k, .., 1], or a scalar. */
static int along(ox_ctx *c, ox_node *n, const char *sfx, int v, int per_axis, int axis, int r,
                 int64_t k)
{
    lumen_shape s = {0, {0}};
    if (per_axis) {
        s.ndim = r;
        for (int i = 0; i < r; i++)
            s.d[i] = i == axis ? k : 1;
    }
    return v < 0 ? -1 : lumen__ox_reshape(c, n, sfx, v, &s);
}

/* Input i as a graph value; a run-time integer value (quantised data, a zero point) is read as
 * the float tensor holding its integers. */
static int q_in(ox_ctx *c, ox_node *n, int i)
{
    ox_val *v = n->in[i];
    return !v->host && v->is_int && v->gv >= 0 ? v->gv : lumen__ox_in(c, n, i);
}

static int q_bin(ox_ctx *c, ox_node *n, const char *sfx, int kind, lumen_actdesc act, int a, int b)
{
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    d.p.binary.kind = kind;
    d.p.binary.act = act;
    int in[2] = {a, b};
    return a < 0 || b < 0 ? -1 : lumen__ox_op(c, n, sfx, &d, 2, in);
}

static int q_un(ox_ctx *c, ox_node *n, const char *sfx, lumen_act act, float a, float b, int x)
{
    lumen_opdesc d = lumen_opdesc_unary(act);
    d.p.unary.act.a = a, d.p.unary.act.b = b;
    return x < 0 ? -1 : lumen__ox_op(c, n, sfx, &d, 1, &x);
}

static lumen_actdesc clip(float lo, float hi)
{
    lumen_actdesc a = {LUMEN_ACT_CLIP, lo, hi};
    return a;
}

static const lumen_actdesc no_act = {LUMEN_ACT_NONE, 0, 0};

/* Index of the scale / zero point for flat element k of x. */
static int64_t param_at(const lumen_shape *x, int per_axis, int axis, int64_t k)
{
    if (!per_axis)
        return 0;
    int64_t inner = 1;
    for (int i = axis + 1; i < x->ndim; i++)
        inner *= x->d[i];
    return k / inner % x->d[axis];
}

static lumen_status map_quantize(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    ox_val *zv = n->n_in > 2 ? n->in[2] : NULL;
    int axis, per;
    float lo = 0, hi = 255;
    lumen_status st = zp_range(c, n, zv, 0, &lo, &hi);
    if (st == LUMEN_OK)
        st = check_params(c, n, x, &axis, &per);
    if (st != LUMEN_OK)
        return st;
    if (n->in[0]->host && n->in[1]->host && (!zv || zv->host)) { /* fold */
        ox_host *h = lumen__ox_host_new(c, n, 1, x);
        for (int64_t k = 0; h && k < lumen_shape_numel(x); k++) {
            int64_t j = param_at(x, per, axis, k);
            double v = nearbyint((double)(float)(lumen__ox_host_get(n->in[0]->host, k) /
                                                 lumen__ox_host_get(n->in[1]->host, j)));
            v += zv ? lumen__ox_host_get(zv->host, j) : 0;
            h->i[k] = (int64_t)(v != v ? 0 : v < lo ? lo : v > hi ? hi : v);
        }
        if (h)
            h->dtype = zv ? zv->host->dtype : ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
        return lumen__ox_set_host(c, n, 0, h);
    }
    int64_t k = per ? x->d[axis] : 1;
    int s = along(c, n, ".scale", lumen__ox_in(c, n, 1), per, axis, x->ndim, k);
    int q = q_un(c, n, ".round", LUMEN_ACT_ROUND, 0, 0,
                 q_bin(c, n, ".div", LUMEN_BIN_DIV, no_act, lumen__ox_in(c, n, 0), s));
    int y = zv ? q_bin(c, n, "", LUMEN_BIN_ADD, clip(lo, hi), q,
                       along(c, n, ".zp", q_in(c, n, 2), per, axis, x->ndim, k))
               : q_un(c, n, "", LUMEN_ACT_CLIP, lo, hi, q);
    st = lumen__ox_set_gv(c, n, 0, y);
    ox_val *v = lumen__ox_out(c, n, 0);
    if (st == LUMEN_OK && v)
        v->is_int = 1, v->dtype = lo < 0 ? ONNX__TENSOR_PROTO__DATA_TYPE__INT8
                                         : ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
    return st;
}

static lumen_status map_dequantize(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    ox_val *xv = n->in[0], *zv = n->n_in > 2 ? n->in[2] : NULL;
    int axis, per;
    float lo = 0, hi = 255;
    lumen_status st = zp_range(c, n, zv, 1, &lo, &hi);
    if (st == LUMEN_OK)
        st = check_params(c, n, x, &axis, &per);
    if (st != LUMEN_OK)
        return st;
    if (xv->host && n->in[1]->host && (!zv || zv->host)) { /* fold */
        ox_host *h = lumen__ox_host_new(c, n, 0, x);
        for (int64_t k = 0; h && k < lumen_shape_numel(x); k++) {
            int64_t j = param_at(x, per, axis, k);
            double z = zv ? lumen__ox_host_get(zv->host, j) : 0;
            h->f[k] = (float)((lumen__ox_host_get(xv->host, k) - z) *
                              lumen__ox_host_get(n->in[1]->host, j));
        }
        return lumen__ox_set_host(c, n, 0, h);
    }
    int64_t k = per ? x->d[axis] : 1;
    /* a quantised run-time tensor (QuantizeLinear's output) is read as the floats it is */
    int xg = q_in(c, n, 0);
    int s = along(c, n, ".scale", lumen__ox_in(c, n, 1), per, axis, x->ndim, k);
    if (zv)
        xg = q_bin(c, n, ".sub", LUMEN_BIN_SUB, no_act, xg,
                   along(c, n, ".zp", q_in(c, n, 2), per, axis, x->ndim, k));
    return lumen__ox_set_gv(c, n, 0, q_bin(c, n, "", LUMEN_BIN_MUL, no_act, xg, s));
}

static lumen_status map_dynamic_quantize(ox_ctx *c, ox_node *n)
{
    const lumen_shape *xs = lumen__ox_in_shape(c, n, 0);
    int x = lumen__ox_in(c, n, 0);
    lumen_shape sc = {0, {0}};
    float zero = 0.0f, q255 = 255.0f;
    int z = lumen__ox_const(c, n, ".zero", &sc, &zero);
    lumen_opdesc red = {.op = LUMEN_OP_REDUCE};
    red.p.reduce.kind = LUMEN_REDUCE_MAX;
    red.p.reduce.axes = (1u << xs->ndim) - 1;
    if (xs->ndim < 1 || lumen_shape_numel(xs) < 1)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "input of no elements");
    int mx = x < 0 ? -1 : lumen__ox_op(c, n, ".max", &red, 1, &x);
    int nx = q_un(c, n, ".negx", LUMEN_ACT_NEG, 0, 0, x);
    int mn = nx < 0 ? -1 : lumen__ox_op(c, n, ".negmin", &red, 1, &nx); /* -min x */
    mx = q_bin(c, n, ".max0", LUMEN_BIN_MAX, no_act, mx, z);
    mn = q_bin(c, n, ".min0", LUMEN_BIN_MAX, no_act, mn, z); /* -min(0, min x) */
    int scale = q_bin(c, n, ".scale", LUMEN_BIN_DIV, no_act,
                      q_bin(c, n, ".range", LUMEN_BIN_ADD, no_act, mx, mn),
                      lumen__ox_const(c, n, ".255", &sc, &q255));
    int zp = q_un(c, n, ".zp", LUMEN_ACT_CLIP, 0, 255,
                  q_un(c, n, ".zpr", LUMEN_ACT_ROUND, 0, 0,
                       q_bin(c, n, ".zpd", LUMEN_BIN_DIV, no_act, mn, scale)));
    int y = q_bin(c, n, "", LUMEN_BIN_ADD, clip(0, 255),
                  q_un(c, n, ".round", LUMEN_ACT_ROUND, 0, 0,
                       q_bin(c, n, ".div", LUMEN_BIN_DIV, no_act, x, scale)),
                  zp);
    int outs[3] = {y, scale, zp};
    for (int j = 0; j < 3 && j < n->n_out; j++) {
        ox_val *v = lumen__ox_out(c, n, j);
        if (!v)
            continue;
        lumen_status st = lumen__ox_set_gv(c, n, j, outs[j]);
        if (st != LUMEN_OK)
            return st;
        v->is_int = j != 1;
        v->dtype = j != 1 ? ONNX__TENSOR_PROTO__DATA_TYPE__UINT8 : 0;
    }
    return c->st;
}

/* ---- integer products: MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv ----
 *
 * The integer product is computed as a float MATMUL or CONV of (data - zero point): exact while
 * the sums stay below 2^24 (ONNX accumulates in int32), which 8-bit data over reductions of a
 * few hundred terms keeps. The QLinear ops then requantise: y = clip(round(acc * m) + y_zp)
 * with m = a_scale * b_scale / y_scale, as ONNX Runtime does. */

/* Graph value v of shape vs broadcast over a rank-r result: one value as a scalar, a vector along
 * 'axis'. */
static int bc(ox_ctx *c, ox_node *n, const char *sfx, int v, const lumen_shape *vs, int r, int axis)
{
    int64_t k = lumen_shape_numel(vs);
    return along(c, n, sfx, v, k != 1, axis, r, k);
}

/* Input i (integer data) less the zero point of input z (absent or missing: none), the zero
 * point broadcast along 'axis' of the data's rank. */
static int centered(ox_ctx *c, ox_node *n, const char *sfx, int i, int z, int axis)
{
    const lumen_shape *xs = lumen__ox_in_shape(c, n, i), *zs = lumen__ox_in_shape(c, n, z);
    int x = q_in(c, n, i);
    if (!zs)
        return x;
    char s2[32];
    snprintf(s2, sizeof s2, "%s.zp", sfx);
    if (lumen_shape_numel(zs) != 1 &&
        (zs->ndim != 1 || axis >= xs->ndim || xs->d[axis] != zs->d[0])) {
        lumen__ox_fail(c, n, LUMEN_ESHAPE, "zero point of input %d does not fit it", i);
        return -1;
    }
    return q_bin(c, n, sfx, LUMEN_BIN_SUB, no_act, x,
                 bc(c, n, s2, q_in(c, n, z), zs, xs->ndim, axis));
}

/* Checks that scale and zero point inputs s, z (z may be absent) are one value or 'k' values. */
static lumen_status check_qparams(ox_ctx *c, ox_node *n, int s, int z, int64_t k)
{
    for (int i = 0; i < 2; i++) {
        const lumen_shape *p = lumen__ox_in_shape(c, n, i ? z : s);
        if (p && lumen_shape_numel(p) != 1 && (p->ndim != 1 || p->d[0] != k))
            return lumen__ox_fail(c, n, LUMEN_ESHAPE, "input %d must hold 1 or %lld values",
                                  i ? z : s, (long long)k);
    }
    return LUMEN_OK;
}

/* Marks output 0 of n an integer value of type dt. */
static lumen_status set_int_out(ox_ctx *c, ox_node *n, int y, int dt)
{
    lumen_status st = lumen__ox_set_gv(c, n, 0, y);
    ox_val *v = lumen__ox_out(c, n, 0);
    if (st == LUMEN_OK && v)
        v->is_int = 1, v->dtype = dt;
    return st;
}

/* acc * (scale a * scale b / scale y), rounded, plus y's zero point, clipped to its type. The
 * scales' inputs: a (1 value), b (1 or per output channel along axis 'ch' of acc's rank r). */
static lumen_status requantise(ox_ctx *c, ox_node *n, int acc, int r, int ch, int ia, int ib,
                               int iy, int iyz)
{
    float lo = 0, hi = 255;
    lumen_status st = zp_range(c, n, n->in[iyz], 0, &lo, &hi);
    if (st != LUMEN_OK)
        return st;
    int sa = bc(c, n, ".sa", lumen__ox_in(c, n, ia), lumen__ox_in_shape(c, n, ia), r, ch);
    int sb = bc(c, n, ".sb", lumen__ox_in(c, n, ib), lumen__ox_in_shape(c, n, ib), r, ch);
    int sy = bc(c, n, ".sy", lumen__ox_in(c, n, iy), lumen__ox_in_shape(c, n, iy), r, ch);
    int m = q_bin(c, n, ".m", LUMEN_BIN_DIV, no_act,
                  q_bin(c, n, ".sab", LUMEN_BIN_MUL, no_act, sa, sb), sy);
    int q = q_un(c, n, ".round", LUMEN_ACT_ROUND, 0, 0,
                 q_bin(c, n, ".scaled", LUMEN_BIN_MUL, no_act, acc, m));
    int y = q_bin(c, n, "", LUMEN_BIN_ADD, clip(lo, hi), q,
                  bc(c, n, ".yzp", q_in(c, n, iyz), lumen__ox_in_shape(c, n, iyz), r, ch));
    return set_int_out(c, n, y,
                       lo < 0 ? ONNX__TENSOR_PROTO__DATA_TYPE__INT8
                              : ONNX__TENSOR_PROTO__DATA_TYPE__UINT8);
}

/* MatMulInteger (A, B, a_zp?, b_zp?) and QLinearMatMul (A, as, azp, B, bs, bzp, ys, yzp):
 * A [..., M, K] (its zero point: 1 value or one per row; its scale: 1 value), B [..., K, N]
 * (1 value or one per column), batches broadcast. */
static lumen_status map_qmatmul(ox_ctx *c, ox_node *n)
{
    int ql = !strcmp(n->p->op_type, "QLinearMatMul");
    int ia = 0, ib = ql ? 3 : 1, iaz = ql ? 2 : 2, ibz = ql ? 5 : 3;
    lumen_status st = lumen__ox_need(c, n, ql ? 8 : 2);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *a = lumen__ox_in_shape(c, n, ia), *b = lumen__ox_in_shape(c, n, ib);
    if (a->ndim < 2 || b->ndim < 2 || a->d[a->ndim - 1] != b->d[b->ndim - 2])
        return lumen__ox_fail(c, n, LUMEN_ESHAPE,
                              "A and B must be (batches of) matrices [M, K] and [K, N]");
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    if (ql && ((st = check_qparams(c, n, 1, 2, a->d[a->ndim - 2])) != LUMEN_OK ||
               (st = check_qparams(c, n, 4, 5, b->d[b->ndim - 1])) != LUMEN_OK ||
               (st = check_qparams(c, n, 6, 7, 1)) != LUMEN_OK))
        return st;
    lumen_opdesc d = {.op = LUMEN_OP_MATMUL};
    int in[2] = {centered(c, n, ".a", ia, iaz, a->ndim - 2),
                 centered(c, n, ".b", ib, ibz, b->ndim - 1)};
    int acc = in[0] < 0 || in[1] < 0 ? -1 : lumen__ox_op(c, n, ql ? ".acc" : "", &d, 2, in);
    if (!ql)
        return set_int_out(c, n, acc, ONNX__TENSOR_PROTO__DATA_TYPE__INT32);
    if (lumen_shape_numel(lumen__ox_in_shape(c, n, 1)) != 1)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "a per-row scale of A");
    return requantise(c, n, acc, r, r - 1, 1, 4, 6, 7);
}

/* ConvInteger (x, w, x_zp?, w_zp?) and QLinearConv (x, xs, xzp, w, ws, wzp, ys, yzp, B?): Conv's
 * attributes; x's zero point and scale one value, w's one or one per output channel. */
static lumen_status map_qconv(ox_ctx *c, ox_node *n)
{
    int ql = !strcmp(n->p->op_type, "QLinearConv");
    int ix = 0, iw = ql ? 3 : 1, ixz = 2, iwz = ql ? 5 : 3;
    lumen_status st = lumen__ox_need(c, n, ql ? 8 : 2);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = lumen__ox_in_shape(c, n, ix), *w = lumen__ox_in_shape(c, n, iw);
    lumen_opdesc d;
    if ((st = lumen__ox_conv_desc(c, n, x, w, &d)) != LUMEN_OK)
        return st;
    if (ql && ((st = check_qparams(c, n, 1, 2, 1)) != LUMEN_OK ||
               (st = check_qparams(c, n, 4, 5, w->d[0])) != LUMEN_OK ||
               (st = check_qparams(c, n, 6, 7, 1)) != LUMEN_OK))
        return st;
    if (!ql && n->n_in > 2 && n->in[2] && lumen_shape_numel(lumen__ox_in_shape(c, n, 2)) != 1)
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "x_zero_point must be one value");
    int in[3] = {centered(c, n, ".x", ix, ixz, 1), centered(c, n, ".w", iw, iwz, 0), -1};
    if (ql && n->n_in > 8 && n->in[8]) { /* B: int32, in the accumulator's scale */
        const lumen_shape *bs = lumen__ox_in_shape(c, n, 8);
        if (bs->ndim != 1 || bs->d[0] != w->d[0])
            return lumen__ox_fail(c, n, LUMEN_ESHAPE, "B must hold %lld values",
                                  (long long)w->d[0]);
        in[2] = q_in(c, n, 8);
    }
    int acc = in[0] < 0 || in[1] < 0 || in[2] < -1
                  ? -1
                  : lumen__ox_op(c, n, ql ? ".acc" : "", &d, in[2] >= 0 ? 3 : 2, in);
    if (!ql)
        return set_int_out(c, n, acc, ONNX__TENSOR_PROTO__DATA_TYPE__INT32);
    return requantise(c, n, acc, x->ndim, 1, 1, 4, 6, 7);
}

const ox_op lumen__ox_ops_quant[] = {
    {"MatMulInteger", 10, 17, 2, map_qmatmul},
    {"QLinearMatMul", 10, 17, 8, map_qmatmul},
    {"ConvInteger", 10, 17, 2, map_qconv},
    {"QLinearConv", 10, 17, 8, map_qconv},
    {"QuantizeLinear", 10, 17, 2, map_quantize},
    {"DequantizeLinear", 10, 17, 2, map_dequantize},
    {"DynamicQuantizeLinear", 11, 17, 1, map_dynamic_quantize},
    {NULL, 0, 0, 0, NULL},
};
