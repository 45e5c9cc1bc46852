/*
 * fold.c - host-side evaluation of the shape arithmetic that exporters emit even for fixed
 * sizes (PyTorch 1.13: Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Resize scales from
 * Shape/Cast/Mul, ...). The graph is static, so Shape of any value is a constant, and every node
 * whose inputs are all host values and whose op is listed in 'fold_ops' is computed here in C,
 * on int64 or float data, instead of becoming a device op. That is how Reshape's shape input and
 * Resize's scales or sizes become known at load time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/fold.h"
#include "onnx/rules.h"

/* Offset in an array of shape s broadcast to o, for flat output index k. */
static int64_t bc_off(const lumen_shape *o, const lumen_shape *s, int64_t k)
{
    int64_t off = 0, stride = 1;
    for (int i = o->ndim - 1, j = s->ndim - 1; i >= 0; i--, j--) {
        int64_t idx = k % o->d[i];
        k /= o->d[i];
        if (j >= 0) {
            if (s->d[j] != 1)
                off += idx * stride;
            stride *= s->d[j];
        }
    }
    return off;
}

static void host_put(ox_host *h, int64_t k, double v)
{
    if (h->is_int)
        h->i[k] = v != v ? 0 : v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
    else
        h->f[k] = (float)v;
}

static lumen_status broadcast(ox_ctx *c, const ox_node *n, const lumen_shape *a,
                              const lumen_shape *b, lumen_shape *o)
{
    char err[LUMEN_ERR_MAX];
    if (lumen__broadcast(a, b, o, err) != LUMEN_OK)
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "%s", err);
    return LUMEN_OK;
}

typedef enum {
    B_ADD,
    B_SUB,
    B_MUL,
    B_DIV,
    B_POW,
    B_MAX,
    B_MIN,
    B_EQ, /* B_EQ .. B_XOR: comparisons and logic, bool results */
    B_LT,
    B_GT,
    B_GE,
    B_LE,
    B_AND,
    B_OR,
    B_XOR,
    B_MOD,
    B_FMOD,
    B_SHL, /* BitShift direction LEFT / RIGHT (unsigned types only in ONNX) */
    B_SHR
} bin_kind;

static double bin_f(bin_kind k, double a, double b)
{
    switch (k) {
    case B_ADD:
        return a + b;
    case B_SUB:
        return a - b;
    case B_MUL:
        return a * b;
    case B_DIV:
        return a / b;
    case B_POW:
        return pow(a, b);
    case B_MAX:
        return a > b ? a : b;
    case B_MIN:
        return a < b ? a : b;
    case B_EQ:
        return a == b;
    case B_LT:
        return a < b;
    case B_GT:
        return a > b;
    case B_AND:
        return a != 0 && b != 0;
    case B_OR:
        return a != 0 || b != 0;
    case B_GE:
        return a >= b;
    case B_LE:
        return a <= b;
    case B_XOR:
        return (a != 0) != (b != 0);
    case B_SHL:
    case B_SHR:
        return 0; /* integer only */
    case B_FMOD:
        return fmod(a, b);
    default: { /* Mod with fmod=0: the result takes the divisor's sign (Python's %) */
        double r = fmod(a, b);
        return r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }
    }
}

static int64_t bin_i(bin_kind k, int64_t a, int64_t b, int *ok)
{
    switch (k) {
    case B_ADD:
        return (int64_t)((uint64_t)a + (uint64_t)b);
    case B_SUB:
        return (int64_t)((uint64_t)a - (uint64_t)b);
    case B_MUL:
        return (int64_t)((uint64_t)a * (uint64_t)b);
    case B_DIV:
    case B_MOD:
    case B_FMOD: {
        if (b == 0 || (a == INT64_MIN && b == -1))
            return *ok = 0, 0;
        int64_t r = a % b;
        if (k == B_DIV)
            return a / b;
        return k == B_MOD && r != 0 && (r < 0) != (b < 0) ? r + b : r;
    }
    case B_POW: {
        int64_t r = 1;
        for (int64_t e = 0; e < b && e < 64; e++)
            r = (int64_t)((uint64_t)r * (uint64_t)a);
        return b < 0 ? 0 : r;
    }
    case B_MAX:
        return a > b ? a : b;
    case B_MIN:
        return a < b ? a : b;
    case B_EQ:
        return a == b;
    case B_LT:
        return a < b;
    case B_GT:
        return a > b;
    case B_AND:
        return a && b;
    case B_OR:
        return a || b;
    case B_GE:
        return a >= b;
    case B_LE:
        return a <= b;
    case B_XOR:
        return (a != 0) != (b != 0);
    case B_SHL:
        return b < 0 || b > 63 ? 0 : (int64_t)((uint64_t)a << b);
    case B_SHR:
        return b < 0 || b > 63 ? 0 : (int64_t)((uint64_t)a >> b);
    }
    return 0;
}

