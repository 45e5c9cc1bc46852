/*
 * selfcheck.c - the device self-check: a few small cases per op family, run on the context's
 * device and compared with the plain-C references, the verdict kept in the cache directory and
 * applied to the context (contract: lumen.h, lumen_selfcheck).
 *
 * Cases: one table (case_table), one line per case, a few per family, odd shapes, every kernel
 * path a model can reach on a healthy device of this kind (depthwise and direct conv, the
 * direct and packed GEMM kernels, windowed and global attention...). Inputs are deterministic
 * (xorshift seeded by the case label); a case may plant a NaN, which the device must return
 * where the reference does. Each input and the output sit inside larger buffers at odd offsets,
 * the output between guard values that no op may touch. Tolerance: |a-b| <= 1e-5 + 1e-4*|b|.
 * Precision: every family runs twice, with fp32 tensors and with fp16 storage (inputs rounded
 * to half on the host first, so the reference sees what the device stores; tolerance plus
 * FP16_RTOL relative and FP16_ATOL absolute for the rounding of the output to half, as the op
 * tests use). An fp16 failure does not refuse anything: fp16 models using that family run in
 * fp32 (lumen__selfcheck_fp16_ok, asked by lumen_model_new), as they do under the no_fp16
 * quirk, which skips the fp16 checks.
 * The GEMM cases run on the own kernels (family "gemm") and through CLBlast ("clblast"); a
 * CLBlast error (which gemm.c would hide by falling back) fails the "clblast" family. CLBlast
 * compiles its kernels on first use (a minute on a cold PoCL), so it is checked only where it
 * is the engine in use (remembered or measured first, as the first GEMM would) or has to stand
 * in for a failed own GEMM; otherwise it is skipped, saying so.
 *
 * Verdict file: <cache_dir>/selfcheck-<hash of key>.txt, text, written atomically:
 *     key platform=...|device=...|driver=...|lumen=...|checks=<hash of kernels and cases>
 *     ms 812.4
 *     family<TAB>verdict<TAB>cases<TAB>ms<TAB>op<TAB>label<TAB>error     (one per family)
 *     fp16:family<TAB>...                                              (one per family)
 * A file for another key, or one that does not parse, is ignored (and replaced by the next run).
 *
 * Applying a verdict (apply): own GEMM <-> CLBlast stand in for each other; any other failed
 * family (or both GEMM engines) sets a bit in the context's refused set, and
 * lumen__selfcheck_admit (called by lumen_model_new) refuses graphs with an op of that family.
 * State: ctx->selfcheck points to a check_state, freed by lumen__selfcheck_free.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

lumen_gemm_engine lumen__gemm_resolve(lumen_ctx *ctx); /* gemm.c: AUTO measured or recalled */

#define GUARD 17            /* guard elements before and after each output */
#define GUARD_VALUE 1234.5f /* no op writes this by chance */
#define IN_PAD 3            /* inputs start at an odd offset inside their buffer */
#define FP16_RTOL 1e-3      /* fp16 storage: the output's rounding to half, 2^-11, twice */
#define FP16_ATOL 1e-6

_Static_assert(LUMEN_CHECK_COUNT == 8, "a new check family needs cases and a verdict line");

static const char *const family_names[] = {
#define LUMEN_X(name, str) str,
    LUMEN_CHECK_LIST(LUMEN_X)
#undef LUMEN_X
};

const char *lumen_check_name(lumen_check_family f)
{
    return ((int)f >= 0 && f < LUMEN_CHECK_COUNT) ? family_names[f] : NULL;
}

/* ---- the cases ---- */

typedef struct sc_case {
    lumen_check_family fam; /* LUMEN_CHECK_GEMM cases also run as LUMEN_CHECK_CLBLAST */
    const char *label;
    lumen_opdesc d;
    int n_in;
    lumen_shape in[5]; /* ndim < 0: absent optional input */
    unsigned positive; /* bit i: input i drawn from [0.25, 1.25] (variances, ...), else [-1, 1] */
    int nan_at;        /* > 0: input 0's element nan_at - 1 is NaN */
} sc_case;

#define S(...) ((lumen_shape){sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), {__VA_ARGS__}})

static lumen_opdesc conv2(lumen_op op, int stride, int pad, int groups, lumen_act act)
{
    lumen_opdesc d = lumen_opdesc_conv2d(stride, pad, 1, groups, act);
    d.op = op;
    return d;
}

static lumen_opdesc mm(int trans_a, int trans_b)
{
    lumen_opdesc d = {.op = LUMEN_OP_MATMUL};
    d.p.matmul.trans_a = trans_a, d.p.matmul.trans_b = trans_b, d.p.matmul.alpha = 1.0f;
    return d;
}

static lumen_opdesc pool2(int kind, int k, int stride, int pad, int ceil_mode)
{
    lumen_opdesc d = {.op = LUMEN_OP_POOL};
    lumen_pool_params *p = &d.p.pool;
    p->kind = kind, p->nsp = 2, p->ceil_mode = ceil_mode;
    for (int i = 0; i < 3; i++)
        p->k[i] = k, p->stride[i] = stride, p->pad0[i] = p->pad1[i] = pad, p->dil[i] = 1;
    return d;
}

