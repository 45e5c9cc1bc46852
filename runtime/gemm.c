/*
 * gemm.c - the GEMM engine behind 1x1 conv, linear, matmul and attention (contract: internal.h,
 * lumen__gemm_args). Two engines compute the same thing:
 *
 * - own: kernels/gemm.cl. When neither operand is transposed (1x1 convolutions, linear layers
 *   on NCHW maps, most matmuls), gemm_direct8_f32 / gemm_direct16_f32 read A and B in place:
 *   8 rows x 8 or 16 columns of C per work-item, no packing pass (a pointwise convolution's B
 *   is a whole activation map, and packing it cost more than the product). Otherwise
 *   gemm_tile_f32 covers whole 8 x 8 tiles of C with float8 vector code,
 *   reading A and B from 8-wide panels that gemm_pack_f32 first copies into a scratch buffer
 *   (sequential reads whatever the transposes and leading dims); gemm_general_f32 (one
 *   work-item per element, strided reads) fills the edge strips and problems under one tile.
 * - clblast: CLBlastSgemm / CLBlastSgemmStridedBatched on the context's queue, then
 *   gemm_epilogue_f32 in place when there is a bias, residual or activation. CLBlast compiles its
 *   kernels on first use (seconds on PoCL) and keeps them in its own per-cl_context memory cache.
 *   A CLBlast error falls back to the own kernel; the reason is kept (lumen__gemm_state.reason) and
 * the context then stays on the own engine.
 *
 * Engine choice: ctx->gemm AUTO means "measure once": the first lumen__gemm times both engines
 * on a representative pointwise-conv shape (M=128, N=4096, K=576) and keeps the faster one in
 * ctx->gemm. The choice is remembered in <cache_dir>/gemm-<hash>.txt, keyed by device name,
 * driver and lumen version, so later processes skip the measurement; $LUMEN_GEMM (parsed in
 * device.c) and lumen_ctx_set_gemm force an engine.
 *
 * fp16 storage (ctx->launch_prec): always the own kernels, their -DLUMEN_FP16 programs; the
 * packed panels stay float (scratch, not tensors), so packing also widens the operands once.
 *
 * State: ctx->gemm_state (lumen__gemm_state, internal.h): the own engine's scratch buffer,
 * created on first use and released by lumen__gemm_free, and CLBlast's fallback reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#include <clblast_c.h>

#define TILE_M 8 /* rows of C per work-item in gemm_tile_f32 */
#define TILE_N 8 /* columns of C per work-item */

/* Representative shape for the engine measurement: a mid-network pointwise convolution. */
#define PROBE_M 128
#define PROBE_N 4096
#define PROBE_K 576

typedef lumen__gemm_state gemm_state;

void lumen__gemm_free(lumen_ctx *ctx)
{
    gemm_state *s = &ctx->gemm_state;
    if (s->scratch)
        clReleaseMemObject(s->scratch);
    s->scratch = NULL;
    s->scratch_bytes = 0;
}

lumen_status lumen_ctx_set_gemm(lumen_ctx *ctx, lumen_gemm_engine e)
{
    if (e != LUMEN_GEMM_AUTO && e != LUMEN_GEMM_OWN && e != LUMEN_GEMM_CLBLAST)
        return lumen__fail(ctx, LUMEN_EINVAL, "lumen_ctx_set_gemm: unknown engine %d", (int)e);
    ctx->gemm = e;
    return LUMEN_OK;
}

lumen_gemm_engine lumen_ctx_gemm(lumen_ctx *ctx)
{
    return ctx->gemm;
}

/* Every program the GEMM kernels below ask for (the ops that use GEMM list these). */
const lumen__variant lumen__gemm_variants[] = {{"gemm", ""}, {NULL}};

/* ---- reference ---- */

