/*
 * harness.c - runs op cases: reference on the host, kernel on the device, then compares.
 * See harness.h for what is checked.
 */
#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 67            /* elements before and after each output; odd on purpose */
#define GUARD_VALUE 1234.5f /* no op writes this by chance */

void test_rand_fill(float *x, int64_t n, float lo, float hi, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = lo + (hi - lo) * (float)((s >> 40) / (double)(1ull << 24));
    }
}

double test_max_cost = 0;
lumen_precision test_precision = LUMEN_FP32;

/* runtime/sys.c's converters (the library's own, tested in test_runtime against _Float16) */
float lumen__half_to_float(uint16_t h);
uint16_t lumen__float_to_half(float f);

float test_round(float x)
{
    return test_precision == LUMEN_FP16 ? lumen__half_to_float(lumen__float_to_half(x)) : x;
}

void test_round_all(float *x, int64_t n)
{
    for (int64_t i = 0; test_precision == LUMEN_FP16 && i < n; i++)
        x[i] = test_round(x[i]);
}

double test_case_cost(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                      const lumen_shape *out)
{
    double cost = lumen_op_flops(d, n_in, in, out) + (double)lumen_shape_numel(out);
    for (int i = 0; i < n_in; i++)
        if (in[i])
            cost += (double)lumen_shape_numel(in[i]);
    return cost;
}

#define MAX_LIMITED 8
static struct {
    char spec[64];
    lumen_ctx *ctx;
} limited[MAX_LIMITED];

lumen_ctx *test_ctx_limited(lumen_ctx *ctx, const char *limits)
{
    int i = 0;
    for (; i < MAX_LIMITED && limited[i].ctx; i++)
        if (!strcmp(limited[i].spec, limits))
            return limited[i].ctx;
    if (i == MAX_LIMITED || strlen(limits) >= sizeof limited[i].spec) {
        printf("test_ctx_limited: too many limit sets or spec too long: %s\n", limits);
        return NULL;
    }
    const lumen_device_info *d = lumen_ctx_device(ctx);
    char sel[32], err[LUMEN_ERR_MAX];
    snprintf(sel, sizeof sel, "%d:%d", d->platform_index, d->device_index);
    lumen_ctx_options opt = {.limits = limits};
    if (lumen_ctx_new_opts(sel, &opt, &limited[i].ctx, err, sizeof err) != LUMEN_OK) {
        printf("test_ctx_limited(%s): %s\n", limits, err);
        return NULL;
    }
    snprintf(limited[i].spec, sizeof limited[i].spec, "%s", limits);
    return limited[i].ctx;
}

lumen_ctx *test_ctx_limited_at(int i)
{
    return i >= 0 && i < MAX_LIMITED ? limited[i].ctx : NULL;
}

void test_ctx_limited_free(void)
{
    for (int i = 0; i < MAX_LIMITED; i++) {
        lumen_ctx_free(limited[i].ctx);
        limited[i].ctx = NULL;
    }
}

