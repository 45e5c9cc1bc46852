/*
 * pbwire.h - a tiny protobuf wire-format writer and reader for the ONNX tests.
 *
 * The writer builds messages forward into growable buffers; a nested message is built in its own
 * buffer and embedded as a length-delimited field (pbw_msg). Every writer call is a no-op once an
 * allocation has failed ('oom' is sticky), so building code reads straight and checks once.
 * The reader walks the fields of one message with bounds checks on every length; it is used on
 * the trusted ONNX test data (model inputs, outputs and op types), never as a second loader.
 * Field numbers of the ONNX messages used by the tests are listed below (onnx.proto).
 */
#ifndef PBWIRE_H
#define PBWIRE_H

#include <stddef.h>
#include <stdint.h>

/* wire types */
enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_SGROUP = 3, PB_EGROUP = 4, PB_I32 = 5 };

/* ModelProto */
enum { MODEL_IR_VERSION = 1, MODEL_PRODUCER = 2, MODEL_GRAPH = 7, MODEL_OPSET = 8 };
/* OperatorSetIdProto */
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
/* GraphProto */
enum { GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INIT = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12 };
/* NodeProto */
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP = 4, NODE_ATTR = 5 };
/* AttributeProto and its types */
enum {
    ATTR_NAME = 1,
    ATTR_F = 2,
    ATTR_I = 3,
    ATTR_T = 5,
    ATTR_G = 6,
    ATTR_INTS = 8,
    ATTR_TYPE = 20
};
enum { ATYPE_FLOAT = 1, ATYPE_INT = 2, ATYPE_TENSOR = 4, ATYPE_GRAPH = 5, ATYPE_INTS = 7 };
/* ValueInfoProto, TypeProto, TypeProto.Tensor, TensorShapeProto(.Dimension) */
enum { VI_NAME = 1, VI_TYPE = 2 };
enum { TYPE_TENSOR = 1, TYPE_SEQUENCE = 4, TYPE_MAP = 5, TYPE_SPARSE = 8, TYPE_OPTIONAL = 9 };
enum { TT_ELEM = 1, TT_SHAPE = 2 };
enum { SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2 };
/* TensorProto and its data types */
enum {
    TP_DIMS = 1,
    TP_DTYPE = 2,
    TP_FLOATS = 4,
    TP_INT64S = 7,
    TP_NAME = 8,
    TP_RAW = 9,
    TP_EXTERNAL = 13,
    TP_LOCATION = 14
};
enum {
    DT_FLOAT = 1,
    DT_UINT8 = 2,
    DT_INT8 = 3,
    DT_UINT16 = 4,
    DT_INT16 = 5,
    DT_INT32 = 6,
    DT_INT64 = 7,
    DT_STRING = 8,
    DT_BOOL = 9,
    DT_FLOAT16 = 10,
    DT_DOUBLE = 11,
    DT_UINT32 = 12,
    DT_UINT64 = 13,
    DT_COMPLEX64 = 14,
    DT_COMPLEX128 = 15,
    DT_BFLOAT16 = 16
};

/* "float", "int64", ... for an ONNX data type; "type N" (static buffer) otherwise. */
const char *pb_dtype_name(int dtype);

/* ---- writer ---- */
typedef struct pbw {
    unsigned char *data;
    size_t len, cap;
    int oom; /* 1 once an allocation failed; later calls do nothing */
} pbw;

void pbw_free(pbw *w); /* releases data; the struct may be reused after */
void pbw_raw(pbw *w, const void *p, size_t n);
void pbw_varint(pbw *w, uint64_t v);
void pbw_tag(pbw *w, int field, int wire_type);
/* A varint field: int64 values are written as their two's complement (10 bytes when negative). */
void pbw_int(pbw *w, int field, int64_t v);
void pbw_bytes(pbw *w, int field, const void *p, size_t n);
void pbw_str(pbw *w, int field, const char *s);
/* Embeds child (a whole message) as a length-delimited field. */
void pbw_msg(pbw *w, int field, const pbw *child);
void pbw_float(pbw *w, int field, float f);

/* ---- reader ---- */
typedef struct pbr {
    const unsigned char *p, *end;
    int bad; /* 1 after a malformed field: iteration stops */
} pbr;

typedef struct pbfield {
    int field, wire_type;
    uint64_t v;               /* varint, fixed32 or fixed64 value */
    const unsigned char *ptr; /* PB_LEN: the bytes */
    size_t len;
} pbfield;

pbr pbr_init(const void *p, size_t n);
/* Reads the next field into *f; returns 0 at the end of the message or on malformed input
 * (then r->bad is set). Groups are reported as malformed. */
int pbr_next(pbr *r, pbfield *f);
/* A reader over a PB_LEN field's bytes. */
pbr pbr_sub(const pbfield *f);

#endif
