/*
 * test_graph.c - the graph engine: building with a sticky error, the load-time passes (each
 * proven to change nothing beyond tolerance by running with and without it), the memory plan,
 * reshape aliasing, per-node profiling and the layer-by-layer checker (which must name a node
 * that we corrupt on purpose).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "graph.h"
#include "harness.h"

static int add_const(lumen_graph *g, const char *name, lumen_shape s, float lo, float hi,
                     uint64_t seed)
{
    int64_t n = lumen_shape_numel(&s);
    float *d = malloc((size_t)n * sizeof(float));
    test_rand_fill(d, n, lo, hi, seed);
    int v = lumen_graph_const(g, name, &s, d);
    free(d);
    return v;
}

/* conv3x3 -> BN -> ReLU6 -> conv1x1 -> BN -> (+x) -> relu ; two outputs */
static lumen_graph *build_block(int c, int h, int w)
{
    lumen_graph *g = lumen_graph_new();
    int x = lumen_graph_input(g, "x", &SHAPE(2, c, h, w));
    lumen_opdesc conv3 = lumen_opdesc_conv2d(1, 1, 1, 1, LUMEN_ACT_NONE);
    lumen_opdesc conv1 = lumen_opdesc_conv2d(1, 0, 1, 1, LUMEN_ACT_NONE);
    lumen_opdesc bn = {.op = LUMEN_OP_BATCHNORM, .p.norm.eps = 1e-5f};
    lumen_opdesc relu6 = lumen_opdesc_unary(LUMEN_ACT_RELU6);
    lumen_opdesc relu = lumen_opdesc_unary(LUMEN_ACT_RELU);
    lumen_opdesc add = {.op = LUMEN_OP_BINARY, .p.binary.kind = LUMEN_BIN_ADD};
    int w1 = add_const(g, "c1.weight", SHAPE(c, c, 3, 3), -0.3f, 0.3f, 1);
    int bn1[4] = {add_const(g, "bn1.weight", SHAPE(c), 0.5f, 1.5f, 2),
                  add_const(g, "bn1.bias", SHAPE(c), -0.2f, 0.2f, 3),
                  add_const(g, "bn1.running_mean", SHAPE(c), -0.1f, 0.1f, 4),
                  add_const(g, "bn1.running_var", SHAPE(c), 0.5f, 2.0f, 5)};
    int w2 = add_const(g, "c2.weight", SHAPE(c, c, 1, 1), -0.3f, 0.3f, 6);
    int b2 = add_const(g, "c2.bias", SHAPE(c), -0.1f, 0.1f, 7);
    int bn2[4] = {add_const(g, "bn2.weight", SHAPE(c), 0.5f, 1.5f, 8),
                  add_const(g, "bn2.bias", SHAPE(c), -0.2f, 0.2f, 9),
                  add_const(g, "bn2.running_mean", SHAPE(c), -0.1f, 0.1f, 10),
                  add_const(g, "bn2.running_var", SHAPE(c), 0.5f, 2.0f, 11)};
    int y = lumen_graph_op(g, "c1", &conv3, 4, (int[]){x, w1, -1, -1});
    y = lumen_graph_op(g, "bn1", &bn, 5, (int[]){y, bn1[0], bn1[1], bn1[2], bn1[3]});
    y = lumen_graph_op(g, "act1", &relu6, 1, (int[]){y});
    y = lumen_graph_op(g, "c2", &conv1, 3, (int[]){y, w2, b2});
    y = lumen_graph_op(g, "bn2", &bn, 5, (int[]){y, bn2[0], bn2[1], bn2[2], bn2[3]});
    y = lumen_graph_op(g, "add", &add, 2, (int[]){y, x});
    int z = lumen_graph_op(g, "act2", &relu, 1, (int[]){y});
    /* a constant subgraph (folded) and a dead branch (removed) */
    int k = add_const(g, "k", SHAPE(c, 1, 1), 1.0f, 2.0f, 12);
    int k2 = lumen_graph_op(g, "k2", &relu, 1, (int[]){k});
    int s = lumen_graph_op(g, "scaled",
                           &(lumen_opdesc){.op = LUMEN_OP_BINARY, .p.binary.kind = LUMEN_BIN_MUL},
                           2, (int[]){z, k2});
    lumen_graph_op(g, "unused", &relu, 1, (int[]){x});
    lumen_opdesc rs = {.op = LUMEN_OP_RESHAPE};
    rs.p.reshape.shape = SHAPE(2, c * h * w);
    int flat = lumen_graph_op(g, "flat", &rs, 1, (int[]){s});
    int out2 = lumen_graph_op(g, "out2", &relu6, 1, (int[]){flat});
    lumen_graph_output(g, "y", z);
    lumen_graph_output(g, "z", out2);
    return g;
}

