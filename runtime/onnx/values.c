/*
 * values.c - the ONNX importer's value table (ONNX names to ox_val, open addressing) and the
 * helper library its mappers and folders use: messages naming the node, attributes, constant
 * inputs, setting outputs as host or graph values, materialising host constants in the graph.
 * It sits below ops_*.c, fold.c and import.c and uses none of them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/values.h"

/* ---- the value table: ONNX names to ox_val, open addressing ---- */

static uint64_t name_hash(const char *s)
{
    return lumen__hash64(s, strlen(s), 0x9e3779b97f4a7c15ull);
}

ox_val *lumen__ox_find(const ox_table *t, const char *name)
{
    if (!name || !*name)
        return NULL;
    for (uint64_t h = name_hash(name) & (uint64_t)(t->nslot - 1);;
         h = (h + 1) & (uint64_t)(t->nslot - 1)) {
        int k = t->slot[h];
        if (k < 0)
            return NULL;
        if (!strcmp(t->vals[k].name, name))
            return &t->vals[k];
    }
}

ox_val *lumen__ox_add(ox_table *t, const char *name)
{
    if (t->n >= t->cap)
        return NULL;
    uint64_t h = name_hash(name) & (uint64_t)(t->nslot - 1);
    while (t->slot[h] >= 0)
        h = (h + 1) & (uint64_t)(t->nslot - 1);
    t->slot[h] = t->n;
    ox_val *v = &t->vals[t->n++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->gv = -1;
    return v;
}

/* ---- helpers for the mappers ---- */

ox_host *lumen__ox_host_new(ox_ctx *c, const ox_node *n, int is_int, const lumen_shape *s)
{
    int64_t numel = lumen_shape_numel(s);
    if (numel < 0 || numel > c->max_elements) {
        lumen__ox_fail(c, n, LUMEN_ERANGE, "a constant of %lld elements exceeds the limit %lld",
                       (long long)numel, (long long)c->max_elements);
        return NULL;
    }
    ox_host *h = lumen__ox_host_alloc(is_int, s);
    if (!h)
        lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    return h;
}

lumen_status lumen__ox_fail(ox_ctx *c, const ox_node *n, lumen_status st, const char *fmt, ...)
{
    if (c->st != LUMEN_OK)
        return c->st;
    char msg[LUMEN_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s%s%s", n ? n->label : "", n ? ": " : "", msg);
    c->st = st;
    return st;
}

const Onnx__AttributeProto *lumen__ox_attr(const ox_node *n, const char *name)
{
    for (size_t i = 0; i < n->p->n_attribute; i++)
        if (n->p->attribute[i]->name && !strcmp(n->p->attribute[i]->name, name))
            return n->p->attribute[i];
    return NULL;
}

int64_t lumen__ox_attr_int(const ox_node *n, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = lumen__ox_attr(n, name);
    if (a && a->has_i)
        return a->i;
    if (a && a->has_f) {
        /* a float where an integer belongs: converted only when it fits; anything else becomes
         * a value every range check rejects (converting it would be undefined behaviour) */
        double f = a->f;
        return isfinite(f) && fabs(f) < 9.0e18 ? (int64_t)f : INT64_MAX;
    }
    return def;
}

float lumen__ox_attr_float(const ox_node *n, const char *name, float def)
{
    const Onnx__AttributeProto *a = lumen__ox_attr(n, name);
    return a && a->has_f ? a->f : a && a->has_i ? (float)a->i : def;
}

const char *lumen__ox_attr_str(const ox_node *n, const char *name, const char *def, char *buf,
                               size_t len)
{
    const Onnx__AttributeProto *a = lumen__ox_attr(n, name);
    if (!a || !a->has_s)
        snprintf(buf, len, "%s", def);
    else
        snprintf(buf, len, "%.*s", (int)(a->s.len < len ? a->s.len : len - 1),
                 (const char *)a->s.data);
    return buf;
}

int lumen__ox_attr_ints(const ox_node *n, const char *name, int64_t *out, int cap)
{
    const Onnx__AttributeProto *a = lumen__ox_attr(n, name);
    if (!a)
        return -1;
    if (a->n_ints > (size_t)cap)
        return -2;
    for (size_t i = 0; i < a->n_ints; i++)
        out[i] = a->ints[i];
    return (int)a->n_ints;
}

lumen_status lumen__ox_const_ints(ox_ctx *c, const ox_node *n, int i, int64_t *out, int cap,
                                  int *count)
{
    ox_val *v = i < n->n_in ? n->in[i] : NULL;
    if (!v || !v->host)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "input %d ('%s') must be a constant known at load time", i,
                              v ? v->name : "");
    int64_t k = lumen_shape_numel(&v->host->shape);
    if (v->host->shape.ndim > 1 || k > cap)
        return lumen__ox_fail(c, n, LUMEN_EFORMAT,
                              "input %d ('%s') must be a list of at most %d "
                              "values",
                              i, v->name, cap);
    for (int64_t j = 0; j < k; j++)
        out[j] = lumen__ox_host_geti(v->host, j);
    *count = (int)k;
    return LUMEN_OK;
}

lumen_status lumen__ox_const_float(ox_ctx *c, const ox_node *n, int i, float *out)
{
    ox_val *v = i < n->n_in ? n->in[i] : NULL;
    if (!v || !v->host || lumen_shape_numel(&v->host->shape) != 1)
        return lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                              "input %d ('%s') must be a constant scalar known at load time", i,
                              v ? v->name : "");
    *out = (float)lumen__ox_host_get(v->host, 0);
    return LUMEN_OK;
}

