/*
 * lumen.h - the whole public API of liblumen, an OpenCL inference runtime for medical imaging.
 *
 * A worked example (error handling shortened; every call returns a lumen_status):
 *
 *     char err[LUMEN_ERR_MAX];
 *     lumen_ctx *ctx;
 *     if (lumen_ctx_new(NULL, &ctx, err, sizeof err) != LUMEN_OK)   // NULL: $LUMEN_DEVICE or best
 *         fprintf(stderr, "lumen: %s\n", err);
 *     lumen_shape s = {4, {1, 16, 34, 17}};
 *     lumen_tensor *x, *y;
 *     lumen_tensor_new(ctx, "x", &s, &x);
 *     lumen_tensor_new(ctx, "y", &s, &y);
 *     lumen_tensor_write(x, host, lumen_shape_numel(&s));
 *     lumen_opdesc d = lumen_opdesc_unary(LUMEN_ACT_RELU6);
 *     const lumen_tensor *in[] = {x};
 *     if (lumen_op_run(ctx, &d, 1, in, y) != LUMEN_OK)
 *         fprintf(stderr, "lumen: %s\n", lumen_ctx_error(ctx));
 *     lumen_tensor_read(y, host, lumen_shape_numel(&s));
 *     lumen_tensor_free(x); lumen_tensor_free(y); lumen_ctx_free(ctx);
 *
 * Conventions
 * - Tensors are float32, row-major ("C order"): NCHW for images, NCDHW for volumes. A tensor
 *   may instead be *stored* as IEEE half (LUMEN_FP16, lumen_tensor_new_prec): kernels still
 *   compute in fp32, and the host API still takes and returns float32.
 * - Errors are values. Functions return lumen_status; the context keeps a message
 *   (lumen_ctx_error) naming the OpenCL call, error name or build log. Nothing aborts or exits.
 * - Ownership: whoever calls _new owns the result and calls _free; _free(NULL) is a no-op.
 * - A context is used by one thread at a time; separate contexts are independent (no globals).
 */
#ifndef LUMEN_H
#define LUMEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LUMEN_VERSION "0.1.0"
#define LUMEN_ERR_MAX 1024 /* bytes: enough for a message, not a whole build log */
#define LUMEN_MAX_DIMS 6
#define LUMEN_MAX_IN 16 /* inputs of one op (Concat is the widest) */

/* ---- status codes: one table gives the enum, the names and the messages ---- */
#define LUMEN_STATUS_MAP(X)                                                                        \
    X(OK, "ok")                                                                                    \
    X(EINVAL, "invalid argument")                                                                  \
    X(ESHAPE, "shape mismatch")                                                                    \
    X(ENOMEM, "out of memory")                                                                     \
    X(ENODEV, "no OpenCL device")                                                                  \
    X(ECL, "OpenCL error")                                                                         \
    X(EBUILD, "kernel build failed")                                                               \
    X(EIO, "input/output error")                                                                   \
    X(EFORMAT, "malformed file")                                                                   \
    X(EUNSUPPORTED, "unsupported")                                                                 \
    X(ERANGE, "value out of range")                                                                \
    X(EBUSY, "object still in use")                                                                \
    X(ENOTFOUND, "not found")

typedef enum {
#define LUMEN_X(name, msg) LUMEN_##name,
    LUMEN_STATUS_MAP(LUMEN_X)
#undef LUMEN_X
        LUMEN_STATUS_COUNT
} lumen_status;

/* "LUMEN_ESHAPE" for a status; "unknown status" for anything outside the table. */
const char *lumen_status_name(lumen_status st);
/* "shape mismatch" for a status. */
const char *lumen_status_message(lumen_status st);

/* ---- shapes ---- */
typedef struct lumen_shape {
    int ndim;                  /* 0 (a scalar) .. LUMEN_MAX_DIMS */
    int64_t d[LUMEN_MAX_DIMS]; /* extents; d[0] is the slowest-varying */
} lumen_shape;

/* Product of the extents; 1 for a scalar. Returns -1 on overflow of int64 or a negative extent. */
int64_t lumen_shape_numel(const lumen_shape *s);
/* 1 when both shapes have the same rank and extents. */
int lumen_shape_equal(const lumen_shape *a, const lumen_shape *b);
/* Writes "[1,16,34,17]" into buf (always terminated); returns buf. */
char *lumen_shape_format(const lumen_shape *s, char *buf, size_t len);

/* ---- devices ---- */
typedef enum {
    LUMEN_DEV_CPU = 1,
    LUMEN_DEV_GPU = 2,
    LUMEN_DEV_ACCELERATOR = 4,
    LUMEN_DEV_OTHER = 8
} lumen_devtype;

typedef struct lumen_device_info {
    int platform_index, device_index; /* selector "P:D" */
    char platform[128], name[128], vendor[128];
    char driver[64], version[96], opencl_c[64];
    lumen_devtype type;
    unsigned compute_units, clock_mhz;
    uint64_t global_mem, local_mem, max_alloc; /* bytes */
    size_t max_work_group;
    int fp16, fp64; /* 1 when cl_khr_fp16 / cl_khr_fp64 is supported */
    int compiler;   /* 1 when the device can compile OpenCL C source */
} lumen_device_info;

/* "gpu", "cpu", "accelerator" or "other". */
const char *lumen_devtype_name(lumen_devtype t);

/*
 * Lists every OpenCL device of every platform into out[0..cap). *count receives the number found
 * (which may exceed cap). With no OpenCL platform at all it returns LUMEN_ENODEV and a message in
 * err naming the package to install. err may be NULL.
 */
lumen_status lumen_devices(lumen_device_info *out, int cap, int *count, char *err, size_t errlen);

/*
 * Picks a device by selector: "P:D" indices, a type ("gpu", "cpu", "accelerator"), or a
 * case-insensitive substring of vendor, platform, device name or device version ("amd",
 * "nvidia", "pocl").
 * NULL or "" means $LUMEN_DEVICE, or without it the first GPU, else accelerator, else CPU.
 */
lumen_status lumen_device_select(const char *selector, lumen_device_info *out, char *err,
                                 size_t errlen);

/* ---- contexts: one per device; owns the queue, the program cache and the error message ---- */
typedef struct lumen_ctx lumen_ctx;

typedef struct lumen_ctx_options {
    int profiling;         /* record an OpenCL event per kernel launch (lumen_ctx_profile) */
    const char *cache_dir; /* NULL: $LUMEN_CACHE_DIR, else $XDG_CACHE_HOME/lumen, ~/.cache/lumen;
                              "" disables the on-disk program cache */
    const char *kernels;   /* binary-only mode: a file written by lumen_ctx_compile_all.
                              NULL: $LUMEN_KERNELS (unset: compile from source) */
    const char *limits;    /* debugging: pretend the device is smaller, "wg=64,local=16384,
                              alloc=BYTES,compiler=0" (any subset; a limit above the device's
                              own is ignored). NULL: $LUMEN_DEBUG_LIMITS. Kernels must then pick
                              other shapes, not fail; compiler=0 simulates a binary-only device */
} lumen_ctx_options;

/* Opens a context on the selected device with default options. On failure *out is NULL and the
 * message is in err. */
