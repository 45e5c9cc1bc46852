/*
 * graph.c - building a static graph of ops, and the load-time passes that simplify it.
 *
 * Data layout: values and nodes live in two growing arrays, referenced by index. A value is a
 * graph input, a constant (host data owned by the graph) or the output of exactly one node.
 * Nodes are kept in the order they were added, which is a topological order because a node can
 * only name values that already exist. Passes never reorder nodes: they mark nodes dead and
 * redirect uses of a value to another value.
 *
 * Passes (each can be switched off, see lumen_model_options):
 * - fold_const: a node whose inputs are all constants is evaluated on the host (reference op)
 *   and becomes a constant.
 * - fold_bn: BATCHNORM right after a CONV (sole consumer, no epilogue yet) is folded into the
 *   conv's weight and bias.
 * - fuse_residual: ADD of a CONV output (sole consumer, no epilogue) and a same-shaped value
 *   computed earlier becomes the conv's residual input: y = act(conv + bias + residual).
 * - fuse_act: an activation after CONV / CONV_TRANSPOSE / MATMUL / BINARY (sole consumer, no
 *   activation yet) moves into the producer's epilogue.
 * - dead_code: nodes that no output depends on are dropped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

#define G_ERR_MAX LUMEN_ERR_MAX

lumen_graph *lumen_graph_new(void)
{
    return calloc(1, sizeof(lumen_graph));
}

void lumen_graph_free(lumen_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_values; i++)
        free(g->values[i].data);
    free(g->values);
    free(g->nodes);
    free(g->outputs);
    free(g);
}

lumen_status lumen_graph_status(const lumen_graph *g)
{
    return g ? g->status : LUMEN_EINVAL;
}
const char *lumen_graph_error(const lumen_graph *g)
{
    return g ? g->err : "no graph";
}

/* Records the first error; later ones are dropped so the message names the real cause. */
static int gfail(lumen_graph *g, lumen_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int gfail(lumen_graph *g, lumen_status st, const char *fmt, ...)
{
    if (g->status == LUMEN_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err, sizeof g->err, fmt, ap);
        va_end(ap);
        g->status = st;
    }
    return -1;
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, (size_t)c * elem);
    if (!p)
        return -1;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(c - *cap) * elem);
    *arr = p;
    *cap = c;
    return 0;
}

/* Appends a value; returns its id or -1. */
static int new_value(lumen_graph *g, const char *name, const lumen_shape *shape, int kind)
{
    if (grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof(lumen__value)))
        return gfail(g, LUMEN_ENOMEM, "out of host memory");
    lumen__value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name ? name : "");
    v->shape = *shape;
    v->kind = kind;
    v->producer = -1;
    v->alias = -1;
    return g->n_values++;
}

int lumen__graph_find_value(const lumen_graph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (!strcmp(g->values[i].name, name))
            return i;
    return -1;
}

int lumen_graph_input(lumen_graph *g, const char *name, const lumen_shape *shape_in)
{
    char b[160];
    if (!g || g->status != LUMEN_OK)
        return -1;
    const lumen_shape shape_copy = *shape_in, *shape = &shape_copy; /* see lumen_graph_const */
    if (!name || !*name)
        return gfail(g, LUMEN_EINVAL, "graph input needs a name");
    if (lumen_shape_numel(shape) < 0)
        return gfail(g, LUMEN_ESHAPE, "input '%s': invalid shape %s", name,
                     lumen_shape_format(shape, b, sizeof b));
    if (lumen__graph_find_value(g, name) >= 0)
        return gfail(g, LUMEN_EINVAL, "duplicate value name '%s'", name);
    return new_value(g, name, shape, LUMEN__VAL_INPUT);
}