void lumen__gemm_ref(const lumen__gemm_args *g, const float *a, const float *b, const float *bias,
                     const float *res, float *c)
{
    for (int bi = 0; bi < g->batch; bi++)
        for (int m = 0; m < g->M; m++)
            for (int n = 0; n < g->N; n++) {
                double acc = 0;
                for (int k = 0; k < g->K; k++) {
                    float av = g->trans_a ? a[bi * g->a_bstride + k * g->lda + m]
                                          : a[bi * g->a_bstride + m * g->lda + k];
                    float bv = g->trans_b ? b[bi * g->b_bstride + n * g->ldb + k]
                                          : b[bi * g->b_bstride + k * g->ldb + n];
                    acc += (double)av * bv;
                }
                double v = g->alpha * acc;
                if (g->bias_mode == 1)
                    v += bias[m];
                else if (g->bias_mode == 2)
                    v += bias[n];
                int ci = bi * g->c_bstride + m * g->ldc + n;
                if (res)
                    v += res[ci];
                c[ci] = lumen__act_ref(&g->act, (float)v);
            }
}

/* ---- own kernels ---- */

/* Epilogue arguments every kernel takes in the same form. */
typedef struct epi_args {
    int res_off; /* -1: no residual */
    int act;
} epi_args;

static epi_args epi_of(const lumen__gemm_args *g)
{
    epi_args e = {g->res ? g->res_off : -1, (int)g->act.act};
    return e;
}

/* gemm_general_f32 over rows [m0, m0 + mc) x cols [n0, n0 + nc) of C, for every batch. */
static lumen_status own_general(lumen_ctx *ctx, const lumen__gemm_args *g, int m0, int mc, int n0,
                                int nc)
{
    if (mc <= 0 || nc <= 0)
        return LUMEN_OK;
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "gemm", "", "gemm_general_f32", &k);
    if (st != LUMEN_OK)
        return st;
    int a_sm = g->trans_a ? 1 : g->lda, a_sk = g->trans_a ? g->lda : 1;
    int b_sk = g->trans_b ? 1 : g->ldb, b_sn = g->trans_b ? g->ldb : 1;
    epi_args e = epi_of(g);
    lumen__arg args[] = {
        {sizeof(cl_mem), &g->a},      {sizeof(int), &g->a_off},     {sizeof(int), &a_sm},
        {sizeof(int), &a_sk},         {sizeof(int), &g->a_bstride}, {sizeof(cl_mem), &g->b},
        {sizeof(int), &g->b_off},     {sizeof(int), &b_sk},         {sizeof(int), &b_sn},
        {sizeof(int), &g->b_bstride}, {sizeof(cl_mem), &g->c},      {sizeof(int), &g->c_off},
        {sizeof(int), &g->ldc},       {sizeof(int), &g->c_bstride}, {sizeof(cl_mem), &g->bias},
        {sizeof(int), &g->bias_off},  {sizeof(int), &g->bias_mode}, {sizeof(cl_mem), &g->res},
        {sizeof(int), &e.res_off},    {sizeof(int), &g->M},         {sizeof(int), &g->N},
        {sizeof(int), &g->K},         {sizeof(int), &m0},           {sizeof(int), &n0},
        {sizeof(float), &g->alpha},   {sizeof(int), &e.act},        {sizeof(float), &g->act.a},
        {sizeof(float), &g->act.b}};
    st = lumen__set_args(ctx, k, "gemm_general_f32", (int)(sizeof args / sizeof args[0]), args);
    if (st != LUMEN_OK)
        return st;
    size_t gws[3] = {(size_t)nc, (size_t)mc, (size_t)g->batch};
    double n = (double)nc * mc * g->batch;
    return lumen__launch(ctx, k, 3, gws, NULL, g->label ? g->label : "gemm", 2.0 * g->K * n,
                         4.0 * n * (2.0 * g->K + 1));
}

/* Makes the scratch buffer hold at least 'floats' elements. */
static lumen_status scratch_reserve(lumen_ctx *ctx, gemm_state *s, size_t floats)
{
    size_t bytes = floats * sizeof(float);
    if (bytes <= s->scratch_bytes)
        return LUMEN_OK;
    if (s->scratch)
        clReleaseMemObject(s->scratch);
    s->scratch = NULL;
    s->scratch_bytes = 0;
    cl_int rc;
    s->scratch = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    if (rc != CL_SUCCESS)
        return lumen__clfail(ctx, rc, "clCreateBuffer(gemm scratch)");
    s->scratch_bytes = bytes;
    return LUMEN_OK;
}

