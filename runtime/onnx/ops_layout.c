/*
 * ops_layout.c - mappers of the layout and indexing ops (concat, split, slice, reshape,
 * transpose, pad, resize, gather, expand), the ops that only rename a value (Identity, Dropout,
 * Cast) and the ops evaluated on the host only (their mapper runs only when an input is not
 * known at load time, to say so). Values of ONNX rank above LUMEN_MAX_DIMS ('wide' values) are
 * handled here, where Reshape and Transpose read and make them.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/map.h"

/* ---- layout ---- */

static lumen_status map_concat(ox_ctx *c, ox_node *n)
{
    int ins[OX_MAX_IO], k = 0;
    const lumen_shape *s0 = NULL;
    for (int i = 0; i < n->n_in; i++) {
        if (!n->in[i])
            continue;
        const lumen_shape *s = lumen__ox_in_shape(c, n, i);
        if (!s0)
            s0 = s;
        if (lumen_shape_numel(s) == 0)
            continue;
        if ((ins[k++] = lumen__ox_in(c, n, i)) < 0)
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
    lumen_status st;
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
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
    int in = lumen__ox_in(c, n, 0);
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
    lumen_status st;
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    lumen_opdesc d = {.op = LUMEN_OP_SLICE};
    if ((st = lumen__ox_slice_params(c, n, x, &d.p.slice)) != LUMEN_OK)
        return st;
    int whole = 1;
    for (int i = 0; i < x->ndim; i++)
        whole &= d.p.slice.start[i] == 0 && d.p.slice.step[i] == 1 && d.p.slice.count[i] == x->d[i];
    if (whole)
        return lumen__ox_alias(c, n, 0, n->in[0]);
    int in = lumen__ox_in(c, n, 0);
    return lumen__ox_emit(c, n, &d, 1, &in);
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
    lumen_status st;
    int64_t x[OX_MAX_RANK], o[OX_MAX_RANK];
    int xr = onnx_extents(c, n, 0, x), r;
    lumen_shape s;
    if ((st = lumen__ox_reshape_shape(c, n, x, xr, o, &r)) != LUMEN_OK ||
        (st = squeezed(c, n, o, r, &s)) != LUMEN_OK)
        return st;
    int in = n->in[0]->wide_ndim ? n->in[0]->gv : lumen__ox_in(c, n, 0);
    return set_gv_wide(c, n, lumen__ox_reshape(c, n, "", in, &s), o, r);
}

static lumen_status map_transpose(ox_ctx *c, ox_node *n)
{
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
    int in = n->in[0]->wide_ndim ? n->in[0]->gv : lumen__ox_in(c, n, 0);
    int y = identity ? in : lumen__ox_op(c, n, "", &d, 1, &in);
    if (identity && r <= LUMEN_MAX_DIMS && y >= 0) {
        lumen_shape s = {r, {0}};
        memcpy(s.d, o, (size_t)r * sizeof o[0]);
        y = lumen__ox_reshape(c, n, "", y, &s);
    }
    return set_gv_wide(c, n, y, o, r);
}

/* Constant Pad whose value is a run-time scalar v: pad(x, 0) + mask(v, border), where border is
 * a constant of the output's shape, 1 in the padding and 0 inside, and mask(v, b) is v where b
 * is non-zero and 0 elsewhere (so a NaN or inf v does not reach the inside). */
static lumen_status pad_runtime_value(ox_ctx *c, ox_node *n, const lumen_opdesc *d, int x, int v)
{
    const lumen_shape *xs = lumen__ox_in_shape(c, n, 0), *vs = lumen__ox_in_shape(c, n, 2);
    if (lumen_shape_numel(vs) != 1)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "value must be a scalar");
    lumen_shape o = *xs;
    for (int i = 0; i < xs->ndim; i++)
        o.d[i] = xs->d[i] + d->p.pad.pad0[i] + d->p.pad.pad1[i];
    int64_t no = lumen_shape_numel(&o);
    if (no < 0 || no > c->max_elements)
        return lumen__ox_fail(c, n, LUMEN_ERANGE, "output of %lld elements", (long long)no);
    float *b = malloc(sizeof *b * (size_t)(no ? no : 1));
    if (!b)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    for (int64_t k = 0; k < no; k++) {
        int64_t rest = k, inside = 1;
        for (int i = o.ndim - 1; i >= 0; i--) {
            int64_t p = rest % o.d[i];
            rest /= o.d[i];
            inside &= p >= d->p.pad.pad0[i] && p < d->p.pad.pad0[i] + xs->d[i];
        }
        b[k] = inside ? 0.0f : 1.0f;
    }
    int bv = lumen__ox_const(c, n, ".border", &o, b);
    free(b);
    lumen_shape sc = {0, {0}};
    int vv = lumen__ox_reshape(c, n, ".value", v, &sc);
    lumen_opdesc mask = {.op = LUMEN_OP_BINARY}, add = {.op = LUMEN_OP_BINARY};
    mask.p.binary.kind = LUMEN_BIN_MASK;
    add.p.binary.kind = LUMEN_BIN_ADD;
    int in[2] = {vv, bv};
    int edge = vv < 0 || bv < 0 ? -1 : lumen__ox_op(c, n, ".edge", &mask, 2, in);
    in[0] = x < 0 ? -1 : lumen__ox_op(c, n, ".pad", d, 1, &x), in[1] = edge;
    return lumen__ox_set_gv(c, n, 0,
                            in[0] < 0 || edge < 0 ? -1 : lumen__ox_op(c, n, "", &add, 2, in));
}

