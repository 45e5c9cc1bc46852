/*
 * import.c - ONNX model files into lumen graphs: the driver. Pre-scans the wire format
 * (wire.c), unpacks with protobuf-c, validates, adds graph inputs and initializers, then
 * imports the nodes in file order. Each node is either folded on the host when all its inputs
 * are host values and the op is shape arithmetic (fold.c), or handed to its mapper (ops_*.c),
 * which adds lumen ops. Host values reach the graph as float constants only when a device op
 * reads them. Decomposed GELU and LayerNorm are fused later by a graph pass (fuse.c), which the
 * Lua front door shares.
 *
 * After unpacking, every tensor is checked (tensor.c) and every node input must name a value
 * defined earlier (graph input, initializer or an earlier node's output). Import order: graph
 * inputs (initializers excluded: those are weights), initializers as host values, then nodes.
 * This file is the top of the importer: nothing below it includes it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "onnx/fold.h"
#include "onnx/map.h"
#include "onnx/wire.h"

#define OX_MIN_OPSET 1
#define OX_MAX_OPSET 17

/* ---- the import driver ---- */

/* The table row for type at opset; NULL when the type is unknown or outside the opset range.
 * *known (may be NULL) is set when the type exists in some other opset range. */
static const ox_op *find_op(const char *type, int opset, int *known)
{
    static const ox_op *const tables[] = {
        lumen__ox_ops_nn,     lumen__ox_ops_layout, lumen__ox_ops_compose, lumen__ox_ops_take,
        lumen__ox_ops_sample, lumen__ox_ops_rnn,    lumen__ox_ops_quant,   lumen__ox_ops_signal};
    if (known)
        *known = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const ox_op *o = tables[t]; o->type; o++) {
            if (strcmp(o->type, type))
                continue;
            if (known)
                *known = 1;
            if (opset >= o->since && opset <= o->until)
                return o;
        }
    return NULL;
}

typedef struct ox_import {
    ox_ctx c;
    const Onnx__GraphProto *gp;
    lumen_onnx_info *info;
} ox_import;

static void count_op_type(lumen_onnx_info *info, const char *type)
{
    for (int i = 0; i < info->n_op_types && i < 64; i++)
        if (!strcmp(info->op_types[i].type, type)) {
            info->op_types[i].count++;
            return;
        }
    if (info->n_op_types < 64) {
        snprintf(info->op_types[info->n_op_types].type, sizeof info->op_types[0].type, "%s", type);
        info->op_types[info->n_op_types].count = 1;
    }
    info->n_op_types++;
}

static int default_domain(const char *d)
{
    return !d || !*d || !strcmp(d, "ai.onnx");
}

/* The shape graph input 'name' is planned at: the model's dims where they are fixed, the given
 * shape's where they are symbolic (dim_param or no value). A given shape must have the model's
 * rank and agree on every fixed dim; a symbolic dim with nothing given is refused. *dynamic
 * gets bit i set for each symbolic dim i. */