/* gemm_pack_f32: 'tiles' panels of 8 rows u (stride su) by K (stride sk) of x, for 'slabs'
 * batches, into the scratch buffer at p_off. */
static lumen_status pack(lumen_ctx *ctx, gemm_state *s, cl_mem x, int x_off, int su, int sk,
                         int x_bs, int p_off, int K, int tiles, int slabs)
{
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "gemm", "", "gemm_pack_f32", &k);
    if (st != LUMEN_OK)
        return st;
    lumen__arg args[] = {
        {sizeof(cl_mem), &x},  {sizeof(int), &x_off}, {sizeof(int), &su},
        {sizeof(int), &sk},    {sizeof(int), &x_bs},  {sizeof(cl_mem), &s->scratch},
        {sizeof(int), &p_off}, {sizeof(int), &K},     {sizeof(int), &tiles}};
    if ((st = lumen__set_args(ctx, k, "gemm_pack_f32", 9, args)) != LUMEN_OK)
        return st;
    size_t gws[3] = {(size_t)tiles * 8, (size_t)K, (size_t)slabs};
    return lumen__launch(ctx, k, 3, gws, NULL, "gemm pack", 0, 8.0 * gws[0] * gws[1] * gws[2]);
}

/* The tile path: packs A's rows [0, mt) and B's columns [0, nt) into scratch, then runs
 * gemm_tile_f32 over those whole tiles. */
static lumen_status own_tiles(lumen_ctx *ctx, gemm_state *s, const lumen__gemm_args *g, int mt,
                              int nt)
{
    int a_slabs = g->a_bstride == 0 ? 1 : g->batch, b_slabs = g->b_bstride == 0 ? 1 : g->batch;
    int a_ps = g->a_bstride == 0 ? 0 : mt * g->K, b_ps = g->b_bstride == 0 ? 0 : nt * g->K;
    int a_po = 0, b_po = a_slabs * mt * g->K;
    int a_sm = g->trans_a ? 1 : g->lda, a_sk = g->trans_a ? g->lda : 1;
    int b_sn = g->trans_b ? g->ldb : 1, b_sk = g->trans_b ? 1 : g->ldb;
    lumen_status st = scratch_reserve(ctx, s, (size_t)b_po + (size_t)b_slabs * nt * g->K);
    if (st == LUMEN_OK)
        st = pack(ctx, s, g->a, g->a_off, a_sm, a_sk, g->a_bstride, a_po, g->K, mt / 8, a_slabs);
    if (st == LUMEN_OK)
        st = pack(ctx, s, g->b, g->b_off, b_sn, b_sk, g->b_bstride, b_po, g->K, nt / 8, b_slabs);
    cl_kernel k;
    if (st == LUMEN_OK)
        st = lumen__kernel(ctx, "gemm", "", "gemm_tile_f32", &k);
    if (st != LUMEN_OK)
        return st;
    epi_args e = epi_of(g);
    lumen__arg args[] = {
        {sizeof(cl_mem), &s->scratch}, {sizeof(int), &a_po},         {sizeof(int), &a_ps},
        {sizeof(cl_mem), &s->scratch}, {sizeof(int), &b_po},         {sizeof(int), &b_ps},
        {sizeof(int), &g->K},          {sizeof(cl_mem), &g->c},      {sizeof(int), &g->c_off},
        {sizeof(int), &g->ldc},        {sizeof(int), &g->c_bstride}, {sizeof(cl_mem), &g->bias},
        {sizeof(int), &g->bias_off},   {sizeof(int), &g->bias_mode}, {sizeof(cl_mem), &g->res},
        {sizeof(int), &e.res_off},     {sizeof(float), &g->alpha},   {sizeof(int), &e.act},
        {sizeof(float), &g->act.a},    {sizeof(float), &g->act.b}};
    st = lumen__set_args(ctx, k, "gemm_tile_f32", (int)(sizeof args / sizeof args[0]), args);
    if (st != LUMEN_OK)
        return st;
    size_t gws[3] = {(size_t)nt / TILE_N, (size_t)mt / TILE_M, (size_t)g->batch};
    double n = (double)nt * mt * g->batch;
    /* On CPUs a work-group runs on one core, its items in order: a column of up to 8 tiles
     * shares B's panel while it is in L1 (measured best on PoCL; the driver's choice was ~2x
     * slower at 1024^3). Elsewhere the driver chooses. */
    size_t ly = gws[1] % 8 == 0 ? 8 : gws[1] % 4 == 0 ? 4 : gws[1] % 2 == 0 ? 2 : 1;
    while (ly > lumen__max_wg(ctx, k))
        ly /= 2;
    size_t lws[3] = {1, ly, 1};
    int cpu = ctx->info.type == LUMEN_DEV_CPU;
    return lumen__launch(ctx, k, 3, gws, cpu ? lws : NULL, g->label ? g->label : "gemm",
                         2.0 * g->K * n, 4.0 * (n + (double)g->K * (mt + nt) * g->batch));
}

