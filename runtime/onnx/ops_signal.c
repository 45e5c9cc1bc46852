/*
 * ops_signal.c - DFT and STFT as matrix products with constant cosine and sine tables (no FFT:
 * the spectra of the short signals these ops see in models are a GEMM each). For a signal x of
 * length N along the transformed axis, outputs k of a transform of length L:
 *     re[k] = sum_n xr[n] cos(t) + s xi[n] sin(t),  im[k] = sum_n xi[n] cos(t) - s xr[n] sin(t)
 * with t = 2 pi k n / L, s = 1 forward and -1 inverse (which also divides by L); n runs over
 * min(N, L) samples (a longer signal is cut, a shorter one zero-padded). onesided keeps
 * k = 0 .. L/2. A real input has no xi. The last axis holds (re, im) in ONNX, 1 or 2 wide.
 * STFT frames the signal with a TAKE (frame f reads x[f * step + n]), multiplies by the window
 * and transforms each frame along the last axis.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/map.h"

#define SIG_MAX_LEN 8192 /* transform lengths: the tables are L x K floats */

static int s_op(ox_ctx *c, ox_node *n, const char *sfx, const lumen_opdesc *d, int k, const int *in)
{
    for (int i = 0; i < k; i++)
        if (in[i] < 0)
            return -1;
    return lumen__ox_op(c, n, sfx, d, k, in);
}

static int s_reshape(ox_ctx *c, ox_node *n, const char *sfx, int x, const lumen_shape *s)
{
    return x < 0 ? -1 : lumen__ox_reshape(c, n, sfx, x, s);
}

/* Part p (0 real, 1 imaginary) of x [..., 1 or 2] without its last axis. */
static int part(ox_ctx *c, ox_node *n, const char *sfx, int x, const lumen_shape *xs, int p)
{
    lumen_opdesc d = {.op = LUMEN_OP_SLICE};
    for (int i = 0; i < xs->ndim; i++)
        d.p.slice.step[i] = 1, d.p.slice.count[i] = xs->d[i];
    d.p.slice.start[xs->ndim - 1] = p, d.p.slice.count[xs->ndim - 1] = 1;
    lumen_shape o = *xs;
    o.ndim--;
    char s2[32];
    snprintf(s2, sizeof s2, "%s.r", sfx);
    return s_reshape(c, n, s2, s_op(c, n, sfx, &d, 1, &x), &o);
}

/* The table [N, K] of cos (sine 0) or sin (sine 1) of 2 pi k n / L, rows n >= L zero, times
 * 'scale'. */
static int table(ox_ctx *c, ox_node *n, const char *sfx, int64_t N, int64_t K, int64_t L, int sine,
                 double scale)
{
    float *t = malloc(sizeof *t * (size_t)(N * K));
    if (!t) {
        lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
        return -1;
    }
    for (int64_t i = 0; i < N; i++)
        for (int64_t k = 0; k < K; k++) {
            double a = 2 * 3.14159265358979323846 * (double)((i * k) % L) / (double)L;
            t[i * K + k] = i < L ? (float)(scale * (sine ? sin(a) : cos(a))) : 0.0f;
        }
    lumen_shape s = {2, {N, K}};
    int v = lumen__ox_const(c, n, sfx, &s, t);
    free(t);
    return v;
}

/* (re, im) of the transform along the last axis of xr and xi (xi < 0: a real signal), both
 * [..., N], stacked as [..., K, 2]. */
