/*
 * cases_gemm.c - MATMUL cases, each run once per GEMM engine (own kernel, then CLBlast; labels
 * say which), plus direct lumen__gemm checks for what matmul never asks for (per-row bias,
 * residual, transposed A with batch strides), compared with lumen__gemm_ref.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

/* runtime/gemm.c: why CLBlast is not in use, "" when it is. */

static lumen_opdesc mm(int ta, int tb, float alpha, lumen_act act)
{
    lumen_opdesc d = {.op = LUMEN_OP_MATMUL};
    d.p.matmul.trans_a = ta;
    d.p.matmul.trans_b = tb;
    d.p.matmul.alpha = alpha;
    d.p.matmul.act.act = act;
    if (act == LUMEN_ACT_LEAKY_RELU)
        d.p.matmul.act.a = 0.1f;
    return d;
}

/* ---- direct lumen__gemm checks ---- */

typedef struct gcase {
    const char *label;
    int batch, M, N, K, ta, tb;
    int a_bs_zero, b_bs_zero; /* broadcast A / B across the batch */
    int bias_mode, has_res;   /* has_res 2: the residual is C itself (in-place add) */
    lumen_act act;
    int vec; /* lumen__gemm_args.vec: the kernel variant (0 default, -1 tiles, 8, 16 direct) */
} gcase;

static lumen_status upload(lumen_ctx *ctx, const float *h, int n, int pad, lumen_tensor **t)
{
    lumen_shape s = {1, {n + pad}};
    lumen_status st = lumen_tensor_new_prec(ctx, "g", &s, test_precision, t);
    if (st != LUMEN_OK)
        return st;
    float *tmp = malloc((size_t)(n + pad) * sizeof(float));
    if (!tmp)
        return LUMEN_ENOMEM;
    for (int i = 0; i < pad; i++)
        tmp[i] = 1234.5f;
    memcpy(tmp + pad, h, (size_t)n * sizeof(float)); /* h is already test_round'ed */
    st = lumen_tensor_write(*t, tmp, (size_t)(n + pad));
    free(tmp);
    return st;
}

/* Runs one direct case; returns 1 when it passed. Operands sit at offset 'pad' in buffers. */
static int run_gcase(lumen_ctx *ctx, const gcase *c)
{
    enum { PAD = 5 };
    lumen__gemm_args g = {c->batch, c->M, c->N, c->K, c->ta, c->tb, 0.5f};
    int na = c->M * c->K, nb = c->K * c->N, nc = c->M * c->N;
    g.lda = c->ta ? c->M + 3 : c->K + 3; /* padded leading dims */
    g.ldb = c->tb ? c->K + 2 : c->N + 2;
    g.ldc = c->N + 1;
    int a_rows = c->ta ? c->K : c->M, b_rows = c->tb ? c->N : c->K;
    na = a_rows * g.lda, nb = b_rows * g.ldb, nc = c->M * g.ldc;
    g.a_bstride = c->a_bs_zero ? 0 : na;
    g.b_bstride = c->b_bs_zero ? 0 : nb;
    g.c_bstride = nc;
    int ta = c->a_bs_zero ? na : na * c->batch, tb = c->b_bs_zero ? nb : nb * c->batch,
        tc = nc * c->batch, tbias = c->bias_mode == 1 ? c->M : c->N;
    float *ha = malloc((size_t)ta * 4), *hb = malloc((size_t)tb * 4), *hc = malloc((size_t)tc * 4),
          *hr = malloc((size_t)tc * 4), *hbias = malloc((size_t)tbias * 4),
          *ref = malloc((size_t)tc * 4), *dev = malloc((size_t)(tc + PAD) * 4);
    lumen_tensor *A = NULL, *B = NULL, *C = NULL, *R = NULL, *Bias = NULL;
    int ok = 0;
    char line[256] = "";
    lumen_status st = LUMEN_ENOMEM;
    if (!ha || !hb || !hc || !hr || !hbias || !ref || !dev)
        goto done;
    test_rand_fill(ha, ta, -1, 1, 11);
    test_rand_fill(hb, tb, -1, 1, 12);
    test_rand_fill(hr, tc, -1, 1, 13);
    test_rand_fill(hbias, tbias, -1, 1, 14);
    test_round_all(ha, ta), test_round_all(hb, tb), test_round_all(hr, tc);
    test_round_all(hbias, tbias);
    for (int i = 0; i < tc; i++)
        hc[i] = ref[i] = c->has_res == 2 ? hr[i] : 777.0f; /* padding columns stay untouched */
    g.bias_mode = c->bias_mode;
    g.act.act = c->act;
    lumen__gemm_ref(&g, ha, hb, hbias, c->has_res ? hr : NULL, ref);
    if ((st = upload(ctx, ha, ta, PAD, &A)) || (st = upload(ctx, hb, tb, PAD, &B)) ||
        (st = upload(ctx, hc, tc, PAD, &C)) || (st = upload(ctx, hr, tc, PAD, &R)) ||
        (st = upload(ctx, hbias, tbias, PAD, &Bias)))
        goto done;
    g.a = A->mem, g.b = B->mem, g.c = C->mem, g.a_off = g.b_off = g.c_off = PAD;
    if (c->bias_mode)
        g.bias = Bias->mem, g.bias_off = PAD;
    if (c->has_res == 1)
        g.res = R->mem, g.res_off = PAD;
    else if (c->has_res == 2)
        g.res = C->mem, g.res_off = PAD;
    g.label = "gemm test";
    g.vec = c->vec;
    ctx->launch_prec = test_precision; /* as lumen_op_run does around a launcher */
    st = lumen__gemm(ctx, &g);
    ctx->launch_prec = LUMEN_FP32;
    if (st || (st = lumen_ctx_finish(ctx)) ||
        (st = lumen_tensor_read(C, dev, (size_t)(tc + PAD))))
        goto done;
    double maxabs = 0, rtol = 1e-4 + (test_precision == LUMEN_FP16 ? TEST_FP16_RTOL : 0);
    double atol = 1e-5 + (test_precision == LUMEN_FP16 ? TEST_FP16_ATOL : 0);
    for (int i = 0; i < PAD; i++)
        if (dev[i] != test_round(1234.5f)) {
            snprintf(line, sizeof line, "guard overwritten at -%d", PAD - i);
            goto done;
        }
    for (int i = 0; i < tc; i++) {
        double d = fabs((double)dev[PAD + i] - ref[i]);
        if (!(d <= atol + rtol * fabs(ref[i]))) {
            snprintf(line, sizeof line, "at %d: device %.9g, reference %.9g", i, dev[PAD + i],
                     ref[i]);
            goto done;
        }
        if (d > maxabs)
            maxabs = d;
    }
    snprintf(line, sizeof line, "maxabs=%.2g", maxabs);
    ok = 1;
done:
    if (!ok && !line[0])
        snprintf(line, sizeof line, "device: %s: %s", lumen_status_name(st), lumen_ctx_error(ctx));
    printf("%-9s %-34s b=%d %dx%dx%d %s %s\n", "gemm", c->label, c->batch, c->M, c->N, c->K, line,
           ok ? "OK" : "FAIL");
    lumen_tensor_free(A), lumen_tensor_free(B), lumen_tensor_free(C), lumen_tensor_free(R);
    lumen_tensor_free(Bias);
    free(ha), free(hb), free(hc), free(hr), free(hbias), free(ref), free(dev);
    return ok;
}

