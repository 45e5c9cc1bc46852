/*
 * ops_take.c - mappers of ONNX ops that rearrange a run-time tensor in a way fixed at load time:
 * Gather with any constant indices, GatherElements, GatherND, ScatterElements / Scatter and
 * ScatterND (constant indices), Tile, DepthToSpace, SpaceToDepth, Pad in 'reflect' and 'edge'
 * modes, Compress, ReverseSequence, MaxUnpool and OneHot (constant indices, conditions or
 * lengths). Each becomes one TAKE (y = x.flat[idx]) whose index tensor is computed here, on the
 * host, from shapes and constant inputs; the data itself stays on the device. A scatter takes
 * from the concatenation of the data and the updates, both flattened, so an output element reads
 * either its own data element or the update written there (the last one, when indices repeat,
 * as ONNX leaves that case to the implementation). A scatter with reduction add, mul, max or min
 * is data (op) take_1 (op) take_2 ...: round r takes, for every output element, the r-th update
 * aimed at it, or a neutral fill (0, 1, -inf, +inf) when there is none, so repeated indices
 * accumulate in index order. An index map may point one past the source: that element is a
 * fill value appended to it (MaxUnpool's zeros, OneHot's values are the source itself).
 * When the data is itself constant (integer tensors, shape arithmetic) the same index map is
 * applied on the host and the result stays a host value (take_or_fold).
 *
 * Limits: the source (data, plus updates for a scatter) has at most 2^24 elements (the float
 * indices are exact up to there) and the output at most c->max_elements.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "onnx/map.h"

#define TAKE_MAX_SRC (1 << 24)

/* Coordinates of flat index k in shape s (row-major). */
static void unravel(int64_t k, const lumen_shape *s, int64_t *coord)
{
    for (int i = s->ndim - 1; i >= 0; i--) {
        coord[i] = s->d[i] ? k % s->d[i] : 0;
        k = s->d[i] ? k / s->d[i] : 0;
    }
}

/* Flat index of coord in shape s. */
static int64_t ravel(const int64_t *coord, const lumen_shape *s)
{
    int64_t k = 0;
    for (int i = 0; i < s->ndim; i++)
        k = k * s->d[i] + coord[i];
    return k;
}

/* A zeroed index array for an output of shape o; NULL after setting the message. */
static float *idx_new(ox_ctx *c, ox_node *n, const lumen_shape *o)
{
    int64_t k = lumen_shape_numel(o);
    if (o->ndim > LUMEN_MAX_DIMS) {
        lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "output of rank %d (at most %d)", o->ndim,
                       LUMEN_MAX_DIMS);
        return NULL;
    }
    if (k < 0 || k > c->max_elements) {
        lumen__ox_fail(c, n, LUMEN_ERANGE, "output of %lld elements is too large", (long long)k);
        return NULL;
    }
    float *idx = calloc((size_t)(k ? k : 1), sizeof(float));
    if (!idx)
        lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    return idx;
}

/* Output 0 of n becomes TAKE(src, idx) of shape o; frees idx. */
static lumen_status emit_take(ox_ctx *c, ox_node *n, int src, float *idx, const lumen_shape *o)
{
    int iv = src < 0 ? -1 : lumen__ox_const(c, n, ".idx", o, idx);
    free(idx);
    lumen_opdesc d = {.op = LUMEN_OP_TAKE};
    int in[2] = {src, iv};
    int y = src < 0 || iv < 0 ? -1 : lumen__ox_op(c, n, "", &d, 2, in);
    return lumen__ox_set_gv(c, n, 0, y);
}

/* Output 0 of n, of shape o, is x.flat[idx] (idx[k] == numel(x): 'fill'), where x is input xi
 * of n: on the host when x is a host value, else a TAKE on the device (x flattened with fill
 * appended when used). Frees idx. */
static lumen_status take_or_fold(ox_ctx *c, ox_node *n, int xi, float *idx, const lumen_shape *o,
                                 float fill)
{
    const ox_val *xv = n->in[xi];
    int64_t nx = lumen_shape_numel(lumen__ox_shape(c, xv)), no = lumen_shape_numel(o), k;
    int uses_fill = 0;
    for (k = 0; k < no; k++)
        uses_fill |= idx[k] == (float)nx;
    if (xv->host) {
        ox_host *h = lumen__ox_host_new(c, n, xv->host->is_int, o);
        for (k = 0; h && k < no; k++) {
            int64_t j = (int64_t)idx[k];
            if (h->is_int)
                h->i[k] = j < nx ? xv->host->i[j] : (int64_t)fill;
            else
                h->f[k] = j < nx ? (float)lumen__ox_host_get(xv->host, j) : fill;
        }
        free(idx);
        return lumen__ox_set_host(c, n, 0, h);
    }
    int src = lumen__ox_in(c, n, xi);
    if (uses_fill && src >= 0) {
        lumen_shape fx = {1, {nx}}, one = {1, {1}};
        int parts[2] = {lumen__ox_reshape(c, n, ".flat", src, &fx),
                        lumen__ox_const(c, n, ".fill", &one, &fill)};
        lumen_opdesc d = {.op = LUMEN_OP_CONCAT};
        src = parts[0] < 0 || parts[1] < 0 ? -1 : lumen__ox_op(c, n, ".src", &d, 2, parts);
    }
    return emit_take(c, n, src, idx, o);
}

