/*
 * onnx_import.c - the ONNX loader on small models built here with protobuf-c: each model is
 * packed to bytes, loaded with lumen_onnx_load_buffer, run on the default device and compared
 * with the plain-C reference ops or hand-computed values (|a-b| <= 1e-5 + 1e-4|b|). Also checks
 * that the fused patterns really fused (node counts), that shape arithmetic folded on the host,
 * a few rejections, and, when models/angio_qa/angio_qa.onnx exists, the exported angio_qa
 * model against its PyTorch fixtures (|a-b| <= 1e-4 + 1e-3|b|).
 *
 *   onnx_import [SOURCE_DIR]     prints one line per check and "N passed, N failed"
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lumen.h"
#include "onnx_mb.h"

static int passed, failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        int ok_ = (cond);                                                                          \
        printf("%s ", ok_ ? "OK  " : "FAIL");                                                      \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        if (ok_)                                                                                   \
            passed++;                                                                              \
        else                                                                                       \
            failed++;                                                                              \
    } while (0)

/* ---- running ---- */

static void fill(float *x, int64_t n, uint32_t seed)
{
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static double violation(const float *a, const float *b, int64_t n, double atol, double rtol)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), lim = atol + rtol * fabs((double)b[i]);
        if (!(d <= lim))
            worst = fmax(worst, isnan(d) ? 1e30 : d / lim);
    }
    return worst;
}

/* Loads the packed model, checks the graph loaded, runs it on one input and returns the first
 * output (malloc'd) with its shape; NULL on failure (after printing a FAIL line). */
static float *load_run(lumen_ctx *ctx, const char *label, const uint8_t *buf, size_t len,
                       const float *x, int nodes[2], lumen_shape *oshape)
{
    char err[LUMEN_ERR_MAX];
    lumen_graph *g;
    lumen_onnx_info info;
    lumen_status st = lumen_onnx_load_buffer(buf, len, NULL, &g, &info, err, sizeof err);
    if (st != LUMEN_OK) {
        CHECK(0, "%s: load: %s", label, err);
        return NULL;
    }
    lumen_graph_stats gs;
    lumen_graph_stats_get(g, &gs);
    nodes[0] = nodes[1] = gs.nodes;
    if (!ctx) {
        lumen_graph_free(g);
        return NULL;
    }
    lumen_model *m;
    if (lumen_model_new(ctx, g, NULL, &m) != LUMEN_OK) {
        CHECK(0, "%s: model: %s", label, lumen_ctx_error(ctx));
        return NULL;
    }
    lumen_graph_stats_get(lumen_model_graph(m), &gs);
    nodes[1] = gs.nodes;
    lumen_tensor *in = lumen_model_input(m, 0), *out = lumen_model_output(m, 0);
    *oshape = *lumen_tensor_shape(out);
    int64_t n = lumen_tensor_numel(out);
    float *y = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (lumen_tensor_write(in, x, (size_t)lumen_tensor_numel(in)) != LUMEN_OK ||
        lumen_model_run(m) != LUMEN_OK || lumen_tensor_read(out, y, (size_t)n) != LUMEN_OK) {
        CHECK(0, "%s: run: %s", label, lumen_ctx_error(ctx));
        free(y);
        y = NULL;
    }
    lumen_model_free(m);
    return y;
}

/* Model b finished with output "y", as bytes (the caller frees them); frees b. */
static uint8_t *pack_built(mb *b, size_t *len)
{
    mb_output(b, "y");
    uint8_t *buf = mb_pack(b, len);
    mb_free(b);
    return buf;
}

/* load_run() of model b finished with output "y" (same contract); frees b. */
static float *run_built(lumen_ctx *ctx, mb *b, const char *label, const float *x, int nodes[2],
                        lumen_shape *oshape)
{
    size_t len;
    uint8_t *buf = pack_built(b, &len);
    float *y = load_run(ctx, label, buf, len, x, nodes, oshape);
    free(buf);
    return y;
}

static float *ref_op(const lumen_opdesc *d, int n_in, const lumen_shape *const *s,
                     const float *const *in, lumen_shape *os)
{
    char err[LUMEN_ERR_MAX];
    if (lumen_op_shape(d, n_in, s, os, err) != LUMEN_OK)
        return NULL;
    float *y = malloc((size_t)lumen_shape_numel(os) * sizeof(float) + 4);
    if (lumen_op_ref(d, n_in, s, in, y, err) != LUMEN_OK) {
        free(y);
        return NULL;
    }
    return y;
}

static void compare(const char *label, const float *got, const lumen_shape *gs, const float *want,
                    const lumen_shape *ws, int nodes, int want_nodes)
{
    char b1[160], b2[160];
    if (!got || !want)
        return;
    int same = lumen_shape_equal(gs, ws);
    double v = same ? violation(got, want, lumen_shape_numel(ws), 1e-5, 1e-4) : 1e30;
    CHECK(same && v <= 1 && (want_nodes < 0 || nodes == want_nodes),
          "%s: out %s (want %s), graph nodes %d (want %d), worst/tol %.3g", label,
          lumen_shape_format(gs, b1, sizeof b1), lumen_shape_format(ws, b2, sizeof b2), nodes,
          want_nodes, v);
}

/* ---- cases ---- */