static lumen_opdesc attn(int heads, int head_dim, int window, int q_c0, int k_c0, int v_c0)
{
    lumen_opdesc d = {.op = LUMEN_OP_ATTENTION};
    d.p.attention = (lumen_attention_params){heads, head_dim, window, 0, q_c0, k_c0, v_c0};
    return d;
}

static lumen_opdesc binary(int kind, lumen_act act)
{
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    d.p.binary.kind = kind, d.p.binary.act.act = act;
    return d;
}

/* The table: fills out[0..) and returns the number of cases (at most MAX_CASES). */
#define MAX_CASES 40
static int case_table(sc_case *out)
{
    const lumen_op CONV = LUMEN_OP_CONV, CONVT = LUMEN_OP_CONV_TRANSPOSE;
    const lumen_act NO = LUMEN_ACT_NONE;
    lumen_opdesc reduce_mean = {.op = LUMEN_OP_REDUCE}, reduce_max = {.op = LUMEN_OP_REDUCE};
    reduce_mean.p.reduce = (lumen_reduce_params){LUMEN_REDUCE_MEAN, 12u, 1};
    reduce_max.p.reduce = (lumen_reduce_params){LUMEN_REDUCE_MAX, 2u, 0};
    lumen_opdesc tr = {.op = LUMEN_OP_TRANSPOSE}, cat = {.op = LUMEN_OP_CONCAT};
    tr.p.transpose = (lumen_transpose_params){{0, 2, 3, 1}};
    cat.p.concat.axis = 1;
    lumen_opdesc sl = {.op = LUMEN_OP_SLICE}, pad = {.op = LUMEN_OP_PAD};
    sl.p.slice = (lumen_slice_params){{0, 1, 2, 1}, {1, 2, 2, 3}, {1, 3, 6, 4}};
    pad.p.pad = (lumen_pad_params){{0, 0, 1, 2}, {0, 0, 2, 1}, 0.5f};
    lumen_opdesc rs = {.op = LUMEN_OP_RESIZE};
    rs.p.resize =
        (lumen_resize_params){LUMEN_RESIZE_LINEAR, LUMEN_COORD_HALF_PIXEL, 0, 2, {14, 18}};
    lumen_opdesc bn = {.op = LUMEN_OP_BATCHNORM}, in = {.op = LUMEN_OP_INSTANCENORM};
    bn.p.norm.eps = in.p.norm.eps = 1e-5f;
    lumen_opdesc ln = {.op = LUMEN_OP_LAYERNORM}, sm = {.op = LUMEN_OP_SOFTMAX};
    ln.p.axes = (lumen_axes_params){2, 3, 1e-5f};
    sm.p.axes = (lumen_axes_params){2, 3, 0};
    lumen_opdesc am = {.op = LUMEN_OP_ARGMAX};
    am.p.argmax.axis = 1;
    lumen_opdesc tk = {.op = LUMEN_OP_TOPK}, det = {.op = LUMEN_OP_DET};
    tk.p.topk = (lumen_topk_params){1, 3, 1, 0};
    lumen_opdesc gs = {.op = LUMEN_OP_GRID_SAMPLE};
    gs.p.grid = (lumen_grid_sample_params){LUMEN_GRID_BILINEAR, LUMEN_GRID_REFLECTION, 0};
    lumen_opdesc mpi = pool2(LUMEN_POOL_MAX, 3, 2, 1, 0);
    mpi.p.pool.indices = 1;
    const sc_case t[] = {
        {LUMEN_CHECK_ELTWISE, "gelu", lumen_opdesc_unary(LUMEN_ACT_GELU), 1, {S(1, 7, 13, 11)}},
        {LUMEN_CHECK_ELTWISE,
         "relu NaN kept",
         lumen_opdesc_unary(LUMEN_ACT_RELU),
         1,
         {S(3, 37)},
         .nan_at = 8},
        {LUMEN_CHECK_ELTWISE,
         "add broadcast",
         binary(LUMEN_BIN_ADD, NO),
         2,
         {S(2, 5, 9, 7), S(1, 5, 1, 7)}},
        {LUMEN_CHECK_ELTWISE,
         "mul sigmoid",
         binary(LUMEN_BIN_MUL, LUMEN_ACT_SIGMOID),
         2,
         {S(3, 17, 9), S(17, 1)}},

        {LUMEN_CHECK_CONV,
         "3x3 s1 p1 odd",
         conv2(CONV, 1, 1, 1, NO),
         3,
         {S(1, 9, 34, 17), S(8, 9, 3, 3), S(8)}},
        {LUMEN_CHECK_CONV,
         "3x3 s2 relu Cout5",
         conv2(CONV, 2, 1, 1, LUMEN_ACT_RELU),
         3,
         {S(1, 5, 19, 21), S(5, 5, 3, 3), S(5)}},
        {LUMEN_CHECK_CONV,
         "5x5 groups 3 residual",
         conv2(CONV, 1, 2, 3, NO),
         4,
         {S(1, 6, 11, 13), S(9, 2, 5, 5), S(9), S(1, 9, 11, 13)}},
        {LUMEN_CHECK_CONV,
         "dw3x3 s1 odd",
         conv2(CONV, 1, 1, 9, NO),
         3,
         {S(1, 9, 17, 13), S(9, 1, 3, 3), S(9)}},
        {LUMEN_CHECK_CONV,
         "dw5x5 s2 relu6",
         conv2(CONV, 2, 2, 6, LUMEN_ACT_RELU6),
         3,
         {S(1, 6, 15, 13), S(6, 1, 5, 5), S(6)}},
        {LUMEN_CHECK_CONV,
         "transposed 2x2 s2",
         conv2(CONVT, 2, 0, 1, NO),
         3,
         {S(1, 4, 7, 9), S(4, 3, 2, 2), S(3)}},

        {LUMEN_CHECK_GEMM,
         "pointwise conv 24->20",
         conv2(CONV, 1, 0, 1, LUMEN_ACT_RELU),
         3,
         {S(1, 24, 13, 17), S(20, 24, 1, 1), S(20)}},
        {LUMEN_CHECK_GEMM, "matmul 37x29x43 bias", mm(0, 0), 3, {S(37, 29), S(29, 43), S(43)}},
        {LUMEN_CHECK_GEMM, "matmul batched trans_b", mm(0, 1), 2, {S(2, 19, 33), S(2, 41, 33)}},
        {LUMEN_CHECK_GEMM, "matmul tiles trans_a", mm(1, 0), 2, {S(40, 64), S(40, 72)}},
        {LUMEN_CHECK_GEMM, "matmul broadcast b", mm(0, 0), 2, {S(3, 9, 16), S(16, 24)}},

        {LUMEN_CHECK_POOL,
         "max 3x3 s2 p1",
         pool2(LUMEN_POOL_MAX, 3, 2, 1, 0),
         1,
         {S(1, 5, 17, 19)}},
        {LUMEN_CHECK_POOL,
         "avg 2x2 s2 ceil",
         pool2(LUMEN_POOL_AVG, 2, 2, 0, 1),
         1,
         {S(2, 3, 15, 13)}},
        {LUMEN_CHECK_POOL, "max indices 3x3 s2 p1", mpi, 1, {S(1, 4, 13, 11)}},
        {LUMEN_CHECK_POOL, "reduce mean HW", reduce_mean, 1, {S(1, 7, 13, 11)}},
        {LUMEN_CHECK_POOL, "reduce max C", reduce_max, 1, {S(2, 9, 5, 7)}},

        {LUMEN_CHECK_LAYOUT, "transpose NCHW->NHWC", tr, 1, {S(1, 7, 9, 13)}},
        {LUMEN_CHECK_LAYOUT, "concat C", cat, 2, {S(2, 3, 5, 7), S(2, 4, 5, 7)}},
        {LUMEN_CHECK_LAYOUT, "slice step 2", sl, 1, {S(1, 7, 13, 11)}},
        {LUMEN_CHECK_LAYOUT, "pad 1,2", pad, 1, {S(1, 3, 7, 9)}},
        {LUMEN_CHECK_LAYOUT, "resize bilinear x2", rs, 1, {S(1, 3, 7, 9)}},
        {LUMEN_CHECK_LAYOUT, "grid_sample reflection", gs, 2, {S(1, 3, 7, 9), S(1, 5, 6, 2)}},

        {LUMEN_CHECK_NORM,
         "batchnorm",
         bn,
         5,
         {S(1, 6, 9, 11), S(6), S(6), S(6), S(6)},
         .positive = 16},
        {LUMEN_CHECK_NORM, "layernorm last axis", ln, 3, {S(2, 13, 24), S(24), S(24)}},
        {LUMEN_CHECK_NORM, "instancenorm", in, 3, {S(2, 5, 9, 7), S(5), S(5)}},
        {LUMEN_CHECK_NORM, "softmax last axis", sm, 1, {S(3, 7, 29)}},
        {LUMEN_CHECK_NORM, "argmax C", am, 1, {S(2, 5, 7, 3)}},
        {LUMEN_CHECK_NORM, "topk 3 of C", tk, 1, {S(2, 9, 5, 7)}},
        {LUMEN_CHECK_NORM, "det 5x5", det, 1, {S(3, 7, 5, 5)}},

        {LUMEN_CHECK_ATTENTION,
         "window 4 d16 offsets",
         attn(2, 16, 4, 8, 0, 4),
         3,
         {S(1, 40, 8, 8), S(1, 32, 8, 8), S(1, 36, 8, 8)}},
        {LUMEN_CHECK_ATTENTION,
         "global d8 3x3 keys",
         attn(2, 8, 0, 0, 0, 0),
         3,
         {S(1, 16, 5, 7), S(1, 16, 3, 3), S(1, 16, 3, 3)}},
    };
    _Static_assert(sizeof t / sizeof t[0] <= MAX_CASES, "raise MAX_CASES");
    memcpy(out, t, sizeof t);
    return (int)(sizeof t / sizeof t[0]);
}