/* Fails unless the source of a TAKE has at most TAKE_MAX_SRC elements. */
static lumen_status check_src(ox_ctx *c, ox_node *n, int64_t count)
{
    if (count > TAKE_MAX_SRC)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "input of %lld elements (at most 2^24 for an index map)",
                              (long long)count);
    return LUMEN_OK;
}

/* Constant index value j of host tensor ih for an axis of extent dim (negative counts from the
 * end); -1 after setting the message when out of range. */
static int64_t index_at(ox_ctx *c, ox_node *n, const ox_host *ih, int64_t j, int64_t dim)
{
    int64_t v = lumen__ox_host_geti(ih, j), w = v < 0 ? v + dim : v;
    if (w < 0 || w >= dim) {
        lumen__ox_fail(c, n, LUMEN_EFORMAT, "index %lld out of range [-%lld, %lld)", (long long)v,
                       (long long)dim, (long long)dim);
        return -1;
    }
    return w;
}

/* Constant indices input i (any integer tensor), or NULL after setting the message. */
static const ox_host *const_indices(ox_ctx *c, ox_node *n, int i)
{
    if (!n->in[i]->host) {
        lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "indices '%s' computed at run time",
                       n->in[i]->name);
        return NULL;
    }
    return n->in[i]->host;
}

/* ---- gathers ---- */

lumen_status lumen__ox_gather_take(ox_ctx *c, ox_node *n, int axis)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    const ox_host *ih = const_indices(c, n, 1);
    if (!ih)
        return c->st;
    lumen_status st = check_src(c, n, lumen_shape_numel(x));
    if (st != LUMEN_OK)
        return st;
    lumen_shape o = {0, {0}};
    if (x->ndim - 1 + ih->shape.ndim > LUMEN_MAX_DIMS)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "output rank above %d", LUMEN_MAX_DIMS);
    int64_t outer = 1, inner = 1, dim = x->d[axis], ni = lumen_shape_numel(&ih->shape);
    for (int i = 0; i < axis; i++)
        o.d[o.ndim++] = x->d[i], outer *= x->d[i];
    for (int i = 0; i < ih->shape.ndim; i++)
        o.d[o.ndim++] = ih->shape.d[i];
    for (int i = axis + 1; i < x->ndim; i++)
        o.d[o.ndim++] = x->d[i], inner *= x->d[i];
    float *idx = idx_new(c, n, &o);
    if (!idx)
        return c->st;
    for (int64_t j = 0; j < ni; j++) {
        int64_t v = index_at(c, n, ih, j, dim);
        if (v < 0) {
            free(idx);
            return c->st;
        }
        for (int64_t u = 0; u < outer; u++)
            for (int64_t w = 0; w < inner; w++)
                idx[(u * ni + j) * inner + w] = (float)((u * dim + v) * inner + w);
    }
    return emit_take(c, n, lumen__ox_in(c, n, 0), idx, &o);
}

/* GatherElements: out[p] = x[p with p[axis] = indices[p]]; the output has the indices' shape. */
static lumen_status map_gather_elements(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    const ox_host *ih = const_indices(c, n, 1);
    if (!ih)
        return c->st;
    int axis;
    lumen_status st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), x->ndim, &axis);
    if (st == LUMEN_OK)
        st = check_src(c, n, lumen_shape_numel(x));
    if (st != LUMEN_OK)
        return st;
    if (ih->shape.ndim != x->ndim)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "indices of rank %d for data of rank %d",
                              ih->shape.ndim, x->ndim);
    float *idx = idx_new(c, n, &ih->shape);
    if (!idx)
        return c->st;
    int64_t coord[LUMEN_MAX_DIMS];
    for (int64_t k = 0; k < lumen_shape_numel(&ih->shape); k++) {
        unravel(k, &ih->shape, coord);
        int64_t v = index_at(c, n, ih, k, x->d[axis]);
        if (v < 0) {
            free(idx);
            return c->st;
        }
        coord[axis] = v;
        idx[k] = (float)ravel(coord, x);
    }
    return emit_take(c, n, lumen__ox_in(c, n, 0), idx, &ih->shape);
}

/* ---- scatters: a TAKE from [data..., updates...] ---- */

