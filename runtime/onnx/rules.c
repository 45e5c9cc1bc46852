/*
 * rules.c - ONNX shape rules shared by the host folding (fold.c) and the device mappers
 * (ops_layout.c): Slice's clamping, Reshape's 0 / -1, Flatten, Squeeze, Unsqueeze.
 */
#include <stdio.h>
#include <string.h>

#include "onnx/rules.h"

lumen_status lumen__ox_slice_params(ox_ctx *c, const ox_node *n, const lumen_shape *x,
                                    lumen_slice_params *p)
{
    int64_t st[LUMEN_MAX_DIMS], en[LUMEN_MAX_DIMS], ax[LUMEN_MAX_DIMS], sp[LUMEN_MAX_DIMS];
    int ns, ne, na = -1, nsp = -1;
    lumen_status s;
    if (c->opset < 10) {
        ns = lumen__ox_attr_ints(n, "starts", st, LUMEN_MAX_DIMS);
        ne = lumen__ox_attr_ints(n, "ends", en, LUMEN_MAX_DIMS);
        na = lumen__ox_attr_ints(n, "axes", ax, LUMEN_MAX_DIMS);
        if (ns < 0 || ne < 0 || na == -2)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "starts/ends missing or too long");
    } else {
        if ((s = lumen__ox_const_ints(c, n, 1, st, LUMEN_MAX_DIMS, &ns)) != LUMEN_OK ||
            (s = lumen__ox_const_ints(c, n, 2, en, LUMEN_MAX_DIMS, &ne)) != LUMEN_OK)
            return s;
        if (n->n_in > 3 && n->in[3] &&
            (s = lumen__ox_const_ints(c, n, 3, ax, LUMEN_MAX_DIMS, &na)) != LUMEN_OK)
            return s;
        if (n->n_in > 4 && n->in[4] &&
            (s = lumen__ox_const_ints(c, n, 4, sp, LUMEN_MAX_DIMS, &nsp)) != LUMEN_OK)
            return s;
    }
    if (ns != ne || (na >= 0 && na != ns) || (nsp >= 0 && nsp != ns))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "starts, ends, axes and steps differ in length");
    memset(p, 0, sizeof *p);
    for (int i = 0; i < x->ndim; i++)
        p->step[i] = 1, p->count[i] = x->d[i];
    unsigned seen = 0;
    for (int k = 0; k < ns; k++) {
        int a;
        if ((s = lumen__ox_axis(c, n, na >= 0 ? ax[k] : k, x->ndim, &a)) != LUMEN_OK)
            return s;
        if (seen >> a & 1)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "axis %d sliced twice", a);
        seen |= 1u << a;
        int64_t dim = x->d[a], b = st[k], e = en[k], step = nsp >= 0 ? sp[k] : 1;
        if (step == 0)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "step 0 on axis %d", a);
        if (b < 0)
            b += dim;
        if (e < 0)
            e += dim;
        int64_t cnt;
        if (step > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            cnt = e > b ? (e - b - 1) / step + 1 : 0;
        } else {
            b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            cnt = b > e ? (b - e - 1) / (-step) + 1 : 0;
        }
        p->start[a] = cnt > 0 ? b : 0;
        p->step[a] = step;
        p->count[a] = cnt;
    }
    return LUMEN_OK;
}

/* Axes of Squeeze / Unsqueeze: attribute before opset 13, input 1 from 13. -1: absent. */
static lumen_status squeeze_axes(ox_ctx *c, const ox_node *n, int64_t *ax, int *na)
{
    if (c->opset < 13) {
        *na = lumen__ox_attr_ints(n, "axes", ax, LUMEN_MAX_DIMS);
        if (*na == -2)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "too many axes");
        return LUMEN_OK;
    }
    *na = -1;
    if (n->n_in > 1 && n->in[1])
        return lumen__ox_const_ints(c, n, 1, ax, LUMEN_MAX_DIMS, na);
    return LUMEN_OK;
}

lumen_status lumen__ox_reshape_shape(ox_ctx *c, const ox_node *n, const int64_t *x, int xr,
                                     int64_t *out, int *outr)
{
    const char *op = n->p->op_type;
    int64_t v[OX_MAX_RANK], total = 1;
    int nv;
    lumen_status s;
    *outr = 0;
    for (int i = 0; i < xr; i++)
        total *= x[i];
    if (!strcmp(op, "Flatten")) {
        int64_t axis = lumen__ox_attr_int(n, "axis", 1);
        if (axis < 0)
            axis += xr;
        if (axis < 0 || axis > xr)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "axis out of range for rank %d", xr);
        *outr = 2;
        out[0] = out[1] = 1;
        for (int i = 0; i < xr; i++)
            out[i < axis ? 0 : 1] *= x[i];
        return LUMEN_OK;
    }
    if (!strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) {
        if ((s = squeeze_axes(c, n, v, &nv)) != LUMEN_OK)
            return s;
        int unsq = op[0] == 'U';
        int r = unsq ? xr + (nv > 0 ? nv : 0) : xr;
        if (unsq && nv < 0)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "no axes");
        if (r > OX_MAX_RANK)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "result rank %d above %d", r,
                                  OX_MAX_RANK);
        unsigned mask = 0;
        for (int k = 0; k < nv; k++) {
            int a;
            if ((s = lumen__ox_axis(c, n, v[k], r, &a)) != LUMEN_OK)
                return s;
            if (mask >> a & 1)
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "axis %d listed twice", a);
            mask |= 1u << a;
        }
        if (unsq) {
            *outr = r;
            for (int i = 0, j = 0; i < r; i++)
                out[i] = (mask >> i & 1) ? 1 : x[j++];
            return LUMEN_OK;
        }
        for (int i = 0; i < xr; i++) {
            int drop = nv < 0 ? x[i] == 1 : (int)(mask >> i & 1);
            if (drop && x[i] != 1)
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "axis %d has extent %lld, not 1", i,
                                      (long long)x[i]);
            if (!drop)
                out[(*outr)++] = x[i];
        }
        return LUMEN_OK;
    }
    /* Reshape (opset >= 5: the shape is input 1) */
    if ((s = lumen__ox_const_ints(c, n, 1, v, OX_MAX_RANK, &nv)) != LUMEN_OK)
        return s;
    int allowzero = (int)lumen__ox_attr_int(n, "allowzero", 0), infer = -1;
    int64_t known = 1;
    *outr = nv;
    for (int i = 0; i < nv; i++) {
        int64_t d = v[i];
        if (d == 0 && !allowzero) {
            if (i >= xr)
                return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                                      "shape entry %d is 0 but the input "
                                      "has rank %d",
                                      i, xr);
            d = x[i];
        }
        if (d == -1) {
            if (infer >= 0)
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "more than one -1 in the shape");
            infer = i;
            d = 1;
        } else if (d < 0)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "shape entry %d is %lld", i, (long long)d);
        out[i] = d;
        if (d && known > INT64_MAX / d)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "shape overflows");
        known *= d;
    }
    if (infer >= 0) {
        if (known == 0 || total % known)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "cannot infer -1 for %lld elements",
                                  (long long)total);
        out[infer] = total / known;
        known *= out[infer];
    }
    if (known != total)
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "cannot reshape %lld elements to %lld",
                              (long long)total, (long long)known);
    return LUMEN_OK;
}
