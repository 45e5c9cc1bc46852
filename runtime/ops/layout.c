/*
 * layout.c - ops that move elements without arithmetic: CONCAT, SLICE, PAD, TRANSPOSE, RESHAPE,
 * TAKE. Kernels: kernels/layout.cl.
 *
 * Layouts. Shapes are right-aligned into 6 axes ("shape6": leading extents 1). SLICE and
 * TRANSPOSE are one gather: output element at coordinates c reads input element
 * base + sum c[i] * is[i], with per-output-axis input strides 'is' (the input stride times the
 * step for SLICE; the stride of input axis perm[i] for TRANSPOSE). CONCAT sees each input as
 * [outer, extent*inner] rows copied into the output's [outer, total*inner] at a column offset.
 * Before launching, gathers merge output axes that walk the input as one, and PAD merges an axis
 * into its outer neighbour when it has no padding, so kernels see few axes and rarely divide.
 * TRANSPOSE first merges axes that stay neighbours and drops extent-1 axes, so NCHW -> NHWC is
 * [N, C, HW] -> [N, HW, C], a batched swap of the last two axes, which has a tiled kernel.
 * RESHAPE keeps element order: a copy (nothing at all when input and output are one buffer).
 * TAKE reads each output element at the flat input index its index tensor holds (floats that
 * are integers, exact below 2^24): any fixed rearrangement a model needs (reflect or edge
 * padding, tiling, depth-to-space, gathers and scatters with constant indices) is one TAKE
 * whose index tensor the ONNX importer computes at load time.
 * Layout ops count 0 flops; their launches report bytes moved.
 */
#include <math.h>
#include <string.h>

#include "../internal.h"

/* s right-aligned into 6 extents. */
static void shape6(const lumen_shape *s, int64_t e[6])
{
    for (int i = 0; i < 6; i++)
        e[i] = 1;
    for (int i = 0; i < s->ndim; i++)
        e[6 - s->ndim + i] = s->d[i];
}

static cl_int8 int8_of(const int64_t v[6])
{
    cl_int8 r = {{0}};
    for (int i = 0; i < 6; i++)
        r.s[i] = (cl_int)v[i];
    return r;
}

/* out[i] = in[base + sum c_k * is[k]] over the 6-d output box e (row-major order). */
static void gather_ref(const float *in, int64_t base, const int64_t e[6], const int64_t is[6],
                       float *out)
{
    int64_t i = 0;
    for (int64_t c0 = 0; c0 < e[0]; c0++)
        for (int64_t c1 = 0; c1 < e[1]; c1++)
            for (int64_t c2 = 0; c2 < e[2]; c2++)
                for (int64_t c3 = 0; c3 < e[3]; c3++)
                    for (int64_t c4 = 0; c4 < e[4]; c4++)
                        for (int64_t c5 = 0; c5 < e[5]; c5++)
                            out[i++] = in[base + c0 * is[0] + c1 * is[1] + c2 * is[2] + c3 * is[3] +
                                          c4 * is[4] + c5 * is[5]];
}

/*
 * Merges neighbouring output axes that walk the input as one (is[i-1] == is[i] * e[i]) and drops
 * extent-1 axes, keeping the box right-aligned in 6 axes: the gather reads the same elements,
 * and usually the kernel needs no division.
 */
static void gather_merge(int64_t e[6], int64_t is[6])
{
    int64_t me[6], ms[6]; /* innermost first */
    int n = 0;
    for (int i = 5; i >= 0; i--) {
        if (e[i] == 1)
            continue;
        if (n > 0 && is[i] == ms[n - 1] * me[n - 1]) {
            me[n - 1] *= e[i];
            continue;
        }
        me[n] = e[i], ms[n] = is[i], n++;
    }
    for (int i = 0; i < 6; i++)
        e[i] = 1, is[i] = 0;
    for (int j = 0; j < n; j++)
        e[5 - j] = me[j], is[5 - j] = ms[j];
}