/* The graph value of data and updates flattened and concatenated; -1 after a failure. */
static int data_and_updates(ox_ctx *c, ox_node *n, int64_t nx, int64_t nu)
{
    lumen_shape fx = {1, {nx}}, fu = {1, {nu}};
    int xs = lumen__ox_reshape(c, n, ".data", lumen__ox_in(c, n, 0), &fx);
    int us = lumen__ox_reshape(c, n, ".updates", lumen__ox_in(c, n, 2), &fu);
    if (xs < 0 || us < 0)
        return -1;
    lumen_opdesc d = {.op = LUMEN_OP_CONCAT};
    int in[2] = {xs, us};
    return lumen__ox_op(c, n, ".cat", &d, 2, in);
}

/* The scatter's 'reduction': -1 for 'none' (the default), else the binary op that combines;
 * -2 after setting the message. */
static int scatter_reduction(ox_ctx *c, ox_node *n)
{
    char red[16];
    lumen__ox_attr_str(n, "reduction", "none", red, sizeof red);
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    static const int kinds[] = {-1, LUMEN_BIN_ADD, LUMEN_BIN_MUL, LUMEN_BIN_MAX, LUMEN_BIN_MIN};
    for (int i = 0; i < 5; i++)
        if (!strcmp(red, names[i]))
            return kinds[i];
    lumen__ox_fail(c, n, LUMEN_EFORMAT, "reduction '%s'", red);
    return -2;
}

/* Output 0 of a scatter with data x (nx elements) and nu updates, update k aimed at the flat
 * position tgt[k] of x; reduction 'kind' (-1: none). Frees tgt. */
static lumen_status scatter_finish(ox_ctx *c, ox_node *n, const lumen_shape *x, int64_t nu,
                                   int64_t *tgt, int kind)
{
    int64_t nx = lumen_shape_numel(x);
    if (kind < 0) { /* one TAKE from [data, updates]: the last update written wins */
        float *idx = idx_new(c, n, x);
        for (int64_t j = 0; idx && j < nx; j++)
            idx[j] = (float)j;
        for (int64_t k = 0; idx && k < nu; k++)
            idx[tgt[k]] = (float)(nx + k);
        free(tgt);
        return idx ? emit_take(c, n, data_and_updates(c, n, nx, nu), idx, x) : c->st;
    }
    /* reductions: round r takes the r-th update aimed at each element, else a neutral fill */
    int64_t *seen = calloc((size_t)(nx ? nx : 1), sizeof *seen), rounds = 0;
    if (!seen) {
        free(tgt);
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    }
    for (int64_t k = 0; k < nu; k++)
        if (++seen[tgt[k]] > rounds)
            rounds = seen[tgt[k]];
    if (rounds == 0) { /* no updates */
        free(seen), free(tgt);
        return lumen__ox_alias(c, n, 0, n->in[0]);
    }
    if (rounds > 64) {
        free(seen), free(tgt);
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "%lld updates aimed at one element (at most 64 with a reduction)",
                              (long long)rounds);
    }
    float fill = kind == LUMEN_BIN_ADD   ? 0.0f
                 : kind == LUMEN_BIN_MUL ? 1.0f
                 : kind == LUMEN_BIN_MAX ? -INFINITY
                                         : INFINITY;
    lumen_shape fu = {1, {nu}}, one = {1, {1}};
    int parts[2] = {lumen__ox_reshape(c, n, ".updates", lumen__ox_in(c, n, 2), &fu),
                    lumen__ox_const(c, n, ".fill", &one, &fill)};
    lumen_opdesc cat = {.op = LUMEN_OP_CONCAT}, take = {.op = LUMEN_OP_TAKE};
    lumen_opdesc comb = {.op = LUMEN_OP_BINARY};
    comb.p.binary.kind = kind;
    int src = parts[0] < 0 || parts[1] < 0 ? -1 : lumen__ox_op(c, n, ".src", &cat, 2, parts);
    int acc = lumen__ox_in(c, n, 0);
    for (int64_t r = 0; r < rounds && src >= 0 && acc >= 0; r++) {
        float *idx = idx_new(c, n, x);
        if (!idx) {
            acc = -1;
            break;
        }
        for (int64_t j = 0; j < nx; j++)
            idx[j] = (float)nu, seen[j] = 0;
        for (int64_t k = 0; k < nu; k++)
            if (seen[tgt[k]]++ == r)
                idx[tgt[k]] = (float)k;
        char sfx[32];
        snprintf(sfx, sizeof sfx, ".idx%lld", (long long)r);
        int in[2] = {src, lumen__ox_const(c, n, sfx, x, idx)};
        free(idx);
        snprintf(sfx, sizeof sfx, ".take%lld", (long long)r);
        int t = in[1] < 0 ? -1 : lumen__ox_op(c, n, sfx, &take, 2, in);
        int ab[2] = {acc, t};
        snprintf(sfx, sizeof sfx, r + 1 == rounds ? "" : ".acc%lld", (long long)r);
        acc = t < 0 ? -1 : lumen__ox_op(c, n, sfx, &comb, 2, ab);
    }
    free(seen), free(tgt);
    return lumen__ox_set_gv(c, n, 0, src < 0 ? -1 : acc);
}