static lumen_status fold_binary(ox_ctx *c, ox_node *n, bin_kind kind)
{
    ox_host *a = n->in[0]->host, *b = n->in[1]->host;
    lumen_shape o;
    lumen_status s = broadcast(c, n, &a->shape, &b->shape, &o);
    if (s != LUMEN_OK)
        return s;
    int ints = a->is_int && b->is_int, cmp = kind >= B_EQ && kind <= B_XOR;
    ox_host *h = lumen__ox_host_new(c, n, ints || cmp, &o);
    if (!h)
        return c->st;
    int64_t cnt = lumen_shape_numel(&o);
    int ok = 1;
    for (int64_t k = 0; k < cnt; k++) {
        int64_t ia = bc_off(&o, &a->shape, k), ib = bc_off(&o, &b->shape, k);
        if (ints)
            h->i[k] = bin_i(kind, a->i[ia], b->i[ib], &ok);
        else
            host_put(h, k, bin_f(kind, lumen__ox_host_get(a, ia), lumen__ox_host_get(b, ib)));
    }
    if (!ok) {
        lumen__ox_host_free(h);
        return lumen__ox_fail(c, n, LUMEN_ERANGE, "integer division by zero");
    }
    return lumen__ox_set_host(c, n, 0, h);
}

static lumen_status fold_unary(ox_ctx *c, ox_node *n, const char *op)
{
    ox_host *x = n->in[0]->host;
    int keep_int = x->is_int && strcmp(op, "Sqrt") && strcmp(op, "Reciprocal");
    ox_host *h = lumen__ox_host_new(c, n, keep_int || !strcmp(op, "Not"), &x->shape);
    if (!h)
        return c->st;
    int64_t cnt = lumen_shape_numel(&x->shape);
    for (int64_t k = 0; k < cnt; k++) {
        double v = lumen__ox_host_get(x, k), r;
        if (!strcmp(op, "Neg"))
            r = -v;
        else if (!strcmp(op, "Abs"))
            r = fabs(v);
        else if (!strcmp(op, "Floor"))
            r = floor(v);
        else if (!strcmp(op, "Ceil"))
            r = ceil(v);
        else if (!strcmp(op, "Sqrt"))
            r = sqrt(v);
        else if (!strcmp(op, "Not"))
            r = v == 0;
        else if (!strcmp(op, "Relu"))
            r = v > 0 ? v : 0;
        else if (!strcmp(op, "Sign"))
            r = v > 0 ? 1 : v < 0 ? -1 : v; /* NaN stays NaN */
        else if (!strcmp(op, "Round"))
            r = v - floor(v) == 0.5 ? 2 * round(v / 2) : round(v); /* half to even */
        else
            r = 1.0 / v;
        if (keep_int && !strcmp(op, "Neg"))
            h->i[k] = (int64_t)(0 - (uint64_t)x->i[k]);
        else
            host_put(h, k, r);
    }
    return lumen__ox_set_host(c, n, 0, h);
}

static lumen_status fold_where(ox_ctx *c, ox_node *n)
{
    ox_host *w = n->in[0]->host, *a = n->in[1]->host, *b = n->in[2]->host;
    lumen_shape t, o;
    lumen_status s = broadcast(c, n, &w->shape, &a->shape, &t);
    if (s == LUMEN_OK)
        s = broadcast(c, n, &t, &b->shape, &o);
    if (s != LUMEN_OK)
        return s;
    int ints = a->is_int && b->is_int;
    ox_host *h = lumen__ox_host_new(c, n, ints, &o);
    if (!h)
        return c->st;
    for (int64_t k = 0; k < lumen_shape_numel(&o); k++) {
        int pick = lumen__ox_host_get(w, bc_off(&o, &w->shape, k)) != 0;
        ox_host *src = pick ? a : b;
        int64_t off = bc_off(&o, &src->shape, k);
        if (ints)
            h->i[k] = src->i[off];
        else
            host_put(h, k, lumen__ox_host_get(src, off));
    }
    return lumen__ox_set_host(c, n, 0, h);
}

/* Copies element j of src to element k of dst (same integer-ness). */
static void host_copy_elem(ox_host *dst, int64_t k, const ox_host *src, int64_t j)
{
    if (dst->is_int)
        dst->i[k] = lumen__ox_host_geti(src, j);
    else
        dst->f[k] = (float)lumen__ox_host_get(src, j);
}

/* The 'reduction' attribute of ScatterND and ScatterElements: 0 none, 1 add, 2 mul; -1 for
 * anything else, with the node's error set. */
static int scatter_reduction(ox_ctx *c, ox_node *n)
{
    char red[16];
    lumen__ox_attr_str(n, "reduction", "none", red, sizeof red);
    int mode = !strcmp(red, "none") ? 0 : !strcmp(red, "add") ? 1 : !strcmp(red, "mul") ? 2 : -1;
    if (mode < 0)
        lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "reduction '%s'", red);
    return mode;
}

/* Element k of dst becomes element j of up (mode 0), or is added to it (1) or multiplied by it
 * (2), in dst's integer-ness. */