/* Enqueues gather_f32 for output y (non-empty) from element 'base' of x. */
static lumen_status gather_run(lumen_ctx *ctx, const lumen_tensor *x, lumen_tensor *y, int64_t base,
                               const int64_t e[6], const int64_t is[6], const char *label)
{
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "layout", "", "gather_f32", &k);
    if (st != LUMEN_OK)
        return st;
    int64_t me[6], ms[6];
    memcpy(me, e, sizeof me);
    memcpy(ms, is, sizeof ms);
    gather_merge(me, ms);
    int xo = lumen__off(x) + (int)base, yo = lumen__off(y);
    cl_int8 os = int8_of(me), ist = int8_of(ms);
    lumen__arg args[] = {{sizeof(cl_mem), &x->mem}, {sizeof(int), &xo}, {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},        {sizeof os, &os},   {sizeof ist, &ist}};
    if ((st = lumen__set_args(ctx, k, "gather_f32", 6, args)) != LUMEN_OK)
        return st;
    size_t g[3] = {(size_t)me[5], (size_t)me[4], (size_t)(me[0] * me[1] * me[2] * me[3])}, l[3];
    lumen__exact_lws(3, g, lumen__wg_target(ctx, k, 64), l);
    return lumen__launch(ctx, k, 3, g, l, label, 0, 8.0 * (double)lumen_tensor_numel(y));
}

/* Copies rows x cols elements of x (contiguous) into y at y[r * ldy + col_off + c]. */
static lumen_status copy2d_run(lumen_ctx *ctx, cl_mem x, int xo, cl_mem y, int yo, int64_t rows,
                               int64_t cols, int64_t ldy, int64_t col_off, const char *label)
{
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "layout", "", "copy2d_f32", &k);
    if (st != LUMEN_OK)
        return st;
    int r = (int)rows, c = (int)cols, ld = (int)ldy, co = (int)col_off;
    lumen__arg args[] = {{sizeof(cl_mem), &x}, {sizeof(int), &xo}, {sizeof(cl_mem), &y},
                         {sizeof(int), &yo},   {sizeof(int), &r},  {sizeof(int), &c},
                         {sizeof(int), &ld},   {sizeof(int), &co}};
    if ((st = lumen__set_args(ctx, k, "copy2d_f32", 8, args)) != LUMEN_OK)
        return st;
    size_t g[2] = {(size_t)cols, (size_t)rows};
    return lumen__launch(ctx, k, 2, g, NULL, label, 0, 8.0 * (double)rows * (double)cols);
}

static double layout_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                           const lumen_shape *out)
{
    (void)d, (void)n_in, (void)in, (void)out;
    return 0;
}

/* ---- CONCAT ---- */

static lumen_status concat_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                 lumen_shape *out, char *err)
{
    char b0[160], b1[160];
    int nd = in[0]->ndim, axis = d->p.concat.axis;
    if (axis < 0)
        axis += nd;
    if (axis < 0 || axis >= nd)
        return lumen__errf(err, LUMEN_EINVAL, "concat: axis %d out of range for input %s",
                           d->p.concat.axis, lumen_shape_format(in[0], b0, sizeof b0));
    *out = *in[0];
    for (int i = 1; i < n_in; i++) {
        int same = in[i] && in[i]->ndim == nd;
        for (int j = 0; same && j < nd; j++)
            same = j == axis || in[i]->d[j] == in[0]->d[j];
        if (!same)
            return lumen__errf(err, LUMEN_ESHAPE,
                               "concat: input %d %s does not match input 0 %s "
                               "outside axis %d",
                               i, in[i] ? lumen_shape_format(in[i], b1, sizeof b1) : "(absent)",
                               lumen_shape_format(in[0], b0, sizeof b0), axis);
        out->d[axis] += in[i]->d[axis];
    }
    return LUMEN_OK;
}

/* outer (product before axis) and inner (product after) of s. */
static void concat_split(const lumen_shape *s, int axis, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++)
        *outer *= s->d[i];
    for (int i = axis + 1; i < s->ndim; i++)
        *inner *= s->d[i];
}

