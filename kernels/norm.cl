/*
 * norm.cl - softmax, batchnorm, layernorm / instancenorm, argmax, topk and det.
 *
 * Tensors are seen as [outer, red, inner] (see runtime/ops/norm.c): element (o, r, i) is at
 * (o * red + r) * inner + i, and a row is the 'red' elements of one (o, i).
 *   *_col_f32: one work-item per row, global size (inner, outer); neighbouring work-items read
 *              neighbouring addresses when inner > 1.
 *   *_row_f32: one work-group per row (group id = o * inner + i), local size a power of two;
 *              each work-item sums a strided share of the row, then a tree in local memory.
 * Both kernels of an op compute the same thing in the same two passes (mean, then variance
 * around it), all in fp32.
 */

/* Sum of v over the work-group, returned to every work-item. scratch has get_local_size(0)
 * floats, a power of two. */
inline float wg_sum(float v, __local float *scratch)
{
    int lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = get_local_size(0) / 2; off > 0; off >>= 1) {
        if (lid < off)
            scratch[lid] += scratch[lid + off];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* scratch is reused by the next reduction */
    return r;
}

inline float wg_max(float v, __local float *scratch)
{
    int lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = get_local_size(0) / 2; off > 0; off >>= 1) {
        if (lid < off)
            scratch[lid] = fmax(scratch[lid], scratch[lid + off]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* ---- softmax ---- */

/* The third pass of softmax: y = e * inv. fp32 storage keeps e = exp(x - m) in y from the
 * second pass (one exp per element); half storage would round e there and again here, so it
 * recomputes e from x instead (same value, one rounding). x and y may be the same buffer: each
 * element is read before it is written, by the same work-item. */
#ifdef LUMEN_FP16
#define SOFTMAX_KEEP(yr, at, e)
#define SOFTMAX_OUT(xr, yr, at, m, inv) ST(yr, at, exp(LD(xr, at) - (m)) * (inv))
#else
#define SOFTMAX_KEEP(yr, at, e) ST(yr, at, e)
#define SOFTMAX_OUT(xr, yr, at, m, inv) ST(yr, at, LD(yr, at) * (inv))
#endif

__kernel void softmax_col_f32(__global const STORE_T *x, int x_off, __global STORE_T *y,
                              int y_off, int outer, int red, int inner)
{
    int i = get_global_id(0), o = get_global_id(1);
    if (i >= inner || o >= outer)
        return;
    __global const STORE_T *xr = x + x_off + o * red * inner + i;
    __global STORE_T *yr = y + y_off + o * red * inner + i;
    float m = -INFINITY, s = 0.0f;
    for (int r = 0; r < red; r++)
        m = fmax(m, LD(xr, r * inner));
    for (int r = 0; r < red; r++) {
        float e = exp(LD(xr, r * inner) - m);
        SOFTMAX_KEEP(yr, r * inner, e); /* x is read before y is written (in place) */
        s += e;
    }
    float inv = 1.0f / s;
    for (int r = 0; r < red; r++)
        SOFTMAX_OUT(xr, yr, r * inner, m, inv);
}

__kernel void softmax_row_f32(__global const STORE_T *x, int x_off, __global STORE_T *y,
                              int y_off, int outer, int red, int inner, __local float *scratch)
{
    int g = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    int o = g / inner, i = g % inner;
    if (o >= outer)
        return; /* uniform over the group: no barrier is skipped by part of it */
    __global const STORE_T *xr = x + x_off + o * red * inner + i;
    __global STORE_T *yr = y + y_off + o * red * inner + i;
    float m = -INFINITY, s = 0.0f;
    for (int r = lid; r < red; r += ls)
        m = fmax(m, LD(xr, r * inner));
    m = wg_max(m, scratch);
    for (int r = lid; r < red; r += ls) {
        float e = exp(LD(xr, r * inner) - m);
        SOFTMAX_KEEP(yr, r * inner, e); /* each work-item rescales only what it wrote */
        s += e;
    }
    float inv = 1.0f / wg_sum(s, scratch);
    for (int r = lid; r < red; r += ls)
        SOFTMAX_OUT(xr, yr, r * inner, m, inv);
}

/* ---- batchnorm (inference): global size (spatial, N*C) ---- */

__kernel void batchnorm_f32(__global const STORE_T *x, int x_off, __global const STORE_T *scale,
                            int scale_off, __global const STORE_T *bias, int bias_off,
                            __global const STORE_T *mean, int mean_off,
                            __global const STORE_T *var, int var_off, __global STORE_T *y,
                            int y_off, int C, int inner, float eps)
{
    int i = get_global_id(0), nc = get_global_id(1), c = nc % C;
    if (i >= inner)
        return;
    float a = LD(scale, scale_off + c) / sqrt(LD(var, var_off + c) + eps);
    int at = nc * inner + i;
    ST(y, y_off + at, (LD(x, x_off + at) - LD(mean, mean_off + c)) * a + LD(bias, bias_off + c));
}

/* ---- layernorm and instancenorm ----
 * y = (x - mean) / sqrt(var + eps) * w + b over each row. The sums are of x - x[row start],
 * so that rows with a large common offset (mean >> std) keep their precision in fp32. w and b are indexed by r (LayerNorm,
 * chan == 0) or by the row's channel o % chan (InstanceNorm: o = n * C + c). has_w / has_b 0:
 * the parameter is absent (1 and 0) and its buffer argument is a stand-in. */

inline float affine(float v, int r, int o, int chan, __global const STORE_T *w, int w_off,
                    int has_w, __global const STORE_T *b, int b_off, int has_b)
{
    int wi = chan > 0 ? o % chan : r;
    if (has_w)
        v *= LD(w, w_off + wi);
    if (has_b)
        v += LD(b, b_off + wi);
    return v;
}

/* sum + v with the running compensation *comp (Kahan summation). */
inline float kahan_add(float sum, float v, float *comp)
{
    float y = v - *comp, t = sum + y;
    *comp = (t - sum) - y;
    return t;
}

__kernel void norm_col_f32(__global const STORE_T *x, int x_off, __global const STORE_T *w,
                           int w_off, int has_w, __global const STORE_T *b, int b_off, int has_b,
                           __global STORE_T *y, int y_off, int outer, int red, int inner,
                           int chan, float eps)
{
    int i = get_global_id(0), o = get_global_id(1);
    if (i >= inner || o >= outer)
        return;
    __global const STORE_T *xr = x + x_off + o * red * inner + i;
    __global STORE_T *yr = y + y_off + o * red * inner + i;
    /* One work-item sums a whole row (InstanceNorm: all of H*W), so the sums are compensated
     * (Kahan); the 'row' kernel's tree sums need no such help. mean is of x - shift. */
    float shift = LD(xr, 0), mean = 0.0f, var = 0.0f, cm = 0.0f, cv = 0.0f;
    for (int r = 0; r < red; r++)
        mean = kahan_add(mean, LD(xr, r * inner) - shift, &cm);
    mean /= red;
    for (int r = 0; r < red; r++) {
        float t = (LD(xr, r * inner) - shift) - mean;
        var = kahan_add(var, t * t, &cv);
    }
    float rstd = 1.0f / sqrt(var / red + eps);
    for (int r = 0; r < red; r++)
        ST(yr, r * inner, affine(((LD(xr, r * inner) - shift) - mean) * rstd, r, o, chan, w, w_off,
                                 has_w, b, b_off, has_b));
}

__kernel void norm_row_f32(__global const STORE_T *x, int x_off, __global const STORE_T *w,
                           int w_off, int has_w, __global const STORE_T *b, int b_off, int has_b,
                           __global STORE_T *y, int y_off, int outer, int red, int inner,
                           int chan, float eps, __local float *scratch)
{
    int g = get_group_id(0), lid = get_local_id(0), ls = get_local_size(0);
    int o = g / inner, i = g % inner;
    if (o >= outer)
        return;
    __global const STORE_T *xr = x + x_off + o * red * inner + i;
    __global STORE_T *yr = y + y_off + o * red * inner + i;
    float shift = LD(xr, 0), mean = 0.0f, var = 0.0f; /* mean is of x - shift */
    for (int r = lid; r < red; r += ls)
        mean += LD(xr, r * inner) - shift;
    mean = wg_sum(mean, scratch) / red;
    for (int r = lid; r < red; r += ls) {
        float t = (LD(xr, r * inner) - shift) - mean;
        var += t * t;
    }
    var = wg_sum(var, scratch) / red;
    float rstd = 1.0f / sqrt(var + eps);
    for (int r = lid; r < red; r += ls)
        ST(yr, r * inner, affine(((LD(xr, r * inner) - shift) - mean) * rstd, r, o, chan, w, w_off,
                                 has_w, b, b_off, has_b));
}

/* ---- argmax: global size (inner, outer); ties keep the first index, or the last one ---- */

__kernel void argmax_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                         int red, int inner, int last)
{
    int i = get_global_id(0), o = get_global_id(1);
    if (i >= inner)
        return;
    __global const STORE_T *xr = x + x_off + o * red * inner + i;
    float best = LD(xr, 0);
    int at = 0;
    for (int r = 1; r < red; r++) {
        float v = LD(xr, r * inner);
        if (v > best || (last && v == best)) {
            best = v;
            at = r;
        }
    }
    ST(y, y_off + o * inner + i, (float)at);
}

/* ---- topk: global size (inner, outer); runtime/ops/norm.c has the order and the reference ---- */

inline int topk_before(float a, int ia, float b, int ib, int largest)
{
    int an = isnan(a), bn = isnan(b);
    if (an || bn)
        return an && bn ? ia < ib : largest ? an : bn;
    if (a != b)
        return largest ? a > b : a < b;
    return ia < ib;
}

__kernel void topk_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                       int red, int inner, int k, int largest, int indices)
{
    int i = get_global_id(0), o = get_global_id(1);
    if (i >= inner)
        return;
    int xr = x_off + o * red * inner + i, yr = y_off + o * k * inner + i;
    float pv = 0.0f;
    int pi = -1;
    for (int j = 0; j < k; j++) {
        int bi = -1;
        float bv = 0.0f;
        for (int r = 0; r < red; r++) {
            float v = LD(x, xr + r * inner);
            if ((pi < 0 || topk_before(pv, pi, v, r, largest)) &&
                (bi < 0 || topk_before(v, r, bv, bi, largest))) {
                bi = r;
                bv = v;
            }
        }
        pv = bv, pi = bi;
        ST(y, yr + j * inner, indices ? (float)bi : bv);
    }
}

/* ---- det: one work-item per n x n matrix (n <= 16); det_one in norm.c is the reference ---- */

__kernel void det_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off, int n)
{
    int b = get_global_id(0);
    int m = x_off + b * n * n;
    float a[256], det = 1.0f;
    for (int i = 0; i < n * n; i++) {
        a[i] = LD(x, m + i);
        if (isnan(a[i])) {
            ST(y, y_off + b, NAN);
            return;
        }
    }
    for (int j = 0; j < n; j++) {
        int p = j;
        for (int i = j + 1; i < n; i++)
            if (fabs(a[i * n + j]) > fabs(a[p * n + j]))
                p = i;
        if (a[p * n + j] == 0.0f) {
            ST(y, y_off + b, 0.0f);
            return;
        }
        if (p != j) {
            for (int k = 0; k < n; k++) {
                float t = a[j * n + k];
                a[j * n + k] = a[p * n + k];
                a[p * n + k] = t;
            }
            det = -det;
        }
        det *= a[j * n + j];
        for (int i = j + 1; i < n; i++) {
            float f = a[i * n + j] / a[j * n + j];
            for (int k = j + 1; k < n; k++)
                a[i * n + k] -= f * a[j * n + k];
        }
    }
    ST(y, y_off + b, det);
}