static void host_scatter_elem(ox_host *dst, int64_t k, const ox_host *up, int64_t j, int mode)
{
    if (dst->is_int) {
        int64_t u = lumen__ox_host_geti(up, j);
        dst->i[k] = mode == 0 ? u : mode == 1 ? dst->i[k] + u : dst->i[k] * u;
    } else {
        float u = (float)lumen__ox_host_get(up, j);
        dst->f[k] = mode == 0 ? u : mode == 1 ? dst->f[k] + u : dst->f[k] * u;
    }
}

static lumen_status fold_gather(ox_ctx *c, ox_node *n)
{
    ox_host *x = n->in[0]->host, *ix = n->in[1]->host;
    int axis;
    lumen_status s = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), x->shape.ndim, &axis);
    if (s != LUMEN_OK)
        return s;
    if (x->shape.ndim - 1 + ix->shape.ndim > LUMEN_MAX_DIMS)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "result rank above %d", LUMEN_MAX_DIMS);
    lumen_shape o = {0, {0}};
    int64_t outer = 1, inner = 1, dim = x->shape.d[axis], ni = lumen_shape_numel(&ix->shape);
    for (int i = 0; i < axis; i++)
        o.d[o.ndim++] = x->shape.d[i], outer *= x->shape.d[i];
    for (int i = 0; i < ix->shape.ndim; i++)
        o.d[o.ndim++] = ix->shape.d[i];
    for (int i = axis + 1; i < x->shape.ndim; i++)
        o.d[o.ndim++] = x->shape.d[i], inner *= x->shape.d[i];
    ox_host *h = lumen__ox_host_new(c, n, x->is_int, &o);
    if (!h)
        return c->st;
    for (int64_t j = 0; j < ni; j++) {
        int64_t idx = lumen__ox_host_geti(ix, j);
        if (idx < 0)
            idx += dim;
        if (idx < 0 || idx >= dim) {
            lumen__ox_host_free(h);
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "index %lld out of range [0, %lld)",
                                  (long long)lumen__ox_host_geti(ix, j), (long long)dim);
        }
        for (int64_t u = 0; u < outer; u++)
            for (int64_t v = 0; v < inner; v++)
                host_copy_elem(h, (u * ni + j) * inner + v, x, (u * dim + idx) * inner + v);
    }
    return lumen__ox_set_host(c, n, 0, h);
}

/* ScatterND: a copy of data with slices replaced (or combined by 'reduction') at the index
 * tuples in the last axis of indices. torchvision's Swin builds its shifted-window attention
 * mask this way, from constants once shapes are known. */
static lumen_status fold_scatter_nd(ox_ctx *c, ox_node *n)
{
    const ox_host *x = n->in[0]->host, *ix = n->in[1]->host, *up = n->in[2]->host;
    int mode = scatter_reduction(c, n);
    if (mode < 0)
        return c->st;
    int r = x->shape.ndim, q = ix->shape.ndim;
    int64_t k = q > 0 ? ix->shape.d[q - 1] : -1;
    if (q < 1 || k < 1 || k > r)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "indices of shape rank %d, last extent %lld", q,
                              (long long)k);
    /* updates: indices.shape[:-1] + data.shape[k:] */
    int ok = up->shape.ndim == q - 1 + r - (int)k;
    for (int i = 0; ok && i < q - 1; i++)
        ok = up->shape.d[i] == ix->shape.d[i];
    for (int i = (int)k; ok && i < r; i++)
        ok = up->shape.d[q - 1 + i - (int)k] == x->shape.d[i];
    if (!ok)
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "updates do not match indices and data");
    int64_t slice = 1, tuples = lumen_shape_numel(&ix->shape) / k;
    for (int i = (int)k; i < r; i++)
        slice *= x->shape.d[i];
    ox_host *h = lumen__ox_host_copy(x);
    if (!h)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int j = 0; j < k; j++) {
            int64_t v = lumen__ox_host_geti(ix, t * k + j), dim = x->shape.d[j];
            if (v < 0)
                v += dim;
            if (v < 0 || v >= dim) {
                lumen__ox_host_free(h);
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "index %lld out of range on axis %d",
                                      (long long)lumen__ox_host_geti(ix, t * k + j), j);
            }
            off = off * dim + v;
        }
        for (int64_t e = 0; e < slice; e++)
            host_scatter_elem(h, off * slice + e, up, t * slice + e, mode);
    }
    return lumen__ox_set_host(c, n, 0, h);
}

/* ScatterElements (and opset-9 Scatter): data with the elements named by indices along one
 * axis replaced by updates; GatherElements: the elements named by indices along one axis. */
