/*
 * onnx.c - ONNX model files into lumen graphs: the wire-format pre-scan, protobuf-c unpacking,
 * validation, initializers, the value table and the import driver. Host-side folding of shape
 * arithmetic is in onnx_fold.c, the per-op mappers in onnx_ops.c.
 *
 * Hostile files are expected (design.md decision 9). protobuf-c unpacks nested messages by
 * recursion with no depth limit and allocates every repeated field it meets, so before it sees
 * a byte the pre-scan walks the wire format with an explicit stack, following every
 * length-delimited field that onnx.proto declares as a message, and refuses: nesting deeper than
 * opt->max_depth, more than OX_MAX_MESSAGES messages, per-message repeated counts above the
 * bounds in 'scan_fields' (nodes, attributes, dims), lengths or varints running past their
 * enclosing message, and group wire types. After unpacking, every tensor is checked (no external
 * data, dims >= 0, element counts overflow-checked and matching the data) and every node input
 * must name a value defined earlier (graph input, initializer or an earlier node's output).
 *
 * Import order: graph inputs (initializers excluded: those are weights), initializers as host
 * values, then the nodes in file order. Each node is (1) consumed by a fused pattern (decomposed
 * LayerNorm, decomposed GELU), (2) folded on the host when all its inputs are host values and the
 * op is shape arithmetic, or (3) handed to its mapper, which adds lumen ops. Host values reach
 * the graph as float constants only when a device op reads them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "onnx_internal.h"

#define OX_MAX_MESSAGES (1 << 21) /* messages in one file: bounds protobuf-c's allocations */
#define OX_MIN_OPSET 1
#define OX_MAX_OPSET 17

/* ---- the pre-scan ---- */

enum {
    M_MODEL,
    M_GRAPH,
    M_NODE,
    M_ATTR,
    M_TENSOR,
    M_SEGMENT,
    M_SPARSE,
    M_VALUEINFO,
    M_TYPE,
    M_TYPE_TENSOR,
    M_TYPE_SEQ,
    M_TYPE_MAP,
    M_TYPE_OPT,
    M_TYPE_SPARSE,
    M_SHAPE,
    M_DIM,
    M_OPSET,
    M_SSE,
    M_ANNOT,
    M_TRAINING,
    M_FUNCTION,
    M_COUNT
};

static const char *const scan_names[M_COUNT] = {"ModelProto",         "GraphProto",
                                                "NodeProto",          "AttributeProto",
                                                "TensorProto",        "Segment",
                                                "SparseTensorProto",  "ValueInfoProto",
                                                "TypeProto",          "TypeProto.Tensor",
                                                "TypeProto.Sequence", "TypeProto.Map",
                                                "TypeProto.Optional", "TypeProto.SparseTensor",
                                                "TensorShapeProto",   "Dimension",
                                                "OperatorSetIdProto", "StringStringEntryProto",
                                                "TensorAnnotation",   "TrainingInfoProto",
                                                "FunctionProto"};

/* A field the pre-scan follows or counts. child >= 0: a message of that type. max: the most
 * occurrences in one message (for packed varints: elements), 0 = no bound beyond the file's. */
typedef struct scan_field {
    int msg, field, child;
    uint32_t max;
    const char *what;
} scan_field;

