/*
 * eltwise.cl - element-wise kernels: unary functions and binary ops with numpy broadcasting.
 *
 * Broadcasting: the output index is split into up to 6 coordinates (shape in 'os', innermost
 * last); each input has one stride per output axis, 0 where it is broadcast.
 */
#define BIN_ADD 0
#define BIN_SUB 1
#define BIN_MUL 2
#define BIN_DIV 3
#define BIN_POW 4
#define BIN_MAX 5
#define BIN_MIN 6

__kernel void unary_f32(__global const float *x, int x_off, __global float *y, int y_off, int n,
                        int act, float a, float b)
{
    int i = get_global_id(0);
    if (i < n)
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
    case BIN_MAX: return fmax(u, v);
    default: return fmin(u, v);
    }
}

/* Both inputs have the output's shape. */
__kernel void binary_same_f32(__global const float *a, int a_off, __global const float *b,
                              int b_off, __global float *y, int y_off, int n, int kind, int act,
                              float p, float q)
{
    int i = get_global_id(0);
    if (i < n)
        y[y_off + i] = lumen_act(act, p, q, binop(kind, a[a_off + i], b[b_off + i]));
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