static lumen_status fold_elements(ox_ctx *c, ox_node *n)
{
    int gather = !strcmp(n->p->op_type, "GatherElements");
    const ox_host *x = n->in[0]->host, *ix = n->in[1]->host, *up = gather ? NULL : n->in[2]->host;
    int r = x->shape.ndim, axis;
    lumen_status s = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), r, &axis);
    if (s != LUMEN_OK)
        return s;
    if (ix->shape.ndim != r || (up && !lumen_shape_equal(&up->shape, &ix->shape)))
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "indices (and updates) must have rank %d", r);
    int mode = scatter_reduction(c, n);
    if (mode < 0)
        return c->st;
    ox_host *h = gather ? lumen__ox_host_new(c, n, x->is_int, &ix->shape) : lumen__ox_host_copy(x);
    if (!h)
        return c->st != LUMEN_OK ? c->st : lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of memory");
    int64_t cnt = lumen_shape_numel(&ix->shape);
    for (int64_t e = 0; e < cnt; e++) {
        /* the coordinates of e in indices' shape; the axis coordinate replaced by the index */
        int64_t rem = e, off = 0, stride = 1, v = lumen__ox_host_geti(ix, e);
        int64_t dim = x->shape.d[axis];
        if (v < 0)
            v += dim;
        int bad = v < 0 || v >= dim;
        for (int i = r - 1; i >= 0; i--) {
            int64_t coord = rem % ix->shape.d[i];
            rem /= ix->shape.d[i];
            if (i == axis)
                coord = v;
            bad |= coord >= x->shape.d[i];
            off += coord * stride;
            stride *= x->shape.d[i];
        }
        if (bad) {
            lumen__ox_host_free(h);
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "index %lld out of range",
                                  (long long)lumen__ox_host_geti(ix, e));
        }
        if (gather)
            host_copy_elem(h, e, x, off);
        else
            host_scatter_elem(h, off, up, e, mode);
    }
    return lumen__ox_set_host(c, n, 0, h);
}

static lumen_status fold_slice(ox_ctx *c, ox_node *n)
{
    ox_host *x = n->in[0]->host;
    lumen_slice_params p;
    lumen_status s = lumen__ox_slice_params(c, n, &x->shape, &p);
    if (s != LUMEN_OK)
        return s;
    lumen_shape o = x->shape;
    int64_t st[LUMEN_MAX_DIMS];
    lumen__strides(&x->shape, st);
    for (int i = 0; i < o.ndim; i++)
        o.d[i] = p.count[i];
    ox_host *h = lumen__ox_host_new(c, n, x->is_int, &o);
    if (!h)
        return c->st;
    for (int64_t k = 0; k < lumen_shape_numel(&o); k++) {
        int64_t r = k, off = 0;
        for (int i = o.ndim - 1; i >= 0; i--) {
            off += (p.start[i] + (r % o.d[i]) * p.step[i]) * st[i];
            r /= o.d[i];
        }
        host_copy_elem(h, k, x, off);
    }
    return lumen__ox_set_host(c, n, 0, h);
}

static lumen_status fold_concat(ox_ctx *c, ox_node *n)
{
    int present = 0, first = -1;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] && lumen_shape_numel(&n->in[i]->host->shape) >= 0) {
            present++;
            if (first < 0)
                first = i;
        }
    if (!present)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "no inputs");
    const lumen_shape *s0 = &n->in[first]->host->shape;
    int axis, ints = 1;
    lumen_status s = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), s0->ndim, &axis);
    if (s != LUMEN_OK)
        return s;
    lumen_shape o = *s0;
    o.d[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        if (!n->in[i])
            continue;
        const lumen_shape *si = &n->in[i]->host->shape;
        ints &= n->in[i]->host->is_int;
        for (int d = 0; d < o.ndim; d++)
            if (si->ndim != o.ndim || (d != axis && si->d[d] != o.d[d]))
                return lumen__ox_fail(c, n, LUMEN_ESHAPE, "input %d does not match input %d", i,
                                      first);
        o.d[axis] += si->d[axis];
    }
    ox_host *h = lumen__ox_host_new(c, n, ints, &o);
    if (!h)
        return c->st;
    int64_t outer = 1, inner = 1, off = 0;
    for (int d = 0; d < axis; d++)
        outer *= o.d[d];
    for (int d = axis + 1; d < o.ndim; d++)
        inner *= o.d[d];
    for (int i = 0; i < n->n_in; i++) {
        if (!n->in[i])
            continue;
        const ox_host *x = n->in[i]->host;
        int64_t run = x->shape.d[axis] * inner;
        for (int64_t u = 0; u < outer; u++)
            for (int64_t v = 0; v < run; v++)
                host_copy_elem(h, u * o.d[axis] * inner + off + v, x, u * run + v);
        off += run;
    }
    return lumen__ox_set_host(c, n, 0, h);
}

