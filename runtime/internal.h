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
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "lumen.h"

/* Internal invariants only: never for input checking. */
#define LUMEN_ASSERT(c) assert(c)

/* ---- errors ---- */

/* Formats a message into err (errlen bytes; NULL or 0 writes nothing) and returns st. Also the
 * DICOM shim's (C++) error writer, declared again in runtime/dicom/shim.h. */
lumen_status lumen__errfn(char *err, size_t errlen, lumen_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Formats a message into err (LUMEN_ERR_MAX bytes; NULL allowed) and returns st. */
#define lumen__errf(err, st, ...) lumen__errfn(err, LUMEN_ERR_MAX, st, __VA_ARGS__)
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

/* What the two GEMM engines keep per context (gemm.c). */
typedef struct lumen__gemm_state {
    cl_mem scratch;       /* own engine: packed A and B panels of the tile kernel, or NULL */
    size_t scratch_bytes; /* its size */
    int clblast_broken;   /* CLBlast engine: 1 after it returned an error (own kernel from then) */
    char reason[256];     /* why CLBlast is not in use, "" when it is fine */
} lumen__gemm_state;

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
    int live_tensors;             /* lumen_ctx_free refuses while > 0 */
    lumen_gemm_engine gemm;       /* AUTO until measured */
    int vec_width;                /* lumen__vec_width: 8 or 16, 0 until asked (tests force it) */
    lumen__gemm_state gemm_state; /* both GEMM engines' state (gemm.c) */
    unsigned quirks;              /* quirks.c: LUMEN_QUIRK_* flags applied when opened */
    /* The storage precision of the op being launched: lumen_op_run sets it from the op's
     * tensors (and puts FP32 back after), so that lumen__kernel builds the matching program
     * without every launcher passing it on. FP32 outside an op. */
    lumen_precision launch_prec;
    void *selfcheck; /* selfcheck.c: the verdict applied to this context, or NULL */
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

/* One program: a kernel family, its build options and its storage precision. Op tables list
 * fp32 ones (fp16 left 0); lumen__variants adds each one's fp16 twin. */
typedef struct lumen__variant {
    const char *family;
    const char *options;
    int fp16; /* 1: built with LUMEN_FP16_OPTION in front of options (lumen__prec_options) */
} lumen__variant;
/*
 * Every program the runtime may ask for, gathered from the op families' variant lists (and
 * GEMM's): what 'lumen compile' writes out, and all that binary-only mode has. Each listed
 * variant comes twice, fp32 storage first, then its fp16 twin (fp16 = 1). Fills up to cap
 * entries of out, each (family, options, fp16) once, and returns how many there are in all.
 */
int lumen__variants(lumen__variant *out, int cap);
/* The build option that makes a program's kernels read and write half (kernels/common.cl). */
#define LUMEN_FP16_OPTION "-DLUMEN_FP16"
/* The options of a variant for storage precision prec: options itself for FP32, else
 * "-DLUMEN_FP16" + (" " + options when not empty), written into buf (len bytes). Returns the
 * string to use (options or buf). */
const char *lumen__prec_options(lumen_precision prec, const char *options, char *buf, size_t len);
/* Half holds every integer up to this one exactly (2^11; 2049 rounds to 2048). */
#define LUMEN_FP16_MAX_INT 2048
/* LUMEN_EUNSUPPORTED, naming the op and suggesting fp32, where op d on inputs of shapes
 * in[0..n_in) (valid for d) would store integers beyond LUMEN_FP16_MAX_INT in fp16 storage:
 * ARGMAX and TOPK indices along a longer axis, POOL indices into a larger input, ROI_ALIGN's
 * batch indices into a larger batch; else LUMEN_OK. lumen_op_run checks it for fp16 outputs
 * and lumen_model_new for every node of an fp16 model. Can't fail otherwise. */
lumen_status lumen__fp16_exact(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                               char *err);
/* The build options of variant v: lumen__prec_options of its precision, in buf. */
const char *lumen__variant_options(const lumen__variant *v, char *buf, size_t len);
/* GEMM's programs (gemm.c): the ops that use GEMM list these too. */
extern const lumen__variant lumen__gemm_variants[];

/* The OpenCL C definitions generated from the C lists (the ACT_<NAME> codes of
 * LUMEN_ACT_LIST), prepended to every program's source (program.c). */
extern const char lumen__cl_prelude[];

/*
 * Returns the kernel 'name' of program (family, options) for the storage precision of the
 * launch in progress (ctx->launch_prec: lumen__prec_options), building or loading it on first
 * use. The kernel object is owned by the context and cached: callers set its arguments and
 * launch it and must not release it. Not reentrant on one context.
 */
lumen_status lumen__kernel(lumen_ctx *ctx, const char *family, const char *options,
                           const char *name, cl_kernel *out);
/* The same for an explicit precision (tensor conversions, which are outside any op). */
lumen_status lumen__kernel_prec(lumen_ctx *ctx, lumen_precision prec, const char *family,
                                const char *options, const char *name, cl_kernel *out);
void lumen__programs_free(lumen_ctx *ctx);
/* For coverage tests: the kernel names of variant v (one of lumen__variants), ';'-separated
 * (building the program when needed), and whether this context has ever launched a kernel. */
lumen_status lumen__variant_kernels(lumen_ctx *ctx, const lumen__variant *v, char *names,
                                    size_t len);
int lumen__kernel_used(lumen_ctx *ctx, const char *family, const char *options, const char *name);
/* Records that k (a kernel of this context) was launched: pointer compares over the context's
 * programs, cheap next to an enqueue. */
void lumen__mark_launched(lumen_ctx *ctx, cl_kernel k);

/* The context's program cache folder from the option (or $LUMEN_CACHE_DIR, or the default). */
void lumen__cache_dir_init(lumen_ctx *ctx, const char *opt);
/* Binary-only mode: reads ctx->kernels_path into ctx->kernels_file; close frees it. */
lumen_status lumen__kernels_file_open(lumen_ctx *ctx);
void lumen__kernels_file_close(lumen_ctx *ctx);
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

/* Kernel arguments in one call: lumen__set_args(ctx, k, "what", n, args) with
 * args = {{sizeof(cl_mem), &mem}, {sizeof(int), &i}, ...}: each argument is (size, pointer), set
 * in order; a failure names 'what' and the argument's index. */
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
/* Records a launched command's event in the context's profile (profiling on). Out of host
 * memory: releases ev and returns ENOMEM (the command itself still runs). */
lumen_status lumen__keep_event(lumen_ctx *ctx, cl_event ev, const char *label, double flops,
                               double bytes);
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
    cl_mem mem;           /* retained by every view */
    int64_t offset;       /* first element inside mem (elements of prec's size) */
    lumen_precision prec; /* storage of mem's elements; a view has its base's */
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

/*
 * An op: arity, the three parts, its parameter schema and the programs its launcher may ask for.
 * params ends with an entry whose name is NULL; variants with one whose family is NULL (an op
 * with no kernels of its own lists only the terminator). Use designated initialisers.
 */
typedef struct lumen__op_impl {
    int min_in, max_in;
    lumen__shape_fn shape;
    lumen__ref_fn ref;
    lumen__run_fn run;
    lumen__flops_fn flops; /* NULL: counts one op per output element */
    const lumen_param *params;
    const lumen__variant *const *variants; /* lists of programs, NULL-terminated */
} lumen__op_impl;

/*
 * Schema entries: LUMEN__PARAM("stride", conv.stride) names the field of lumen_opdesc's
 * union; its type and length come from the field itself. Add .def, .lo/.hi, .names, .flags ...
 * as designated initialisers:
 *   {LUMEN__PARAM("groups", conv.groups), .def = 1, .lo = 1, .hi = INT_MAX},
 */
#define LUMEN__FIELD(m) (((lumen_opdesc *)0)->p.m)
#define LUMEN__PARAM(key, m)                                                                       \
    .name = key, .at = offsetof(lumen_opdesc, p.m),                                                \
    .type = _Generic(LUMEN__FIELD(m),                                                              \
        int: LUMEN_PARAM_INT,                                                                      \
        float: LUMEN_PARAM_FLOAT,                                                                  \
        unsigned: LUMEN_PARAM_AXES,                                                                \
        lumen_actdesc: LUMEN_PARAM_ACT,                                                            \
        int *: LUMEN_PARAM_INTS,                                                                   \
        int64_t *: LUMEN_PARAM_INT64S,                                                             \
        float *: LUMEN_PARAM_FLOATS),                                                              \
    .n = (int)((0 + sizeof LUMEN__FIELD(m)) / _Generic(LUMEN__FIELD(m),                                \
        int *: sizeof(int),                                                                        \
        int64_t *: sizeof(int64_t),                                                                \
        float *: sizeof(float),                                                                    \
        default: sizeof LUMEN__FIELD(m)))
/* The byte offset of a field of the union, for at2 and count_at. */
#define LUMEN__AT(m) offsetof(lumen_opdesc, p.m)
/* The three parameters of an epilogue activation: "act" (by name), "act_a", "act_b". */
#define LUMEN__ACT_PARAMS(m)                                                                       \
    {LUMEN__PARAM("act", m)}, {LUMEN__PARAM("act_a", m.a), .flags = LUMEN_PARAM_KEEP},             \
    {                                                                                              \
        LUMEN__PARAM("act_b", m.b), .flags = LUMEN_PARAM_KEEP                                      \
    }

/* The implementation of op; NULL when out of range (op.c). */
const lumen__op_impl *lumen__impl(lumen_op op);

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
/* Releases the context's GEMM state (ctx->gemm_state); the context stays usable. */
void lumen__gemm_free(lumen_ctx *ctx);
/* device.c: whether needle occurs in hay, ignoring ASCII case (an empty needle does) */
int lumen__contains_ci(const char *hay, const char *needle);
/* quirks.c: reads the quirks table (and LUMEN_DEBUG_QUIRKS) for a new context's device */
void lumen__quirks_apply(lumen_ctx *ctx);
/* selfcheck.c: frees the verdict a context holds */
void lumen__selfcheck_free(lumen_ctx *ctx);
/* The same computation on host arrays (double accumulation): the reference for all of the above.
 * Pointers are to element 0 of each operand (offsets already applied). */
void lumen__gemm_ref(const lumen__gemm_args *g, const float *a, const float *b, const float *bias,
                     const float *res, float *c);

#endif
