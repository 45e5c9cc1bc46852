/*
 * ops_rnn.c - RNN, GRU and LSTM, unrolled over their (static) sequence into the graph's own ops:
 * one MATMUL for the input projection of every step (X W^T + Wb), then per step a MATMUL for
 * the recurrence (H R^T + Rb), SLICEs for the gates and BINARY/UNARY ops for the gate
 * arithmetic (sigmoid and tanh fused into the adds where the formula allows), as ONNX defines
 * them:
 *     RNN   H = tanh(Xw + H Rw^T + Wb + Rb)
 *     LSTM  i = s(Xi + Hi + Pi.C), f = s(Xf + Hf + Pf.C), c = tanh(Xc + Hc),
 *           C = f.C + i.c, o = s(Xo + Ho + Po.C), H = o.tanh(C)      (gate order i, o, f, c)
 *     GRU   z = s(Xz + Hz), r = s(Xr + Hr), h = tanh(Xh + (r.H) Rh^T + Rbh), or with
 *           linear_before_reset tanh(Xh + r.(H Rh^T + Rbh)); H = h + z.(H - h)   (order z, r, h)
 * Directions forward, reverse and bidirectional; layout 0 ([T, B, I]) and 1 ([B, T, I]);
 * initial_h, initial_c, peepholes. Outputs Y, Y_h (and Y_c), each only when used.
 *
 * Limits (EUNSUPPORTED): activations other than the defaults, clip, input_forget, and
 * sequence_lens that are not all the full sequence (or not constant); at most 1024 steps, since
 * every step becomes graph nodes.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "onnx/map.h"

#define RNN_MAX_STEPS 1024

enum { K_RNN, K_GRU, K_LSTM };

/* The graph's ops, each returning the value or -1 (message set; a -1 input gives -1). */
static int r_slice(ox_ctx *c, ox_node *n, const char *sfx, int x, int axis, int64_t start,
                   int64_t count)
{
    if (x < 0)
        return -1;
    const lumen_shape *s = lumen_graph_shape(c->g, x);
    lumen_opdesc d = {.op = LUMEN_OP_SLICE};
    for (int i = 0; i < s->ndim; i++)
        d.p.slice.step[i] = 1, d.p.slice.count[i] = s->d[i];
    d.p.slice.start[axis] = start, d.p.slice.count[axis] = count;
    return lumen__ox_op(c, n, sfx, &d, 1, &x);
}

static int r_bin(ox_ctx *c, ox_node *n, const char *sfx, int kind, lumen_act act, int a, int b)
{
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    d.p.binary.kind = kind;
    d.p.binary.act = lumen_actdesc_default(act);
    int in[2] = {a, b};
    return a < 0 || b < 0 ? -1 : lumen__ox_op(c, n, sfx, &d, 2, in);
}

static int r_un(ox_ctx *c, ox_node *n, const char *sfx, lumen_act act, int x)
{
    lumen_opdesc d = lumen_opdesc_unary(act);
    return x < 0 ? -1 : lumen__ox_op(c, n, sfx, &d, 1, &x);
}

/* a [M, K] times b [N, K] transposed, plus bias [N] (absent: -1). */
static int r_mm(ox_ctx *c, ox_node *n, const char *sfx, int a, int b, int bias, int has_bias)
{
    lumen_opdesc d = {.op = LUMEN_OP_MATMUL};
    d.p.matmul.trans_b = 1;
    int in[3] = {a, b, has_bias ? bias : -1};
    return a < 0 || b < 0 || (has_bias && bias < 0) ? -1 : lumen__ox_op(c, n, sfx, &d, 3, in);
}

static int r_reshape(ox_ctx *c, ox_node *n, const char *sfx, int x, lumen_shape s)
{
    return lumen__ox_reshape(c, n, sfx, x, &s);
}

static int r_concat(ox_ctx *c, ox_node *n, const char *sfx, const int *xs, int cnt, int axis)
{
    lumen_opdesc d = {.op = LUMEN_OP_CONCAT};
    d.p.concat.axis = axis;
    for (int i = 0; i < cnt; i++)
        if (xs[i] < 0)
            return -1;
    return cnt == 1 ? xs[0] : lumen__ox_op(c, n, sfx, &d, cnt, xs);
}