static float *run_model(lumen_ctx *ctx, lumen_graph *g, const lumen_model_options *o,
                        const float *x, int out_index, int *nodes, lumen_plan_stats *ps)
{
    lumen_model *m;
    if (lumen_model_new(ctx, g, o, &m) != LUMEN_OK) {
        printf("     model: %s\n", lumen_ctx_error(ctx));
        return NULL;
    }
    lumen_tensor *in = lumen_model_input(m, 0), *out = lumen_model_output(m, out_index);
    int64_t n = lumen_tensor_numel(out);
    float *y = malloc((size_t)n * sizeof(float));
    lumen_graph_stats gs;
    lumen_graph_stats_get(lumen_model_graph(m), &gs);
    *nodes = gs.nodes;
    lumen_model_plan_stats(m, ps);
    if (lumen_tensor_write(in, x, (size_t)lumen_tensor_numel(in)) != LUMEN_OK ||
        lumen_model_run(m) != LUMEN_OK || lumen_tensor_read(out, y, (size_t)n) != LUMEN_OK) {
        printf("     run: %s\n", lumen_ctx_error(ctx));
        free(y);
        y = NULL;
    }
    lumen_model_free(m);
    return y;
}

static double max_rel_violation(const float *a, const float *b, int64_t n, double atol, double rtol)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = fabs((double)a[i] - b[i]) / (atol + rtol * fabs(b[i]));
        if (!(v <= worst))
            worst = v;
    }
    return worst;
}

static void test_passes(lumen_ctx *ctx)
{
    const int c = 8, h = 13, w = 11;
    int64_t n = 2 * c * h * w;
    float *x = malloc((size_t)n * sizeof(float));
    test_rand_fill(x, n, -1, 1, 99);
    lumen_model_options all_off = {1, 1, 1, 1, 1, 1};
    int nodes_off, nodes_on;
    lumen_plan_stats ps_off, ps_on;
    for (int out = 0; out < 2; out++) {
        float *ref = run_model(ctx, build_block(c, h, w), &all_off, x, out, &nodes_off, &ps_off);
        float *opt = run_model(ctx, build_block(c, h, w), NULL, x, out, &nodes_on, &ps_on);
        double v = ref && opt ? max_rel_violation(opt, ref, n, 1e-5, 1e-4) : 1e9;
        CHECK(v <= 1,
              "output %d: all passes vs none: worst |diff|/(1e-5+1e-4|ref|) = %.3f "
              "(nodes %d -> %d)",
              out, v, nodes_off, nodes_on);
        free(ref);
        free(opt);
    }
    CHECK(nodes_on == 5,
          "conv+bn+relu6, conv+bn+add+relu fused; const folded; dead node gone: "
          "%d nodes (c1, c2, scaled, flat as an alias, out2)",
          nodes_on);
    /* each pass alone on */
    const char *names[] = {"fold_const", "fold_bn",   "fuse_residual",
                           "fuse_act",   "dead_code", "memory_plan"};
    float *ref = run_model(ctx, build_block(c, h, w), &all_off, x, 0, &nodes_off, &ps_off);
    for (int p = 0; p < 6; p++) {
        lumen_model_options o = {1, 1, 1, 1, 1, 1};
        ((int *)&o)[p] = 0;
        int nn;
        lumen_plan_stats ps;
        float *y = run_model(ctx, build_block(c, h, w), &o, x, 0, &nn, &ps);
        double v = ref && y ? max_rel_violation(y, ref, n, 1e-5, 1e-4) : 1e9;
        CHECK(v <= 1, "pass %-13s alone: within tolerance (%.3f), %d nodes", names[p], v, nn);
        free(y);
    }
    free(ref);
    free(x);
}

