/*
 * conv.cl - convolutions: direct (1d/2d/3d, groups, dilation), depthwise 2d and transposed.
 * Launchers and the plain-C references: runtime/ops/conv.c.
 *
 * Every spatial layout is seen as 3-d: NCW is [N, C, 1, 1, W], NCHW is [N, C, 1, H, W]. Geometry
 * arrives as int4 arguments, innermost axis last:
 *   xd (Cin, D, H, W)   yd (Cout, OD, OH, OW)   kd (groups, KD, KH, KW)
 *   st (0, sz, sy, sx)  dl (0, dz, dy, dx)      pd (0, pz, py, px)      (padding before)
 * A work-item computes VW outputs along W (a float8, or a float16 with -DVW=16) for COB output
 * channels of one group: each input vector it loads is used COB times, each weight VW times. PoCL does not vectorise across
 * work-items when the body has loops, so the vectors are explicit. The loop over input channels
 * is innermost: whether a tap's VW inputs are all inside the row (one vload) is decided once per
 * tap, so the hot loop is loads and multiply-adds only. The channel loops carry
 * '#pragma unroll' so that the accumulator arrays live in registers (PoCL does not unroll them
 * by itself).
 *
 * Build options: -DCOB=n output channels per work-item (default 8; 1 for few channels per
 * group); -DVW=16 16 outputs along W per work-item (default 8; the host picks 16 where the
 * device prefers 16-wide floats); -DKS=3 or -DKS=5 builds only the depthwise kernel with its
 * taps unrolled.
 */
#ifndef COB
#define COB 8
#endif

/* Vector width along W: VW outputs per work-item (8 or 16; -DVW=16 where the device prefers
 * 16-wide floats). floatV, vloadV, vstoreV are the matching type and functions. */
#ifndef VW
#define VW 8
#endif
#define VCAT_(a, b) a##b
#define VCAT(a, b) VCAT_(a, b)
#define floatV VCAT(float, VW)
#define vloadV VCAT(vload, VW)
#define vstoreV VCAT(vstore, VW)
/* VW elements of a tensor (common.cl's storage macros) */
#define LDV(p, i) VCAT(LD, VW)(p, i)
#define STV(p, i, v) VCAT(ST, VW)(p, i, v)

/* row[ix0 + t*step] for t = 0..VW-1, zero where the index falls outside [0, W). */
__attribute__((always_inline)) inline floatV loadV(__global const STORE_T *row, int ix0,
                                                   int step, int W)
{
    if (ix0 >= 0 && ix0 + (VW - 1) * step < W) {
        if (step == 1)
            return LDV(row, ix0);
        if (step == 2 && ix0 + 2 * VW - 1 < W) {
            floatV lo = LDV(row, ix0), hi = LDV(row, ix0 + VW);
            return (floatV)(lo.even, hi.even);
        }
    }
    float t[VW];
    for (int u = 0; u < VW; u++)
        t[u] = (uint)(ix0 + u * step) < (uint)W ? LD(row, ix0 + u * step) : 0.0f;
    return vloadV(0, t);
}

/* The hot loop of conv_f32 and convt_f32: for each input channel of the group, one vector of
 * inputs (LOAD, reading 'row') times one weight per output channel (wp[off[j]]). The channels
 * are summed in blocks of CONV_CB, each block's partial sums added to acc, so the rounding error
 * grows with CONV_CB + Cin*taps / CONV_CB terms rather than Cin*taps (thousands for 3x3 convs
 * over hundreds of channels), as in gemm.cl. */
#define CONV_CB 64
#define CHANNEL_LOOP(LOAD)                                                                         \
    for (int c0 = 0; c0 < Cig; c0 += CONV_CB) {                                                    \
        floatV part[COB];                                                                          \
        _Pragma("unroll") for (int j = 0; j < COB; j++) part[j] = (floatV)(0.0f);                  \
        for (int ci = c0; ci < min(c0 + CONV_CB, Cig); ci++, row += plane, wp += wstep) {          \
            floatV v = LOAD;                                                                       \
            _Pragma("unroll") for (int j = 0; j < COB; j++)                                        \
                part[j] = mad(v, (floatV)(LD(wp, off[j])), part[j]);                               \
        }                                                                                          \
        _Pragma("unroll") for (int j = 0; j < COB; j++) acc[j] += part[j];                         \
    }