/* ScatterElements and Scatter: out = x, then out[p with p[axis] = indices[p]] = updates[p]. */
static lumen_status map_scatter_elements(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0), *u = lumen__ox_in_shape(c, n, 2);
    const ox_host *ih = const_indices(c, n, 1);
    if (!ih)
        return c->st;
    int axis, kind = scatter_reduction(c, n);
    int64_t nx = lumen_shape_numel(x), nu = lumen_shape_numel(u);
    if (kind == -2)
        return c->st;
    lumen_status st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), x->ndim, &axis);
    if (st == LUMEN_OK)
        st = check_src(c, n, nx + nu + 1);
    if (st != LUMEN_OK)
        return st;
    if (!lumen_shape_equal(&ih->shape, u) || ih->shape.ndim != x->ndim)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "indices and updates differ in shape, or "
                              "their rank is not the data's");
    int64_t *tgt = malloc(sizeof *tgt * (size_t)(nu ? nu : 1)), coord[LUMEN_MAX_DIMS];
    if (!tgt)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    for (int64_t k = 0; k < nu; k++) {
        unravel(k, u, coord);
        int64_t v = index_at(c, n, ih, k, x->d[axis]);
        if (v < 0) {
            free(tgt);
            return c->st;
        }
        for (int i = 0; i < x->ndim; i++)
            if (i != axis && coord[i] >= x->d[i]) {
                free(tgt);
                return lumen__ox_fail(c, n, LUMEN_ESHAPE, "updates larger than the data");
            }
        coord[axis] = v;
        tgt[k] = ravel(coord, x);
    }
    return scatter_finish(c, n, x, nu, tgt, kind);
}

/* ScatterND: indices [..., k] name slices x[i0, .., ik-1, :, ...] that the updates replace. */
static lumen_status map_scatter_nd(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0), *u = lumen__ox_in_shape(c, n, 2);
    const ox_host *ih = const_indices(c, n, 1);
    if (!ih)
        return c->st;
    int64_t nx = lumen_shape_numel(x), nu = lumen_shape_numel(u);
    int kind = scatter_reduction(c, n);
    if (kind == -2)
        return c->st;
    lumen_status st = check_src(c, n, nx + nu + 1);
    if (st != LUMEN_OK)
        return st;
    int q = ih->shape.ndim, r = x->ndim;
    int64_t k = q > 0 ? ih->shape.d[q - 1] : -1;
    if (q < 1 || k < 1 || k > r)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "indices of rank %d, last extent %lld", q,
                              (long long)k);
    int ok = u->ndim == q - 1 + r - (int)k; /* updates: indices.shape[:-1] + data.shape[k:] */
    for (int i = 0; ok && i < q - 1; i++)
        ok = u->d[i] == ih->shape.d[i];
    for (int i = (int)k; ok && i < r; i++)
        ok = u->d[q - 1 + i - (int)k] == x->d[i];
    if (!ok)
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "updates do not match indices and data");
    int64_t slice = 1, tuples = lumen_shape_numel(&ih->shape) / k;
    for (int i = (int)k; i < r; i++)
        slice *= x->d[i];
    int64_t *tgt = malloc(sizeof *tgt * (size_t)(nu ? nu : 1));
    if (!tgt)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    for (int64_t t = 0; t < tuples; t++) {
        int64_t base = 0;
        for (int i = 0; i < (int)k; i++) {
            int64_t v = index_at(c, n, ih, t * k + i, x->d[i]);
            if (v < 0) {
                free(tgt);
                return c->st;
            }
            base = base * x->d[i] + v;
        }
        for (int64_t s = 0; s < slice; s++)
            tgt[t * slice + s] = base * slice + s;
    }
    return scatter_finish(c, n, x, nu, tgt, kind);
}

/* GatherND with batch_dims b: indices [..., k] name slices data[batch, i0, .., ik-1, ...];
 * the output is indices.shape[:-1] + data.shape[b+k:]. */