/* Transpose on the host (perm attribute, default reversed). */
static lumen_status fold_transpose(ox_ctx *c, ox_node *n)
{
    ox_host *x = n->in[0]->host;
    int r = x->shape.ndim;
    int64_t perm[LUMEN_MAX_DIMS], st[LUMEN_MAX_DIMS];
    int np = lumen__ox_attr_ints(n, "perm", perm, LUMEN_MAX_DIMS);
    if (np == -2)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "perm has more than %d entries", LUMEN_MAX_DIMS);
    if (np < 0)
        for (int i = 0; i < r; i++)
            perm[i] = r - 1 - i;
    else if (np != r)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "perm has %d entries for rank %d", np, r);
    unsigned seen = 0;
    lumen_shape o = {r, {0}};
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r || (seen >> perm[i] & 1))
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "perm is not a permutation");
        seen |= 1u << perm[i];
        o.d[i] = x->shape.d[perm[i]];
    }
    lumen__strides(&x->shape, st);
    ox_host *h = lumen__ox_host_new(c, n, x->is_int, &o);
    if (!h)
        return c->st;
    for (int64_t k = 0; k < lumen_shape_numel(&o); k++) {
        int64_t rem = k, off = 0;
        for (int i = r - 1; i >= 0; i--) {
            off += (rem % o.d[i]) * st[perm[i]];
            rem /= o.d[i];
        }
        host_copy_elem(h, k, x, off);
    }
    return lumen__ox_set_host(c, n, 0, h);
}

/* Shape (with opset 15's start/end) and Size: need only the input's static shape. */
/* EyeLike: ones on diagonal k of a matrix shaped like the input, whose values it never reads,
 * so the result is a constant even for a run-time input. */
static lumen_status fold_eyelike(ox_ctx *c, ox_node *n)
{
    const lumen_shape *xs = n->in[0] ? lumen__ox_shape(c, n->in[0]) : NULL;
    if (!xs || xs->ndim != 2)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "input is not a matrix");
    int64_t k = lumen__ox_attr_int(n, "k", 0), dt = lumen__ox_attr_int(n, "dtype", 0);
    int is_int = dt ? dt != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
                          dt != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE &&
                          dt != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16
                    : n->in[0]->is_int;
    ox_host *h = lumen__ox_host_new(c, n, is_int, xs);
    int in_range = k > -xs->d[0] && k < xs->d[1]; /* else no diagonal element (and no overflow) */
    for (int64_t i = 0; h && in_range && i < xs->d[0]; i++)
        if (i + k >= 0 && i + k < xs->d[1])
            host_put(h, i * xs->d[1] + i + k, 1.0);
    return lumen__ox_set_host(c, n, 0, h);
}

static lumen_status fold_shape(ox_ctx *c, ox_node *n)
{
    const lumen_shape *xs = n->in[0] ? lumen__ox_shape(c, n->in[0]) : NULL;
    if (!xs)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "input has no shape");
    struct {
        int ndim;
        int64_t d[OX_MAX_RANK];
    } w = {xs->ndim, {0}}, *x = &w;
    memcpy(w.d, xs->d, (size_t)xs->ndim * sizeof w.d[0]);
    if (n->in[0]->wide_ndim) {
        w.ndim = n->in[0]->wide_ndim;
        memcpy(w.d, n->in[0]->wide, sizeof w.d);
    }
    if (!strcmp(n->p->op_type, "Size")) {
        lumen_shape o = {0, {0}};
        ox_host *h = lumen__ox_host_new(c, n, 1, &o);
        if (h)
            h->i[0] = lumen_shape_numel(xs);
        return lumen__ox_set_host(c, n, 0, h);
    }
    int64_t r = x->ndim, b = lumen__ox_attr_int(n, "start", 0), e = lumen__ox_attr_int(n, "end", r);
    b = b < 0 ? b + r : b;
    e = e < 0 ? e + r : e;
    b = b < 0 ? 0 : b > r ? r : b;
    e = e < 0 ? 0 : e > r ? r : e;
    lumen_shape o = {1, {e > b ? e - b : 0}};
    ox_host *h = lumen__ox_host_new(c, n, 1, &o);
    for (int64_t i = b; h && i < e; i++)
        h->i[i - b] = x->d[i];
    return lumen__ox_set_host(c, n, 0, h);
}

/* Output element type of Cast: 1 for integer and bool targets. */
static int cast_to_int(int64_t to)
{
    return !(to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
             to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ||
             to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 ||
             to == ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16);
}

static lumen_status fold_cast(ox_ctx *c, ox_node *n)
{
    ox_host *x = n->in[0]->host;
    int64_t to = lumen__ox_attr_int(n, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    if (to == ONNX__TENSOR_PROTO__DATA_TYPE__STRING || to == 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "cast to type %lld", (long long)to);
    ox_host *h = lumen__ox_host_new(c, n, cast_to_int(to), &x->shape);
    if (!h)
        return c->st;
    for (int64_t k = 0; k < lumen_shape_numel(&x->shape); k++) {
        if (to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL)
            h->i[k] = lumen__ox_host_get(x, k) != 0;
        else
            host_copy_elem(h, k, x, k);
    }
    return lumen__ox_set_host(c, n, 0, h);
}

static lumen_status fold_range(ox_ctx *c, ox_node *n)
{
    ox_host *a = n->in[0]->host, *l = n->in[1]->host, *d = n->in[2]->host;
    if (lumen_shape_numel(&a->shape) != 1 || lumen_shape_numel(&l->shape) != 1 ||
        lumen_shape_numel(&d->shape) != 1)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "start, limit and delta must be scalars");
    double s = lumen__ox_host_get(a, 0), e = lumen__ox_host_get(l, 0),
           st = lumen__ox_host_get(d, 0);
    if (st == 0)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "delta is 0");
    double cnt = ceil((e - s) / st);
    if (!(cnt < (double)c->max_elements))
        return lumen__ox_fail(c, n, LUMEN_ERANGE, "range too long");
    lumen_shape o = {1, {cnt > 0 ? (int64_t)cnt : 0}};
    ox_host *h = lumen__ox_host_new(c, n, a->is_int && l->is_int && d->is_int, &o);
    for (int64_t k = 0; h && k < o.d[0]; k++) {
        if (h->is_int)
            h->i[k] = a->i[0] + k * d->i[0];
        else
            h->f[k] = (float)(s + (double)k * st);
    }
    return lumen__ox_set_host(c, n, 0, h);
}