static int concat_axis(const lumen_opdesc *d, const lumen_shape *s)
{
    return d->p.concat.axis < 0 ? d->p.concat.axis + s->ndim : d->p.concat.axis;
}

static lumen_status concat_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                               const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)err;
    int axis = concat_axis(d, os);
    int64_t outer, inner, off = 0, total = os->d[axis];
    concat_split(os, axis, &outer, &inner);
    for (int i = 0; i < n_in; i++) {
        int64_t ext = in_shape[i]->d[axis];
        for (int64_t o = 0; o < outer; o++)
            for (int64_t a = 0; a < ext; a++)
                for (int64_t j = 0; j < inner; j++)
                    out[(o * total + off + a) * inner + j] = in[i][(o * ext + a) * inner + j];
        off += ext;
    }
    return LUMEN_OK;
}

static lumen_status concat_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                               const lumen_tensor *const *in, lumen_tensor *y)
{
    int axis = concat_axis(d, &y->shape);
    int64_t outer, inner, off = 0;
    concat_split(&y->shape, axis, &outer, &inner);
    for (int i = 0; i < n_in; i++) {
        int64_t cols = in[i]->shape.d[axis] * inner;
        lumen_status st = copy2d_run(ctx, in[i]->mem, lumen__off(in[i]), y->mem, lumen__off(y),
                                     outer, cols, y->shape.d[axis] * inner, off, "concat");
        if (st != LUMEN_OK)
            return st;
        off += cols;
    }
    return LUMEN_OK;
}

static const lumen_param concat_params[] = {{LUMEN__PARAM("axis", concat.axis), .def = 1}, {NULL}};
static const lumen__variant layout_programs[] = {{"layout", ""}, {NULL}};
static const lumen__variant *const layout_variants[] = {layout_programs, NULL};

const lumen__op_impl lumen__impl_CONCAT = {
    1,          LUMEN_MAX_IN, concat_shape,  concat_ref,
    concat_run, layout_flops, concat_params, layout_variants};

/* ---- SLICE ---- */

static lumen_status slice_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                lumen_shape *out, char *err)
{
    (void)n_in;
    const lumen_slice_params *p = &d->p.slice;
    const lumen_shape *x = in[0];
    char b[160];
    *out = *x;
    for (int i = 0; i < x->ndim; i++) {
        int64_t last = p->start[i] + (p->count[i] - 1) * p->step[i];
        if (p->step[i] == 0 || p->count[i] < 0 ||
            (p->count[i] > 0 &&
             (p->start[i] < 0 || p->start[i] >= x->d[i] || last < 0 || last >= x->d[i])))
            return lumen__errf(err, LUMEN_EINVAL,
                               "slice: input %s, axis %d: start %lld, step "
                               "%lld, count %lld leaves the axis (or step 0, count < 0)",
                               lumen_shape_format(x, b, sizeof b), i, (long long)p->start[i],
                               (long long)p->step[i], (long long)p->count[i]);
        out->d[i] = p->count[i];
    }
    return LUMEN_OK;
}

/* base offset and per-output-axis input strides (shape6 order) of a slice. */
static void slice_plan(const lumen_slice_params *p, const lumen_shape *x, int64_t *base,
                       int64_t is[6])
{
    int64_t st[LUMEN_MAX_DIMS];
    lumen__strides(x, st);
    *base = 0;
    for (int i = 0; i < 6; i++)
        is[i] = 0;
    for (int i = 0; i < x->ndim; i++) {
        *base += p->start[i] * st[i];
        is[6 - x->ndim + i] = p->step[i] * st[i];
    }
}

static lumen_status slice_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                              const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)err;
    int64_t base, is[6], e[6];
    slice_plan(&d->p.slice, in_shape[0], &base, is);
    shape6(os, e);
    if (lumen_shape_numel(os) > 0)
        gather_ref(in[0], base, e, is, out);
    return LUMEN_OK;
}

