/*
 * onnx_hostile.c - hostile ONNX files against the loader (runtime/onnx.c). Each case builds its
 * bytes here with a small protobuf wire-format writer (pbwire.c; no protobuf-c), mostly as one
 * mutation of a small valid model, and checks that lumen_onnx_load_buffer returns an error status
 * (LUMEN_EFORMAT, or another honest one the case allows) with a message naming the problem (one
 * of the case's substrings, case-insensitive), that *out is NULL, and that nothing crashes (ctest
 * also runs it under ASan + UBSan). The valid models themselves must load, so that a rejection
 * is known to be about the mutation. Each case runs in a child process, so that a crash fails
 * its own case only. Needs no OpenCL device: nothing runs.
 *
 *   onnx_hostile              run every case, one line each, then "N passed, N failed"
 *   onnx_hostile --write DIR  also write each case's bytes to DIR/<case>.onnx (files up to
 *                             64 KiB; the fuzz target's seed corpus)
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lumen.h"
#include "pbwire.h"

/* ---- model pieces ---- */

/* ValueInfoProto: a float tensor with the given dims. */
static void add_value_info(pbw *g, int field, const char *name, const int64_t *dims, int nd)
{
    pbw shape = {0}, tt = {0}, type = {0}, vi = {0};
    for (int i = 0; i < nd; i++) {
        pbw dim = {0};
        pbw_int(&dim, DIM_VALUE, dims[i]);
        pbw_msg(&shape, SHAPE_DIM, &dim);
        pbw_free(&dim);
    }
    pbw_int(&tt, TT_ELEM, DT_FLOAT);
    pbw_msg(&tt, TT_SHAPE, &shape);
    pbw_msg(&type, TYPE_TENSOR, &tt);
    pbw_str(&vi, VI_NAME, name);
    pbw_msg(&vi, VI_TYPE, &type);
    pbw_msg(g, field, &vi);
    pbw_free(&shape);
    pbw_free(&tt);
    pbw_free(&type);
    pbw_free(&vi);
}

/* TensorProto header (dims, type, name); the caller appends the data fields. */
static void tensor_head(pbw *t, const char *name, int dtype, const int64_t *dims, int nd)
{
    for (int i = 0; i < nd; i++)
        pbw_int(t, TP_DIMS, dims[i]);
    pbw_int(t, TP_DTYPE, dtype);
    pbw_str(t, TP_NAME, name);
}

/* Float raw_data of n values 0.01*k. */
static void tensor_raw(pbw *t, int64_t n)
{
    pbw_tag(t, TP_RAW, PB_LEN);
    pbw_varint(t, (uint64_t)n * 4);
    for (int64_t k = 0; k < n; k++) {
        float f = 0.01f * (float)k;
        unsigned char b[4];
        memcpy(b, &f, 4);
        pbw_raw(t, b, 4);
    }
}

static void attr_int(pbw *node, const char *name, int64_t v)
{
    pbw a = {0};
    pbw_str(&a, ATTR_NAME, name);
    pbw_int(&a, ATTR_TYPE, ATYPE_INT);
    pbw_int(&a, ATTR_I, v);
    pbw_msg(node, NODE_ATTR, &a);
    pbw_free(&a);
}

static void attr_ints(pbw *node, const char *name, const int64_t *v, int n)
{
    pbw a = {0};
    pbw_str(&a, ATTR_NAME, name);
    pbw_int(&a, ATTR_TYPE, ATYPE_INTS);
    for (int i = 0; i < n; i++)
        pbw_int(&a, ATTR_INTS, v[i]);
    pbw_msg(node, NODE_ATTR, &a);
    pbw_free(&a);
}

/* NodeProto head: inputs, output, name, op type (attributes follow). */
static void node_head(pbw *nd, const char *op, const char *const *in, int n_in, const char *out)
{
    for (int i = 0; i < n_in; i++)
        pbw_str(nd, NODE_INPUT, in[i]);
    pbw_str(nd, NODE_OUTPUT, out);
    pbw_str(nd, NODE_NAME, strcmp(op, "Conv") ? "node0" : "conv0");
    pbw_str(nd, NODE_OP, op);
}