/* gemm_direct<DW>_f32: C from A and B in place (no packing), for non-transposed operands. */
static lumen_status own_direct(lumen_ctx *ctx, const lumen__gemm_args *g, int dw)
{
    const char *name = dw == 16 ? "gemm_direct16_f32" : "gemm_direct8_f32";
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "gemm", "", name, &k);
    if (st != LUMEN_OK)
        return st;
    epi_args e = epi_of(g);
    lumen__arg args[] = {
        {sizeof(cl_mem), &g->a},      {sizeof(int), &g->a_off},     {sizeof(int), &g->lda},
        {sizeof(int), &g->a_bstride}, {sizeof(cl_mem), &g->b},      {sizeof(int), &g->b_off},
        {sizeof(int), &g->ldb},       {sizeof(int), &g->b_bstride}, {sizeof(cl_mem), &g->c},
        {sizeof(int), &g->c_off},     {sizeof(int), &g->ldc},       {sizeof(int), &g->c_bstride},
        {sizeof(cl_mem), &g->bias},   {sizeof(int), &g->bias_off},  {sizeof(int), &g->bias_mode},
        {sizeof(cl_mem), &g->res},    {sizeof(int), &e.res_off},    {sizeof(int), &g->M},
        {sizeof(int), &g->N},         {sizeof(int), &g->K},         {sizeof(float), &g->alpha},
        {sizeof(int), &e.act},        {sizeof(float), &g->act.a},   {sizeof(float), &g->act.b}};
    st = lumen__set_args(ctx, k, name, (int)(sizeof args / sizeof args[0]), args);
    if (st != LUMEN_OK)
        return st;
    size_t gws[3] = {(size_t)(g->M + 7) / 8, (size_t)(g->N + dw - 1) / dw, (size_t)g->batch};
    double n = (double)g->N * g->M * g->batch;
    return lumen__launch(ctx, k, 3, gws, NULL, g->label ? g->label : "gemm", 2.0 * g->K * n,
                         4.0 * (n + (double)g->K * (g->M + g->N) * g->batch));
}

static lumen_status own_gemm(lumen_ctx *ctx, gemm_state *s, const lumen__gemm_args *g)
{
    if (!g->trans_a && !g->trans_b && g->K > 0 && g->vec >= 0)
        return own_direct(ctx, g, g->vec ? g->vec : lumen__vec_width(ctx));
    int mt = g->M / TILE_M * TILE_M, nt = g->N / TILE_N * TILE_N;
    /* the packed panels live in one scratch buffer: beyond the device's largest allocation,
     * the general kernel does the whole product unpacked */
    double packed =
        4.0 * g->K *
        ((g->a_bstride ? g->batch : 1) * (double)mt + (g->b_bstride ? g->batch : 1) * (double)nt);
    if (mt == 0 || nt == 0 || g->K == 0 || packed > (double)ctx->info.max_alloc)
        return own_general(ctx, g, 0, g->M, 0, g->N);
    lumen_status st = own_tiles(ctx, s, g, mt, nt);
    if (st == LUMEN_OK) /* right strip, all rows */
        st = own_general(ctx, g, 0, g->M, nt, g->N - nt);
    if (st == LUMEN_OK) /* bottom strip under the tiles */
        st = own_general(ctx, g, mt, g->M - mt, 0, nt);
    return st;
}