static lumen_status slice_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                              const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    int64_t base, is[6], e[6];
    slice_plan(&d->p.slice, &in[0]->shape, &base, is);
    shape6(&y->shape, e);
    if (lumen_tensor_numel(y) == 0)
        return LUMEN_OK;
    return gather_run(ctx, in[0], y, base, e, is, "slice");
}

static const lumen_param slice_params[] = {{LUMEN__PARAM("start", slice.start)},
                                           {LUMEN__PARAM("step", slice.step), .def = 1},
                                           {LUMEN__PARAM("count", slice.count)},
                                           {NULL}};

const lumen__op_impl lumen__impl_SLICE = {
    1, 1, slice_shape, slice_ref, slice_run, layout_flops, slice_params, layout_variants};

/* ---- PAD ---- */

static lumen_status pad_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                              lumen_shape *out, char *err)
{
    (void)n_in;
    const lumen_pad_params *p = &d->p.pad;
    char b[160];
    *out = *in[0];
    for (int i = 0; i < in[0]->ndim; i++) {
        if (p->pad0[i] < 0 || p->pad1[i] < 0)
            return lumen__errf(err, LUMEN_EINVAL,
                               "pad: input %s, axis %d: pads %lld/%lld must be "
                               ">= 0",
                               lumen_shape_format(in[0], b, sizeof b), i, (long long)p->pad0[i],
                               (long long)p->pad1[i]);
        out->d[i] += p->pad0[i] + p->pad1[i];
    }
    return LUMEN_OK;
}

static lumen_status pad_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                            const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)err;
    const lumen_pad_params *p = &d->p.pad;
    const lumen_shape *x = in_shape[0];
    int64_t e[6], ie[6], p0[6] = {0}, c[6];
    shape6(os, e);
    shape6(x, ie);
    for (int i = 0; i < x->ndim; i++)
        p0[6 - x->ndim + i] = p->pad0[i];
    int64_t n = lumen_shape_numel(os);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = i, src = 0, inside = 1;
        for (int k = 5; k >= 0; k--) {
            c[k] = r % e[k] - p0[k];
            r /= e[k];
            inside &= c[k] >= 0 && c[k] < ie[k];
        }
        for (int k = 0; k < 6; k++)
            src = src * ie[k] + c[k];
        out[i] = inside ? in[0][src] : p->value;
    }
    return LUMEN_OK;
}

/*
 * Merges axis i into axis i-1 when axis i has no padding (its rows are whole in input and
 * output), in place on the right-aligned extents and pads.
 */
static void pad_merge(int64_t ie[6], int64_t p0[6], int64_t p1[6])
{
    int64_t me[6], m0[6], m1[6]; /* innermost first */
    int n = 0;
    for (int i = 5; i >= 0; i--) {
        if (n > 0 && m0[n - 1] == 0 && m1[n - 1] == 0) {
            m0[n - 1] = p0[i] * me[n - 1];
            m1[n - 1] = p1[i] * me[n - 1];
            me[n - 1] *= ie[i];
            continue;
        }
        me[n] = ie[i], m0[n] = p0[i], m1[n] = p1[i], n++;
    }
    for (int i = 0; i < 6; i++)
        ie[i] = 1, p0[i] = p1[i] = 0;
    for (int j = 0; j < n; j++)
        ie[5 - j] = me[j], p0[5 - j] = m0[j], p1[5 - j] = m1[j];
}

