/*
 * bench_ops.c - op micro-benchmarks on the shapes angio_qa runs at 512x512: each op's OpenCL
 * kernel (lumen_op_run) against its plain-C reference (lumen_op_ref) and, where one exists, the
 * same computation in OpenBLAS (matmul and 1x1 conv as one sgemm; dense 3x3 conv as im2col +
 * sgemm; depthwise conv, attention, norms, resize and pooling have no BLAS form). GFLOP/s are
 * lumen_op_flops of the op over the median time.
 *
 * Usage: bench_ops [runs] [filter]   (runs >= 3, default 7; filter: substring of a case name)
 * Device from $LUMEN_DEVICE. Device figures are wall clock around lumen_op_run +
 * lumen_ctx_finish (launch overhead included), median of 'runs' after one warm-up (which builds
 * the kernels). The reference is timed on at most 3 runs (it is slow by design: the oracle's
 * loop nest). The device result is compared with the reference (maxabs) so a fast wrong kernel
 * cannot pass unnoticed.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "lumen.h"

enum { BLAS_NONE, BLAS_MATMUL, BLAS_CONV1X1, BLAS_IM2COL };

typedef struct ocase {
    char name[48];
    lumen_opdesc d;
    int n_in;
    lumen_shape in[4];
    int blas;
} ocase;

static lumen_shape shp(int n, int64_t a, int64_t b, int64_t c, int64_t d)
{
    lumen_shape s = {n, {a, b, c, d}};
    return s;
}

static ocase conv_case(const char *name, int64_t cin, int64_t cout, int64_t h, int64_t w, int k,
                       int stride, int groups, int blas)
{
    ocase c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.d = lumen_opdesc_conv2d(stride, k / 2, 1, groups, LUMEN_ACT_RELU);
    c.n_in = 3;
    c.in[0] = shp(4, 1, cin, h, w);
    c.in[1] = shp(4, cout, cin / groups, k, k);
    c.in[2] = shp(1, cout, 0, 0, 0);
    c.blas = blas;
    return c;
}

/* The angio_qa shapes at 512x512 input (e4 runs at 32x32 with C = 128). */
static int make_cases(ocase *cs)
{
    int n = 0;
    cs[n++] = conv_case("stem conv3x3 s2 1->16 @512", 1, 16, 512, 512, 3, 2, 1, BLAS_IM2COL);
    cs[n++] = conv_case("dwconv3x3 96 @128", 96, 96, 128, 128, 3, 1, 96, BLAS_NONE);
    cs[n++] = conv_case("pwconv1x1 24->144 @128", 24, 144, 128, 128, 1, 1, 1, BLAS_CONV1X1);
    cs[n++] =
        conv_case("pwconv1x1 16->96 @256 (e2 expand)", 16, 96, 256, 256, 1, 1, 1, BLAS_CONV1X1);
    cs[n++] =
        conv_case("pwconv1x1 144->24 @128 (project)", 144, 24, 128, 128, 1, 1, 1, BLAS_CONV1X1);
    cs[n++] = conv_case("pwconv1x1 256->1024 @16 (ffn)", 256, 1024, 16, 16, 1, 1, 1, BLAS_CONV1X1);
    cs[n++] = conv_case("conv3x3 32->32 @128 (decoder)", 32, 32, 128, 128, 3, 1, 1, BLAS_IM2COL);
    cs[n++] = conv_case("conv3x3 256->256 @14 (resnet18)", 256, 256, 14, 14, 3, 1, 1, BLAS_IM2COL);

    ocase *c = &cs[n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "matmul 1024x128 @ 128x384");
    c->d.op = LUMEN_OP_MATMUL;
    c->n_in = 2;
    c->in[0] = shp(2, 1024, 128, 0, 0);
    c->in[1] = shp(2, 128, 384, 0, 0);
    c->blas = BLAS_MATMUL;

    /* L-GSAM at e4: 4 heads of 32; local heads read Q [0,128), K [128,192), V [192,256) of one
     * qkv map in 8x8 windows; global heads attend to the 2x2-pooled map's 256 tokens. */
    c = &cs[n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "attention local C=128 @32 w8");
    c->d.op = LUMEN_OP_ATTENTION;
    c->d.p.attention = (lumen_attention_params){
        .heads = 2, .head_dim = 32, .window = 8, .q_c0 = 0, .k_c0 = 128, .v_c0 = 192};
    c->n_in = 3;
    c->in[0] = c->in[1] = c->in[2] = shp(4, 1, 256, 32, 32);

    c = &cs[n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "attention global C=128 @32 (256 keys)");
    c->d.op = LUMEN_OP_ATTENTION;
    c->d.p.attention = (lumen_attention_params){
        .heads = 2, .head_dim = 32, .window = 0, .q_c0 = 64, .k_c0 = 0, .v_c0 = 64};
    c->n_in = 3;
    c->in[0] = shp(4, 1, 256, 32, 32);
    c->in[1] = c->in[2] = shp(4, 1, 128, 16, 16);

    c = &cs[n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "layernorm C=128 @32 (per pixel)");
    c->d.op = LUMEN_OP_LAYERNORM;
    c->d.p.axes = (lumen_axes_params){.axis = 1, .axis_end = 2, .eps = 1e-6f};
    c->n_in = 3;
    c->in[0] = shp(4, 1, 128, 32, 32);
    c->in[1] = c->in[2] = shp(1, 128, 0, 0, 0);

    c = &cs[n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "bilinear x2 32 @128->256");
    c->d.op = LUMEN_OP_RESIZE;
    c->d.p.resize = (lumen_resize_params){
        .mode = LUMEN_RESIZE_LINEAR, .coord = LUMEN_COORD_HALF_PIXEL, .nsp = 2, .out = {256, 256}};
    c->n_in = 1;
    c->in[0] = shp(4, 1, 32, 128, 128);

    c = &cs[n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "GAP 256 @16");
    c->d.op = LUMEN_OP_REDUCE;
    c->d.p.reduce = (lumen_reduce_params){.kind = LUMEN_REDUCE_MEAN, .axes = 0xc, .keepdims = 1};
    c->n_in = 1;
    c->in[0] = shp(4, 1, 256, 16, 16);
    return n;
}