/* ---- running one case ---- */

static void fill(float *x, int64_t n, float lo, float hi, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = lo + (hi - lo) * (float)((s >> 40) / (double)(1ull << 24));
    }
}

/* 1 when $LUMEN_DEBUG_SELFCHECK_FAIL lists family f (a ','-separated list of names; "fp16:f"
 * for its fp16-storage check). */
static int debug_fail(lumen_check_family f, lumen_precision prec)
{
    const char *s = getenv("LUMEN_DEBUG_SELFCHECK_FAIL");
    char name[32];
    snprintf(name, sizeof name, "%s%s", prec == LUMEN_FP16 ? "fp16:" : "", family_names[f]);
    size_t n = strlen(name);
    for (; s && *s; s += strcspn(s, ","), s += *s == ',')
        if (strcspn(s, ",") == n && !strncmp(s, name, n))
            return 1;
    return 0;
}

/* A device tensor of numel(s) + 2 * pad floats filled with GUARD_VALUE, and a view of s at
 * offset pad holding data (when not NULL). */
static lumen_status upload(lumen_ctx *ctx, const lumen_shape *s, const float *data, int pad,
                           lumen_precision prec, lumen_tensor **base, lumen_tensor **view)
{
    int64_t n = lumen_shape_numel(s);
    lumen_shape bs = {1, {n + 2 * pad}};
    lumen_status st = lumen_tensor_new_prec(ctx, "check", &bs, prec, base);
    if (st == LUMEN_OK)
        st = lumen_tensor_fill(*base, GUARD_VALUE);
    if (st == LUMEN_OK)
        st = lumen_tensor_view(*base, "check", pad, s, view);
    if (st == LUMEN_OK && data)
        st = lumen_tensor_write(*view, data, (size_t)n);
    return st;
}