static void case_conv_relu(lumen_ctx *ctx)
{
    mb b;
    mb_init(&b, 13);
    lumen_shape xs = {4, {1, 3, 9, 7}}, ws = {4, {4, 3, 3, 3}}, bs = {1, {4}};
    float w[108], bias[4], x[189];
    fill(w, 108, 1), fill(bias, 4, 2), fill(x, 189, 3);
    mb_input(&b, "x", xs);
    mb_init_f(&b, "w", ws, w);
    mb_init_f(&b, "b", bs, bias);
    Onnx__NodeProto *c = mb_node(&b, "Conv", "conv1", "x,w,b", "c");
    mb_attr_ints(&b, c, "pads", 4, (int64_t[]){1, 1, 1, 1});
    mb_attr_ints(&b, c, "strides", 2, (int64_t[]){2, 2});
    mb_attr_ints(&b, c, "kernel_shape", 2, (int64_t[]){3, 3});
    mb_node(&b, "Relu", "relu1", "c", "y");
    int nodes[2] = {0, 0};
    lumen_shape os, rs;
    float *got = run_built(ctx, &b, "Conv+Relu", x, nodes, &os);
    lumen_opdesc d = lumen_opdesc_conv2d(2, 1, 1, 1, LUMEN_ACT_RELU);
    const lumen_shape *s[] = {&xs, &ws, &bs};
    const float *in[] = {x, w, bias};
    float *want = ref_op(&d, 3, s, in, &rs);
    compare("Conv(3x3 s2 p1)+Relu x=[1,3,9,7]", got, &os, want, &rs, nodes[0], 2);
    free(got), free(want);
}

static void case_gemm(lumen_ctx *ctx)
{
    mb b;
    mb_init(&b, 13);
    lumen_shape xs = {2, {2, 5}}, bs = {2, {3, 5}}, cs = {1, {3}};
    float x[10], B[15], C[3];
    fill(x, 10, 4), fill(B, 15, 5), fill(C, 3, 6);
    mb_input(&b, "x", xs);
    mb_init_f(&b, "B", bs, B);
    mb_init_f(&b, "C", cs, C);
    Onnx__NodeProto *n = mb_node(&b, "Gemm", "fc", "x,B,C", "y");
    mb_attr_i(&b, n, "transB", 1);
    mb_attr_f(&b, n, "alpha", 0.5f);
    mb_attr_f(&b, n, "beta", 2.0f);
    int nodes[2] = {0, 0};
    lumen_shape os, rs = {2, {2, 3}};
    float *got = run_built(ctx, &b, "Gemm", x, nodes, &os), want[6];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            double acc = 0;
            for (int k = 0; k < 5; k++)
                acc += (double)x[i * 5 + k] * B[j * 5 + k];
            want[i * 3 + j] = (float)(0.5 * acc + 2.0 * C[j]);
        }
    compare("Gemm transB alpha=0.5 beta=2 bias[3] (hand)", got, &os, want, &rs, nodes[0], 1);
    free(got);
}

static void case_layernorm(lumen_ctx *ctx)
{
    mb b;
    mb_init(&b, 13);
    lumen_shape xs = {3, {2, 4, 6}}, gs = {1, {6}};
    float x[48], gamma[6], beta[6];
    fill(x, 48, 7), fill(gamma, 6, 8), fill(beta, 6, 9);
    mb_input(&b, "x", xs);
    mb_init_f(&b, "gamma", gs, gamma);
    mb_init_f(&b, "beta", gs, beta);
    mb_const_f(&b, "two", 2.0f);
    mb_const_f(&b, "eps", 1e-5f);
    Onnx__NodeProto *r = mb_node(&b, "ReduceMean", "mean", "x", "m");
    mb_attr_ints(&b, r, "axes", 1, (int64_t[]){-1});
    mb_node(&b, "Sub", "sub", "x,m", "d");
    mb_node(&b, "Pow", "pow", "d,two", "p");
    r = mb_node(&b, "ReduceMean", "var", "p", "v");
    mb_attr_ints(&b, r, "axes", 1, (int64_t[]){-1});
    mb_node(&b, "Add", "addeps", "v,eps", "e");
    mb_node(&b, "Sqrt", "sqrt", "e", "s");
    mb_node(&b, "Div", "div", "d,s", "nrm");
    mb_node(&b, "Mul", "scale", "nrm,gamma", "sc");
    mb_node(&b, "Add", "shift", "sc,beta", "y");
    int nodes[2] = {0, 0};
    lumen_shape os;
    float *got = run_built(ctx, &b, "LayerNorm", x, nodes, &os), want[48];
    for (int r0 = 0; r0 < 8; r0++) {
        double mean = 0, var = 0;
        for (int k = 0; k < 6; k++)
            mean += x[r0 * 6 + k] / 6.0;
        for (int k = 0; k < 6; k++)
            var += (x[r0 * 6 + k] - mean) * (x[r0 * 6 + k] - mean) / 6.0;
        for (int k = 0; k < 6; k++)
            want[r0 * 6 + k] =
                (float)((x[r0 * 6 + k] - mean) / sqrt(var + 1e-5) * gamma[k] + beta[k]);
    }
    compare("decomposed LayerNorm [2,4,6] fused into one layernorm (hand)", got, &os, want, &xs,
            nodes[1], 1);
    free(got);
}