/* ModelProto around a graph: IR version 8, default-domain opset 13. */
static void model_of(pbw *m, const pbw *graph)
{
    pbw opset = {0};
    pbw_int(m, MODEL_IR_VERSION, 8);
    pbw_str(m, MODEL_PRODUCER, "onnx_hostile");
    pbw_str(&opset, OPSET_DOMAIN, "");
    pbw_int(&opset, OPSET_VERSION, 13);
    pbw_msg(m, MODEL_OPSET, &opset);
    if (graph)
        pbw_msg(m, MODEL_GRAPH, graph);
    pbw_free(&opset);
}

/* What a Conv model varies: the weight tensor's encoding and the node's attributes. */
typedef enum {
    CONV_OK,
    CONV_GROUP0,
    CONV_STRIDE0,
    CONV_EXTERNAL,
    CONV_NEG_DIM,
    CONV_DIM_OVERFLOW,
    CONV_RAW_SHORT,
    CONV_FLOATS_SHORT,
    CONV_BAD_DTYPE,
    CONV_HUGE_PADS,
    CONV_KERNEL_MISMATCH,
    CONV_STRIDES4
} conv_variant;

/* x [1,2,5,5] -> Conv(W [4,2,3,3], B [4], pads 1) -> y [1,4,5,5], with one mutation. */
static void conv_model(pbw *m, conv_variant v)
{
    pbw g = {0}, w = {0}, b = {0}, nd = {0};
    int64_t xd[] = {1, 2, 5, 5}, yd[] = {1, 4, 5, 5}, wd[] = {4, 2, 3, 3}, bd[] = {4};
    int64_t k3[] = {3, 3}, s1[] = {1, 1}, s0[] = {0, 0}, p1[] = {1, 1, 1, 1};
    int64_t s4[] = {2, 2, 2, 2};
    int64_t p_huge[] = {INT64_MAX / 2, 1, 1, 1}, k5[] = {5, 5};
    if (v == CONV_NEG_DIM)
        wd[1] = -2;
    if (v == CONV_DIM_OVERFLOW) {
        wd[0] = (int64_t)1 << 40;
        wd[1] = (int64_t)1 << 40;
    }
    tensor_head(&w, "W", v == CONV_BAD_DTYPE ? 99 : DT_FLOAT, wd, 4);
    if (v == CONV_EXTERNAL) {
        pbw kv = {0}, kv2 = {0};
        pbw_str(&kv, 1, "location");
        pbw_str(&kv, 2, "weights.bin");
        pbw_msg(&w, TP_EXTERNAL, &kv);
        pbw_str(&kv2, 1, "length");
        pbw_str(&kv2, 2, "288");
        pbw_msg(&w, TP_EXTERNAL, &kv2);
        pbw_int(&w, TP_LOCATION, 1);
        pbw_free(&kv);
        pbw_free(&kv2);
    } else if (v == CONV_RAW_SHORT) {
        tensor_raw(&w, 4 * 2 * 3 * 3 - 1);
    } else if (v == CONV_FLOATS_SHORT) {
        pbw packed = {0};
        for (int k = 0; k < 10; k++) {
            float f = (float)k;
            pbw_raw(&packed, &f, 4);
        }
        pbw_msg(&w, TP_FLOATS, &packed);
        pbw_free(&packed);
    } else if (v == CONV_NEG_DIM || v == CONV_DIM_OVERFLOW) {
        tensor_raw(&w, 16);
    } else {
        tensor_raw(&w, 4 * 2 * 3 * 3);
    }
    tensor_head(&b, "B", DT_FLOAT, bd, 1);
    tensor_raw(&b, 4);

    const char *in[] = {"x", "W", "B"};
    node_head(&nd, "Conv", in, 3, "y");
    attr_ints(&nd, "kernel_shape", v == CONV_KERNEL_MISMATCH ? k5 : k3, 2);
    if (v == CONV_STRIDES4)
        attr_ints(&nd, "strides", s4, 4);
    else
        attr_ints(&nd, "strides", v == CONV_STRIDE0 ? s0 : s1, 2);
    attr_ints(&nd, "pads", v == CONV_HUGE_PADS ? p_huge : p1, 4);
    attr_int(&nd, "group", v == CONV_GROUP0 ? 0 : 1);

    pbw_msg(&g, GRAPH_NODE, &nd);
    pbw_str(&g, GRAPH_NAME, "conv_graph");
    pbw_msg(&g, GRAPH_INIT, &w);
    pbw_msg(&g, GRAPH_INIT, &b);
    add_value_info(&g, GRAPH_INPUT, "x", xd, 4);
    add_value_info(&g, GRAPH_OUTPUT, "y", yd, 4);
    model_of(m, &g);
    pbw_free(&g);
    pbw_free(&w);
    pbw_free(&b);
    pbw_free(&nd);
}

