/*
 * resize.cl - nearest, (bi,tri)linear and (bi,tri)cubic resizing of the last 3 axes, grid_sample
 * and roi_align (runtime/ops/resize.c has the references and the coordinate and weight
 * formulas). Grid: exactly (OW, OH, OD * outer), one output
 * each; the launcher never rounds it up, so there is no bounds test (on PoCL such a test alone
 * halved the speed).
 * Vectors hold (depth, height, width, unused); a, c and e give x_orig = (x + c) * a - e. With
 * 'crop' (tf_crop_and_resize) an output whose x_orig leaves [0, in-1] on any axis is 'extra'.
 *
 * Contraction into fma stays off: the reference computes the same float expression, and a
 * nearest index must not flip on an exact tie because one side fused a multiply-add.
 */
#pragma OPENCL FP_CONTRACT OFF

inline float resize_coord(int o, float a, float c, float e)
{
    float t = (float)o + c;
    float u = t * a;
    return u - e;
}

inline int resize_outside(float4 v, int4 isz)
{
    return v.x < 0.0f || v.x > (float)(isz.x - 1) || v.y < 0.0f || v.y > (float)(isz.y - 1) ||
           v.z < 0.0f || v.z > (float)(isz.z - 1);
}

/*
 * The four nearest roundings as one branch-free expression, r = sgn * floor(sgn * v + off):
 * floor (sgn 1, off 0), ceil (-1, 0), round_prefer_ceil = floor(v + 0.5) (1, 0.5) and
 * round_prefer_floor = ceil(v - 0.5) (-1, 0.5). Exact in float, so equal to the reference.
 */
inline int resize_nearest(float v, float sgn, float off, int in)
{
    float r = sgn * floor(sgn * v + off);
    return (int)clamp(r, 0.0f, (float)(in - 1));
}

__kernel void resize_nearest_f32(__global const STORE_T *x, int x_off, __global STORE_T *y,
                                 int y_off, int outer, int4 isz, int4 osz, float4 a, float4 c,
                                 float4 e, int crop, float extra, float sgn, float off)
{
    int ow = get_global_id(0), oh = get_global_id(1), z = get_global_id(2);
    int od = z % osz.x, b = z / osz.x;
    float4 v = (float4)(resize_coord(od, a.x, c.x, e.x), resize_coord(oh, a.y, c.y, e.y),
                        resize_coord(ow, a.z, c.z, e.z), 0.0f);
    int yi = y_off + (z * osz.y + oh) * osz.z + ow;
    if (crop && resize_outside(v, isz)) {
        ST(y, yi, extra);
        return;
    }
    int id = resize_nearest(v.x, sgn, off, isz.x);
    int ih = resize_nearest(v.y, sgn, off, isz.y);
    int iw = resize_nearest(v.z, sgn, off, isz.z);
    ST(y, yi, LD(x, x_off + ((b * isz.x + id) * isz.y + ih) * isz.z + iw));
}

__kernel void resize_linear_f32(__global const STORE_T *x, int x_off, __global STORE_T *y,
                                int y_off, int outer, int4 isz, int4 osz, float4 a, float4 c,
                                float4 e, int crop, float extra)
{
    int ow = get_global_id(0), oh = get_global_id(1), z = get_global_id(2);
    int od = z % osz.x, b = z / osz.x;
    float4 v = (float4)(resize_coord(od, a.x, c.x, e.x), resize_coord(oh, a.y, c.y, e.y),
                        resize_coord(ow, a.z, c.z, e.z), 0.0f);
    int yi = y_off + (z * osz.y + oh) * osz.z + ow;
    if (crop && resize_outside(v, isz)) {
        ST(y, yi, extra);
        return;
    }
    float vd = clamp(v.x, 0.0f, (float)(isz.x - 1));
    float vh = clamp(v.y, 0.0f, (float)(isz.y - 1));
    float vw = clamp(v.z, 0.0f, (float)(isz.z - 1));
    int d0 = (int)vd, h0 = (int)vh, w0 = (int)vw;
    int d1 = min(d0 + 1, isz.x - 1), h1 = min(h0 + 1, isz.y - 1), w1 = min(w0 + 1, isz.z - 1);
    float wd = vd - (float)d0, wh = vh - (float)h0, ww = vw - (float)w0;
    __global const STORE_T *xb = x + x_off + b * isz.x * isz.y * isz.z;
    __global const STORE_T *p0 = xb + d0 * isz.y * isz.z, *p1 = xb + d1 * isz.y * isz.z;
    int i00 = h0 * isz.z + w0, i01 = h0 * isz.z + w1, i10 = h1 * isz.z + w0, i11 = h1 * isz.z + w1;
    float v0 = (1.0f - wh) * ((1.0f - ww) * LD(p0, i00) + ww * LD(p0, i01)) +
               wh * ((1.0f - ww) * LD(p0, i10) + ww * LD(p0, i11));
    float v1 = v0;
    if (isz.x > 1) /* launch-wide: only a 3d resize reads a second plane */
        v1 = (1.0f - wh) * ((1.0f - ww) * LD(p1, i00) + ww * LD(p1, i01)) +
             wh * ((1.0f - ww) * LD(p1, i10) + ww * LD(p1, i11));
    ST(y, yi, (1.0f - wd) * v0 + wd * v1);
}

