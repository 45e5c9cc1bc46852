/*
 * eltwise.cl - element-wise kernels: unary functions and binary ops with numpy broadcasting.
 * The codes BIN_* mirror LUMEN_BIN_* in runtime/lumen.h, in the same order.
 *
 * Contiguous cases work on 8 elements per work-item with float8 (the last, partial group of 8
 * falls back to scalars). Broadcasting: the host collapses axes first; at most two axes left
 * use a 2-d grid (binary_2d*), else the output index is split into up to 6 coordinates (shape in
 * 'os', innermost last) and each input has one stride per output axis, 0 where it is broadcast.
 */
#define BIN_ADD 0
#define BIN_SUB 1
#define BIN_MUL 2
#define BIN_DIV 3
#define BIN_POW 4
#define BIN_MAX 5
#define BIN_MIN 6
#define BIN_GT 7
#define BIN_GE 8
#define BIN_LT 9
#define BIN_LE 10
#define BIN_EQ 11
#define BIN_NE 12
#define BIN_FMOD 13
#define BIN_MASK 14

/* The cases of lumen_math and lumen_math8 that are one OpenCL built-in (scalar or vector). */
#define LUMEN_MATH_BUILTINS(x)                                                                     \
    case ACT_SIN: return sin(x);                                                                   \
    case ACT_COS: return cos(x);                                                                   \
    case ACT_TAN: return tan(x);                                                                   \
    case ACT_ASIN: return asin(x);                                                                 \
    case ACT_ACOS: return acos(x);                                                                 \
    case ACT_ATAN: return atan(x);                                                                 \
    case ACT_SINH: return sinh(x);                                                                 \
    case ACT_COSH: return cosh(x);                                                                 \
    case ACT_ASINH: return asinh(x);                                                               \
    case ACT_ACOSH: return acosh(x);                                                               \
    case ACT_ATANH: return atanh(x);                                                               \
    case ACT_FLOOR: return floor(x);                                                               \
    case ACT_CEIL: return ceil(x);                                                                 \
    case ACT_ROUND: return rint(x);

/* The math functions of the unary op (codes from ACT_SIN on, see lumen.h): kept out of
 * lumen_act so that the epilogues of conv and gemm kernels do not carry them. OpenCL's sign()
 * maps NaN to 0, so sign is written out to keep NaN; rint rounds half to even. */
inline float lumen_math(int act, float a, float b, float x)
{
    switch (act) {
    LUMEN_MATH_BUILTINS(x)
    case ACT_SIGN: return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x;
    case ACT_ISNAN: return isnan(x) ? 1.0f : 0.0f;
    case ACT_ISINF:
        return (a != 0.0f && x == INFINITY) || (b != 0.0f && x == -INFINITY) ? 1.0f : 0.0f;
    default: return x;
    }
}

inline float8 lumen_math8(int act, float a, float b, float8 x)
{
    const float8 one = (float8)(1.0f), zero = (float8)(0.0f);
    switch (act) {
    LUMEN_MATH_BUILTINS(x)
    case ACT_SIGN: return select(select(x, -one, x < 0.0f), one, x > 0.0f);
    case ACT_ISNAN: return select(zero, one, isnan(x));
    case ACT_ISINF:
        return select(zero, one, ((x == (float8)(INFINITY)) & (int8)(a != 0.0f ? -1 : 0)) |
                                 ((x == (float8)(-INFINITY)) & (int8)(b != 0.0f ? -1 : 0)));
    default: return x;
    }
}

/* Grid: ceil(n / 8). */
__kernel void unary_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                        int n, int act, float a, float b)
{
    int i = (int)get_global_id(0) * 8;
    if (i + 8 <= n) {
        float8 v = LD8(x, x_off + i);
        ST8(y, y_off + i, act >= ACT_SIN ? lumen_math8(act, a, b, v) : lumen_act8(act, a, b, v));
        return;
    }
    for (; i < n; i++) {
        float v = LD(x, x_off + i);
        ST(y, y_off + i, act >= ACT_SIN ? lumen_math(act, a, b, v) : lumen_act(act, a, b, v));
    }
}

inline float binop(int kind, float u, float v)
{
    switch (kind) {
    case BIN_ADD: return u + v;
    case BIN_SUB: return u - v;
    case BIN_MUL: return u * v;
    case BIN_DIV: return u / v;
    case BIN_POW: return pow(u, v);
    case BIN_MAX: return lumen_max(u, v);
    case BIN_MIN: return lumen_min(u, v);
    case BIN_GT: return u > v ? 1.0f : 0.0f;
    case BIN_GE: return u >= v ? 1.0f : 0.0f;
    case BIN_LT: return u < v ? 1.0f : 0.0f;
    case BIN_LE: return u <= v ? 1.0f : 0.0f;
    case BIN_EQ: return u == v ? 1.0f : 0.0f;
    case BIN_NE: return u != v ? 1.0f : 0.0f;
    case BIN_FMOD: return fmod(u, v);
    default: return v != 0.0f ? u : 0.0f;
    }
}