lumen_status lumen_ctx_new(const char *selector, lumen_ctx **out, char *err, size_t errlen);
lumen_status lumen_ctx_new_opts(const char *selector, const lumen_ctx_options *opt, lumen_ctx **out,
                                char *err, size_t errlen);
/* Frees the context. Refuses with LUMEN_EBUSY (and frees nothing) while tensors of it live. */
lumen_status lumen_ctx_free(lumen_ctx *ctx);
/* The last error's message; "" when none. Valid until the next call on ctx. */
const char *lumen_ctx_error(const lumen_ctx *ctx);
const lumen_device_info *lumen_ctx_device(const lumen_ctx *ctx);
/* Blocks until every queued command has finished. */
lumen_status lumen_ctx_finish(lumen_ctx *ctx);

typedef struct lumen_cache_stats {
    int memory_hits;   /* programs found already built in this context */
    int disk_hits;     /* programs loaded from the on-disk cache */
    int disk_misses;   /* programs compiled from source (and then stored) */
    int disk_rejected; /* cache entries found corrupt or mismatched, rebuilt */
    int binary_file;   /* programs loaded from a binary-only kernels file */
    double build_ms;   /* total time spent building or loading programs */
} lumen_cache_stats;
void lumen_ctx_cache_stats(const lumen_ctx *ctx, lumen_cache_stats *out);
/* The cache directory in use, "" when disabled. */
const char *lumen_ctx_cache_dir(const lumen_ctx *ctx);

/* Builds every kernel program the runtime has (all families and variants), through the cache. */
lumen_status lumen_ctx_build_all(lumen_ctx *ctx);
/* Builds every program and writes their device binaries into one file (binary-only mode). */
lumen_status lumen_ctx_compile_all(lumen_ctx *ctx, const char *path);

/* ---- profiling: one record per kernel launch while profiling is on ---- */
typedef struct lumen_prof_record {
    char label[64]; /* op or kernel name */
    double ms;      /* device execution time from OpenCL event timestamps */
    double flops;   /* floating point operations of this launch (0 when not counted) */
    double bytes;   /* bytes read + written (estimate) */
} lumen_prof_record;
/* Waits for the queue, then fills *out (owned by ctx, valid until the next launch or reset). */
lumen_status lumen_ctx_profile(lumen_ctx *ctx, const lumen_prof_record **out, int *count);
void lumen_ctx_profile_reset(lumen_ctx *ctx);

/* ---- tensors: float32 device buffers with a name and a shape ---- */
typedef struct lumen_tensor lumen_tensor;

/*
 * Storage precision of a tensor's device buffer. FP32 is the default everywhere. FP16 stores
 * IEEE binary16 (2 bytes per element, vload_half / vstore_half, core OpenCL 1.2, so no device
 * extension is needed); every kernel converts to float on load and computes, accumulates,
 * normalises and reduces in fp32, rounding to half (to nearest even) only when it stores.
 * Values beyond +-65504 become +-inf, below 6e-8 zero; NaN stays NaN. Integers are exact up to
 * 2048: ops whose index outputs could go beyond (argmax, topk and max pooling indices,
 * roi_align's batch) are refused in FP16 (LUMEN_EUNSUPPORTED, "use fp32").
 */
typedef enum { LUMEN_FP32 = 0, LUMEN_FP16 = 1 } lumen_precision;
/* "fp32" / "fp16"; NULL when out of range. */
const char *lumen_precision_name(lumen_precision p);
/* Parses "fp32" / "fp16" into *out; LUMEN_EINVAL for anything else. */
lumen_status lumen_precision_parse(const char *name, lumen_precision *out);
/* Bytes per element: 4 or 2. */
size_t lumen_precision_size(lumen_precision p);

/* Allocates an uninitialised tensor. name may be NULL. Fails with LUMEN_ERANGE when the size
 * overflows or exceeds the device's max allocation, LUMEN_ENOMEM/ECL when OpenCL refuses. */
lumen_status lumen_tensor_new(lumen_ctx *ctx, const char *name, const lumen_shape *shape,
                              lumen_tensor **out);
/* The same with a storage precision (lumen_tensor_new is LUMEN_FP32). */
lumen_status lumen_tensor_new_prec(lumen_ctx *ctx, const char *name, const lumen_shape *shape,
                                   lumen_precision prec, lumen_tensor **out);
/* A view of 'numel(shape)' elements of base starting at element 'offset' (no copy), with
 * base's precision. The view keeps the storage alive; base may be freed first. */
lumen_status lumen_tensor_view(lumen_tensor *base, const char *name, int64_t offset,
                               const lumen_shape *shape, lumen_tensor **out);
void lumen_tensor_free(lumen_tensor *t);
/* Copies count floats from host (count must equal numel). Blocking. An FP16 tensor converts
 * on the host (round to nearest even on write, exact on read). */
lumen_status lumen_tensor_write(lumen_tensor *t, const float *src, size_t count);
lumen_status lumen_tensor_read(const lumen_tensor *t, float *dst, size_t count);
/* Copies src into dst on the device (same element count; shapes may differ, as in a reshape).
 * Both must belong to the same context. Precisions may differ: a kernel converts on the device
 * (layout.cl). Does not wait. */
lumen_status lumen_tensor_copy(lumen_tensor *dst, const lumen_tensor *src);
/* Fills with a constant. */
lumen_status lumen_tensor_fill(lumen_tensor *t, float value);
const lumen_shape *lumen_tensor_shape(const lumen_tensor *t);
int64_t lumen_tensor_numel(const lumen_tensor *t);
const char *lumen_tensor_name(const lumen_tensor *t);
lumen_ctx *lumen_tensor_ctx(const lumen_tensor *t);
lumen_precision lumen_tensor_precision(const lumen_tensor *t);
/* Writes "name f32[1,16,34,17]" ("f16[...]" for an FP16 tensor). */
char *lumen_tensor_format(const lumen_tensor *t, char *buf, size_t len);

/* ---- operators ---- */

/* Every operator, listed once. Each has a shape check, a plain-C reference and an OpenCL
 * launcher (runtime/ops/<family>.c, kernels/<family>.cl). */
#define LUMEN_OP_LIST(X)                                                                           \
    X(CONV, "conv")                     /* in: x, w, bias?, residual?  (1d/2d/3d, groups) */       \
    X(CONV_TRANSPOSE, "conv_transpose") /* in: x, w[Cin,Cout/g,k..], bias? */                      \
    X(POOL, "pool")                     /* in: x; max (or its indices) / average */                \
    X(REDUCE, "reduce")                 /* in: x; sum / mean / max / prod over an axis set */      \
    X(RESIZE, "resize")                 /* in: x; nearest / (bi,tri)linear / cubic */              \
    X(CONCAT, "concat")                 /* in: x0..xn-1 along an axis */                           \
    X(SLICE, "slice")                   /* in: x; start/step/count per axis */                     \
    X(PAD, "pad")                       /* in: x; constant padding */                              \
    X(BINARY, "binary")                 /* in: a, b; numpy broadcasting */                         \
    X(UNARY, "unary")                   /* in: x; activations and math */                          \
    X(SOFTMAX, "softmax")               /* in: x; over axes [axis, axis_end) */                    \
    X(BATCHNORM, "batchnorm")           /* in: x, scale, bias, mean, var (axis 1) */               \
    X(INSTANCENORM, "instancenorm")     /* in: x, scale, bias */                                   \
    X(LAYERNORM, "layernorm")           /* in: x, weight?, bias? over [axis, axis_end) */          \
    X(TRANSPOSE, "transpose")           /* in: x; permutation */                                   \
    X(RESHAPE, "reshape")               /* in: x; same element order */                            \
    X(MATMUL, "matmul")                 /* in: a, b, bias?; batched with broadcasting */           \
    X(ATTENTION, "attention")           /* in: q, k, v (NCHW); local windows or all keys */        \
    X(ARGMAX, "argmax")                 /* in: x; index along an axis, as float */                 \
    X(TAKE, "take")                     /* in: x, idx; y = x.flat[idx] (idx holds integers) */     \
    X(TOPK, "topk")                     /* in: x; k largest/smallest along an axis, or indices */  \
    X(GRID_SAMPLE, "grid_sample") /* in: x[N,C,H,W], grid[N,Ho,Wo,2]; bilinear/nearest/cubic */    \
    X(ROI_ALIGN, "roi_align")     /* in: x[N,C,H,W], rois[R,4], batch[R]; avg / max */             \
    X(DET, "det")                 /* in: x[..., n, n]; determinants (n <= 16) */