/* x as the precision stores it. */
static float stored(float x, lumen_precision prec)
{
    return prec == LUMEN_FP16 ? lumen__half_to_float(lumen__float_to_half(x)) : x;
}

/* Compares the device's output (with its guards) against the reference; "" when it matches. */
static void compare(const float *dev, const float *ref, int64_t on, lumen_precision prec, char *why,
                    size_t len)
{
    const float guard = stored(GUARD_VALUE, prec);
    const double atol = 1e-5 + (prec == LUMEN_FP16 ? FP16_ATOL : 0);
    const double rtol = 1e-4 + (prec == LUMEN_FP16 ? FP16_RTOL : 0);
    why[0] = '\0';
    for (int i = 0; i < GUARD; i++)
        if (dev[i] != guard || dev[GUARD + on + i] != guard) {
            snprintf(why, len, "guard value overwritten at %s%d", dev[i] != guard ? "-" : "+", i);
            return;
        }
    for (int64_t i = 0; i < on; i++) {
        float a = dev[GUARD + i], b = ref[i];
        int ok = isnan(b)   ? isnan(a)
                 : isinf(b) ? a == b
                            : isfinite(a) && fabs((double)a - b) <= atol + rtol * fabs(b);
        if (!ok) {
            snprintf(why, len, "at %lld: device %.9g, reference %.9g", (long long)i, a, b);
            return;
        }
    }
}

/*
 * Runs case c on ctx as family f. Returns 1 when it passed; otherwise why says what failed (a
 * device error included). LUMEN_ENOMEM in *st when host memory ran out (no verdict then).
 */
static int run_case(lumen_ctx *ctx, const sc_case *c, lumen_check_family f, lumen_precision prec,
                    char *why, size_t len, lumen_status *st)
{
    const lumen_shape *shapes[5] = {0};
    float *host[5] = {0}, *ref = NULL, *dev = NULL;
    lumen_tensor *bases[5] = {0}, *views[5] = {0}, *ybase = NULL, *y = NULL;
    lumen_shape os;
    char err[LUMEN_ERR_MAX] = "";
    int ok = 0;
    uint64_t seed = lumen__hash64(c->label, strlen(c->label), 0x73656c66ull);
    *st = LUMEN_OK;
    for (int i = 0; i < c->n_in; i++)
        shapes[i] = c->in[i].ndim >= 0 ? &c->in[i] : NULL;
    if (lumen_op_shape(&c->d, c->n_in, shapes, &os, err) != LUMEN_OK) {
        snprintf(why, len, "shape: %s", err);
        return 0;
    }
    int64_t on = lumen_shape_numel(&os);
    for (int i = 0; i < c->n_in; i++) {
        if (!shapes[i])
            continue;
        int64_t n = lumen_shape_numel(shapes[i]);
        if (!(host[i] = malloc((size_t)n * sizeof(float))))
            goto nomem;
        int pos = (c->positive >> i) & 1;
        fill(host[i], n, pos ? 0.25f : -1.0f, pos ? 1.25f : 1.0f, seed + 977u * (uint64_t)i);
        for (int64_t k = 0; prec == LUMEN_FP16 && k < n; k++)
            host[i][k] = stored(host[i][k], prec); /* the reference sees what is stored */
    }
    if (c->nan_at > 0)
        host[0][c->nan_at - 1] = NAN;
    ref = malloc((size_t)on * sizeof(float));
    dev = malloc((size_t)(on + 2 * GUARD) * sizeof(float));
    if (!ref || !dev)
        goto nomem;
    if (lumen_op_ref(&c->d, c->n_in, shapes, (const float *const *)host, ref, err) != LUMEN_OK) {
        snprintf(why, len, "reference: %s", err);
        goto cleanup;
    }
    lumen_status dst = LUMEN_OK;
    for (int i = 0; i < c->n_in && dst == LUMEN_OK; i++)
        if (shapes[i])
            dst = upload(ctx, shapes[i], host[i], IN_PAD + 2 * i, prec, &bases[i], &views[i]);
    if (dst == LUMEN_OK)
        dst = upload(ctx, &os, NULL, GUARD, prec, &ybase, &y);
    if (dst == LUMEN_OK)
        dst = lumen_op_run(ctx, &c->d, c->n_in, (const lumen_tensor *const *)views, y);
    if (dst == LUMEN_OK)
        dst = lumen_ctx_finish(ctx);
    if (dst == LUMEN_OK)
        dst = lumen_tensor_read(ybase, dev, (size_t)(on + 2 * GUARD));
    if (dst != LUMEN_OK) {
        snprintf(why, len, "device: %s: %s", lumen_status_name(dst), lumen_ctx_error(ctx));
        goto cleanup;
    }
    if (debug_fail(f, prec)) /* $LUMEN_DEBUG_SELFCHECK_FAIL: one wrong value, as a broken driver */
        dev[GUARD + on / 2] = ref[on / 2] + 1.0f;
    compare(dev, ref, on, prec, why, len);
    ok = why[0] == '\0';
    goto cleanup;
nomem:
    *st = LUMEN_ENOMEM;
    snprintf(why, len, "out of host memory");
cleanup:
    lumen_tensor_free(y);
    lumen_tensor_free(ybase);
    for (int i = 0; i < 5; i++) {
        lumen_tensor_free(views[i]);
        lumen_tensor_free(bases[i]);
        free(host[i]);
    }
    free(ref);
    free(dev);
    return ok;
}