/* ---- CLBlast engine ---- */

/* gemm_epilogue_f32: C = act(C + bias + R) in place (alpha was applied by CLBlast). */
static lumen_status epilogue(lumen_ctx *ctx, const lumen__gemm_args *g)
{
    cl_kernel k;
    lumen_status st = lumen__kernel(ctx, "gemm", "", "gemm_epilogue_f32", &k);
    if (st != LUMEN_OK)
        return st;
    epi_args e = epi_of(g);
    lumen__arg args[] = {
        {sizeof(cl_mem), &g->c},      {sizeof(int), &g->c_off},   {sizeof(int), &g->ldc},
        {sizeof(int), &g->c_bstride}, {sizeof(cl_mem), &g->bias}, {sizeof(int), &g->bias_off},
        {sizeof(int), &g->bias_mode}, {sizeof(cl_mem), &g->res},  {sizeof(int), &e.res_off},
        {sizeof(int), &g->M},         {sizeof(int), &g->N},       {sizeof(int), &e.act},
        {sizeof(float), &g->act.a},   {sizeof(float), &g->act.b}};
    st = lumen__set_args(ctx, k, "gemm_epilogue_f32", (int)(sizeof args / sizeof args[0]), args);
    if (st != LUMEN_OK)
        return st;
    size_t gws[3] = {(size_t)g->N, (size_t)g->M, (size_t)g->batch};
    double n = (double)g->N * g->M * g->batch;
    return lumen__launch(ctx, k, 3, gws, NULL, "gemm epilogue", 2 * n, 12 * n);
}

/*
 * CLBlast, then the epilogue when needed. *cl_status receives CLBlast's status (0: success);
 * a CLBlast failure returns LUMEN_ECL with nothing enqueued, so the caller can fall back.
 * A residual that is C itself (same buffer and offset, the in-place residual add) is folded
 * into the GEMM as beta = 1, because C is overwritten before the epilogue could read it.
 */
static lumen_status clblast_gemm(lumen_ctx *ctx, const lumen__gemm_args *g, int *cl_status)
{
    CLBlastTranspose ta = g->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = g->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    lumen__gemm_args e = *g;
    float beta = 0.0f;
    if (g->res && g->res == g->c && g->res_off == g->c_off) {
        beta = 1.0f;
        e.res = NULL;
    }
    cl_event ev = NULL;
    CLBlastStatusCode rc;
    if (g->batch == 1)
        rc = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, (size_t)g->M, (size_t)g->N, (size_t)g->K,
                          g->alpha, g->a, (size_t)g->a_off, (size_t)g->lda, g->b, (size_t)g->b_off,
                          (size_t)g->ldb, beta, g->c, (size_t)g->c_off, (size_t)g->ldc, &ctx->queue,
                          ctx->profiling ? &ev : NULL);
    else
        rc = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, ta, tb, (size_t)g->M, (size_t)g->N, (size_t)g->K, g->alpha, g->a,
            (size_t)g->a_off, (size_t)g->lda, (size_t)g->a_bstride, g->b, (size_t)g->b_off,
            (size_t)g->ldb, (size_t)g->b_bstride, beta, g->c, (size_t)g->c_off, (size_t)g->ldc,
            (size_t)g->c_bstride, (size_t)g->batch, &ctx->queue, ctx->profiling ? &ev : NULL);
    *cl_status = (int)rc;
    if (rc != CLBlastSuccess)
        return LUMEN_ECL;
    if (ev) { /* out of memory only costs the profile this record: the result is unaffected */
        char label[64];
        snprintf(label, sizeof label, "%s (clblast)", g->label ? g->label : "gemm");
        lumen__keep_event(ctx, ev, label, 2.0 * g->M * g->N * g->K * (double)g->batch, 0);
    }
    if (e.bias_mode || e.res || e.act.act != LUMEN_ACT_NONE)
        return epilogue(ctx, &e);
    return LUMEN_OK;
}

/* ---- engine choice: measure once per device, remember on disk ---- */