static lumen_status input_shape(ox_ctx *c, const char *name, const Onnx__TensorShapeProto *ms,
                                const lumen_shape *given, lumen_shape *s, unsigned *dynamic)
{
    char b[160], b2[160];
    *dynamic = 0;
    if (given) {
        *s = *given;
        if (s->ndim < 0 || s->ndim > LUMEN_MAX_DIMS || lumen_shape_numel(s) < 0)
            return lumen__ox_fail(c, NULL, LUMEN_EINVAL, "input '%s': invalid shape", name);
        if (ms && ms->n_dim != (size_t)s->ndim)
            return lumen__ox_fail(c, NULL, LUMEN_EINVAL,
                                  "input '%s': shape %s has rank %d, the model's input has "
                                  "rank %zu",
                                  name, lumen_shape_format(s, b, sizeof b), s->ndim, ms->n_dim);
    } else if (!ms) {
        return lumen__ox_fail(c, NULL, LUMEN_EINVAL,
                              "input '%s' has no shape in the model: give one", name);
    } else if (ms->n_dim > LUMEN_MAX_DIMS) {
        return lumen__ox_fail(c, NULL, LUMEN_EUNSUPPORTED, "input '%s' has rank %zu", name,
                              ms->n_dim);
    }
    if (!ms)
        return LUMEN_OK;
    /* the model's own dims, with symbolic ones shown as -1 in messages */
    lumen_shape model = {(int)ms->n_dim, {0}};
    int fixed_differs = 0;
    for (int d = 0; d < model.ndim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = ms->dim[d];
        int fixed = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                    dim->dim_value >= 0;
        model.d[d] = fixed ? dim->dim_value : -1;
        if (!fixed)
            *dynamic |= 1u << d;
        if (!given && !fixed)
            return lumen__ox_fail(
                c, NULL, LUMEN_EINVAL,
                "input '%s': dim %d is symbolic ('%s'): give the input's shape", name, d,
                dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                        dim->dim_param
                    ? dim->dim_param
                    : "?");
        if (!given)
            s->d[d] = dim->dim_value;
        else if (fixed && given->d[d] != dim->dim_value)
            fixed_differs = 1;
    }
    if (!given)
        s->ndim = model.ndim;
    if (fixed_differs) {
        int n = 0;
        n += snprintf(b2 + n, sizeof b2 - (size_t)n, "[");
        for (int d = 0; d < model.ndim && n < (int)sizeof b2; d++)
            n += model.d[d] < 0 ? snprintf(b2 + n, sizeof b2 - (size_t)n, "%s?", d ? "," : "")
                                : snprintf(b2 + n, sizeof b2 - (size_t)n, "%s%lld", d ? "," : "",
                                           (long long)model.d[d]);
        if (n < (int)sizeof b2)
            snprintf(b2 + n, sizeof b2 - (size_t)n, "]");
        return lumen__ox_fail(c, NULL, LUMEN_EINVAL,
                              "input '%s': the model expects shape %s, given %s (only symbolic "
                              "dims, shown as ?, may change)",
                              name, b2, lumen_shape_format(given, b, sizeof b));
    }
    if (lumen_shape_numel(s) < 0 || lumen_shape_numel(s) > c->max_elements)
        return lumen__ox_fail(c, NULL, LUMEN_ERANGE, "input '%s': shape %s too large", name,
                              lumen_shape_format(s, b, sizeof b));
    return LUMEN_OK;
}

/* Graph inputs that are not initializers: shape from the options or the model's dims. */
static lumen_status add_inputs(ox_import *im, const lumen_onnx_options *opt)
{
    ox_ctx *c = &im->c;
    const Onnx__GraphProto *gp = im->gp;
    for (int k = 0; k < opt->n_shapes; k++) {
        const char *nm = opt->shapes[k].name;
        int found = 0;
        for (size_t i = 0; nm && i < gp->n_input; i++)
            found |= gp->input[i]->name && !strcmp(gp->input[i]->name, nm);
        ox_val *v = found ? lumen__ox_find(&im->c.t, nm) : NULL;
        if (!found || (v && v->host))
            return lumen__ox_fail(c, NULL, LUMEN_EINVAL,
                                  "input '%s': the model has no graph "
                                  "input of that name",
                                  nm ? nm : "(null)");
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !*vi->name)
            return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "graph input %zu has no name", i);
        ox_val *v = lumen__ox_find(&im->c.t, vi->name);
        if (v && v->host)
            continue; /* an initializer: a weight, not an input */
        if (v)
            return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "graph input '%s' is listed twice",
                                  vi->name);
        const Onnx__TypeProto *tp = vi->type;
        const Onnx__TypeProto__Tensor *tt =
            tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ? tp->tensor_type : NULL;
        if (!tt)
            return lumen__ox_fail(c, NULL, LUMEN_EUNSUPPORTED, "graph input '%s' is not a tensor",
                                  vi->name);
        if (tt->has_elem_type && tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            return lumen__ox_fail(c, NULL, LUMEN_EUNSUPPORTED,
                                  "graph input '%s' has element type %d (only float32 inputs)",
                                  vi->name, tt->elem_type);
        const lumen_onnx_input_shape *given = NULL;
        for (int k = 0; k < opt->n_shapes; k++)
            if (opt->shapes[k].name && !strcmp(opt->shapes[k].name, vi->name))
                given = &opt->shapes[k];
        lumen_shape s;
        unsigned dynamic = 0;
        lumen_status st =
            input_shape(c, vi->name, tt->shape, given ? &given->shape : NULL, &s, &dynamic);
        if (st != LUMEN_OK)
            return st;
        v = lumen__ox_add(&im->c.t, vi->name);
        if (!v)
            return lumen__ox_fail(c, NULL, LUMEN_ENOMEM, "value table full");
        v->gv = lumen_graph_input(c->g, vi->name, &s);
        if (v->gv < 0)
            return lumen__ox_fail(c, NULL, lumen_graph_status(c->g), "%s", lumen_graph_error(c->g));
        lumen_onnx_info *info = im->info;
        if (info->n_inputs < 16) {
            snprintf(info->inputs[info->n_inputs].name, sizeof info->inputs[0].name, "%s",
                     vi->name);
            info->inputs[info->n_inputs].shape = s;
            info->inputs[info->n_inputs].dynamic = dynamic;
        }
        info->n_inputs++;
    }
    return LUMEN_OK;
}