static lumen_status pad_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                            const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    const lumen_pad_params *p = &d->p.pad;
    const lumen_shape *x = &in[0]->shape;
    if (lumen_tensor_numel(y) == 0)
        return LUMEN_OK;
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "layout", "", "pad_f32", &k);
    if (st != LUMEN_OK)
        return st;
    int64_t e[6], ie[6], p0[6] = {0}, p1[6] = {0};
    shape6(x, ie);
    for (int i = 0; i < x->ndim; i++) {
        p0[6 - x->ndim + i] = p->pad0[i];
        p1[6 - x->ndim + i] = p->pad1[i];
    }
    pad_merge(ie, p0, p1);
    for (int i = 0; i < 6; i++)
        e[i] = ie[i] + p0[i] + p1[i];
    cl_int8 os = int8_of(e), isz = int8_of(ie), pp = int8_of(p0);
    int xo = lumen__off(in[0]), yo = lumen__off(y);
    lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem},
                         {sizeof(int), &xo},
                         {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},
                         {sizeof os, &os},
                         {sizeof isz, &isz},
                         {sizeof pp, &pp},
                         {sizeof(float), &p->value}};
    if ((st = lumen__set_args(ctx, k, "pad_f32", 8, args)) != LUMEN_OK)
        return st;
    size_t g[3] = {(size_t)e[5], (size_t)e[4], (size_t)(e[0] * e[1] * e[2] * e[3])}, l[3];
    lumen__exact_lws(3, g, lumen__wg_target(ctx, k, 64), l);
    double n = (double)lumen_tensor_numel(y);
    return lumen__launch(ctx, k, 3, g, l, "pad", 0, 4.0 * (n + (double)lumen_tensor_numel(in[0])));
}

static const lumen_param pad_params[] = {{LUMEN__PARAM("pad0", pad.pad0)},
                                         {LUMEN__PARAM("pad1", pad.pad1)},
                                         {LUMEN__PARAM("value", pad.value)},
                                         {NULL}};

const lumen__op_impl lumen__impl_PAD = {
    1, 1, pad_shape, pad_ref, pad_run, layout_flops, pad_params, layout_variants};

/* ---- TRANSPOSE ---- */

static lumen_status transpose_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                    lumen_shape *out, char *err)
{
    (void)n_in;
    const int *perm = d->p.transpose.perm;
    char b[160];
    int seen = 0;
    out->ndim = in[0]->ndim;
    for (int i = 0; i < in[0]->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= in[0]->ndim || (seen >> perm[i] & 1))
            return lumen__errf(err, LUMEN_EINVAL,
                               "transpose: perm[%d] = %d is not a permutation "
                               "of the axes of input %s",
                               i, perm[i], lumen_shape_format(in[0], b, sizeof b));
        seen |= 1 << perm[i];
        out->d[i] = in[0]->d[perm[i]];
    }
    return LUMEN_OK;
}

/*
 * Drops extent-1 axes and merges input axes that stay neighbours in the output: writes the
 * merged input extents to dims and the merged permutation to cperm; returns the merged rank.
 */
static int transpose_coalesce(const lumen_shape *x, const int *perm, int64_t *dims, int *cperm)
{
    int idx[LUMEN_MAX_DIMS], pf[LUMEN_MAX_DIMS], n = 0, np = 0;
    int64_t ext[LUMEN_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        idx[i] = x->d[i] == 1 ? -1 : n;
        if (x->d[i] != 1)
            ext[n++] = x->d[i];
    }
    for (int i = 0; i < x->ndim; i++)
        if (idx[perm[i]] >= 0)
            pf[np++] = idx[perm[i]];
    /* joins[a]: input axis a directly follows axis a-1 in the output too */
    int joins[LUMEN_MAX_DIMS] = {0}, group[LUMEN_MAX_DIMS], ng = 0;
    for (int j = 0; j + 1 < np; j++)
        if (pf[j + 1] == pf[j] + 1)
            joins[pf[j + 1]] = 1;
    for (int a = 0; a < n; a++) {
        if (a == 0 || !joins[a])
            dims[ng++] = 1;
        group[a] = ng - 1;
        dims[ng - 1] *= ext[a];
    }
    int r = 0;
    for (int j = 0; j < np; j++)
        if (pf[j] == 0 || !joins[pf[j]])
            cperm[r++] = group[pf[j]];
    return ng;
}

/* The gather view of a transpose of merged input dims[0..r) by cperm. */
static void transpose_plan(const int64_t *dims, const int *cperm, int r, int64_t e[6],
                           int64_t is[6])
{
    int64_t st[LUMEN_MAX_DIMS], acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= dims[i];
    }
    for (int i = 0; i < 6; i++)
        e[i] = 1, is[i] = 0;
    for (int i = 0; i < r; i++) {
        e[6 - r + i] = dims[cperm[i]];
        is[6 - r + i] = st[cperm[i]];
    }
}