static lumen_status map_gather_nd(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    const ox_host *ih = const_indices(c, n, 1);
    if (!ih)
        return c->st;
    int64_t b = lumen__ox_attr_int(n, "batch_dims", 0);
    int q = ih->shape.ndim, r = x->ndim;
    int64_t k = q > 0 ? ih->shape.d[q - 1] : -1;
    if (b < 0 || b >= q || b >= r || k < 1 || k > r - b)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "batch_dims %lld with indices of rank %d (last extent %lld) and data "
                              "of rank %d",
                              (long long)b, q, (long long)k, r);
    for (int i = 0; i < b; i++)
        if (ih->shape.d[i] != x->d[i])
            return lumen__ox_fail(c, n, LUMEN_ESHAPE, "batch axis %d differs (%lld, %lld)", i,
                                  (long long)ih->shape.d[i], (long long)x->d[i]);
    lumen_shape o = {0, {0}};
    if (q - 1 + r - b - k > LUMEN_MAX_DIMS)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "output rank above %d", LUMEN_MAX_DIMS);
    for (int i = 0; i < q - 1; i++)
        o.d[o.ndim++] = ih->shape.d[i];
    int64_t slice = 1, per_batch = 1, tuples = lumen_shape_numel(&ih->shape) / k;
    for (int i = (int)(b + k); i < r; i++)
        o.d[o.ndim++] = x->d[i], slice *= x->d[i];
    for (int i = (int)b; i < q - 1; i++)
        per_batch *= ih->shape.d[i];
    lumen_status st = check_src(c, n, lumen_shape_numel(x));
    float *idx = st == LUMEN_OK ? idx_new(c, n, &o) : NULL;
    if (!idx)
        return c->st;
    for (int64_t t = 0; t < tuples; t++) {
        int64_t base = per_batch ? t / per_batch : 0; /* the flat batch index */
        for (int i = 0; i < k; i++) {
            int64_t v = index_at(c, n, ih, t * k + i, x->d[b + i]);
            if (v < 0) {
                free(idx);
                return c->st;
            }
            base = base * x->d[b + i] + v;
        }
        for (int64_t s = 0; s < slice; s++)
            idx[t * slice + s] = (float)(base * slice + s);
    }
    return take_or_fold(c, n, 0, idx, &o, 0.0f);
}

/* Compress with a constant condition: the slices along axis (or the elements of the flattened
 * input without one) whose condition is true; a shorter condition is false beyond its end. */
static lumen_status map_compress(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    const ox_host *ch = n->in[1]->host;
    if (!ch)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "condition '%s' computed at run time (the output's shape would "
                              "depend on the data)",
                              n->in[1]->name);
    int flat = lumen__ox_attr(n, "axis") == NULL, axis = 0;
    lumen_shape xf = {1, {lumen_shape_numel(x)}};
    const lumen_shape *xs = flat ? &xf : x;
    lumen_status st =
        flat ? LUMEN_OK : lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), x->ndim, &axis);
    if (st == LUMEN_OK)
        st = check_src(c, n, xf.d[0]);
    if (st != LUMEN_OK)
        return st;
    int64_t len = lumen_shape_numel(&ch->shape), dim = xs->d[axis], kept = 0;
    if (ch->shape.ndim != 1 || len > dim)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "condition of %lld entries for extent %lld",
                              (long long)len, (long long)dim);
    for (int64_t i = 0; i < len; i++)
        kept += lumen__ox_host_get(ch, i) != 0;
    lumen_shape o = *xs;
    o.d[axis] = kept;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= xs->d[i];
    for (int i = axis + 1; i < xs->ndim; i++)
        inner *= xs->d[i];
    float *idx = idx_new(c, n, &o);
    if (!idx)
        return c->st;
    int64_t j = 0;
    for (int64_t i = 0; i < len; i++) {
        if (lumen__ox_host_get(ch, i) == 0)
            continue;
        for (int64_t u = 0; u < outer; u++)
            for (int64_t w = 0; w < inner; w++)
                idx[(u * kept + j) * inner + w] = (float)((u * dim + i) * inner + w);
        j++;
    }
    return take_or_fold(c, n, 0, idx, &o, 0.0f);
}

/* ReverseSequence: along time_axis, the first sequence_lens[b] elements of batch entry b (on
 * batch_axis) in reverse order, the rest as they are. */
static lumen_status map_reverse_sequence(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    const ox_host *lh = const_indices(c, n, 1);
    if (!lh)
        return c->st;
    int64_t ta = lumen__ox_attr_int(n, "time_axis", 0), ba = lumen__ox_attr_int(n, "batch_axis", 1);
    if (x->ndim < 2 || (ta != 0 && ta != 1) || (ba != 0 && ba != 1) || ta == ba)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "time_axis %lld, batch_axis %lld, rank %d",
                              (long long)ta, (long long)ba, x->ndim);
    if (lh->shape.ndim != 1 || lh->shape.d[0] != x->d[ba])
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "sequence_lens must have %lld entries",
                              (long long)x->d[ba]);
    lumen_status st = check_src(c, n, lumen_shape_numel(x));
    float *idx = st == LUMEN_OK ? idx_new(c, n, x) : NULL;
    if (!idx)
        return c->st;
    int64_t coord[LUMEN_MAX_DIMS];
    for (int64_t k = 0; k < lumen_shape_numel(x); k++) {
        unravel(k, x, coord);
        int64_t len = lumen__ox_host_geti(lh, coord[ba]);
        if (len < 0 || len > x->d[ta]) {
            free(idx);
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "sequence length %lld (time extent %lld)",
                                  (long long)len, (long long)x->d[ta]);
        }
        if (coord[ta] < len)
            coord[ta] = len - 1 - coord[ta];
        idx[k] = (float)ravel(coord, x);
    }
    return take_or_fold(c, n, 0, idx, x, 0.0f);
}

/* MaxUnpool: zeros of the output shape (output_shape, else (in - 1) * stride + k - pads), with
 * x[k] written at the flat output position indices[k] (MaxPool's indices). */