/* Cubic: the 4 taps of coordinate v on an axis of extent in (clamped) and their weights, as
 * cubic_of in resize.c. */
inline void resize_cubic_weights(float t, float ca, float *w)
{
    float s = 1.0f - t;
    w[0] = ((ca * (t + 1.0f) - 5.0f * ca) * (t + 1.0f) + 8.0f * ca) * (t + 1.0f) - 4.0f * ca;
    w[1] = ((ca + 2.0f) * t - (ca + 3.0f)) * t * t + 1.0f;
    w[2] = ((ca + 2.0f) * s - (ca + 3.0f)) * s * s + 1.0f;
    w[3] = ((ca * (s + 1.0f) - 5.0f * ca) * (s + 1.0f) + 8.0f * ca) * (s + 1.0f) - 4.0f * ca;
}

inline void resize_cubic_taps(float v, int in, float ca, int excl, int *idx, float *w)
{
    float f = floor(v);
    resize_cubic_weights(v - f, ca, w);
    float sum = 0.0f;
    for (int k = 0; k < 4; k++) {
        int i = (int)f - 1 + k;
        if (excl && (i < 0 || i >= in))
            w[k] = 0.0f;
        sum += w[k];
        idx[k] = clamp(i, 0, in - 1);
    }
    for (int k = 0; excl && k < 4; k++)
        w[k] = sum != 0.0f ? w[k] / sum : 0.0f;
}

__kernel void resize_cubic_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                               int outer, int4 isz, int4 osz, float4 a, float4 c, float4 e,
                               int crop, float extra, float ca, int excl)
{
    int ow = get_global_id(0), oh = get_global_id(1), z = get_global_id(2);
    int od = z % osz.x, b = z / osz.x;
    float4 v = (float4)(resize_coord(od, a.x, c.x, e.x), resize_coord(oh, a.y, c.y, e.y),
                        resize_coord(ow, a.z, c.z, e.z), 0.0f);
    int yi = y_off + (z * osz.y + oh) * osz.z + ow;
    if (crop && resize_outside(v, isz)) {
        ST(y, yi, extra);
        return;
    }
    int di[4], hi[4], wi[4];
    float fd[4], fh[4], fw[4];
    resize_cubic_taps(v.x, isz.x, ca, excl, di, fd);
    resize_cubic_taps(v.y, isz.y, ca, excl, hi, fh);
    resize_cubic_taps(v.z, isz.z, ca, excl, wi, fw);
    __global const STORE_T *xb = x + x_off + b * isz.x * isz.y * isz.z;
    int nd = isz.x > 1 ? 4 : 1, d0 = isz.x > 1 ? 0 : 1; /* a 2d resize reads one plane */
    float acc = 0.0f;
    for (int p = d0; p < d0 + nd; p++)
        for (int q = 0; q < 4; q++) {
            __global const STORE_T *row = xb + (di[p] * isz.y + hi[q]) * isz.z;
            float r = fw[0] * LD(row, wi[0]) + fw[1] * LD(row, wi[1]) + fw[2] * LD(row, wi[2]) +
                      fw[3] * LD(row, wi[3]);
            acc += (nd > 1 ? fd[p] : 1.0f) * fh[q] * r; /* an extent-1 axis: weights sum to 1 */
        }
    ST(y, yi, acc);
}

/* Bilinear x2, half-pixel centres, on planes of H x W (W a multiple of 4). Output row oh blends
 * input rows i and its neighbour (weights 0.75 / 0.25, clamped at the borders), then each output
 * column pair (2j, 2j+1) blends columns j-1, j, j+1 the same way. Grid (W/4, 2H, planes): one
 * work-item writes 8 outputs of a row. This equals resize_linear_f32 for these sizes. */