static const char *engine_name(lumen_gemm_engine e)
{
    return e == LUMEN_GEMM_OWN ? "own" : e == LUMEN_GEMM_CLBLAST ? "clblast" : "auto";
}

/* "<cache_dir>/gemm-<hash>.txt" for this device; key receives the text it must contain. */
static void choice_path(const lumen_ctx *ctx, char *path, size_t plen, char *key, size_t klen)
{
    snprintf(key, klen, "device=%s|driver=%s|platform=%s|lumen=%s", ctx->info.name,
             ctx->info.driver, ctx->info.platform, LUMEN_VERSION);
    snprintf(path, plen, "%s/gemm-%016llx.txt", ctx->cache_dir,
             (unsigned long long)lumen__hash64(key, strlen(key), 0x6c756d656e67656dull));
}

/* The remembered choice, or AUTO when there is none (or it is for another key). */
static lumen_gemm_engine choice_load(const lumen_ctx *ctx)
{
    char path[700], key[512], line[600], want[600];
    if (!ctx->cache_dir[0])
        return LUMEN_GEMM_AUTO;
    choice_path(ctx, path, sizeof path, key, sizeof key);
    FILE *f = fopen(path, "r");
    if (!f)
        return LUMEN_GEMM_AUTO;
    lumen_gemm_engine e = LUMEN_GEMM_AUTO;
    snprintf(want, sizeof want, "key %s\n", key);
    if (fgets(line, sizeof line, f) && !strcmp(line, want) && fgets(line, sizeof line, f)) {
        if (!strcmp(line, "engine own\n"))
            e = LUMEN_GEMM_OWN;
        else if (!strcmp(line, "engine clblast\n"))
            e = LUMEN_GEMM_CLBLAST;
    }
    fclose(f);
    return e;
}

/* Writes the choice through a temporary file and rename, so readers never see half a file.
 * Failing to store is not an error: the next process measures again. */
static void choice_store(const lumen_ctx *ctx, lumen_gemm_engine e, double ms_own,
                         double ms_clblast)
{
    char path[700], key[512], text[1024];
    if (!ctx->cache_dir[0] || lumen_mkdirs(ctx->cache_dir, NULL, 0) != LUMEN_OK)
        return;
    choice_path(ctx, path, sizeof path, key, sizeof key);
    int n = snprintf(text, sizeof text, "key %s\nengine %s\nms own %.3f clblast %.3f (%dx%dx%d)\n",
                     key, engine_name(e), ms_own, ms_clblast, PROBE_M, PROBE_N, PROBE_K);
    if (n > 0 && (size_t)n < sizeof text)
        lumen_file_write(path, text, (size_t)n, NULL, 0);
}

/* Best of a few timed runs of one engine on g (after a warm-up run); < 0 when it failed. */
static double probe_engine(lumen_ctx *ctx, gemm_state *s, const lumen__gemm_args *g,
                           lumen_gemm_engine e)
{
    double best = -1;
    for (int i = 0; i < 4; i++) {
        double t0 = lumen_clock_ms();
        lumen_status st;
        if (e == LUMEN_GEMM_CLBLAST) {
            int rc = 0;
            st = clblast_gemm(ctx, g, &rc);
            if (st != LUMEN_OK && rc != 0) {
                snprintf(s->reason, sizeof s->reason,
                         "CLBlast error %d on the probe GEMM: using the own kernel", rc);
                s->clblast_broken = 1;
            }
        } else {
            st = own_gemm(ctx, s, g);
        }
        if (st != LUMEN_OK || clFinish(ctx->queue) != CL_SUCCESS)
            return -1;
        double t = lumen_clock_ms() - t0;
        if (i > 0 && (best < 0 || t < best))
            best = t;
    }
    return best;
}

/*
 * Resolves ctx->gemm == AUTO: the remembered choice for this device, else a measurement of
 * both engines on the probe shape (the first call pays CLBlast's kernel compile). A failure
 * of the measurement itself (no memory) leaves the own engine chosen.
 */
