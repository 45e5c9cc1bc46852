/*
 * eltwise.cl - element-wise kernels: unary functions and binary ops with numpy broadcasting.
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

/* Grid: ceil(n / 8). */
__kernel void unary_f32(__global const float *x, int x_off, __global float *y, int y_off, int n,
                        int act, float a, float b)
{
    int i = (int)get_global_id(0) * 8;
    if (i + 8 <= n) {
        vstore8(lumen_act8(act, a, b, vload8(0, x + x_off + i)), 0, y + y_off + i);
        return;
    }
    for (; i < n; i++)
        y[y_off + i] = lumen_act(act, a, b, x[x_off + i]);
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
    default: return lumen_min(u, v);
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
    default: return lumen_min8(u, v);
    }
}

/* Both inputs have the output's shape. Grid: ceil(n / 8). */
__kernel void binary_same_f32(__global const float *a, int a_off, __global const float *b,
                              int b_off, __global float *y, int y_off, int n, int kind, int act,
                              float p, float q)
{
    int i = (int)get_global_id(0) * 8;
    if (i + 8 <= n) {
        float8 r = binop8(kind, vload8(0, a + a_off + i), vload8(0, b + b_off + i));
        vstore8(lumen_act8(act, p, q, r), 0, y + y_off + i);
        return;
    }
    for (; i < n; i++)
        y[y_off + i] = lumen_act(act, p, q, binop(kind, a[a_off + i], b[b_off + i]));
}

/* Two axes, the inner one a multiple of 8 long and each input's inner stride 0 or 1:
 * grid (inner / 8, outer). */
__kernel void binary_2d8_f32(__global const float *a, int a_off, __global const float *b,
                             int b_off, __global float *y, int y_off, int4 st, int kind, int act,
                             float p, float q)
{
    int c = (int)get_global_id(0) * 8, r = (int)get_global_id(1);
    int inner = (int)get_global_size(0) * 8;
    __global const float *pa = a + a_off + r * st.s0 + c * st.s1;
    __global const float *pb = b + b_off + r * st.s2 + c * st.s3;
    float8 u = st.s1 ? vload8(0, pa) : (float8)(*pa);
    float8 v = st.s3 ? vload8(0, pb) : (float8)(*pb);
    vstore8(lumen_act8(act, p, q, binop8(kind, u, v)), 0, y + y_off + r * inner + c);
}

/* At most two axes after collapsing: grid (inner, outer), st = (a outer, a inner, b outer,
 * b inner) strides. The grid is exact, so there is no bounds test. */
__kernel void binary_2d_f32(__global const float *a, int a_off, __global const float *b,
                            int b_off, __global float *y, int y_off, int4 st, int kind, int act,
                            float p, float q)
{
    int c = get_global_id(0), r = get_global_id(1);
    float u = a[a_off + r * st.s0 + c * st.s1], v = b[b_off + r * st.s2 + c * st.s3];
    y[y_off + r * (int)get_global_size(0) + c] = lumen_act(act, p, q, binop(kind, u, v));
}

__kernel void binary_bcast_f32(__global const float *a, int a_off, __global const float *b,
                               int b_off, __global float *y, int y_off, int n, int8 os, int8 as,
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
    y[y_off + i] = lumen_act(act, p, q, binop(kind, a[a_off + ia], b[b_off + ib]));
}