__kernel void resize_up2_f32(__global const STORE_T *x, int x_off, __global STORE_T *y, int y_off,
                             int H, int W)
{
    int j0 = (int)get_global_id(0) * 4, oh = get_global_id(1), pl = get_global_id(2);
    int i = oh >> 1, inb = (oh & 1) ? min(i + 1, H - 1) : max(i - 1, 0);
    __global const STORE_T *ra = x + x_off + (pl * H + i) * W;
    __global const STORE_T *rb = x + x_off + (pl * H + inb) * W;
    /* the row blend at input columns j0-1 .. j0+4 (clamped) */
    float4 mid = 0.75f * LD4(ra, j0) + 0.25f * LD4(rb, j0);
    int jl = max(j0 - 1, 0), jr = min(j0 + 4, W - 1);
    float left = 0.75f * LD(ra, jl) + 0.25f * LD(rb, jl);
    float right = 0.75f * LD(ra, jr) + 0.25f * LD(rb, jr);
    float4 prev = (float4)(left, mid.s012), next = (float4)(mid.s123, right);
    float4 even = 0.25f * prev + 0.75f * mid, odd = 0.75f * mid + 0.25f * next;
    float8 out = (float8)(even.s0, odd.s0, even.s1, odd.s1, even.s2, odd.s2, even.s3, odd.s3);
    ST8(y, y_off + (pl * 2 * H + oh) * 2 * W + 2 * j0, out);
}

/* ---- grid_sample: grid (Wo, Ho, N * C); gs_* mirror the reference's functions ---- */

inline float gs_unnorm(float g, int size, int align)
{
    return align ? (g + 1.0f) / 2.0f * (float)(size - 1) : ((g + 1.0f) * (float)size - 1.0f) / 2.0f;
}

inline float gs_clip(float v, int size)
{
    return v < 0.0f ? 0.0f : v > (float)(size - 1) ? (float)(size - 1) : v;
}

inline float gs_reflect(float v, float lo2, float hi2)
{
    if (lo2 == hi2)
        return 0.0f;
    float mn = lo2 / 2.0f, span = (hi2 - lo2) / 2.0f;
    v = fabs(v - mn);
    float extra = fmod(v, span), flips = floor(v / span);
    return fmod(flips, 2.0f) == 0.0f ? extra + mn : span - extra + mn;
}

inline float gs_pad(float v, int size, int padding, int align)
{
    if (padding == 1) /* border */
        return gs_clip(v, size);
    if (padding == 2) /* reflection */
        return gs_clip(align ? gs_reflect(v, 0.0f, 2.0f * (float)(size - 1))
                             : gs_reflect(v, -1.0f, 2.0f * (float)size - 1.0f),
                       size);
    return v;
}

inline float gs_at(__global const STORE_T *p, int H, int W, float x, float y)
{
    if (!(x >= 0.0f && x <= (float)(W - 1) && y >= 0.0f && y <= (float)(H - 1)))
        return 0.0f;
    return LD(p, (int)y * W + (int)x);
}

/* mode: 0 bilinear, 1 nearest, 2 bicubic; pad: 0 zeros, 1 border, 2 reflection */
__kernel void grid_sample_f32(__global const STORE_T *x, int x_off, __global const STORE_T *grid,
                              int g_off, __global STORE_T *y, int y_off, int C, int H, int W,
                              int Ho, int Wo, int mode, int pad, int al)
{
    int w = get_global_id(0), h = get_global_id(1), z = get_global_id(2);
    int n = z / C;
    __global const STORE_T *p = x + x_off + z * H * W;
    int g = g_off + ((n * Ho + h) * Wo + w) * 2;
    float gx = LD(grid, g), gy = LD(grid, g + 1), v;
    if (mode == 2) {
        float ix = gs_unnorm(gx, W, al), iy = gs_unnorm(gy, H, al);
        float x0 = floor(ix), y0 = floor(iy), wx[4], wy[4];
        resize_cubic_weights(ix - x0, -0.75f, wx);
        resize_cubic_weights(iy - y0, -0.75f, wy);
        v = 0.0f;
        for (int j = 0; j < 4; j++) {
            float yy = gs_pad(y0 - 1.0f + (float)j, H, pad, al), row = 0.0f;
            for (int i = 0; i < 4; i++)
                row += wx[i] * gs_at(p, H, W, gs_pad(x0 - 1.0f + (float)i, W, pad, al), yy);
            v += wy[j] * row;
        }
    } else {
        float ix = gs_pad(gs_unnorm(gx, W, al), W, pad, al);
        float iy = gs_pad(gs_unnorm(gy, H, al), H, pad, al);
        if (mode == 1) {
            v = gs_at(p, H, W, rint(ix), rint(iy));
        } else {
            float x0 = floor(ix), y0 = floor(iy), x1 = x0 + 1.0f, y1 = y0 + 1.0f;
            v = (x1 - ix) * (y1 - iy) * gs_at(p, H, W, x0, y0) +
                (ix - x0) * (y1 - iy) * gs_at(p, H, W, x1, y0) +
                (x1 - ix) * (iy - y0) * gs_at(p, H, W, x0, y1) +
                (ix - x0) * (iy - y0) * gs_at(p, H, W, x1, y1);
        }
    }
    ST(y, y_off + (z * Ho + h) * Wo + w, v);
}