/* Runs family f's cases with tensors of precision prec into v, stopping at the first failure. */
static lumen_status run_family(lumen_ctx *ctx, lumen_check_family f, lumen_precision prec,
                               lumen_check_verdict *v)
{
    lumen_check_family table_fam = f == LUMEN_CHECK_CLBLAST ? LUMEN_CHECK_GEMM : f;
    lumen_status st = LUMEN_OK;
    double t0 = lumen_clock_ms();
    memset(v, 0, sizeof *v);
    if (prec == LUMEN_FP16 && (f == LUMEN_CHECK_CLBLAST || (ctx->quirks & LUMEN_QUIRK_NO_FP16))) {
        v->verdict = LUMEN_CHECK_SKIP;
        if (f == LUMEN_CHECK_CLBLAST)
            snprintf(v->error, sizeof v->error,
                     "CLBlast is fp32 only: fp16 storage runs the own GEMM kernels");
        else
            lumen_quirks(&ctx->info, v->error, sizeof v->error);
        return LUMEN_OK;
    }
    if (f == LUMEN_CHECK_CLBLAST && (ctx->quirks & LUMEN_QUIRK_NO_CLBLAST)) {
        v->verdict = LUMEN_CHECK_SKIP;
        lumen_quirks(&ctx->info, v->error, sizeof v->error);
        return LUMEN_OK;
    }
    /* the engine under test, whatever the context would choose */
    ctx->gemm = f == LUMEN_CHECK_CLBLAST ? LUMEN_GEMM_CLBLAST : LUMEN_GEMM_OWN;
    sc_case *cases = malloc(MAX_CASES * sizeof *cases);
    if (!cases)
        return LUMEN_ENOMEM;
    int n = case_table(cases);
    for (int i = 0; i < n && st == LUMEN_OK; i++) {
        const sc_case *c = &cases[i];
        if (c->fam != table_fam)
            continue;
        char why[256] = "";
        int ok = run_case(ctx, c, f, prec, why, sizeof why, &st);
        /* gemm.c falls back to the own kernel when CLBlast fails: that is CLBlast failing */
        if (ok && f == LUMEN_CHECK_CLBLAST && lumen__gemm_reason(ctx)[0]) {
            ok = 0;
            snprintf(why, sizeof why, "%s", lumen__gemm_reason(ctx));
        }
        v->cases++;
        if (!ok) {
            v->verdict = LUMEN_CHECK_FAIL;
            snprintf(v->op, sizeof v->op, "%s", lumen_op_name(c->d.op));
            snprintf(v->label, sizeof v->label, "%s", c->label);
            snprintf(v->error, sizeof v->error, "%s", why);
            break;
        }
    }
    free(cases);
    v->ms = lumen_clock_ms() - t0;
    return st;
}

/* ---- the verdict file ---- */

/* What a verdict depends on besides the device and driver: the embedded kernels and the case
 * table. A build that changes either (a new kernel, a new case) checks the device again rather
 * than trusting a verdict about other code. */
static uint64_t checks_hash(void)
{
    uint64_t h = 0x636865636b73ull;
    for (int i = 0; i < lumen__kernel_source_count; i++)
        h = lumen__hash64(lumen__kernel_sources[i].text, strlen(lumen__kernel_sources[i].text), h);
    sc_case *cases = malloc(MAX_CASES * sizeof *cases);
    int n = cases ? case_table(cases) : 0;
    for (int i = 0; i < n; i++) {
        h = lumen__hash64(cases[i].label, strlen(cases[i].label), h);
        h = lumen__hash64(&cases[i].fam, sizeof cases[i].fam, h);
    }
    free(cases);
    return h;
}