static void case_gelu(lumen_ctx *ctx)
{
    mb b;
    mb_init(&b, 13);
    lumen_shape xs = {2, {3, 5}};
    float x[15];
    fill(x, 15, 10);
    for (int i = 0; i < 15; i++)
        x[i] *= 3;
    mb_input(&b, "x", xs);
    mb_const_f(&b, "sqrt2", 1.4142135f);
    mb_const_f(&b, "one", 1.0f);
    mb_const_f(&b, "half", 0.5f);
    mb_node(&b, "Div", "g.div", "x,sqrt2", "a");
    mb_node(&b, "Erf", "g.erf", "a", "e");
    mb_node(&b, "Add", "g.add", "e,one", "p");
    mb_node(&b, "Mul", "g.mul", "x,p", "q");
    mb_node(&b, "Mul", "g.half", "q,half", "y");
    int nodes[2] = {0, 0};
    lumen_shape os;
    float *got = run_built(ctx, &b, "GELU", x, nodes, &os), want[15];
    for (int i = 0; i < 15; i++)
        want[i] = (float)(0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0))));
    compare("decomposed GELU [3,5] fused into unary gelu (hand)", got, &os, want, &xs, nodes[1], 1);
    free(got);
}

static void case_shape_arith(lumen_ctx *ctx)
{
    mb b;
    mb_init(&b, 13);
    lumen_shape xs = {3, {2, 3, 4}};
    float x[24];
    fill(x, 24, 11);
    mb_input(&b, "x", xs);
    mb_init_i(&b, "zero", (lumen_shape){0, {0}}, (int64_t[]){0});
    mb_init_i(&b, "axes0", (lumen_shape){1, {1}}, (int64_t[]){0});
    mb_init_i(&b, "minus1", (lumen_shape){1, {1}}, (int64_t[]){-1});
    mb_node(&b, "Shape", "shape", "x", "sh");
    Onnx__NodeProto *g = mb_node(&b, "Gather", "gather", "sh,zero", "n");
    mb_attr_i(&b, g, "axis", 0);
    mb_node(&b, "Unsqueeze", "unsq", "n,axes0", "n1");
    Onnx__NodeProto *c = mb_node(&b, "Concat", "cat", "n1,minus1", "target");
    mb_attr_i(&b, c, "axis", 0);
    mb_node(&b, "Reshape", "reshape", "x,target", "r");
    mb_node(&b, "Relu", "relu", "r", "y");
    int nodes[2] = {0, 0};
    lumen_shape os, ws = {2, {2, 12}};
    float *got = run_built(ctx, &b, "shape arithmetic", x, nodes, &os), want[24];
    for (int i = 0; i < 24; i++)
        want[i] = x[i] > 0 ? x[i] : 0;
    compare("Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) folded on the host", got, &os,
            want, &ws, nodes[0], 2);
    free(got);
}

static void case_resize(lumen_ctx *ctx, int linear)
{
    mb b;
    mb_init(&b, 13);
    lumen_shape xs = linear ? (lumen_shape){4, {1, 2, 3, 5}} : (lumen_shape){4, {1, 1, 2, 2}};
    float x[30] = {1, 2, 3, 4};
    if (linear)
        fill(x, 30, 12);
    mb_input(&b, "x", xs);
    mb_init_f(&b, "scales", (lumen_shape){1, {4}}, (float[]){1, 1, 2, 2});
    Onnx__NodeProto *n = mb_node(&b, "Resize", "up", "x,,scales", "y");
    mb_attr_s(&b, n, "mode", linear ? "linear" : "nearest");
    if (!linear) {
        mb_attr_s(&b, n, "coordinate_transformation_mode", "asymmetric");
        mb_attr_s(&b, n, "nearest_mode", "floor");
    }
    int nodes[2] = {0, 0};
    lumen_shape os, rs;
    float *got = run_built(ctx, &b, "Resize", x, nodes, &os);
    if (linear) {
        lumen_opdesc d = {.op = LUMEN_OP_RESIZE};
        d.p.resize = (lumen_resize_params){.mode = LUMEN_RESIZE_LINEAR,
                                           .coord = LUMEN_COORD_HALF_PIXEL,
                                           .nsp = 2,
                                           .out = {6, 10},
                                           .scale = {2, 2}};
        const lumen_shape *s[] = {&xs};
        const float *in[] = {x};
        float *want = ref_op(&d, 1, s, in, &rs);
        compare("Resize linear half_pixel scales [1,1,2,2] x=[1,2,3,5] (reference)", got, &os, want,
                &rs, nodes[0], 1);
        free(want);
    } else {
        static const float want[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
        rs = (lumen_shape){4, {1, 1, 4, 4}};
        compare("Resize nearest asymmetric floor x2 (hand)", got, &os, want, &rs, nodes[0], 1);
    }
    free(got);
}

/* ---- rejections (the hostile-file suite is tests/onnx_hostile.c; these are the basics) ---- */

static void expect_error(const char *label, const uint8_t *buf, size_t len, lumen_status want,
                         const char *needle)
{
    char err[LUMEN_ERR_MAX] = "";
    lumen_graph *g = (lumen_graph *)1;
    lumen_status st = lumen_onnx_load_buffer(buf, len, NULL, &g, NULL, err, sizeof err);
    CHECK(st == want && !g && (!needle || strstr(err, needle)), "%s -> %s: %s", label,
          lumen_status_name(st), err);
}

/* expect_error() of model b finished with output "y"; frees b. */
static void expect_built_error(mb *b, const char *label, lumen_status want, const char *needle)
{
    size_t len;
    uint8_t *buf = pack_built(b, &len);
    expect_error(label, buf, len, want, needle);
    free(buf);
}

static void case_rejections(void)
{
    expect_error("empty buffer", (const uint8_t *)"", 0, LUMEN_EFORMAT, "empty");
    expect_error("truncated varint", (const uint8_t *)"\x08\xff\xff", 3, LUMEN_EFORMAT, "byte");
    mb b;
    size_t len;
    uint8_t *buf;

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){1, {4}});
    mb_node(&b, "Frobnicate", "frob1", "x", "y");
    expect_built_error(&b, "unknown op", LUMEN_EUNSUPPORTED, "Frobnicate");

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){1, {4}});
    mb_node(&b, "Relu", "relu7", "nosuch", "y");
    expect_built_error(&b, "input names an unknown value", LUMEN_EFORMAT, "relu7");

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){4, {1, 1, 5, 5}});
    float w[9] = {0};
    mb_init_f(&b, "w", (lumen_shape){4, {1, 1, 3, 3}}, w);
    if (b.inits[0]->has_raw_data) /* one float short */
        b.inits[0]->raw_data.len -= 4;
    else
        b.inits[0]->n_float_data -= 1;
    mb_node(&b, "Conv", "c", "x,w", "y");
    expect_built_error(&b, "tensor data shorter than its dims", LUMEN_EFORMAT, "initializer 'w'");

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){4, {1, 1, 5, 5}});
    mb_init_f(&b, "w", (lumen_shape){4, {1, 1, 3, 3}}, w);
    Onnx__NodeProto *n = mb_node(&b, "Conv", "conv_s0", "x,w", "y");
    mb_attr_ints(&b, n, "strides", 2, (int64_t[]){0, 1});
    expect_built_error(&b, "stride 0", LUMEN_EFORMAT, "conv_s0");

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){1, {4}});
    mb_output(&b, "x");
    b.g.n_node = 0;
    b.m.graph = NULL;
    buf = mb_pack(&b, &len);
    expect_error("a model with no graph", buf, len, LUMEN_EFORMAT, "no graph");
    free(buf);
    mb_free(&b);
}