/* x [1,3,4,4] -> Relu -> y, with the node reading input_name. */
static void relu_model_named(pbw *m, const char *input_name, int rank)
{
    pbw g = {0}, nd = {0};
    int64_t xd[] = {1, 3, 4, 4, 1, 1, 1, 1};
    const char *in[] = {input_name};
    node_head(&nd, "Relu", in, 1, "y");
    pbw_msg(&g, GRAPH_NODE, &nd);
    add_value_info(&g, GRAPH_INPUT, "x", xd, rank);
    add_value_info(&g, GRAPH_OUTPUT, "y", xd, rank);
    model_of(m, &g);
    pbw_free(&g);
    pbw_free(&nd);
}

/* ---- the cases ---- */

static void case_valid_relu(pbw *m)
{
    relu_model_named(m, "x", 4);
}
static void case_valid_conv(pbw *m)
{
    conv_model(m, CONV_OK);
}
static void case_empty(pbw *m)
{
    (void)m;
}

static void case_no_graph(pbw *m)
{
    model_of(m, NULL);
}

/* A graph whose only node has a graph attribute holding a graph whose node has a graph
 * attribute ..., 'levels' times (3 messages per level). Written back to front so that each level
 * costs O(1). */
static void deep_nest(pbw *m, size_t levels)
{
    size_t cap = levels * 3 * 6 + 16, pos = cap;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        m->oom = 1;
        return;
    }
    /* Prepends tag(field, LEN) + varint(length of everything after it). */
#define PREPEND_LEN(field)                                                                         \
    do {                                                                                           \
        uint64_t L = cap - pos;                                                                    \
        unsigned char v[10];                                                                       \
        int n = 0;                                                                                 \
        do {                                                                                       \
            v[n++] = (unsigned char)((L & 0x7f) | (L >> 7 ? 0x80 : 0));                            \
            L >>= 7;                                                                               \
        } while (L);                                                                               \
        pos -= (size_t)n;                                                                          \
        memcpy(buf + pos, v, (size_t)n);                                                           \
        buf[--pos] = (unsigned char)((field) << 3 | PB_LEN);                                       \
    } while (0)
    for (size_t i = 0; i < levels; i++) {
        PREPEND_LEN(ATTR_G);     /* AttributeProto.g = GraphProto */
        PREPEND_LEN(NODE_ATTR);  /* NodeProto.attribute = AttributeProto */
        PREPEND_LEN(GRAPH_NODE); /* GraphProto.node = NodeProto */
    }
#undef PREPEND_LEN
    pbw inner = {0};
    pbw_raw(&inner, buf + pos, cap - pos);
    model_of(m, &inner);
    pbw_free(&inner);
    free(buf);
}

/* About 600 KB: far deeper than protobuf-c's recursion could survive. */
static void case_deep_nesting(pbw *m)
{
    deep_nest(m, 51000);
}
/* 12 levels (38 messages): just past the default bound of 32. */
static void case_nesting_38(pbw *m)
{
    deep_nest(m, 12);
}

