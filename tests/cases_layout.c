/* cases_layout.c - CONCAT, SLICE, PAD, TRANSPOSE, RESHAPE and TAKE cases. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static lumen_opdesc concat(int axis)
{
    lumen_opdesc d = {.op = LUMEN_OP_CONCAT};
    d.p.concat.axis = axis;
    return d;
}

/* Slice of a rank-n input: start/step/count triples per axis, outermost first. */
static lumen_opdesc slice(int n, const int64_t *ssc)
{
    lumen_opdesc d = {.op = LUMEN_OP_SLICE};
    for (int i = 0; i < n; i++) {
        d.p.slice.start[i] = ssc[3 * i];
        d.p.slice.step[i] = ssc[3 * i + 1];
        d.p.slice.count[i] = ssc[3 * i + 2];
    }
    return d;
}

/* Pad of a rank-n input: (pad0, pad1) pairs per axis. */
static lumen_opdesc pad(int n, const int64_t *pp, float value)
{
    lumen_opdesc d = {.op = LUMEN_OP_PAD};
    for (int i = 0; i < n; i++) {
        d.p.pad.pad0[i] = pp[2 * i];
        d.p.pad.pad1[i] = pp[2 * i + 1];
    }
    d.p.pad.value = value;
    return d;
}

static lumen_opdesc transpose(int n, const int *perm)
{
    lumen_opdesc d = {.op = LUMEN_OP_TRANSPOSE};
    for (int i = 0; i < n; i++)
        d.p.transpose.perm[i] = perm[i];
    return d;
}

static lumen_opdesc reshape(lumen_shape s)
{
    lumen_opdesc d = {.op = LUMEN_OP_RESHAPE};
    d.p.reshape.shape = s;
    return d;
}

/*
 * fp16 storage only: lumen_tensor_copy between precisions (layout.cl's f32_to_f16 and
 * f16_to_f32 at odd offsets) against the host's own conversion (test_round), over values that
 * exercise every class: normal, subnormal, underflow to 0, overflow to inf, the largest half,
 * ties to even, signed zero, inf and NaN. Both directions must agree bit for bit.
 */
static int convert_case(lumen_ctx *ctx)
{
    static const float v[] = {0.0f, -0.0f, 1.0f, -2.5f, 0.1f, 65504.0f, 65520.0f, -70000.0f,
                              6.1035156e-05f, 5.9604645e-08f, 2.9802322e-08f, 2.0e-8f,
                              1.0009765625f, 1.00048828125f, 1.00146484375f, 3.0e-6f,
                              INFINITY, -INFINITY, NAN, 1234.5f, 2049.0f, -1e-3f};
    enum { N = (int)(sizeof v / sizeof v[0]), OFF = 3 };
    lumen_shape s = {1, {N}}, sb = {1, {N + OFF}};
    lumen_tensor *f32 = NULL, *base = NULL, *f16 = NULL, *back = NULL;
    float out[N];
    char line[256] = "";
    int ok = 0;
    lumen_status st;
    if ((st = lumen_tensor_new(ctx, "f32", &s, &f32)) ||
        (st = lumen_tensor_new_prec(ctx, "base", &sb, LUMEN_FP16, &base)) ||
        (st = lumen_tensor_view(base, "f16", OFF, &s, &f16)) ||
        (st = lumen_tensor_new(ctx, "back", &s, &back)) ||
        (st = lumen_tensor_write(f32, v, N)) || (st = lumen_tensor_copy(f16, f32)) ||
        (st = lumen_tensor_copy(back, f16)) || (st = lumen_ctx_finish(ctx)) ||
        (st = lumen_tensor_read(back, out, N))) {
        snprintf(line, sizeof line, "device: %s", lumen_ctx_error(ctx));
        goto done;
    }
    for (int i = 0; i < N; i++) {
        float want = test_round(v[i]);
        if (isnan(want) ? !isnan(out[i]) : memcmp(&want, &out[i], sizeof want) != 0) {
            snprintf(line, sizeof line, "at %d: %.9g -> device %.9g, host %.9g", i, v[i], out[i],
                     want);
            goto done;
        }
    }
    ok = 1;
    snprintf(line, sizeof line, "%d values bit-exact", N);
done:
    printf("%-12s %-34s %s %s\n", "copy", "fp32 <-> fp16 conversion", line, ok ? "OK" : "FAIL");
    lumen_tensor_free(f32), lumen_tensor_free(f16), lumen_tensor_free(base);
    lumen_tensor_free(back);
    return ok;
}

