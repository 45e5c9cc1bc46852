/*
 * pool.cl - max / average pooling and reductions (runtime/ops/pool.c has the reference loops).
 *
 * Pooling: every pool is 3d (a 2d pool has depth 1). One work-item per output element, over
 * exactly the grid (OW, OH, OD * N*C): the launcher never rounds it up, so there is no bounds
 * test (on PoCL one alone halves the speed). The window loops have launch-wide trip counts and branch-free bodies:
 * positions outside the input read a clamped (valid) address and are masked out with a select,
 * which keeps the work-items of a group in step.
 * Vectors isz/osz/k/s/p0/lim/dil hold (depth, height, width, unused).
 */
#define REDUCE_SUM 0
#define REDUCE_MEAN 1
#define REDUCE_MAX 2
#define REDUCE_PROD 3

/* The start value of a reduction and one step of it. */
inline float red_init(int kind)
{
    return kind == REDUCE_MAX ? -INFINITY : kind == REDUCE_PROD ? 1.0f : 0.0f;
}
inline float red_step(int kind, float acc, float v)
{
    return kind == REDUCE_MAX ? lumen_max(acc, v) : kind == REDUCE_PROD ? acc * v : acc + v;
}

__kernel void maxpool_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                          int nc, int4 isz, int4 osz, int4 k, int4 s, int4 p0, int4 lim,
                          int4 dil, int incl)
{
    int ow = get_global_id(0), oh = get_global_id(1), z = get_global_id(2);
    int od = z % osz.x, c = z / osz.x;
    int d0 = od * s.x - p0.x, h0 = oh * s.y - p0.y, w0 = ow * s.z - p0.z;
    __global const STORE_T *xc = x + x_off + c * isz.x * isz.y * isz.z;
    float acc = -INFINITY;
    for (int kd = 0; kd < k.x; kd++) {
        int id = d0 + kd * dil.x;
        int vd = id >= 0 && id < isz.x, cd = clamp(id, 0, isz.x - 1);
        for (int kh = 0; kh < k.y; kh++) {
            int ih = h0 + kh * dil.y;
            int vh = vd && ih >= 0 && ih < isz.y, ch = clamp(ih, 0, isz.y - 1);
            __global const STORE_T *row = xc + (cd * isz.y + ch) * isz.z;
            for (int kw = 0; kw < k.z; kw++) {
                int iw = w0 + kw * dil.z;
                float v = LD(row, clamp(iw, 0, isz.z - 1));
                acc = (vh && iw >= 0 && iw < isz.z) ? lumen_max(acc, v) : acc;
            }
        }
    }
    ST(y, y_off + (z * osz.y + oh) * osz.z + ow, acc);
}

/* The flat input index of each maximum (as float): a later larger value or NaN wins, as in
 * PyTorch; col: column-major within the plane (ONNX storage_order 1). */
__kernel void maxpool_idx_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                              int nc, int4 isz, int4 osz, int4 k, int4 s, int4 p0, int4 lim,
                              int4 dil, int col)
{
    int ow = get_global_id(0), oh = get_global_id(1), z = get_global_id(2);
    int od = z % osz.x, c = z / osz.x;
    int d0 = od * s.x - p0.x, h0 = oh * s.y - p0.y, w0 = ow * s.z - p0.z;
    int xc = x_off + c * isz.x * isz.y * isz.z;
    float best = -INFINITY;
    int at = -1;
    for (int kd = 0; kd < k.x; kd++) {
        int id = d0 + kd * dil.x;
        for (int kh = 0; kh < k.y; kh++) {
            int ih = h0 + kh * dil.y;
            for (int kw = 0; kw < k.z; kw++) {
                int iw = w0 + kw * dil.z;
                if (id < 0 || id >= isz.x || ih < 0 || ih >= isz.y || iw < 0 || iw >= isz.z)
                    continue;
                float v = LD(x, xc + (id * isz.y + ih) * isz.z + iw);
                if (at < 0 || v > best || isnan(v)) {
                    best = v;
                    at = col ? (iw * isz.y + ih) * isz.x + id : (id * isz.y + ih) * isz.z + iw;
                }
            }
        }
    }
    ST(y, y_off + (z * osz.y + oh) * osz.z + ow, (float)(c * isz.x * isz.y * isz.z + at));
}