/* HannWindow, HammingWindow, BlackmanWindow of constant length N: w[k] = a0 - a1 cos(2 pi k / D)
 * + a2 cos(4 pi k / D), D = N when periodic (the default), N - 1 when symmetric. */
static lumen_status fold_window(ox_ctx *c, ox_node *n)
{
    const char *op = n->p->op_type;
    if (n->n_in < 1 || !n->in[0])
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "missing input 0");
    if (!n->in[0]->host)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "size '%s' computed at run time (the output's shape would depend "
                              "on the data)",
                              n->in[0]->name);
    if (lumen_shape_numel(&n->in[0]->host->shape) != 1)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "size must be a scalar");
    int64_t len = lumen__ox_host_geti(n->in[0]->host, 0), dt;
    if (len < 0 || len > c->max_elements)
        return lumen__ox_fail(c, n, LUMEN_ERANGE, "size %lld", (long long)len);
    dt = lumen__ox_attr_int(n, "output_datatype", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    double a0 = 0.5, a1 = 0.5, a2 = 0; /* Hann */
    if (!strcmp(op, "HammingWindow"))
        a0 = 25.0 / 46, a1 = 21.0 / 46;
    else if (!strcmp(op, "BlackmanWindow"))
        a0 = 0.42, a1 = 0.5, a2 = 0.08;
    double den = lumen__ox_attr_int(n, "periodic", 1) ? (double)len : (double)len - 1;
    lumen_shape o = {1, {len}};
    ox_host *h = lumen__ox_host_new(c, n, cast_to_int(dt), &o);
    for (int64_t k = 0; h && k < len; k++) {
        double t = den > 0 ? 2 * 3.14159265358979323846 * (double)k / den : 0;
        host_put(h, k, a0 - a1 * cos(t) + a2 * cos(2 * t));
    }
    return lumen__ox_set_host(c, n, 0, h);
}

/* NonZero of a constant: [rank, count] int64, the coordinates of the non-zero elements in
 * row-major order. */
static lumen_status fold_nonzero(ox_ctx *c, ox_node *n)
{
    if (n->n_in < 1 || !n->in[0])
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "missing input 0");
    const ox_host *x = n->in[0]->host;
    if (!x)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "input '%s' computed at run time (the output's shape would depend "
                              "on the data)",
                              n->in[0]->name);
    int64_t nx = lumen_shape_numel(&x->shape), cnt = 0;
    for (int64_t k = 0; k < nx; k++)
        cnt += lumen__ox_host_get(x, k) != 0;
    int r = x->shape.ndim;
    lumen_shape o = {2, {r, cnt}};
    ox_host *h = lumen__ox_host_new(c, n, 1, &o);
    for (int64_t k = 0, j = 0; h && k < nx; k++) {
        if (lumen__ox_host_get(x, k) == 0)
            continue;
        for (int64_t i = r - 1, rest = k; i >= 0; i--) {
            h->i[i * cnt + j] = rest % x->shape.d[i];
            rest /= x->shape.d[i];
        }
        j++;
    }
    return lumen__ox_set_host(c, n, 0, h);
}

/* A shape from constant input i (ConstantOfShape, Expand). */
static lumen_status shape_input(ox_ctx *c, ox_node *n, int i, lumen_shape *s)
{
    int64_t v[LUMEN_MAX_DIMS];
    int nv;
    lumen_status st = lumen__ox_const_ints(c, n, i, v, LUMEN_MAX_DIMS, &nv);
    if (st != LUMEN_OK)
        return st;
    s->ndim = nv;
    for (int k = 0; k < nv; k++) {
        if (v[k] < 0)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "negative extent %lld", (long long)v[k]);
        s->d[k] = v[k];
    }
    if (lumen_shape_numel(s) < 0)
        return lumen__ox_fail(c, n, LUMEN_ERANGE, "shape overflows");
    return LUMEN_OK;
}