static lumen_status add_initializers(ox_import *im)
{
    ox_ctx *c = &im->c;
    char what[192], err[LUMEN_ERR_MAX];
    for (size_t i = 0; i < im->gp->n_initializer; i++) {
        const Onnx__TensorProto *t = im->gp->initializer[i];
        if (!t->name || !*t->name)
            return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "initializer %zu has no name", i);
        snprintf(what, sizeof what, "initializer '%.150s'", t->name);
        if (lumen__ox_find(&im->c.t, t->name))
            return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "%s is defined twice", what);
        ox_host *h;
        lumen_status st = lumen__ox_tensor(t, what, c->max_elements, &h, err);
        if (st != LUMEN_OK)
            return lumen__ox_fail(c, NULL, st, "%s", err);
        ox_val *v = lumen__ox_add(&im->c.t, t->name);
        if (!v) {
            lumen__ox_host_free(h);
            return lumen__ox_fail(c, NULL, LUMEN_ENOMEM, "value table full");
        }
        v->host = h;
        v->is_int = h->is_int;
        if (!h->is_int)
            im->info->parameters += lumen_shape_numel(&h->shape);
    }
    return LUMEN_OK;
}

/* Checks every node before any is imported: known op, inputs defined earlier, outputs new.
 * Adds each output name to the table and counts uses. */
static lumen_status validate_nodes(ox_import *im)
{
    ox_ctx *c = &im->c;
    ox_node n;
    for (int i = 0; i < c->n_nodes; i++) {
        const Onnx__NodeProto *p = c->nodes[i];
        n.p = p;
        lumen__ox_node_label(p, i, n.label, sizeof n.label);
        if (!p->op_type || !*p->op_type)
            return lumen__ox_fail(c, &n, LUMEN_EFORMAT, "no op_type");
        count_op_type(im->info, p->op_type);
        if (!default_domain(p->domain))
            return lumen__ox_fail(c, &n, LUMEN_EUNSUPPORTED, "domain '%s' is not supported",
                                  p->domain);
        int known = 0;
        if (!find_op(p->op_type, c->opset, &known))
            return lumen__ox_fail(c, &n, LUMEN_EUNSUPPORTED,
                                  known ? "op %s is not supported at opset %d"
                                        : "op %s is not supported (opset %d)",
                                  p->op_type, c->opset);
        if (p->n_input > OX_MAX_IO || p->n_output > OX_MAX_IO)
            return lumen__ox_fail(c, &n, LUMEN_EUNSUPPORTED,
                                  "%zu inputs and %zu outputs (at "
                                  "most %d each)",
                                  p->n_input, p->n_output, OX_MAX_IO);
        for (size_t k = 0; k < p->n_input; k++) {
            if (!p->input[k] || !*p->input[k])
                continue;
            ox_val *v = lumen__ox_find(&im->c.t, p->input[k]);
            if (!v)
                return lumen__ox_fail(c, &n, LUMEN_EFORMAT,
                                      "input %zu names '%.100s', which is not a graph input, an "
                                      "initializer or an earlier node's output",
                                      k, p->input[k]);
            v->uses++;
        }
        for (size_t k = 0; k < p->n_output; k++) {
            if (!p->output[k] || !*p->output[k])
                continue;
            if (lumen__ox_find(&im->c.t, p->output[k]))
                return lumen__ox_fail(c, &n, LUMEN_EFORMAT, "output '%.100s' is defined twice",
                                      p->output[k]);
            if (!lumen__ox_add(&im->c.t, p->output[k]))
                return lumen__ox_fail(c, &n, LUMEN_ENOMEM, "value table full");
        }
    }
    for (size_t i = 0; i < im->gp->n_output; i++) {
        const char *nm = im->gp->output[i]->name;
        ox_val *v = nm ? lumen__ox_find(&im->c.t, nm) : NULL;
        if (!v)
            return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "graph output '%s' is never computed",
                                  nm ? nm : "");
        v->uses++;
        v->is_output = 1;
    }
    return LUMEN_OK;
}