static lumen_status map_pad(ox_ctx *c, ox_node *n)
{
    lumen_status st;
    char mode[32];
    lumen__ox_attr_str(n, "mode", "constant", mode, sizeof mode);
    int reflect = !strcmp(mode, "reflect");
    if (strcmp(mode, "constant") && !reflect && strcmp(mode, "edge"))
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "mode '%s'", mode);
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    int64_t pads[2 * LUMEN_MAX_DIMS];
    int np, value = -1;
    lumen_opdesc d = {.op = LUMEN_OP_PAD};
    if (c->opset < 11) {
        np = lumen__ox_attr_ints(n, "pads", pads, 2 * LUMEN_MAX_DIMS);
        d.p.pad.value = lumen__ox_attr_float(n, "value", 0.0f);
    } else {
        if ((st = lumen__ox_const_ints(c, n, 1, pads, 2 * LUMEN_MAX_DIMS, &np)) != LUMEN_OK)
            return st;
        if (n->n_in > 2 && n->in[2] && n->in[2]->host &&
            (st = lumen__ox_const_float(c, n, 2, &d.p.pad.value)) != LUMEN_OK)
            return st;
        if (n->n_in > 2 && n->in[2] && !n->in[2]->host)
            value = lumen__ox_in(c, n, 2); /* a run-time scalar: see the end */
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
    if (strcmp(mode, "constant")) /* reflect, edge: an index map (ops_take.c) */
        return lumen__ox_pad_take(c, n, &d.p.pad, reflect);
    int in = lumen__ox_in(c, n, 0);
    if (value < 0)
        return lumen__ox_emit(c, n, &d, 1, &in);
    return pad_runtime_value(c, n, &d, in, value);
}