/* ---- quantisation ---- */

/* QuantizeLinear then DequantizeLinear on run-time data (a QDQ pair, per channel, uint8 with
 * clipping) against the formula. */
static void case_qdq(lumen_ctx *ctx)
{
    float x[24], want[24], sc[3] = {0.005f, 0.02f, 0.1f};
    int64_t zp[3] = {128, 3, 250};
    fill(x, 24, 21);
    mb b;
    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){3, {2, 3, 4}});
    mb_init_f(&b, "s", (lumen_shape){1, {3}}, sc);
    mb_init_typed(&b, "z", (lumen_shape){1, {3}}, zp, ONNX__TENSOR_PROTO__DATA_TYPE__UINT8);
    mb_node(&b, "QuantizeLinear", "q", "x,s,z", "xq");
    mb_node(&b, "DequantizeLinear", "dq", "xq,s,z", "y");
    for (int i = 0; i < 24; i++) {
        int ch = i / 4 % 3;
        float q = nearbyintf(x[i] / sc[ch]) + (float)zp[ch];
        q = q < 0 ? 0 : q > 255 ? 255 : q;
        want[i] = (q - (float)zp[ch]) * sc[ch];
    }
    int nodes[2];
    lumen_shape os, ws = {3, {2, 3, 4}};
    float *got = run_built(ctx, &b, "QDQ uint8 per channel, clipping", x, nodes, &os);
    compare("QDQ uint8 per channel, clipping", got, &os, want, &ws, nodes[0], -1);
    free(got);

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){1, {4}});
    mb_init_f(&b, "s", (lumen_shape){0, {0}}, sc);
    mb_init_typed(&b, "z", (lumen_shape){0, {0}}, zp, ONNX__TENSOR_PROTO__DATA_TYPE__INT16);
    mb_node(&b, "QuantizeLinear", "q16", "x,s,z", "y");
    expect_built_error(&b, "QuantizeLinear int16 zero point", LUMEN_EUNSUPPORTED, "ONNX type 5");

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){2, {2, 4}});
    mb_init_f(&b, "s", (lumen_shape){1, {3}}, sc);
    mb_node(&b, "QuantizeLinear", "qax", "x,s", "y");
    expect_built_error(&b, "QuantizeLinear 3 scales for axis 1 of 4", LUMEN_ESHAPE, "scale of 3");

    mb_init(&b, 10);
    mb_input(&b, "a", (lumen_shape){2, {2, 3}});
    mb_init_i(&b, "bm", (lumen_shape){2, {4, 2}}, (int64_t[]){1, 2, 3, 4, 5, 6, 7, 8});
    mb_node(&b, "MatMulInteger", "mmi", "a,bm", "y");
    expect_built_error(&b, "MatMulInteger K 3 against 4", LUMEN_ESHAPE, "matrices");

    mb_init(&b, 10);
    mb_input(&b, "x", (lumen_shape){4, {1, 1, 3, 3}});
    mb_init_i(&b, "w", (lumen_shape){4, {1, 1, 2, 2}}, (int64_t[]){1, 1, 1, 1});
    mb_init_i(&b, "xz", (lumen_shape){1, {2}}, (int64_t[]){1, 2});
    mb_node(&b, "ConvInteger", "ci", "x,w,xz", "y");
    expect_built_error(&b, "ConvInteger vector x_zero_point", LUMEN_ESHAPE, "x_zero_point");
}

/* ---- RNN, GRU, LSTM against a plain loop ---- */

typedef struct rnn_case {
    const char *label, *op, *direction;
    int T, B, I, H, layout, lbr, bias, h0, c0, peep;
} rnn_case;

static double sigm(double v)
{
    return 1 / (1 + exp(-v));
}

