/*
 * test_ops.c - op parity suite: `test_ops [family...]` runs each family's cases on the default
 * device ($LUMEN_DEVICE) and exits non-zero when any case fails.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

static const struct {
    const char *name;
    family_fn fn;
} families[] = {
    {"eltwise", cases_eltwise},     {"conv", cases_conv},     {"gemm", cases_gemm},
    {"pool", cases_pool},           {"layout", cases_layout}, {"norm", cases_norm},
    {"attention", cases_attention},
};
#define N_FAMILIES ((int)(sizeof families / sizeof families[0]))

int main(int argc, char **argv)
{
    char err[LUMEN_ERR_MAX];
    lumen_ctx *ctx;
    if (lumen_ctx_new(NULL, &ctx, err, sizeof err) != LUMEN_OK) {
        fprintf(stderr, "test_ops: %s\n", err);
        return 1;
    }
    printf("device: %s (%s)\n", lumen_ctx_device(ctx)->name, lumen_ctx_device(ctx)->platform);
    int failed = 0, ran = 0;
    for (int f = 0; f < N_FAMILIES; f++) {
        int want = argc < 2;
        for (int a = 1; a < argc; a++)
            want |= !strcmp(argv[a], families[f].name);
        if (!want)
            continue;
        ran++;
        failed += families[f].fn(ctx);
    }
    lumen_ctx_free(ctx);
    if (ran == 0) {
        fprintf(stderr, "test_ops: no family matches; families:");
        for (int f = 0; f < N_FAMILIES; f++)
            fprintf(stderr, " %s", families[f].name);
        fprintf(stderr, "\n");
        return 2;
    }
    printf("%s: %d case(s) failed\n", failed ? "FAIL" : "PASS", failed);
    return failed ? 1 : 0;
}
