/*
 * common.cl - definitions shared by every kernel family; prepended to each program.
 *
 * The activation codes ACT_<NAME> come from LUMEN_ACT_LIST in runtime/lumen.h: the runtime
 * prepends them to every program as an enum (runtime/variants.c), so they are never copied here.
 *
 * Storage. Tensors in global memory are 'STORE_T' arrays, read and written only through the
 * macros below: with -DLUMEN_FP16 (the fp16 twin of every program, runtime/variants.c) STORE_T
 * is half and the macros are vload_half / vstore_half (core OpenCL 1.2: no cl_khr_fp16 needed,
 * and half is only ever a pointer type); without it they are plain float accesses, so the fp32
 * programs compile to what they always did. Either way every value is a float once loaded:
 * arithmetic, accumulators, local memory and private arrays stay fp32, and rounding to half
 * (to nearest even, NaN kept, overflow to inf) happens once, in the store. GEMM's packed panels
 * (gemm.cl) are scratch, not tensors: always float.
 *   LD(p, i)        p[i] as a float
 *   ST(p, i, v)     p[i] = v
 *   LD4/LD8/LD16(p, i), ST8/ST16(p, i, v)   4/8/16 consecutive elements from p + i (no
 *                   alignment beyond the element's is required, as for vloadn / vload_halfn)
 */
#ifdef LUMEN_FP16
/* The 8- and 16-wide loads are made of vload_half4: PoCL 3.1's vload_half8 faults on an
 * address that is not 16-byte aligned (a segfault in binary_same_f32 at element offset 3),
 * although the specification asks only for 2-byte alignment. */
#define STORE_T half
#define LD(p, i) vload_half((i), (p))
#define ST(p, i, v) vstore_half((v), (i), (p))
#define LD4(p, i) vload_half4(0, (p) + (i))
#define LD8(p, i) lumen_ld8((p) + (i))
#define LD16(p, i) lumen_ld16((p) + (i))
#define ST8(p, i, v) vstore_half8((v), 0, (p) + (i))
#define ST16(p, i, v) vstore_half16((v), 0, (p) + (i))
inline float8 lumen_ld8(__global const half *p)
{
    return (float8)(vload_half4(0, p), vload_half4(1, p));
}
inline float16 lumen_ld16(__global const half *p)
{
    return (float16)(vload_half4(0, p), vload_half4(1, p), vload_half4(2, p), vload_half4(3, p));
}
#else
#define STORE_T float
#define LD(p, i) ((p)[i])
#define ST(p, i, v) ((p)[i] = (v))
#define LD4(p, i) vload4(0, (p) + (i))
#define LD8(p, i) vload8(0, (p) + (i))
#define LD16(p, i) vload16(0, (p) + (i))
#define ST8(p, i, v) vstore8((v), 0, (p) + (i))
#define ST16(p, i, v) vstore16((v), 0, (p) + (i))
#endif

/* erf(x) to within 1.5e-7 (Abramowitz & Stegun 7.1.26) with one exp: PoCL's built-in erf is a
 * scalar library call that made GELU epilogues ten times slower than the convolution itself. */
inline float lumen_erf(float x)
{
    float ax = fabs(x), t = 1.0f / (1.0f + 0.3275911f * ax);
    float p = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
              t * (-1.453152027f + t * 1.061405429f))));
    return copysign(1.0f - p * exp(-ax * ax), x);
}

/* max and min that propagate NaN as PyTorch does (torch.maximum, clamp, ReLU, max pooling):
 * OpenCL's fmax/fmin return the other operand when one is NaN, which would turn a NaN frame
 * into a plausible number. */
inline float lumen_max(float u, float v) { return (u > v || isnan(u)) ? u : v; }
inline float lumen_min(float u, float v) { return (u < v || isnan(u)) ? u : v; }
inline float8 lumen_max8(float8 u, float8 v) { return select(v, u, (u > v) | isnan(u)); }
inline float8 lumen_min8(float8 u, float8 v) { return select(v, u, (u < v) | isnan(u)); }