static lumen_status map_max_unpool(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    const ox_host *ih = const_indices(c, n, 1);
    if (!ih)
        return c->st;
    int nsp;
    ox_spatial sp;
    lumen_status st = lumen__ox_spatial_rank(c, n, x, &nsp);
    if (st == LUMEN_OK)
        st = lumen__ox_spatial(c, n, nsp, NULL, &sp);
    if (st == LUMEN_OK)
        st = check_src(c, n, lumen_shape_numel(x) + 1);
    if (st != LUMEN_OK)
        return st;
    if (!lumen_shape_equal(&ih->shape, x))
        return lumen__ox_fail(c, n, LUMEN_ESHAPE, "indices differ in shape from the input");
    lumen_shape o = *x, od;
    for (int i = 0; i < nsp; i++) {
        o.d[2 + i] = (x->d[2 + i] - 1) * sp.stride[i] + sp.k[i] - sp.pad0[i] - sp.pad1[i];
        if (o.d[2 + i] < 1 || o.d[2 + i] > OX_INT_MAX)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "output extent %lld on axis %d",
                                  (long long)o.d[2 + i], 2 + i);
    }
    od = o; /* the indices count in this shape; a larger output_shape pads it at the end */
    if (n->n_in > 2 && n->in[2]) {
        int64_t os[LUMEN_MAX_DIMS];
        int no;
        if ((st = lumen__ox_const_ints(c, n, 2, os, LUMEN_MAX_DIMS, &no)) != LUMEN_OK)
            return st;
        if (no != x->ndim || os[0] != x->d[0] || os[1] != x->d[1])
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "output_shape does not fit the input");
        for (int i = 2; i < no; i++) {
            if (os[i] < o.d[i] || os[i] > OX_INT_MAX)
                return lumen__ox_fail(c, n, LUMEN_EFORMAT, "output_shape %lld on axis %d",
                                      (long long)os[i], i);
            o.d[i] = os[i];
        }
    }
    float *idx = idx_new(c, n, &o);
    if (!idx)
        return c->st;
    int64_t nx = lumen_shape_numel(x), no_ = lumen_shape_numel(&o), nd = lumen_shape_numel(&od);
    int64_t coord[LUMEN_MAX_DIMS];
    for (int64_t k = 0; k < no_; k++)
        idx[k] = (float)nx; /* the appended zero */
    for (int64_t k = 0; k < nx; k++) {
        int64_t v = lumen__ox_host_geti(ih, k);
        if (v < 0 || v >= nd) {
            free(idx);
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "index %lld outside the output of %lld",
                                  (long long)v, (long long)nd);
        }
        unravel(v, &od, coord);
        idx[ravel(coord, &o)] = (float)k;
    }
    return take_or_fold(c, n, 0, idx, &o, 0.0f);
}

/* Binary op kind on graph values a and b; -1 when either is (the message is set). */
static int obin(ox_ctx *c, ox_node *n, const char *sfx, int kind, int a, int b)
{
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    d.p.binary.kind = kind;
    int in[2] = {a, b};
    return a < 0 || b < 0 ? -1 : lumen__ox_op(c, n, sfx, &d, 2, in);
}

/* OneHot: indices with an axis of extent depth inserted at 'axis'; values[1] where the axis
 * coordinate equals the index (negative ones count from depth), values[0] elsewhere. Constant
 * indices: a TAKE from values. Run-time indices: (index == ramp) selecting on / off. */