int lumen_graph_const(lumen_graph *g, const char *name, const lumen_shape *shape_in,
                      const float *data)
{
    char b[160];
    if (!g || g->status != LUMEN_OK)
        return -1;
    /* a copy: shape_in may point into g's own value array, which new_value may move */
    const lumen_shape shape_copy = *shape_in, *shape = &shape_copy;
    int64_t n = lumen_shape_numel(shape);
    if (n < 0)
        return gfail(g, LUMEN_ESHAPE, "constant '%s': invalid shape %s", name ? name : "",
                     lumen_shape_format(shape, b, sizeof b));
    if (!data && n > 0)
        return gfail(g, LUMEN_EINVAL, "constant '%s' has no data", name ? name : "");
    float *copy = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!copy)
        return gfail(g, LUMEN_ENOMEM, "out of host memory for constant '%s'", name ? name : "");
    if (n)
        memcpy(copy, data, (size_t)n * sizeof(float));
    int id = new_value(g, name, shape, LUMEN__VAL_CONST);
    if (id < 0) {
        free(copy);
        return -1;
    }
    g->values[id].data = copy;
    return id;
}

void lumen__graph_mark_index(lumen_graph *g, int value)
{
    if (g && value >= 0 && value < g->n_values && g->values[value].kind == LUMEN__VAL_CONST)
        g->values[value].index_data = 1;
}

int lumen_graph_op(lumen_graph *g, const char *name, const lumen_opdesc *d, int n_in, const int *in)
{
    char err[LUMEN_ERR_MAX];
    if (!g || g->status != LUMEN_OK)
        return -1;
    const char *nm = name && *name ? name : lumen_op_name(d->op);
    if (n_in < 0 || n_in > LUMEN_MAX_IN)
        return gfail(g, LUMEN_EINVAL, "node '%s': %d inputs (at most %d)", nm, n_in, LUMEN_MAX_IN);
    const lumen_shape *shapes[LUMEN_MAX_IN];
    for (int i = 0; i < n_in; i++) {
        if (in[i] < -1 || in[i] >= g->n_values)
            return gfail(g, LUMEN_EINVAL, "node '%s': input %d refers to unknown value %d", nm, i,
                         in[i]);
        shapes[i] = in[i] >= 0 ? &g->values[in[i]].shape : NULL;
    }
    lumen_shape os;
    lumen_status st = lumen_op_shape(d, n_in, shapes, &os, err);
    if (st != LUMEN_OK)
        return gfail(g, st, "node '%s' (%s): %s", nm,
                     lumen_op_name(d->op) ? lumen_op_name(d->op) : "?", err);
    if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(lumen__node)))
        return gfail(g, LUMEN_ENOMEM, "out of host memory");
    int v = new_value(g, nm, &os, LUMEN__VAL_NODE);
    if (v < 0)
        return -1;
    lumen__node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", nm);
    n->d = *d;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++)
        n->in[i] = in[i];
    n->out = v;
    g->values[v].producer = g->n_nodes;
    return g->n_nodes++, v;
}

lumen_status lumen_graph_output(lumen_graph *g, const char *name, int value)
{
    if (!g || g->status != LUMEN_OK)
        return g ? g->status : LUMEN_EINVAL;
    if (value < 0 || value >= g->n_values)
        return gfail(g, LUMEN_EINVAL, "output '%s': unknown value %d", name, value), g->status;
    if (grow((void **)&g->outputs, &g->cap_outputs, g->n_outputs + 1, sizeof *g->outputs))
        return gfail(g, LUMEN_ENOMEM, "out of host memory"), g->status;
    snprintf(g->outputs[g->n_outputs].name, sizeof g->outputs[0].name, "%s",
             name && *name ? name : g->values[value].name);
    g->outputs[g->n_outputs++].value = value;
    return LUMEN_OK;
}

const lumen_shape *lumen_graph_shape(const lumen_graph *g, int value)
{
    return (g && value >= 0 && value < g->n_values) ? &g->values[value].shape : NULL;
}

static int is_mac_op(lumen_op op)
{
    return op == LUMEN_OP_CONV || op == LUMEN_OP_CONV_TRANSPOSE || op == LUMEN_OP_MATMUL ||
           op == LUMEN_OP_ATTENTION;
}