/* Field numbers from onnx.proto (IR version 8). */
static const scan_field scan_fields[] = {
    {M_MODEL, 7, M_GRAPH, 1, "graph"},
    {M_MODEL, 8, M_OPSET, 1024, "opset_import"},
    {M_MODEL, 14, M_SSE, 1 << 16, "metadata_props"},
    {M_MODEL, 20, M_TRAINING, 1024, "training_info"},
    {M_MODEL, 25, M_FUNCTION, 1 << 16, "functions"},
    {M_GRAPH, 1, M_NODE, 1 << 20, "node"},
    {M_GRAPH, 5, M_TENSOR, 1 << 20, "initializer"},
    {M_GRAPH, 15, M_SPARSE, 1 << 20, "sparse_initializer"},
    {M_GRAPH, 11, M_VALUEINFO, 1 << 16, "input"},
    {M_GRAPH, 12, M_VALUEINFO, 1 << 16, "output"},
    {M_GRAPH, 13, M_VALUEINFO, 1 << 20, "value_info"},
    {M_GRAPH, 14, M_ANNOT, 1 << 20, "quantization_annotation"},
    {M_NODE, 1, -1, 1 << 16, "input"},
    {M_NODE, 2, -1, 1 << 16, "output"},
    {M_NODE, 5, M_ATTR, 1 << 16, "attribute"},
    {M_ATTR, 5, M_TENSOR, 1, "t"},
    {M_ATTR, 6, M_GRAPH, 1, "g"},
    {M_ATTR, 22, M_SPARSE, 1, "sparse_tensor"},
    {M_ATTR, 14, M_TYPE, 1, "tp"},
    {M_ATTR, 10, M_TENSOR, 1 << 16, "tensors"},
    {M_ATTR, 11, M_GRAPH, 1 << 16, "graphs"},
    {M_ATTR, 23, M_SPARSE, 1 << 16, "sparse_tensors"},
    {M_ATTR, 15, M_TYPE, 1 << 16, "type_protos"},
    {M_VALUEINFO, 2, M_TYPE, 1, "type"},
    {M_TENSOR, 1, -1, 8, "dims"},
    {M_TENSOR, 3, M_SEGMENT, 1, "segment"},
    {M_TENSOR, 13, M_SSE, 1 << 10, "external_data"},
    {M_SPARSE, 1, M_TENSOR, 1, "values"},
    {M_SPARSE, 2, M_TENSOR, 1, "indices"},
    {M_SPARSE, 3, -1, 8, "dims"},
    {M_SHAPE, 1, M_DIM, 64, "dim"},
    {M_TYPE, 1, M_TYPE_TENSOR, 1, "tensor_type"},
    {M_TYPE, 4, M_TYPE_SEQ, 1, "sequence_type"},
    {M_TYPE, 5, M_TYPE_MAP, 1, "map_type"},
    {M_TYPE, 9, M_TYPE_OPT, 1, "optional_type"},
    {M_TYPE, 8, M_TYPE_SPARSE, 1, "sparse_tensor_type"},
    {M_TYPE_TENSOR, 2, M_SHAPE, 1, "shape"},
    {M_TYPE_SEQ, 1, M_TYPE, 1, "elem_type"},
    {M_TYPE_MAP, 2, M_TYPE, 1, "value_type"},
    {M_TYPE_OPT, 1, M_TYPE, 1, "elem_type"},
    {M_TYPE_SPARSE, 2, M_SHAPE, 1, "shape"},
    {M_ANNOT, 2, M_SSE, 1 << 10, "quant_parameter_tensor_names"},
    {M_TRAINING, 1, M_GRAPH, 1, "initialization"},
    {M_TRAINING, 2, M_GRAPH, 1, "algorithm"},
    {M_TRAINING, 3, M_SSE, 1 << 16, "initialization_binding"},
    {M_TRAINING, 4, M_SSE, 1 << 16, "update_binding"},
    {M_FUNCTION, 7, M_NODE, 1 << 20, "node"},
    {M_FUNCTION, 9, M_OPSET, 1024, "opset_import"},
};
#define SCAN_NFIELDS ((int)(sizeof scan_fields / sizeof scan_fields[0]))

typedef struct scan_frame {
    int msg;
    size_t end;
    uint32_t count[SCAN_NFIELDS]; /* occurrences of each scan_fields row in this message */
} scan_frame;