static void make_key(const lumen_ctx *ctx, lumen_selfcheck_result *r)
{
    snprintf(r->key, sizeof r->key, "platform=%s|device=%s|driver=%s|lumen=%s|checks=%016llx",
             ctx->info.platform, ctx->info.name, ctx->info.driver, LUMEN_VERSION,
             (unsigned long long)checks_hash());
    r->path[0] = '\0';
    if (ctx->cache_dir[0])
        snprintf(r->path, sizeof r->path, "%s/selfcheck-%016llx.txt", ctx->cache_dir,
                 (unsigned long long)lumen__hash64(r->key, strlen(r->key), 0x73656c66636b00ull));
}

static const char *verdict_name(int v)
{
    return v == LUMEN_CHECK_PASS ? "pass" : v == LUMEN_CHECK_FAIL ? "fail" : "skip";
}

/* Copies s into the file without tabs or newlines (they separate fields and lines). */
static void put_field(FILE *f, const char *s)
{
    fputc('\t', f);
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static void store(const lumen_ctx *ctx, const lumen_selfcheck_result *r)
{
    lumen__out o;
    if (!r->path[0] || lumen_mkdirs(ctx->cache_dir, NULL, 0) != LUMEN_OK ||
        lumen__out_begin(&o, r->path, NULL, 0) != LUMEN_OK)
        return;
    fprintf(o.f, "key %s\nms %.1f\n", r->key, r->ms);
    for (int k = 0; k < 2 * LUMEN_CHECK_COUNT; k++) {
        int f = k % LUMEN_CHECK_COUNT, fp16 = k >= LUMEN_CHECK_COUNT;
        const lumen_check_verdict *v = fp16 ? &r->fp16[f] : &r->fam[f];
        fprintf(o.f, "%s%s\t%s\t%d\t%.1f", fp16 ? "fp16:" : "", family_names[f],
                verdict_name(v->verdict), v->cases, v->ms);
        put_field(o.f, v->op);
        put_field(o.f, v->label);
        put_field(o.f, v->error);
        fputc('\n', o.f);
    }
    lumen__out_end(&o, ferror(o.f) ? LUMEN_EIO : LUMEN_OK, NULL, 0);
}

/* Splits line at tabs into at most n fields (the line is modified); returns the count. */
static int split_tabs(char *line, char **field, int n)
{
    int k = 0;
    line[strcspn(line, "\n")] = '\0';
    while (k < n) {
        field[k++] = line;
        char *t = strchr(line, '\t');
        if (!t)
            break;
        *t = '\0';
        line = t + 1;
    }
    return k;
}

/* Reads the verdict for r->key from r->path; 0 when there is none (or it does not parse). */
static int load(lumen_selfcheck_result *r)
{
    char line[1024], want[600];
    unsigned seen = 0; /* bit f: fam[f]; bit COUNT + f: fp16[f] */
    FILE *f = r->path[0] ? fopen(r->path, "r") : NULL;
    if (!f)
        return 0;
    snprintf(want, sizeof want, "key %s\n", r->key);
    if (!fgets(line, sizeof line, f) || strcmp(line, want) || !fgets(line, sizeof line, f) ||
        sscanf(line, "ms %lf", &r->ms) != 1)
        goto done;
    while (fgets(line, sizeof line, f)) {
        char *fl[7];
        if (split_tabs(line, fl, 7) != 7)
            goto done;
        int fam = -1, fp16 = !strncmp(fl[0], "fp16:", 5);
        for (int i = 0; i < LUMEN_CHECK_COUNT; i++)
            if (!strcmp(fl[0] + (fp16 ? 5 : 0), family_names[i]))
                fam = i;
        int verdict = !strcmp(fl[1], "pass")   ? LUMEN_CHECK_PASS
                      : !strcmp(fl[1], "fail") ? LUMEN_CHECK_FAIL
                      : !strcmp(fl[1], "skip") ? LUMEN_CHECK_SKIP
                                               : -1;
        int bit = fam + (fp16 ? LUMEN_CHECK_COUNT : 0);
        if (fam < 0 || verdict < 0 || (seen >> bit) & 1)
            goto done;
        lumen_check_verdict *v = fp16 ? &r->fp16[fam] : &r->fam[fam];
        v->verdict = verdict;
        v->cases = atoi(fl[2]);
        v->ms = atof(fl[3]);
        snprintf(v->op, sizeof v->op, "%s", fl[4]);
        snprintf(v->label, sizeof v->label, "%s", fl[5]);
        snprintf(v->error, sizeof v->error, "%s", fl[6]);
        seen |= 1u << bit;
    }
done:
    fclose(f);
    return seen == (1u << 2 * LUMEN_CHECK_COUNT) - 1; /* an older file without fp16: run again */
}

/* ---- applying a verdict to the context ---- */

typedef struct check_state {
    unsigned refused;      /* bit per lumen_check_family: models using it are refused */
    unsigned fp16_refused; /* bit per family failed with fp16 storage: such models run fp32 */
    lumen_selfcheck_result r;
} check_state;

void lumen__selfcheck_free(lumen_ctx *ctx)
{
    free(ctx->selfcheck);
    ctx->selfcheck = NULL;
}

/* Ops of family f, for messages ("conv, conv_transpose"). */
static void ops_of(lumen_check_family f, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int op = 0; op < LUMEN_OP_COUNT; op++) {
        lumen_opdesc d = {.op = (lumen_op)op};
        if (!((lumen_check_families_of(&d, NULL) >> f) & 1))
            continue;
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", used ? ", " : "", lumen_op_name((lumen_op)op));
    }
}