static int r_transpose(ox_ctx *c, ox_node *n, const char *sfx, int x, const int *perm, int nd)
{
    lumen_opdesc d = {.op = LUMEN_OP_TRANSPOSE};
    for (int i = 0; i < nd; i++)
        d.p.transpose.perm[i] = perm[i];
    return x < 0 ? -1 : lumen__ox_op(c, n, sfx, &d, 1, &x);
}

/* The sequence [T, 1, B, H] from the steps' hidden states ys[0..T) ([1, 1, B, H] each), joined
 * LUMEN_MAX_IN at a time. */
static int r_join(ox_ctx *c, ox_node *n, const char *sfx, int *ys, int64_t T)
{
    char s[96];
    int64_t cnt = T;
    for (int round = 0; cnt > 1; round++) {
        int64_t m = 0;
        for (int64_t i = 0; i < cnt; i += LUMEN_MAX_IN, m++) {
            int k = (int)(cnt - i < LUMEN_MAX_IN ? cnt - i : LUMEN_MAX_IN);
            snprintf(s, sizeof s, "%.40s.cat%d.%lld", sfx, round, (long long)m);
            ys[m] = r_concat(c, n, s, ys + i, k, 0);
        }
        cnt = m;
    }
    return ys[0];
}

typedef struct rnn_cfg {
    int kind, gates, lbr, layout, dirs, reverse; /* reverse: a one-direction 'reverse' */
    int64_t T, B, I, H;
    int has_b, has_h0, has_c0, has_p;
} rnn_cfg;

/* Input i when present: its graph value; -1 when absent. */
static int opt_in(ox_ctx *c, ox_node *n, int i)
{
    return i < n->n_in && n->in[i] ? lumen__ox_in(c, n, i) : -1;
}