static lumen_status fold_constant_of_shape(ox_ctx *c, ox_node *n)
{
    lumen_shape s;
    lumen_status st = shape_input(c, n, 0, &s);
    if (st != LUMEN_OK)
        return st;
    const Onnx__AttributeProto *a = lumen__ox_attr(n, "value");
    ox_host *val = NULL;
    if (a && a->t) {
        char err[LUMEN_ERR_MAX];
        if ((st = lumen__ox_tensor(a->t, "value", 1, &val, err)) != LUMEN_OK)
            return lumen__ox_fail(c, n, st, "%s", err);
        if (lumen_shape_numel(&val->shape) != 1) {
            lumen__ox_host_free(val);
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "value must have one element");
        }
    }
    ox_host *h = lumen__ox_host_new(c, n, val ? val->is_int : 0, &s);
    for (int64_t k = 0; h && val && k < lumen_shape_numel(&s); k++)
        host_copy_elem(h, k, val, 0);
    lumen__ox_host_free(val);
    return lumen__ox_set_host(c, n, 0, h);
}

static lumen_status fold_expand(ox_ctx *c, ox_node *n)
{
    ox_host *x = n->in[0]->host;
    lumen_shape s, o;
    lumen_status st = shape_input(c, n, 1, &s);
    if (st == LUMEN_OK)
        st = broadcast(c, n, &x->shape, &s, &o);
    if (st != LUMEN_OK)
        return st;
    ox_host *h = lumen__ox_host_new(c, n, x->is_int, &o);
    for (int64_t k = 0; h && k < lumen_shape_numel(&o); k++)
        host_copy_elem(h, k, x, bc_off(&o, &x->shape, k));
    return lumen__ox_set_host(c, n, 0, h);
}

static lumen_status fold_reshape(ox_ctx *c, ox_node *n)
{
    ox_host *x = n->in[0]->host;
    int64_t o[OX_MAX_RANK];
    int r;
    lumen_status st = lumen__ox_reshape_shape(c, n, x->shape.d, x->shape.ndim, o, &r);
    if (st != LUMEN_OK)
        return st;
    if (r > LUMEN_MAX_DIMS)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "constant of rank %d (at most %d)", r,
                              LUMEN_MAX_DIMS);
    if ((st = lumen__ox_alias(c, n, 0, n->in[0])) != LUMEN_OK)
        return st;
    /* the alias copied the host data: give it the new shape */
    ox_val *v = lumen__ox_out(c, n, 0);
    if (v && v->host) {
        v->host->shape.ndim = r;
        memcpy(v->host->shape.d, o, (size_t)r * sizeof o[0]);
    }
    return LUMEN_OK;
}

static lumen_status fold_constant(ox_ctx *c, ox_node *n)
{
    char err[LUMEN_ERR_MAX];
    ox_host *h = NULL;
    const Onnx__AttributeProto *a;
    lumen_shape scalar = {0, {0}};
    if ((a = lumen__ox_attr(n, "value")) && a->t) {
        lumen_status st = lumen__ox_tensor(a->t, "value", c->max_elements, &h, err);
        if (st != LUMEN_OK)
            return lumen__ox_fail(c, n, st, "%s", err);
    } else if ((a = lumen__ox_attr(n, "value_float")) && a->has_f) {
        if ((h = lumen__ox_host_new(c, n, 0, &scalar)))
            h->f[0] = a->f;
    } else if ((a = lumen__ox_attr(n, "value_int")) && a->has_i) {
        if ((h = lumen__ox_host_new(c, n, 1, &scalar)))
            h->i[0] = a->i;
    } else if ((a = lumen__ox_attr(n, "value_floats"))) {
        lumen_shape s = {1, {(int64_t)a->n_floats}};
        if ((h = lumen__ox_host_new(c, n, 0, &s)))
            memcpy(h->f, a->floats, a->n_floats * sizeof(float));
    } else if ((a = lumen__ox_attr(n, "value_ints"))) {
        lumen_shape s = {1, {(int64_t)a->n_ints}};
        if ((h = lumen__ox_host_new(c, n, 1, &s)))
            memcpy(h->i, a->ints, a->n_ints * sizeof(int64_t));
    } else {
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "only tensor, float(s) and int(s) constants are supported");
    }
    return lumen__ox_set_host(c, n, 0, h);
}

typedef struct fold_op {
    const char *type;
    int kind; /* bin_kind for F_BINARY */
    enum { F_BINARY, F_UNARY, F_OTHER } cls;
    lumen_status (*fn)(ox_ctx *c, ox_node *n);
} fold_op;