/* ONNX's equations, in double: y [T, D, B, H] from x [T, B, I] (layout 0 order). */
static void rnn_ref(const rnn_case *k, int D, const float *x, const float *W, const float *R,
                    const float *Bs, const float *h0, const float *c0, const float *P, float *y)
{
    int G = !strcmp(k->op, "LSTM") ? 4 : !strcmp(k->op, "GRU") ? 3 : 1, H = k->H, I = k->I;
    double h[64], cst[64], g[256], hn[64];
    for (int d = 0; d < D; d++)
        for (int b = 0; b < k->B; b++) {
            const float *w = W + d * G * H * I, *r = R + d * G * H * H;
            for (int j = 0; j < H; j++) {
                h[j] = h0 ? h0[(d * k->B + b) * H + j] : 0;
                cst[j] = c0 ? c0[(d * k->B + b) * H + j] : 0;
            }
            for (int s = 0; s < k->T; s++) {
                int t = d == 1 || !strcmp(k->direction, "reverse") ? k->T - 1 - s : s;
                const float *xt = x + (t * k->B + b) * I;
                /* g = x W^T + Wb, and the recurrent part per gate */
                double rec[256];
                for (int q = 0; q < G * H; q++) {
                    double a = Bs ? Bs[d * 2 * G * H + q] : 0,
                           e = Bs ? Bs[d * 2 * G * H + G * H + q] : 0;
                    for (int i = 0; i < I; i++)
                        a += xt[i] * w[q * I + i];
                    for (int i = 0; i < H; i++)
                        e += h[i] * r[q * H + i];
                    g[q] = a, rec[q] = e;
                }
                for (int j = 0; j < H; j++) {
                    if (G == 1) {
                        hn[j] = tanh(g[j] + rec[j]);
                    } else if (G == 4) { /* i, o, f, c */
                        const float *p = P ? P + d * 3 * H : NULL;
                        double ig = sigm(g[j] + rec[j] + (p ? p[j] * cst[j] : 0));
                        double fg =
                            sigm(g[2 * H + j] + rec[2 * H + j] + (p ? p[2 * H + j] * cst[j] : 0));
                        double cc = tanh(g[3 * H + j] + rec[3 * H + j]);
                        double cn = fg * cst[j] + ig * cc;
                        double og = sigm(g[H + j] + rec[H + j] + (p ? p[H + j] * cn : 0));
                        cst[j] = cn;
                        hn[j] = og * tanh(cn);
                    } else { /* z, r, h */
                        double z = sigm(g[j] + rec[j]), rr = sigm(g[H + j] + rec[H + j]), hh;
                        /* (r . H) Rh^T + Rbh needs r of every unit, not only unit j */
                        if (k->lbr) {
                            hh = tanh(g[2 * H + j] + rr * rec[2 * H + j]);
                        } else {
                            double e = Bs ? Bs[d * 2 * G * H + G * H + 2 * H + j] : 0;
                            for (int i = 0; i < H; i++)
                                e += sigm(g[H + i] + rec[H + i]) * h[i] * r[(2 * H + j) * H + i];
                            hh = tanh(g[2 * H + j] + e);
                        }
                        hn[j] = (1 - z) * hh + z * h[j];
                    }
                }
                for (int j = 0; j < H; j++) {
                    h[j] = hn[j];
                    y[((t * D + d) * k->B + b) * H + j] = (float)h[j];
                }
            }
        }
}

/* Builds the op of k with random weights (initializers) and compares its Y with rnn_ref. */
static void case_rnn(lumen_ctx *ctx, const rnn_case *k)
{
    int G = !strcmp(k->op, "LSTM") ? 4 : !strcmp(k->op, "GRU") ? 3 : 1;
    int D = !strcmp(k->direction, "bidirectional") ? 2 : 1, T = k->T, B = k->B, H = k->H;
    float x[512], xl[512], W[2048], R[2048], Bs[512], h0[256], c0[256], P[256], y[2048], yl[2048];
    fill(x, T * B * k->I, 11), fill(W, D * G * H * k->I, 12), fill(R, D * G * H * H, 13);
    fill(Bs, D * 2 * G * H, 14), fill(h0, D * B * H, 15), fill(c0, D * B * H, 16);
    fill(P, D * 3 * H, 17);
    mb b;
    mb_init(&b, 14);
    if (k->layout) { /* the input as [B, T, I] */
        for (int t = 0; t < T; t++)
            for (int i = 0; i < B; i++)
                memcpy(xl + (i * T + t) * k->I, x + (t * B + i) * k->I, sizeof(float) * k->I);
        mb_input(&b, "x", (lumen_shape){3, {B, T, k->I}});
    } else {
        mb_input(&b, "x", (lumen_shape){3, {T, B, k->I}});
    }
    mb_init_f(&b, "W", (lumen_shape){3, {D, G * H, k->I}}, W);
    mb_init_f(&b, "R", (lumen_shape){3, {D, G * H, H}}, R);
    mb_init_f(&b, "B", (lumen_shape){2, {D, 2 * G * H}}, Bs);
    mb_init_f(&b, "h0", (lumen_shape){3, {D, B, H}}, h0);
    mb_init_f(&b, "c0", (lumen_shape){3, {D, B, H}}, c0);
    mb_init_f(&b, "P", (lumen_shape){2, {D, 3 * H}}, P);
    char ins[64];
    snprintf(ins, sizeof ins, "x,W,R,%s,,%s%s%s", k->bias ? "B" : "", k->h0 ? "h0" : "",
             G == 4 ? (k->c0 ? ",c0" : ",") : "", G == 4 && k->peep ? ",P" : "");
    Onnx__NodeProto *n = mb_node(&b, k->op, "rnn", ins, "y,yh");
    mb_attr_i(&b, n, "hidden_size", H);
    mb_attr_s(&b, n, "direction", k->direction);
    if (k->layout)
        mb_attr_i(&b, n, "layout", 1);
    if (k->lbr)
        mb_attr_i(&b, n, "linear_before_reset", 1);
    int nodes[2];
    lumen_shape os,
        ws = k->layout ? (lumen_shape){4, {B, T, D, H}} : (lumen_shape){4, {T, D, B, H}};
    float *got = run_built(ctx, &b, k->label, k->layout ? xl : x, nodes, &os);
    rnn_ref(k, D, x, W, R, k->bias ? Bs : NULL, k->h0 ? h0 : NULL, G == 4 && k->c0 ? c0 : NULL,
            G == 4 && k->peep ? P : NULL, y);
    if (k->layout) /* [T, D, B, H] -> [B, T, D, H] */
        for (int t = 0; t < T; t++)
            for (int d = 0; d < D; d++)
                for (int i = 0; i < B; i++)
                    memcpy(yl + ((i * T + t) * D + d) * H, y + ((t * D + d) * B + i) * H,
                           sizeof(float) * H);
    compare(k->label, got, &os, k->layout ? yl : y, &ws, nodes[0], -1);
    free(got);
}