static void case_external(pbw *m)
{
    conv_model(m, CONV_EXTERNAL);
}
static void case_negative_dim(pbw *m)
{
    conv_model(m, CONV_NEG_DIM);
}
static void case_dims_overflow(pbw *m)
{
    conv_model(m, CONV_DIM_OVERFLOW);
}
static void case_raw_short(pbw *m)
{
    conv_model(m, CONV_RAW_SHORT);
}
static void case_floats_short(pbw *m)
{
    conv_model(m, CONV_FLOATS_SHORT);
}
static void case_bad_dtype(pbw *m)
{
    conv_model(m, CONV_BAD_DTYPE);
}
static void case_group0(pbw *m)
{
    conv_model(m, CONV_GROUP0);
}
static void case_stride0(pbw *m)
{
    conv_model(m, CONV_STRIDE0);
}
static void case_huge_pads(pbw *m)
{
    conv_model(m, CONV_HUGE_PADS);
}
static void case_kernel_mismatch(pbw *m)
{
    conv_model(m, CONV_KERNEL_MISMATCH);
}
static void case_strides4(pbw *m)
{
    conv_model(m, CONV_STRIDES4);
}
static void case_unknown_input(pbw *m)
{
    relu_model_named(m, "no_such_value", 4);
}
static void case_rank7(pbw *m)
{
    relu_model_named(m, "x", 7);
}

/* A GraphProto with two million empty NodeProtos: protobuf-c would allocate each one. */
static void case_huge_repeated(pbw *m)
{
    const size_t count = 2u << 20;
    pbw g = {0};
    unsigned char empty_node[2] = {GRAPH_NODE << 3 | PB_LEN, 0};
    for (size_t i = 0; i < count && !g.oom; i++)
        pbw_raw(&g, empty_node, 2);
    model_of(m, &g);
    pbw_free(&g);
}

/* MaxPool on x [1,3,4,4] whose kernel_shape has 'count' entries (2 would be right). */
static void maxpool_kernel_ints(pbw *m, int count)
{
    pbw g = {0}, nd = {0}, a = {0}, packed = {0};
    int64_t xd[] = {1, 3, 4, 4};
    const char *in[] = {"x"};
    node_head(&nd, "MaxPool", in, 1, "y");
    pbw_str(&a, ATTR_NAME, "kernel_shape");
    pbw_int(&a, ATTR_TYPE, ATYPE_INTS);
    for (int i = 0; i < count; i++)
        pbw_varint(&packed, 2);
    pbw_msg(&a, ATTR_INTS, &packed);
    pbw_msg(&nd, NODE_ATTR, &a);
    pbw_msg(&g, GRAPH_NODE, &nd);
    add_value_info(&g, GRAPH_INPUT, "x", xd, 4);
    add_value_info(&g, GRAPH_OUTPUT, "y", xd, 4);
    model_of(m, &g);
    pbw_free(&g);
    pbw_free(&nd);
    pbw_free(&a);
    pbw_free(&packed);
}

static void case_huge_ints(pbw *m)
{
    maxpool_kernel_ints(m, 1000000);
}
static void case_kernel_shape4(pbw *m)
{
    maxpool_kernel_ints(m, 4);
}

/* ConstantOfShape with a constant shape of 2^20 x 2^20: a host tensor beyond max_elements. */
static void case_huge_constant(pbw *m)
{
    pbw g = {0}, nd = {0}, s = {0}, relu = {0};
    int64_t sd[] = {2}, xd[] = {1048576, 1048576};
    tensor_head(&s, "shape", DT_INT64, sd, 1);
    pbw packed = {0};
    pbw_varint(&packed, 1048576);
    pbw_varint(&packed, 1048576);
    pbw_msg(&s, TP_INT64S, &packed);
    const char *in[] = {"shape"}, *in2[] = {"c"};
    node_head(&nd, "ConstantOfShape", in, 1, "c");
    node_head(&relu, "Relu", in2, 1, "y");
    pbw_msg(&g, GRAPH_NODE, &nd);
    pbw_msg(&g, GRAPH_NODE, &relu);
    pbw_msg(&g, GRAPH_INIT, &s);
    add_value_info(&g, GRAPH_OUTPUT, "y", xd, 2);
    model_of(m, &g);
    pbw_free(&g);
    pbw_free(&nd);
    pbw_free(&s);
    pbw_free(&relu);
    pbw_free(&packed);
}