/* Shapes of node n's inputs into shapes[] (NULL for absent ones). */
static void node_shapes(const lumen_graph *g, const lumen__node *n, const lumen_shape **shapes)
{
    for (int i = 0; i < n->n_in; i++)
        shapes[i] = n->in[i] >= 0 ? &g->values[n->in[i]].shape : NULL;
}

double lumen__node_flops(const lumen_graph *g, const lumen__node *n)
{
    const lumen_shape *shapes[LUMEN_MAX_IN];
    node_shapes(g, n, shapes);
    return lumen_op_flops(&n->d, n->n_in, shapes, &g->values[n->out].shape);
}

void lumen_graph_stats_get(const lumen_graph *g, lumen_graph_stats *o)
{
    memset(o, 0, sizeof *o);
    o->outputs = g->n_outputs;
    for (int i = 0; i < g->n_values; i++) {
        const lumen__value *v = &g->values[i];
        if (v->kind == LUMEN__VAL_INPUT)
            o->inputs++;
        if (v->kind == LUMEN__VAL_CONST) {
            o->consts++;
            o->const_elements += (double)lumen_shape_numel(&v->shape);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const lumen__node *n = &g->nodes[i];
        if (n->dead)
            continue;
        o->nodes++;
        double f = lumen__node_flops(g, n);
        o->flops += f;
        if (is_mac_op(n->d.op))
            o->macs += f / 2;
    }
}

/* ---- passes ---- */

/* Counts the uses of every value by live nodes and graph outputs. */
void lumen__graph_count_uses(lumen_graph *g)
{
    for (int i = 0; i < g->n_values; i++) {
        g->values[i].uses = 0;
        g->values[i].is_output = 0;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead)
            continue;
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] >= 0)
                g->values[g->nodes[i].in[j]].uses++;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        g->values[g->outputs[i].value].uses++;
        g->values[g->outputs[i].value].is_output = 1;
    }
}

/* Every use of value 'from' (node inputs, graph outputs) now reads 'to'. */
static void replace_uses(lumen_graph *g, int from, int to)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] == from)
                g->nodes[i].in[j] = to;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i].value == from)
            g->outputs[i].value = to;
}

static int is_const(const lumen_graph *g, int v)
{
    return v >= 0 && g->values[v].kind == LUMEN__VAL_CONST;
}

/* The live node producing v when v has no other use; else NULL. */
static lumen__node *sole_producer(lumen_graph *g, int v)
{
    if (v < 0 || g->values[v].kind != LUMEN__VAL_NODE || g->values[v].uses != 1 ||
        g->values[v].is_output)
        return NULL;
    lumen__node *p = &g->nodes[g->values[v].producer];
    return p->dead ? NULL : p;
}

static lumen_status fold_const(lumen_graph *g)
{
    char err[LUMEN_ERR_MAX];
    for (int i = 0; i < g->n_nodes; i++) {
        lumen__node *n = &g->nodes[i];
        int all = !n->dead;
        for (int j = 0; all && j < n->n_in; j++)
            all = n->in[j] < 0 || is_const(g, n->in[j]);
        if (!all)
            continue;
        lumen__value *v = &g->values[n->out];
        int64_t cnt = lumen_shape_numel(&v->shape);
        float *data = malloc((size_t)(cnt ? cnt : 1) * sizeof(float));
        const lumen_shape *shapes[LUMEN_MAX_IN];
        const float *ins[LUMEN_MAX_IN];
        if (!data)
            return gfail(g, LUMEN_ENOMEM, "out of host memory"), LUMEN_ENOMEM;
        node_shapes(g, n, shapes);
        for (int j = 0; j < n->n_in; j++)
            ins[j] = n->in[j] >= 0 ? g->values[n->in[j]].data : NULL;
        lumen_status st = lumen_op_ref(&n->d, n->n_in, shapes, ins, data, err);
        if (st != LUMEN_OK) {
            free(data);
            return gfail(g, st, "folding constant node '%s': %s", n->name, err), st;
        }
        v->kind = LUMEN__VAL_CONST;
        v->data = data;
        v->producer = -1;
        n->dead = 1;
    }
    return LUMEN_OK;
}