/* Reads a varint at *pos (< end); 0 on success, -1 when it runs past end or over 10 bytes. */
static int read_varint(const uint8_t *p, size_t *pos, size_t end, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (*pos >= end)
            return -1;
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int scan_row(int msg, uint32_t field)
{
    for (int i = 0; i < SCAN_NFIELDS; i++)
        if (scan_fields[i].msg == msg && (uint32_t)scan_fields[i].field == field)
            return i;
    return -1;
}

/* Walks a serialized message of type root; see the file comment. */
static lumen_status prescan(const uint8_t *p, size_t len, int root, int max_depth, char *err)
{
    scan_frame *stack = calloc((size_t)max_depth + 1, sizeof *stack);
    if (!stack)
        return lumen__errf(err, LUMEN_ENOMEM, "out of host memory");
    lumen_status st = LUMEN_OK;
    int sp = 0;
    size_t pos = 0, messages = 1;
    stack[0].msg = root;
    stack[0].end = len;
    while (sp >= 0) {
        scan_frame *f = &stack[sp];
        if (pos == f->end) {
            sp--;
            continue;
        }
        uint64_t key, v;
        size_t at = pos;
        if (read_varint(p, &pos, f->end, &key) != 0) {
            st = lumen__errf(err, LUMEN_EFORMAT,
                             "malformed protobuf: bad field key at byte %zu "
                             "in a %s",
                             at, scan_names[f->msg]);
            break;
        }
        uint32_t field = (uint32_t)(key >> 3), wt = (uint32_t)(key & 7);
        if (field == 0 || key >> 32) {
            st = lumen__errf(err, LUMEN_EFORMAT,
                             "malformed protobuf: field number %llu at byte "
                             "%zu",
                             (unsigned long long)(key >> 3), at);
            break;
        }
        int row = scan_row(f->msg, field);
        const char *bad = NULL;
        if (wt == 0) {
            if (read_varint(p, &pos, f->end, &v) != 0)
                bad = "varint runs past its message";
            else if (row >= 0 && scan_fields[row].child < 0)
                f->count[row]++;
        } else if (wt == 1 || wt == 5) {
            size_t n = wt == 1 ? 8 : 4;
            if (f->end - pos < n)
                bad = "fixed-size value runs past its message";
            pos += n;
        } else if (wt == 2) {
            if (read_varint(p, &pos, f->end, &v) != 0 || v > f->end - pos)
                bad = "length runs past its message";
            else if (row >= 0 && scan_fields[row].child >= 0) {
                if (sp + 1 > max_depth) {
                    st = lumen__errf(err, LUMEN_EFORMAT,
                                     "protobuf nesting deeper than %d messages (a %s inside "
                                     "a %s at byte %zu)",
                                     max_depth, scan_names[scan_fields[row].child],
                                     scan_names[f->msg], at);
                    break;
                }
                if (++messages > OX_MAX_MESSAGES) {
                    st = lumen__errf(err, LUMEN_EFORMAT, "more than %d protobuf messages",
                                     OX_MAX_MESSAGES);
                    break;
                }
                f->count[row]++;
                if (scan_fields[row].max && f->count[row] > scan_fields[row].max) {
                    st = lumen__errf(err, LUMEN_EFORMAT, "%s has more than %u '%s' entries",
                                     scan_names[f->msg], scan_fields[row].max,
                                     scan_fields[row].what);
                    break;
                }
                scan_frame *c = &stack[++sp];
                memset(c, 0, sizeof *c);
                c->msg = scan_fields[row].child;
                c->end = pos + (size_t)v;
                continue;
            } else if (row >= 0 && field == 1 && (f->msg == M_TENSOR || f->msg == M_SPARSE)) {
                /* packed dims: count the varints */
                size_t q = pos, e = pos + (size_t)v;
                uint64_t d;
                while (q < e && !bad) {
                    if (read_varint(p, &q, e, &d) != 0)
                        bad = "packed varint runs past its field";
                    f->count[row]++;
                }
                pos = e;
            } else {
                if (row >= 0)
                    f->count[row]++;
                pos += (size_t)v;
            }
        } else {
            bad = "unsupported wire type (groups or reserved)";
        }
        if (bad) {
            st = lumen__errf(err, LUMEN_EFORMAT, "malformed protobuf at byte %zu in a %s: %s", at,
                             scan_names[f->msg], bad);
            break;
        }
        if (row >= 0 && scan_fields[row].max && f->count[row] > scan_fields[row].max) {
            st = lumen__errf(err, LUMEN_EFORMAT, "%s has more than %u '%s' entries",
                             scan_names[f->msg], scan_fields[row].max, scan_fields[row].what);
            break;
        }
    }
    free(stack);
    return st;
}

/* ---- tensors ---- */

static int elem_size(int dt)
{
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        return 1;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
        return 2;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
        return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        return 8;
    default:
        return 0;
    }
}

