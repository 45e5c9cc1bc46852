/*
 * ops_sample.c - mappers of the ONNX ops that select or sample: TopK (two TOPK ops, one for the
 * values and one for the indices, each only when its output is used), GridSample (GRID_SAMPLE)
 * RoiAlign (ROI_ALIGN, with the constant batch indices as a float input) and Det (DET).
 * Attributes are checked here; shapes by the ops.
 */
#include <math.h>
#include <string.h>

#include "onnx/map.h"

/* TopK: K is input 1 from opset 10 (a constant one-element tensor), the attribute 'k' before.
 * 'sorted' 0 lets any order do; lumen's is always sorted. Indices are int64 in ONNX: marked so,
 * only a graph output may read them (as ArgMax's). */
static lumen_status map_topk(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    lumen_status st;
    int64_t k = lumen__ox_attr_int(n, "k", -1);
    if (c->opset >= 10) {
        int64_t v[1];
        int cnt;
        if ((st = lumen__ox_const_ints(c, n, 1, v, 1, &cnt)) != LUMEN_OK)
            return st;
        k = cnt == 1 ? v[0] : -1;
    }
    lumen_opdesc d = {.op = LUMEN_OP_TOPK};
    int axis;
    if ((st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", -1), x->ndim, &axis)) != LUMEN_OK)
        return st;
    if (k < 1 || k > x->d[axis])
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "k %lld for an axis of extent %lld",
                              (long long)k, (long long)x->d[axis]);
    int64_t largest = lumen__ox_attr_int(n, "largest", 1);
    if (largest != 0 && largest != 1)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "largest %lld", (long long)largest);
    d.p.topk.axis = axis, d.p.topk.k = (int)k, d.p.topk.largest = (int)largest;
    int in = lumen__ox_in(c, n, 0);
    for (int j = 0; j < 2 && j < n->n_out; j++) {
        ox_val *v = lumen__ox_out(c, n, j);
        if (!v)
            continue;
        d.p.topk.indices = j;
        st = lumen__ox_set_gv(c, n, j,
                              in < 0 ? -1 : lumen__ox_op(c, n, j ? ".indices" : "", &d, 1, &in));
        if (st != LUMEN_OK)
            return st;
        v->is_int = j == 1;
    }
    return LUMEN_OK;
}

/* The index of s in names[0..n) (each a NULL-free list), or -1. */
static int name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

/* GridSample (opset 16: bilinear / nearest / bicubic; opset 20 spells linear / cubic). */
static lumen_status map_grid_sample(ox_ctx *c, ox_node *n)
{
    char mode[32], pad[32];
    lumen__ox_attr_str(n, "mode", "bilinear", mode, sizeof mode);
    lumen__ox_attr_str(n, "padding_mode", "zeros", pad, sizeof pad);
    static const char *const modes[] = {"bilinear", "nearest", "bicubic", "linear", "cubic"};
    static const char *const pads[] = {"zeros", "border", "reflection"};
    int m = name_index(mode, modes, 5), p = name_index(pad, pads, 3);
    int64_t al = lumen__ox_attr_int(n, "align_corners", 0);
    if (m < 0 || p < 0 || (al != 0 && al != 1))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "mode '%s', padding_mode '%s', align_corners %lld", mode, pad,
                              (long long)al);
    if (lumen__ox_in_shape(c, n, 0)->ndim != 4)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "input of rank %d (4-d only)",
                              lumen__ox_in_shape(c, n, 0)->ndim);
    lumen_opdesc d = {.op = LUMEN_OP_GRID_SAMPLE};
    d.p.grid.mode = m == 3 ? LUMEN_GRID_BILINEAR : m == 4 ? LUMEN_GRID_BICUBIC : m;
    d.p.grid.padding = p;
    d.p.grid.align_corners = (int)al;
    int in[2] = {lumen__ox_in(c, n, 0), lumen__ox_in(c, n, 1)};
    return lumen__ox_emit(c, n, &d, 2, in);
}

/* RoiAlign (opset 10: output_half_pixel only; 16: coordinate_transformation_mode). The batch
 * indices (int64) must be constant: each is checked against the input's batch here. */
static lumen_status map_roi_align(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    const ox_val *bv = n->in[2];
    if (!bv->host)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "batch_indices '%s' computed at run time",
                              bv->name);
    for (int64_t k = 0; k < lumen_shape_numel(&bv->host->shape); k++) {
        int64_t b = lumen__ox_host_geti(bv->host, k);
        if (x->ndim != 4 || b < 0 || b >= x->d[0])
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "batch index %lld for a batch of %lld",
                                  (long long)b, (long long)(x->ndim ? x->d[0] : 0));
    }
    char mode[16], coord[32];
    lumen__ox_attr_str(n, "mode", "avg", mode, sizeof mode);
    lumen__ox_attr_str(n, "coordinate_transformation_mode",
                       c->opset >= 16 ? "half_pixel" : "output_half_pixel", coord, sizeof coord);
    int64_t oh = lumen__ox_attr_int(n, "output_height", 1),
            ow = lumen__ox_attr_int(n, "output_width", 1),
            smp = lumen__ox_attr_int(n, "sampling_ratio", 0);
    float scale = lumen__ox_attr_float(n, "spatial_scale", 1.0f);
    static const char *const modes[] = {"avg", "max"};
    static const char *const coords[] = {"output_half_pixel", "half_pixel"};
    int m = name_index(mode, modes, 2), hp = name_index(coord, coords, 2);
    if (m < 0 || hp < 0 || oh < 1 || oh > 1 << 16 || ow < 1 || ow > 1 << 16 || smp < 0 ||
        smp > 256 || !(fabsf(scale) <= 1e6f))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "mode '%s', coordinate_transformation_mode '%s', output %lldx%lld, "
                              "sampling_ratio %lld (at most 256), spatial_scale %g",
                              mode, coord, (long long)oh, (long long)ow, (long long)smp, scale);
    lumen_opdesc d = {.op = LUMEN_OP_ROI_ALIGN};
    d.p.roi = (lumen_roi_align_params){m, (int)oh, (int)ow, (int)smp, scale, hp};
    int in[3] = {lumen__ox_in(c, n, 0), lumen__ox_in(c, n, 1), lumen__ox_in(c, n, 2)};
    return lumen__ox_emit(c, n, &d, 3, in);
}

/* Det: the DET op (square matrices of at most 16 rows in the last two axes). */
static lumen_status map_det(ox_ctx *c, ox_node *n)
{
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0);
    if (x->ndim >= 2 && x->d[x->ndim - 1] > 16 && x->d[x->ndim - 1] == x->d[x->ndim - 2])
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "matrices of %lld rows (at most 16)",
                              (long long)x->d[x->ndim - 1]);
    lumen_opdesc d = {.op = LUMEN_OP_DET};
    int in = lumen__ox_in(c, n, 0);
    return lumen__ox_emit(c, n, &d, 1, &in);
}

const ox_op lumen__ox_ops_sample[] = {
    {"Det", 11, 17, 1, map_det},
    {"TopK", 1, 17, 1, map_topk},
    {"GridSample", 16, 17, 2, map_grid_sample},
    {"RoiAlign", 10, 17, 3, map_roi_align},
    {NULL, 0, 0, 0, NULL},
};