static lumen_status fold_bn(lumen_graph *g)
{
    lumen__graph_count_uses(g);
    for (int i = 0; i < g->n_nodes; i++) {
        lumen__node *bn = &g->nodes[i];
        if (bn->dead || bn->d.op != LUMEN_OP_BATCHNORM)
            continue;
        int ok = 1;
        for (int j = 1; j < 5; j++)
            ok &= is_const(g, bn->in[j]);
        lumen__node *c = ok ? sole_producer(g, bn->in[0]) : NULL;
        if (!c || c->d.op != LUMEN_OP_CONV || c->d.p.conv.act.act != LUMEN_ACT_NONE ||
            (c->n_in > 3 && c->in[3] >= 0) || !is_const(g, c->in[1]) ||
            (c->n_in > 2 && c->in[2] >= 0 && !is_const(g, c->in[2])))
            continue;
        const lumen__value *w = &g->values[c->in[1]];
        const float *bias = c->n_in > 2 && c->in[2] >= 0 ? g->values[c->in[2]].data : NULL;
        const float *scale = g->values[bn->in[1]].data, *beta = g->values[bn->in[2]].data,
                    *mean = g->values[bn->in[3]].data, *var = g->values[bn->in[4]].data;
        int64_t cout = w->shape.d[0], per = lumen_shape_numel(&w->shape) / (cout ? cout : 1);
        float *nw = malloc((size_t)lumen_shape_numel(&w->shape) * sizeof(float) + 1);
        float *nb = malloc((size_t)cout * sizeof(float) + 1);
        if (!nw || !nb) {
            free(nw);
            free(nb);
            return gfail(g, LUMEN_ENOMEM, "out of host memory"), LUMEN_ENOMEM;
        }
        for (int64_t o = 0; o < cout; o++) {
            double s = scale[o] / sqrt((double)var[o] + bn->d.p.norm.eps);
            for (int64_t k = 0; k < per; k++)
                nw[o * per + k] = (float)(w->data[o * per + k] * s);
            nb[o] = (float)(((bias ? bias[o] : 0.0) - mean[o]) * s + beta[o]);
        }
        char name[160];
        lumen_shape bshape = {1, {cout}};
        snprintf(name, sizeof name, "%s.weight_bn", c->name);
        int wv = lumen_graph_const(g, name, &w->shape, nw);
        snprintf(name, sizeof name, "%s.bias_bn", c->name);
        int bv = lumen_graph_const(g, name, &bshape, nb);
        free(nw);
        free(nb);
        if (wv < 0 || bv < 0)
            return g->status;
        /* the arrays may have moved: take the pointers again */
        c = &g->nodes[g->values[g->nodes[i].in[0]].producer];
        bn = &g->nodes[i];
        c->in[1] = wv;
        if (c->n_in < 3)
            c->n_in = 3;
        c->in[2] = bv;
        replace_uses(g, bn->out, bn->in[0]);
        bn->dead = 1;
        lumen__graph_count_uses(g);
    }
    return LUMEN_OK;
}

/* Node index of the producer of v; -1 for inputs and constants (available from the start). */
static int producer_index(const lumen_graph *g, int v)
{
    return g->values[v].kind == LUMEN__VAL_NODE ? g->values[v].producer : -1;
}

static lumen_status fuse_residual(lumen_graph *g)
{
    lumen__graph_count_uses(g);
    for (int i = 0; i < g->n_nodes; i++) {
        lumen__node *a = &g->nodes[i];
        if (a->dead || a->d.op != LUMEN_OP_BINARY || a->d.p.binary.kind != LUMEN_BIN_ADD)
            continue;
        for (int side = 0; side < 2; side++) {
            int x = a->in[side], y = a->in[1 - side];
            lumen__node *c = sole_producer(g, x);
            if (!c || c->d.op != LUMEN_OP_CONV || c->d.p.conv.act.act != LUMEN_ACT_NONE ||
                (c->n_in > 3 && c->in[3] >= 0) || x == y ||
                !lumen_shape_equal(&g->values[x].shape, &g->values[y].shape))
                continue;
            /* y must exist before the conv runs */
            int ci = (int)(c - g->nodes);
            if (producer_index(g, y) >= ci)
                continue;
            for (int k = c->n_in; k < 4; k++)
                c->in[k] = -1;
            c->n_in = 4;
            c->in[3] = y;
            c->d.p.conv.act = a->d.p.binary.act;
            replace_uses(g, a->out, x);
            a->dead = 1;
            lumen__graph_count_uses(g);
            break;
        }
    }
    return LUMEN_OK;
}