static lumen_status map_resize(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
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
    else if (!strcmp(mode, "cubic") || !strcmp(mode, "bicubic"))
        p->mode = LUMEN_RESIZE_CUBIC;
    else
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "mode '%s' (opset %d)", mode, c->opset);
    static const char *const coords[] = {"half_pixel",           "align_corners",
                                         "asymmetric",           "pytorch_half_pixel",
                                         "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nearests[] = {"floor", "round_prefer_floor", "round_prefer_ceil",
                                           "ceil"};
    p->coord = p->nearest = -1;
    for (int i = 0; i < 6; i++) {
        if (!strcmp(coord, coords[i]))
            p->coord = i;
        if (i < 4 && !strcmp(nearest, nearests[i]))
            p->nearest = i;
    }
    if (p->coord < 0 || p->nearest < 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "coordinate_transformation_mode '%s' / nearest_mode '%s' (opset %d)",
                              coord, nearest, c->opset);
    int64_t excl = lumen__ox_attr_int(n, "exclude_outside", 0);
    p->cubic_a = lumen__ox_attr_float(n, "cubic_coeff_a", -0.75f);
    p->extrapolation = lumen__ox_attr_float(n, "extrapolation_value", 0.0f);
    if (excl != 0 && excl != 1)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "exclude_outside %lld (0 or 1)",
                              (long long)excl);
    if (!(fabsf(p->cubic_a) <= 1e6f))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "cubic_coeff_a %g", p->cubic_a);
    p->exclude_outside = (int)excl;
    /* tf_crop_and_resize samples the region roi (input 1 from opset 11): start[r], end[r] */
    float roi[2 * LUMEN_MAX_DIMS];
    int crop = p->coord == LUMEN_COORD_TF_CROP_AND_RESIZE;
    for (int i = 0; i < r; i++)
        roi[i] = 0.0f, roi[r + i] = 1.0f;
    if (crop) {
        ox_val *rv = !upsample && c->opset >= 11 && n->n_in > 1 ? n->in[1] : NULL;
        if (!rv)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "tf_crop_and_resize without roi");
        if (!rv->host)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "roi '%s' is not known at load time",
                                  rv->name);
        if (lumen_shape_numel(&rv->host->shape) != 2 * r)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "roi must have %d entries", 2 * r);
        for (int i = 0; i < 2 * r; i++) {
            roi[i] = (float)lumen__ox_host_get(rv->host, i);
            if (!(fabsf(roi[i]) <= 1e6f))
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "roi entry %d is %g", i, roi[i]);
        }
    }
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
        if (first == r && (out[i] != x->d[i] || (have_scales && scales[i] != 1.0) ||
                           (crop && (roi[i] != 0.0f || roi[r + i] != 1.0f))))
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
        p->roi0[i] = roi[first + i];
        p->roi1[i] = roi[r + first + i];
    }
    int in = lumen__ox_in(c, n, 0);
    return lumen__ox_emit(c, n, &d, 1, &in);
}

/* Gather on a run-time tensor with constant indices: a scalar index or an arithmetic run. */
static lumen_status map_gather(ox_ctx *c, ox_node *n)
{
    lumen_status st;
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    ox_val *iv = n->in[1];
    if (!iv->host)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "indices computed at run time");
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), x->ndim, &axis)) != LUMEN_OK)
        return st;
    const ox_host *ih = iv->host;
    int64_t cnt = lumen_shape_numel(&ih->shape), dim = x->d[axis], idx[2] = {0, 0};
    if (ih->shape.ndim > 1 || cnt < 1)
        return lumen__ox_gather_take(c, n, axis);
    for (int64_t k = 0; k < cnt; k++) {
        int64_t v = lumen__ox_host_geti(ih, k);
        v = v < 0 ? v + dim : v;
        if (v < 0 || v >= dim)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "index %lld out of range [0, %lld)",
                                  (long long)lumen__ox_host_geti(ih, k), (long long)dim);
        if (k < 2)
            idx[k] = v;
    }
    /* an arithmetic run of indices is a strided slice; anything else is an index map */
    for (int64_t k = 2; k < cnt; k++) {
        int64_t a = lumen__ox_host_geti(ih, k - 1), b = lumen__ox_host_geti(ih, k);
        a = a < 0 ? a + dim : a;
        b = b < 0 ? b + dim : b;
        if (b - a != idx[1] - idx[0])
            return lumen__ox_gather_take(c, n, axis);
    }
    int64_t step = cnt > 1 ? idx[1] - idx[0] : 1;
    if (step == 0)
        return lumen__ox_gather_take(c, n, axis);
    lumen_opdesc d = {.op = LUMEN_OP_SLICE};
    for (int i = 0; i < x->ndim; i++)
        d.p.slice.step[i] = 1, d.p.slice.count[i] = x->d[i];
    d.p.slice.start[axis] = idx[0];
    d.p.slice.step[axis] = step;
    d.p.slice.count[axis] = cnt;
    int in = lumen__ox_in(c, n, 0);
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
    lumen_status st;
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
    if (lumen__broadcast(lumen__ox_in_shape(c, n, 0), &s, &o, err) != LUMEN_OK)
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "%s", err);
    if (lumen_shape_equal(&o, lumen__ox_in_shape(c, n, 0)))
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
    int in[2] = {lumen__ox_in(c, n, 0), z};
    return lumen__ox_emit(c, n, &d, 2, in);
}