static lumen_status map_one_hot(ox_ctx *c, ox_node *n)
{
    const lumen_shape *ix = lumen__ox_in_shape(c, n, 0), *vs = lumen__ox_in_shape(c, n, 2);
    float dv;
    lumen_status st = lumen__ox_const_float(c, n, 1, &dv);
    if (st != LUMEN_OK)
        return st;
    if (!(dv >= 1 && dv <= OX_INT_MAX))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "depth %g", dv);
    int64_t depth = (int64_t)dv;
    if (lumen_shape_numel(vs) != 2)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "values must have 2 entries");
    if (ix->ndim + 1 > LUMEN_MAX_DIMS)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "output rank above %d", LUMEN_MAX_DIMS);
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", -1), ix->ndim + 1, &axis)) !=
        LUMEN_OK)
        return st;
    lumen_shape o = {ix->ndim + 1, {0}}, ramp = {ix->ndim + 1, {0}}, ir = o;
    for (int i = 0, j = 0; i < o.ndim; i++) {
        o.d[i] = i == axis ? depth : ix->d[j];
        ir.d[i] = i == axis ? 1 : ix->d[j++];
        ramp.d[i] = i == axis ? depth : 1;
    }
    int64_t inner = 1, no = lumen_shape_numel(&o);
    for (int i = axis + 1; i < o.ndim; i++)
        inner *= o.d[i];
    if (n->in[0]->host) { /* constant indices: each output reads values[0] or values[1] */
        float *idx = idx_new(c, n, &o);
        if (!idx)
            return c->st;
        for (int64_t k = 0; k < no; k++) {
            int64_t pos = k / inner % depth, src = k / inner / depth * inner + k % inner;
            double v = lumen__ox_host_get(n->in[0]->host, src);
            v = v < 0 ? v + (double)depth : v;
            idx[k] = (float)(v >= 0 && v < (double)depth && (int64_t)v == pos);
        }
        return take_or_fold(c, n, 2, idx, &o, 0.0f);
    }
    /* run-time indices: i' = i + depth * (i < 0); hot = (i' == ramp) */
    float *r = malloc(sizeof *r * (size_t)depth);
    if (!r)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    for (int64_t k = 0; k < depth; k++)
        r[k] = (float)k;
    lumen_shape sc = {0, {0}}, one = {1, {1}};
    float zero = 0.0f, fd = (float)depth, i1 = 1.0f, i0 = 0.0f;
    int rv = lumen__ox_const(c, n, ".ramp", &ramp, r),
        dc = lumen__ox_const(c, n, ".depth", &sc, &fd);
    free(r);
    lumen__graph_mark_index(c->g, rv); /* compared exactly: fp16 refuses a depth beyond 2049 */
    lumen__graph_mark_index(c->g, dc);
    lumen_opdesc take = {.op = LUMEN_OP_TAKE};
    int x = lumen__ox_reshape(c, n, ".idx", lumen__ox_in(c, n, 0), &ir), v = lumen__ox_in(c, n, 2);
    int in[2], neg, hot, cold, on, off, y;
    neg = obin(c, n, ".neg", LUMEN_BIN_LT, x, lumen__ox_const(c, n, ".zero", &sc, &zero));
    neg = obin(c, n, ".negd", LUMEN_BIN_MUL, neg, dc);
    x = obin(c, n, ".wrap", LUMEN_BIN_ADD, x, neg);
    hot = obin(c, n, ".hot", LUMEN_BIN_EQ, x, rv);
    cold = obin(c, n, ".cold", LUMEN_BIN_NE, x, rv);
    in[0] = v, in[1] = lumen__ox_const(c, n, ".i1", &one, &i1);
    on = in[0] < 0 || in[1] < 0 ? -1 : lumen__ox_op(c, n, ".on", &take, 2, in);
    in[0] = v, in[1] = lumen__ox_const(c, n, ".i0", &one, &i0);
    off = in[0] < 0 || in[1] < 0 ? -1 : lumen__ox_op(c, n, ".off", &take, 2, in);
    on = obin(c, n, ".onm", LUMEN_BIN_MASK, on, hot);
    off = obin(c, n, ".offm", LUMEN_BIN_MASK, off, cold);
    y = obin(c, n, "", LUMEN_BIN_ADD, on, off);
    return lumen__ox_set_gv(c, n, 0, y);
}

/* ---- tiling, blocks and padding ---- */

/* How an index outside an axis finds its source: the border element ('edge'), the mirror
 * image without repeating the border ('reflect'), the periodic continuation ('wrap', Tile). */
enum { TAKE_EDGE, TAKE_REFLECT, TAKE_WRAP };

/* Source position of coordinate p (already less pad0) on an axis of extent d (d == 1 reflects
 * to the element). */
static int64_t pad_src(int64_t p, int64_t d, int mode)
{
    if (mode == TAKE_WRAP)
        return (p % d + d) % d;
    if (mode == TAKE_EDGE || d == 1)
        return p < 0 ? 0 : p >= d ? d - 1 : p;
    int64_t period = 2 * (d - 1);
    p %= period;
    if (p < 0)
        p += period;
    return p < d ? p : period - p;
}

/* Output 0 of n, of shape o, from input 0 (shape x): each coordinate of an output element is
 * mapped on its own axis, by pad_src(coordinate - pad0, extent of x, mode). */
static lumen_status take_by_axis(ox_ctx *c, ox_node *n, const lumen_shape *x, const lumen_shape *o,
                                 const int64_t *pad0, int mode)
{
    float *idx = idx_new(c, n, o);
    if (!idx)
        return c->st;
    int64_t coord[LUMEN_MAX_DIMS];
    for (int64_t k = 0; k < lumen_shape_numel(o); k++) {
        unravel(k, o, coord);
        for (int i = 0; i < x->ndim; i++)
            coord[i] = pad_src(coord[i] - pad0[i], x->d[i], mode);
        idx[k] = (float)ravel(coord, x);
    }
    return emit_take(c, n, lumen__ox_in(c, n, 0), idx, o);
}