typedef enum {
#define LUMEN_X(name, str) LUMEN_OP_##name,
    LUMEN_OP_LIST(LUMEN_X)
#undef LUMEN_X
        LUMEN_OP_COUNT
} lumen_op;

/* "conv" for LUMEN_OP_CONV; NULL when out of range. */
const char *lumen_op_name(lumen_op op);

/* Element-wise functions: the UNARY op and the fused epilogues of CONV, MATMUL and BINARY.
 * X(NAME, "name", a, b): a and b are the parameters' defaults (PyTorch's), see
 * lumen_actdesc_default. The kernels get the codes from this list (ACT_<NAME>), so a new
 * function is this entry, its case in lumen__act_ref (runtime/op.c) and its case in
 * lumen_act / lumen_act8 (kernels/common.cl). */
#define LUMEN_ACT_LIST(X)                                                                          \
    X(NONE, "none", 0, 0)                 /* x */                                                  \
    X(RELU, "relu", 0, 0)                 /* max(x, 0) */                                          \
    X(RELU6, "relu6", 0, 0)               /* min(max(x, 0), 6) */                                  \
    X(LEAKY_RELU, "leaky_relu", 0.01f, 0) /* x < 0 ? a*x : x */                                    \
    X(SIGMOID, "sigmoid", 0, 0)           /* 1 / (1 + exp(-x)) */                                  \
    X(TANH, "tanh", 0, 0)                                                                          \
    X(GELU, "gelu", 0, 0)                         /* 0.5 x (1 + erf(x / sqrt 2)) */                \
    X(HARDSWISH, "hardswish", 0, 0)               /* x * min(max(x + 3, 0), 6) / 6 */              \
    X(HARDSIGMOID, "hardsigmoid", 1.0f / 6, 0.5f) /* min(max(a*x + b, 0), 1) */                    \
    X(CLIP, "clip", 0, 0)                         /* min(max(x, a), b) */                          \
    X(EXP, "exp", 0, 0)                                                                            \
    X(LOG, "log", 0, 0)                                                                            \
    X(SQRT, "sqrt", 0, 0)                                                                          \
    X(ERF, "erf", 0, 0)                                                                            \
    X(NEG, "neg", 0, 0)                                                                            \
    X(ABS, "abs", 0, 0)                                                                            \
    X(RECIPROCAL, "reciprocal", 0, 0)                                                              \
    X(THRESHOLD, "threshold", 0, 0) /* x > a ? 1 : 0 */                                            \
    X(SCALE, "scale", 0, 0)         /* a*x + b */                                                  \
    X(SOFTPLUS, "softplus", 0, 0)   /* log(1 + exp(x)) */                                          \
    /* math of the UNARY op only (no epilogue takes these): LUMEN_ACT_EPILOGUE_COUNT */            \
    X(SIN, "sin", 0, 0)                                                                            \
    X(COS, "cos", 0, 0)                                                                            \
    X(TAN, "tan", 0, 0)                                                                            \
    X(ASIN, "asin", 0, 0)                                                                          \
    X(ACOS, "acos", 0, 0)                                                                          \
    X(ATAN, "atan", 0, 0)                                                                          \
    X(SINH, "sinh", 0, 0)                                                                          \
    X(COSH, "cosh", 0, 0)                                                                          \
    X(ASINH, "asinh", 0, 0)                                                                        \
    X(ACOSH, "acosh", 0, 0)                                                                        \
    X(ATANH, "atanh", 0, 0)                                                                        \
    X(FLOOR, "floor", 0, 0)                                                                        \
    X(CEIL, "ceil", 0, 0)                                                                          \
    X(ROUND, "round", 0, 0) /* half to even */                                                     \
    X(SIGN, "sign", 0, 0)   /* -1, 0 or 1; NaN stays NaN */                                        \
    X(ISNAN, "isnan", 0, 0) /* x != x ? 1 : 0 */                                                   \
    X(ISINF, "isinf", 1, 1) /* (a != 0 && x == +inf) || (b != 0 && x == -inf) ? 1 : 0 */

typedef enum {
#define LUMEN_X(name, str, a, b) LUMEN_ACT_##name,
    LUMEN_ACT_LIST(LUMEN_X)
#undef LUMEN_X
        LUMEN_ACT_COUNT
} lumen_act;
/* Activations below this one may be fused as epilogues (CONV, MATMUL, BINARY); the rest are
 * math functions of the UNARY op. */
#define LUMEN_ACT_EPILOGUE_COUNT LUMEN_ACT_SIN

const char *lumen_act_name(lumen_act act);
/* The act named str ("relu6"), or -1. */
int lumen_act_from_name(const char *str);

typedef struct lumen_actdesc {
    lumen_act act;
    float a, b; /* parameters, see LUMEN_ACT_LIST */
} lumen_actdesc;

/* act with its default parameters (LUMEN_ACT_LIST: leaky_relu a = 0.01, hardsigmoid a = 1/6,
 * b = 0.5). An act out of range is returned as is, with a = b = 0. */
lumen_actdesc lumen_actdesc_default(lumen_act act);

typedef struct lumen_conv_params {
    int nsp;               /* spatial dims: 1, 2 or 3; kernel size comes from the weight */
    int stride[3], dil[3]; /* > 0 */
    int pad0[3], pad1[3];  /* padding before / after, >= 0 */
    int out_pad[3];        /* CONV_TRANSPOSE only: extra output at the end */
    int groups;            /* > 0, divides Cin and Cout */
    lumen_actdesc act;     /* y = act(conv + bias + residual) */
} lumen_conv_params;

enum { LUMEN_POOL_MAX, LUMEN_POOL_AVG };
typedef struct lumen_pool_params {
    int kind, nsp;
    int k[3], stride[3], pad0[3], pad1[3], dil[3];
    int count_include_pad; /* average: divide by the full window, padding included */
    int ceil_mode;
    int indices;       /* max: the output is the index of each maximum (as float) instead, flat
                          over the whole input (ONNX MaxPool's second output) */
    int storage_order; /* indices: 0 row-major, 1 column-major within each [spatial] plane */
} lumen_pool_params;