static void choose_engine(lumen_ctx *ctx, gemm_state *s)
{
    lumen_gemm_engine e = choice_load(ctx);
    if (e != LUMEN_GEMM_AUTO) {
        ctx->gemm = e;
        return;
    }
    lumen__gemm_args g = {1, PROBE_M, PROBE_N, PROBE_K, 0, 0, 1.0f};
    g.lda = PROBE_K, g.ldb = PROBE_N, g.ldc = PROBE_N;
    g.label = "gemm probe";
    size_t sz[3] = {(size_t)PROBE_M * PROBE_K, (size_t)PROBE_K * PROBE_N,
                    (size_t)PROBE_M * PROBE_N};
    cl_mem m[3] = {NULL, NULL, NULL};
    int ok = 1;
    for (int i = 0; i < 3 && ok; i++) {
        cl_int rc;
        float zero = 0;
        m[i] = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, sz[i] * sizeof(float), NULL, &rc);
        ok = rc == CL_SUCCESS &&
             clEnqueueFillBuffer(ctx->queue, m[i], &zero, sizeof zero, 0, sz[i] * sizeof(float), 0,
                                 NULL, NULL) == CL_SUCCESS;
    }
    double t_own = -1, t_clb = -1;
    int profiling = ctx->profiling;
    ctx->profiling = 0; /* the probe is not part of the user's profile */
    if (ok) {
        g.a = m[0], g.b = m[1], g.c = m[2];
        t_own = probe_engine(ctx, s, &g, LUMEN_GEMM_OWN);
        t_clb = probe_engine(ctx, s, &g, LUMEN_GEMM_CLBLAST);
    }
    ctx->profiling = profiling;
    for (int i = 0; i < 3; i++)
        if (m[i])
            clReleaseMemObject(m[i]);
    ctx->err[0] = '\0';
    e = t_clb > 0 && (t_own < 0 || t_clb < t_own) ? LUMEN_GEMM_CLBLAST : LUMEN_GEMM_OWN;
    ctx->gemm = e;
    if (ok && t_own > 0)
        choice_store(ctx, e, t_own, t_clb);
}

lumen_gemm_engine lumen__gemm_resolve(lumen_ctx *ctx)
{
    if (ctx->gemm == LUMEN_GEMM_AUTO)
        choose_engine(ctx, &ctx->gemm_state);
    return ctx->gemm;
}

const char *lumen__gemm_reason(lumen_ctx *ctx)
{
    return ctx->gemm_state.reason;
}

/* ---- entry point ---- */

lumen_status lumen__gemm(lumen_ctx *ctx, const lumen__gemm_args *g)
{
    if (g->batch < 0 || g->M < 0 || g->N < 0 || g->K < 0 || g->bias_mode < 0 || g->bias_mode > 2 ||
        (g->bias_mode && !g->bias))
        return lumen__fail(ctx, LUMEN_EINVAL, "gemm: bad arguments (batch %d, %d x %d x %d)",
                           g->batch, g->M, g->N, g->K);
    if (g->batch == 0 || g->M == 0 || g->N == 0)
        return LUMEN_OK;
    gemm_state *s = &ctx->gemm_state;
    /* CLBlast's Sgemm is fp32: half storage always takes the own kernels (and needs no
     * measurement to know it). */
    if (ctx->launch_prec == LUMEN_FP16)
        return own_gemm(ctx, s, g);
    if (ctx->gemm == LUMEN_GEMM_AUTO)
        choose_engine(ctx, s);
    lumen_gemm_engine e = ctx->gemm;
    if (e == LUMEN_GEMM_CLBLAST && g->K > 0 && !s->clblast_broken) {
        int rc = 0;
        lumen_status st = clblast_gemm(ctx, g, &rc);
        if (st == LUMEN_OK || rc == 0)
            return st; /* done, or CLBlast worked and our epilogue failed */
        snprintf(s->reason, sizeof s->reason,
                 "CLBlast error %d in %s (%d x %d x %d, batch %d): using the own kernel", rc,
                 g->batch == 1 ? "CLBlastSgemm" : "CLBlastSgemmStridedBatched", g->M, g->N, g->K,
                 g->batch);
        s->clblast_broken = 1;
    }
    return own_gemm(ctx, s, g);
}
