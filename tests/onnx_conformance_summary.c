/*
 * onnx_conformance_summary.c - the ONNX conformance runner's report (see onnx_conformance.c):
 * a table by op, the skip reasons grouped with examples, the failures, and the totals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_conformance.h"

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

void conf_summarize(const conf_test *tests, int n_tests, double total_ms)
{
    conf_row *rows = calloc((size_t)n_tests + 1, sizeof *rows);
    conf_group *groups = calloc((size_t)n_tests + 1, sizeof *groups);
    int n_rows = 0, n_groups = 0, pass = 0, fail = 0, skip = 0;
    if (!rows || !groups) {
        free(rows);
        free(groups);
        return;
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
    printf("\nonnx conformance: %d tests, %d passed, %d failed, %d skipped in %.1f s\n", n_tests,
           pass, fail, skip, total_ms / 1e3);
    free(rows);
    free(groups);
}