/* ---- no computation ---- */

/* Dropout: an identity at inference, and in training mode when the ratio is 0 (torchvision
 * 0.14's Swin passes training=True with dropout 0). The mask output, when a model reads it, is
 * all true then: a host constant. Training mode with a ratio above 0 is random: refused. */
static lumen_status map_dropout(ox_ctx *c, ox_node *n)
{
    lumen_status st;
    float ratio = c->opset < 12 ? lumen__ox_attr_float(n, "ratio", 0.5f) : 0.5f, train = 0;
    if (c->opset >= 12 && n->n_in > 2 && n->in[2] &&
        (st = lumen__ox_const_float(c, n, 2, &train)) != LUMEN_OK)
        return st;
    if (c->opset < 7 && lumen__ox_attr_int(n, "is_test", 0) == 0)
        train = 1;
    /* in inference the ratio does not matter, so it may be computed at run time */
    if (train != 0 && c->opset >= 12 && n->n_in > 1 && n->in[1]) {
        if (!n->in[1]->host)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                                  "training_mode with a ratio computed at run time (random masks "
                                  "are not supported)");
        if ((st = lumen__ox_const_float(c, n, 1, &ratio)) != LUMEN_OK)
            return st;
    }
    if (train != 0 && ratio != 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "training_mode with ratio %g (random masks are not supported)",
                              (double)ratio);
    if ((st = lumen__ox_alias(c, n, 0, n->in[0])) != LUMEN_OK)
        return st;
    ox_val *mask = lumen__ox_out(c, n, 1);
    if (!mask || mask->uses == 0)
        return LUMEN_OK;
    ox_host *h = lumen__ox_host_new(c, n, 1, lumen__ox_shape(c, n->in[0]));
    for (int64_t k = 0; h && k < lumen_shape_numel(&h->shape); k++)
        h->i[k] = 1;
    return lumen__ox_set_host(c, n, 1, h);
}