/* im2col for a 2d conv with square kernel k, stride s, symmetric padding k/2, groups 1:
 * col[(ci*k + ky)*k + kx][oy*OW + ox]. */
static void im2col(const float *x, int C, int H, int W, int k, int s, int OH, int OW, float *col)
{
    int p = k / 2;
    for (int ci = 0; ci < C; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((size_t)(ci * k + ky) * k + kx) * OH * OW;
                for (int oy = 0; oy < OH; oy++) {
                    int iy = oy * s - p + ky;
                    for (int ox = 0; ox < OW; ox++) {
                        int ix = ox * s - p + kx;
                        row[oy * OW + ox] = (iy >= 0 && iy < H && ix >= 0 && ix < W)
                                                ? x[((size_t)ci * H + iy) * W + ix]
                                                : 0.0f;
                    }
                }
            }
}

/* One OpenBLAS evaluation of case c on host inputs; col is im2col scratch. */
static void blas_run(const ocase *c, const lumen_shape *out, float *const *in, float *y, float *col)
{
    if (c->blas == BLAS_MATMUL) {
        int M = (int)c->in[0].d[0], K = (int)c->in[0].d[1], N = (int)c->in[1].d[1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, in[0], K, in[1], N,
                    0.0f, y, N);
        return;
    }
    int Cin = (int)c->in[0].d[1], H = (int)c->in[0].d[2], W = (int)c->in[0].d[3];
    int Cout = (int)c->in[1].d[0], k = (int)c->in[1].d[2];
    int OH = (int)out->d[2], OW = (int)out->d[3], N = OH * OW, K = Cin * k * k;
    const float *b = in[0];
    if (c->blas == BLAS_IM2COL) {
        im2col(in[0], Cin, H, W, k, c->d.p.conv.stride[0], OH, OW, col);
        b = col;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Cout, N, K, 1.0f, in[1], K, b, N, 0.0f,
                y, N);
    for (int co = 0; co < Cout; co++) /* bias + ReLU epilogue, as the fused kernel does */
        for (int i = 0; i < N; i++) {
            float v = y[(size_t)co * N + i] + in[2][co];
            y[(size_t)co * N + i] = v > 0 ? v : 0;
        }
}