/* Tile: output extent d_i * repeats_i; element c reads x[c_i mod d_i]. */
static lumen_status map_tile(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    int64_t rep[LUMEN_MAX_DIMS];
    int nr;
    lumen_status st = lumen__ox_const_ints(c, n, 1, rep, LUMEN_MAX_DIMS, &nr);
    if (st == LUMEN_OK)
        st = check_src(c, n, lumen_shape_numel(x));
    if (st != LUMEN_OK)
        return st;
    if (nr != x->ndim)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "%d repeats for rank %d", nr, x->ndim);
    lumen_shape o = *x;
    for (int i = 0; i < x->ndim; i++) {
        if (rep[i] < 0 || (x->d[i] > 0 && rep[i] > c->max_elements / x->d[i]))
            return lumen__ox_fail(c, n, LUMEN_ERANGE, "repeats %lld out of range",
                                  (long long)rep[i]);
        o.d[i] = x->d[i] * rep[i];
    }
    static const int64_t zero[LUMEN_MAX_DIMS];
    return take_by_axis(c, n, x, &o, zero, TAKE_WRAP);
}

/* DepthToSpace (modes DCR and CRD) and SpaceToDepth on [N, C, H, W] with block b. */
static lumen_status map_depth_space(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    int to_space = !strcmp(n->p->op_type, "DepthToSpace");
    int64_t b = lumen__ox_attr_int(n, "blocksize", 0);
    char mode[8];
    lumen__ox_attr_str(n, "mode", "DCR", mode, sizeof mode);
    if (x->ndim != 4)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "input of rank %d (4 expected)", x->ndim);
    if (b < 1 || b > OX_INT_MAX)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "blocksize %lld", (long long)b);
    if (to_space && strcmp(mode, "DCR") && strcmp(mode, "CRD"))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "mode '%s'", mode);
    int crd = to_space && !strcmp(mode, "CRD");
    int64_t N = x->d[0], C = x->d[1], H = x->d[2], W = x->d[3];
    if ((to_space && C % (b * b)) || (!to_space && (H % b || W % b)))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "blocksize %lld does not divide the input",
                              (long long)b);
    lumen_status st = check_src(c, n, lumen_shape_numel(x));
    if (st != LUMEN_OK)
        return st;
    /* the depth side [N, Cd, Hd, Wd] and the space side [N, Cs, Hd*b, Wd*b] */
    int64_t Cs = to_space ? C / (b * b) : C, Hd = to_space ? H : H / b, Wd = to_space ? W : W / b;
    lumen_shape o = to_space ? (lumen_shape){4, {N, Cs, H * b, W * b}}
                             : (lumen_shape){4, {N, C * b * b, Hd, Wd}};
    float *idx = idx_new(c, n, &o);
    if (!idx)
        return c->st;
    int64_t Cd = Cs * b * b;
    for (int64_t in = 0; in < N; in++)
        for (int64_t cs = 0; cs < Cs; cs++)
            for (int64_t h = 0; h < Hd; h++)
                for (int64_t i = 0; i < b; i++)
                    for (int64_t w = 0; w < Wd; w++)
                        for (int64_t j = 0; j < b; j++) {
                            int64_t cd = crd ? cs * b * b + i * b + j : (i * b + j) * Cs + cs;
                            int64_t depth = ((in * Cd + cd) * Hd + h) * Wd + w;
                            int64_t space =
                                ((in * Cs + cs) * Hd * b + h * b + i) * Wd * b + w * b + j;
                            if (to_space)
                                idx[space] = (float)depth;
                            else
                                idx[depth] = (float)space;
                        }
    return emit_take(c, n, lumen__ox_in(c, n, 0), idx, &o);
}

lumen_status lumen__ox_pad_take(ox_ctx *c, ox_node *n, const lumen_pad_params *pp, int reflect)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    lumen_status st = check_src(c, n, lumen_shape_numel(x));
    if (st != LUMEN_OK)
        return st;
    lumen_shape o = *x;
    for (int i = 0; i < x->ndim; i++) {
        if (x->d[i] == 0 && pp->pad0[i] + pp->pad1[i] > 0)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "padding an empty axis %d", i);
        o.d[i] = x->d[i] + pp->pad0[i] + pp->pad1[i];
    }
    return take_by_axis(c, n, x, &o, pp->pad0, reflect ? TAKE_REFLECT : TAKE_EDGE);
}

/* ---- the table ---- */

const ox_op lumen__ox_ops_take[] = {
    {"GatherElements", 11, 17, 2, map_gather_elements},
    {"ScatterElements", 11, 17, 3, map_scatter_elements},
    {"Scatter", 9, 10, 3, map_scatter_elements},
    {"ScatterND", 11, 17, 3, map_scatter_nd},
    {"GatherND", 11, 17, 2, map_gather_nd},
    {"Compress", 9, 17, 2, map_compress},
    {"ReverseSequence", 10, 17, 2, map_reverse_sequence},
    {"MaxUnpool", 9, 17, 2, map_max_unpool},
    {"OneHot", 9, 17, 3, map_one_hot},
    {"Tile", 6, 17, 2, map_tile},
    {"DepthToSpace", 1, 17, 1, map_depth_space},
    {"SpaceToDepth", 1, 17, 1, map_depth_space},
    {NULL, 0, 0, 0, NULL},
};