static uint64_t label_seed(const char *family, const char *label)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = family; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (const char *p = label; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

/* Puts data at an odd offset inside a larger buffer: offsets in kernels get exercised. */
static lumen_status upload(lumen_ctx *ctx, const lumen_shape *s, const float *data, int pad,
                           lumen_tensor **base, lumen_tensor **view)
{
    int64_t n = lumen_shape_numel(s);
    lumen_shape bs = {1, {n + 2 * pad}};
    lumen_status st = lumen_tensor_new_prec(ctx, "base", &bs, test_precision, base);
    if (st != LUMEN_OK)
        return st;
    if ((st = lumen_tensor_fill(*base, GUARD_VALUE)) != LUMEN_OK ||
        (st = lumen_tensor_view(*base, "in", pad, s, view)) != LUMEN_OK)
        return st;
    return data ? lumen_tensor_write(*view, data, (size_t)n) : LUMEN_OK;
}

/* 1 when d's output holds integer indices, which no tolerance applies to. */
static int index_output(const lumen_opdesc *d)
{
    return d->op == LUMEN_OP_ARGMAX || (d->op == LUMEN_OP_TOPK && d->p.topk.indices) ||
           (d->op == LUMEN_OP_POOL && d->p.pool.indices);
}

int run_case(lumen_ctx *ctx, const char *family, const tcase *c)
{
    char err[LUMEN_ERR_MAX] = "", sh[160] = "", line[512];
    const lumen_shape *shapes[LUMEN_MAX_IN];
    float *host[LUMEN_MAX_IN] = {0};
    lumen_tensor *bases[LUMEN_MAX_IN] = {0}, *views[LUMEN_MAX_IN] = {0};
    lumen_tensor *ybase = NULL, *y = NULL;
    float *ref = NULL, *dev = NULL;
    lumen_shape os;
    int ok = 0;
    double maxabs = 0, maxrel = 0;
    float atol = c->atol > 0 ? c->atol : 1e-5f, rtol = c->rtol > 0 ? c->rtol : 1e-4f;
    const int fp16 = test_precision == LUMEN_FP16;
    const float guard = test_round(GUARD_VALUE);
    double xatol = atol + (fp16 ? TEST_FP16_ATOL : 0), xrtol = rtol + (fp16 ? TEST_FP16_RTOL : 0);
    if (index_output(&c->d))
        xatol = 0, xrtol = 0;
    uint64_t seed = label_seed(family, c->label);
    lumen_status st;

    for (int i = 0; i < c->n_in; i++)
        shapes[i] = c->in[i].ndim >= 0 ? &c->in[i] : NULL;
    if (c->n_in > 0 && shapes[0])
        lumen_shape_format(shapes[0], sh, sizeof sh);
    st = lumen_op_shape(&c->d, c->n_in, shapes, &os, err);
    if (st != LUMEN_OK) {
        snprintf(line, sizeof line, "shape: %s", err);
        goto report;
    }
    if (test_max_cost > 0 && test_case_cost(&c->d, c->n_in, shapes, &os) > test_max_cost) {
        printf("%-12s %-34s in=%s cost %.3g > %.3g SKIP\n", lumen_op_name(c->d.op), c->label, sh,
               test_case_cost(&c->d, c->n_in, shapes, &os), test_max_cost);
        return 1;
    }
    int64_t on = lumen_shape_numel(&os);
    for (int i = 0; i < c->n_in; i++) {
        if (!shapes[i])
            continue;
        int64_t n = lumen_shape_numel(shapes[i]);
        host[i] = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!host[i]) {
            snprintf(line, sizeof line, "out of memory");
            goto report;
        }
        if (c->data[i])
            memcpy(host[i], c->data[i], (size_t)n * sizeof(float));
        else {
            float lo = c->lo[i], hi = c->hi[i];
            if (lo == 0 && hi == 0)
                lo = -1, hi = 1;
            test_rand_fill(host[i], n, lo, hi, seed + 977u * (uint64_t)i);
        }
        test_round_all(host[i], n); /* what the device will store */
    }
    ref = malloc((size_t)(on ? on : 1) * sizeof(float));
    dev = malloc((size_t)(on + 2 * GUARD) * sizeof(float));
    if (!ref || !dev) {
        snprintf(line, sizeof line, "out of memory");
        goto report;
    }
    st = lumen_op_ref(&c->d, c->n_in, shapes, (const float *const *)host, ref, err);
    if (st != LUMEN_OK) {
        snprintf(line, sizeof line, "reference: %s", err);
        goto report;
    }
    for (int i = 0; i < c->n_in; i++)
        if (shapes[i] && (st = upload(ctx, shapes[i], host[i], 3 + 2 * i, &bases[i], &views[i])))
            goto device_error;
    if ((st = upload(ctx, &os, NULL, GUARD, &ybase, &y)) != LUMEN_OK)
        goto device_error;
    st = lumen_op_run(ctx, &c->d, c->n_in, (const lumen_tensor *const *)views, y);
    if (fp16 && c->fp16_refused) {
        ok = st == LUMEN_EUNSUPPORTED && strstr(lumen_ctx_error(ctx), "use fp32");
        snprintf(line, sizeof line, "fp16 %s: %s", ok ? "refused as expected" : "not refused",
                 st != LUMEN_OK ? lumen_ctx_error(ctx) : "it ran");
        goto report;
    }
    if (st != LUMEN_OK || (st = lumen_ctx_finish(ctx)) != LUMEN_OK ||
        (st = lumen_tensor_read(ybase, dev, (size_t)(on + 2 * GUARD))) != LUMEN_OK)
        goto device_error;
    for (int i = 0; i < GUARD; i++)
        if (dev[i] != guard || dev[GUARD + on + i] != guard) {
            snprintf(line, sizeof line, "guard value overwritten at %s%d",
                     dev[i] != guard ? "-" : "+", i);
            goto report;
        }
    for (int64_t i = 0; i < on; i++) {
        float a = dev[GUARD + i], b = ref[i];
        if (isnan(b) || isinf(b)) {
            if (!(isnan(a) && isnan(b)) && a != b) {
                snprintf(line, sizeof line, "at %lld: device %g, reference %g", (long long)i, a, b);
                goto report;
            }
            continue;
        }
        if (!isfinite(a)) {
            snprintf(line, sizeof line, "at %lld: device %g (NaN/Inf), reference %g", (long long)i,
                     a, b);
            goto report;
        }
        double d = fabs((double)a - b);
        if (d > maxabs)
            maxabs = d;
        if (fabs(b) > 1e-6 && d / fabs(b) > maxrel)
            maxrel = d / fabs(b);
        if (d > xatol + xrtol * fabs(b)) {
            snprintf(line, sizeof line, "at %lld: device %.9g, reference %.9g (|diff| %.3g)",
                     (long long)i, a, b, d);
            goto report;
        }
        if (c->expect && !fp16 &&
            (isnan(c->expect[i])
                 ? !isnan(b)
                 : fabs((double)c->expect[i] - b) > atol + rtol * fabs(c->expect[i]))) {
            snprintf(line, sizeof line, "at %lld: reference %.9g, hand-computed %.9g", (long long)i,
                     b, c->expect[i]);
            goto report;
        }
    }
    ok = 1;
    snprintf(line, sizeof line, "maxabs=%.2g maxrel=%.2g%s%s", maxabs, maxrel,
             c->expect && !fp16 ? " hand-checked" : "", fp16 ? " fp16" : "");
    goto report;
device_error:
    snprintf(line, sizeof line, "device: %s: %s", lumen_status_name(st), lumen_ctx_error(ctx));
report : {
    char osb[160] = "?";
    if (ok)
        lumen_shape_format(&os, osb, sizeof osb);
    printf("%-12s %-34s in=%s out=%s %s %s\n", lumen_op_name(c->d.op), c->label, sh, osb, line,
           ok ? "OK" : "FAIL");
    fflush(stdout);
}
    lumen_tensor_free(y);
    lumen_tensor_free(ybase);
    for (int i = 0; i < c->n_in; i++) {
        lumen_tensor_free(views[i]);
        lumen_tensor_free(bases[i]);
        free(host[i]);
    }
    free(ref);
    free(dev);
    return ok;
}

int run_cases(lumen_ctx *ctx, const char *family, const tcase *cases, int n)
{
    int failed = 0;
    for (int i = 0; i < n; i++)
        failed += !run_case(ctx, family, &cases[i]);
    return failed;
}