static void test_plan(lumen_ctx *ctx)
{
    lumen_graph *g = lumen_graph_new();
    int v = lumen_graph_input(g, "x", &SHAPE(1, 8, 64, 64));
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "u%d", i);
        lumen_opdesc d = lumen_opdesc_unary(i % 2 ? LUMEN_ACT_TANH : LUMEN_ACT_SIGMOID);
        v = lumen_graph_op(g, name, &d, 1, &v);
    }
    lumen_graph_output(g, "y", v);
    lumen_model *m;
    lumen_status st = lumen_model_new(ctx, g, NULL, &m);
    lumen_plan_stats ps = {0};
    if (st == LUMEN_OK)
        lumen_model_plan_stats(m, &ps);
    CHECK(st == LUMEN_OK && ps.buffers == 2 && ps.planned_bytes == 2 * 8 * 64 * 64 * 4 &&
              ps.naive_bytes == 9 * 8 * 64 * 64 * 4,
          "chain of 10: %d buffers, planned %llu bytes vs naive %llu, live peak %llu", ps.buffers,
          (unsigned long long)ps.planned_bytes, (unsigned long long)ps.naive_bytes,
          (unsigned long long)ps.live_peak);
    if (st == LUMEN_OK) {
        const lumen_node_prof *prof;
        int np = 0;
        float *x = calloc(8 * 64 * 64, sizeof(float));
        lumen_tensor_write(lumen_model_input(m, 0), x, 8 * 64 * 64);
        st = lumen_model_profile(m, &prof, &np);
        double total = 0;
        for (int i = 0; st == LUMEN_OK && i < np; i++)
            total += prof[i].ms;
        CHECK(st == LUMEN_OK && np == 10 && total > 0 && !strcmp(prof[3].name, "u3"),
              "profile: %d nodes, %.3f ms total, node 3 '%s'", np, total,
              np > 3 ? prof[3].name : "?");
        char report[LUMEN_ERR_MAX];
        st = lumen_model_check(m, 1e-5f, 1e-4f, report, sizeof report);
        CHECK(st == LUMEN_OK, "layer check on a healthy model: %s", report);
        free(x);
        lumen_model_free(m);
    }
}

static void test_checker_finds_node(lumen_ctx *ctx)
{
    lumen_model *m;
    lumen_model_options o = {0};
    if (lumen_model_new(ctx, build_block(4, 9, 7), &o, &m) != LUMEN_OK) {
        CHECK(0, "checker model: %s", lumen_ctx_error(ctx));
        return;
    }
    int64_t n = lumen_tensor_numel(lumen_model_input(m, 0));
    float *x = malloc((size_t)n * sizeof(float));
    test_rand_fill(x, n, -1, 1, 5);
    lumen_tensor_write(lumen_model_input(m, 0), x, (size_t)n);
    /* change the host copy of c2's folded weight: the device keeps the uploaded one, so the
     * reference of node c2 (and only from there) disagrees */
    lumen_graph *g = (lumen_graph *)lumen_model_graph(m);
    int wv = lumen__graph_find_value(g, "c2.weight_bn");
    if (wv >= 0)
        g->values[wv].data[0] += 0.5f;
    char report[LUMEN_ERR_MAX] = "";
    lumen_status st = lumen_model_check(m, 1e-5f, 1e-4f, report, sizeof report);
    CHECK(wv >= 0 && st == LUMEN_ERANGE && strstr(report, "'c2'"),
          "layer check names the corrupted node: %s", report);
    free(x);
    lumen_model_free(m);
}

/* concat(relu(x), sigmoid(x), tanh(relu(x))) -> 1x1 conv: at batch 1 the concat is elided and
 * its inputs are written in place; relu(x) is also read after being written into the concat. */
static lumen_graph *build_concat(int n)
{
    lumen_graph *g = lumen_graph_new();
    int x = lumen_graph_input(g, "x", &SHAPE(n, 3, 9, 7));
    lumen_opdesc relu = lumen_opdesc_unary(LUMEN_ACT_RELU),
                 sig = lumen_opdesc_unary(LUMEN_ACT_SIGMOID),
                 th = lumen_opdesc_unary(LUMEN_ACT_TANH);
    int a = lumen_graph_op(g, "a", &relu, 1, &x);
    int b = lumen_graph_op(g, "b", &sig, 1, &x);
    int c = lumen_graph_op(g, "c", &th, 1, &a);
    lumen_opdesc cat = {.op = LUMEN_OP_CONCAT, .p.concat.axis = 1};
    int y = lumen_graph_op(g, "cat", &cat, 3, (int[]){a, b, c});
    int w = add_const(g, "w", SHAPE(4, 9, 1, 1), -0.5f, 0.5f, 3);
    lumen_opdesc conv = lumen_opdesc_conv2d(1, 0, 1, 1, LUMEN_ACT_NONE);
    int z = lumen_graph_op(g, "conv", &conv, 2, (int[]){y, w});
    lumen_opdesc add = {.op = LUMEN_OP_BINARY, .p.binary.kind = LUMEN_BIN_ADD};
    int r = lumen_graph_op(g, "reuse_a", &add, 2, (int[]){c, a});
    lumen_graph_output(g, "z", z);
    lumen_graph_output(g, "r", r);
    return g;
}

