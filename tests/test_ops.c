/*
 * test_ops.c - op parity suite: `test_ops [--max-cost N] [--coverage] [--precision P]
 * [family...]` runs each family's cases on the default device ($LUMEN_DEVICE) and exits
 * non-zero when any case fails.
 *
 * --precision fp32 (the default), fp16 (every case with fp16 storage, harness.h says how it is
 * judged) or both (fp32, then fp16).
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
    fprintf(stderr, "usage: test_ops [--max-cost N] [--coverage] [--precision fp32|fp16|both] "
                    "[family...]; families:");
    for (int f = 0; f < N_FAMILIES; f++)
        fprintf(stderr, " %s", families[f].name);
    fprintf(stderr, "\n");
    return 2;
}

/* Every kernel of every variant of the precisions that ran (ran[0] fp32, ran[1] fp16) was
 * launched, on ctx or on one of the harness's limited contexts: prints the verdict, returns
 * the number of kernels never launched. */
static int coverage(lumen_ctx *ctx, const int *ran)
{
    lumen__variant vs[256];
    int missing = 0, nv = lumen__variants(vs, 256), checked = 0;
    if (nv > 256) {
        printf("coverage: %d variants, more than this test's 256 FAIL\n", nv);
        return 1;
    }
    for (int v = 0; v < nv; v++) {
        lumen__variant var_ = vs[v], *var = &var_;
        char names[2048], buf[256];
        if (!ran[var->fp16])
            continue;
        checked++;
        var->options = lumen__variant_options(&vs[v], buf, sizeof buf);
        if (lumen__variant_kernels(ctx, &vs[v], names, sizeof names) != LUMEN_OK) {
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
        printf("coverage: every kernel of the %d variants launched OK (%s)\n", checked,
               ran[0] && ran[1] ? "fp32 and fp16 storage"
               : ran[1]         ? "fp16 storage"
                                : "fp32");
    return missing;
}

int main(int argc, char **argv)
{
    char err[LUMEN_ERR_MAX];
    const char *want[N_FAMILIES];
    int n_want = 0, check_coverage = 0, ran[2] = {1, 0}; /* precisions: fp32, fp16 */
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--max-cost") && a + 1 < argc)
            test_max_cost = strtod(argv[++a], NULL);
        else if (!strcmp(argv[a], "--coverage"))
            check_coverage = 1;
        else if (!strcmp(argv[a], "--precision") && a + 1 < argc) {
            const char *p = argv[++a];
            if (!strcmp(p, "both"))
                ran[0] = ran[1] = 1;
            else if (!strcmp(p, "fp16") || !strcmp(p, "fp32"))
                ran[0] = p[2] == '3', ran[1] = p[2] == '1';
            else
                return usage();
        } else if (argv[a][0] == '-' || n_want == N_FAMILIES)
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
    for (int prec = 0; prec < 2; prec++) {
        if (!ran[prec])
            continue;
        test_precision = prec ? LUMEN_FP16 : LUMEN_FP32;
        if (ran[0] && ran[1])
            printf("precision: %s storage\n", lumen_precision_name(test_precision));
        for (int f = 0; f < N_FAMILIES; f++) {
            int run = n_want == 0;
            for (int i = 0; i < n_want; i++)
                run |= !strcmp(want[i], families[f].name);
            if (run)
                failed += families[f].fn(ctx);
        }
    }
    if (check_coverage)
        failed += coverage(ctx, ran);
    test_ctx_limited_free();
    lumen_ctx_free(ctx);
    printf("%s: %d case(s) failed\n", failed ? "FAIL" : "PASS", failed);
    return failed ? 1 : 0;
}