/* Fallbacks and refusals; writes each failed family's action. gemm_before: the engine the
 * context had before the check. */
static void apply(lumen_ctx *ctx, check_state *s, lumen_gemm_engine gemm_before)
{
    lumen_selfcheck_result *r = &s->r;
    int own = r->fam[LUMEN_CHECK_GEMM].verdict, clb = r->fam[LUMEN_CHECK_CLBLAST].verdict;
    char ops[160];
    ctx->gemm = gemm_before;
    s->refused = 0;
    r->passed = 1;
    for (int f = 0; f < LUMEN_CHECK_COUNT; f++) {
        lumen_check_verdict *v = &r->fam[f];
        v->action[0] = '\0';
        if (v->verdict != LUMEN_CHECK_FAIL)
            continue;
        r->passed = 0;
        if (f == LUMEN_CHECK_CLBLAST && own == LUMEN_CHECK_PASS) {
            ctx->gemm = LUMEN_GEMM_OWN;
            snprintf(v->action, sizeof v->action, "fallback: the own GEMM kernels are used");
        } else if (f == LUMEN_CHECK_GEMM && clb == LUMEN_CHECK_PASS) {
            ctx->gemm = LUMEN_GEMM_CLBLAST;
            snprintf(v->action, sizeof v->action, "fallback: CLBlast is used for every GEMM");
        } else if (f != LUMEN_CHECK_CLBLAST) {
            s->refused |= 1u << f;
            ops_of((lumen_check_family)f, ops, sizeof ops);
            snprintf(v->action, sizeof v->action, "refused: models using %s", ops);
        } else {
            snprintf(v->action, sizeof v->action, "CLBlast is not used (the own GEMM failed too)");
        }
    }
    s->fp16_refused = 0;
    for (int f = 0; f < LUMEN_CHECK_COUNT; f++) {
        lumen_check_verdict *v = &r->fp16[f];
        v->action[0] = '\0';
        if (v->verdict != LUMEN_CHECK_FAIL)
            continue;
        r->passed = 0;
        s->fp16_refused |= 1u << f;
        ops_of((lumen_check_family)f, ops, sizeof ops);
        snprintf(v->action, sizeof v->action, "fallback: fp16 models using %.140s run in fp32",
                 ops);
    }
}

unsigned lumen_check_families_of(const lumen_opdesc *d, const lumen_shape *const *in)
{
    switch (d->op) {
    case LUMEN_OP_UNARY:
    case LUMEN_OP_BINARY:
        return 1u << LUMEN_CHECK_ELTWISE;
    case LUMEN_OP_CONV: {
        /* pointwise convolutions are GEMMs (conv.c); unknown shapes may be either */
        const lumen_shape *w = in ? in[1] : NULL;
        int pointwise = w != NULL && d->p.conv.groups == 1;
        for (int a = 0; pointwise && a < d->p.conv.nsp; a++)
            pointwise = w->ndim == d->p.conv.nsp + 2 && w->d[2 + a] == 1 &&
                        d->p.conv.stride[a] == 1 && d->p.conv.pad0[a] == 0 &&
                        d->p.conv.pad1[a] == 0;
        return pointwise ? 1u << LUMEN_CHECK_GEMM
                         : (1u << LUMEN_CHECK_CONV) | (w ? 0 : 1u << LUMEN_CHECK_GEMM);
    }
    case LUMEN_OP_CONV_TRANSPOSE:
        return 1u << LUMEN_CHECK_CONV;
    case LUMEN_OP_MATMUL:
        return 1u << LUMEN_CHECK_GEMM;
    case LUMEN_OP_POOL:
    case LUMEN_OP_REDUCE:
        return 1u << LUMEN_CHECK_POOL;
    case LUMEN_OP_RESIZE:
    case LUMEN_OP_GRID_SAMPLE:
    case LUMEN_OP_ROI_ALIGN:
    case LUMEN_OP_CONCAT:
    case LUMEN_OP_SLICE:
    case LUMEN_OP_PAD:
    case LUMEN_OP_TRANSPOSE:
    case LUMEN_OP_RESHAPE:
        return 1u << LUMEN_CHECK_LAYOUT;
    case LUMEN_OP_SOFTMAX:
    case LUMEN_OP_BATCHNORM:
    case LUMEN_OP_INSTANCENORM:
    case LUMEN_OP_LAYERNORM:
    case LUMEN_OP_ARGMAX:
    case LUMEN_OP_TOPK:
    case LUMEN_OP_DET:
        return 1u << LUMEN_CHECK_NORM;
    case LUMEN_OP_ATTENTION:
        return 1u << LUMEN_CHECK_ATTENTION;
    default:
        return 0;
    }
}

/* The first live node of g that uses a family in 'mask' (the lowest such family in *family);
 * -1 when none does. */