/* Imports node i. */
static lumen_status import_node(ox_import *im, int i)
{
    ox_ctx *c = &im->c;
    ox_node n;
    lumen__ox_node_fill(&im->c, i, &n);
    int done = 0;
    lumen_status st = lumen__ox_fold(c, &n, &done);
    if (st != LUMEN_OK)
        return st;
    if (!done) {
        const ox_op *op = find_op(n.p->op_type, c->opset, NULL);
        st = lumen__ox_need(c, &n, op->min_in);
        if (st == LUMEN_OK)
            st = op->map(c, &n);
        if (st != LUMEN_OK)
            return c->st != LUMEN_OK ? c->st : lumen__ox_fail(c, &n, st, "failed");
    }
    for (int k = 0; k < n.n_out; k++) {
        ox_val *v = lumen__ox_out(c, &n, k);
        if (v && v->uses > 0 && v->gv < 0 && !v->host)
            return lumen__ox_fail(c, &n, LUMEN_EUNSUPPORTED, "output %d ('%s') is not supported", k,
                                  v->name);
    }
    return LUMEN_OK;
}

static lumen_status import_model(ox_import *im, const Onnx__ModelProto *m,
                                 const lumen_onnx_options *opt)
{
    ox_ctx *c = &im->c;
    lumen_onnx_info *info = im->info;
    info->ir_version = m->has_ir_version ? m->ir_version : 0;
    snprintf(info->producer, sizeof info->producer, "%s%s%s",
             m->producer_name ? m->producer_name : "", m->producer_version ? " " : "",
             m->producer_version ? m->producer_version : "");
    const Onnx__GraphProto *gp = m->graph;
    if (!gp || (gp->n_node == 0 && gp->n_output == 0))
        return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "the file holds no graph");
    if (gp->n_output == 0)
        return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "the graph has no outputs");
    c->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++)
        if (default_domain(m->opset_import[i]->domain) && m->opset_import[i]->has_version)
            c->opset =
                (int)(m->opset_import[i]->version > 1000 ? 1000 : m->opset_import[i]->version);
    info->opset = c->opset;
    if (c->opset < 0 && m->n_opset_import > 0 && m->opset_import[0]->domain)
        return lumen__ox_fail(c, NULL, LUMEN_EUNSUPPORTED, "opset domain '%.100s' is not supported",
                              m->opset_import[0]->domain);
    if (c->opset < 0)
        return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "no opset for the default ONNX domain");
    if (c->opset < OX_MIN_OPSET || c->opset > OX_MAX_OPSET)
        return lumen__ox_fail(c, NULL, LUMEN_EUNSUPPORTED, "opset %d is not supported (%d-%d)",
                              c->opset, OX_MIN_OPSET, OX_MAX_OPSET);
    if (gp->n_sparse_initializer > 0)
        return lumen__ox_fail(c, NULL, LUMEN_EUNSUPPORTED, "sparse initializers are not supported");
    im->gp = gp;
    info->nodes = (int)gp->n_node;
    c->nodes = (const Onnx__NodeProto *const *)gp->node;
    c->n_nodes = (int)gp->n_node;
    /* value table: every name the file can define */
    size_t cap = gp->n_input + gp->n_initializer + 1;
    for (size_t i = 0; i < gp->n_node; i++)
        cap += gp->node[i]->n_output;
    if (cap > (1u << 26))
        return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "too many values");
    im->c.t.cap = (int)cap;
    im->c.t.nslot = 16;
    while ((size_t)im->c.t.nslot < 2 * cap)
        im->c.t.nslot *= 2;
    im->c.t.vals = calloc(cap, sizeof *im->c.t.vals);
    im->c.t.slot = malloc((size_t)im->c.t.nslot * sizeof *im->c.t.slot);
    if (!im->c.t.vals || !im->c.t.slot)
        return lumen__ox_fail(c, NULL, LUMEN_ENOMEM, "out of host memory");
    memset(im->c.t.slot, 0xff, (size_t)im->c.t.nslot * sizeof *im->c.t.slot);
    lumen_status st;
    if ((st = add_initializers(im)) != LUMEN_OK || (st = add_inputs(im, opt)) != LUMEN_OK ||
        (st = validate_nodes(im)) != LUMEN_OK)
        return st;
    for (int i = 0; i < c->n_nodes; i++)
        if ((st = import_node(im, i)) != LUMEN_OK)
            return st;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *nm = gp->output[i]->name;
        ox_val *v = lumen__ox_find(&im->c.t, nm);
        ox_node on = {0};
        snprintf(on.label, sizeof on.label, "graph output '%.150s'", nm);
        int gv = v->gv >= 0 ? v->gv : lumen__ox_gv(c, &on, v);
        if (gv < 0)
            return c->st;
        if ((st = lumen_graph_output(c->g, nm, gv)) != LUMEN_OK)
            return lumen__ox_fail(c, &on, st, "%s", lumen_graph_error(c->g));
        if (info->n_outputs < 16) {
            snprintf(info->outputs[info->n_outputs].name, sizeof info->outputs[0].name, "%s", nm);
            info->outputs[info->n_outputs].shape = *lumen_graph_shape(c->g, gv);
        }
        info->n_outputs++;
    }
    return lumen_graph_status(c->g);
}

