/*
 * test_ops.c - op parity suite: `test_ops [--max-cost N] [--coverage] [family...]` runs each
 * family's cases on the default device ($LUMEN_DEVICE) and exits non-zero when any case fails.
 *
 * --max-cost N skips cases costing more than N (harness.h: flops plus elements), for slow
 * devices such as the Oclgrind simulator. --coverage then fails the run when a kernel of any
 * listed variant (runtime/variants.c) was never launched: a skipped big case must not leave a
 * kernel untested, so a new variant needs a case small enough to run everywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

static const struct {
    const char *name;
    family_fn fn;
} families[] = {
    {"eltwise", cases_eltwise},     {"conv", cases_conv},     {"gemm", cases_gemm},
    {"pool", cases_pool},           {"layout", cases_layout}, {"norm", cases_norm},
    {"attention", cases_attention},
};
#define N_FAMILIES ((int)(sizeof families / sizeof families[0]))

static int usage(void)
{
    fprintf(stderr, "usage: test_ops [--max-cost N] [--coverage] [family...]; families:");
    for (int f = 0; f < N_FAMILIES; f++)
        fprintf(stderr, " %s", families[f].name);
    fprintf(stderr, "\n");
    return 2;
}

/* Every kernel of every variant was launched, on ctx or on one of the harness's limited
 * contexts: prints the verdict, returns 1 when it holds. */
static int coverage(lumen_ctx *ctx)
{
    lumen__variant vs[128];
    int missing = 0, nv = lumen__variants(vs, 128);
    if (nv > 128) {
        printf("coverage: %d variants, more than this test's 128 FAIL\n", nv);
        return 1;
    }
    for (int v = 0; v < nv; v++) {
        const lumen__variant *var = &vs[v];
        char names[2048];
        if (lumen__variant_kernels(ctx, var, names, sizeof names) != LUMEN_OK) {
            printf("coverage: %s.cl [%s]: %s FAIL\n", var->family, var->options,
                   lumen_ctx_error(ctx));
            missing++;
            continue;
        }
        for (char *save = NULL, *name = strtok_r(names, ";", &save); name;
             name = strtok_r(NULL, ";", &save)) {
            int used = lumen__kernel_used(ctx, var->family, var->options, name);
            for (int i = 0; !used && test_ctx_limited_at(i); i++)
                used = lumen__kernel_used(test_ctx_limited_at(i), var->family, var->options, name);
            if (!used) {
                printf("coverage: %s.cl [%s] %s never launched FAIL\n", var->family, var->options,
                       name);
                missing++;
            }
        }
    }
    if (!missing)
        printf("coverage: every kernel of the %d variants launched OK\n", nv);
    return missing;
}

int main(int argc, char **argv)
{
    char err[LUMEN_ERR_MAX];
    const char *want[N_FAMILIES];
    int n_want = 0, check_coverage = 0;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--max-cost") && a + 1 < argc)
            test_max_cost = strtod(argv[++a], NULL);
        else if (!strcmp(argv[a], "--coverage"))
            check_coverage = 1;
        else if (argv[a][0] == '-' || n_want == N_FAMILIES)
            return usage();
        else
            want[n_want++] = argv[a];
    }
    for (int i = 0; i < n_want; i++) {
        int known = 0;
        for (int f = 0; f < N_FAMILIES; f++)
            known |= !strcmp(want[i], families[f].name);
        if (!known)
            return usage();
    }
    lumen_ctx *ctx;
    if (lumen_ctx_new(NULL, &ctx, err, sizeof err) != LUMEN_OK) {
        fprintf(stderr, "test_ops: %s\n", err);
        return 1;
    }
    printf("device: %s (%s)\n", lumen_ctx_device(ctx)->name, lumen_ctx_device(ctx)->platform);
    int failed = 0;
    for (int f = 0; f < N_FAMILIES; f++) {
        int run = n_want == 0;
        for (int i = 0; i < n_want; i++)
            run |= !strcmp(want[i], families[f].name);
        if (run)
            failed += families[f].fn(ctx);
    }
    if (check_coverage)
        failed += coverage(ctx);
    test_ctx_limited_free();
    lumen_ctx_free(ctx);
    printf("%s: %d case(s) failed\n", failed ? "FAIL" : "PASS", failed);
    return failed ? 1 : 0;
}
