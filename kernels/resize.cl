/*
 * resize.cl - nearest and (bi,tri)linear resizing of the last 3 axes (runtime/ops/resize.c has
 * the reference and the coordinate formulas). Grid: exactly (OW, OH, OD * outer), one output
 * each; the launcher never rounds it up, so there is no bounds test (on PoCL such a test alone
 * halved the speed).
 * Vectors hold (depth, height, width, unused); a and c give x_orig = (x + c) * a - c.
 *
 * Contraction into fma stays off: the reference computes the same float expression, and a
 * nearest index must not flip on an exact tie because one side fused a multiply-add.
 */
#pragma OPENCL FP_CONTRACT OFF

inline float resize_coord(int o, float a, float c)
{
    float t = (float)o + c;
    float u = t * a;
    return u - c;
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
                                 float sgn, float off)
{
    int ow = get_global_id(0), oh = get_global_id(1), z = get_global_id(2);
    int od = z % osz.x, b = z / osz.x;
    int id = resize_nearest(resize_coord(od, a.x, c.x), sgn, off, isz.x);
    int ih = resize_nearest(resize_coord(oh, a.y, c.y), sgn, off, isz.y);
    int iw = resize_nearest(resize_coord(ow, a.z, c.z), sgn, off, isz.z);
    ST(y, y_off + (z * osz.y + oh) * osz.z + ow,
       LD(x, x_off + ((b * isz.x + id) * isz.y + ih) * isz.z + iw));
}

__kernel void resize_linear_f32(__global const STORE_T *x, int x_off, __global STORE_T *y,
                                int y_off, int outer, int4 isz, int4 osz, float4 a, float4 c)
{
    int ow = get_global_id(0), oh = get_global_id(1), z = get_global_id(2);
    int od = z % osz.x, b = z / osz.x;
    float vd = clamp(resize_coord(od, a.x, c.x), 0.0f, (float)(isz.x - 1));
    float vh = clamp(resize_coord(oh, a.y, c.y), 0.0f, (float)(isz.y - 1));
    float vw = clamp(resize_coord(ow, a.z, c.z), 0.0f, (float)(isz.z - 1));
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
    ST(y, y_off + (z * osz.y + oh) * osz.z + ow, (1.0f - wd) * v0 + wd * v1);
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
