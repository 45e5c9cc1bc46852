/*
 * common.cl - definitions shared by every kernel family; prepended to each program.
 *
 * The activation codes mirror LUMEN_ACT_LIST in runtime/lumen.h, in the same order (the unary op
 * tests run every code against the C reference, so a mismatch fails there).
 */
#define ACT_NONE 0
#define ACT_RELU 1
#define ACT_RELU6 2
#define ACT_LEAKY_RELU 3
#define ACT_SIGMOID 4
#define ACT_TANH 5
#define ACT_GELU 6
#define ACT_HARDSWISH 7
#define ACT_HARDSIGMOID 8
#define ACT_CLIP 9
#define ACT_EXP 10
#define ACT_LOG 11
#define ACT_SQRT 12
#define ACT_ERF 13
#define ACT_NEG 14
#define ACT_ABS 15
#define ACT_RECIPROCAL 16
#define ACT_THRESHOLD 17
#define ACT_SCALE 18
/* from here on: math functions of the unary op only (kernels/eltwise.cl, lumen_math) */
#define ACT_SIN 19
#define ACT_COS 20
#define ACT_TAN 21
#define ACT_ASIN 22
#define ACT_ACOS 23
#define ACT_ATAN 24
#define ACT_SINH 25
#define ACT_COSH 26
#define ACT_ASINH 27
#define ACT_ACOSH 28
#define ACT_ATANH 29
#define ACT_FLOOR 30
#define ACT_CEIL 31
#define ACT_ROUND 32
#define ACT_SIGN 33
#define ACT_ISNAN 34
#define ACT_ISINF 35

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
    default: return x;
    }
}