int cases_layout(lumen_ctx *ctx)
{
    static const float a2[] = {1, 2}, b4[] = {3, 4, 5, 6};
    static const float cat_x[] = {1, 3, 4, 2, 5, 6}; /* [2,1] ++ [2,2] on axis 1 */
    static const float r5[] = {0, 1, 2, 3, 4}, rev2_x[] = {4, 2, 0};
    static const float m4[] = {1, 2, 3, 4}, pad_x[] = {9, 9, 9, 1, 2, 9, 3, 4, 9};
    static const float m6[] = {1, 2, 3, 4, 5, 6}, tr_x[] = {1, 4, 2, 5, 3, 6};
    static const int64_t sl_rev[] = {4, -2, 3};
    static const int64_t sl_img[] = {0, 1, 2, 2, 1, 5, 1, 2, 16, 16, -1, 17};
    static const int64_t sl_neg3[] = {16, -3, 6, 33, -4, 9, 8, -1, 9};
    static const int64_t sl_6d[] = {1, 1, 1, 0, 2, 2, 3, -1, 4, 1, 2, 2, 2, -2, 2, 0, 1, 2};
    static const int64_t pd_hand[] = {1, 0, 0, 1};
    static const int64_t pd_hw[] = {0, 0, 0, 0, 1, 2, 3, 0};
    static const int64_t pd_5d[] = {1, 0, 0, 2, 2, 1, 0, 3, 1, 1};
    static const int64_t pd_n[] = {2, 1, 0, 0};
    static const int p10[] = {1, 0}, p_nhwc[] = {0, 2, 3, 1}, p_nchw[] = {0, 3, 1, 2};
    static const int p_last2[] = {0, 2, 1}, p_5d[] = {4, 1, 3, 0, 2};
    static const int p_6d[] = {5, 3, 1, 0, 2, 4}, p_ones[] = {3, 2, 1, 0}, p_id1[] = {1, 0, 2};
    static const int p_5d_blk[] = {0, 3, 4, 1, 2};
    /* TAKE: a scattered walk over an odd [2,9,34,17] input (7919 is prime, so no repeats) */
    static float take_idx[7 * 13 * 11];
    for (int i = 0; i < 7 * 13 * 11; i++)
        take_idx[i] = (float)((i * 7919) % (2 * 9 * 34 * 17));
    static const float take_x[] = {10, 11, 12, 13, 14, 15};
    static const float take_bad[] = {5, 0, 0, 6, -1, 2.5f, NAN, 3, 5};
    const lumen_opdesc take = {.op = LUMEN_OP_TAKE};
    const tcase cases[] = {
        /* TAKE */
        {"take reverse dup bad hand", take, 2, {SHAPE(2, 3), SHAPE(9)}, {take_x, take_bad}, .expect = (const float[]){15, 10, 10, NAN, NAN, NAN, NAN, 13, 15}},
        {"take scattered odd", take, 2, {SHAPE(2, 9, 34, 17), SHAPE(7, 13, 11)}, {NULL, take_idx}},
        {"take rank-0 index", take, 2, {SHAPE(5), {0, {0}}}, {NULL, (const float[]){4}}},
        /* CONCAT */
        {"axis1 hand", concat(1), 2, {SHAPE(2, 1), SHAPE(2, 2)}, {a2, b4}, .expect = cat_x},
        {"3 inputs axis1",
         concat(1),
         3,
         {SHAPE(2, 3, 17, 9), SHAPE(2, 5, 17, 9), SHAPE(2, 1, 17, 9)}},
        {"3 inputs last axis",
         concat(3),
         3,
         {SHAPE(2, 3, 17, 9), SHAPE(2, 3, 17, 4), SHAPE(2, 3, 17, 1)}},
        {"axis -1 (last)", concat(-1), 2, {SHAPE(3, 34, 17), SHAPE(3, 34, 2)}},
        {"axis0", concat(0), 2, {SHAPE(3, 7), SHAPE(5, 7)}},
        {"5 inputs 3d axis2",
         concat(2),
         5,
         {SHAPE(1, 2, 3, 4, 5), SHAPE(1, 2, 1, 4, 5), SHAPE(1, 2, 2, 4, 5), SHAPE(1, 2, 3, 4, 5),
          SHAPE(1, 2, 4, 4, 5)}},
        /* SLICE */
        {"step -2 hand", slice(1, sl_rev), 1, {SHAPE(5)}, {r5}, .expect = rev2_x},
        {"channels, H s2, W reversed", slice(4, sl_img), 1, {SHAPE(2, 9, 34, 17)}},
        {"steps -3 -4 -1 odd", slice(3, sl_neg3), 1, {SHAPE(17, 34, 9)}},
        {"6-d mixed steps", slice(6, sl_6d), 1, {SHAPE(2, 3, 4, 5, 3, 2)}},
        /* PAD */
        {"hand value 9", pad(2, pd_hand, 9), 1, {SHAPE(2, 2)}, {m4}, .expect = pad_x},
        {"H 1/2 W 3/0 odd", pad(4, pd_hw, -1.5f), 1, {SHAPE(2, 3, 17, 9)}},
        {"5-d every axis", pad(5, pd_5d, 0.25f), 1, {SHAPE(2, 2, 3, 4, 5)}},
        {"batch only", pad(2, pd_n, 0), 1, {SHAPE(3, 17)}},
        /* TRANSPOSE */
        {"2-d hand", transpose(2, p10), 1, {SHAPE(2, 3)}, {m6}, .expect = tr_x},
        {"NCHW->NHWC odd (tiled)", transpose(4, p_nhwc), 1, {SHAPE(2, 9, 34, 17)}},
        {"NHWC->NCHW odd (tiled)", transpose(4, p_nchw), 1, {SHAPE(2, 34, 17, 9)}},
        {"swap last two odd", transpose(3, p_last2), 1, {SHAPE(3, 17, 34)}},
        {"2-d large tiled", transpose(2, p10), 1, {SHAPE(67, 129)}},
        {"5-d perm", transpose(5, p_5d), 1, {SHAPE(2, 3, 4, 5, 6)}},
        {"5-d perm blocks", transpose(5, p_5d_blk), 1, {SHAPE(2, 3, 5, 4, 7)}},
        {"6-d perm", transpose(6, p_6d), 1, {SHAPE(2, 3, 2, 4, 3, 5)}},
        {"extent-1 axes", transpose(4, p_ones), 1, {SHAPE(1, 5, 1, 7)}},
        {"identity after merge", transpose(3, p_id1), 1, {SHAPE(4, 1, 6)}},
        /* RESHAPE */
        {"hand [2,3]->[3,2]", reshape(SHAPE(3, 2)), 1, {SHAPE(2, 3)}, {m6}, .expect = m6},
        {"NCHW -> [N*C, HW]", reshape(SHAPE(18, 578)), 1, {SHAPE(2, 9, 34, 17)}},
        {"odd to flat", reshape(SHAPE(5202)), 1, {SHAPE(17, 34, 9)}},
        {"to scalar", reshape((lumen_shape){0, {0}}), 1, {SHAPE(1, 1)}},
    };
    int failed = run_cases(ctx, "layout", cases, (int)(sizeof cases / sizeof cases[0]));
    if (test_precision == LUMEN_FP16)
        failed += !convert_case(ctx);
    return failed;
}
