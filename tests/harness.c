/*
 * harness.c - runs op cases: reference on the host, kernel on the device, then compares.
 * See harness.h for what is checked.
 */
#include "harness.h"

#include <math.h>
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
    lumen_status st = lumen_tensor_new(ctx, "base", &bs, base);
    if (st != LUMEN_OK)
        return st;
    if ((st = lumen_tensor_fill(*base, GUARD_VALUE)) != LUMEN_OK ||
        (st = lumen_tensor_view(*base, "in", pad, s, view)) != LUMEN_OK)
        return st;
    return data ? lumen_tensor_write(*view, data, (size_t)n) : LUMEN_OK;
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
    if ((st = lumen_op_run(ctx, &c->d, c->n_in, (const lumen_tensor *const *)views, y)) !=
            LUMEN_OK ||
        (st = lumen_ctx_finish(ctx)) != LUMEN_OK ||
        (st = lumen_tensor_read(ybase, dev, (size_t)(on + 2 * GUARD))) != LUMEN_OK)
        goto device_error;
    for (int i = 0; i < GUARD; i++)
        if (dev[i] != GUARD_VALUE || dev[GUARD + on + i] != GUARD_VALUE) {
            snprintf(line, sizeof line, "guard value overwritten at %s%d",
                     dev[i] != GUARD_VALUE ? "-" : "+", i);
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
        if (d > atol + rtol * fabs(b)) {
            snprintf(line, sizeof line, "at %lld: device %.9g, reference %.9g (|diff| %.3g)",
                     (long long)i, a, b, d);
            goto report;
        }
        if (c->expect && (isnan(c->expect[i]) ? !isnan(b)
                                              : fabs((double)c->expect[i] - b) >
                                                    atol + rtol * fabs(c->expect[i]))) {
            snprintf(line, sizeof line, "at %lld: reference %.9g, hand-computed %.9g", (long long)i,
                     b, c->expect[i]);
            goto report;
        }
    }
    ok = 1;
    snprintf(line, sizeof line, "maxabs=%.2g maxrel=%.2g%s", maxabs, maxrel,
             c->expect ? " hand-checked" : "");
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