static int transform(ox_ctx *c, ox_node *n, int xr, int xi, const lumen_shape *xs, int64_t L,
                     int64_t K, int inverse)
{
    int64_t N = xs->d[xs->ndim - 1];
    double sc = inverse ? 1.0 / (double)L : 1.0, sg = inverse ? -1 : 1;
    int C = table(c, n, ".cos", N, K, L, 0, sc), S = table(c, n, ".sin", N, K, L, 1, sc * sg);
    lumen_opdesc mm = {.op = LUMEN_OP_MATMUL}, bin = {.op = LUMEN_OP_BINARY};
    int in[2] = {xr, C}, re = s_op(c, n, ".rc", &mm, 2, in), im;
    in[1] = S;
    int rs = s_op(c, n, ".rs", &mm, 2, in); /* s xr sin */
    im = s_op(c, n, ".neg",
              &(lumen_opdesc){.op = LUMEN_OP_UNARY, .p.unary.act = {LUMEN_ACT_NEG, 0, 0}}, 1, &rs);
    if (xi >= 0) {
        in[0] = xi, in[1] = S;
        int is = s_op(c, n, ".is", &mm, 2, in); /* s xi sin */
        in[1] = C;
        int ic = s_op(c, n, ".ic", &mm, 2, in);
        bin.p.binary.kind = LUMEN_BIN_ADD;
        in[0] = re, in[1] = is;
        re = s_op(c, n, ".re", &bin, 2, in);
        bin.p.binary.kind = LUMEN_BIN_SUB;
        in[0] = ic, in[1] = rs;
        im = s_op(c, n, ".im", &bin, 2, in);
    }
    lumen_shape o = *xs;
    o.d[o.ndim - 1] = K;
    o.d[o.ndim++] = 1;
    if (o.ndim > LUMEN_MAX_DIMS) {
        lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "output rank above %d", LUMEN_MAX_DIMS);
        return -1;
    }
    int parts[2] = {s_reshape(c, n, ".re1", re, &o), s_reshape(c, n, ".im1", im, &o)};
    lumen_opdesc cat = {.op = LUMEN_OP_CONCAT};
    cat.p.concat.axis = o.ndim - 1;
    return s_op(c, n, ".cat", &cat, 2, parts);
}

/* An optional constant integer scalar input i (absent: def). */
static lumen_status scalar_in(ox_ctx *c, ox_node *n, int i, int64_t def, int64_t *out)
{
    *out = def;
    if (i >= n->n_in || !n->in[i])
        return LUMEN_OK;
    int cnt;
    lumen_status st = lumen__ox_const_ints(c, n, i, out, 1, &cnt);
    if (st == LUMEN_OK && cnt != 1)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "input %d must hold one value", i);
    return st;
}

static lumen_status map_dft(ox_ctx *c, ox_node *n)
{
    const lumen_shape *xs = lumen__ox_in_shape(c, n, 0);
    int r = xs->ndim, inverse = lumen__ox_attr_int(n, "inverse", 0) != 0;
    int onesided = lumen__ox_attr_int(n, "onesided", 0) != 0, axis;
    if (r < 2 || r > LUMEN_MAX_DIMS || (xs->d[r - 1] != 1 && xs->d[r - 1] != 2))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "input of rank %d must end in 1 or 2 (re, im)",
                              r);
    lumen_status st = lumen__ox_axis(c, n, lumen__ox_attr_int(n, "axis", 1), r - 1, &axis);
    int64_t L;
    if (st == LUMEN_OK)
        st = scalar_in(c, n, 1, xs->d[axis], &L);
    if (st != LUMEN_OK)
        return st;
    if (L < 1)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "dft_length %lld", (long long)L);
    if (L > SIG_MAX_LEN || xs->d[axis] > SIG_MAX_LEN)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "a transform of length %lld (at most %d)",
                              (long long)L, SIG_MAX_LEN);
    if (onesided && (inverse || xs->d[r - 1] == 2))
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "onesided with a complex or inverse input");
    int64_t K = onesided ? L / 2 + 1 : L;
    int x = lumen__ox_in(c, n, 0);
    lumen_shape ps = *xs; /* one part, the axis moved last */
    ps.ndim--;
    int perm[LUMEN_MAX_DIMS], back[LUMEN_MAX_DIMS];
    for (int i = 0, j = 0; i < ps.ndim; i++)
        if (i != axis)
            perm[j++] = i;
    perm[ps.ndim - 1] = axis;
    for (int i = 0; i < ps.ndim; i++)
        back[perm[i]] = i;
    lumen_opdesc tr = {.op = LUMEN_OP_TRANSPOSE};
    memcpy(tr.p.transpose.perm, perm, sizeof perm);
    lumen_shape ts;
    ts.ndim = ps.ndim;
    for (int i = 0; i < ps.ndim; i++)
        ts.d[i] = ps.d[perm[i]];
    int xr = part(c, n, ".xr", x, xs, 0), xi = xs->d[r - 1] == 2 ? part(c, n, ".xi", x, xs, 1) : -1;
    int moved = axis != ps.ndim - 1;
    if (moved) {
        xr = s_op(c, n, ".xrt", &tr, 1, &xr);
        if (xi >= 0)
            xi = s_op(c, n, ".xit", &tr, 1, &xi);
    }
    int y = transform(c, n, xr, xi, &ts, L, K, inverse);
    if (moved) { /* [..., K, 2]: the transformed axis back in place, (re, im) last */
        lumen_opdesc tb = {.op = LUMEN_OP_TRANSPOSE};
        for (int i = 0; i < ps.ndim; i++)
            tb.p.transpose.perm[i] = back[i];
        tb.p.transpose.perm[ps.ndim] = ps.ndim;
        y = s_op(c, n, ".back", &tb, 1, &y);
    }
    return lumen__ox_set_gv(c, n, 0, y);
}