/* incl: count_include_pad; the divisor then counts window positions below lim (in + pad1). */
__kernel void avgpool_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                          int nc, int4 isz, int4 osz, int4 k, int4 s, int4 p0, int4 lim,
                          int4 dil, int incl)
{
    int ow = get_global_id(0), oh = get_global_id(1), z = get_global_id(2);
    int od = z % osz.x, c = z / osz.x;
    int d0 = od * s.x - p0.x, h0 = oh * s.y - p0.y, w0 = ow * s.z - p0.z;
    __global const STORE_T *xc = x + x_off + c * isz.x * isz.y * isz.z;
    float acc = 0.0f;
    int count = 0;
    for (int kd = 0; kd < k.x; kd++) {
        int id = d0 + kd * dil.x;
        int vd = id >= 0 && id < isz.x, cd = clamp(id, 0, isz.x - 1), pd = id < lim.x;
        for (int kh = 0; kh < k.y; kh++) {
            int ih = h0 + kh * dil.y;
            int vh = vd && ih >= 0 && ih < isz.y, ch = clamp(ih, 0, isz.y - 1);
            int ph = pd && ih < lim.y;
            __global const STORE_T *row = xc + (cd * isz.y + ch) * isz.z;
            for (int kw = 0; kw < k.z; kw++) {
                int iw = w0 + kw * dil.z;
                int inside = vh && iw >= 0 && iw < isz.z;
                float v = LD(row, clamp(iw, 0, isz.z - 1));
                acc += inside ? v : 0.0f;
                count += incl ? (ph && iw < lim.z) : inside;
            }
        }
    }
    ST(y, y_off + (z * osz.y + oh) * osz.z + ow, acc / (float)count);
}

/*
 * General reduction: one work-item per output element. The input is seen as kept groups
 * (extents ke, strides ks) and reduced groups (re, rs), outermost first, in .x .y .z.
 */
__kernel void reduce_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                         int rows, int4 ke, int4 ks, int4 re, int4 rs, int len, int kind)
{
    int i = get_global_id(0);
    if (i >= rows)
        return;
    int k2 = i % ke.z, r = i / ke.z;
    int k1 = r % ke.y, k0 = r / ke.y;
    __global const STORE_T *xb = x + x_off + k0 * ks.x + k1 * ks.y + k2 * ks.z;
    float acc = red_init(kind);
    for (int r0 = 0; r0 < re.x; r0++)
        for (int r1 = 0; r1 < re.y; r1++)
            for (int r2 = 0; r2 < re.z; r2++) {
                float v = LD(xb, r0 * rs.x + r1 * rs.y + r2 * rs.z);
                acc = red_step(kind, acc, v);
            }
    ST(y, y_off + i, kind == REDUCE_MEAN ? acc / (float)len : acc);
}

/*
 * Reduction of contiguous rows of 'len' elements: one work-group per row. Each work-item
 * accumulates a strided part of the row (neighbouring work-items read neighbouring elements),
 * then a tree in local memory combines the partial results. The group size is a power of two.
 */
__kernel void reduce_rows_f32(__global const STORE_T *x, int x_off, __global STORE_T *y,
                              int y_off,
                              int len, int kind, __local float *part)
{
    int row = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
    __global const STORE_T *xr = x + x_off + row * len;
    float acc = red_init(kind);
    for (int j = lid; j < len; j += lsz) {
        float v = LD(xr, j);
        acc = red_step(kind, acc, v);
    }
    part[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int span = lsz / 2; span > 0; span /= 2) {
        if (lid < span) {
            float o = part[lid + span];
            part[lid] = red_step(kind, part[lid], o);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        ST(y, y_off + row, kind == REDUCE_MEAN ? part[0] / (float)len : part[0]);
}