/* y = f(x) for activation 'act' with parameters a, b (see lumen.h). The switch is on a
 * launch-wide constant, so every work-item takes the same branch. */
inline float lumen_act(int act, float a, float b, float x)
{
    switch (act) {
    case ACT_RELU: return lumen_max(x, 0.0f);
    case ACT_RELU6: return lumen_min(lumen_max(x, 0.0f), 6.0f);
    case ACT_LEAKY_RELU: return x < 0.0f ? a * x : x;
    case ACT_SIGMOID: return 1.0f / (1.0f + exp(-x));
    case ACT_TANH: return tanh(x);
    case ACT_GELU: return 0.5f * x * (1.0f + lumen_erf(x * 0.70710678118654752f));
    case ACT_HARDSWISH: return x * lumen_min(lumen_max(x + 3.0f, 0.0f), 6.0f) * (1.0f / 6.0f);
    case ACT_HARDSIGMOID: return lumen_min(lumen_max(a * x + b, 0.0f), 1.0f);
    case ACT_CLIP: return lumen_min(lumen_max(x, a), b);
    case ACT_EXP: return exp(x);
    case ACT_LOG: return log(x);
    case ACT_SQRT: return sqrt(x);
    case ACT_ERF: return lumen_erf(x);
    case ACT_NEG: return -x;
    case ACT_ABS: return fabs(x);
    case ACT_RECIPROCAL: return 1.0f / x;
    case ACT_THRESHOLD: return x > a ? 1.0f : 0.0f;
    case ACT_SCALE: return a * x + b;
    case ACT_SOFTPLUS: return fmax(x, 0.0f) + log1p(exp(-fabs(x)));
    default: return x;
    }
}

/* The same on 8 lanes at once: kernels that take float8 need no help from PoCL's vectoriser,
 * which gives up on a loop body with a switch in it. */
inline float8 lumen_erf8(float8 x)
{
    float8 ax = fabs(x), t = 1.0f / (1.0f + 0.3275911f * ax);
    float8 p = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
               t * (-1.453152027f + t * 1.061405429f))));
    return copysign(1.0f - p * exp(-ax * ax), x);
}

inline float8 lumen_act8(int act, float a, float b, float8 x)
{
    switch (act) {
    case ACT_RELU: return lumen_max8(x, (float8)(0.0f));
    case ACT_RELU6: return lumen_min8(lumen_max8(x, (float8)(0.0f)), (float8)(6.0f));
    case ACT_LEAKY_RELU: return select(x, a * x, x < 0.0f);
    case ACT_SIGMOID: return 1.0f / (1.0f + exp(-x));
    case ACT_TANH: return tanh(x);
    case ACT_GELU: return 0.5f * x * (1.0f + lumen_erf8(x * 0.70710678118654752f));
    case ACT_HARDSWISH: return x * lumen_min8(lumen_max8(x + 3.0f, (float8)(0.0f)), (float8)(6.0f)) * (1.0f / 6.0f);
    case ACT_HARDSIGMOID: return lumen_min8(lumen_max8(a * x + b, (float8)(0.0f)), (float8)(1.0f));
    case ACT_CLIP: return lumen_min8(lumen_max8(x, (float8)(a)), (float8)(b));
    case ACT_EXP: return exp(x);
    case ACT_LOG: return log(x);
    case ACT_SQRT: return sqrt(x);
    case ACT_ERF: return lumen_erf8(x);
    case ACT_NEG: return -x;
    case ACT_ABS: return fabs(x);
    case ACT_RECIPROCAL: return 1.0f / x;
    case ACT_THRESHOLD: return select((float8)(0.0f), (float8)(1.0f), x > a);
    case ACT_SCALE: return a * x + b;
    case ACT_SOFTPLUS: return fmax(x, 0.0f) + log1p(exp(-fabs(x)));
    default: return x;
    }
}