static int is_float_type(int dt)
{
    return dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
}

/* Element k of a typed payload as double (floats) and int64 (integers). */
static void raw_elem(int dt, const uint8_t *b, double *f, int64_t *i)
{
    uint64_t u = 0;
    int n = elem_size(dt);
    for (int k = 0; k < n; k++)
        u |= (uint64_t)b[k] << (8 * k);
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
        uint32_t w = (uint32_t)u;
        float x;
        memcpy(&x, &w, 4);
        *f = x;
        break;
    }
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        memcpy(f, &u, 8);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
        *f = lumen__half_to_float((uint16_t)u);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
        *f = lumen__bf16_to_float((uint16_t)u);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
        *i = (int8_t)u;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
        *i = (int16_t)u;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        *i = (int32_t)u;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        *i = u != 0;
        break;
    default: /* unsigned types and int64 */
        *i = (int64_t)u;
        break;
    }
}

/* Converts TensorProto t to a host tensor after checking it. what names it in messages. */
lumen_status lumen__ox_tensor(const Onnx__TensorProto *t, const char *what, int64_t max_elements,
                              ox_host **out, char *err)
{
    *out = NULL;
    int dt = t->has_data_type ? t->data_type : 0;
    if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        t->n_external_data > 0)
        return lumen__errf(err, LUMEN_EFORMAT,
                           "%s: external data is not supported (embed the tensor in the file)",
                           what);
    if (t->segment)
        return lumen__errf(err, LUMEN_EFORMAT, "%s: segmented tensors are not supported", what);
    if (t->n_dims > LUMEN_MAX_DIMS)
        return lumen__errf(err, LUMEN_EUNSUPPORTED, "%s: rank %zu (at most %d)", what, t->n_dims,
                           LUMEN_MAX_DIMS);
    int es = elem_size(dt);
    if (!es)
        return lumen__errf(err, LUMEN_EUNSUPPORTED, "%s: element type %d is not supported", what,
                           dt);
    lumen_shape s = {(int)t->n_dims, {0}};
    int64_t numel = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0)
            return lumen__errf(err, LUMEN_EFORMAT, "%s: negative dim %lld", what,
                               (long long)t->dims[i]);
        s.d[i] = t->dims[i];
        if (t->dims[i] && numel > max_elements / t->dims[i])
            return lumen__errf(err, LUMEN_ERANGE, "%s: more than %lld elements", what,
                               (long long)max_elements);
        numel *= t->dims[i];
    }
    if (numel > max_elements)
        return lumen__errf(err, LUMEN_ERANGE, "%s: more than %lld elements", what,
                           (long long)max_elements);
    size_t typed;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        typed = t->n_float_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        typed = t->n_int64_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        typed = t->n_double_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
        typed = t->n_uint64_data;
        break;
    default:
        typed = t->n_int32_data;
        break;
    }
    int raw = t->has_raw_data && (t->raw_data.len > 0 || typed == 0);
    if (raw && t->raw_data.len != (size_t)numel * (size_t)es)
        return lumen__errf(err, LUMEN_EFORMAT,
                           "%s: raw_data holds %zu bytes, shape and type need %lld", what,
                           t->raw_data.len, (long long)numel * es);
    if (!raw && typed != (size_t)numel)
        return lumen__errf(err, LUMEN_EFORMAT, "%s: holds %zu values, its shape needs %lld", what,
                           typed, (long long)numel);
    ox_host *h = calloc(1, sizeof *h);
    if (!h)
        return lumen__errf(err, LUMEN_ENOMEM, "out of host memory");
    h->is_int = !is_float_type(dt);
    h->shape = s;
    size_t bytes = (size_t)(numel ? numel : 1) * (h->is_int ? sizeof(int64_t) : sizeof(float));
    if (h->is_int)
        h->i = malloc(bytes);
    else
        h->f = malloc(bytes);
    if (!h->i && !h->f) {
        free(h);
        return lumen__errf(err, LUMEN_ENOMEM, "%s: out of host memory", what);
    }
    for (int64_t k = 0; k < numel; k++) {
        double fv = 0;
        int64_t iv = 0;
        if (raw) {
            raw_elem(dt, t->raw_data.data + (size_t)k * (size_t)es, &fv, &iv);
        } else {
            switch (dt) {
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
                fv = t->float_data[k];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
                iv = t->int64_data[k];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
                fv = t->double_data[k];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
            case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
                iv = (int64_t)t->uint64_data[k];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
                fv = lumen__half_to_float((uint16_t)t->int32_data[k]);
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: {
                uint32_t w = (uint32_t)(t->int32_data[k] & 0xffff) << 16;
                float x;
                memcpy(&x, &w, 4);
                fv = x;
                break;
            }
            case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
                iv = t->int32_data[k] != 0;
                break;
            default:
                iv = t->int32_data[k];
                break;
            }
        }
        if (h->is_int)
            h->i[k] = iv;
        else
            h->f[k] = (float)fv;
    }
    *out = h;
    return LUMEN_OK;
}