ox_val *lumen__ox_out(ox_ctx *c, const ox_node *n, int j)
{
    if (j >= n->n_out || !n->out[j][0])
        return NULL;
    return lumen__ox_find(&c->t, n->out[j]);
}

lumen_status lumen__ox_set_host(ox_ctx *c, const ox_node *n, int j, ox_host *h)
{
    ox_val *v = lumen__ox_out(c, n, j);
    if (!h)
        return c->st != LUMEN_OK ? c->st : lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of memory");
    if (!v) {
        lumen__ox_host_free(h);
        return LUMEN_OK;
    }
    lumen__ox_host_free(v->host);
    v->host = h;
    v->is_int = h->is_int;
    v->gv = -1;
    return LUMEN_OK;
}

lumen_status lumen__ox_set_gv(ox_ctx *c, const ox_node *n, int j, int gv)
{
    ox_val *v = lumen__ox_out(c, n, j);
    if (gv < 0)
        return c->st != LUMEN_OK ? c->st : lumen__ox_fail(c, n, LUMEN_EINVAL, "no value");
    if (v) {
        v->gv = gv;
        v->is_int = 0;
        v->dtype = 0;
        v->wide_ndim = 0;
    }
    return LUMEN_OK;
}

lumen_status lumen__ox_alias(ox_ctx *c, const ox_node *n, int j, ox_val *src)
{
    ox_val *v = lumen__ox_out(c, n, j);
    if (!v || !src)
        return LUMEN_OK;
    v->gv = src->gv;
    v->is_int = src->is_int;
    v->wide_ndim = src->wide_ndim;
    memcpy(v->wide, src->wide, sizeof v->wide);
    if (src->host) {
        v->host = lumen__ox_host_copy(src->host);
        if (!v->host)
            return lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
    }
    return LUMEN_OK;
}

int lumen__ox_const(ox_ctx *c, const ox_node *n, const char *suffix, const lumen_shape *s,
                    const float *data)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s", n && n->p->name && *n->p->name ? n->p->name : "const",
             suffix);
    int id = lumen_graph_const(c->g, name, s, data);
    if (id < 0)
        lumen__ox_fail(c, n, lumen_graph_status(c->g), "%s", lumen_graph_error(c->g));
    return id;
}