static int fusable_act(lumen_act a)
{
    return a == LUMEN_ACT_RELU || a == LUMEN_ACT_RELU6 || a == LUMEN_ACT_LEAKY_RELU ||
           a == LUMEN_ACT_SIGMOID || a == LUMEN_ACT_TANH || a == LUMEN_ACT_GELU ||
           a == LUMEN_ACT_HARDSWISH || a == LUMEN_ACT_HARDSIGMOID || a == LUMEN_ACT_CLIP;
}

static lumen_actdesc *epilogue_act(lumen__node *p)
{
    switch (p->d.op) {
    case LUMEN_OP_CONV:
    case LUMEN_OP_CONV_TRANSPOSE:
        return &p->d.p.conv.act;
    case LUMEN_OP_MATMUL:
        return &p->d.p.matmul.act;
    case LUMEN_OP_BINARY:
        return &p->d.p.binary.act;
    default:
        return NULL;
    }
}

static lumen_status fuse_act(lumen_graph *g)
{
    lumen__graph_count_uses(g);
    for (int i = 0; i < g->n_nodes; i++) {
        lumen__node *u = &g->nodes[i];
        if (u->dead || u->d.op != LUMEN_OP_UNARY || !fusable_act(u->d.p.unary.act.act))
            continue;
        lumen__node *p = sole_producer(g, u->in[0]);
        lumen_actdesc *pa = p ? epilogue_act(p) : NULL;
        if (!pa || pa->act != LUMEN_ACT_NONE)
            continue;
        *pa = u->d.p.unary.act;
        replace_uses(g, u->out, u->in[0]);
        u->dead = 1;
        lumen__graph_count_uses(g);
    }
    return LUMEN_OK;
}

static void dead_code(lumen_graph *g)
{
    char *need = calloc((size_t)g->n_values + 1, 1);
    if (!need)
        return; /* an optimisation only */
    for (int i = 0; i < g->n_outputs; i++)
        need[g->outputs[i].value] = 1;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        lumen__node *n = &g->nodes[i];
        if (n->dead)
            continue;
        if (!need[n->out]) {
            n->dead = 1;
            continue;
        }
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                need[n->in[j]] = 1;
    }
    free(need);
}

lumen_status lumen__graph_optimize(lumen_graph *g, const lumen_model_options *o)
{
    lumen_model_options none = {0};
    if (!o)
        o = &none;
    if (g->status != LUMEN_OK)
        return g->status;
    if (g->n_outputs == 0)
        return gfail(g, LUMEN_EINVAL, "the graph has no outputs"), g->status;
    lumen_status st = LUMEN_OK;
    if (!o->no_fold_const && (st = fold_const(g)) != LUMEN_OK)
        return st;
    if (!o->no_dead_code)
        dead_code(g); /* first, so that folding sees only what is used */
    if (!o->no_fuse_patterns && (st = lumen__graph_fuse_patterns(g)) != LUMEN_OK)
        return st;
    if (!o->no_fold_bn && (st = fold_bn(g)) != LUMEN_OK)
        return st;
    if (!o->no_fuse_residual && (st = fuse_residual(g)) != LUMEN_OK)
        return st;
    if (!o->no_fuse_act && (st = fuse_act(g)) != LUMEN_OK)
        return st;
    if (!o->no_dead_code)
        dead_code(g);
    lumen__graph_count_uses(g);
    return g->status;
}