/* Runs CHANNEL_LOOP with the cheapest load for inputs row[ix0 + t*step]. */
#define TAP(ix0, step)                                                                             \
    if ((step) == 1 && (ix0) >= 0 && (ix0) + VW <= W) {                                            \
        CHANNEL_LOOP(LDV(row, (ix0)))                                                              \
    } else if ((step) == 2 && (ix0) >= 0 && (ix0) + 2 * VW <= W) {                                 \
        CHANNEL_LOOP((floatV)(LDV(row, (ix0)).even, LDV(row, (ix0) + VW).even))                    \
    } else {                                                                                       \
        CHANNEL_LOOP(loadV(row, (ix0), (step), W))                                                 \
    }

/* lumen_act on VW lanes: the common epilogues (none, relu, relu6) inline, the rest through
 * common.cl's float8 version (GELU after the depthwise conv of the attention blocks). */
__attribute__((always_inline)) inline floatV actV(int act, float a, float b, floatV v)
{
    if (act == ACT_NONE)
        return v;
    /* NaN stays NaN, as in PyTorch (fmax would turn it into 0) */
    if (act == ACT_RELU)
        return select((floatV)(0.0f), v, isnan(v) | (v > 0.0f));
    if (act == ACT_RELU6) {
        floatV r = select((floatV)(0.0f), v, isnan(v) | (v > 0.0f));
        return select((floatV)(6.0f), r, isnan(r) | (r < 6.0f));
    }
#if VW == 16
    return (float16)(lumen_act8(act, a, b, v.lo), lumen_act8(act, a, b, v.hi));
#else
    return lumen_act8(act, a, b, v);
#endif
}

/* y[base + ox0 + t*step] = act(v[t] + bias + res[...]) for the lanes with ox0 + t*step < OW;
 * res may be NULL. */
__attribute__((always_inline)) inline void storeV(floatV v, float bias,
                                                  __global const STORE_T *res, int r_off,
                                                  __global STORE_T *y, int y_off, int base,
                                                  int ox0, int step, int OW, int act, float a,
                                                  float b)
{
    v += bias;
    if (step == 1 && ox0 + VW <= OW) {
        if (res)
            v += LDV(res, r_off + base + ox0);
        STV(y, y_off + base + ox0, actV(act, a, b, v));
        return;
    }
    float t[VW];
    vstoreV(v, 0, t);
    for (int u = 0; u < VW; u++) {
        int ox = ox0 + u * step;
        if (ox >= OW)
            break;
        float s = t[u];
        if (res)
            s += LD(res, r_off + base + ox);
        ST(y, y_off + base + ox, lumen_act(act, a, b, s));
    }
}

#ifndef KS

/* y[n, co, oz, oy, ox] = act(sum over ci of the group, kz, ky, kx of
 *   x[n, ci, oz*sz + kz*dz - pz, oy*sy + ky*dy - py, ox*sx + kx*dx - px] * w[co, ci, kz, ky, kx]
 *   + bias[co] + res[n, co, oz, oy, ox]).
 * Grid: (ceil(OW/VW), OD*OH, N * groups * ceil(Cog/COB)). bias and res may be NULL. */