enum { LUMEN_REDUCE_SUM, LUMEN_REDUCE_MEAN, LUMEN_REDUCE_MAX, LUMEN_REDUCE_PROD };
typedef struct lumen_reduce_params {
    int kind;
    unsigned axes; /* bit i set: reduce axis i */
    int keepdims;
} lumen_reduce_params;

enum { LUMEN_RESIZE_NEAREST, LUMEN_RESIZE_LINEAR, LUMEN_RESIZE_CUBIC };
enum { /* how an output coordinate maps to an input coordinate (ONNX names) */
       LUMEN_COORD_HALF_PIXEL,
       LUMEN_COORD_ALIGN_CORNERS,
       LUMEN_COORD_ASYMMETRIC,
       LUMEN_COORD_PYTORCH_HALF_PIXEL,
       LUMEN_COORD_TF_HALF_PIXEL_FOR_NN,
       LUMEN_COORD_TF_CROP_AND_RESIZE /* samples roi; outside the input: 'extrapolation' */
};
enum {
    LUMEN_NEAREST_FLOOR,
    LUMEN_NEAREST_ROUND_PREFER_FLOOR,
    LUMEN_NEAREST_ROUND_PREFER_CEIL,
    LUMEN_NEAREST_CEIL
};
typedef struct lumen_resize_params {
    int mode, coord, nearest, nsp; /* the last nsp axes are resized */
    int64_t out[3];                /* output extents of those axes */
    float scale[3];                /* output/input; 0: use out/in */
    float cubic_a;                 /* CUBIC: the kernel's a (ONNX default -0.75) */
    int exclude_outside;           /* CUBIC: taps outside the input get weight 0, rest renormed */
    float roi0[3], roi1[3];        /* TF_CROP_AND_RESIZE: start and end of each axis in [0, 1] */
    float extrapolation;           /* TF_CROP_AND_RESIZE: value outside the input */
} lumen_resize_params;

typedef struct lumen_concat_params {
    int axis;
} lumen_concat_params;

typedef struct lumen_slice_params {
    int64_t start[LUMEN_MAX_DIMS]; /* first index per axis, in range */
    int64_t step[LUMEN_MAX_DIMS];  /* non-zero; negative walks backwards */
    int64_t count[LUMEN_MAX_DIMS]; /* output extent per axis */
} lumen_slice_params;

typedef struct lumen_pad_params {
    int64_t pad0[LUMEN_MAX_DIMS], pad1[LUMEN_MAX_DIMS]; /* >= 0 */
    float value;
} lumen_pad_params;

enum {
    LUMEN_BIN_ADD,
    LUMEN_BIN_SUB,
    LUMEN_BIN_MUL,
    LUMEN_BIN_DIV,
    LUMEN_BIN_POW,
    LUMEN_BIN_MAX,
    LUMEN_BIN_MIN,
    LUMEN_BIN_GT, /* comparisons: 1 or 0 (false when either side is NaN) */
    LUMEN_BIN_GE,
    LUMEN_BIN_LT,
    LUMEN_BIN_LE,
    LUMEN_BIN_EQ,
    LUMEN_BIN_NE,   /* true when either side is NaN */
    LUMEN_BIN_FMOD, /* C's fmod: the result has the dividend's sign */
    LUMEN_BIN_MASK, /* b != 0 ? a : 0 (a NaN or inf of a where b is 0 gives 0) */
    LUMEN_BIN_COUNT
};
typedef struct lumen_binary_params {
    int kind;
    lumen_actdesc act; /* applied to the result */
} lumen_binary_params;

typedef struct lumen_unary_params {
    lumen_actdesc act;
} lumen_unary_params;

typedef struct lumen_axes_params { /* SOFTMAX, LAYERNORM: normalise over axes [axis, axis_end) */
    int axis, axis_end;
    float eps; /* LAYERNORM */
} lumen_axes_params;

typedef struct lumen_norm_params { /* BATCHNORM, INSTANCENORM */
    float eps;
} lumen_norm_params;

typedef struct lumen_transpose_params {
    int perm[LUMEN_MAX_DIMS]; /* output axis i is input axis perm[i] */
} lumen_transpose_params;

typedef struct lumen_reshape_params {
    lumen_shape shape; /* fully resolved (no -1) */
} lumen_reshape_params;

typedef struct lumen_matmul_params {
    /* y[..., M, N] = alpha * op(a)[..., M, K] op(b)[..., K, N] + bias[N]; batch dims broadcast */
    int trans_a, trans_b;
    float alpha; /* 0 is taken as 1 so that a zeroed struct is a plain matmul */
    lumen_actdesc act;
} lumen_matmul_params;

typedef struct lumen_attention_params {
    /* q [N, *, H, W], k and v [N, *, Hk, Wk]; head i reads channels c0 + i*head_dim ...
     * out [N, heads*head_dim, H, W]. window > 0: token (y, x) attends to the keys of its own
     * window x window tile (Hk == H, Wk == W, both multiples of window); window == 0: every
     * token attends to all Hk*Wk keys. Softmax is computed in fp32. */
    int heads, head_dim, window;
    float scale; /* 0 means 1/sqrt(head_dim) */
    int q_c0, k_c0, v_c0;
} lumen_attention_params;

typedef struct lumen_argmax_params {
    int axis, keepdims;
    int last; /* ties: the last index (ONNX select_last_index), else the first */
} lumen_argmax_params;

typedef struct lumen_topk_params {
    int axis, k; /* 1 <= k <= the axis' extent */
    int largest; /* 1: the k largest, in descending order; 0: the k smallest, ascending */
    int indices; /* 1: the output is the elements' indices along axis (as float) */
} lumen_topk_params;

enum { LUMEN_GRID_BILINEAR, LUMEN_GRID_NEAREST, LUMEN_GRID_BICUBIC };
enum { LUMEN_GRID_ZEROS, LUMEN_GRID_BORDER, LUMEN_GRID_REFLECTION };
typedef struct lumen_grid_sample_params {
    int mode, padding; /* LUMEN_GRID_* */
    int align_corners; /* grid -1 and 1 are the centres (1) or the outer edges (0) of the corners */
} lumen_grid_sample_params;

enum { LUMEN_ROI_AVG, LUMEN_ROI_MAX };
typedef struct lumen_roi_align_params {
    int mode;            /* LUMEN_ROI_AVG / MAX */
    int out_h, out_w;    /* output bins per roi */
    int sampling;        /* samples per bin and axis; 0: ceil(roi extent / bins) */
    float spatial_scale; /* roi coordinates times this are input pixels */
    int half_pixel;      /* 1: shift the scaled roi by -0.5 (ONNX 'half_pixel') */
} lumen_roi_align_params;

/* One operator with its parameters: what a graph node is. */
typedef struct lumen_opdesc {
    lumen_op op;
    union {
        lumen_conv_params conv;
        lumen_pool_params pool;
        lumen_reduce_params reduce;
        lumen_resize_params resize;
        lumen_concat_params concat;
        lumen_slice_params slice;
        lumen_pad_params pad;
        lumen_binary_params binary;
        lumen_unary_params unary;
        lumen_axes_params axes;
        lumen_norm_params norm;
        lumen_transpose_params transpose;
        lumen_reshape_params reshape;
        lumen_matmul_params matmul;
        lumen_attention_params attention;
        lumen_argmax_params argmax;
        lumen_topk_params topk;
        lumen_grid_sample_params grid;
        lumen_roi_align_params roi;
    } p;
} lumen_opdesc;

