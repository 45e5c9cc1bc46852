/*
 * ops_signal.c - DFT and STFT as matrix products with constant cosine and sine tables (no FFT:
 * the spectra of the short signals these ops see in models are a GEMM each). For a signal x of
 * length N along the transformed axis, outputs k of a transform of length L:
 *     re[k] = sum_n xr[n] cos(t) + s xi[n] sin(t),  im[k] = sum_n xi[n] cos(t) - s xr[n] sin(t)
 * with t = 2 pi k n / L, s = 1 forward and -1 inverse (which also divides by L); n runs over
 * min(N, L) samples (a longer signal is cut, a shorter one zero-padded). onesided keeps
 * k = 0 .. L/2. A real input has no xi. The last axis holds (re, im) in ONNX, 1 or 2 wide.
 * STFT frames the signal with a TAKE (frame f reads x[f * step + n]), multiplies by the window
 * and transforms each frame along the last axis. TfIdfVectorizer (the text counterpart: n-gram
 * counts of token ids) is folded on the host when its tokens are constant (its own section).
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

/* ---- TfIdfVectorizer on constant tokens (folded on the host) ----
 *
 * As ONNX Runtime counts: for each skip distance d = 1 .. max_skip_count + 1 and each start
 * position, the tokens x[start], x[start + d], ... are matched against the pool's n-grams
 * (lengths min_gram_length .. max_gram_length); every pool n-gram matched adds one to its output
 * column (ngram_indexes). Unigrams count only at the first distance. Then TF keeps the counts,
 * IDF gives weights[column] (or 1) where the count is non-zero, TFIDF multiplies them. */

/* The pool n-gram of length len equal to tokens t[0], t[d], ...; its number in the pool or -1. */
static int64_t pool_find(const int64_t *pool, const int64_t *counts, int n_counts, int64_t n_pool,
                         int len, const int64_t *t, int64_t d)
{
    int64_t lo = counts[len - 1], hi = len < n_counts ? counts[len] : n_pool, first = 0;
    for (int k = 0; k < len - 1; k++)
        first += (counts[k + 1] - counts[k]) / (k + 1); /* n-grams of the shorter lengths */
    for (int64_t p = lo, id = first; p + len <= hi; p += len, id++) {
        int same = 1;
        for (int k = 0; k < len && same; k++)
            same = pool[p + k] == t[k * d];
        if (same)
            return id;
    }
    return -1;
}

static lumen_status map_tfidf(ox_ctx *c, ox_node *n)
{
    const ox_host *x = n->in[0]->host;
    if (!x || !x->is_int)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "tokens '%s' computed at run time (or not integers)", n->in[0]->name);
    const Onnx__AttributeProto *pa = lumen__ox_attr(n, "pool_int64s"),
                               *ca = lumen__ox_attr(n, "ngram_counts"),
                               *ia = lumen__ox_attr(n, "ngram_indexes"),
                               *wa = lumen__ox_attr(n, "weights");
    int64_t mn = lumen__ox_attr_int(n, "min_gram_length", 1),
            mx = lumen__ox_attr_int(n, "max_gram_length", 1),
            skip = lumen__ox_attr_int(n, "max_skip_count", 0);
    char mode[8];
    lumen__ox_attr_str(n, "mode", "TF", mode, sizeof mode);
    int m = !strcmp(mode, "TF") ? 0 : !strcmp(mode, "IDF") ? 1 : !strcmp(mode, "TFIDF") ? 2 : -1;
    if (!pa || !ca || !ia || m < 0 || mn < 1 || mx < mn || mx > (int64_t)ca->n_ints || skip < 0 ||
        skip > 64 || x->shape.ndim < 1 || x->shape.ndim > 2)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "pool_int64s, ngram_counts, ngram_indexes, mode '%s', gram lengths "
                              "%lld..%lld, max_skip_count %lld, input of rank %d",
                              mode, (long long)mn, (long long)mx, (long long)skip, x->shape.ndim);
    int64_t n_pool = (int64_t)pa->n_ints, n_grams = 0, cols = 0;
    for (size_t k = 0; k < ca->n_ints; k++) {
        int64_t hi = k + 1 < ca->n_ints ? ca->ints[k + 1] : n_pool;
        if (ca->ints[k] < 0 || hi < ca->ints[k] || hi > n_pool ||
            (hi - ca->ints[k]) % (int64_t)(k + 1))
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "ngram_counts do not cut the pool");
        n_grams += (hi - ca->ints[k]) / (int64_t)(k + 1);
    }
    if ((int64_t)ia->n_ints != n_grams || (wa && (int64_t)wa->n_floats < 1))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "%zu ngram_indexes for %lld n-grams", ia->n_ints,
                              (long long)n_grams);
    for (size_t k = 0; k < ia->n_ints; k++) {
        if (ia->ints[k] < 0 || ia->ints[k] > OX_INT_MAX)
            return lumen__ox_fail(c, n, LUMEN_EFORMAT, "ngram_indexes entry %lld",
                                  (long long)ia->ints[k]);
        cols = ia->ints[k] + 1 > cols ? ia->ints[k] + 1 : cols;
    }
    if (wa && (int64_t)wa->n_floats < cols)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "%zu weights for %lld columns", wa->n_floats,
                              (long long)cols);
    int64_t rows = x->shape.ndim == 2 ? x->shape.d[0] : 1, len = x->shape.d[x->shape.ndim - 1];
    if ((double)rows * (double)len * (double)(skip + 1) * (double)n_pool > 1e9)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "%lld x %lld tokens against a pool of %lld (at most 1e9 "
                              "comparisons at load)",
                              (long long)rows, (long long)len, (long long)n_pool);
    lumen_shape os = x->shape;
    os.d[os.ndim - 1] = cols;
    ox_host *h = lumen__ox_host_new(c, n, 0, &os);
    if (!h)
        return c->st;
    for (int64_t r = 0; r < rows; r++) {
        const int64_t *t = x->i + r * len;
        float *out = h->f + r * cols;
        int64_t from = mn;
        for (int64_t d = 1; d <= skip + 1; d++) {
            for (int64_t st = 0; st + d * (from - 1) < len; st++)
                for (int64_t g = from; g <= mx && st + d * (g - 1) < len; g++) {
                    int64_t id =
                        pool_find(pa->ints, ca->ints, (int)ca->n_ints, n_pool, (int)g, t + st, d);
                    if (id >= 0)
                        out[ia->ints[id]] += 1.0f;
                }
            if (from == 1 && ++from > mx) /* unigrams count at the first distance only */
                break;
        }
        for (int64_t k = 0; k < cols; k++) {
            float w = wa ? wa->floats[k] : 1.0f;
            out[k] = m == 0 ? out[k] : m == 1 ? (out[k] > 0 ? w : 0.0f) : out[k] * w;
        }
    }
    return lumen__ox_set_host(c, n, 0, h);
}

