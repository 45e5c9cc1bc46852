/* cases_attention.c - ATTENTION cases: local windows, global keys, angio_qa's L-GSAM shapes,
 * and the shape checks (which must refuse, with a message, what the kernel cannot do).
 *
 * The harness passes q, k and v as separate tensors, so a shared qkv tensor is imitated with
 * nonzero channel offsets (q_c0, k_c0, v_c0) into tensors wider than the heads use. */
#include <stdio.h>

#include "harness.h"

static lumen_opdesc attn(int heads, int head_dim, int window, float scale, int q_c0, int k_c0,
                         int v_c0)
{
    lumen_opdesc d = {.op = LUMEN_OP_ATTENTION};
    lumen_attention_params *p = &d.p.attention;
    p->heads = heads;
    p->head_dim = head_dim;
    p->window = window;
    p->scale = scale;
    p->q_c0 = q_c0;
    p->k_c0 = k_c0;
    p->v_c0 = v_c0;
    return d;
}

/* Shapes the op must refuse; prints one line each. Returns the number that were accepted. */
static int bad_shapes(void)
{
    static const struct {
        const char *label;
        lumen_attention_params p;
        lumen_shape q, k, v;
    } bad[] = {
        {"q channels out of range", {2, 32, 8, 0, 8, 0, 0}, SHAPE(1, 64, 16, 16),
         SHAPE(1, 64, 16, 16), SHAPE(1, 64, 16, 16)},
        {"v channels out of range", {2, 16, 0, 0, 0, 0, 1}, SHAPE(1, 32, 8, 8), SHAPE(1, 32, 4, 4),
         SHAPE(1, 32, 4, 4)},
        {"window does not divide", {1, 16, 8, 0, 0, 0, 0}, SHAPE(1, 16, 12, 16),
         SHAPE(1, 16, 12, 16), SHAPE(1, 16, 12, 16)},
        {"local with Hk != H", {1, 16, 4, 0, 0, 0, 0}, SHAPE(1, 16, 8, 8), SHAPE(1, 16, 4, 4),
         SHAPE(1, 16, 4, 4)},
        {"k and v sizes differ", {1, 16, 0, 0, 0, 0, 0}, SHAPE(1, 16, 8, 8), SHAPE(1, 16, 4, 4),
         SHAPE(1, 16, 2, 2)},
        {"batch differs", {1, 16, 0, 0, 0, 0, 0}, SHAPE(2, 16, 8, 8), SHAPE(1, 16, 4, 4),
         SHAPE(1, 16, 4, 4)},
        {"3-d q", {1, 16, 0, 0, 0, 0, 0}, SHAPE(16, 8, 8), SHAPE(1, 16, 4, 4), SHAPE(1, 16, 4, 4)},
        {"zero heads", {0, 16, 0, 0, 0, 0, 0}, SHAPE(1, 16, 8, 8), SHAPE(1, 16, 4, 4),
         SHAPE(1, 16, 4, 4)},
    };
    int accepted = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lumen_opdesc d = {.op = LUMEN_OP_ATTENTION};
        d.p.attention = bad[i].p;
        const lumen_shape *in[] = {&bad[i].q, &bad[i].k, &bad[i].v};
        lumen_shape out;
        char err[LUMEN_ERR_MAX] = "";
        lumen_status st = lumen_op_shape(&d, 3, in, &out, err);
        int ok = st != LUMEN_OK && err[0];
        accepted += !ok;
        printf("%-9s %-34s refused: %s %s\n", "attention", bad[i].label, ok ? err : "(accepted)",
               ok ? "OK" : "FAIL");
    }
    return accepted;
}