/* Convenience constructors with the defaults PyTorch uses. */
lumen_opdesc lumen_opdesc_unary(lumen_act act);
lumen_opdesc lumen_opdesc_conv2d(int stride, int pad, int dil, int groups, lumen_act act);

/*
 * Op parameter schemas. Each op family declares its parameters once, beside its implementation
 * (runtime/ops/<family>.c): name, how it is stored, default and valid range. From that one list
 * come the defaults (lumen_opdesc_default), the validation every op runs before its shape check
 * (lumen_opdesc_check) and the Lua binding's parser of op tables (lua/lua_graph.c).
 */
typedef enum {
    LUMEN_PARAM_INT,    /* int; a boolean counts as 0/1; by name from 'names' when they are set */
    LUMEN_PARAM_FLOAT,  /* float */
    LUMEN_PARAM_INTS,   /* int[n]; one number fills every entry */
    LUMEN_PARAM_INT64S, /* int64_t[n]; one number fills every entry */
    LUMEN_PARAM_FLOATS, /* float[n]; one number fills every entry */
    LUMEN_PARAM_AXES,   /* unsigned bit set (bit i: axis i), given as a list of axes */
    LUMEN_PARAM_ACT     /* lumen_actdesc, by name; a, b from lumen_actdesc_default */
} lumen_param_type;

enum {                            /* lumen_param.flags */
       LUMEN_PARAM_REQUIRED = 1,  /* has no usable default: front doors must ask for it */
       LUMEN_PARAM_COUNT_IN = 2,  /* arrays: the entries used are the int at 'count_at' (nsp) */
       LUMEN_PARAM_COUNT_OUT = 4, /* arrays: how many entries were given is stored at 'count_at' */
       LUMEN_PARAM_MIRROR = 8,    /* arrays: stored at 'at' and 'at2' alike (symmetric padding) */
       LUMEN_PARAM_SPLIT =
           16, /* arrays: twice the count, the first half at 'at', the rest at 'at2' */
       LUMEN_PARAM_KEEP = 32, /* no default of its own: keeps what an earlier one set (act_a) */
       LUMEN_PARAM_MATH = 64  /* ACT: the UNARY op's math functions (sin..isinf) are allowed too */
};

typedef struct lumen_param {
    const char *name;      /* its key in Lua op tables: "stride" */
    lumen_param_type type; /* the element type of the field at 'at' */
    size_t at, at2;        /* byte offsets of the field(s) in lumen_opdesc */
    int n;                 /* entries: 1 for scalars, the array length for arrays */
    size_t count_at;       /* COUNT_IN / COUNT_OUT: byte offset of an int in lumen_opdesc */
    int flags;
    double def;               /* default of every entry; INT with names: the index */
    const char *def_from;     /* default is that earlier parameter's value plus 'def' */
    double lo, hi;            /* when lo < hi: every entry used must lie in [lo, hi] */
    const char *const *names; /* INT by name: NULL-terminated */
} lumen_param;

/* The parameters of op, in order (a parameter's def_from and count_at name earlier ones);
 * *n gets their number. NULL (and 0) for an op out of range. */
const lumen_param *lumen_op_params(lumen_op op, int *n);
/* The parameter of op called name ("stride"), or NULL. */
const lumen_param *lumen_op_param(lumen_op op, const char *name);
/* Entries of p in use in d: n, or the count at count_at (twice that for SPLIT). */
int lumen_param_count(const lumen_param *p, const lumen_opdesc *d);
/* Entry i of p in d as a double (exact for ints, extents and floats). AXES: bit i as 0 or 1;
 * ACT: the act code (set gives the act its default a, b). set writes both fields of MIRROR. */
double lumen_param_get(const lumen_param *p, const lumen_opdesc *d, int i);
void lumen_param_set(const lumen_param *p, lumen_opdesc *d, int i, double v);
/* Puts p in d back to its default (def, or def_from's value + def); KEEP parameters stay. */
void lumen_param_reset(const lumen_param *p, lumen_opdesc *d);
/* op with every parameter at its default (PyTorch's, as the schema says). */
lumen_opdesc lumen_opdesc_default(lumen_op op);
/* Checks d's parameters against its op's schema (ranges, names, activation). On error writes
 * "conv: parameter 'groups' is 0, must be in [1, ...]" into err (may be NULL) and returns
 * LUMEN_EINVAL. lumen_op_shape (and so every op) runs it first. */
lumen_status lumen_opdesc_check(const lumen_opdesc *d, char *err);

/* Minimum and maximum input counts of an op (absent optional inputs are passed as NULL). */
void lumen_op_arity(lumen_op op, int *min_in, int *max_in);

/*
 * Infers the output shape of op d applied to inputs of shapes in[0..n_in) (NULL for an absent
 * optional input). On error writes a message naming the op and the offending shapes into err
 * (LUMEN_ERR_MAX bytes, may be NULL) and returns LUMEN_ESHAPE or LUMEN_EINVAL.
 */
lumen_status lumen_op_shape(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                            lumen_shape *out, char *err);

/*
 * Plain-C reference: computes op d on host arrays. in[i] has shape in_shape[i] (NULL for absent
 * inputs); out must hold numel(output shape) floats. Checks shapes first. This is the test oracle:
 * loops mirror the definition, no tricks.
 */
lumen_status lumen_op_ref(const lumen_opdesc *d, int n_in, const lumen_shape *const *in_shape,
                          const float *const *in, float *out, char *err);

/*
 * Runs op d on the device: checks shapes (y must already have the inferred shape), then enqueues
 * the kernels. Does not wait for completion. On failure the message is in lumen_ctx_error.
 * Every tensor of one op has the same precision (else LUMEN_EINVAL): its kernels are built for
 * that storage (FP16: the programs' -DLUMEN_FP16 variants).
 */
lumen_status lumen_op_run(lumen_ctx *ctx, const lumen_opdesc *d, int n_in,
                          const lumen_tensor *const *in, lumen_tensor *y);

/* Floating point operations of op d on these shapes (for profiles and benchmarks). */
double lumen_op_flops(const lumen_opdesc *d, int n_in, const lumen_shape *const *in,
                      const lumen_shape *out);

/* ---- GEMM: y = a * b on raw buffers, the engine behind 1x1 conv, linear and matmul ---- */
typedef enum { LUMEN_GEMM_AUTO, LUMEN_GEMM_OWN, LUMEN_GEMM_CLBLAST } lumen_gemm_engine;
/* Forces an engine for this context (AUTO: measured once per device, remembered on disk;
 * $LUMEN_GEMM=own|clblast overrides). */
lumen_status lumen_ctx_set_gemm(lumen_ctx *ctx, lumen_gemm_engine e);
lumen_gemm_engine lumen_ctx_gemm(lumen_ctx *ctx);