static int first_in_families(const lumen_graph *g, unsigned mask, int *family)
{
    for (int i = 0; mask && i < g->n_nodes; i++) {
        const lumen__node *n = &g->nodes[i];
        const lumen_shape *in[LUMEN_MAX_IN] = {0};
        if (n->dead)
            continue;
        for (int j = 0; j < n->n_in; j++)
            in[j] = n->in[j] >= 0 ? &g->values[n->in[j]].shape : NULL;
        unsigned bad = lumen_check_families_of(&n->d, in) & mask;
        for (int f = 0; bad && f < LUMEN_CHECK_COUNT; f++)
            if ((bad >> f) & 1) {
                *family = f;
                return i;
            }
    }
    return -1;
}

/* Called by lumen_model_new on the graph it is about to run: refuses a node whose family
 * failed this context's self-check, naming node, op and the failing case. */
lumen_status lumen__selfcheck_admit(lumen_ctx *ctx, const lumen_graph *g)
{
    const check_state *s = ctx->selfcheck;
    int f, i = s ? first_in_families(g, s->refused, &f) : -1;
    if (i < 0)
        return LUMEN_OK;
    const lumen__node *n = &g->nodes[i];
    const lumen_check_verdict *v = &s->r.fam[f];
    return lumen__fail(ctx, LUMEN_EUNSUPPORTED,
                       "node '%s' (%s) refused: the device self-check failed for '%s' on %s "
                       "(%s '%s': %s); see 'lumen devices --check'",
                       n->name, lumen_op_name(n->d.op), family_names[f], ctx->info.name, v->op,
                       v->label, v->error);
}

/* ---- entry point ---- */

lumen_status lumen_selfcheck(lumen_ctx *ctx, lumen_selfcheck_mode mode, lumen_selfcheck_result *out)
{
    lumen_selfcheck_result *r = out;
    lumen_gemm_engine engine = ctx->gemm;
    lumen_status st = LUMEN_OK;
    memset(r, 0, sizeof *r);
    make_key(ctx, r);
    if (mode != LUMEN_SELFCHECK_RUN && load(r)) {
        r->from_cache = 1;
    } else if (mode == LUMEN_SELFCHECK_STORED) {
        return lumen__fail(ctx, LUMEN_ENOTFOUND, "no stored self-check verdict for %s", r->key);
    } else {
        int profiling = ctx->profiling;
        double t0 = lumen_clock_ms();
        ctx->profiling = 0; /* the check is not part of the user's profile */
        /* the engine the context will use: remembered, else measured now (as the first GEMM
         * would) */
        engine = lumen__gemm_resolve(ctx);
        for (int f = 0; f < LUMEN_CHECK_COUNT && st == LUMEN_OK; f++) {
            /* CLBlast compiles its kernels on first use (a minute on a cold PoCL): checked
             * where it is the engine in use, or has to stand in for a failed own GEMM */
            if (f == LUMEN_CHECK_CLBLAST && engine != LUMEN_GEMM_CLBLAST &&
                !(ctx->quirks & LUMEN_QUIRK_NO_CLBLAST) &&
                r->fam[LUMEN_CHECK_GEMM].verdict != LUMEN_CHECK_FAIL) {
                r->fam[f].verdict = LUMEN_CHECK_SKIP;
                snprintf(r->fam[f].error, sizeof r->fam[f].error,
                         "not in use: the own GEMM engine is selected on this device");
                continue;
            }
            st = run_family(ctx, (lumen_check_family)f, LUMEN_FP32, &r->fam[f]);
        }
        ctx->gemm = engine;
        for (int f = 0; f < LUMEN_CHECK_COUNT && st == LUMEN_OK; f++)
            st = run_family(ctx, (lumen_check_family)f, LUMEN_FP16, &r->fp16[f]);
        ctx->profiling = profiling;
        ctx->gemm = engine;
        r->ms = lumen_clock_ms() - t0;
        if (st != LUMEN_OK)
            return lumen__fail(ctx, st, "self-check: out of host memory");
        ctx->err[0] = '\0';
        store(ctx, r);
    }
    check_state *s = ctx->selfcheck ? ctx->selfcheck : calloc(1, sizeof *s);
    if (!s)
        return lumen__fail(ctx, LUMEN_ENOMEM, "self-check: out of host memory");
    ctx->selfcheck = s;
    s->r = *r;
    apply(ctx, s, engine);
    *out = s->r;
    return LUMEN_OK;
}

/* Called by lumen_model_new for a model asked to run with fp16 storage: 0 (and why) when the
 * device has the no_fp16 quirk or failed the fp16 check of a family the graph uses, so that
 * the model runs in fp32 instead. */
int lumen__selfcheck_fp16_ok(lumen_ctx *ctx, const lumen_graph *g, char *why, size_t len)
{
    const check_state *s = ctx->selfcheck;
    if (ctx->quirks & LUMEN_QUIRK_NO_FP16) {
        char q[256];
        lumen_quirks(&ctx->info, q, sizeof q);
        snprintf(why, len, "quirk no_fp16 (%s)", q);
        return 0;
    }
    int f;
    if (s && first_in_families(g, s->fp16_refused, &f) >= 0) {
        const lumen_check_verdict *v = &s->r.fp16[f];
        snprintf(why, len, "the fp16 self-check failed for '%s' (%s '%s': %s)", family_names[f],
                 v->op, v->label, v->error);
        return 0;
    }
    return 1;
}