static const fold_op fold_ops[] = {
    {"Add", B_ADD, F_BINARY, NULL},
    {"Sub", B_SUB, F_BINARY, NULL},
    {"Mul", B_MUL, F_BINARY, NULL},
    {"Div", B_DIV, F_BINARY, NULL},
    {"Pow", B_POW, F_BINARY, NULL},
    {"Max", B_MAX, F_BINARY, NULL},
    {"Min", B_MIN, F_BINARY, NULL},
    {"Equal", B_EQ, F_BINARY, NULL},
    {"Less", B_LT, F_BINARY, NULL},
    {"Greater", B_GT, F_BINARY, NULL},
    {"And", B_AND, F_BINARY, NULL},
    {"Or", B_OR, F_BINARY, NULL},
    {"Xor", B_XOR, F_BINARY, NULL},
    {"GreaterOrEqual", B_GE, F_BINARY, NULL},
    {"LessOrEqual", B_LE, F_BINARY, NULL},
    {"BitShift", B_SHL, F_BINARY, NULL},
    {"Mod", B_MOD, F_BINARY, NULL},
    {"Neg", 0, F_UNARY, NULL},
    {"Abs", 0, F_UNARY, NULL},
    {"Floor", 0, F_UNARY, NULL},
    {"Ceil", 0, F_UNARY, NULL},
    {"Sqrt", 0, F_UNARY, NULL},
    {"Reciprocal", 0, F_UNARY, NULL},
    {"Not", 0, F_UNARY, NULL},
    {"Relu", 0, F_UNARY, NULL},
    {"Sign", 0, F_UNARY, NULL},
    {"Round", 0, F_UNARY, NULL},
    {"Where", 0, F_OTHER, fold_where},
    {"Gather", 0, F_OTHER, fold_gather},
    {"ScatterND", 0, F_OTHER, fold_scatter_nd},
    {"ScatterElements", 0, F_OTHER, fold_elements},
    {"Scatter", 0, F_OTHER, fold_elements},
    {"GatherElements", 0, F_OTHER, fold_elements},
    {"Slice", 0, F_OTHER, fold_slice},
    {"Concat", 0, F_OTHER, fold_concat},
    {"Transpose", 0, F_OTHER, fold_transpose},
    {"Cast", 0, F_OTHER, fold_cast},
    {"Range", 0, F_OTHER, fold_range},
    {"Expand", 0, F_OTHER, fold_expand},
    {"ConstantOfShape", 0, F_OTHER, fold_constant_of_shape},
    {"Reshape", 0, F_OTHER, fold_reshape},
    {"Flatten", 0, F_OTHER, fold_reshape},
    {"Squeeze", 0, F_OTHER, fold_reshape},
    {"Unsqueeze", 0, F_OTHER, fold_reshape},
    {"Constant", 0, F_OTHER, fold_constant},
};

lumen_status lumen__ox_fold(ox_ctx *c, ox_node *n, int *done)
{
    const char *op = n->p->op_type;
    *done = 0;
    if (!strcmp(op, "Shape") || !strcmp(op, "Size")) {
        *done = 1;
        return fold_shape(c, n);
    }
    if (!strcmp(op, "EyeLike")) {
        *done = 1;
        return fold_eyelike(c, n);
    }
    if (!strcmp(op, "HannWindow") || !strcmp(op, "HammingWindow") ||
        !strcmp(op, "BlackmanWindow")) {
        *done = 1;
        return fold_window(c, n);
    }
    if (!strcmp(op, "NonZero")) {
        *done = 1;
        return fold_nonzero(c, n);
    }
    int present = 0;
    for (int i = 0; i < n->n_in; i++) {
        if (!n->in[i])
            continue;
        if (!n->in[i]->host)
            return LUMEN_OK; /* a run-time input: the mapper handles it */
        present++;
    }
    if (!strcmp(op, "Identity") && present == 1) {
        *done = 1;
        return lumen__ox_alias(c, n, 0, n->in[0]);
    }
    for (size_t k = 0; k < sizeof fold_ops / sizeof fold_ops[0]; k++) {
        const fold_op *f = &fold_ops[k];
        if (strcmp(f->type, op))
            continue;
        if (present == 0 && strcmp(op, "Constant"))
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "no inputs");
        if (f->cls == F_BINARY && (n->n_in != 2 || !n->in[0] || !n->in[1]))
            return LUMEN_OK; /* variadic Max/Min: the mapper */
        /* the inputs each folder reads unconditionally must be there (an empty input name
         * is an absent optional input: a hostile file can put one anywhere) */
        int need = (f->fn == fold_where || f->fn == fold_range || f->fn == fold_scatter_nd ||
                    (f->fn == fold_elements && strcmp(op, "GatherElements")))
                       ? 3
                   : (f->fn == fold_gather || f->fn == fold_expand) ? 2
                   : !strcmp(op, "Constant")                        ? 0
                                                                    : 1;
        for (int i = 0; i < need; i++)
            if (i >= n->n_in || !n->in[i])
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "missing input %d", i);
        *done = 1;
        if (f->kind == B_MOD && lumen__ox_attr_int(n, "fmod", 0))
            return fold_binary(c, n, B_FMOD);
        if (f->kind == B_SHL) {
            char dir[16];
            lumen__ox_attr_str(n, "direction", "", dir, sizeof dir);
            if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "direction '%s'", dir);
            return fold_binary(c, n, !strcmp(dir, "LEFT") ? B_SHL : B_SHR);
        }
        if (f->cls == F_BINARY)
            return fold_binary(c, n, (bin_kind)f->kind);
        if (f->cls == F_UNARY)
            return fold_unary(c, n, op);
        return f->fn(c, n);
    }
    return LUMEN_OK;
}
