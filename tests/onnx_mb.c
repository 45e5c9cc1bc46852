/*
 * onnx_mb.c - the tests' ONNX model builder (see onnx_mb.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_mb.h"

void *mb_alloc(mb *b, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p || b->na >= 4096) {
        fprintf(stderr, "onnx_import: out of memory\n");
        exit(3);
    }
    return b->arena[b->na++] = p;
}

char *mb_str(mb *b, const char *s)
{
    char *p = mb_alloc(b, strlen(s) + 1);
    memcpy(p, s, strlen(s) + 1);
    return p;
}

void mb_init(mb *b, int opset)
{
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->opset);
    b->opset.has_version = 1;
    b->opset.version = opset;
    b->opset.domain = mb_str(b, "");
    b->opsets[0] = &b->opset;
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->m.producer_name = mb_str(b, "onnx_import test");
    b->m.n_opset_import = 1;
    b->m.opset_import = b->opsets;
    b->m.graph = &b->g;
    b->g.name = mb_str(b, "test");
    b->g.node = b->nodes;
    b->g.initializer = b->inits;
    b->g.input = b->ins;
    b->g.output = b->outs;
}

void mb_free(mb *b)
{
    for (int i = 0; i < b->na; i++)
        free(b->arena[i]);
    b->na = 0;
}

/* A float graph input with fixed dims. */
void mb_input(mb *b, const char *name, lumen_shape s)
{
    Onnx__ValueInfoProto *v = mb_alloc(b, sizeof *v);
    Onnx__TypeProto *t = mb_alloc(b, sizeof *t);
    Onnx__TypeProto__Tensor *tt = mb_alloc(b, sizeof *tt);
    Onnx__TensorShapeProto *sp = mb_alloc(b, sizeof *sp);
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sp);
    sp->n_dim = (size_t)s.ndim;
    sp->dim = mb_alloc(b, sizeof *sp->dim * (size_t)(s.ndim + 1));
    for (int i = 0; i < s.ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d = mb_alloc(b, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = s.d[i];
        sp->dim[i] = d;
    }
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sp;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = mb_str(b, name);
    v->type = t;
    b->ins[b->g.n_input++] = v;
}

void mb_output(mb *b, const char *name)
{
    Onnx__ValueInfoProto *v = mb_alloc(b, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = mb_str(b, name);
    b->outs[b->g.n_output++] = v;
}

Onnx__TensorProto *mb_tensor(mb *b, const char *name, lumen_shape s, const float *f,
                             const int64_t *i64, int raw)
{
    Onnx__TensorProto *t = mb_alloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = mb_str(b, name);
    t->n_dims = (size_t)s.ndim;
    t->dims = mb_alloc(b, sizeof(int64_t) * (size_t)(s.ndim + 1));
    memcpy(t->dims, s.d, sizeof(int64_t) * (size_t)s.ndim);
    int64_t n = lumen_shape_numel(&s);
    t->has_data_type = 1;
    t->data_type = f ? ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT : ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    size_t bytes = (size_t)n * (f ? 4 : 8);
    if (raw) { /* little-endian host: the bytes as they are */
        t->has_raw_data = 1;
        t->raw_data.len = bytes;
        t->raw_data.data = mb_alloc(b, bytes);
        memcpy(t->raw_data.data, f ? (const void *)f : (const void *)i64, bytes);
    } else if (f) {
        t->n_float_data = (size_t)n;
        t->float_data = mb_alloc(b, bytes);
        memcpy(t->float_data, f, bytes);
    } else {
        t->n_int64_data = (size_t)n;
        t->int64_data = mb_alloc(b, bytes);
        memcpy(t->int64_data, i64, bytes);
    }
    return t;
}

void mb_init_f(mb *b, const char *name, lumen_shape s, const float *data)
{
    int raw = b->g.n_initializer % 2; /* alternate raw_data and float_data */
    b->inits[b->g.n_initializer] = mb_tensor(b, name, s, data, NULL, raw);
    b->g.n_initializer++;
}

void mb_init_i(mb *b, const char *name, lumen_shape s, const int64_t *data)
{
    b->inits[b->g.n_initializer++] = mb_tensor(b, name, s, NULL, data, 0);
}

/* A node; ins and outs are "a,b,c" lists ("" entries allowed for absent optional inputs). */
Onnx__NodeProto *mb_node(mb *b, const char *op, const char *name, const char *ins, const char *outs)
{
    Onnx__NodeProto *n = mb_alloc(b, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = mb_str(b, op);
    n->name = mb_str(b, name);
    n->attribute = mb_alloc(b, sizeof *n->attribute * 16);
    const char *lists[2] = {ins, outs};
    for (int k = 0; k < 2; k++) {
        char **arr = mb_alloc(b, sizeof(char *) * 16);
        size_t cnt = 0;
        const char *p = lists[k];
        while (*p || (p != lists[k] && p[-1] == ',')) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char *s = mb_alloc(b, len + 1);
            memcpy(s, p, len);
            arr[cnt++] = s;
            if (!e)
                break;
            p = e + 1;
        }
        if (k == 0)
            n->input = arr, n->n_input = cnt;
        else
            n->output = arr, n->n_output = cnt;
    }
    b->nodes[b->g.n_node++] = n;
    return n;
}

Onnx__AttributeProto *mb_attr(mb *b, Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = mb_alloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = mb_str(b, name);
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

void mb_attr_i(mb *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void mb_attr_f(mb *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void mb_attr_s(mb *b, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(v);
    a->s.data = (uint8_t *)mb_str(b, v);
}

void mb_attr_ints(mb *b, Onnx__NodeProto *n, const char *name, int cnt, const int64_t *v)
{
    Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)cnt;
    a->ints = mb_alloc(b, sizeof(int64_t) * (size_t)(cnt + 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)cnt);
}

/* A Constant node holding a float scalar. */
void mb_const_f(mb *b, const char *out, float v)
{
    Onnx__NodeProto *n = mb_node(b, "Constant", out, "", out);
    Onnx__AttributeProto *a = mb_attr(b, n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = mb_tensor(b, "", (lumen_shape){0, {0}}, &v, NULL, 1);
}

uint8_t *mb_pack(mb *b, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(&b->m);
    uint8_t *buf = malloc(*len + 1);
    onnx__model_proto__pack(&b->m, buf);
    return buf;
}

/* An initializer of ONNX type dt (uint8, int8, int16) holding data (kept in int32_data). */
void mb_init_typed(mb *b, const char *name, lumen_shape s, const int64_t *data, int dt)
{
    mb_init_i(b, name, s, data);
    Onnx__TensorProto *t = b->inits[b->g.n_initializer - 1];
    int64_t n = lumen_shape_numel(&s);
    t->data_type = dt;
    t->n_int64_data = 0;
    t->n_int32_data = (size_t)n;
    t->int32_data = mb_alloc(b, sizeof(int32_t) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++)
        t->int32_data[i] = (int32_t)data[i];
}
