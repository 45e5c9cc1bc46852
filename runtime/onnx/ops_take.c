/*
 * ops_take.c - mappers of ONNX ops that rearrange a run-time tensor in a way fixed at load time:
 * Gather with any constant indices, GatherElements, ScatterElements / Scatter and ScatterND
 * (constant indices, reduction 'none'), Tile, DepthToSpace, SpaceToDepth and Pad in 'reflect'
 * and 'edge' modes. Each becomes one TAKE (y = x.flat[idx]) whose index tensor is computed here,
 * on the host, from shapes and constant inputs; the data itself stays on the device. A scatter
 * takes from the concatenation of the data and the updates, both flattened, so an output
 * element reads either its own data element or the update written there (the last one, when
 * indices repeat, as ONNX leaves that case to the implementation).
 *
 * Limits: the source (data, plus updates for a scatter) has at most 2^24 elements (the float
 * indices are exact up to there) and the output at most c->max_elements.
 */
#include <stdlib.h>
#include <string.h>

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

/* The scatter's 'reduction' must be 'none' (the default). */
static lumen_status check_no_reduction(ox_ctx *c, ox_node *n)
{
    char red[16];
    lumen__ox_attr_str(n, "reduction", "none", red, sizeof red);
    if (strcmp(red, "none"))
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "reduction '%s' on run-time data (a copy with replaced elements "
                              "only)",
                              red);
    return LUMEN_OK;
}

/* ScatterElements and Scatter: out = x, then out[p with p[axis] = indices[p]] = updates[p]. */
static lumen_status map_scatter_elements(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0), *u = lumen__ox_in_shape(c, n, 2);
    const ox_host *ih = const_indices(c, n, 1);
    if (!ih)
        return c->st;
    int axis;
    int64_t nx = lumen_shape_numel(x), nu = lumen_shape_numel(u);
    lumen_status st = check_no_reduction(c, n);
    if (st == LUMEN_OK)
        st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 0), x->ndim, &axis);
    if (st == LUMEN_OK)
        st = check_src(c, n, nx + nu);
    if (st != LUMEN_OK)
        return st;
    if (!lumen_shape_equal(&ih->shape, u) || ih->shape.ndim != x->ndim)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "indices and updates differ in shape, or "
                              "their rank is not the data's");
    float *idx = idx_new(c, n, x);
    if (!idx)
        return c->st;
    for (int64_t k = 0; k < nx; k++)
        idx[k] = (float)k;
    int64_t coord[LUMEN_MAX_DIMS];
    for (int64_t k = 0; k < nu; k++) {
        unravel(k, u, coord);
        int64_t v = index_at(c, n, ih, k, x->d[axis]);
        if (v < 0) {
            free(idx);
            return c->st;
        }
        coord[axis] = v;
        idx[ravel(coord, x)] = (float)(nx + k);
    }
    return emit_take(c, n, data_and_updates(c, n, nx, nu), idx, x);
}

/* ScatterND: indices [..., k] name slices x[i0, .., ik-1, :, ...] that the updates replace. */
static lumen_status map_scatter_nd(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0), *u = lumen__ox_in_shape(c, n, 2);
    const ox_host *ih = const_indices(c, n, 1);
    if (!ih)
        return c->st;
    int64_t nx = lumen_shape_numel(x), nu = lumen_shape_numel(u);
    lumen_status st = check_no_reduction(c, n);
    if (st == LUMEN_OK)
        st = check_src(c, n, nx + nu);
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
    float *idx = idx_new(c, n, x);
    if (!idx)
        return c->st;
    for (int64_t j = 0; j < nx; j++)
        idx[j] = (float)j;
    for (int64_t t = 0; t < tuples; t++) {
        int64_t base = 0;
        for (int i = 0; i < (int)k; i++) {
            int64_t v = index_at(c, n, ih, t * k + i, x->d[i]);
            if (v < 0) {
                free(idx);
                return c->st;
            }
            base = base * x->d[i] + v;
        }
        for (int64_t s = 0; s < slice; s++)
            idx[base * slice + s] = (float)(nx + t * slice + s);
    }
    return emit_take(c, n, data_and_updates(c, n, nx, nu), idx, x);
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
    {"Tile", 6, 17, 2, map_tile},
    {"DepthToSpace", 1, 17, 1, map_depth_space},
    {"SpaceToDepth", 1, 17, 1, map_depth_space},
    {NULL, 0, 0, 0, NULL},
};