/* Gather on Shape(x) with a constant index far outside [-rank, rank). */
static void case_gather_index(pbw *m)
{
    pbw g = {0}, shp = {0}, gat = {0}, idx = {0}, packed = {0};
    int64_t xd[] = {1, 3, 4, 4}, od[] = {1}, idd[] = {1};
    const char *in1[] = {"x"}, *in2[] = {"s", "idx"};
    node_head(&shp, "Shape", in1, 1, "s");
    node_head(&gat, "Gather", in2, 2, "y");
    tensor_head(&idx, "idx", DT_INT64, idd, 1);
    pbw_varint(&packed, 1000000);
    pbw_msg(&idx, TP_INT64S, &packed);
    pbw_msg(&g, GRAPH_NODE, &shp);
    pbw_msg(&g, GRAPH_NODE, &gat);
    pbw_msg(&g, GRAPH_INIT, &idx);
    add_value_info(&g, GRAPH_INPUT, "x", xd, 4);
    add_value_info(&g, GRAPH_OUTPUT, "y", od, 1);
    model_of(m, &g);
    pbw_free(&g);
    pbw_free(&shp);
    pbw_free(&gat);
    pbw_free(&idx);
    pbw_free(&packed);
}

/* A valid model cut inside a varint: the last byte of the file has its continuation bit set. */
static void case_truncated_varint(pbw *m)
{
    pbw_tag(m, MODEL_IR_VERSION, PB_VARINT);
    unsigned char b[] = {0xff, 0xff, 0xff};
    pbw_raw(m, b, sizeof b);
}

/* The graph field claims 1 MB; the file ends after a few bytes. */
static void case_length_beyond(pbw *m)
{
    pbw_int(m, MODEL_IR_VERSION, 8);
    pbw_tag(m, MODEL_GRAPH, PB_LEN);
    pbw_varint(m, 1u << 20);
    pbw_raw(m, "\x0a\x00\x0a\x00", 4);
}

/* A length-delimited field inside the graph runs past the end of the graph (not the file). */
static void case_inner_length(pbw *m)
{
    pbw g = {0};
    pbw_tag(&g, GRAPH_NODE, PB_LEN);
    pbw_varint(&g, 50);
    pbw_raw(&g, "\x22\x04Relu", 6);
    model_of(m, &g);
    pbw_str(m, 6, "a doc string after the graph, longer than fifty bytes in all...");
    pbw_free(&g);
}

/* Graph sent as a varint instead of a message. */
static void case_wrong_wire_type(pbw *m)
{
    pbw_int(m, MODEL_IR_VERSION, 8);
    pbw_int(m, MODEL_GRAPH, 12345);
}

/* Pseudo-random bytes from a fixed seed. */
static void case_garbage(pbw *m)
{
    uint32_t x = 0x9e3779b9u;
    for (int i = 0; i < 4096; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        unsigned char b = (unsigned char)(x >> 24);
        pbw_raw(m, &b, 1);
    }
}

/* Plain text, as when a user passes the wrong file. */
static void case_text(pbw *m)
{
    const char *s = "Traceback (most recent call last):\n  this is not an ONNX model\n";
    pbw_raw(m, s, strlen(s));
}

/* Statuses a case accepts. */
#define S_OK (1u << LUMEN_OK)
#define S_FORMAT (1u << LUMEN_EFORMAT)
#define S_UNSUP (1u << LUMEN_EUNSUPPORTED)
#define S_RANGE (1u << LUMEN_ERANGE)
#define S_SHAPE (1u << LUMEN_ESHAPE)
#define S_NOMEM (1u << LUMEN_ENOMEM)

typedef struct hostile_case {
    const char *name;
    void (*build)(pbw *m);
    unsigned accept;  /* bit per lumen_status */
    const char *want; /* '|'-separated substrings, one must appear in the message ("" any) */
} hostile_case;