int lumen__ox_gv(ox_ctx *c, const ox_node *n, ox_val *v)
{
    if (v->gv >= 0) {
        if (v->wide_ndim) {
            lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                           "input '%s' has rank %d: above %d only Reshape and Transpose may "
                           "read it",
                           v->name, v->wide_ndim, LUMEN_MAX_DIMS);
            return -1;
        }
        if (v->is_int && !v->host) {
            lumen__ox_fail(c, n, LUMEN_EUNSUPPORTED,
                           "input '%s' is an integer tensor computed at run time (device tensors "
                           "are float32)",
                           v->name);
            return -1;
        }
        return v->gv;
    }
    if (!v->host) {
        lumen__ox_fail(c, n, LUMEN_EFORMAT, "input '%s' has no value", v->name);
        return -1;
    }
    int64_t k = lumen_shape_numel(&v->host->shape);
    const float *data = v->host->f;
    float *tmp = NULL;
    if (v->host->is_int) {
        tmp = malloc((size_t)(k ? k : 1) * sizeof(float));
        if (!tmp) {
            lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
            return -1;
        }
        for (int64_t j = 0; j < k; j++)
            tmp[j] = (float)v->host->i[j];
        data = tmp;
    }
    v->gv = lumen_graph_const(c->g, v->name, &v->host->shape, data);
    free(tmp);
    if (v->gv < 0)
        lumen__ox_fail(c, n, lumen_graph_status(c->g), "%s", lumen_graph_error(c->g));
    return v->gv;
}

const lumen_shape *lumen__ox_shape(ox_ctx *c, const ox_val *v)
{
    if (v->host)
        return &v->host->shape;
    return lumen_graph_shape(c->g, v->gv);
}

int lumen__ox_op(ox_ctx *c, const ox_node *n, const char *suffix, const lumen_opdesc *d, int n_in,
                 const int *in)
{
    char name[160];
    const char *base = n->p->name && *n->p->name ? n->p->name : n->n_out > 0 ? n->out[0] : "";
    snprintf(name, sizeof name, "%s%s", base, suffix);
    for (int i = 0; i < n_in; i++)
        if (in[i] < -1)
            return -1; /* an input failed to materialise: message already set */
    int id = lumen_graph_op(c->g, name, d, n_in, in);
    if (id < 0)
        lumen__ox_fail(c, n, lumen_graph_status(c->g), "%s", lumen_graph_error(c->g));
    return id;
}

int lumen__ox_reshape(ox_ctx *c, const ox_node *n, const char *suffix, int x, const lumen_shape *s)
{
    if (x < 0)
        return -1;
    if (lumen_shape_equal(lumen_graph_shape(c->g, x), s))
        return x;
    lumen_opdesc d = {.op = LUMEN_OP_RESHAPE};
    d.p.reshape.shape = *s;
    return lumen__ox_op(c, n, suffix, &d, 1, &x);
}

lumen_status lumen__ox_axis(ox_ctx *c, const ox_node *n, int64_t axis, int rank, int *out)
{
    if (axis < -rank || axis >= (rank ? rank : 1))
        return lumen__ox_fail(c, n, LUMEN_EFORMAT, "axis %lld out of range for rank %d",
                              (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return LUMEN_OK;
}

void lumen__ox_node_label(const Onnx__NodeProto *p, int index, char *buf, size_t len)
{
    const char *op = p->op_type ? p->op_type : "?";
    if (p->name && *p->name)
        snprintf(buf, len, "node '%.120s' (%.40s)", p->name, op);
    else
        snprintf(buf, len, "node #%d (%.40s)", index, op);
}

void lumen__ox_node_fill(ox_ctx *c, int i, ox_node *n)
{
    const Onnx__NodeProto *p = c->nodes[i];
    memset(n, 0, sizeof *n); /* inputs past n_in read as absent (NULL), never as stack bytes */
    n->p = p;
    n->index = i;
    lumen__ox_node_label(p, i, n->label, sizeof n->label);
    n->n_in = (int)p->n_input;
    n->n_out = (int)p->n_output;
    for (int k = 0; k < n->n_in; k++)
        n->in[k] = lumen__ox_find(&c->t, p->input[k]);
    for (int k = 0; k < n->n_out; k++)
        n->out[k] = p->output[k] ? p->output[k] : "";
}