void lumen__ox_host_free(ox_host *h)
{
    if (!h)
        return;
    free(h->f);
    free(h->i);
    free(h);
}

ox_host *lumen__ox_host_new(ox_ctx *c, const ox_node *n, int is_int, const lumen_shape *s)
{
    int64_t numel = lumen_shape_numel(s);
    if (numel < 0 || numel > c->max_elements) {
        lumen__ox_fail(c, n, LUMEN_ERANGE, "a constant of %lld elements exceeds the limit %lld",
                       (long long)numel, (long long)c->max_elements);
        return NULL;
    }
    ox_host *h = calloc(1, sizeof *h);
    size_t cnt = (size_t)(numel ? numel : 1);
    if (h) {
        h->is_int = is_int;
        h->shape = *s;
        if (is_int)
            h->i = calloc(cnt, sizeof(int64_t));
        else
            h->f = calloc(cnt, sizeof(float));
    }
    if (!h || (!h->i && !h->f)) {
        lumen__ox_host_free(h);
        lumen__ox_fail(c, n, LUMEN_ENOMEM, "out of host memory");
        return NULL;
    }
    return h;
}

double lumen__ox_host_get(const ox_host *h, int64_t k)
{
    return h->is_int ? (double)h->i[k] : h->f[k];
}

int64_t lumen__ox_host_geti(const ox_host *h, int64_t k)
{
    if (h->is_int)
        return h->i[k];
    float v = h->f[k];
    return v != v ? 0 : v >= 9.2e18f ? INT64_MAX : v <= -9.2e18f ? INT64_MIN : (int64_t)v;
}

/* ---- the value table: ONNX names to ox_val, open addressing ---- */

typedef struct ox_table {
    ox_val *vals;
    int n, cap;
    int *slot; /* index into vals, -1 empty */
    int nslot; /* power of two, > 2 * cap */
} ox_table;

static uint64_t name_hash(const char *s)
{
    return lumen__hash64(s, strlen(s), 0x9e3779b97f4a7c15ull);
}

static ox_val *table_find(const ox_table *t, const char *name)
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

/* Adds name (must be new); NULL when the table is full. */
static ox_val *table_add(ox_table *t, const char *name)
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
    v->producer = v->consumer[0] = v->consumer[1] = -1;
    return v;
}

/* ---- helpers for the mappers ---- */

static ox_table *ctx_table(ox_ctx *c);

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
    return table_find(ctx_table(c), n->out[j]);
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
        v->wide_ndim = 0;
    }
    return LUMEN_OK;
}

