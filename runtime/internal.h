/*
 * internal.h - what the runtime's own files share and users never see.
 *
 * Names: internal non-static functions are lumen__<thing>; file statics carry a short family
 * prefix (ref_, cl_). Each op family lives in runtime/ops/<family>.c with three parts (shape
 * check, plain-C reference, OpenCL launcher) and its kernels in kernels/<family>.cl.
 */
#ifndef LUMEN_INTERNAL_H
#define LUMEN_INTERNAL_H

#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

#include "lumen.h"

/* Internal invariants only: never for input checking. */
#define LUMEN_ASSERT(c) assert(c)

/* ---- errors ---- */

/* Formats a message into err (LUMEN_ERR_MAX bytes; NULL allowed) and returns st. */
lumen_status lumen__errf(char *err, lumen_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets the context's message and returns st. */
lumen_status lumen__fail(lumen_ctx *ctx, lumen_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* For a failed OpenCL call: "OpenCL CL_OUT_OF_RESOURCES (-5) in what". Returns ECL or ENOMEM. */
lumen_status lumen__clfail(lumen_ctx *ctx, cl_int code, const char *what);
const char *lumen__cl_error_name(cl_int code);
/* Why the GEMM engine is what it is (measurement, a CLBlast failure, an override); "" before
 * the first GEMM (gemm.c). */
const char *lumen__gemm_reason(lumen_ctx *ctx);

/* max and min that propagate NaN as PyTorch does (C's fmax/fmin drop a NaN operand): the
 * references of ReLU, clip, max pooling and max/min use them, as the kernels do. */
static inline double lumen__nmax(double u, double v)
{
    return (u > v || u != u) ? u : v;
}
static inline double lumen__nmin(double u, double v)
{
    return (u < v || u != u) ? u : v;
}

/* ---- platform layer (sys.c) ---- */

/* Opens a regular file for reading (O_NONBLOCK + fstat first: FIFOs, devices, sockets and
 * folders are refused without blocking). NULL with a message in err on failure. */
FILE *lumen__open_input(const char *path, char *err, size_t errlen);
/* Reads a whole regular file of at most limit bytes; *data is malloc'd with a NUL after the
 * last byte (caller frees). */
lumen_status lumen__read_file(const char *path, size_t limit, unsigned char **data, size_t *len,
                              char *err, size_t errlen);
/* An atomic write in progress: write to f, then lumen__out_end. */
typedef struct lumen__out {
    FILE *f;
    char *path, *tmp;
} lumen__out;
/* Refuses a target that is not a regular file or a new name; opens the temp file. */
lumen_status lumen__out_begin(lumen__out *o, const char *path, char *err, size_t errlen);
/* st == LUMEN_OK: flush, fsync, rename over the target, fsync the folder; otherwise (or when
 * any of that fails) removes the temp file. Returns the final status. */
lumen_status lumen__out_end(lumen__out *o, lumen_status st, char *err, size_t errlen);
float lumen__half_to_float(uint16_t h);
uint16_t lumen__float_to_half(float f); /* round to nearest even; NaN stays NaN */
float lumen__bf16_to_float(uint16_t h);

/* ---- contexts ---- */
typedef struct lumen__program lumen__program;

struct lumen_ctx {
    lumen_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue;
    int profiling;
    int debug_limits;         /* info was lowered by LUMEN_DEBUG_LIMITS (lumen_ctx_options) */
    char cache_dir[512];      /* "" when the disk cache is off */
    char *kernels_path;       /* binary-only mode: the kernels file, else NULL */
    void *kernels_file;       /* parsed binary-only file (program.c) */
    lumen__program *programs; /* built programs, a list */
    lumen_cache_stats stats;
    int live_tensors;       /* lumen_ctx_free refuses while > 0 */
    lumen_gemm_engine gemm; /* AUTO until measured */
    int vec_width;          /* lumen__vec_width: 8 or 16, 0 until asked (tests force it) */
    void *clblast_state;    /* gemm.c: CLBlast warm-up bookkeeping */
    unsigned quirks;        /* quirks.c: LUMEN_QUIRK_* flags applied when opened */
    void *selfcheck;        /* selfcheck.c: the verdict applied to this context, or NULL */
    /* profiling: one event per launch while profiling is on */
    cl_event *events;
    lumen_prof_record *records;
    int n_events, cap_events;
    char err[LUMEN_ERR_MAX];
};

/* ---- programs and kernels (program.c) ---- */

/* Embedded kernel sources, generated at build time from kernels/<family>.cl. */
typedef struct lumen__kernel_src {
    const char *family; /* "eltwise" for kernels/eltwise.cl */
    const char *text;
} lumen__kernel_src;
extern const lumen__kernel_src lumen__kernel_sources[];
extern const int lumen__kernel_source_count;

/* Every (family, build options) program the runtime uses: what lumen compile writes out.
 * A launcher must only ask for programs listed here (binary-only mode has nothing else). */
typedef struct lumen__variant {
    const char *family;
    const char *options;
} lumen__variant;
extern const lumen__variant lumen__variants[];
extern const int lumen__variant_count;

/*
 * Returns the kernel 'name' of program (family, options), building or loading it on first use.
 * The kernel object is owned by the context and cached: callers set its arguments and launch it
 * and must not release it. Not reentrant on one context.
 */
lumen_status lumen__kernel(lumen_ctx *ctx, const char *family, const char *options,
                           const char *name, cl_kernel *out);
void lumen__programs_free(lumen_ctx *ctx);
/* For coverage tests: the kernel names of lumen__variants[variant], ';'-separated (building the
 * program when needed), and whether this context has ever launched a kernel. */
lumen_status lumen__variant_kernels(lumen_ctx *ctx, int variant, char *names, size_t len);
int lumen__kernel_used(lumen_ctx *ctx, const char *family, const char *options, const char *name);
/* Records that k (a kernel of this context) was launched: pointer compares over the context's
 * programs, cheap next to an enqueue. */
void lumen__mark_launched(lumen_ctx *ctx, cl_kernel k);

/* 64-bit FNV-1a, used for cache keys (with two seeds for 128 bits). */
uint64_t lumen__hash64(const void *data, size_t len, uint64_t seed);

/*
 * The vector width (8 or 16 floats) of the kernels that have both forms (conv_f32, dwconv_f32,
 * convt_f32, gemm_direct): 16 where the driver prefers 16-wide float vectors (PoCL on AVX-512),
 * else 8; $LUMEN_VEC_WIDTH (8 or 16) overrides. Asked once per context; a test may set
 * ctx->vec_width first to force one.
 */
int lumen__vec_width(lumen_ctx *ctx);

/* ---- launching (launch.c) ---- */

/* Kernel arguments in one call: lumen__args(ctx, k, "what", LUMEN_ARG_MEM(m), LUMEN_ARG_INT(i),
 * ..., LUMEN_ARG_END). Each argument is (size, pointer). */
typedef struct lumen__arg {
    size_t size;
    const void *ptr;
} lumen__arg;
lumen_status lumen__set_args(lumen_ctx *ctx, cl_kernel k, const char *what, int n,
                             const lumen__arg *args);

/*
 * Enqueues k over gws (rounded up to lws when lws is given; NULL lets the driver choose).
 * label names the launch in profiles; flops and bytes feed GFLOP/s and GB/s.
 */
lumen_status lumen__launch(lumen_ctx *ctx, cl_kernel k, int dims, const size_t *gws,
                           const size_t *lws, const char *label, double flops, double bytes);
/*
 * A work-group shape that divides the grid exactly (so kernels need no bounds test and PoCL is
 * not handed tiny groups): along axis 0 the largest divisor of gws[0] up to 64, then along the
 * next axes the largest divisors that keep the group within 'target' work-items.
 */
void lumen__exact_lws(int dims, const size_t *gws, size_t target, size_t *lws);
/* The largest work-group k may be launched with on this context: the device's limit (after
 * debug limits) and the kernel's own CL_KERNEL_WORK_GROUP_SIZE. Launchers choosing a
 * work-group size must stay within it; lumen__launch refuses more. */
size_t lumen__max_wg(lumen_ctx *ctx, cl_kernel k);
/* min(want, lumen__max_wg(ctx, k)): the work-group target for lumen__exact_lws. */
static inline size_t lumen__wg_target(lumen_ctx *ctx, cl_kernel k, size_t want)
{
    size_t cap = lumen__max_wg(ctx, k);
    return cap < want ? cap : want;
}
/* Local memory bytes left for k's __local arguments: the device's (after debug limits) less
 * what the kernel declares statically. */
uint64_t lumen__local_free(lumen_ctx *ctx, cl_kernel k);
/* Round x up to a multiple of m. */
static inline size_t lumen__round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

/* ---- tensors (tensor.c) ---- */
struct lumen_tensor {
    lumen_ctx *ctx;
    cl_mem mem;     /* retained by every view */
    int64_t offset; /* first element inside mem */
    lumen_shape shape;
    char name[64];
};
/* Element offset as a kernel int argument; tensors are limited to INT_MAX elements. */
static inline int lumen__off(const lumen_tensor *t)
{
    return (int)t->offset;
}

/* ---- ops (op.c and ops/<family>.c) ---- */

/* The three parts of an op. shape: in[i] NULL for absent inputs; writes the message to err.
 * ref: in_shape/in as in lumen_op_ref, after shape checks passed; out sized by shape().
 * run: device launch; inputs and output already shape-checked. */
typedef lumen_status (*lumen__shape_fn)(const lumen_opdesc *d, int n_in,
                                        const lumen_shape *const *in, lumen_shape *out, char *err);
typedef lumen_status (*lumen__ref_fn)(const lumen_opdesc *d, int n_in,
                                      const lumen_shape *const *in_shape, const float *const *in,
                                      const lumen_shape *out_shape, float *out, char *err);
typedef lumen_status (*lumen__run_fn)(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                                      const lumen_tensor *const *in, lumen_tensor *y);
typedef double (*lumen__flops_fn)(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                                  const lumen_shape *out);

typedef struct lumen__op_impl {
    int min_in, max_in;
    lumen__shape_fn shape;
    lumen__ref_fn ref;
    lumen__run_fn run;
    lumen__flops_fn flops; /* NULL: counts one op per output element */
} lumen__op_impl;

/* Each family exports its ops' implementations; op.c assembles the table indexed by op. */
#define LUMEN_X(name, str) extern const lumen__op_impl lumen__impl_##name;
LUMEN_OP_LIST(LUMEN_X)
#undef LUMEN_X

/* Shared helpers for op families (op.c). */
/* Row-major strides of s into st (elements). */
void lumen__strides(const lumen_shape *s, int64_t *st);
/* Numpy broadcasting of a and b into out; ESHAPE with a message when incompatible. */
lumen_status lumen__broadcast(const lumen_shape *a, const lumen_shape *b, lumen_shape *out,
                              char *err);
/* The function behind LUMEN_ACT_LIST, in double precision: used by references. */
float lumen__act_ref(const lumen_actdesc *a, float x);
/* Checks that act is a valid activation for an epilogue. */
lumen_status lumen__act_check(const lumen_actdesc *a, char *err);

/* ---- GEMM (gemm.c): the engine behind 1x1 conv, linear, matmul and attention ---- */

/*
 * C[b] = act(alpha * op(A[b]) op(B[b]) + bias + R[b]) for b in [0, batch), all row-major:
 * op(A) is M x K (A stored K x M when trans_a), op(B) is K x N (N x K when trans_b), C is M x N.
 * Offsets, leading dimensions and batch strides are in elements; a batch stride of 0 broadcasts.
 * bias_mode: 0 none, 1 one value per row (bias[m], e.g. conv output channel), 2 per column
 * (bias[n], e.g. linear). res: optional, same layout as C (ldc, c_bstride).
 * The engine (own kernel or CLBlast) is the context's (lumen_ctx_gemm).
 */
typedef struct lumen__gemm_args {
    int batch, M, N, K;
    int trans_a, trans_b;
    float alpha;
    cl_mem a;
    int a_off, lda, a_bstride;
    cl_mem b;
    int b_off, ldb, b_bstride;
    cl_mem c;
    int c_off, ldc, c_bstride;
    cl_mem bias; /* NULL: none */
    int bias_off, bias_mode;
    cl_mem res; /* NULL: none */
    int res_off;
    lumen_actdesc act;
    const char *label; /* for profiles */
    int vec; /* own engine, neither operand transposed: 0 the device's gemm_direct width, 8 or
                16 that width, -1 the packed tiles instead (tests and benchmarks force these) */
} lumen__gemm_args;
lumen_status lumen__gemm(lumen_ctx *ctx, const lumen__gemm_args *g);
/* The same computation on host arrays (double accumulation): the reference for all of the above.
 * Pointers are to element 0 of each operand (offsets already applied). */
void lumen__gemm_ref(const lumen__gemm_args *g, const float *a, const float *b, const float *bias,
                     const float *res, float *c);

#endif
