/*
 * map.c - helpers shared by the mappers (ops_nn.c, ops_layout.c): inputs as graph values,
 * emitting the node's one output, and the spatial attributes of Conv, ConvTranspose and the
 * pools (kernel_shape, strides, dilations, pads, auto_pad).
 */
#include <stdio.h>
#include <string.h>

#include "onnx/map.h"

int lumen__ox_in(ox_ctx *c, ox_node *n, int i)
{
    if (i >= n->n_in || !n->in[i])
        return -1;
    int v = lumen__ox_gv(c, n, n->in[i]);
    return v < 0 ? -2 : v;
}

const lumen_shape *lumen__ox_in_shape(ox_ctx *c, ox_node *n, int i)
{
    return i < n->n_in && n->in[i] ? lumen__ox_shape(c, n->in[i]) : NULL;
}

lumen_status lumen__ox_need(ox_ctx *c, ox_node *n, int k)
{
    for (int i = 0; i < k; i++)
        if (i >= n->n_in || !n->in[i])
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "input %d is missing", i);
    return LUMEN_OK;
}

lumen_status lumen__ox_emit(ox_ctx *c, ox_node *n, const lumen_opdesc *d, int n_in, const int *in)
{
    return lumen__ox_set_gv(c, n, 0, lumen__ox_op(c, n, "", d, n_in, in));
}

/* ---- spatial attributes shared by Conv, ConvTranspose and the pools ---- */

/* Reads kernel_shape (or takes kfrom), strides, dilations, pads, auto_pad for nsp axes. */
lumen_status lumen__ox_spatial(ox_ctx *c, ox_node *n, int nsp, const int64_t *kfrom, ox_spatial *s)
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
void lumen__ox_auto_pad(ox_spatial *s, const lumen_shape *x)
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

lumen_status lumen__ox_spatial_rank(ox_ctx *c, ox_node *n, const lumen_shape *x, int *nsp)
{
    *nsp = x->ndim - 2;
    if (*nsp < 1 || *nsp > 3)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "input of rank %d (1d, 2d and 3d only)",
                              x->ndim);
    return LUMEN_OK;
}
