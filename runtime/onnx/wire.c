/*
 * wire.c - the pre-scan of an ONNX file's protobuf wire format, before protobuf-c sees a byte.
 *
 * Hostile files are expected (design.md decision 9). protobuf-c unpacks nested messages by
 * recursion with no depth limit and allocates every repeated field it meets, so the pre-scan
 * walks the wire format with an explicit stack, following every length-delimited field that
 * onnx.proto declares as a message, and refuses: nesting deeper than max_depth, more than
 * OX_MAX_MESSAGES messages, per-message repeated counts above the bounds in 'scan_fields'
 * (nodes, attributes, dims), lengths or varints running past their enclosing message, and group
 * wire types. It uses nothing else of the importer.
 */
#include <stdlib.h>
#include <string.h>

#include "onnx/wire.h"

#define OX_MAX_MESSAGES (1 << 21) /* messages in one file: bounds protobuf-c's allocations */

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
lumen_status lumen__ox_prescan(const uint8_t *p, size_t len, ox_root which, int max_depth,
                               char *err)
{
    int root = which == OX_ROOT_TENSOR ? M_TENSOR : M_MODEL;
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