static void case_rnns(lumen_ctx *ctx)
{
    static const rnn_case cases[] = {
        {"RNN bidirectional, bias, h0", "RNN", "bidirectional", 5, 3, 4, 6, 0, 0, 1, 1, 0, 0},
        {"RNN reverse, layout 1", "RNN", "reverse", 4, 2, 3, 5, 1, 0, 0, 0, 0, 0},
        {"GRU linear_before_reset, reverse", "GRU", "reverse", 4, 3, 5, 4, 0, 1, 1, 1, 0, 0},
        {"GRU bidirectional, layout 1", "GRU", "bidirectional", 3, 2, 4, 7, 1, 0, 1, 0, 0, 0},
        {"LSTM bidirectional, peepholes, h0, c0", "LSTM", "bidirectional", 4, 3, 3, 5, 0, 0, 1, 1,
         1, 1},
        {"LSTM 20 steps, layout 1 (joined in rounds)", "LSTM", "forward", 20, 2, 3, 4, 1, 0, 1, 0,
         0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        case_rnn(ctx, &cases[i]);
}

/* Hostile attributes and constant inputs of the ops issue 16 added: each is refused at load
 * with a clear status and a message naming the problem. */
static void case_rejections_more(void)
{
    mb b;
    Onnx__NodeProto *n;
    const lumen_shape x4 = {4, {1, 1, 4, 4}};

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){2, {3, 8}});
    mb_init_i(&b, "k", (lumen_shape){1, {1}}, (int64_t[]){9});
    mb_node(&b, "TopK", "topk", "x,k", "y,i");
    expect_built_error(&b, "TopK k above the extent", LUMEN_EFORMAT, "k 9");

    mb_init(&b, 16);
    mb_input(&b, "x", x4);
    mb_input(&b, "g", (lumen_shape){4, {1, 2, 2, 2}});
    n = mb_node(&b, "GridSample", "gs", "x,g", "y");
    mb_attr_s(&b, n, "mode", "quadratic");
    expect_built_error(&b, "GridSample unknown mode", LUMEN_EFORMAT, "mode 'quadratic'");

    mb_init(&b, 13);
    mb_input(&b, "x", x4);
    mb_init_f(&b, "s", (lumen_shape){1, {4}}, (float[]){1, 1, 2, 2});
    n = mb_node(&b, "Resize", "rs", "x,,s", "y");
    mb_attr_s(&b, n, "mode", "cubic");
    mb_attr_f(&b, n, "cubic_coeff_a", NAN);
    expect_built_error(&b, "Resize cubic_coeff_a NaN", LUMEN_EFORMAT, "cubic_coeff_a");

    mb_init(&b, 13);
    mb_input(&b, "x", x4);
    mb_init_f(&b, "s", (lumen_shape){1, {4}}, (float[]){1, 1, 2, 2});
    n = mb_node(&b, "Resize", "rs", "x,,s", "y");
    mb_attr_s(&b, n, "coordinate_transformation_mode", "tf_crop_and_resize");
    expect_built_error(&b, "Resize crop without roi", LUMEN_EFORMAT, "without roi");

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){4, {1, 1, 2, 2}});
    mb_init_i(&b, "i", (lumen_shape){4, {1, 1, 2, 2}}, (int64_t[]){0, 3, 99, 15});
    n = mb_node(&b, "MaxUnpool", "unpool", "x,i", "y");
    mb_attr_ints(&b, n, "kernel_shape", 2, (int64_t[]){2, 2});
    mb_attr_ints(&b, n, "strides", 2, (int64_t[]){2, 2});
    expect_built_error(&b, "MaxUnpool index outside", LUMEN_EFORMAT, "index 99");

    mb_init(&b, 13);
    mb_input(&b, "v", (lumen_shape){1, {2}});
    mb_init_i(&b, "i", (lumen_shape){1, {3}}, (int64_t[]){0, 1, 2});
    mb_init_i(&b, "d", (lumen_shape){0, {0}}, (int64_t[]){0});
    mb_node(&b, "OneHot", "oh", "i,d,v", "y");
    expect_built_error(&b, "OneHot depth 0", LUMEN_EFORMAT, "depth 0");

    mb_init(&b, 16);
    mb_input(&b, "x", x4);
    mb_input(&b, "r", (lumen_shape){2, {1, 4}});
    mb_init_i(&b, "bi", (lumen_shape){1, {1}}, (int64_t[]){5});
    mb_node(&b, "RoiAlign", "roi", "x,r,bi", "y");
    expect_built_error(&b, "RoiAlign batch index 5 of 1", LUMEN_EFORMAT, "batch index 5");

    mb_init(&b, 16);
    mb_input(&b, "x", (lumen_shape){1, {8}});
    mb_input(&b, "u", (lumen_shape){1, {2}});
    mb_init_i(&b, "i", (lumen_shape){2, {2, 1}}, (int64_t[]){1, 2});
    n = mb_node(&b, "ScatterND", "snd", "x,i,u", "y");
    mb_attr_s(&b, n, "reduction", "avg");
    expect_built_error(&b, "ScatterND reduction avg", LUMEN_EFORMAT, "reduction 'avg'");

    int64_t same[100] = {0};
    mb_init(&b, 16);
    mb_input(&b, "x", (lumen_shape){1, {8}});
    mb_input(&b, "u", (lumen_shape){1, {100}});
    mb_init_i(&b, "i", (lumen_shape){1, {100}}, same);
    n = mb_node(&b, "ScatterElements", "sce", "x,i,u", "y");
    mb_attr_s(&b, n, "reduction", "add");
    expect_built_error(&b, "ScatterElements 100 adds to one element", LUMEN_EUNSUPPORTED,
                       "at most 64");

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){2, {2, 3}});
    mb_init_i(&b, "i", (lumen_shape){2, {2, 1}}, (int64_t[]){0, 1});
    n = mb_node(&b, "GatherND", "gnd", "x,i", "y");
    mb_attr_i(&b, n, "batch_dims", 5);
    expect_built_error(&b, "GatherND batch_dims 5", LUMEN_EFORMAT, "batch_dims 5");

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){2, {3, 2}});
    mb_init_i(&b, "l", (lumen_shape){1, {2}}, (int64_t[]){1, 9});
    mb_node(&b, "ReverseSequence", "rev", "x,l", "y");
    expect_built_error(&b, "ReverseSequence length 9 of 3", LUMEN_EFORMAT, "sequence length 9");

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){2, {17, 17}});
    mb_node(&b, "Det", "det", "x", "y");
    expect_built_error(&b, "Det 17x17", LUMEN_EUNSUPPORTED, "at most 16");

    mb_init(&b, 13);
    mb_input(&b, "x", (lumen_shape){1, {3}});
    mb_init_i(&b, "c", (lumen_shape){1, {5}}, (int64_t[]){1, 0, 1, 1, 1});
    mb_node(&b, "Compress", "cmp", "x,c", "y");
    expect_built_error(&b, "Compress condition longer than the input", LUMEN_EFORMAT,
                       "condition of 5");

    mb_init(&b, 17);
    mb_init_i(&b, "n", (lumen_shape){0, {0}}, (int64_t[]){-4});
    mb_node(&b, "HannWindow", "hann", "n", "y");
    expect_built_error(&b, "HannWindow size -4", LUMEN_ERANGE, "size -4");

    mb_init(&b, 13);
    mb_input(&b, "x", x4);
    n = mb_node(&b, "LRN", "lrn", "x", "y");
    mb_attr_i(&b, n, "size", 0);
    expect_built_error(&b, "LRN size 0", LUMEN_EFORMAT, "size 0");

    mb_init(&b, 17);
    mb_input(&b, "x", (lumen_shape){3, {1, 8, 1}});
    mb_init_i(&b, "len", (lumen_shape){0, {0}}, (int64_t[]){0});
    mb_node(&b, "DFT", "dft", "x,len", "y");
    expect_built_error(&b, "DFT dft_length 0", LUMEN_EFORMAT, "dft_length 0");

    mb_init(&b, 17);
    mb_input(&b, "x", (lumen_shape){3, {1, 64, 1}});
    mb_init_i(&b, "step", (lumen_shape){0, {0}}, (int64_t[]){0});
    mb_init_i(&b, "fl", (lumen_shape){0, {0}}, (int64_t[]){16});
    mb_node(&b, "STFT", "stft", "x,step,,fl", "y");
    expect_built_error(&b, "STFT frame_step 0", LUMEN_EFORMAT, "frame_step 0");

    mb_init(&b, 9);
    mb_init_i(&b, "tok", (lumen_shape){1, {4}}, (int64_t[]){1, 2, 3, 4});
    n = mb_node(&b, "TfIdfVectorizer", "tfidf", "tok", "y");
    mb_attr_ints(&b, n, "pool_int64s", 3, (int64_t[]){1, 2, 3});
    mb_attr_ints(&b, n, "ngram_counts", 2, (int64_t[]){0, 2}); /* a bigram pool of 1 token */
    mb_attr_ints(&b, n, "ngram_indexes", 2, (int64_t[]){0, 1});
    mb_attr_i(&b, n, "max_gram_length", 2);
    mb_attr_s(&b, n, "mode", "TF");
    expect_built_error(&b, "TfIdfVectorizer pool not cut by ngram_counts", LUMEN_EFORMAT,
                       "ngram_counts");

    mb_init(&b, 13);
    mb_input(&b, "x", x4);
    n = mb_node(&b, "MaxPool", "mp", "x", "y,idx");
    mb_attr_ints(&b, n, "kernel_shape", 2, (int64_t[]){2, 2});
    mb_attr_i(&b, n, "storage_order", 2);
    expect_built_error(&b, "MaxPool storage_order 2", LUMEN_EFORMAT, "storage_order 2");
}