/* Identity, Dropout (inference) and Cast to float: the same value under a new name. */
static lumen_status map_identity(ox_ctx *c, ox_node *n)
{
    lumen_status st;
    if (!strcmp(n->p->op_type, "Cast")) {
        int64_t to = lumen__ox_attr_int(n, "to", 1);
        int to_float = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
                       to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ||
                       to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
        ox_val *x = n->in[0];
        if (to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL && !x->host && x->gv >= 0) {
            /* x != 0, so that a run-time bool is always 0 or 1 (NaN is true) */
            lumen_shape one = {0, {0}};
            float zero = 0;
            lumen_opdesc d = {.op = LUMEN_OP_BINARY};
            d.p.binary.kind = LUMEN_BIN_NE;
            int in[2] = {x->is_int ? x->gv : lumen__ox_in(c, n, 0),
                         lumen__ox_const(c, n, ".zero", &one, &zero)};
            st = in[0] < 0 || in[1] < 0 ? c->st : lumen__ox_emit(c, n, &d, 2, in);
            ox_val *v = lumen__ox_out(c, n, 0);
            if (st == LUMEN_OK && v)
                v->is_int = 1;
            return st;
        }
        int to_integer = to == ONNX__TENSOR_PROTO__DATA_TYPE__INT8 ||
                         to == ONNX__TENSOR_PROTO__DATA_TYPE__UINT8 ||
                         to == ONNX__TENSOR_PROTO__DATA_TYPE__INT16 ||
                         to == ONNX__TENSOR_PROTO__DATA_TYPE__UINT16 ||
                         to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ||
                         to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
        if (to_integer && !x->is_int && !x->host && x->gv >= 0) {
            /* float to integer truncates toward zero: sign(x) * floor(|x|), marked integer
             * (values outside the target type are not wrapped) */
            lumen_opdesc ab = lumen_opdesc_unary(LUMEN_ACT_ABS),
                         fl = lumen_opdesc_unary(LUMEN_ACT_FLOOR),
                         sg = lumen_opdesc_unary(LUMEN_ACT_SIGN), mul = {.op = LUMEN_OP_BINARY};
            mul.p.binary.kind = LUMEN_BIN_MUL;
            int xi = lumen__ox_in(c, n, 0),
                a = xi < 0 ? -1 : lumen__ox_op(c, n, ".abs", &ab, 1, &xi);
            int f = a < 0 ? -1 : lumen__ox_op(c, n, ".floor", &fl, 1, &a);
            int in[2] = {xi < 0 ? -1 : lumen__ox_op(c, n, ".sign", &sg, 1, &xi), f};
            st = lumen__ox_set_gv(c, n, 0,
                                  in[0] < 0 || f < 0 ? -1 : lumen__ox_op(c, n, "", &mul, 2, in));
            ox_val *v = lumen__ox_out(c, n, 0);
            if (st == LUMEN_OK && v)
                v->is_int = 1, v->dtype = (int)to;
            return st;
        }
        if (!to_float && !x->is_int)
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
    if (!strcmp(n->p->op_type, "Dropout"))
        return map_dropout(c, n);
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

/* ---- the table ---- */

const ox_op lumen__ox_ops_layout[] = {
    {"Concat", 4, 17, 0, map_concat},
    {"Split", 2, 17, 1, map_split},
    {"Slice", 1, 17, 1, map_slice},
    {"Reshape", 5, 17, 1, map_reshape},
    {"Flatten", 1, 17, 1, map_reshape},
    {"Squeeze", 1, 17, 1, map_reshape},
    {"Unsqueeze", 1, 17, 1, map_reshape},
    {"Transpose", 1, 17, 1, map_transpose},
    {"Pad", 2, 17, 1, map_pad},
    {"Resize", 10, 17, 1, map_resize},
    {"Upsample", 7, 9, 1, map_resize},
    {"Identity", 1, 17, 1, map_identity},
    {"Dropout", 1, 17, 1, map_identity},
    {"Cast", 6, 17, 1, map_identity},
    {"Gather", 1, 17, 2, map_gather},
    {"Expand", 8, 17, 2, map_expand},
    /* evaluated on the host only (fold.c) */
    {"Constant", 1, 17, 0, map_host_only},
    {"Shape", 1, 17, 0, map_host_only},
    {"Size", 1, 17, 0, map_host_only},
    {"EyeLike", 9, 17, 0, map_host_only},
    {"HannWindow", 17, 17, 0, map_host_only},
    {"HammingWindow", 17, 17, 0, map_host_only},
    {"BlackmanWindow", 17, 17, 0, map_host_only},
    {"NonZero", 9, 17, 0, map_host_only},
    {"ConstantOfShape", 9, 17, 0, map_host_only},
    {"Range", 11, 17, 0, map_host_only},
    {"BitShift", 11, 17, 0, map_host_only},
    {NULL, 0, 0, 0, NULL},
};