/* ---- device self-check (selfcheck.c) and quirks (quirks.c) ----
 *
 * Every new device is checked before it is trusted: a few small cases per op family (odd
 * shapes, deterministic random inputs) run on the device and are compared with lumen_op_ref
 * (|a-b| <= 1e-5 + 1e-4*|b|; NaN must match NaN; guard values around outputs). The verdict is
 * kept in the cache directory, keyed by platform, device, driver and lumen version, so a later
 * process reads it instead of running the cases. A failed family is dealt with on the context:
 * the GEMM engines stand in for each other (own kernel <-> CLBlast; CLBlast is checked only
 * where it is the engine in use or must stand in); any other failure makes lumen_model_new
 * refuse graphs that use an op of that family, naming the failing case. Contexts do not run it
 * by themselves: the lumen command does on first use of a device (lua/lumen/selfcheck.lua).
 *
 *     lumen_selfcheck_result r;
 *     if (lumen_selfcheck(ctx, LUMEN_SELFCHECK_CACHED, &r) == LUMEN_OK && !r.passed)
 *         for (int f = 0; f < LUMEN_CHECK_COUNT; f++)
 *             if (r.fam[f].verdict == LUMEN_CHECK_FAIL) puts(r.fam[f].action);
 *
 * Debugging: $LUMEN_DEBUG_SELFCHECK_FAIL=gemm,conv (family names) corrupts one output value of
 * those families inside the check, so the failure paths can be tested on a healthy device;
 * "fp16:conv" does the same to the fp16-storage check of conv.
 */
#define LUMEN_CHECK_LIST(X)                                                                        \
    X(ELTWISE, "eltwise")     /* unary, binary */                                                  \
    X(CONV, "conv")           /* direct, depthwise, transposed (not the pointwise GEMM) */         \
    X(GEMM, "gemm")           /* the own GEMM kernels: matmul and 1x1 conv */                      \
    X(CLBLAST, "clblast")     /* the same, where CLBlast is in use or must stand in */             \
    X(POOL, "pool")           /* pool, reduce */                                                   \
    X(LAYOUT, "layout")       /* transpose, concat, slice, pad, resize */                          \
    X(NORM, "norm")           /* batch/layer/instance norm, softmax, argmax */                     \
    X(ATTENTION, "attention") /* windowed and global attention */

typedef enum {
#define LUMEN_X(name, str) LUMEN_CHECK_##name,
    LUMEN_CHECK_LIST(LUMEN_X)
#undef LUMEN_X
        LUMEN_CHECK_COUNT
} lumen_check_family;

/* "gemm" for LUMEN_CHECK_GEMM; NULL when out of range. */
const char *lumen_check_name(lumen_check_family f);
/* The check families an op relies on, as bits (1u << lumen_check_family). A GEMM-backed op
 * names LUMEN_CHECK_GEMM; CLBlast is an alternative engine, never required. */
unsigned lumen_check_families_of(const lumen_opdesc *d, const lumen_shape *const *in);

enum { LUMEN_CHECK_PASS, LUMEN_CHECK_FAIL, LUMEN_CHECK_SKIP };

typedef struct lumen_check_verdict {
    int verdict;      /* LUMEN_CHECK_PASS, _FAIL or _SKIP (not run: a quirk, no engine) */
    int cases;        /* cases run */
    double ms;        /* wall time, kernel builds included */
    char op[32];      /* the first failing case's op ("conv"), "" when none failed */
    char label[64];   /* its case ("dw3x3 s1 odd") */
    char error[256];  /* what was wrong ("at 17: device 0.5, reference 0.25"), or why skipped */
    char action[192]; /* what the context does about a failure (fallback, refusal); "" */
} lumen_check_verdict;

typedef struct lumen_selfcheck_result {
    lumen_check_verdict fam[LUMEN_CHECK_COUNT];
    /* The same families with fp16 storage (LUMEN_FP16 tensors, inputs rounded to half, the
     * reference's tolerance plus 1e-3 relative): a failure makes fp16 models that use the
     * family run in fp32 (lumen_model_options.precision). clblast is always skipped (fp32
     * only), and every family where the device has LUMEN_QUIRK_NO_FP16. */
    lumen_check_verdict fp16[LUMEN_CHECK_COUNT];
    int passed;     /* 1 when no family failed, in either precision */
    int from_cache; /* 1 when the verdict was read from the cache and nothing ran */
    double ms;      /* wall time of the run (on a cache hit: of the run that stored it) */
    char key[512];  /* "platform=...|device=...|driver=...|lumen=...|checks=..." */
    char path[640]; /* the verdict's file, "" when the disk cache is off */
} lumen_selfcheck_result;

typedef enum {
    LUMEN_SELFCHECK_CACHED, /* the stored verdict when there is one, else run and store */
    LUMEN_SELFCHECK_RUN,    /* run and store, whatever is stored */
    LUMEN_SELFCHECK_STORED  /* the stored verdict only: LUMEN_ENOTFOUND when there is none */
} lumen_selfcheck_mode;

/*
 * Checks the context's device (see above), fills *out and applies the verdict to ctx (engine
 * fallback, refused families). Returns LUMEN_OK whenever a verdict was obtained, passed or not
 * (a case that fails on the device, even with an OpenCL error, is a failed family); an error
 * only when no verdict exists: LUMEN_ENOTFOUND (mode STORED, nothing stored), LUMEN_ENOMEM.
 * Failing to store the verdict is not an error (the next process runs it again).
 */
lumen_status lumen_selfcheck(lumen_ctx *ctx, lumen_selfcheck_mode mode,
                             lumen_selfcheck_result *out);

/*
 * Known problems of vendors' drivers, each turning a path off (runtime/quirks.c, README
 * "Device self-check and quirks"). The table is empty until a measured problem fills it.
 * $LUMEN_DEBUG_QUIRKS="FLAGS:MATCH" adds one entry for tests: FLAGS a ','-list of no_clblast,
 * no_fp16; MATCH a case-insensitive substring of platform, vendor, device name or driver
 * ("" or "*": every device).
 */
enum {
    LUMEN_QUIRK_NO_CLBLAST = 1, /* CLBlast is wrong here: the own GEMM kernel is used */
    LUMEN_QUIRK_NO_FP16 = 2     /* half precision is wrong here: fp32 only */
};
/* The OR of the flags of every entry matching d; why (may be NULL) receives their reasons,
 * '; '-separated. Can't fail: a malformed $LUMEN_DEBUG_QUIRKS is ignored with why saying so. */
unsigned lumen_quirks(const lumen_device_info *d, char *why, size_t len);
/* The quirks applied to ctx when it was opened (lumen_quirks of its device). */
unsigned lumen_ctx_quirks(const lumen_ctx *ctx);

/* ---- graphs: a static network of ops, built once for given input shapes (graph.c) ---- */

/*
 * Building only records: each builder returns the id (>= 0) of the value it made, or -1 once
 * any builder has failed. The first error is kept (lumen_graph_status/error), so building code
 * reads straight and checks once at the end. Shapes are inferred as nodes are added.
 * Value ids passed as inputs: -1 marks an absent optional input.
 */
typedef struct lumen_graph lumen_graph;
lumen_graph *lumen_graph_new(void); /* NULL when out of memory */
void lumen_graph_free(lumen_graph *g);
int lumen_graph_input(lumen_graph *g, const char *name, const lumen_shape *shape);
/* A constant (weights): data is copied. */
int lumen_graph_const(lumen_graph *g, const char *name, const lumen_shape *shape,
                      const float *data);