static void case_read_tensor(void)
{
    mb b;
    mb_init(&b, 13);
    float v[6] = {1, -2, 3.5f, 4, 5, 6};
    Onnx__TensorProto *t = mb_tensor(&b, "t", (lumen_shape){2, {2, 3}}, v, NULL, 1);
    size_t len = onnx__tensor_proto__get_packed_size(t);
    uint8_t *buf = malloc(len);
    onnx__tensor_proto__pack(t, buf);
    const char *path = "onnx_import_tensor.pb";
    FILE *f = fopen(path, "wb");
    int wrote = f && fwrite(buf, 1, len, f) == len;
    if (f)
        fclose(f);
    lumen_array a;
    int is_int = -1;
    char err[LUMEN_ERR_MAX];
    lumen_status st =
        wrote ? lumen_onnx_read_tensor(path, &a, &is_int, err, sizeof err) : LUMEN_EIO;
    CHECK(st == LUMEN_OK && a.shape.ndim == 2 && a.shape.d[1] == 3 && !is_int &&
              !memcmp(a.data, v, sizeof v),
          "read_tensor float [2,3] raw_data round trip");
    if (st == LUMEN_OK)
        free(a.data);
    remove(path);
    free(buf);
    mb_free(&b);
}

/* ---- the exported angio_qa model against its PyTorch fixtures ---- */

