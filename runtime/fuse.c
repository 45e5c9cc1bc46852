/*
 * fuse.c - graph passes that recognise decomposed layers and replace them with one op: GELU
 * written with erf and LayerNorm written with two means. Both front doors produce these
 * chains (torch.onnx before opsets 17/20 exports nn.GELU and nn.LayerNorm this way; a Lua model
 * may spell them out too), so the patterns are matched here on lumen's own ops, after constant
 * folding, and not in the ONNX importer.
 *
 * A pattern matches only when every intermediate value has exactly the uses the pattern gives
 * it (so nothing outside reads a value that disappears), no node in it carries an epilogue
 * activation, and its constants are scalars with the expected values. The last node of the
 * chain is rewritten in place (so the graph stays in topological order and the output keeps its
 * name) and the others are marked dead.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"

/* The one live node reading value v (uses == 1, not an output), or NULL. */
static lumen__node *sole_consumer(lumen_graph *g, int v)
{
    if (v < 0 || g->values[v].uses != 1 || g->values[v].is_output)
        return NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        lumen__node *n = &g->nodes[i];
        for (int j = 0; !n->dead && j < n->n_in; j++)
            if (n->in[j] == v)
                return n;
    }
    return NULL;
}

/* The live node producing v, or NULL for inputs and constants. */
static lumen__node *producer(lumen_graph *g, int v)
{
    if (v < 0 || g->values[v].kind != LUMEN__VAL_NODE)
        return NULL;
    lumen__node *p = &g->nodes[g->values[v].producer];
    return p->dead ? NULL : p;
}

/* v is a one-element constant equal to want within rel. tolerance tol. */
static int const_is(const lumen_graph *g, int v, double want, double tol)
{
    if (v < 0 || g->values[v].kind != LUMEN__VAL_CONST ||
        lumen_shape_numel(&g->values[v].shape) != 1)
        return 0;
    return fabs(g->values[v].data[0] - want) <= tol * fabs(want);
}

static int is_binary(const lumen__node *n, int kind)
{
    return n && n->d.op == LUMEN_OP_BINARY && n->d.p.binary.kind == kind &&
           n->d.p.binary.act.act == LUMEN_ACT_NONE && n->n_in == 2;
}

static int is_unary(const lumen__node *n, lumen_act act)
{
    return n && n->d.op == LUMEN_OP_UNARY && n->d.p.unary.act.act == act && n->n_in == 1;
}

/* For a binary node reading v: the other input, or -2 when it does not read v. */
static int other(const lumen__node *n, int v)
{
    return n->in[0] == v ? n->in[1] : n->in[1] == v ? n->in[0] : -2;
}

/* Decomposed GELU: a = x / sqrt 2 (or x * 1/sqrt 2); e = erf(a); p = e + 1; then
 * (x * p) * 0.5 or (x * 0.5) * p, in either operand order. Matched at the erf. */
static void fuse_gelu(lumen_graph *g, lumen__node *u)
{
    lumen__node *d = producer(g, u->in[0]);
    if (!d || g->values[d->out].uses != 1 || g->values[d->out].is_output)
        return;
    int x;
    if (is_binary(d, LUMEN_BIN_DIV) && const_is(g, d->in[1], sqrt(2.0), 1e-4))
        x = d->in[0];
    else if (is_binary(d, LUMEN_BIN_MUL) && const_is(g, d->in[1], sqrt(0.5), 1e-4))
        x = d->in[0];
    else if (is_binary(d, LUMEN_BIN_MUL) && const_is(g, d->in[0], sqrt(0.5), 1e-4))
        x = d->in[1];
    else
        return;
    lumen__node *a = sole_consumer(g, u->out);
    if (!is_binary(a, LUMEN_BIN_ADD) || !const_is(g, other(a, u->out), 1.0, 1e-6))
        return;
    lumen__node *m1 = sole_consumer(g, a->out), *last, *half = NULL;
    if (!is_binary(m1, LUMEN_BIN_MUL))
        return;
    int q = other(m1, a->out);
    if (q == x) {
        last = sole_consumer(g, m1->out);
        if (!is_binary(last, LUMEN_BIN_MUL) || !const_is(g, other(last, m1->out), 0.5, 1e-6))
            return;
    } else {
        half = producer(g, q);
        if (!is_binary(half, LUMEN_BIN_MUL) || g->values[q].uses != 1 || g->values[q].is_output ||
            !const_is(g, other(half, x), 0.5, 1e-6))
            return;
        last = m1;
    }
    if (!lumen_shape_equal(&g->values[last->out].shape, &g->values[x].shape))
        return;
    d->dead = u->dead = a->dead = 1;
    if (half)
        half->dead = 1;
    else
        m1->dead = 1;
    last->d = lumen_opdesc_unary(LUMEN_ACT_GELU);
    last->n_in = 1;
    last->in[0] = x;
    last->in[1] = -1;
}