static const hostile_case cases[] = {
    {"valid_relu", case_valid_relu, S_OK, ""},
    {"valid_conv", case_valid_conv, S_OK, ""},
    {"empty_file", case_empty, S_FORMAT, "empty"},
    {"no_graph", case_no_graph, S_FORMAT, "graph"},
    {"deep_nesting_600k", case_deep_nesting, S_FORMAT, "nest|depth|deep"},
    {"nesting_38_messages", case_nesting_38, S_FORMAT, "nest|depth|deep"},
    {"external_data", case_external, S_FORMAT | S_UNSUP, "external"},
    {"negative_dim", case_negative_dim, S_FORMAT, "negative|dim"},
    {"dims_overflow_2^40x2^40", case_dims_overflow, S_FORMAT | S_RANGE,
     "overflow|too large|too many|exceed|elements"},
    {"raw_data_short", case_raw_short, S_FORMAT, "raw_data|short|bytes"},
    {"float_data_short", case_floats_short, S_FORMAT, "float_data|element|values|count"},
    {"bad_data_type", case_bad_dtype, S_FORMAT | S_UNSUP, "type"},
    {"unknown_input_name", case_unknown_input, S_FORMAT, "no_such_value"},
    {"conv_group_0", case_group0, S_FORMAT | S_SHAPE, "group"},
    {"conv_stride_0", case_stride0, S_FORMAT | S_SHAPE, "stride"},
    {"conv_pads_huge", case_huge_pads, S_FORMAT | S_SHAPE | S_RANGE, "pad"},
    {"conv_kernel_shape_mismatch", case_kernel_mismatch, S_FORMAT | S_SHAPE, "kernel"},
    {"conv_strides_4_entries", case_strides4, S_FORMAT, "strides"},
    {"maxpool_kernel_shape_4", case_kernel_shape4, S_FORMAT, "kernel_shape"},
    {"input_rank_7", case_rank7, S_FORMAT | S_UNSUP, "rank|dims"},
    {"huge_repeated_count", case_huge_repeated, S_FORMAT, "entries|repeated|too many"},
    {"huge_ints_attribute", case_huge_ints, S_FORMAT | S_UNSUP,
     "entries|repeated|too many|kernel_shape"},
    {"constant_of_shape_2^40", case_huge_constant, S_FORMAT | S_RANGE | S_NOMEM,
     "element|too large|max|exceed"},
    {"gather_index_out_of_range", case_gather_index, S_FORMAT | S_RANGE, "index|range"},
    {"truncated_varint", case_truncated_varint, S_FORMAT, "varint|truncated|end"},
    {"length_beyond_buffer", case_length_beyond, S_FORMAT, "length|beyond|truncated|end"},
    {"inner_length_beyond_message", case_inner_length, S_FORMAT, "length|beyond|truncated|end"},
    {"graph_as_varint", case_wrong_wire_type, S_FORMAT, "wire|type|graph|protobuf"},
    {"garbage_bytes", case_garbage, S_FORMAT, ""},
    {"text_file", case_text, S_FORMAT, ""},
};

enum { CHILD_PASS = 10, CHILD_FAIL = 11 }; /* exit codes of a case's child process */

static int contains_one(const char *msg, const char *alts)
{
    if (!*alts)
        return 1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", alts);
    for (char *save = NULL, *tok = strtok_r(buf, "|", &save); tok;
         tok = strtok_r(NULL, "|", &save)) {
        size_t k = strlen(tok);
        for (const char *p = msg; *p; p++)
            if (!strncasecmp(p, tok, k))
                return 1;
    }
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = len ? fwrite(data, 1, len, f) : 0;
    return fclose(f) != 0 || put != len ? -1 : 0;
}

/* Loads one case's bytes and prints its line; returns 1 when the case passed. */
static int check_case(const hostile_case *c, const pbw *m)
{
    char err[LUMEN_ERR_MAX] = "";
    lumen_graph *g = (lumen_graph *)m; /* any non-NULL: a failure must reset it */
    lumen_onnx_info info;
    lumen_status st = lumen_onnx_load_buffer(m->data, m->len, NULL, &g, &info, err, sizeof err);
    int ok = st >= 0 && st < LUMEN_STATUS_COUNT && ((c->accept >> st) & 1u);
    const char *why = ok ? "" : "unexpected status";
    if (ok && st != LUMEN_OK && g != NULL) {
        ok = 0;
        why = "*out not NULL after a failure";
    } else if (ok && st != LUMEN_OK && !err[0]) {
        ok = 0;
        why = "empty message";
    } else if (ok && st != LUMEN_OK && !contains_one(err, c->want)) {
        ok = 0;
        why = "message does not name the problem";
    }
    if (st == LUMEN_OK && g != (lumen_graph *)m)
        lumen_graph_free(g);
    printf("%-4s %-30s %7zu bytes  %s: %s%s%s%s%s\n", ok ? "OK" : "FAIL", c->name, m->len,
           lumen_status_name(st), st == LUMEN_OK ? "loaded" : err, ok ? "" : "  <- ", why,
           ok || !*c->want ? "" : ", want ", ok ? "" : c->want);
    fflush(stdout);
    return ok;
}