/* STFT (signal [B, len, 1 or 2], frame_step, window?, frame_length?): [B, frames, K, 2]. */
static lumen_status map_stft(ox_ctx *c, ox_node *n)
{
    const lumen_shape *xs = lumen__ox_in_shape(c, n, 0), *ws = lumen__ox_in_shape(c, n, 2);
    int onesided = lumen__ox_attr_int(n, "onesided", 1) != 0;
    int64_t step, L;
    lumen_status st = scalar_in(c, n, 1, 0, &step);
    if (st == LUMEN_OK)
        st = scalar_in(c, n, 3, ws && ws->ndim == 1 ? ws->d[0] : 0, &L);
    if (st != LUMEN_OK)
        return st;
    if (xs->ndim != 3 || (xs->d[2] != 1 && xs->d[2] != 2))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "signal of rank %d must be [batch, length, 1 "
                              "or 2]",
                              xs->ndim);
    if (step < 1 || L < 1 || L > xs->d[1] || L > SIG_MAX_LEN ||
        (ws && (ws->ndim != 1 || ws->d[0] != L)))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "frame_step %lld, frame length %lld, window "
                              "of %lld, signal of %lld",
                              (long long)step, (long long)L,
                              (long long)(ws ? lumen_shape_numel(ws) : 0), (long long)xs->d[1]);
    if (onesided && xs->d[2] == 2)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "onesided with a complex signal");
    int64_t B = xs->d[0], len = xs->d[1], F = 1 + (len - L) / step, K = onesided ? L / 2 + 1 : L;
    lumen_shape fs = {3, {B, F, L}};
    if (B * F * L > c->max_elements)
        return lumen__ox_fail(c, n, LUMEN_ERANGE, "%lld frames of %lld", (long long)F,
                              (long long)L);
    float *idx = malloc(sizeof *idx * (size_t)(B * F * L));
    if (!idx)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    for (int64_t b = 0; b < B; b++)
        for (int64_t f = 0; f < F; f++)
            for (int64_t k = 0; k < L; k++)
                idx[(b * F + f) * L + k] = (float)(b * len + f * step + k);
    int iv = lumen__ox_const(c, n, ".frames", &fs, idx);
    free(idx);
    int x = lumen__ox_in(c, n, 0), fr[2] = {-1, -1};
    lumen_opdesc take = {.op = LUMEN_OP_TAKE}, mul = {.op = LUMEN_OP_BINARY};
    mul.p.binary.kind = LUMEN_BIN_MUL;
    for (int p = 0; p < xs->d[2]; p++) {
        int in[2] = {part(c, n, p ? ".xi" : ".xr", x, xs, p), iv};
        fr[p] = s_op(c, n, p ? ".fi" : ".fr", &take, 2, in);
        if (ws) {
            in[0] = fr[p], in[1] = lumen__ox_in(c, n, 2);
            fr[p] = s_op(c, n, p ? ".wi" : ".wr", &mul, 2, in);
        }
    }
    return lumen__ox_set_gv(c, n, 0, transform(c, n, fr[0], fr[1], &fs, L, K, 0));
}

const ox_op lumen__ox_ops_signal[] = {
    {"DFT", 17, 17, 1, map_dft},
    {"STFT", 17, 17, 2, map_stft},
    {NULL, 0, 0, 0, NULL},
};