/* ---- roi_align: grid (ow, oh, R * C); roi_bin in resize.c is the reference ---- */

__kernel void roi_align_f32(__global const STORE_T *x, int x_off, __global const STORE_T *rois,
                            int r_off, __global const STORE_T *batch, int b_off,
                            __global STORE_T *y, int y_off, int N, int C, int H, int W, int oh,
                            int ow, int mode, int sampling, float scale, int half_pixel)
{
    int pw = get_global_id(0), ph = get_global_id(1), z = get_global_id(2);
    int r = z / C, c = z % C;
    float bf = LD(batch, b_off + r);
    int out = y_off + (z * oh + ph) * ow + pw;
    if (!(bf >= 0.0f && bf < (float)N)) {
        ST(y, out, 0.0f);
        return;
    }
    __global const STORE_T *p = x + x_off + ((int)bf * C + c) * H * W;
    float4 q = LD4(rois, r_off + r * 4);
    float off = half_pixel ? 0.5f : 0.0f;
    float x0 = q.s0 * scale - off, y0 = q.s1 * scale - off, rw = q.s2 * scale - off - x0,
          rh = q.s3 * scale - off - y0;
    if (!half_pixel) {
        rw = fmax(rw, 1.0f);
        rh = fmax(rh, 1.0f);
    }
    float bh = rh / (float)oh, bw = rw / (float)ow;
    int gh = sampling, gw = sampling;
    if (sampling <= 0) {
        float a = ceil(rh / (float)oh), b = ceil(rw / (float)ow);
        gh = a >= 1.0f && a <= 256.0f ? (int)a : a >= 1.0f ? 256 : 1;
        gw = b >= 1.0f && b <= 256.0f ? (int)b : b >= 1.0f ? 256 : 1;
    }
    float acc = 0.0f;
    int first = 1;
    for (int iy = 0; iy < gh; iy++) {
        float yv = y0 + (float)ph * bh + ((float)iy + 0.5f) * bh / (float)gh;
        for (int ix = 0; ix < gw; ix++) {
            float xv = x0 + (float)pw * bw + ((float)ix + 0.5f) * bw / (float)gw, v = 0.0f;
            if (yv >= -1.0f && yv <= (float)H && xv >= -1.0f && xv <= (float)W) {
                float yy = fmax(yv, 0.0f), xx = fmax(xv, 0.0f);
                int yl = (int)yy, xl = (int)xx, yh = yl + 1, xh = xl + 1;
                if (yl >= H - 1) {
                    yh = yl = H - 1;
                    yy = (float)yl;
                }
                if (xl >= W - 1) {
                    xh = xl = W - 1;
                    xx = (float)xl;
                }
                float ly = yy - (float)yl, lx = xx - (float)xl, hy = 1.0f - ly, hx = 1.0f - lx;
                float t1 = hy * hx * LD(p, yl * W + xl), t2 = hy * lx * LD(p, yl * W + xh),
                      t3 = ly * hx * LD(p, yh * W + xl), t4 = ly * lx * LD(p, yh * W + xh);
                v = mode == 1 ? fmax(fmax(t1, t2), fmax(t3, t4)) : t1 + t2 + t3 + t4;
            }
            acc = mode == 1 ? (first ? v : fmax(acc, v)) : acc + v;
            first = 0;
        }
    }
    ST(y, out, mode == 1 ? acc : acc / (float)(gh * gw));
}