static void test_concat_in_place(lumen_ctx *ctx)
{
    for (int n = 1; n <= 2; n++) {
        int64_t cnt = n * 3 * 9 * 7;
        float *x = malloc((size_t)cnt * sizeof(float));
        test_rand_fill(x, cnt, -2, 2, 17);
        lumen_model_options off = {.no_memory_plan = 1};
        int nodes_a, nodes_b;
        lumen_plan_stats pa, pb;
        for (int out = 0; out < 2; out++) {
            float *ref = run_model(ctx, build_concat(n), &off, x, out, &nodes_a, &pa);
            float *got = run_model(ctx, build_concat(n), NULL, x, out, &nodes_b, &pb);
            int64_t on = out == 0 ? n * 4 * 9 * 7 : n * 3 * 9 * 7;
            double v = ref && got ? max_rel_violation(got, ref, on, 1e-5, 1e-4) : 1e9;
            CHECK(v <= 1,
                  "concat batch %d output %d: planned (in-place at batch 1) vs separate "
                  "buffers: %.3f; planned %llu bytes, naive %llu",
                  n, out, v, (unsigned long long)pb.planned_bytes,
                  (unsigned long long)pb.naive_bytes);
            free(ref);
            free(got);
        }
        free(x);
    }
    lumen_model *m;
    if (lumen_model_new(ctx, build_concat(1), NULL, &m) == LUMEN_OK) {
        const lumen_node_prof *p;
        int np = 0;
        lumen_tensor_fill(lumen_model_input(m, 0), 0.5f);
        lumen_status st = lumen_model_profile(m, &p, &np);
        int found = 0;
        for (int i = 0; st == LUMEN_OK && i < np; i++)
            if (!strcmp(p[i].name, "cat"))
                found = p[i].ms == 0 && p[i].bytes == 0;
        CHECK(found, "batch-1 concat is elided: no kernel, 0 ms in the profile");
        char report[LUMEN_ERR_MAX];
        st = lumen_model_check(m, 1e-5f, 1e-4f, report, sizeof report);
        CHECK(st == LUMEN_OK, "layer check with an in-place concat: %s", report);
        lumen_model_free(m);
    }
}

static void test_sticky_error(void)
{
    lumen_graph *g = lumen_graph_new();
    int x = lumen_graph_input(g, "x", &SHAPE(1, 3, 8, 8));
    int w = add_const(g, "w", SHAPE(4, 5, 3, 3), -1, 1, 1); /* Cin 5 != 3 */
    lumen_opdesc conv = lumen_opdesc_conv2d(1, 1, 1, 1, LUMEN_ACT_NONE);
    int y = lumen_graph_op(g, "badconv", &conv, 4, (int[]){x, w, -1, -1});
    lumen_opdesc relu = lumen_opdesc_unary(LUMEN_ACT_RELU);
    int z = lumen_graph_op(g, "after", &relu, 1, (int[]){x});
    CHECK(y == -1 && z == -1 && lumen_graph_status(g) == LUMEN_ESHAPE &&
              strstr(lumen_graph_error(g), "badconv"),
          "sticky error names the first bad node: %s", lumen_graph_error(g));
    lumen_graph *g2 = lumen_graph_new();
    int u = lumen_graph_op(g2, "x", &relu, 1, (int[]){7});
    CHECK(u == -1 && lumen_graph_status(g2) == LUMEN_EINVAL, "unknown input value rejected: %s",
          lumen_graph_error(g2));
    lumen_graph_free(g2);
    lumen_graph_free(g);
    lumen_graph *e = lumen_graph_new();
    lumen_graph_input(e, "x", &SHAPE(2));
    lumen_model *m;
    char err[64];
    lumen_ctx *ctx;
    lumen_ctx_new(NULL, &ctx, err, sizeof err);
    lumen_status st = lumen_model_new(ctx, e, NULL, &m);
    CHECK(st == LUMEN_EINVAL, "graph without outputs -> %s: %s", lumen_status_name(st),
          lumen_ctx_error(ctx));
    lumen_ctx_free(ctx);
}

int main(void)
{
    char err[LUMEN_ERR_MAX];
    lumen_ctx *ctx;
    if (lumen_ctx_new(NULL, &ctx, err, sizeof err) != LUMEN_OK) {
        printf("FAIL context: %s\n", err);
        return 1;
    }
    test_sticky_error();
    test_plan(ctx);
    test_passes(ctx);
    test_checker_finds_node(ctx);
    test_concat_in_place(ctx);
    lumen_ctx_free(ctx);
    return check_summary();
}