static int run_case(lumen_ctx *ctx, const ocase *c, int runs)
{
    char err[LUMEN_ERR_MAX] = "";
    const lumen_shape *ins[4];
    for (int i = 0; i < c->n_in; i++)
        ins[i] = &c->in[i];
    lumen_shape out;
    if (lumen_op_shape(&c->d, c->n_in, ins, &out, err) != LUMEN_OK) {
        printf("%-40s shape error: %s\n", c->name, err);
        return 1;
    }
    double flops = lumen_op_flops(&c->d, c->n_in, ins, &out);
    int64_t n_out = lumen_shape_numel(&out);
    float *host[4] = {NULL}, *ref = malloc(sizeof(float) * n_out),
          *dev = malloc(sizeof(float) * n_out), *col = NULL;
    lumen_tensor *t[4] = {NULL}, *ty = NULL;
    int status = 1;
    if (!ref || !dev)
        goto cleanup;
    for (int i = 0; i < c->n_in; i++) {
        int64_t n = lumen_shape_numel(&c->in[i]);
        host[i] = malloc(sizeof(float) * n);
        if (!host[i] || lumen_tensor_new(ctx, NULL, &c->in[i], &t[i]) != LUMEN_OK)
            goto cleanup;
        bench_fill(host[i], n, 11u + (unsigned)i);
        lumen_tensor_write(t[i], host[i], (size_t)n);
    }
    if (lumen_tensor_new(ctx, "y", &out, &ty) != LUMEN_OK)
        goto cleanup;

    double td[64], tr[3], tb[64], cpu0 = 0;
    for (int i = -1; i < runs; i++) {
        if (i == 0)
            cpu0 = bench_cpu_ms();
        double t0 = bench_now_ms();
        if (lumen_op_run(ctx, &c->d, c->n_in, (const lumen_tensor *const *)t, ty) != LUMEN_OK ||
            lumen_ctx_finish(ctx) != LUMEN_OK) {
            printf("%-40s device error: %s\n", c->name, lumen_ctx_error(ctx));
            goto cleanup;
        }
        if (i >= 0)
            td[i] = bench_now_ms() - t0;
    }
    double cpu = (bench_cpu_ms() - cpu0) / runs;
    int rruns = runs < 3 ? runs : 3;
    for (int i = 0; i < rruns; i++) {
        double t0 = bench_now_ms();
        if (lumen_op_ref(&c->d, c->n_in, ins, (const float *const *)host, ref, err) != LUMEN_OK) {
            printf("%-40s reference error: %s\n", c->name, err);
            goto cleanup;
        }
        tr[i] = bench_now_ms() - t0;
    }
    lumen_tensor_read(ty, dev, (size_t)n_out);
    double maxabs = 0;
    for (int64_t i = 0; i < n_out; i++)
        maxabs = fmax(maxabs, fabs((double)dev[i] - ref[i]));
    double mb = -1;
    if (c->blas != BLAS_NONE) {
        if (c->blas == BLAS_IM2COL) {
            size_t ncol =
                (size_t)c->in[0].d[1] * c->in[1].d[2] * c->in[1].d[3] * out.d[2] * out.d[3];
            col = malloc(sizeof(float) * ncol);
            if (!col)
                goto cleanup;
        }
        for (int i = -1; i < runs; i++) {
            double t0 = bench_now_ms();
            blas_run(c, &out, host, dev, col);
            if (i >= 0)
                tb[i] = bench_now_ms() - t0;
        }
        mb = bench_median(tb, runs);
    }
    double md = bench_median(td, runs), mr = bench_median(tr, rruns);
    char blas[32] = "-", oshape[64];
    if (mb > 0)
        snprintf(blas, sizeof blas, "%9.3f %7.1f", mb, flops / mb / 1e6);
    lumen_shape_format(&out, oshape, sizeof oshape);
    printf("%-40s %-18s %8.4f %9.3f %7.1f %8.3f %9.3f %7.1f %17s %9.1e\n", c->name, oshape,
           flops / 1e9, md, flops / md / 1e6, cpu, mr, flops / mr / 1e6, blas, maxabs);
    fflush(stdout);
    status = 0;
cleanup:
    if (status && !err[0] && (!ref || !dev))
        printf("%-40s out of memory\n", c->name);
    for (int i = 0; i < 4; i++) {
        lumen_tensor_free(t[i]);
        free(host[i]);
    }
    lumen_tensor_free(ty);
    free(ref), free(dev), free(col);
    return status;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    const char *filter = argc > 2 ? argv[2] : NULL;
    if (runs < 3)
        runs = 3;
    if (runs > 64)
        runs = 64;
    char err[LUMEN_ERR_MAX];
    lumen_ctx *ctx;
    if (lumen_ctx_new(NULL, &ctx, err, sizeof err) != LUMEN_OK) {
        fprintf(stderr, "bench_ops: %s\n", err);
        return 1;
    }
    const lumen_device_info *di = lumen_ctx_device(ctx);
    printf("device: %s (%s, driver %s); OpenBLAS threads %d; median of %d runs (reference: %d)\n",
           di->name, di->platform, di->driver, openblas_get_num_threads(), runs,
           runs < 3 ? runs : 3);
    printf("%-40s %-18s %8s %9s %7s %8s %9s %7s %9s %7s %9s\n", "case (angio_qa @512)", "output",
           "GFLOP", "cl ms", "GF/s", "cpu ms", "ref ms", "GF/s", "blas ms", "GF/s", "maxabs");
    ocase cases[24];
    int n = make_cases(cases), status = 0;
    for (int i = 0; i < n; i++)
        if (!filter || strstr(cases[i].name, filter))
            status |= run_case(ctx, &cases[i], runs);
    lumen_ctx_free(ctx);
    return status;
}