/* The first axis when mask is the trailing run [axis, rank), else -1. */
static int trailing(unsigned mask, int rank)
{
    for (int a = rank - 1; a >= 0; a--)
        if (mask == ((1u << rank) - 1) - ((1u << a) - 1))
            return a;
    return -1;
}

static int is_mean(const lumen__node *n, unsigned axes)
{
    return n && n->d.op == LUMEN_OP_REDUCE && n->d.p.reduce.kind == LUMEN_REDUCE_MEAN &&
           n->d.p.reduce.keepdims && n->d.p.reduce.axes == axes && n->n_in == 1;
}

/* A constant whose elements line up with the normalised extents norm (same count, same last
 * extent, rank no larger): its id, else -1. */
static int affine_const(const lumen_graph *g, int v, const lumen_shape *norm)
{
    if (v < 0 || g->values[v].kind != LUMEN__VAL_CONST)
        return -1;
    const lumen_shape *s = &g->values[v].shape;
    if (lumen_shape_numel(s) != lumen_shape_numel(norm) || s->ndim > norm->ndim || s->ndim < 1 ||
        s->d[s->ndim - 1] != norm->d[norm->ndim - 1])
        return -1;
    return v;
}

/* Decomposed LayerNorm: m = mean(x); d = x - m; v = mean(d * d); s = sqrt(v + eps); y = d / s;
 * optionally y * gamma + beta. Matched at the first mean; fails softly (returns LUMEN_OK) when
 * the chain differs, and only fails for out-of-memory while adding the affine constants. */