/* One direction d over the whole sequence: *y [T, 1, B, H], *yh and *yc [1, B, H]. */
static void run_direction(ox_ctx *c, ox_node *n, const rnn_cfg *q, int d, int x2, int *ys, int *y,
                          int *yh, int *yc)
{
    char s[64];
    int64_t G = q->gates, H = q->H, B = q->B, T = q->T;
    int rev = q->reverse || d == 1;
#define SFX(...) (snprintf(s, sizeof s, __VA_ARGS__), s)
    int w = r_reshape(c, n, SFX(".d%d.w", d),
                      r_slice(c, n, SFX(".d%d.ws", d), lumen__ox_in(c, n, 1), 0, d, 1),
                      (lumen_shape){2, {G * H, q->I}});
    int r = r_reshape(c, n, SFX(".d%d.r", d),
                      r_slice(c, n, SFX(".d%d.rs", d), lumen__ox_in(c, n, 2), 0, d, 1),
                      (lumen_shape){2, {G * H, H}});
    int wb = -1, rb = -1;
    if (q->has_b) {
        int bd = r_reshape(c, n, SFX(".d%d.b", d),
                           r_slice(c, n, SFX(".d%d.bs", d), lumen__ox_in(c, n, 3), 0, d, 1),
                           (lumen_shape){1, {2 * G * H}});
        wb = r_slice(c, n, SFX(".d%d.wb", d), bd, 0, 0, G * H);
        rb = r_slice(c, n, SFX(".d%d.rb", d), bd, 0, G * H, G * H);
    }
    int xw = r_mm(c, n, SFX(".d%d.xw", d), x2, w, wb, q->has_b);
    int h, cs = -1, pi = -1, po = -1, pf = -1;
    if (q->has_h0)
        h = r_reshape(c, n, SFX(".d%d.h0", d),
                      r_slice(c, n, SFX(".d%d.h0s", d), opt_in(c, n, 5), 0, d, 1),
                      (lumen_shape){2, {B, H}});
    else
        h = -2; /* zeros: the first step has no recurrent term */
    if (q->kind == K_LSTM) {
        if (q->has_c0)
            cs = r_reshape(c, n, SFX(".d%d.c0", d),
                           r_slice(c, n, SFX(".d%d.c0s", d), opt_in(c, n, 6), 0, d, 1),
                           (lumen_shape){2, {B, H}});
        if (q->has_p) {
            int pd = r_reshape(c, n, SFX(".d%d.p", d),
                               r_slice(c, n, SFX(".d%d.ps", d), opt_in(c, n, 7), 0, d, 1),
                               (lumen_shape){1, {3 * H}});
            pi = r_slice(c, n, SFX(".d%d.pi", d), pd, 0, 0, H);
            po = r_slice(c, n, SFX(".d%d.po", d), pd, 0, H, H);
            pf = r_slice(c, n, SFX(".d%d.pf", d), pd, 0, 2 * H, H);
        }
    }
    /* GRU without linear_before_reset: the h gate's recurrent weights apart */
    int rzr = -1, rh = -1, rbzr = -1, rbh = -1;
    if (q->kind == K_GRU && !q->lbr) {
        rzr = r_slice(c, n, SFX(".d%d.rzr", d), r, 0, 0, 2 * H);
        rh = r_slice(c, n, SFX(".d%d.rh", d), r, 0, 2 * H, H);
        if (q->has_b) {
            rbzr = r_slice(c, n, SFX(".d%d.rbzr", d), rb, 0, 0, 2 * H);
            rbh = r_slice(c, n, SFX(".d%d.rbh", d), rb, 0, 2 * H, H);
        }
    }
    if (h == -2) { /* zero initial state: a constant */
        lumen_shape hs = {2, {B, H}};
        float *z = calloc((size_t)(B * H), sizeof *z);
        h = z ? lumen__ox_const(c, n, SFX(".d%d.zero", d), &hs, z)
              : (lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory"), -1);
        free(z);
        if (q->kind == K_LSTM && cs < 0 && !q->has_c0)
            cs = h;
    }
    for (int64_t k = 0; k < T; k++) {
        int64_t t = rev ? T - 1 - k : k;
        int xt = r_slice(c, n, SFX(".d%d.t%lld.x", d, (long long)t), xw, 0, t * B, B);
        if (q->kind == K_RNN) {
            int hr = r_mm(c, n, SFX(".d%d.t%lld.hr", d, (long long)t), h, r, rb, q->has_b);
            h = r_bin(c, n, SFX(".d%d.t%lld.h", d, (long long)t), LUMEN_BIN_ADD, LUMEN_ACT_TANH, xt,
                      hr);
        } else if (q->kind == K_LSTM) {
            int g =
                r_bin(c, n, SFX(".d%d.t%lld.g", d, (long long)t), LUMEN_BIN_ADD, LUMEN_ACT_NONE, xt,
                      r_mm(c, n, SFX(".d%d.t%lld.hr", d, (long long)t), h, r, rb, q->has_b));
            int gate[4]; /* i, o, f, c */
            for (int j = 0; j < 4; j++)
                gate[j] = r_slice(c, n, SFX(".d%d.t%lld.g%d", d, (long long)t, j), g, 1, j * H, H);
            int ig, fg, og;
            if (q->has_p) {
                ig = r_bin(c, n, SFX(".d%d.t%lld.i", d, (long long)t), LUMEN_BIN_ADD,
                           LUMEN_ACT_SIGMOID, gate[0],
                           r_bin(c, n, SFX(".d%d.t%lld.pic", d, (long long)t), LUMEN_BIN_MUL,
                                 LUMEN_ACT_NONE, pi, cs));
                fg = r_bin(c, n, SFX(".d%d.t%lld.f", d, (long long)t), LUMEN_BIN_ADD,
                           LUMEN_ACT_SIGMOID, gate[2],
                           r_bin(c, n, SFX(".d%d.t%lld.pfc", d, (long long)t), LUMEN_BIN_MUL,
                                 LUMEN_ACT_NONE, pf, cs));
            } else {
                ig = r_un(c, n, SFX(".d%d.t%lld.i", d, (long long)t), LUMEN_ACT_SIGMOID, gate[0]);
                fg = r_un(c, n, SFX(".d%d.t%lld.f", d, (long long)t), LUMEN_ACT_SIGMOID, gate[2]);
            }
            int cc = r_un(c, n, SFX(".d%d.t%lld.cc", d, (long long)t), LUMEN_ACT_TANH, gate[3]);
            cs = r_bin(c, n, SFX(".d%d.t%lld.c", d, (long long)t), LUMEN_BIN_ADD, LUMEN_ACT_NONE,
                       r_bin(c, n, SFX(".d%d.t%lld.fc", d, (long long)t), LUMEN_BIN_MUL,
                             LUMEN_ACT_NONE, fg, cs),
                       r_bin(c, n, SFX(".d%d.t%lld.ic", d, (long long)t), LUMEN_BIN_MUL,
                             LUMEN_ACT_NONE, ig, cc));
            if (q->has_p)
                og = r_bin(c, n, SFX(".d%d.t%lld.o", d, (long long)t), LUMEN_BIN_ADD,
                           LUMEN_ACT_SIGMOID, gate[1],
                           r_bin(c, n, SFX(".d%d.t%lld.poc", d, (long long)t), LUMEN_BIN_MUL,
                                 LUMEN_ACT_NONE, po, cs));
            else
                og = r_un(c, n, SFX(".d%d.t%lld.o", d, (long long)t), LUMEN_ACT_SIGMOID, gate[1]);
            h = r_bin(c, n, SFX(".d%d.t%lld.h", d, (long long)t), LUMEN_BIN_MUL, LUMEN_ACT_NONE, og,
                      r_un(c, n, SFX(".d%d.t%lld.tc", d, (long long)t), LUMEN_ACT_TANH, cs));
        } else { /* GRU */
            int hr =
                q->lbr ? r_mm(c, n, SFX(".d%d.t%lld.hr", d, (long long)t), h, r, rb, q->has_b)
                       : r_mm(c, n, SFX(".d%d.t%lld.hr", d, (long long)t), h, rzr, rbzr, q->has_b);
            int z =
                r_bin(c, n, SFX(".d%d.t%lld.z", d, (long long)t), LUMEN_BIN_ADD, LUMEN_ACT_SIGMOID,
                      r_slice(c, n, SFX(".d%d.t%lld.xz", d, (long long)t), xt, 1, 0, H),
                      r_slice(c, n, SFX(".d%d.t%lld.hz", d, (long long)t), hr, 1, 0, H));
            int rg =
                r_bin(c, n, SFX(".d%d.t%lld.r", d, (long long)t), LUMEN_BIN_ADD, LUMEN_ACT_SIGMOID,
                      r_slice(c, n, SFX(".d%d.t%lld.xr", d, (long long)t), xt, 1, H, H),
                      r_slice(c, n, SFX(".d%d.t%lld.hrr", d, (long long)t), hr, 1, H, H));
            int xh = r_slice(c, n, SFX(".d%d.t%lld.xh", d, (long long)t), xt, 1, 2 * H, H), rec;
            if (q->lbr)
                rec = r_bin(c, n, SFX(".d%d.t%lld.rh", d, (long long)t), LUMEN_BIN_MUL,
                            LUMEN_ACT_NONE, rg,
                            r_slice(c, n, SFX(".d%d.t%lld.hh", d, (long long)t), hr, 1, 2 * H, H));
            else
                rec = r_mm(c, n, SFX(".d%d.t%lld.rh", d, (long long)t),
                           r_bin(c, n, SFX(".d%d.t%lld.rhm", d, (long long)t), LUMEN_BIN_MUL,
                                 LUMEN_ACT_NONE, rg, h),
                           rh, rbh, q->has_b);
            int hh = r_bin(c, n, SFX(".d%d.t%lld.hc", d, (long long)t), LUMEN_BIN_ADD,
                           LUMEN_ACT_TANH, xh, rec);
            h = r_bin(c, n, SFX(".d%d.t%lld.h", d, (long long)t), LUMEN_BIN_ADD, LUMEN_ACT_NONE, hh,
                      r_bin(c, n, SFX(".d%d.t%lld.zd", d, (long long)t), LUMEN_BIN_MUL,
                            LUMEN_ACT_NONE, z,
                            r_bin(c, n, SFX(".d%d.t%lld.dh", d, (long long)t), LUMEN_BIN_SUB,
                                  LUMEN_ACT_NONE, h, hh)));
        }
        ys[t] = r_reshape(c, n, SFX(".d%d.t%lld.y", d, (long long)t), h,
                          (lumen_shape){4, {1, 1, B, H}});
    }
    *y = r_join(c, n, SFX(".d%d.y", d), ys, T);
    *yh = r_reshape(c, n, SFX(".d%d.yh", d), h, (lumen_shape){3, {1, B, H}});
    *yc = q->kind == K_LSTM ? r_reshape(c, n, SFX(".d%d.yc", d), cs, (lumen_shape){3, {1, B, H}})
                            : -1;
#undef SFX
}

/* Fails unless the 'activations' attribute, when given, lists the defaults. */
static lumen_status check_activations(ox_ctx *c, ox_node *n, const rnn_cfg *q)
{
    const Onnx__AttributeProto *a = lumen__ox_attr(n, "activations");
    if (!a)
        return LUMEN_OK;
    static const char *const defs[3][3] = {
        {"Tanh", "", ""}, {"Sigmoid", "Tanh", ""}, {"Sigmoid", "Tanh", "Tanh"}};
    int per = q->kind == K_RNN ? 1 : q->kind == K_GRU ? 2 : 3;
    if (a->n_strings != (size_t)(per * q->dirs))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "%zu activations for %d direction(s)",
                              a->n_strings, q->dirs);
    for (size_t i = 0; i < a->n_strings; i++) {
        const char *want = defs[q->kind == K_RNN ? 0 : q->kind == K_GRU ? 1 : 2][i % per];
        if (a->strings[i].len != strlen(want) ||
            strncasecmp((const char *)a->strings[i].data, want, strlen(want)))
            return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                                  "activation %zu is not the default %s (other activations are "
                                  "not implemented)",
                                  i, want);
    }
    return LUMEN_OK;
}