__kernel void conv_f32(__global const STORE_T *x, int x_off, __global const STORE_T *w,
                       int w_off, __global const STORE_T *bias, int b_off,
                       __global const STORE_T *res, int r_off, __global STORE_T *y, int y_off,
                       int4 xd, int4 yd, int4 kd, int4 st, int4 dl, int4 pd, int act, float a,
                       float b)
{
    const int Cin = xd.s0, D = xd.s1, H = xd.s2, W = xd.s3;
    const int Cout = yd.s0, OD = yd.s1, OH = yd.s2, OW = yd.s3;
    const int G = kd.s0, KD = kd.s1, KH = kd.s2, KW = kd.s3, kvol = KD * KH * KW;
    const int Cig = Cin / G, Cog = Cout / G, nblk = (Cog + COB - 1) / COB;
    const int ox0 = (int)get_global_id(0) * VW, ix0 = ox0 * st.s3 - pd.s3;
    const int oz = (int)get_global_id(1) / OH, oy = (int)get_global_id(1) % OH;
    const int blk = (int)get_global_id(2) % nblk, g = (int)get_global_id(2) / nblk % G,
              n = (int)get_global_id(2) / nblk / G;
    if (ox0 >= OW)
        return;

    /* Channels past the group's end repeat its last one and are not stored. */
    int off[COB];
    floatV acc[COB];
#pragma unroll
    for (int j = 0; j < COB; j++) {
        off[j] = (min(blk * COB + j, Cog - 1) - blk * COB) * Cig * kvol;
        acc[j] = (floatV)(0.0f);
    }
    const int plane = D * H * W, wstep = kvol;
    __global const STORE_T *xg = x + x_off + (n * Cin + g * Cig) * plane;
    __global const STORE_T *wg = w + w_off + (g * Cog + blk * COB) * Cig * kvol;
    for (int kz = 0; kz < KD; kz++) {
        int iz = oz * st.s1 + kz * dl.s1 - pd.s1;
        if (iz < 0 || iz >= D)
            continue;
        for (int ky = 0; ky < KH; ky++) {
            int iy = oy * st.s2 + ky * dl.s2 - pd.s2;
            if (iy < 0 || iy >= H)
                continue;
            for (int kx = 0; kx < KW; kx++) {
                __global const STORE_T *row = xg + (iz * H + iy) * W;
                __global const STORE_T *wp = wg + (kz * KH + ky) * KW + kx;
                int ix = ix0 + kx * dl.s3;
                TAP(ix, st.s3)
            }
        }
    }
    for (int j = 0; j < COB && blk * COB + j < Cog; j++) {
        int co = g * Cog + blk * COB + j;
        int base = ((n * Cout + co) * OD + oz) * OH * OW + oy * OW;
        storeV(acc[j], bias ? LD(bias, b_off + co) : 0.0f, res, r_off, y, y_off, base, ox0, 1, OW,
               act, a, b);
    }
}

/* Transposed convolution as a gather: y[n, co, oz, oy, ox] = act(bias[co] + sum over ci of the
 * group and the taps with (o + p - k*d) divisible by s, i = (o + p - k*d) / s inside the input,
 * of x[n, ci, iz, iy, ix] * w[ci, co - g*Cog, kz, ky, kx]).
 * Along W a work-item takes VW outputs of one phase r = ox mod sx, ox = r + sx*(m0 + t): they
 * share their taps and read consecutive inputs. Grid: (sx * ceil(ceil(OW/sx)/VW), OD*OH,
 * N * groups * ceil(Cog/COB)). */
