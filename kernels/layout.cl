/*
 * layout.cl - copies, gathers, padding and transposes (runtime/ops/layout.c has the reference
 * loops). Shapes are 6 right-aligned extents in an int8 (.s0 outermost, .s5 innermost).
 */
#define TILE 16 /* transpose tile edge; must match TILE in layout.c */

/* y[r * ldy + col_off + c] = x[r * cols + c]: CONCAT (one launch per input) and plain copies. */
__kernel void copy2d_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                         int rows, int cols, int ldy, int col_off)
{
    int c = get_global_id(0), r = get_global_id(1);
    if (c < cols && r < rows)
        ST(y, y_off + r * ldy + col_off + c, LD(x, x_off + r * cols + c));
}

/*
 * The 3-d grid is exactly (os.s5, os.s4, os.s0 * os.s1 * os.s2 * os.s3), never rounded up, so
 * there is no bounds test; the host merges axes first, so the outer four axes are usually one
 * and need no division.
 */

/* y[c] = x[sum c_k * is_k] for output coordinates c: SLICE and TRANSPOSE. */
__kernel void gather_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                         int8 os, int8 is)
{
    int c5 = get_global_id(0), c4 = get_global_id(1), r = get_global_id(2);
    int outer = os.s0 * os.s1 * os.s2 * os.s3;
    int i = (r * os.s4 + c4) * os.s5 + c5, src = c5 * is.s5 + c4 * is.s4;
    if (outer == os.s3) { /* launch-wide */
        src += r * is.s3;
    } else {
        int c;
        c = r % os.s3; r /= os.s3; src += c * is.s3;
        c = r % os.s2; r /= os.s2; src += c * is.s2;
        c = r % os.s1; r /= os.s1; src += c * is.s1;
        src += r * is.s0;
    }
    ST(y, y_off + i, LD(x, x_off + src));
}

/* Constant padding: input coordinate = output coordinate - p0; outside the input reads value. */
__kernel void pad_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                      int8 os, int8 isz, int8 p0, float value)
{
    int o5 = get_global_id(0), o4 = get_global_id(1), r = get_global_id(2);
    int outer = os.s0 * os.s1 * os.s2 * os.s3;
    int i = (r * os.s4 + o4) * os.s5 + o5;
    int c5 = o5 - p0.s5, c4 = o4 - p0.s4, row; /* row: input index over the outer 4 axes */
    int inside = c5 >= 0 && c5 < isz.s5 && c4 >= 0 && c4 < isz.s4;
    if (outer == os.s3) { /* launch-wide */
        row = r - p0.s3;
        inside = inside && row >= 0 && row < isz.s3;
    } else {
        int c3 = r % os.s3 - p0.s3; r /= os.s3;
        int c2 = r % os.s2 - p0.s2; r /= os.s2;
        int c1 = r % os.s1 - p0.s1;
        int c0 = r / os.s1 - p0.s0;
        inside = inside && c3 >= 0 && c3 < isz.s3 && c2 >= 0 && c2 < isz.s2 && c1 >= 0 &&
                 c1 < isz.s1 && c0 >= 0 && c0 < isz.s0;
        row = ((c0 * isz.s1 + c1) * isz.s2 + c2) * isz.s3 + c3;
    }
    int src = (row * isz.s4 + c4) * isz.s5 + c5;
    float v = LD(x, x_off + (inside ? src : 0)); /* a valid address either way: no branch */
    ST(y, y_off + i, inside ? v : value);
}

/*
 * Batched swap of the last two axes: x [B, R, C] -> y [B, C, R] through a TILE x TILE tile in
 * local memory (one column of padding avoids bank conflicts), so reads and writes both walk
 * contiguous memory. Grid (C, R, B) rounded up to TILE, work-group (TILE, TILE, 1).
 */
__kernel void transpose_tile_f32(__global const STORE_T *x, int x_off, __global STORE_T *y,
                                 int y_off, int R, int C)
{
    __local float tile[TILE][TILE + 1];
    int lx = get_local_id(0), ly = get_local_id(1), b = get_global_id(2);
    int c0 = get_group_id(0) * TILE, r0 = get_group_id(1) * TILE;
    int c = c0 + lx, r = r0 + ly;
    __global const STORE_T *xb = x + x_off + b * R * C;
    if (c < C && r < R)
        tile[ly][lx] = LD(xb, r * C + c);
    barrier(CLK_LOCAL_MEM_FENCE);
    int oc = r0 + lx, orow = c0 + ly; /* output element (orow, oc) of the [C, R] matrix */
    if (oc < R && orow < C)
        ST(y, y_off + b * R * C + orow * R + oc, tile[lx][ly]);
}

/* y[i] = x[idx[i]] (TAKE): idx holds integers as floats; one outside [0, nx) gives NaN, so a
 * bad index never reads outside x. Grid: n. */
__kernel void take_f32(__global const STORE_T *x, int x_off, int nx, __global const STORE_T *idx,
                       int idx_off, __global STORE_T *y, int y_off, int n)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float f = LD(idx, idx_off + i);
    int ok = f >= 0.0f && f < (float)nx && floor(f) == f; /* false for NaN */
    ST(y, y_off + i, ok ? LD(x, x_off + (int)f) : NAN);
}

/* Precision conversions for lumen_tensor_copy between an fp32 and an fp16 tensor: in the fp32
 * program only (runtime/tensor.c asks for that one). half is a pointer type here, as OpenCL 1.2
 * allows without cl_khr_fp16; vstore_half rounds to nearest even. Grid: n rounded up. */
#ifndef LUMEN_FP16
__kernel void f32_to_f16(__global const float *x, int x_off, __global half *y, int y_off, int n)
{
    int i = get_global_id(0);
    if (i < n)
        vstore_half(x[x_off + i], y_off + i, y);
}

__kernel void f16_to_f32(__global const half *x, int x_off, __global float *y, int y_off, int n)
{
    int i = get_global_id(0);
    if (i < n)
        y[y_off + i] = vload_half(x_off + i, x);
}
#endif
