/*
 * import.c - ONNX model files into lumen graphs: the driver. Pre-scans the wire format
 * (wire.c), unpacks with protobuf-c, validates, adds graph inputs and initializers, then
 * imports the nodes in file order. Each node is (1) consumed by a fused pattern (decomposed
 * LayerNorm, decomposed GELU), (2) folded on the host when all its inputs are host values and
 * the op is shape arithmetic (fold.c), or (3) handed to its mapper (ops_*.c), which adds lumen
 * ops. Host values reach the graph as float constants only when a device op reads them.
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
    static const ox_op *const tables[] = {lumen__ox_ops_nn, lumen__ox_ops_layout};
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
    int *skip; /* nodes consumed by a fused pattern (their outputs never exist) */
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
        lumen_shape s = {0, {0}};
        const lumen_onnx_input_shape *given = NULL;
        for (int k = 0; k < opt->n_shapes; k++)
            if (opt->shapes[k].name && !strcmp(opt->shapes[k].name, vi->name))
                given = &opt->shapes[k];
        char b[160];
        if (given) {
            s = given->shape;
            if (s.ndim < 0 || s.ndim > LUMEN_MAX_DIMS || lumen_shape_numel(&s) < 0)
                return lumen__ox_fail(c, NULL, LUMEN_EINVAL, "input '%s': invalid shape", vi->name);
            if (tt->shape && tt->shape->n_dim != (size_t)s.ndim)
                return lumen__ox_fail(c, NULL, LUMEN_EINVAL,
                                      "input '%s': shape %s has rank %d, the model's input has "
                                      "rank %zu",
                                      vi->name, lumen_shape_format(&s, b, sizeof b), s.ndim,
                                      tt->shape->n_dim);
        } else {
            if (!tt->shape)
                return lumen__ox_fail(c, NULL, LUMEN_EINVAL,
                                      "input '%s' has no shape in the model: give one", vi->name);
            if (tt->shape->n_dim > LUMEN_MAX_DIMS)
                return lumen__ox_fail(c, NULL, LUMEN_EUNSUPPORTED, "input '%s' has rank %zu",
                                      vi->name, tt->shape->n_dim);
            s.ndim = (int)tt->shape->n_dim;
            for (int d = 0; d < s.ndim; d++) {
                const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
                if (dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
                    dim->dim_value < 0)
                    return lumen__ox_fail(
                        c, NULL, LUMEN_EINVAL,
                        "input '%s': dim %d is symbolic ('%s'): give the input's shape", vi->name,
                        d,
                        dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                                dim->dim_param
                            ? dim->dim_param
                            : "?");
                s.d[d] = dim->dim_value;
            }
            if (lumen_shape_numel(&s) < 0 || lumen_shape_numel(&s) > c->max_elements)
                return lumen__ox_fail(c, NULL, LUMEN_ERANGE, "input '%s': shape %s too large",
                                      vi->name, lumen_shape_format(&s, b, sizeof b));
        }
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
            if (v->uses < 2 && (v->uses == 0 || v->consumer[0] != i))
                v->consumer[v->uses] = i;
            v->uses++;
        }
        for (size_t k = 0; k < p->n_output; k++) {
            if (!p->output[k] || !*p->output[k])
                continue;
            if (lumen__ox_find(&im->c.t, p->output[k]))
                return lumen__ox_fail(c, &n, LUMEN_EFORMAT, "output '%.100s' is defined twice",
                                      p->output[k]);
            ox_val *o = lumen__ox_add(&im->c.t, p->output[k]);
            if (!o)
                return lumen__ox_fail(c, &n, LUMEN_ENOMEM, "value table full");
            o->producer = i;
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

/* ---- fused patterns ---- */

/* The only node consuming value name (after node 'from'), or -1 when there are none or
 * several. */
static int sole_consumer(ox_import *im, const char *name, int from)
{
    ox_val *v = lumen__ox_find(&im->c.t, name);
    if (!v || v->uses != 1 || v->is_output || v->consumer[0] <= from)
        return -1;
    return v->consumer[0];
}

static int is_op(const Onnx__NodeProto *p, const char *type, size_t n_in)
{
    return !strcmp(p->op_type, type) && p->n_input == n_in && p->n_output >= 1 && p->output[0] &&
           *p->output[0];
}

/* For a binary node p with one input named x: the other input's index, or -1. */
static int other_input(const Onnx__NodeProto *p, const char *x)
{
    if (p->n_input != 2 || !p->input[0] || !p->input[1])
        return -1;
    return !strcmp(p->input[0], x) ? 1 : !strcmp(p->input[1], x) ? 0 : -1;
}

/* A scalar host constant named name, compared with want (rel tol); 1 when it matches. */
static int const_is(ox_import *im, const char *name, double want, double tol)
{
    ox_val *v = lumen__ox_find(&im->c.t, name);
    if (!v || !v->host || lumen_shape_numel(&v->host->shape) != 1)
        return 0;
    double x = lumen__ox_host_get(v->host, 0);
    return fabs(x - want) <= tol * fabs(want);
}

/* Decomposed GELU, as torch.onnx exports nn.GELU before opset 20:
 *   a = Div(x, sqrt 2) | Mul(x, 1/sqrt 2); b = Erf(a); e = Add(b, 1);
 *   then Mul(Mul(x, e), 0.5) or Mul(Mul(x, 0.5), e).
 * Matched at the Div; emits unary gelu at the last node. Returns 1 when fused. */
static int fuse_gelu(ox_import *im, ox_node *n)
{
    const Onnx__NodeProto *const *N = im->c.nodes;
    const Onnx__NodeProto *d = n->p;
    if (!(is_op(d, "Div", 2) || is_op(d, "Mul", 2)) || !d->input[0] || !d->input[1])
        return 0;
    const char *x = d->input[0];
    int isdiv = !strcmp(d->op_type, "Div");
    if (!const_is(im, d->input[1], isdiv ? sqrt(2.0) : sqrt(0.5), 1e-4))
        return 0;
    ox_val *xv = lumen__ox_find(&im->c.t, x);
    if (!xv || xv->host || xv->gv < 0 || xv->is_int)
        return 0;
    int ie = sole_consumer(im, d->output[0], n->index);
    if (ie < 0 || !is_op(N[ie], "Erf", 1))
        return 0;
    int ia = sole_consumer(im, N[ie]->output[0], ie);
    int k;
    if (ia < 0 || !is_op(N[ia], "Add", 2) || (k = other_input(N[ia], N[ie]->output[0])) < 0 ||
        !const_is(im, N[ia]->input[k], 1.0, 1e-6))
        return 0;
    int im1 = sole_consumer(im, N[ia]->output[0], ia);
    if (im1 < 0 || !is_op(N[im1], "Mul", 2) || (k = other_input(N[im1], N[ia]->output[0])) < 0)
        return 0;
    int last, half = -1;
    if (!strcmp(N[im1]->input[k], x)) {
        last = sole_consumer(im, N[im1]->output[0], im1);
        if (last < 0 || !is_op(N[last], "Mul", 2) ||
            (k = other_input(N[last], N[im1]->output[0])) < 0 ||
            !const_is(im, N[last]->input[k], 0.5, 1e-6))
            return 0;
    } else {
        /* Mul(x, 0.5) computed before, consumed only here */
        last = im1;
        ox_val *hv0 = lumen__ox_find(&im->c.t, N[im1]->input[k]);
        int i = hv0 ? hv0->producer : -1, j;
        if (i >= 0 && i < n->index && is_op(N[i], "Mul", 2) && (j = other_input(N[i], x)) >= 0 &&
            const_is(im, N[i]->input[j], 0.5, 1e-6))
            half = i;
        ox_val *hv = half >= 0 ? lumen__ox_find(&im->c.t, N[half]->output[0]) : NULL;
        if (!hv || hv->uses != 1 || hv->is_output || im->skip[half])
            return 0;
    }
    lumen_opdesc g = lumen_opdesc_unary(LUMEN_ACT_GELU);
    int in = lumen__ox_gv(&im->c, n, xv);
    ox_node ln;
    lumen__ox_node_fill(&im->c, last, &ln);
    int y = lumen__ox_op(&im->c, &ln, "", &g, 1, &in);
    if (y < 0)
        return -1;
    lumen__ox_set_gv(&im->c, &ln, 0, y);
    im->skip[ie] = im->skip[ia] = im->skip[im1] = im->skip[last] = 1;
    return 1;
}

/* The reduced axes of ReduceMean p on a tensor of rank r when they are a trailing run
 * [axis, r): returns axis, or -1. */
static int trailing_axes(ox_import *im, const Onnx__NodeProto *p, int r)
{
    (void)im;
    ox_node n;
    n.p = p;
    int64_t ax[LUMEN_MAX_DIMS];
    int na = lumen__ox_attr_ints(&n, "axes", ax, LUMEN_MAX_DIMS);
    if (na <= 0 || lumen__ox_attr_int(&n, "keepdims", 1) != 1)
        return -1;
    unsigned mask = 0;
    for (int i = 0; i < na; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
        if (a < 0 || a >= r)
            return -1;
        mask |= 1u << a;
    }
    int first = r - na;
    return mask == ((1u << r) - 1) - ((1u << first) - 1) ? first : -1;
}

/* Decomposed LayerNorm, as exported before opset 17:
 *   m = ReduceMean(x); d = Sub(x, m); v = ReduceMean(Pow(d, 2)); s = Sqrt(Add(v, eps));
 *   y = Div(d, s); optionally y = Add(Mul(y, gamma), beta).
 * Matched at the first ReduceMean (axes attribute, opsets < 18). Returns 1 when fused. */
static int fuse_layernorm(ox_import *im, ox_node *n)
{
    const Onnx__NodeProto *const *N = im->c.nodes;
    const Onnx__NodeProto *r0 = n->p;
    if (!is_op(r0, "ReduceMean", 1) || !r0->input[0])
        return 0;
    const char *x = r0->input[0];
    ox_val *xv = lumen__ox_find(&im->c.t, x);
    if (!xv || xv->host || xv->gv < 0 || xv->is_int)
        return 0;
    int rank = lumen_graph_shape(im->c.g, xv->gv)->ndim;
    int axis = trailing_axes(im, r0, rank);
    if (axis < 0)
        return 0;
    int isub = sole_consumer(im, r0->output[0], n->index);
    if (isub < 0 || !is_op(N[isub], "Sub", 2) || strcmp(N[isub]->input[0], x) ||
        strcmp(N[isub]->input[1], r0->output[0]))
        return 0;
    /* d has two consumers: Pow(d, 2) and Div(d, s) */
    ox_val *dv = lumen__ox_find(&im->c.t, N[isub]->output[0]);
    if (!dv || dv->uses != 2 || dv->is_output)
        return 0;
    int ipow = -1, idiv = -1;
    for (int k2 = 0; k2 < 2; k2++) {
        int i = dv->consumer[k2];
        if (i < 0)
            return 0;
        const Onnx__NodeProto *p = N[i];
        if (is_op(p, "Pow", 2) && !strcmp(p->input[0], dv->name) && const_is(im, p->input[1], 2, 0))
            ipow = i;
        if (is_op(p, "Div", 2) && !strcmp(p->input[0], dv->name))
            idiv = i;
    }
    if (ipow < 0 || idiv < 0)
        return 0;
    int ir1 = sole_consumer(im, N[ipow]->output[0], ipow);
    if (ir1 < 0 || !is_op(N[ir1], "ReduceMean", 1) || trailing_axes(im, N[ir1], rank) != axis)
        return 0;
    int iadd = sole_consumer(im, N[ir1]->output[0], ir1), k;
    if (iadd < 0 || !is_op(N[iadd], "Add", 2) || (k = other_input(N[iadd], N[ir1]->output[0])) < 0)
        return 0;
    ox_val *ev = lumen__ox_find(&im->c.t, N[iadd]->input[k]);
    if (!ev || !ev->host || lumen_shape_numel(&ev->host->shape) != 1)
        return 0;
    float eps = (float)lumen__ox_host_get(ev->host, 0);
    int isq = sole_consumer(im, N[iadd]->output[0], iadd);
    if (isq < 0 || !is_op(N[isq], "Sqrt", 1) || sole_consumer(im, N[isq]->output[0], isq) != idiv ||
        strcmp(N[idiv]->input[1], N[isq]->output[0]))
        return 0;
    /* optional affine part: Mul by a constant gamma, then Add a constant beta */
    int last = idiv, imul = -1, iadd2 = -1;
    ox_val *gamma = NULL, *beta = NULL;
    lumen_shape norm = {rank - axis, {0}};
    for (int i = axis; i < rank; i++)
        norm.d[i - axis] = lumen_graph_shape(im->c.g, xv->gv)->d[i];
    int c1 = sole_consumer(im, N[idiv]->output[0], idiv);
    if (c1 >= 0 && is_op(N[c1], "Mul", 2) && (k = other_input(N[c1], N[idiv]->output[0])) >= 0) {
        ox_val *gv = lumen__ox_find(&im->c.t, N[c1]->input[k]);
        if (gv && gv->host && !gv->is_int &&
            lumen_shape_numel(&gv->host->shape) == lumen_shape_numel(&norm) &&
            gv->host->shape.ndim <= norm.ndim &&
            gv->host->shape.d[gv->host->shape.ndim - 1] == norm.d[norm.ndim - 1]) {
            gamma = gv, imul = c1, last = c1;
            int c2 = sole_consumer(im, N[c1]->output[0], c1);
            if (c2 >= 0 && is_op(N[c2], "Add", 2) &&
                (k = other_input(N[c2], N[c1]->output[0])) >= 0) {
                ox_val *bv = lumen__ox_find(&im->c.t, N[c2]->input[k]);
                if (bv && bv->host && !bv->is_int &&
                    lumen_shape_equal(&bv->host->shape, &gv->host->shape))
                    beta = bv, iadd2 = c2, last = c2;
            }
        }
    }
    ox_node ln;
    lumen__ox_node_fill(&im->c, last, &ln);
    lumen_opdesc d = {.op = LUMEN_OP_LAYERNORM};
    d.p.axes.axis = axis, d.p.axes.axis_end = rank, d.p.axes.eps = eps;
    int in[3] = {lumen__ox_gv(&im->c, n, xv), -1, -1};
    if (gamma) {
        in[1] = lumen__ox_reshape(&im->c, &ln, ".gamma", lumen__ox_gv(&im->c, n, gamma), &norm);
        if (beta)
            in[2] = lumen__ox_reshape(&im->c, &ln, ".beta", lumen__ox_gv(&im->c, n, beta), &norm);
    }
    if (in[0] < 0 || (gamma && in[1] < 0) || (beta && in[2] < 0))
        return -1;
    int y = lumen__ox_op(&im->c, &ln, "", &d, 3, in);
    if (y < 0)
        return -1;
    lumen__ox_set_gv(&im->c, &ln, 0, y);
    int used[] = {isub, ipow, ir1, iadd, isq, idiv, imul, iadd2};
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
        if (used[i] >= 0)
            im->skip[used[i]] = 1;
    return 1;
}

/* Imports node i. */
static lumen_status import_node(ox_import *im, int i)
{
    ox_ctx *c = &im->c;
    ox_node n;
    lumen__ox_node_fill(&im->c, i, &n);
    int fused = 0;
    if (!strcmp(n.p->op_type, "ReduceMean") && c->opset < 18)
        fused = fuse_layernorm(im, &n);
    else if (!strcmp(n.p->op_type, "Div") || !strcmp(n.p->op_type, "Mul"))
        fused = fuse_gelu(im, &n);
    if (fused < 0)
        return c->st;
    if (fused)
        return LUMEN_OK;
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
    im->skip = calloc(gp->n_node + 1, sizeof *im->skip);
    if (!im->c.t.vals || !im->c.t.slot || !im->skip)
        return lumen__ox_fail(c, NULL, LUMEN_ENOMEM, "out of host memory");
    memset(im->c.t.slot, 0xff, (size_t)im->c.t.nslot * sizeof *im->c.t.slot);
    lumen_status st;
    if ((st = add_initializers(im)) != LUMEN_OK || (st = add_inputs(im, opt)) != LUMEN_OK ||
        (st = validate_nodes(im)) != LUMEN_OK)
        return st;
    for (int i = 0; i < c->n_nodes; i++)
        if (!im->skip[i] && (st = import_node(im, i)) != LUMEN_OK)
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
    free(im->skip);
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