static void import_free(ox_import *im)
{
    for (int i = 0; i < im->c.t.n; i++)
        lumen__ox_host_free(im->c.t.vals[i].host);
    free(im->c.t.vals);
    free(im->c.t.slot);
}

lumen_status lumen_onnx_load_buffer(const void *data, size_t len, const lumen_onnx_options *opt,
                                    lumen_graph **out, lumen_onnx_info *info, char *err,
                                    size_t errlen)
{
    static const lumen_onnx_options defaults = {0};
    char ebuf[LUMEN_ERR_MAX] = "";
    lumen_onnx_info tmp_info;
    if (out)
        *out = NULL;
    if (!info)
        info = &tmp_info;
    memset(info, 0, sizeof *info);
    if (!opt)
        opt = &defaults;
    if (err && errlen)
        err[0] = 0;
    if (!out || (opt->n_shapes > 0 && !opt->shapes) || opt->n_shapes < 0) {
        if (err && errlen)
            snprintf(err, errlen, "onnx: invalid arguments");
        return LUMEN_EINVAL;
    }
    if (!data || len == 0) {
        if (err && errlen)
            snprintf(err, errlen, "onnx: empty file");
        return LUMEN_EFORMAT;
    }
    int depth = opt->max_depth > 0 ? opt->max_depth : 32;
    lumen_status st = lumen__ox_prescan(data, len, OX_ROOT_MODEL, depth, ebuf);
    Onnx__ModelProto *m = NULL;
    if (st == LUMEN_OK) {
        m = onnx__model_proto__unpack(NULL, len, data);
        if (!m)
            st = lumen__errf(ebuf, LUMEN_EFORMAT, "not a valid ONNX protobuf (unpacking failed)");
    }
    if (st != LUMEN_OK) {
        if (err && errlen)
            snprintf(err, errlen, "onnx: %s", ebuf);
        return st;
    }
    ox_import im;
    memset(&im, 0, sizeof im);
    im.c.err = ebuf;
    im.c.errlen = sizeof ebuf;
    im.c.max_elements = opt->max_elements > 0 ? opt->max_elements : (int64_t)1 << 28;
    im.info = info;
    im.c.g = lumen_graph_new();
    if (!im.c.g)
        st = lumen__ox_fail(&im.c, NULL, LUMEN_ENOMEM, "out of host memory");
    else
        st = import_model(&im, m, opt);
    if (st == LUMEN_OK && im.c.st != LUMEN_OK)
        st = im.c.st;
    if (st != LUMEN_OK && !ebuf[0])
        snprintf(ebuf, sizeof ebuf, "%s", lumen_graph_error(im.c.g));
    import_free(&im);
    onnx__model_proto__free_unpacked(m, NULL);
    if (st != LUMEN_OK) {
        lumen_graph_free(im.c.g);
        if (err && errlen)
            snprintf(err, errlen, "onnx: %s", ebuf);
        return st;
    }
    *out = im.c.g;
    return LUMEN_OK;
}

