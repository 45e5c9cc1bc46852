/*
 * harness.h - the op test harness: every OpenCL op against its plain-C reference.
 *
 * A case is one line of a table: an op descriptor, input shapes (ndim < 0 marks an absent
 * optional input), optional fixed input data and an optional hand-computed expected output.
 * The runner fills random inputs (fixed seed per case), runs the reference on the host and the
 * op on the device with inputs and output placed at odd offsets inside larger buffers, and
 * checks: no NaN/Inf (unless the reference has them too), |dev - ref| <= 1e-5 + 1e-4*|ref|,
 * guard values before and after the output untouched, and the hand-computed values if given.
 * Every case can run with fp16 storage as well (test_precision, below).
 */
#ifndef LUMEN_TEST_HARNESS_H
#define LUMEN_TEST_HARNESS_H

#include "lumen.h"

typedef struct tcase {
    const char *label; /* printed, e.g. "dw3x3 s2 odd" */
    lumen_opdesc d;
    int n_in;
    lumen_shape in[LUMEN_MAX_IN];             /* ndim < 0: absent optional input */
    const float *data[LUMEN_MAX_IN];          /* NULL: random in [lo, hi] */
    float lo[LUMEN_MAX_IN], hi[LUMEN_MAX_IN]; /* both 0: [-1, 1] */
    const float *expect;                      /* hand-computed output, or NULL */
    float atol, rtol;                         /* 0: the defaults 1e-5, 1e-4 */
    int fp16_refused; /* 1: with fp16 storage the op must refuse (LUMEN_EUNSUPPORTED): its
                         integer outputs go beyond what half holds exactly */
} tcase;

/* Shape literal: SHAPE(1, 16, 34, 17). */
#define SHAPE(...)                                                                                 \
    ((lumen_shape){sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), {__VA_ARGS__}})
#define ABSENT ((lumen_shape){-1, {0}})

/*
 * Storage precision of every tensor run_case makes (test_ops --precision). With LUMEN_FP16 the
 * same plain-C fp32 reference is the oracle, and:
 * - inputs are rounded to half on the host first (test_round), so the reference sees exactly
 *   what the device stores; what is left is the kernels' fp32 arithmetic (the fp32 tolerance)
 *   and the rounding of the output to half, at most 2^-11 relative (4.9e-4; subnormal halves,
 *   below 6.1e-5, are 6e-8 apart). So the tolerance is the case's fp32 one plus
 *   TEST_FP16_RTOL = 1e-3 relative (two such roundings) and TEST_FP16_ATOL = 1e-6;
 * - the hand-computed values are not checked (they check the reference, which the fp32 run
 *   does on the same inputs);
 * - guard values are compared with their half rounding;
 * - a case marked fp16_refused must be refused, and is then done.
 * Index outputs (argmax, topk and max pooling indices) must equal the reference exactly in
 * either precision.
 */
extern lumen_precision test_precision;
#define TEST_FP16_RTOL 1e-3
#define TEST_FP16_ATOL 1e-6
/* x rounded to test_precision's storage (identity for fp32). */
float test_round(float x);
/* Every element of x[0..n) through test_round. */
void test_round_all(float *x, int64_t n);

/* Cases whose cost (flops plus elements read and written, as lumen_op_flops counts them)
 * exceeds this are skipped with a SKIP line; 0 (the default) runs everything. Set by test_ops
 * --max-cost for slow devices such as the Oclgrind simulator. */
extern double test_max_cost;

/* The cost test_max_cost is compared with. */
double test_case_cost(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                      const lumen_shape *out);

/* Runs one case on ctx and prints one line. Returns 1 when it passed (or was skipped). */
int run_case(lumen_ctx *ctx, const char *family, const tcase *c);

/* Runs cases[0..n) and returns the number that failed. */
int run_cases(lumen_ctx *ctx, const char *family, const tcase *cases, int n);

/* A second context on ctx's device with debug limits (lumen_ctx_options.limits, e.g.
 * "local=300"), for cases that exercise what small devices select. Opened on first use per
 * spec and kept until test_ctx_limited_free; NULL (message printed) when it cannot be opened.
 * test_ctx_limited_at(i) walks them (NULL past the end), for coverage checks. */
lumen_ctx *test_ctx_limited(lumen_ctx *ctx, const char *limits);
lumen_ctx *test_ctx_limited_at(int i);
void test_ctx_limited_free(void);

/* Deterministic random numbers for tests. */
void test_rand_fill(float *x, int64_t n, float lo, float hi, uint64_t seed);

/* Each family's case list: tests/cases_<family>.c. Returns the number of failures. */
typedef int (*family_fn)(lumen_ctx *ctx);
int cases_eltwise(lumen_ctx *ctx);
int cases_conv(lumen_ctx *ctx);
int cases_gemm(lumen_ctx *ctx);
int cases_pool(lumen_ctx *ctx);
int cases_layout(lumen_ctx *ctx);
int cases_norm(lumen_ctx *ctx);
int cases_attention(lumen_ctx *ctx);

#endif