static lumen_status transpose_ref(const lumen_opdesc *d, int n_in,
                                  const lumen_shape *const *in_shape, const float *const *in,
                                  const lumen_shape *os, float *out, char *err)
{
    (void)n_in, (void)err;
    /* straight from the definition: output axis i walks input axis perm[i] */
    const lumen_shape *x = in_shape[0];
    int64_t st[LUMEN_MAX_DIMS], e[6], is[6] = {0};
    lumen__strides(x, st);
    shape6(os, e);
    for (int i = 0; i < x->ndim; i++)
        is[6 - x->ndim + i] = st[d->p.transpose.perm[i]];
    if (lumen_shape_numel(os) > 0)
        gather_ref(in[0], 0, e, is, out);
    return LUMEN_OK;
}

#define TILE 16 /* must match TILE in layout.cl */

static lumen_status transpose_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                                  const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)n_in;
    int64_t dims[LUMEN_MAX_DIMS], e[6], is[6], n = lumen_tensor_numel(y);
    int cperm[LUMEN_MAX_DIMS];
    int r = transpose_coalesce(&in[0]->shape, d->p.transpose.perm, dims, cperm);
    if (n == 0)
        return LUMEN_OK;
    if (r <= 1) /* the order of elements does not change */
        return copy2d_run(ctx, in[0]->mem, lumen__off(in[0]), y->mem, lumen__off(y), 1, n, n, 0,
                          "transpose");
    int swap = (r == 2 && cperm[0] == 1) || (r == 3 && cperm[0] == 0 && cperm[1] == 2);
    cl_kernel k;
    lumen_status st = LUMEN_OK;
    if (swap && (st = lumen__kernel(ctx, "layout", "", "transpose_tile_f32", &k)) != LUMEN_OK)
        return st;
    /* the tile kernel needs a TILE x TILE work-group; smaller devices gather instead */
    if (swap && lumen__max_wg(ctx, k) >= TILE * TILE) {
        int B = r == 3 ? (int)dims[0] : 1, R = (int)dims[r - 2], C = (int)dims[r - 1];
        int xo = lumen__off(in[0]), yo = lumen__off(y);
        lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem},
                             {sizeof(int), &xo},
                             {sizeof(cl_mem), &y->mem},
                             {sizeof(int), &yo},
                             {sizeof(int), &R},
                             {sizeof(int), &C}};
        if ((st = lumen__set_args(ctx, k, "transpose_tile_f32", 6, args)) != LUMEN_OK)
            return st;
        size_t g[3] = {(size_t)C, (size_t)R, (size_t)B}, l[3] = {TILE, TILE, 1};
        return lumen__launch(ctx, k, 3, g, l, "transpose", 0, 8.0 * (double)n);
    }
    transpose_plan(dims, cperm, r, e, is);
    return gather_run(ctx, in[0], y, 0, e, is, "transpose");
}

static const lumen_param transpose_params[] = {{LUMEN__PARAM("perm", transpose.perm)}, {NULL}};

const lumen__op_impl lumen__impl_TRANSPOSE = {1,
                                              1,
                                              transpose_shape,
                                              transpose_ref,
                                              transpose_run,
                                              layout_flops,
                                              transpose_params,
                                              layout_variants};

/* ---- RESHAPE ---- */

static lumen_status reshape_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                  lumen_shape *out, char *err)
{
    (void)n_in;
    const lumen_shape *s = &d->p.reshape.shape;
    char b0[160], b1[160];
    if (s->ndim < 0 || s->ndim > LUMEN_MAX_DIMS || lumen_shape_numel(s) < 0 ||
        lumen_shape_numel(s) != lumen_shape_numel(in[0]))
        return lumen__errf(err, LUMEN_ESHAPE,
                           "reshape: input %s cannot become %s (element "
                           "counts differ or the target is invalid)",
                           lumen_shape_format(in[0], b0, sizeof b0),
                           s->ndim >= 0 && s->ndim <= LUMEN_MAX_DIMS
                               ? lumen_shape_format(s, b1, sizeof b1)
                               : "(bad rank)");
    *out = *s;
    return LUMEN_OK;
}