inline float8 binop8(int kind, float8 u, float8 v)
{
    switch (kind) {
    case BIN_ADD: return u + v;
    case BIN_SUB: return u - v;
    case BIN_MUL: return u * v;
    case BIN_DIV: return u / v;
    case BIN_POW: return pow(u, v);
    case BIN_MAX: return lumen_max8(u, v);
    case BIN_MIN: return lumen_min8(u, v);
    case BIN_GT: return select((float8)(0.0f), (float8)(1.0f), u > v);
    case BIN_GE: return select((float8)(0.0f), (float8)(1.0f), u >= v);
    case BIN_LT: return select((float8)(0.0f), (float8)(1.0f), u < v);
    case BIN_LE: return select((float8)(0.0f), (float8)(1.0f), u <= v);
    case BIN_EQ: return select((float8)(0.0f), (float8)(1.0f), u == v);
    case BIN_NE: return select((float8)(0.0f), (float8)(1.0f), u != v);
    case BIN_FMOD: return fmod(u, v);
    default: return select((float8)(0.0f), u, v != 0.0f);
    }
}

/* Both inputs have the output's shape. Grid: ceil(n / 8). */
__kernel void binary_same_f32(__global const STORE_T *a, int a_off, __global const STORE_T *b,
                              int b_off, __global STORE_T *y, int y_off, int n, int kind, int act,
                              float p, float q)
{
    int i = (int)get_global_id(0) * 8;
    if (i + 8 <= n) {
        float8 r = binop8(kind, LD8(a, a_off + i), LD8(b, b_off + i));
        ST8(y, y_off + i, lumen_act8(act, p, q, r));
        return;
    }
    for (; i < n; i++)
        ST(y, y_off + i, lumen_act(act, p, q, binop(kind, LD(a, a_off + i), LD(b, b_off + i))));
}

/* Two axes, the inner one a multiple of 8 long and each input's inner stride 0 or 1:
 * grid (inner / 8, outer). */
__kernel void binary_2d8_f32(__global const STORE_T *a, int a_off, __global const STORE_T *b,
                             int b_off, __global STORE_T *y, int y_off, int4 st, int kind, int act,
                             float p, float q)
{
    int c = (int)get_global_id(0) * 8, r = (int)get_global_id(1);
    int inner = (int)get_global_size(0) * 8;
    __global const STORE_T *pa = a + a_off + r * st.s0 + c * st.s1;
    __global const STORE_T *pb = b + b_off + r * st.s2 + c * st.s3;
    float8 u = st.s1 ? LD8(pa, 0) : (float8)(LD(pa, 0));
    float8 v = st.s3 ? LD8(pb, 0) : (float8)(LD(pb, 0));
    ST8(y, y_off + r * inner + c, lumen_act8(act, p, q, binop8(kind, u, v)));
}

/* At most two axes after collapsing: grid (inner, outer), st = (a outer, a inner, b outer,
 * b inner) strides. The grid is exact, so there is no bounds test. */
__kernel void binary_2d_f32(__global const STORE_T *a, int a_off, __global const STORE_T *b,
                            int b_off, __global STORE_T *y, int y_off, int4 st, int kind, int act,
                            float p, float q)
{
    int c = get_global_id(0), r = get_global_id(1);
    float u = LD(a, a_off + r * st.s0 + c * st.s1), v = LD(b, b_off + r * st.s2 + c * st.s3);
    ST(y, y_off + r * (int)get_global_size(0) + c, lumen_act(act, p, q, binop(kind, u, v)));
}

__kernel void binary_bcast_f32(__global const STORE_T *a, int a_off, __global const STORE_T *b,
                               int b_off, __global STORE_T *y, int y_off, int n, int8 os, int8 as,
                               int8 bs, int kind, int act, float p, float q)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    int r = i, ia = 0, ib = 0, c;
    c = r % os.s5; r /= os.s5; ia += c * as.s5; ib += c * bs.s5;
    c = r % os.s4; r /= os.s4; ia += c * as.s4; ib += c * bs.s4;
    c = r % os.s3; r /= os.s3; ia += c * as.s3; ib += c * bs.s3;
    c = r % os.s2; r /= os.s2; ia += c * as.s2; ib += c * bs.s2;
    c = r % os.s1; r /= os.s1; ia += c * as.s1; ib += c * bs.s1;
    ia += r * as.s0; ib += r * bs.s0;
    ST(y, y_off + i, lumen_act(act, p, q, binop(kind, LD(a, a_off + ia), LD(b, b_off + ib))));
}