static ox_host *host_copy(const ox_host *h)
{
    ox_host *d = calloc(1, sizeof *d);
    int64_t k = lumen_shape_numel(&h->shape);
    size_t bytes = (size_t)(k ? k : 1) * (h->is_int ? sizeof(int64_t) : sizeof(float));
    if (!d)
        return NULL;
    *d = *h;
    d->f = NULL, d->i = NULL;
    void *p = malloc(bytes);
    if (!p) {
        free(d);
        return NULL;
    }
    memcpy(p, h->is_int ? (void *)h->i : (void *)h->f, bytes);
    if (h->is_int)
        d->i = p;
    else
        d->f = p;
    return d;
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
        v->host = host_copy(src->host);
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

/* ---- the import driver ---- */

typedef struct ox_import {
    ox_ctx c;
    ox_table t;
    const Onnx__GraphProto *gp;
    lumen_onnx_info *info;
} ox_import;

static ox_table *ctx_table(ox_ctx *c)
{
    return &((ox_import *)c)->t;
}

static void node_label(const Onnx__NodeProto *p, int index, char *buf, size_t len)
{
    const char *op = p->op_type ? p->op_type : "?";
    if (p->name && *p->name)
        snprintf(buf, len, "node '%.120s' (%.40s)", p->name, op);
    else
        snprintf(buf, len, "node #%d (%.40s)", index, op);
}

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
        ox_val *v = found ? table_find(&im->t, nm) : NULL;
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
        ox_val *v = table_find(&im->t, vi->name);
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
        v = table_add(&im->t, vi->name);
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
        if (table_find(&im->t, t->name))
            return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "%s is defined twice", what);
        ox_host *h;
        lumen_status st = lumen__ox_tensor(t, what, c->max_elements, &h, err);
        if (st != LUMEN_OK)
            return lumen__ox_fail(c, NULL, st, "%s", err);
        ox_val *v = table_add(&im->t, t->name);
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
        node_label(p, i, n.label, sizeof n.label);
        if (!p->op_type || !*p->op_type)
            return lumen__ox_fail(c, &n, LUMEN_EFORMAT, "no op_type");
        count_op_type(im->info, p->op_type);
        if (!default_domain(p->domain))
            return lumen__ox_fail(c, &n, LUMEN_EUNSUPPORTED, "domain '%s' is not supported",
                                  p->domain);
        int known = 0;
        if (!lumen__ox_find_op(p->op_type, c->opset, &known))
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
            ox_val *v = table_find(&im->t, p->input[k]);
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
            if (table_find(&im->t, p->output[k]))
                return lumen__ox_fail(c, &n, LUMEN_EFORMAT, "output '%.100s' is defined twice",
                                      p->output[k]);
            ox_val *o = table_add(&im->t, p->output[k]);
            if (!o)
                return lumen__ox_fail(c, &n, LUMEN_ENOMEM, "value table full");
            o->producer = i;
        }
    }
    for (size_t i = 0; i < im->gp->n_output; i++) {
        const char *nm = im->gp->output[i]->name;
        ox_val *v = nm ? table_find(&im->t, nm) : NULL;
        if (!v)
            return lumen__ox_fail(c, NULL, LUMEN_EFORMAT, "graph output '%s' is never computed",
                                  nm ? nm : "");
        v->uses++;
        v->is_output = 1;
    }
    return LUMEN_OK;
}

static void fill_node(ox_import *im, int i, ox_node *n)
{
    const Onnx__NodeProto *p = im->c.nodes[i];
    memset(n, 0, sizeof *n); /* inputs past n_in read as absent (NULL), never as stack bytes */
    n->p = p;
    n->index = i;
    node_label(p, i, n->label, sizeof n->label);
    n->n_in = (int)p->n_input;
    n->n_out = (int)p->n_output;
    for (int k = 0; k < n->n_in; k++)
        n->in[k] = table_find(&im->t, p->input[k]);
    for (int k = 0; k < n->n_out; k++)
        n->out[k] = p->output[k] ? p->output[k] : "";
}

/* ---- fused patterns ---- */

/* The only node consuming value name (after node 'from'), or -1 when there are none or
 * several. */