/* Reads a whole regular file (sys.c: a FIFO or device is refused without blocking); at most
 * 2 GB, protobuf's limit. */
static lumen_status read_file(const char *path, uint8_t **data, size_t *len, char *err)
{
    return lumen__read_file(path, 2ul << 30, data, len, err, LUMEN_ERR_MAX);
}

lumen_status lumen_onnx_load(const char *path, const lumen_onnx_options *opt, lumen_graph **out,
                             lumen_onnx_info *info, char *err, size_t errlen)
{
    char ebuf[LUMEN_ERR_MAX];
    uint8_t *data;
    size_t len;
    if (out)
        *out = NULL;
    if (!path) {
        if (err && errlen)
            snprintf(err, errlen, "onnx: no path");
        return LUMEN_EINVAL;
    }
    lumen_status st = read_file(path, &data, &len, ebuf);
    if (st != LUMEN_OK) {
        if (err && errlen)
            snprintf(err, errlen, "onnx: %s", ebuf);
        return st;
    }
    st = lumen_onnx_load_buffer(data, len, opt, out, info, err, errlen);
    free(data);
    return st;
}

lumen_status lumen_onnx_read_tensor(const char *path, lumen_array *out, int *is_integer, char *err,
                                    size_t errlen)
{
    char ebuf[LUMEN_ERR_MAX] = "";
    uint8_t *data = NULL;
    size_t len = 0;
    Onnx__TensorProto *t = NULL;
    ox_host *h = NULL;
    if (out)
        memset(out, 0, sizeof *out);
    if (is_integer)
        *is_integer = 0;
    lumen_status st = out && path ? read_file(path, &data, &len, ebuf)
                                  : lumen__errf(ebuf, LUMEN_EINVAL, "invalid arguments");
    if (st == LUMEN_OK)
        st = lumen__ox_prescan(data, len, OX_ROOT_TENSOR, 32, ebuf);
    if (st == LUMEN_OK && !(t = onnx__tensor_proto__unpack(NULL, len, data)))
        st = lumen__errf(ebuf, LUMEN_EFORMAT, "'%s' is not a serialized TensorProto", path);
    if (st == LUMEN_OK)
        st = lumen__ox_tensor(t, "tensor", (int64_t)1 << 28, &h, ebuf);
    if (st == LUMEN_OK) {
        int64_t k = lumen_shape_numel(&h->shape);
        out->shape = h->shape;
        snprintf(out->name, sizeof out->name, "%s", t->name ? t->name : "");
        out->data = malloc((size_t)(k ? k : 1) * sizeof(float));
        if (!out->data)
            st = lumen__errf(ebuf, LUMEN_ENOMEM, "out of host memory");
        for (int64_t j = 0; out->data && j < k; j++)
            out->data[j] = (float)lumen__ox_host_get(h, j);
        if (is_integer)
            *is_integer = h->is_int;
    }
    lumen__ox_host_free(h);
    if (t)
        onnx__tensor_proto__free_unpacked(t, NULL);
    free(data);
    if (st != LUMEN_OK && err && errlen)
        snprintf(err, errlen, "onnx: %s", ebuf);
    return st;
}