/* Runs check_case in a child process so that a crash, a sanitizer report or a hang (60 s) fails
 * its case and the others still run. Returns 1 when the case passed. */
static int run_case(const hostile_case *c, pbw *m)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("onnx_hostile: fork");
        return check_case(c, m);
    }
    if (pid == 0) {
        alarm(60);
        int ok = check_case(c, m);
        pbw_free(m);
        exit(ok ? CHILD_PASS : CHILD_FAIL); /* a leak report replaces this status */
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && (WEXITSTATUS(st) == CHILD_PASS || WEXITSTATUS(st) == CHILD_FAIL))
        return WEXITSTATUS(st) == CHILD_PASS;
    if (WIFSIGNALED(st))
        printf("FAIL %-30s %7zu bytes  crashed: signal %d (%s)\n", c->name, m->len, WTERMSIG(st),
               strsignal(WTERMSIG(st)));
    else
        printf("FAIL %-30s %7zu bytes  exited with status %d (a sanitizer report above?)\n",
               c->name, m->len, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}

int main(int argc, char **argv)
{
    const char *outdir = argc == 3 && !strcmp(argv[1], "--write") ? argv[2] : NULL;
    int passed = 0, failed = 0, n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        const hostile_case *c = &cases[i];
        pbw m = {0};
        c->build(&m);
        if (m.oom) {
            printf("FAIL %-30s could not build the file (out of memory)\n", c->name);
            failed++;
            pbw_free(&m);
            continue;
        }
        if (outdir && m.len <= 64 * 1024) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s.onnx", outdir, c->name);
            if (write_file(path, m.data, m.len) != 0)
                fprintf(stderr, "onnx_hostile: cannot write %s\n", path);
        }
        int ok = run_case(c, &m);
        passed += ok;
        failed += !ok;
        pbw_free(&m);
    }

    /* Inputs the fuzzer once crashed on (tests/onnx_regress/): loaded or refused, never a crash
     * (the sanitizer build runs this too). */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/tests/onnx_regress", LUMEN_SOURCE_DIR);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".onnx"))
            continue;
        char path[1200], rerr[LUMEN_ERR_MAX] = "";
        lumen_graph *rg = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        lumen_status rst = lumen_onnx_load(path, NULL, &rg, NULL, rerr, sizeof rerr);
        /* it may load (the fix made it valid) or be refused, but consistently and safely */
        int rok = rst == LUMEN_OK ? rg != NULL : rg == NULL && rerr[0];
        printf("%-4s %-30s %7s        %s: %s\n", rok ? "OK" : "FAIL", e->d_name, "regress",
               lumen_status_name(rst), rerr);
        lumen_graph_free(rg);
        passed += rok;
        failed += !rok;
    }
    if (d)
        closedir(d);

    /* The path entry point: a missing file is an environment failure, not a format error. */
    char err[LUMEN_ERR_MAX] = "";
    lumen_graph *g = NULL;
    lumen_status st =
        lumen_onnx_load("/nonexistent/lumen/model.onnx", NULL, &g, NULL, err, sizeof err);
    int ok = st == LUMEN_EIO && g == NULL && strstr(err, "/nonexistent/lumen/model.onnx");
    printf("%-4s %-30s %7s        %s: %s\n", ok ? "OK" : "FAIL", "missing_file", "-",
           lumen_status_name(st), err);
    passed += ok;
    failed += !ok;

    printf("onnx_hostile: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