/* ---- MelWeightMatrix with constant inputs (folded on the host) ----
 *
 * ONNX's reference: num_mel_bins + 2 points evenly spaced on the mel scale
 * (mel = 2595 log10(1 + hz / 700)) from lower_edge_hertz to upper_edge_hertz (step: the range
 * over num_mel_bins + 2), back to hertz, then to spectrogram bins floor((dft_length + 1) hz /
 * sample_rate); mel bin i is a triangle rising from point i to point i + 1 and falling to point
 * i + 2. Output [dft_length / 2 + 1, num_mel_bins]. */
static lumen_status map_mel(ox_ctx *c, ox_node *n)
{
    for (int i = 0; i < 5; i++)
        if (!n->in[i]->host || lumen_shape_numel(&n->in[i]->host->shape) != 1)
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                                  "input %d must be a scalar known at load time", i);
    int64_t mel = lumen__ox_host_geti(n->in[0]->host, 0),
            dft = lumen__ox_host_geti(n->in[1]->host, 0),
            rate = lumen__ox_host_geti(n->in[2]->host, 0);
    double lo = lumen__ox_host_get(n->in[3]->host, 0), hi = lumen__ox_host_get(n->in[4]->host, 0);
    if (mel < 1 || mel > 65536 || dft < 1 || dft > 1 << 20 || rate < 1 || !(lo >= 0) ||
        !(hi > lo) || !(hi <= 1e9))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "num_mel_bins %lld, dft_length %lld, sample_rate %lld, edges %g..%g",
                              (long long)mel, (long long)dft, (long long)rate, lo, hi);
    int64_t bins = dft / 2 + 1, *pt = malloc(sizeof *pt * (size_t)(mel + 2));
    lumen_shape os = {2, {bins, mel}};
    ox_host *h = pt ? lumen__ox_host_new(c, n, 0, &os) : NULL;
    if (!h) {
        free(pt);
        return pt ? c->st : lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    }
    double mlo = 2595 * log10(1 + lo / 700), mhi = 2595 * log10(1 + hi / 700);
    double step = (mhi - mlo) / (double)(mel + 2);
    for (int64_t i = 0; i < mel + 2; i++) {
        double hz = 700 * (pow(10, ((double)i * step + mlo) / 2595) - 1);
        pt[i] = (int64_t)floor((double)(dft + 1) * hz / (double)rate);
        pt[i] = pt[i] < 0 ? 0 : pt[i] >= bins ? bins - 1 : pt[i];
    }
    for (int64_t i = 0; i < mel; i++) {
        int64_t l = pt[i], m = pt[i + 1], r = pt[i + 2];
        if (m == l)
            h->f[m * mel + i] = 1;
        else
            for (int64_t j = l; j <= m; j++)
                h->f[j * mel + i] = (float)((double)(j - l) / (double)(m - l));
        for (int64_t j = m; j < r; j++)
            h->f[j * mel + i] = (float)((double)(r - j) / (double)(r - m));
    }
    free(pt);
    return lumen__ox_set_host(c, n, 0, h);
}

const ox_op lumen__ox_ops_signal[] = {
    {"MelWeightMatrix", 17, 17, 5, map_mel},
    {"TfIdfVectorizer", 9, 17, 1, map_tfidf},
    {"DFT", 17, 17, 1, map_dft},
    {"STFT", 17, 17, 2, map_stft},
    {NULL, 0, 0, 0, NULL},
};