static int sole_consumer(ox_import *im, const char *name, int from)
{
    ox_val *v = table_find(&im->t, name);
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
    ox_val *v = table_find(&im->t, name);
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
    ox_val *xv = table_find(&im->t, x);
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
        ox_val *hv0 = table_find(&im->t, N[im1]->input[k]);
        int i = hv0 ? hv0->producer : -1, j;
        if (i >= 0 && i < n->index && is_op(N[i], "Mul", 2) && (j = other_input(N[i], x)) >= 0 &&
            const_is(im, N[i]->input[j], 0.5, 1e-6))
            half = i;
        ox_val *hv = half >= 0 ? table_find(&im->t, N[half]->output[0]) : NULL;
        if (!hv || hv->uses != 1 || hv->is_output || im->c.skip[half])
            return 0;
    }
    lumen_opdesc g = lumen_opdesc_unary(LUMEN_ACT_GELU);
    int in = lumen__ox_gv(&im->c, n, xv);
    ox_node ln;
    fill_node(im, last, &ln);
    int y = lumen__ox_op(&im->c, &ln, "", &g, 1, &in);
    if (y < 0)
        return -1;
    lumen__ox_set_gv(&im->c, &ln, 0, y);
    im->c.skip[ie] = im->c.skip[ia] = im->c.skip[im1] = im->c.skip[last] = 1;
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
    ox_val *xv = table_find(&im->t, x);
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
    ox_val *dv = table_find(&im->t, N[isub]->output[0]);
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
    ox_val *ev = table_find(&im->t, N[iadd]->input[k]);
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
        ox_val *gv = table_find(&im->t, N[c1]->input[k]);
        if (gv && gv->host && !gv->is_int &&
            lumen_shape_numel(&gv->host->shape) == lumen_shape_numel(&norm) &&
            gv->host->shape.ndim <= norm.ndim &&
            gv->host->shape.d[gv->host->shape.ndim - 1] == norm.d[norm.ndim - 1]) {
            gamma = gv, imul = c1, last = c1;
            int c2 = sole_consumer(im, N[c1]->output[0], c1);
            if (c2 >= 0 && is_op(N[c2], "Add", 2) &&
                (k = other_input(N[c2], N[c1]->output[0])) >= 0) {
                ox_val *bv = table_find(&im->t, N[c2]->input[k]);
                if (bv && bv->host && !bv->is_int &&
                    lumen_shape_equal(&bv->host->shape, &gv->host->shape))
                    beta = bv, iadd2 = c2, last = c2;
            }
        }
    }
    ox_node ln;
    fill_node(im, last, &ln);
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
            im->c.skip[used[i]] = 1;
    return 1;
}

/* Imports node i. */
static lumen_status import_node(ox_import *im, int i)
{
    ox_ctx *c = &im->c;
    ox_node n;
    fill_node(im, i, &n);
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
        const ox_op *op = lumen__ox_find_op(n.p->op_type, c->opset, NULL);
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
    im->t.cap = (int)cap;
    im->t.nslot = 16;
    while ((size_t)im->t.nslot < 2 * cap)
        im->t.nslot *= 2;
    im->t.vals = calloc(cap, sizeof *im->t.vals);
    im->t.slot = malloc((size_t)im->t.nslot * sizeof *im->t.slot);
    c->skip = calloc(gp->n_node + 1, sizeof *c->skip);
    if (!im->t.vals || !im->t.slot || !c->skip)
        return lumen__ox_fail(c, NULL, LUMEN_ENOMEM, "out of host memory");
    memset(im->t.slot, 0xff, (size_t)im->t.nslot * sizeof *im->t.slot);
    lumen_status st;
    if ((st = add_initializers(im)) != LUMEN_OK || (st = add_inputs(im, opt)) != LUMEN_OK ||
        (st = validate_nodes(im)) != LUMEN_OK)
        return st;
    for (int i = 0; i < c->n_nodes; i++)
        if (!c->skip[i] && (st = import_node(im, i)) != LUMEN_OK)
            return st;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *nm = gp->output[i]->name;
        ox_val *v = table_find(&im->t, nm);
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
    for (int i = 0; i < im->t.n; i++)
        lumen__ox_host_free(im->t.vals[i].host);
    free(im->t.vals);
    free(im->t.slot);
    free(im->c.skip);
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
    lumen_status st = prescan(data, len, M_MODEL, depth, ebuf);
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

/* Reads a whole regular file (sys.c); at most 2 GB, protobuf's limit. */
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
        st = prescan(data, len, M_TENSOR, 32, ebuf);
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
