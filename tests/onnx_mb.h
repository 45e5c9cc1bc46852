/*
 * onnx_mb.h - a tiny ONNX model builder for the tests, over the protobuf-c structs of Debian's
 * onnx.proto: mb_init, then inputs, initializers, nodes with attributes and outputs, then
 * mb_pack to bytes for lumen_onnx_load_buffer. Everything a model holds lives in the builder's
 * arena; mb_free releases it. Used by tests/onnx_import.c.
 */
#ifndef LUMEN_TEST_ONNX_MB_H
#define LUMEN_TEST_ONNX_MB_H

#include <stddef.h>
#include <stdint.h>

#include "lumen.h"
#include "onnx.pb-c.h"

typedef struct mb {
    void *arena[4096];
    int na;
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto opset, *opsets[1];
    Onnx__NodeProto *nodes[64];
    Onnx__TensorProto *inits[64];
    Onnx__ValueInfoProto *ins[8], *outs[8];
} mb;

void *mb_alloc(mb *b, size_t n);
char *mb_str(mb *b, const char *s);
void mb_init(mb *b, int opset);
void mb_free(mb *b);
void mb_input(mb *b, const char *name, lumen_shape s);
void mb_output(mb *b, const char *name);
Onnx__TensorProto *mb_tensor(mb *b, const char *name, lumen_shape s, const float *f,
                             const int64_t *i64, int raw);
void mb_init_f(mb *b, const char *name, lumen_shape s, const float *data);
void mb_init_i(mb *b, const char *name, lumen_shape s, const int64_t *data);
Onnx__NodeProto *mb_node(mb *b, const char *op, const char *name, const char *ins,
                         const char *outs);
Onnx__AttributeProto *mb_attr(mb *b, Onnx__NodeProto *n, const char *name, int type);
void mb_attr_i(mb *b, Onnx__NodeProto *n, const char *name, int64_t v);
void mb_attr_f(mb *b, Onnx__NodeProto *n, const char *name, float v);
void mb_attr_s(mb *b, Onnx__NodeProto *n, const char *name, const char *v);
void mb_attr_ints(mb *b, Onnx__NodeProto *n, const char *name, int cnt, const int64_t *v);
void mb_const_f(mb *b, const char *out, float v);
uint8_t *mb_pack(mb *b, size_t *len);
void mb_init_typed(mb *b, const char *name, lumen_shape s, const int64_t *data, int dt);

#endif