/* Reads and checks the attributes and input shapes into q. */
static lumen_status rnn_config(ox_ctx *c, ox_node *n, rnn_cfg *q)
{
    const char *op = n->p->op_type;
    memset(q, 0, sizeof *q);
    q->kind = !strcmp(op, "GRU") ? K_GRU : !strcmp(op, "LSTM") ? K_LSTM : K_RNN;
    q->gates = q->kind == K_LSTM ? 4 : q->kind == K_GRU ? 3 : 1;
    char dir[32];
    lumen__ox_attr_str(n, "direction", "forward", dir, sizeof dir);
    int64_t layout = lumen__ox_attr_int(n, "layout", 0),
            hs = lumen__ox_attr_int(n, "hidden_size", 0);
    int64_t lbr = lumen__ox_attr_int(n, "linear_before_reset", 0);
    if (strcmp(dir, "forward") && strcmp(dir, "reverse") && strcmp(dir, "bidirectional"))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "direction '%s'", dir);
    if ((layout != 0 && layout != 1) || (lbr != 0 && lbr != 1) || hs < 1 || hs > OX_INT_MAX)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "layout %lld, linear_before_reset %lld, "
                              "hidden_size %lld",
                              (long long)layout, (long long)lbr, (long long)hs);
    if (lumen__ox_attr(n, "clip"))
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "clip (not implemented)");
    if (lumen__ox_attr_int(n, "input_forget", 0) != 0)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED, "input_forget (not implemented)");
    q->dirs = strcmp(dir, "bidirectional") ? 1 : 2;
    q->reverse = !strcmp(dir, "reverse");
    q->layout = (int)layout, q->lbr = (int)lbr, q->H = hs;
    lumen_status st = check_activations(c, n, q);
    if (st != LUMEN_OK)
        return st;
    const lumen_shape *x = lumen__ox_in_shape(c, n, 0), *w = lumen__ox_in_shape(c, n, 1),
                      *r = lumen__ox_in_shape(c, n, 2);
    if (x->ndim != 3)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "X of rank %d (3 expected)", x->ndim);
    q->T = layout ? x->d[1] : x->d[0], q->B = layout ? x->d[0] : x->d[1], q->I = x->d[2];
    int64_t GH = q->gates * q->H;
    if (w->ndim != 3 || w->d[0] != q->dirs || w->d[1] != GH || w->d[2] != q->I || r->ndim != 3 ||
        r->d[0] != q->dirs || r->d[1] != GH || r->d[2] != q->H)
        return lumen__ox_fail(c, n, LUMEN_ESHAPE,
                              "W or R do not fit %d direction(s), %lld gates "
                              "of %lld and %lld inputs",
                              q->dirs, (long long)q->gates, (long long)q->H, (long long)q->I);
    if (q->T < 1 || q->T > RNN_MAX_STEPS || q->B < 1)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "a sequence of %lld steps and a batch of %lld (1 to %d steps: each "
                              "is unrolled into the graph)",
                              (long long)q->T, (long long)q->B, RNN_MAX_STEPS);
    /* optional inputs: B 3, sequence_lens 4, initial_h 5, initial_c 6, P 7 */
    static const int64_t per_dir[8] = {0, 0, 0, 2, 0, 0, 0, 3}; /* B: 2 G H, P: 3 H */
    for (int i = 3; i < 8 && i < n->n_in; i++) {
        const lumen_shape *s = lumen__ox_in_shape(c, n, i);
        if (!s || (i == 6 && q->kind != K_LSTM) || (i == 7 && q->kind != K_LSTM))
            continue;
        if (i == 4) {
            const ox_host *lh = n->in[4]->host;
            for (int64_t b = 0; lh && b < lumen_shape_numel(&lh->shape); b++)
                if (lumen__ox_host_geti(lh, b) != q->T)
                    lh = NULL;
            if (!lh || lumen_shape_numel(&n->in[4]->host->shape) != q->B)
                return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                                      "sequence_lens other than the full sequence of %lld "
                                      "(not implemented)",
                                      (long long)q->T);
            continue;
        }
        int ok = i == 3 ? s->ndim == 2 && s->d[0] == q->dirs && s->d[1] == per_dir[3] * GH
                 : i == 7
                     ? s->ndim == 2 && s->d[0] == q->dirs && s->d[1] == per_dir[7] * q->H
                     : s->ndim == 3 && s->d[0] == q->dirs && s->d[1] == q->B && s->d[2] == q->H;
        if (!ok)
            return lumen__ox_fail(c, n, LUMEN_ESHAPE, "input %d has the wrong shape", i);
        if (i == 3)
            q->has_b = 1;
        else if (i == 5)
            q->has_h0 = 1;
        else if (i == 6)
            q->has_c0 = 1;
        else if (i == 7)
            q->has_p = 1;
    }
    return LUMEN_OK;
}

