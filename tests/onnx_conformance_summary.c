/*
 * onnx_conformance_summary.c - the ONNX conformance runner's report (see onnx_conformance.c):
 * a table by op, the skips by category (onnx_conformance_skips.h) and by reason with examples,
 * the skips no category rule matches, the failures, and the totals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_conformance.h"
#include "onnx_conformance_skips.h"

static const char *const category_names[] = {
#define CONF_X(id, name, why) name,
    CONF_SKIP_CATEGORIES(CONF_X)
#undef CONF_X
};
static const char *const category_whys[] = {
#define CONF_X(id, name, why) why,
    CONF_SKIP_CATEGORIES(CONF_X)
#undef CONF_X
};

int conf_skip_category(const conf_test *t)
{
    for (size_t i = 0; i < sizeof conf_skip_rules / sizeof conf_skip_rules[0]; i++) {
        const conf_skip_rule *r = &conf_skip_rules[i];
        int hit = r->on == CONF_ON_OP     ? !strcmp(t->label, r->pattern)
                  : r->on == CONF_ON_TEST ? strstr(t->id, r->pattern) != NULL
                                          : strstr(t->reason, r->pattern) != NULL;
        if (hit)
            return r->category;
    }
    return -1;
}

const char *conf_skip_category_name(int category)
{
    return category >= 0 && category < CONF_SKIP_COUNT ? category_names[category] : NULL;
}

typedef struct conf_row {
    char label[64];
    int run, pass, fail, skip;
} conf_row;

static int cmp_row(const void *a, const void *b)
{
    return strcmp(((const conf_row *)a)->label, ((const conf_row *)b)->label);
}

/* The reason of a skipped test with its node names blanked, so that equal reasons group. */
static void reason_key(const conf_test *t, char *out, size_t n)
{
    conf_fmt(out, n, "%s", t->reason);
    for (int i = 0; i < t->n_node_names; i++) {
        const char *nm = t->node_names[i];
        size_t k = strlen(nm);
        char *p;
        while (k && (p = strstr(out, nm)) != NULL) {
            memmove(p + 1, p + k, strlen(p + k) + 1);
            *p = '*';
        }
    }
}

typedef struct conf_group {
    char key[512];
    int count;
    char examples[3][64];
} conf_group;

static int cmp_group(const void *a, const void *b)
{
    const conf_group *x = a, *y = b;
    return x->count != y->count ? y->count - x->count : strcmp(x->key, y->key);
}

void conf_print_result(const conf_test *t)
{
    if (t->result == R_PASS)
        printf("PASS %-64s %-22s maxerr=%.2g %.0fms%s\n", t->id, t->label, t->maxerr, t->ms,
               t->n_params   ? " (integer and parameter inputs as initializers)"
               : t->n_consts ? " (integer inputs as initializers)"
                             : "");
    else if (t->result == R_SKIP)
        printf("SKIP %-64s %-22s [%s] %s\n", t->id, t->label,
               conf_skip_category(t) >= 0 ? conf_skip_category_name(conf_skip_category(t))
                                          : "no category",
               t->reason);
    else
        printf("%s %-64s %-22s %s\n", t->result == R_FAIL ? "FAIL" : "----", t->id, t->label,
               t->reason);
    fflush(stdout);
}

int conf_summarize(const conf_test *tests, int n_tests, double total_ms)
{
    conf_row *rows = calloc((size_t)n_tests + 1, sizeof *rows);
    conf_group *groups = calloc((size_t)n_tests + 1, sizeof *groups);
    int n_rows = 0, n_groups = 0, pass = 0, fail = 0, skip = 0, unmapped = 0;
    int by_cat[CONF_SKIP_COUNT] = {0};
    if (!rows || !groups) {
        free(rows);
        free(groups);
        return n_tests; /* cannot tell: count nothing as mapped */
    }
    for (int i = 0; i < n_tests; i++) {
        const conf_test *t = &tests[i];
        int r = 0;
        while (r < n_rows && strcmp(rows[r].label, t->label))
            r++;
        if (r == n_rows)
            conf_fmt(rows[n_rows++].label, sizeof rows[0].label, "%s", t->label);
        rows[r].run++;
        rows[r].pass += t->result == R_PASS;
        rows[r].fail += t->result == R_FAIL;
        rows[r].skip += t->result == R_SKIP;
        pass += t->result == R_PASS;
        fail += t->result == R_FAIL;
        skip += t->result == R_SKIP;
        if (t->result == R_SKIP) {
            int cat = conf_skip_category(t);
            if (cat >= 0)
                by_cat[cat]++;
            else
                unmapped++;
            char key[512];
            reason_key(t, key, sizeof key);
            int g = 0;
            while (g < n_groups && strcmp(groups[g].key, key))
                g++;
            if (g == n_groups)
                conf_fmt(groups[n_groups++].key, sizeof key, "%s", key);
            if (groups[g].count < 3)
                conf_fmt(groups[g].examples[groups[g].count], 64, "%s", strrchr(t->id, '/') + 1);
            groups[g].count++;
        }
    }
    qsort(rows, (size_t)n_rows, sizeof *rows, cmp_row);
    printf("\n%-26s %5s %7s %7s %8s\n", "op", "run", "passed", "failed", "skipped");
    for (int r = 0; r < n_rows; r++)
        printf("%-26s %5d %7d %7d %8d%s\n", rows[r].label, rows[r].run, rows[r].pass, rows[r].fail,
               rows[r].skip, rows[r].fail ? "   <- failures" : "");
    printf("%-26s %5d %7d %7d %8d\n", "total", n_tests, pass, fail, skip);

    printf("\nskipped, by category (%d tests; tests/onnx_conformance_skips.h):\n", skip);
    for (int c = 0; c < CONF_SKIP_COUNT; c++)
        if (by_cat[c])
            printf("%5d  %-24s %s\n", by_cat[c], category_names[c], category_whys[c]);
    if (unmapped) {
        printf("%5d  %-24s <- every skip needs a category: implement the op or add a rule\n",
               unmapped, "(no category)");
        for (int i = 0; i < n_tests; i++)
            if (tests[i].result == R_SKIP && conf_skip_category(&tests[i]) < 0)
                printf("         %s [%s] %s\n", tests[i].id, tests[i].label, tests[i].reason);
    }

    qsort(groups, (size_t)n_groups, sizeof *groups, cmp_group);
    printf("\nskipped, by reason (%d tests, %d reasons):\n", skip, n_groups);
    for (int g = 0; g < n_groups; g++) {
        printf("%5d  %s  (", groups[g].count, groups[g].key);
        for (int k = 0; k < groups[g].count && k < 3; k++)
            printf("%s%s", k ? ", " : "", groups[g].examples[k]);
        printf("%s)\n", groups[g].count > 3 ? ", ..." : "");
    }
    if (fail) {
        printf("\nfailed (%d):\n", fail);
        for (int i = 0; i < n_tests; i++)
            if (tests[i].result == R_FAIL)
                printf("  %s [%s] %s\n", tests[i].id, tests[i].label, tests[i].reason);
    }
    printf("\nonnx conformance: %d tests, %d passed, %d failed, %d skipped (%d without a "
           "category) in %.1f s\n",
           n_tests, pass, fail, skip, unmapped, total_ms / 1e3);
    free(rows);
    free(groups);
    return unmapped;
}
