/*
 * onnx_conformance.h - what the two files of the ONNX conformance runner share
 * (onnx_conformance.c runs the tests, onnx_conformance_summary.c prints the tables).
 */
#ifndef LUMEN_ONNX_CONFORMANCE_H
#define LUMEN_ONNX_CONFORMANCE_H

#include <stddef.h>

#define RTOL 1e-3
#define ATOL 1e-5
#define MAX_IO 16
#define MAX_OPS 24
#define MAX_NODE_NAMES 8

enum { R_NONE, R_PASS, R_FAIL, R_SKIP };

typedef struct conf_io {
    char name[128];
    int kind;  /* TYPE_TENSOR, TYPE_SEQUENCE, ... (0: no type given) */
    int dtype; /* elem_type of a tensor */
    int param; /* feeds an op's load-time parameter (see is_param_input) */
} conf_io;

typedef struct conf_test {
    char id[200];  /* "node/test_abs" */
    char dir[512]; /* the test's folder */
    char label[64];
    int n_in, n_out, n_sets, n_nodes, n_ops, n_node_names;
    int n_consts;                    /* integer inputs fed as initializers (see is_const_input) */
    int n_params;                    /* of those, float inputs that are op parameters */
    conf_io in[MAX_IO], out[MAX_IO]; /* graph inputs without initializers; outputs */
    char ops[MAX_OPS][48];           /* distinct op types in node order */
    char node_names[MAX_NODE_NAMES][64];
    /* result */
    int result;
    double maxerr, ms;
    char reason[512];
} conf_test;

/* snprintf that may truncate on purpose (messages into fixed buffers). */
void conf_fmt(char *dst, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));

/* The skip category of skipped test t (onnx_conformance_skips.h), -1 when no rule matches;
 * its name ("training-only"), NULL for -1. */
int conf_skip_category(const conf_test *t);
const char *conf_skip_category_name(int category);

/* One line for finished test t: PASS with its error and time, SKIP with its category and
 * reason, FAIL with the reason. */
void conf_print_result(const conf_test *t);

/* The table by op, the skips by category and by reason, the failures and the totals of
 * tests[0..n). Returns the number of skipped tests that no category rule matches (each is
 * listed; the run fails when there are any). */
int conf_summarize(const conf_test *tests, int n_tests, double total_ms);

#endif