__kernel void convt_f32(__global const STORE_T *x, int x_off, __global const STORE_T *w,
                        int w_off, __global const STORE_T *bias, int b_off, __global STORE_T *y,
                        int y_off, int4 xd, int4 yd, int4 kd, int4 st, int4 dl, int4 pd, int act,
                        float a, float b)
{
    const int Cin = xd.s0, D = xd.s1, H = xd.s2, W = xd.s3;
    const int Cout = yd.s0, OD = yd.s1, OH = yd.s2, OW = yd.s3;
    const int G = kd.s0, KD = kd.s1, KH = kd.s2, KW = kd.s3, kvol = KD * KH * KW;
    const int Cig = Cin / G, Cog = Cout / G, nblk = (Cog + COB - 1) / COB;
    const int sx = st.s3, r = (int)get_global_id(0) % sx, m0 = (int)get_global_id(0) / sx * VW;
    const int oz = (int)get_global_id(1) / OH, oy = (int)get_global_id(1) % OH;
    const int blk = (int)get_global_id(2) % nblk, g = (int)get_global_id(2) / nblk % G,
              n = (int)get_global_id(2) / nblk / G;
    if (r + sx * m0 >= OW)
        return;

    int off[COB];
    floatV acc[COB];
#pragma unroll
    for (int j = 0; j < COB; j++) {
        off[j] = (min(blk * COB + j, Cog - 1) - blk * COB) * kvol;
        acc[j] = (floatV)(0.0f);
    }
    const int plane = D * H * W, wstep = Cog * kvol;
    __global const STORE_T *xg = x + x_off + (n * Cin + g * Cig) * plane;
    __global const STORE_T *wg = w + w_off + (g * Cig * Cog + blk * COB) * kvol;
    for (int kz = 0; kz < KD; kz++) {
        int qz = oz + pd.s1 - kz * dl.s1, iz = qz / st.s1;
        if (qz % st.s1 != 0 || iz < 0 || iz >= D)
            continue;
        for (int ky = 0; ky < KH; ky++) {
            int qy = oy + pd.s2 - ky * dl.s2, iy = qy / st.s2;
            if (qy % st.s2 != 0 || iy < 0 || iy >= H)
                continue;
            for (int kx = 0; kx < KW; kx++) {
                int qx = r + pd.s3 - kx * dl.s3;
                if (qx % sx != 0)
                    continue;
                __global const STORE_T *row = xg + (iz * H + iy) * W;
                __global const STORE_T *wp = wg + (kz * KH + ky) * KW + kx;
                int ix = qx / sx + m0;
                TAP(ix, 1)
            }
        }
    }
    for (int j = 0; j < COB && blk * COB + j < Cog; j++) {
        int co = g * Cog + blk * COB + j;
        int base = ((n * Cout + co) * OD + oz) * OH * OW + oy * OW;
        storeV(acc[j], bias ? LD(bias, b_off + co) : 0.0f, 0, 0, y, y_off, base, r + sx * m0, sx,
               OW, act, a, b);
    }
}

#else /* KS */

/* Depthwise 2d (groups == Cin == Cout) with a KS x KS kernel, taps unrolled:
 * y[n, c, oy, ox] = act(sum over ky, kx of x[n, c, oy*sy + ky*dy - py, ox*sx + kx*dx - px]
 *   * w[c, 0, ky, kx] + bias[c] + res[n, c, oy, ox]).
 * Geometry: xd (C, 1, H, W), yd (C, 1, OH, OW). Grid: (ceil(OW/VW), OH, N*C). */
__kernel void dwconv_f32(__global const STORE_T *x, int x_off, __global const STORE_T *w,
                         int w_off, __global const STORE_T *bias, int b_off,
                         __global const STORE_T *res, int r_off, __global STORE_T *y, int y_off,
                         int4 xd, int4 yd, int4 st, int4 dl, int4 pd, int act, float a, float b)
{
    const int C = xd.s0, H = xd.s2, W = xd.s3, OH = yd.s2, OW = yd.s3;
    const int ox0 = (int)get_global_id(0) * VW, oy = (int)get_global_id(1);
    const int nc = (int)get_global_id(2);
    const int c = nc % C, ix0 = ox0 * st.s3 - pd.s3;
    if (ox0 >= OW)
        return;
    __global const STORE_T *xc = x + x_off + nc * H * W;
    __global const STORE_T *wc = w + w_off + c * KS * KS;
    floatV acc = (floatV)(0.0f);
#pragma unroll
    for (int ky = 0; ky < KS; ky++) {
        int iy = oy * st.s2 + ky * dl.s2 - pd.s2;
        if (iy < 0 || iy >= H)
            continue;
        __global const STORE_T *row = xc + iy * W;
#pragma unroll
        for (int kx = 0; kx < KS; kx++)
            acc = mad(loadV(row, ix0 + kx * dl.s3, st.s3, W), (floatV)(LD(wc, ky * KS + kx)), acc);
    }
    storeV(acc, bias ? LD(bias, b_off + c) : 0.0f, res, r_off, y, y_off, nc * OH * OW + oy * OW,
           ox0, 1, OW, act, a, b);
}

#endif /* KS */