static void case_angio(lumen_ctx *ctx, const char *src)
{
    char path[1200], err[LUMEN_ERR_MAX];
    snprintf(path, sizeof path, "%s/models/angio_qa/angio_qa.onnx", src);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("SKIP angio_qa: %s not found (export it with models/angio_qa/export.py)\n", path);
        return;
    }
    fclose(f);
    lumen_graph *g;
    lumen_onnx_info info;
    lumen_status st = lumen_onnx_load(path, NULL, &g, &info, err, sizeof err);
    CHECK(st == LUMEN_OK, "angio_qa.onnx loads: opset %lld, %d nodes, %lld parameters %s",
          (long long)info.opset, info.nodes, (long long)info.parameters, st ? err : "");
    if (st != LUMEN_OK || !ctx) {
        lumen_graph_free(st == LUMEN_OK ? g : NULL);
        return;
    }
    lumen_model *m;
    if (lumen_model_new(ctx, g, NULL, &m) != LUMEN_OK) {
        CHECK(0, "angio_qa model: %s", lumen_ctx_error(ctx));
        return;
    }
    int64_t S = lumen_tensor_shape(lumen_model_input(m, 0))->d[2];
    for (int k = 0; k < 2; k++) {
        char pre[1024];
        snprintf(pre, sizeof pre, "%s/models/angio_qa/fixtures/angio_%lld_%c", src, (long long)S,
                 "ab"[k]);
        lumen_array x, ref;
        snprintf(path, sizeof path, "%s_input.npy", pre);
        if (lumen_npy_load(path, &x, err, sizeof err) != LUMEN_OK) {
            printf("SKIP angio_qa %s: %s\n", path, err);
            continue;
        }
        lumen_tensor *in = lumen_model_tensor(m, "image");
        st = in ? lumen_tensor_write(in, x.data, (size_t)lumen_tensor_numel(in)) : LUMEN_ENOTFOUND;
        if (st == LUMEN_OK)
            st = lumen_model_run(m);
        free(x.data);
        static const char *const outs[] = {"seg_logit", "cls_logit"};
        for (int o = 0; o < 2 && st == LUMEN_OK; o++) {
            snprintf(path, sizeof path, "%s_%s.npy", pre, outs[o]);
            lumen_tensor *t = lumen_model_tensor(m, outs[o]);
            if (!t || lumen_npy_load(path, &ref, err, sizeof err) != LUMEN_OK) {
                CHECK(0, "angio_qa %s: no output or fixture %s", outs[o], path);
                continue;
            }
            int64_t n = lumen_tensor_numel(t);
            float *y = malloc((size_t)n * sizeof(float));
            double v = 1e30, maxabs = 0;
            if (n == lumen_shape_numel(&ref.shape) &&
                lumen_tensor_read(t, y, (size_t)n) == LUMEN_OK) {
                v = violation(y, ref.data, n, 1e-4, 1e-3);
                for (int64_t i = 0; i < n; i++)
                    maxabs = fmax(maxabs, fabs((double)y[i] - ref.data[i]));
            }
            CHECK(v <= 1, "angio_qa %lldx%lld input %c %s: max|a-b| %.3g, worst/tol %.3g",
                  (long long)S, (long long)S, "ab"[k], outs[o], maxabs, v);
            free(y);
            free(ref.data);
        }
        if (st != LUMEN_OK)
            CHECK(0, "angio_qa run: %s", lumen_ctx_error(ctx));
    }
    lumen_model_free(m);
}

int main(int argc, char **argv)
{
    const char *src = argc > 1 ? argv[1] : ".";
    char err[LUMEN_ERR_MAX];
    lumen_ctx *ctx = NULL;
    if (lumen_ctx_new(NULL, &ctx, err, sizeof err) != LUMEN_OK) {
        printf("no OpenCL device (%s): load checks only\n", err);
        ctx = NULL;
    } else {
        printf("device: %s\n", lumen_ctx_device(ctx)->name);
    }
    case_conv_relu(ctx);
    case_gemm(ctx);
    case_layernorm(ctx);
    case_gelu(ctx);
    case_shape_arith(ctx);
    case_resize(ctx, 1);
    case_resize(ctx, 0);
    case_rejections();
    case_rejections_more();
    case_rnns(ctx);
    case_qdq(ctx);
    case_read_tensor();
    case_angio(ctx, src);
    lumen_ctx_free(ctx);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