static lumen_status reshape_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                                const float *const *in, const lumen_shape *os, float *out,
                                char *err)
{
    (void)d, (void)n_in, (void)in_shape, (void)err;
    int64_t n = lumen_shape_numel(os);
    if (n > 0)
        memcpy(out, in[0], (size_t)n * sizeof(float));
    return LUMEN_OK;
}

static lumen_status reshape_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                                const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)d, (void)n_in;
    int64_t n = lumen_tensor_numel(y);
    if (n == 0 || (in[0]->mem == y->mem && in[0]->offset == y->offset))
        return LUMEN_OK; /* already in place: the graph's alias */
    return copy2d_run(ctx, in[0]->mem, lumen__off(in[0]), y->mem, lumen__off(y), 1, n, n, 0,
                      "reshape");
}

/* The list given is the shape: its length is the rank. */
static const lumen_param reshape_params[] = {{LUMEN__PARAM("shape", reshape.shape.d),
                                              .flags = LUMEN_PARAM_COUNT_OUT,
                                              .count_at = LUMEN__AT(reshape.shape.ndim)},
                                             {NULL}};

const lumen__op_impl lumen__impl_RESHAPE = {
    1, 1, reshape_shape, reshape_ref, reshape_run, layout_flops, reshape_params, layout_variants};

/* ---- TAKE ---- */

static lumen_status take_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                               lumen_shape *out, char *err)
{
    (void)d, (void)n_in;
    if (lumen_shape_numel(in[0]) > (1 << 24))
        return lumen__errf(err, LUMEN_ERANGE,
                           "take: input of %lld elements (float indices are "
                           "exact up to 2^24)",
                           (long long)lumen_shape_numel(in[0]));
    *out = *in[1];
    return LUMEN_OK;
}

/* An index outside [0, numel(x)) or not an integer gives NaN (kernel and reference alike). */
static lumen_status take_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                             const float *const *in, const lumen_shape *os, float *out, char *err)
{
    (void)d, (void)n_in, (void)err;
    int64_t nx = lumen_shape_numel(in_shape[0]), n = lumen_shape_numel(os);
    for (int64_t i = 0; i < n; i++) {
        float f = in[1][i];
        out[i] = f >= 0 && f < (float)nx && floorf(f) == f ? in[0][(int64_t)f] : NAN;
    }
    return LUMEN_OK;
}

static lumen_status take_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                             const lumen_tensor *const *in, lumen_tensor *y)
{
    (void)d, (void)n_in;
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "layout", "", "take_f32", &k);
    if (st != LUMEN_OK)
        return st;
    int xo = lumen__off(in[0]), io = lumen__off(in[1]), yo = lumen__off(y),
        nx = (int)lumen_tensor_numel(in[0]), n = (int)lumen_tensor_numel(y);
    lumen__arg args[] = {{sizeof(cl_mem), &in[0]->mem},
                         {sizeof(int), &xo},
                         {sizeof(int), &nx},
                         {sizeof(cl_mem), &in[1]->mem},
                         {sizeof(int), &io},
                         {sizeof(cl_mem), &y->mem},
                         {sizeof(int), &yo},
                         {sizeof(int), &n}};
    if ((st = lumen__set_args(ctx, k, "take_f32", 8, args)) != LUMEN_OK)
        return st;
    if (n == 0)
        return LUMEN_OK;
    size_t g = (size_t)n;
    return lumen__launch(ctx, k, 1, &g, NULL, "take", 0, 12.0 * n);
}

static const lumen_param take_params[] = {{NULL}};

const lumen__op_impl lumen__impl_TAKE = {
    2, 2, take_shape, take_ref, take_run, layout_flops, take_params, layout_variants};