int cases_gemm(lumen_ctx *ctx)
{
    /* hand-computed: [[1,2,3],[4,5,6]] x [[1,0],[0,1],[1,1]] = [[4,5],[10,11]] */
    static const float ha[] = {1, 2, 3, 4, 5, 6}, hb[] = {1, 0, 0, 1, 1, 1};
    static const float hx[] = {4, 5, 10, 11};
    /* with bias [10, -20] and relu: [[14, 0], [20, 0]] */
    static const float hbias[] = {10, -20}, hxb[] = {14, 0, 20, 0};
    const tcase cases[] = {
        {"2x3x2 hand",
         mm(0, 0, 0, LUMEN_ACT_NONE),
         2,
         {SHAPE(2, 3), SHAPE(3, 2)},
         {ha, hb},
         .expect = hx},
        {"2x3x2 bias relu hand",
         mm(0, 0, 0, LUMEN_ACT_RELU),
         3,
         {SHAPE(2, 3), SHAPE(3, 2), SHAPE(2)},
         {ha, hb, hbias},
         .expect = hxb},
        {"odd 17x34 * 34x9", mm(0, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(17, 34), SHAPE(34, 9)}},
        {"trans_a", mm(1, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(34, 17), SHAPE(34, 9)}},
        {"trans_b (linear)",
         mm(0, 1, 0, LUMEN_ACT_NONE),
         3,
         {SHAPE(17, 34), SHAPE(9, 34), SHAPE(9)}},
        {"trans_a trans_b", mm(1, 1, 0, LUMEN_ACT_NONE), 2, {SHAPE(34, 17), SHAPE(9, 34)}},
        {"alpha 0.125 gelu", mm(0, 0, 0.125f, LUMEN_ACT_GELU), 2, {SHAPE(13, 20), SHAPE(20, 11)}},
        {"batch 3", mm(0, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(3, 17, 34), SHAPE(3, 34, 9)}},
        {"bcast 2-d b vs 4-d a",
         mm(0, 0, 0, LUMEN_ACT_RELU),
         3,
         {SHAPE(2, 3, 17, 34), SHAPE(34, 9), SHAPE(9)}},
        {"bcast 4-d a vs [1,3] b",
         mm(0, 0, 0, LUMEN_ACT_NONE),
         2,
         {SHAPE(2, 1, 5, 7), SHAPE(1, 3, 7, 6)}},
        {"bcast 2-d a vs 3-d b", mm(0, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(5, 7), SHAPE(4, 7, 6)}},
        {"linear 3-d x trans_b bias",
         mm(0, 1, 0, LUMEN_ACT_LEAKY_RELU),
         3,
         {SHAPE(2, 19, 40), SHAPE(24, 40), SHAPE(24)}},
        {"attention q k^T batch",
         mm(0, 1, 0.25f, LUMEN_ACT_NONE),
         2,
         {SHAPE(2, 4, 33, 16), SHAPE(2, 4, 29, 16)}},
        {"1 row", mm(0, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(1, 50), SHAPE(50, 37)}},
        {"1 column", mm(0, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(37, 50), SHAPE(50, 1)}},
        {"1-d a (vector)", mm(0, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(50), SHAPE(50, 12)}},
        {"1-d b (vector)", mm(0, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(3, 12, 50), SHAPE(50)}},
        {"K=1 outer product", mm(0, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(9, 1), SHAPE(1, 17)}},
        {"large 64x300x129", mm(0, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(64, 300), SHAPE(300, 129)}},
        {"large trans_b 67x200x131",
         mm(0, 1, 0, LUMEN_ACT_RELU6),
         3,
         {SHAPE(67, 200), SHAPE(131, 200), SHAPE(131)}},
        {"large trans_a 45x96x70", mm(1, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(70, 45), SHAPE(70, 96)}},
        {"pointwise 32x1024x64", mm(0, 0, 0, LUMEN_ACT_NONE), 2, {SHAPE(32, 64), SHAPE(64, 1024)}},
    };
    static const gcase gcases[] = {
        {"row bias + residual + relu", 1, 19, 37, 23, 0, 0, 0, 0, 1, 1, LUMEN_ACT_RELU},
        {"row bias tiles 40x72x33", 1, 40, 72, 33, 0, 0, 0, 0, 1, 0, LUMEN_ACT_NONE},
        {"col bias + residual batch 3", 3, 17, 24, 30, 0, 0, 0, 0, 2, 1, LUMEN_ACT_SIGMOID},
        {"trans_a trans_b batch bcast A", 2, 21, 18, 11, 1, 1, 1, 0, 1, 1, LUMEN_ACT_NONE},
        {"trans_b batch bcast B", 3, 24, 40, 16, 0, 1, 0, 1, 0, 1, LUMEN_ACT_TANH},
        {"in-place residual (res = C)", 2, 27, 33, 20, 0, 0, 0, 0, 1, 2, LUMEN_ACT_RELU},
        {"pointwise odd 13x45x19 relu6", 1, 13, 45, 19, 0, 0, 0, 0, 1, 1, LUMEN_ACT_RELU6},
        {"pointwise narrow 5x7x3 gelu", 2, 5, 7, 3, 0, 0, 0, 0, 1, 0, LUMEN_ACT_GELU},
        {"pointwise 24x80x16 bcast A", 2, 24, 80, 16, 0, 0, 1, 0, 1, 1, LUMEN_ACT_NONE},
    };
    /* the own engine's kernel variants for non-transposed operands, each forced in turn */
    static const struct {
        int vec;
        const char *name;
    } vecs[] = {{-1, "tiles"}, {8, "direct8"}, {16, "direct16"}};
    const int n = (int)(sizeof cases / sizeof cases[0]);
    const int ng = (int)(sizeof gcases / sizeof gcases[0]);
    static const struct {
        lumen_gemm_engine e;
        const char *name;
    } engines[] = {{LUMEN_GEMM_OWN, "own"}, {LUMEN_GEMM_CLBLAST, "clblast"}};
    lumen_gemm_engine saved = lumen_ctx_gemm(ctx);
    int failed = 0;
    for (int e = 0; e < 2; e++) {
        lumen_ctx_set_gemm(ctx, engines[e].e);
        for (int i = 0; i < n; i++) {
            tcase c = cases[i];
            char label[96];
            snprintf(label, sizeof label, "[%s] %s", engines[e].name, c.label);
            c.label = label;
            failed += !run_case(ctx, "gemm", &c);
        }
        for (int i = 0; i < ng; i++) {
            gcase c = gcases[i];
            char label[96];
            snprintf(label, sizeof label, "[%s] %s", engines[e].name, c.label);
            c.label = label;
            failed += !run_gcase(ctx, &c);
            for (int v = 0; v < 3 && engines[e].e == LUMEN_GEMM_OWN && !c.ta && !c.tb; v++) {
                snprintf(label, sizeof label, "[own %s] %s", vecs[v].name, gcases[i].label);
                c.vec = vecs[v].vec;
                failed += !run_gcase(ctx, &c);
            }
        }
        const char *why = lumen__gemm_reason(ctx);
        if (engines[e].e == LUMEN_GEMM_CLBLAST && why[0])
            printf("gemm      [clblast] note: %s\n", why); /* fell back: still a pass */
        else if (engines[e].e == LUMEN_GEMM_CLBLAST)
            printf("gemm      [clblast] all cases ran on CLBlast (no fallback)\n");
    }
    lumen_ctx_set_gemm(ctx, saved);
    return failed;
}