static lumen_status map_rnn(ox_ctx *c, ox_node *n)
{
    rnn_cfg q;
    lumen_status st = rnn_config(c, n, &q);
    if (st != LUMEN_OK)
        return st;
    int *ys = malloc(sizeof *ys * (size_t)q.T);
    if (!ys)
        return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    int x = lumen__ox_in(c, n, 0);
    static const int tb[3] = {1, 0, 2};
    if (q.layout)
        x = r_transpose(c, n, ".xt", x, tb, 3);
    int x2 = r_reshape(c, n, ".x2", x, (lumen_shape){2, {q.T * q.B, q.I}});
    int y[2] = {-1, -1}, yh[2] = {-1, -1}, yc[2] = {-1, -1};
    for (int d = 0; d < q.dirs; d++)
        run_direction(c, n, &q, d, x2, ys, &y[d], &yh[d], &yc[d]);
    free(ys);
    int Y = r_concat(c, n, ".y", y, q.dirs, 1), YH = r_concat(c, n, ".yh", yh, q.dirs, 0);
    int YC = q.kind == K_LSTM ? r_concat(c, n, ".yc", yc, q.dirs, 0) : -1;
    static const int ty[4] = {2, 0, 1, 3};
    if (q.layout) { /* [T, D, B, H] -> [B, T, D, H]; [D, B, H] -> [B, D, H] */
        Y = r_transpose(c, n, ".yl", Y, ty, 4);
        YH = r_transpose(c, n, ".yhl", YH, tb, 3);
        YC = q.kind == K_LSTM ? r_transpose(c, n, ".ycl", YC, tb, 3) : -1;
    }
    int outs[3] = {Y, YH, YC};
    for (int j = 0; j < 3 && j < n->n_out; j++)
        if (lumen__ox_out(c, n, j) && (st = lumen__ox_set_gv(c, n, j, outs[j])) != LUMEN_OK)
            return st;
    return c->st;
}

const ox_op lumen__ox_ops_rnn[] = {
    {"RNN", 7, 17, 3, map_rnn},
    {"GRU", 7, 17, 3, map_rnn},
    {"LSTM", 7, 17, 3, map_rnn},
    {NULL, 0, 0, 0, NULL},
};