static lumen_status fuse_layernorm(lumen_graph *g, int i)
{
    lumen__node *r0 = &g->nodes[i];
    int x = r0->in[0], rank = g->values[x].shape.ndim;
    int axis = rank > 0 ? trailing(r0->d.p.reduce.axes, rank) : -1;
    if (axis < 0 || !is_mean(r0, r0->d.p.reduce.axes))
        return LUMEN_OK;
    lumen__node *sub = sole_consumer(g, r0->out);
    if (!is_binary(sub, LUMEN_BIN_SUB) || sub->in[0] != x || sub->in[1] != r0->out)
        return LUMEN_OK;
    int dv = sub->out;
    if (g->values[dv].uses != 3 || g->values[dv].is_output)
        return LUMEN_OK;
    lumen__node *sq = NULL, *div = NULL;
    for (int k = 0; k < g->n_nodes; k++) {
        lumen__node *n = &g->nodes[k];
        if (n->dead)
            continue;
        if (is_binary(n, LUMEN_BIN_MUL) && n->in[0] == dv && n->in[1] == dv)
            sq = n;
        else if (is_binary(n, LUMEN_BIN_DIV) && n->in[0] == dv)
            div = n;
    }
    if (!sq || !div)
        return LUMEN_OK;
    lumen__node *r1 = sole_consumer(g, sq->out);
    if (!is_mean(r1, r0->d.p.reduce.axes))
        return LUMEN_OK;
    lumen__node *add = sole_consumer(g, r1->out);
    if (!is_binary(add, LUMEN_BIN_ADD))
        return LUMEN_OK;
    int ev = other(add, r1->out);
    if (ev < 0 || g->values[ev].kind != LUMEN__VAL_CONST ||
        lumen_shape_numel(&g->values[ev].shape) != 1)
        return LUMEN_OK;
    float eps = g->values[ev].data[0];
    lumen__node *rt = sole_consumer(g, add->out);
    if (!is_unary(rt, LUMEN_ACT_SQRT) || sole_consumer(g, rt->out) != div || div->in[1] != rt->out)
        return LUMEN_OK;
    lumen_shape norm = {rank - axis, {0}};
    for (int k = axis; k < rank; k++)
        norm.d[k - axis] = g->values[x].shape.d[k];
    lumen__node *last = div, *mul = NULL, *add2 = NULL;
    int gamma = -1, beta = -1;
    lumen__node *c1 = sole_consumer(g, div->out);
    if (is_binary(c1, LUMEN_BIN_MUL) &&
        (gamma = affine_const(g, other(c1, div->out), &norm)) >= 0) {
        mul = last = c1;
        lumen__node *c2 = sole_consumer(g, c1->out);
        if (is_binary(c2, LUMEN_BIN_ADD) &&
            (beta = affine_const(g, other(c2, c1->out), &norm)) >= 0)
            add2 = last = c2;
    }
    if (!lumen_shape_equal(&g->values[last->out].shape, &g->values[x].shape))
        return LUMEN_OK;
    /* indices, not pointers: adding constants may move the arrays */
    int li = (int)(last - g->nodes), dead[] = {i,
                                               (int)(sub - g->nodes),
                                               (int)(sq - g->nodes),
                                               (int)(r1 - g->nodes),
                                               (int)(add - g->nodes),
                                               (int)(rt - g->nodes),
                                               (int)(div - g->nodes),
                                               mul ? (int)(mul - g->nodes) : -1,
                                               add2 ? (int)(add2 - g->nodes) : -1};
    int in[3] = {x, -1, -1}, src[2] = {gamma, beta};
    for (int k = 0; k < 2; k++) {
        if (src[k] < 0)
            continue;
        char name[160];
        snprintf(name, sizeof name, "%.120s.%s", g->nodes[li].name, k ? "beta" : "gamma");
        in[1 + k] = lumen_graph_const(g, name, &norm, g->values[src[k]].data);
        if (in[1 + k] < 0)
            return g->status;
    }
    for (size_t k = 0; k < sizeof dead / sizeof dead[0]; k++)
        if (dead[k] >= 0 && dead[k] != li)
            g->nodes[dead[k]].dead = 1;
    lumen__node *ln = &g->nodes[li];
    memset(&ln->d, 0, sizeof ln->d);
    ln->d.op = LUMEN_OP_LAYERNORM;
    ln->d.p.axes.axis = axis;
    ln->d.p.axes.axis_end = rank;
    ln->d.p.axes.eps = eps;
    ln->n_in = 3;
    memcpy(ln->in, in, sizeof in);
    return LUMEN_OK;
}

lumen_status lumen__graph_fuse_patterns(lumen_graph *g)
{
    lumen__graph_count_uses(g);
    for (int i = 0; i < g->n_nodes; i++) {
        lumen__node *n = &g->nodes[i];
        if (n->dead)
            continue;
        if (is_unary(n, LUMEN_ACT_ERF)) {
            fuse_gelu(g, n);
        } else if (n->d.op == LUMEN_OP_REDUCE) {
            lumen_status st = fuse_layernorm(g, i);
            if (st != LUMEN_OK)
                return st;
        } else {
            continue;
        }
        lumen__graph_count_uses(g);
    }
    return LUMEN_OK;
}