/* Adds op d on inputs in[0..n_in); returns the output value, named after the node. */
int lumen_graph_op(lumen_graph *g, const char *name, const lumen_opdesc *d, int n_in,
                   const int *in);
/* Marks value as a graph output under name. */
lumen_status lumen_graph_output(lumen_graph *g, const char *name, int value);
lumen_status lumen_graph_status(const lumen_graph *g);
const char *lumen_graph_error(const lumen_graph *g); /* "" when none */
/* The shape of a value, or NULL for a bad id. */
const lumen_shape *lumen_graph_shape(const lumen_graph *g, int value);

typedef struct lumen_graph_stats {
    int inputs, outputs, consts, nodes; /* live nodes, after the model's passes */
    double const_elements;              /* all constants' elements */
    double macs;                        /* multiply-accumulates of conv, matmul, attention */
    double flops;                       /* all ops, as their flops functions count them */
} lumen_graph_stats;
void lumen_graph_stats_get(const lumen_graph *g, lumen_graph_stats *out);

/* ---- models: a graph compiled for one context ---- */
typedef struct lumen_model_options {
    /* Load-time passes, all on by default; each can be switched off for debugging and to prove
     * it changes nothing beyond tolerance. */
    int no_fold_const, no_fold_bn, no_fuse_residual, no_fuse_act, no_dead_code;
    int no_fuse_patterns; /* decomposed GELU / LayerNorm stay as written (fuse.c) */
    int no_memory_plan;   /* every intermediate gets its own buffer */
    /* Storage of every device tensor of the model: weights, inputs, outputs, intermediates
     * (0, LUMEN_FP32, by default). With LUMEN_FP16 inputs and outputs are half too: write and
     * read them as float (lumen_tensor_write/read convert), or lumen_tensor_copy from / to a
     * tensor of either precision. Where the device has LUMEN_QUIRK_NO_FP16 or failed its fp16
     * self-check on a family the graph uses, the model falls back to FP32 and says why
     * (lumen_plan_stats.precision, precision_note). A graph with indices beyond 2048 (constant
     * TAKE indices, run-time ones into a larger source, argmax / topk / max pooling indices
     * that could go beyond) is refused in FP16 (LUMEN_EUNSUPPORTED) on every device: half
     * holds integers exactly only up to there. */
    lumen_precision precision;
} lumen_model_options;

typedef struct lumen_model lumen_model;
/* Runs the passes on g, plans memory, uploads constants and makes the device tensors. The
 * model takes ownership of g in every case (it is freed on failure). opt may be NULL. */
lumen_status lumen_model_new(lumen_ctx *ctx, lumen_graph *g, const lumen_model_options *opt,
                             lumen_model **out);
void lumen_model_free(lumen_model *m);
/* The graph the model runs (after its passes); owned by m. */
const lumen_graph *lumen_model_graph(const lumen_model *m);
int lumen_model_input_count(const lumen_model *m);
int lumen_model_output_count(const lumen_model *m);
/* The i-th input / output: its name and its device tensor (owned by m). Write inputs, run,
 * read outputs; input and output buffers are never reused for intermediates. */
const char *lumen_model_input_name(const lumen_model *m, int i);
const char *lumen_model_output_name(const lumen_model *m, int i);
lumen_tensor *lumen_model_input(lumen_model *m, int i);
lumen_tensor *lumen_model_output(lumen_model *m, int i);
/* Input or output by name, or NULL. */
lumen_tensor *lumen_model_tensor(lumen_model *m, const char *name);
/* Enqueues every node and waits for the result. */
lumen_status lumen_model_run(lumen_model *m);
/*
 * The same run in two halves, so that one thread can keep several devices busy: start enqueues
 * every node and flushes the queue without waiting (a run still pending on m is waited for
 * first); poll sets *done to 1 once that run has finished (0 while it is running) and never
 * blocks; wait blocks until it has finished. Outputs are valid after poll reported done or
 * wait returned LUMEN_OK. A failed command is reported by poll or wait. A model and its
 * context are used from one thread at a time; different contexts may run on different threads.
 */
lumen_status lumen_model_start(lumen_model *m);
lumen_status lumen_model_poll(lumen_model *m, int *done);
lumen_status lumen_model_wait(lumen_model *m);

typedef struct lumen_plan_stats {
    lumen_precision precision; /* of every buffer below (lumen_model_options.precision) */
    uint64_t planned_bytes;    /* all intermediate buffers of the plan */
    uint64_t naive_bytes;      /* sum of every intermediate value, no reuse */
    uint64_t live_peak;        /* the largest set of intermediates live at one time */
    uint64_t weight_bytes, io_bytes;
    int buffers;
    char precision_note[384]; /* why FP16 was asked for and FP32 runs (a quirk, a failed fp16
                                 self-check), "" otherwise */
} lumen_plan_stats;
void lumen_model_plan_stats(const lumen_model *m, lumen_plan_stats *out);

typedef struct lumen_node_prof {
    char name[128];
    lumen_op op;
    lumen_shape out;
    double ms, flops, bytes; /* device time of the node's kernels; flops and bytes estimated */
} lumen_node_prof;
/* Runs once with per-launch events and returns one record per node in execution order
 * (owned by m, valid until the next call). */
lumen_status lumen_model_profile(lumen_model *m, const lumen_node_prof **out, int *count);

/*
 * Layer-by-layer check: runs the model node by node, and for each node compares the device
 * output with the plain-C reference computed from the device's own inputs to that node. Stops at
 * the first node beyond |a-b| <= atol + rtol*|b| and returns LUMEN_ERANGE with a report naming
 * it; LUMEN_OK with a summary (worst node, max error) otherwise. report may be NULL.
 */
lumen_status lumen_model_check(lumen_model *m, float atol, float rtol, char *report, size_t len);

/* Turns per-launch profiling on or off for a context. */
void lumen_ctx_set_profiling(lumen_ctx *ctx, int on);

/* ---- images: PNG through libpng's low-level API, and host-side post-processing (image.c) ---- */

/* A host image: channels x height x width floats (planar, C order), holding the stored sample
 * values (0..255 for 8-bit, 0..65535 for 16-bit). */
typedef struct lumen_image {
    int width, height, channels; /* channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    int bit_depth;               /* 8 or 16, as stored in the file */
    float *data;                 /* malloc'd; lumen_image_free releases it */
} lumen_image;

#define LUMEN_PNG_MAX_SIDE 8192 /* default size limit, pixels per side */

/* Reads a PNG: 8/16-bit gray, gray+alpha, RGB, RGBA; palette and low bit depths are expanded to
 * 8 bits; gray+alpha arrives as gray (1 channel: a grayscale frame's alpha plane is not image
 * data). Images wider or taller than max_side (0: LUMEN_PNG_MAX_SIDE) are refused before any
 * pixel memory is allocated; ancillary chunks (text, ICC profiles, ...) are skipped unread, so
 * memory is the float image (4 bytes per sample) plus one row (the whole 8/16-bit image too
 * for interlaced files). A truncated, corrupt or oversized file returns LUMEN_EFORMAT (or
 * LUMEN_EIO / LUMEN_ERANGE) with a message naming the file and the problem; nothing aborts. */
