/*
 * bench_gemm.c - GFLOP/s of the GEMM engines on the pointwise-conv shapes (M = Cout, N = H*W,
 * K = Cin) and 1024^3: CLBlast, the own kernel, and OpenBLAS (cblas_sgemm, this process) in the
 * same run, then which engine AUTO picks on this device (and why CLBlast is out, if it is).
 *
 * Usage: bench_gemm [runs]   (runs >= 5, default 7; device from $LUMEN_DEVICE)
 * Each figure is the median of 'runs' timed calls after one warm-up call; device timings are
 * wall clock around lumen_op_run + lumen_ctx_finish, so they include launch overhead.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include <time.h>

#include "bench_util.h"
#include "lumen.h"

/* runtime/gemm.c: why CLBlast is not in use, "" when it is (not part of the public API). */

/* Median ms of one matmul on the device with engine e; -1 on failure (message printed). */
static double time_device(lumen_ctx *ctx, lumen_gemm_engine e, lumen_tensor *a, lumen_tensor *b,
                          lumen_tensor *c, int runs)
{
    lumen_opdesc d = {.op = LUMEN_OP_MATMUL};
    const lumen_tensor *in[] = {a, b};
    double t[64];
    lumen_ctx_set_gemm(ctx, e);
    for (int i = -1; i < runs; i++) { /* i = -1: warm-up (kernel builds, CLBlast compile) */
        double t0 = bench_now_ms();
        if (lumen_op_run(ctx, &d, 2, in, c) != LUMEN_OK || lumen_ctx_finish(ctx) != LUMEN_OK) {
            fprintf(stderr, "bench_gemm: %s\n", lumen_ctx_error(ctx));
            return -1;
        }
        if (i >= 0)
            t[i] = bench_now_ms() - t0;
    }
    return bench_median(t, runs);
}

static double time_openblas(int M, int N, int K, const float *a, const float *b, float *c, int runs)
{
    double t[64];
    for (int i = -1; i < runs; i++) {
        double t0 = bench_now_ms();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c,
                    N);
        if (i >= 0)
            t[i] = bench_now_ms() - t0;
    }
    return bench_median(t, runs);
}

int main(int argc, char **argv)
{
    static const int shapes[][3] = {
        {64, 16384, 32}, {128, 4096, 576}, {256, 256, 1024}, {1024, 1024, 1024}};
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (runs < 5)
        runs = 5;
    if (runs > 64)
        runs = 64;
    char err[LUMEN_ERR_MAX];
    lumen_ctx *ctx;
    if (lumen_ctx_new(NULL, &ctx, err, sizeof err) != LUMEN_OK) {
        fprintf(stderr, "bench_gemm: %s\n", err);
        return 1;
    }
    const lumen_device_info *di = lumen_ctx_device(ctx);
    printf("device: %s (%s, driver %s); median of %d runs, GFLOP/s\n", di->name, di->platform,
           di->driver, runs);
    printf("%-20s %10s %10s %10s\n", "M x N x K", "clblast", "own", "openblas");
    int status = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        lumen_shape sa = {2, {M, K}}, sb = {2, {K, N}}, sc = {2, {M, N}};
        float *ha = malloc(sizeof(float) * M * K), *hb = malloc(sizeof(float) * K * N),
              *hc = malloc(sizeof(float) * M * N);
        lumen_tensor *a = NULL, *b = NULL, *c = NULL;
        if (!ha || !hb || !hc || lumen_tensor_new(ctx, "a", &sa, &a) != LUMEN_OK ||
            lumen_tensor_new(ctx, "b", &sb, &b) != LUMEN_OK ||
            lumen_tensor_new(ctx, "c", &sc, &c) != LUMEN_OK) {
            fprintf(stderr, "bench_gemm: out of memory at %dx%dx%d\n", M, N, K);
            status = 1;
        } else {
            bench_fill(ha, (size_t)M * K, 1);
            bench_fill(hb, (size_t)K * N, 2);
            lumen_tensor_write(a, ha, (size_t)M * K);
            lumen_tensor_write(b, hb, (size_t)K * N);
            double gf = 2.0 * M * N * K / 1e6; /* GFLOP/s = gf / ms */
            double tc = time_device(ctx, LUMEN_GEMM_CLBLAST, a, b, c, runs);
            double to = time_device(ctx, LUMEN_GEMM_OWN, a, b, c, runs);
            double tb = time_openblas(M, N, K, ha, hb, hc, runs);
            char name[32];
            snprintf(name, sizeof name, "%dx%dx%d", M, N, K);
            printf("%-20s %10.1f %10.1f %10.1f\n", name, tc > 0 ? gf / tc : 0, to > 0 ? gf / to : 0,
                   gf / tb);
            fflush(stdout);
        }
        lumen_tensor_free(a), lumen_tensor_free(b), lumen_tensor_free(c);
        free(ha), free(hb), free(hc);
    }
    /* AUTO: the remembered choice for this device, or a measurement on the first GEMM */
    lumen_shape s1 = {2, {8, 8}};
    lumen_tensor *a = NULL, *c = NULL;
    lumen_opdesc d = {.op = LUMEN_OP_MATMUL};
    lumen_ctx_set_gemm(ctx, LUMEN_GEMM_AUTO);
    double t0 = bench_now_ms();
    if (lumen_tensor_new(ctx, "a", &s1, &a) == LUMEN_OK &&
        lumen_tensor_new(ctx, "c", &s1, &c) == LUMEN_OK && lumen_tensor_fill(a, 1) == LUMEN_OK &&
        lumen_op_run(ctx, &d, 2, (const lumen_tensor *const[]){a, a}, c) == LUMEN_OK &&
        lumen_ctx_finish(ctx) == LUMEN_OK) {
        lumen_gemm_engine e = lumen_ctx_gemm(ctx);
        const char *why = lumen__gemm_reason(ctx);
        printf("AUTO picks: %s (%.0f ms to decide; remembered in %s)%s%s\n",
               e == LUMEN_GEMM_OWN       ? "own"
               : e == LUMEN_GEMM_CLBLAST ? "clblast"
                                         : "?",
               bench_now_ms() - t0,
               lumen_ctx_cache_dir(ctx)[0] ? lumen_ctx_cache_dir(ctx) : "nowhere",
               why[0] ? "; " : "", why);
    } else {
        fprintf(stderr, "bench_gemm: AUTO: %s\n", lumen_ctx_error(ctx));
        status = 1;
    }
    lumen_tensor_free(a), lumen_tensor_free(c);
    lumen_ctx_free(ctx);
    return status;
}