int cases_attention(lumen_ctx *ctx)
{
    /* 1 head, head_dim 2, 2x2 tokens, one window of 2, scale 0.5. Token t attends to all four
     * keys. t1: q = (0, 1), scores 0.5 * (0, 1, 1, 0), so v is averaged with weights
     * (1, e^.5, e^.5, 1): channel 0 = (1 + 4 + e^.5 (2 + 3)) / (2 + 2 e^.5) = 2.5, channel 1 =
     * 0.5. t0: q = (1, 0), weights (e^.5, 1, e^.5, 1): channel 0 = (4 e^.5 + 6) / (2 e^.5 + 2). */
    static const float hq[] = {1, 0, 0, 1, /* channel 1 */ 0, 1, 0, 1};
    static const float hk[] = {1, 0, 1, 0, /* channel 1 */ 0, 1, 1, 0};
    static const float hv[] = {1, 2, 3, 4, /* channel 1 */ 0, 0, 1, 1};
    static const float hy[] = {2.37754067f, 2.5f, 2.5f, 2.43752582f,
                               0.5f,        0.5f, 0.5f, 0.529992576f};
    const tcase cases[] = {
        {"hand 2x2 window 2 scale .5", attn(1, 2, 2, 0.5f, 0, 0, 0), 3,
         {SHAPE(1, 2, 2, 2), SHAPE(1, 2, 2, 2), SHAPE(1, 2, 2, 2)}, {hq, hk, hv}, .expect = hy},
        {"local w8 d32 c0 offsets", attn(2, 32, 8, 0, 16, 8, 4), 3,
         {SHAPE(1, 96, 16, 16), SHAPE(1, 80, 16, 16), SHAPE(1, 72, 16, 16)}},
        {"local w4 3 heads batch 2 scale", attn(3, 16, 4, 0.3f, 0, 5, 2), 3,
         {SHAPE(2, 48, 12, 20), SHAPE(2, 53, 12, 20), SHAPE(2, 51, 12, 20)}},
        {"global 16 keys d32", attn(2, 32, 0, 0, 0, 0, 0), 3,
         {SHAPE(1, 64, 16, 16), SHAPE(1, 64, 4, 4), SHAPE(1, 64, 4, 4)}},
        {"global 64 keys batch 2 d16 odd", attn(2, 16, 0, 0, 3, 1, 0), 3,
         {SHAPE(2, 35, 9, 13), SHAPE(2, 33, 8, 8), SHAPE(2, 32, 8, 8)}},
        {"global d20 generic 15 keys", attn(3, 20, 0, 0, 0, 0, 0), 3,
         {SHAPE(1, 60, 7, 11), SHAPE(1, 60, 5, 3), SHAPE(1, 60, 5, 3)}},
        {"local w2 d8 generic", attn(2, 8, 2, 0, 0, 0, 0), 3,
         {SHAPE(2, 16, 6, 10), SHAPE(2, 16, 6, 10), SHAPE(2, 16, 6, 10)}},
        {"local w8 d64 peaky", attn(1, 64, 8, 0, 0, 0, 0), 3,
         {SHAPE(1, 64, 8, 16), SHAPE(1, 64, 8, 16), SHAPE(1, 64, 8, 16)},
         .lo = {-3, -3, -1}, .hi = {3, 3, 1}},
        {"global 150 keys, 3 chunks", attn(2, 16, 0, 0.2f, 0, 0, 0), 3,
         {SHAPE(1, 32, 11, 7), SHAPE(1, 32, 10, 15), SHAPE(1, 32, 10, 15)}},
        {"local w32 per-token fallback", attn(1, 16, 32, 0, 0, 0, 0), 3,
         {SHAPE(1, 16, 32, 32), SHAPE(1, 16, 32, 32), SHAPE(1, 16, 32, 32)}},
        {"global single key", attn(1, 16, 0, 0, 0, 0, 0), 3,
         {SHAPE(1, 16, 5, 3), SHAPE(1, 16, 1, 1), SHAPE(1, 16, 1, 1)}},
        /* small enough for the Oclgrind run: the tiled kernel of each specialised head size */
        {"small w2 d32 c0 offsets", attn(1, 32, 2, 0, 3, 0, 1), 3,
         {SHAPE(1, 35, 4, 6), SHAPE(1, 32, 4, 6), SHAPE(1, 33, 4, 6)}},
        {"small global d64 6 keys", attn(1, 64, 0, 0, 0, 0, 0), 3,
         {SHAPE(1, 64, 3, 5), SHAPE(1, 64, 2, 3), SHAPE(1, 64, 2, 3)}},
        {"small w2 d16 batch 2", attn(2, 16, 2, 0, 0, 0, 0), 3,
         {SHAPE(2, 32, 4, 4), SHAPE(2, 32, 4, 4), SHAPE(2, 32, 4, 4)}},
        /* angio_qa L-GSAM(C=128, h=4, w=8, p=4) at 32x32: local heads 0-1, global heads 2-3
         * over 8x8 pooled keys (k, v are the pooled [1,128,8,8] maps) */
        {"angio C128 local w8", attn(2, 32, 8, 0, 0, 0, 0), 3,
         {SHAPE(1, 128, 32, 32), SHAPE(1, 128, 32, 32), SHAPE(1, 128, 32, 32)}},
        {"angio C128 global p4", attn(2, 32, 0, 0, 64, 64, 64), 3,
         {SHAPE(1, 128, 32, 32), SHAPE(1, 128, 8, 8), SHAPE(1, 128, 8, 8)}},
        /* L-GSAM(C=256, h=8, w=8, p=2) at 16x16 */
        {"angio C256 local w8", attn(4, 32, 8, 0, 0, 0, 0), 3,
         {SHAPE(1, 256, 16, 16), SHAPE(1, 256, 16, 16), SHAPE(1, 256, 16, 16)}},
        {"angio C256 global p2", attn(4, 32, 0, 0, 128, 128, 128), 3,
         {SHAPE(1, 256, 16, 16), SHAPE(1, 256, 8, 8), SHAPE(1, 256, 8, 8)}},
    };
    int failed = run_cases(ctx, "attention", cases, (int)(sizeof cases / sizeof cases[0]));
    /* A device with too little local memory to stage keys runs the per-token kernel of every
     * head size: small cases for each, on a context that reports 256 bytes of local memory. */
    const tcase small_local[] = {
        {"per-token d16 w2 (local=256)", attn(2, 16, 2, 0, 0, 0, 0), 3,
         {SHAPE(1, 32, 4, 6), SHAPE(1, 32, 4, 6), SHAPE(1, 32, 4, 6)}},
        {"per-token d32 global (local=256)", attn(1, 32, 0, 0, 0, 0, 0), 3,
         {SHAPE(1, 32, 5, 7), SHAPE(1, 32, 3, 3), SHAPE(1, 32, 3, 3)}},
        {"per-token d64 w2 (local=256)", attn(1, 64, 2, 0, 0, 0, 0), 3,
         {SHAPE(1, 64, 4, 6), SHAPE(1, 64, 4, 6), SHAPE(1, 64, 4, 6)}},
        {"per-token d20 w4 (local=256)", attn(2, 20, 4, 0, 0, 0, 0), 3,
         {SHAPE(1, 40, 4, 8), SHAPE(1, 40, 4, 8), SHAPE(1, 40, 4, 8)}},
    };
    lumen_ctx *lim = test_ctx_limited(ctx, "local=256");
    if (!lim)
        return failed + 1 + bad_shapes();
    failed += run_cases(lim, "attention", small_local,
                        (int)(sizeof small_local / sizeof small_local[0]));
    return failed + bad_shapes();
}