lumen_status lumen_png_read(const char *path, int max_side, lumen_image *out, char *err,
                            size_t errlen);
/* Writes img (channels 1, 3 or 4; values clamped to the bit depth's range and rounded) as an 8
 * or 16-bit PNG, atomically (temp file + rename). */
lumen_status lumen_png_write(const char *path, const lumen_image *img, char *err, size_t errlen);
void lumen_image_free(lumen_image *img);

/* Connected components of mask > 0 (8-connectivity) in a width x height array. labels (may be
 * NULL) receives 0 for background and 1..n for components; sizes (may be NULL) receives up to
 * max_sizes component sizes in pixels, largest first. Returns the number of components, or -1
 * when out of memory. */
int lumen_components(const float *mask, int width, int height, int *labels, int64_t *sizes,
                     int max_sizes);

/* ---- DICOM: lumen_dicom.h (reading, Structured Reports, the network; runtime/dicom/) ---- */

/* ---- ONNX import (runtime/onnx/): a model file becomes a lumen_graph ---- */

typedef struct lumen_array lumen_array; /* defined below with the host arrays */

typedef struct lumen_onnx_input_shape {
    const char *name;  /* a graph input of the model */
    lumen_shape shape; /* its concrete shape: symbolic dims take these values; fixed dims must
                        * match (else LUMEN_EINVAL naming input, expected and given) */
} lumen_onnx_input_shape;

typedef struct lumen_onnx_options {
    int n_shapes;                         /* entries in shapes */
    const lumen_onnx_input_shape *shapes; /* NULL: the model's own (fixed) input dims */
    int max_depth;                        /* message nesting bound; 0: 32 */
    int64_t max_elements;                 /* bound on any one tensor; 0: 1<<28 */
} lumen_onnx_options;

typedef struct lumen_onnx_info {
    int64_t ir_version, opset; /* opset of the default ("" / "ai.onnx") domain */
    char producer[64];
    int nodes;          /* nodes in the file's graph */
    int64_t parameters; /* elements of all float initializers */
    /* What the import produced, for tools (lumen infer --info). Lists stop at their capacity;
     * the counts are complete. */
    int n_inputs, n_outputs; /* graph inputs (initializers excluded) and outputs */
    struct {
        char name[128];
        lumen_shape shape; /* as planned */
        unsigned dynamic;  /* inputs: bit i set when dim i is symbolic in the model */
    } inputs[16], outputs[16];
    int n_op_types; /* distinct ONNX op types, in order of first use */
    struct {
        char type[32];
        int count;
    } op_types[64];
} lumen_onnx_info;

/*
 * Loads an ONNX model (opsets 11-17 as PyTorch exports them) into a new graph. Hostile files are
 * expected: the wire format is pre-scanned to bound nesting depth and repeated-field counts
 * before protobuf-c unpacks it; external data, negative or overflowing dims, short raw_data,
 * unknown input names and out-of-range attributes are rejected with LUMEN_EFORMAT naming the
 * node and the reason; an unsupported op is LUMEN_EUNSUPPORTED naming op, node and opset.
 * Shape arithmetic on constants (Shape, Gather, Concat, ...) is folded on the host. info may be
 * NULL. On failure *out is NULL.
 */
lumen_status lumen_onnx_load(const char *path, const lumen_onnx_options *opt, lumen_graph **out,
                             lumen_onnx_info *info, char *err, size_t errlen);
/* The same from memory (the fuzz target's entry point). */
lumen_status lumen_onnx_load_buffer(const void *data, size_t len, const lumen_onnx_options *opt,
                                    lumen_graph **out, lumen_onnx_info *info, char *err,
                                    size_t errlen);
/* Reads a serialized TensorProto (.pb, as in the ONNX backend test data) into a float array;
 * integer and boolean tensors are converted to float and *is_integer set. out->data: free(). */
lumen_status lumen_onnx_read_tensor(const char *path, lumen_array *out, int *is_integer, char *err,
                                    size_t errlen);

/* ---- host arrays: safetensors weights and .npy files (io.c) ---- */

/* A named float32 host array. data is owned by whoever owns the array. */
typedef struct lumen_array {
    char name[256];
    lumen_shape shape;
    float *data;
} lumen_array;

/* A set of weights loaded from a safetensors file (F32, F16 and BF16 are converted to float32).
 * Hostile files are rejected with LUMEN_EFORMAT and a message naming the problem: header length
 * beyond the file or above 100 MB, invalid JSON, unknown dtype, offsets out of range, overlapping
 * or not covering the data, byte size not matching shape x dtype, duplicate names, ranks above
 * LUMEN_MAX_DIMS, negative or overflowing extents. */
typedef struct lumen_weights lumen_weights;
lumen_status lumen_weights_load(const char *path, lumen_weights **out, char *err, size_t errlen);
void lumen_weights_free(lumen_weights *w);
int lumen_weights_count(const lumen_weights *w);
/* The i-th array in file order (0 <= i < count); NULL when out of range. Owned by w. */
const lumen_array *lumen_weights_at(const lumen_weights *w, int i);
/* The array named name, or NULL. Owned by w. */
const lumen_array *lumen_weights_find(const lumen_weights *w, const char *name);
/* The "__metadata__" string value for key, or NULL. */
const char *lumen_weights_meta(const lumen_weights *w, const char *key);
/* Writes arrays[0..n) as a safetensors file (F32), atomically (temp file + rename). */
lumen_status lumen_weights_save(const char *path, const lumen_array *arrays, int n, char *err,
                                size_t errlen);

/* Reads a .npy file (version 1.0-3.0, little-endian float32 '<f4' or float64 '<f8' converted,
 * C order; Fortran order and other dtypes are rejected). out->data is malloc'd: free() it. */
lumen_status lumen_npy_load(const char *path, lumen_array *out, char *err, size_t errlen);
/* Writes a float32 C-order .npy file atomically. */
lumen_status lumen_npy_save(const char *path, const lumen_shape *shape, const float *data,
                            char *err, size_t errlen);

/* ---- files, clock, hashing (sys.c) ---- */

/* Writes len bytes to path atomically: a temp file "<path>.tmp-<pid>-XXXXXX" in the same
 * folder, fsync'd, renamed over path, and the folder fsync'd. path must be a regular file or a
 * new name: a symlink, device, FIFO or folder is refused with LUMEN_EINVAL and a message, and
 * left untouched. */
lumen_status lumen_file_write(const char *path, const void *data, size_t len, char *err,
                              size_t errlen);
/* Creates path and its missing parents (mkdir -p); an existing folder is fine. */
lumen_status lumen_mkdirs(const char *path, char *err, size_t errlen);
/* Removes temp files "<prefix>*.tmp-<pid>-XXXXXX" in dir whose writer is gone (no such pid on
 * this machine) or that are older than an hour. Returns how many were removed. */
int lumen_tmp_clean(const char *dir, const char *prefix);
/* Milliseconds on CLOCK_MONOTONIC (arbitrary origin). Can't fail. */
double lumen_clock_ms(void);
/* SHA-256 (OpenSSL libcrypto) as 64 hex digits + NUL. The file variant reads regular files
 * only (a FIFO or device is refused without blocking). */
lumen_status lumen_sha256_hex(const void *data, size_t len, char hex[65]);
lumen_status lumen_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
