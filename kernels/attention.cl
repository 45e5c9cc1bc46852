/*
 * attention.cl - fused multi-head attention on NCHW maps (see runtime/ops/attention.c).
 *
 * Every query token keeps an online softmax while it walks its key set (its window x window
 * tile, or all Hk*Wk keys when window == 0): the running maximum m, the running sum l of
 * exp(s - m) and the running weighted sum of values, each rescaled by exp(m_old - m_new) when
 * the maximum grows. Scores never leave the work-item.
 *
 * attention_tiled_f32: one work-group per window (window > 0: its w*w tokens) or per 'lsz'
 *   consecutive tokens (window == 0), global size (groups * lsz, heads, N). The group stages
 *   'kt' keys at a time in local memory, transposed to [key][channel] (padded by one to keep
 *   GPU banks apart), so each token's dot products read contiguous memory. In NCHW the
 *   channels of one key are H*W apart; read per token they thrash the cache (a 32x32 map puts
 *   them 4 KiB apart, all in one cache set).
 * attention_f32: one work-item per (token, head, n), reading keys straight from global memory;
 *   the fallback for windows too large for one work-group.
 *
 * -DHEAD_DIM=d (d in 16, 32, 64): the head size is a compile-time constant, q and the
 * accumulator live in registers and the channel chunk loop runs once. Without it the head is
 * processed in chunks of DC = 16 channels, recomputing the scores for each chunk.
 */
#ifdef HEAD_DIM
#define HD HEAD_DIM
#define DC HEAD_DIM
#else
#define HD head_dim
#define DC 16
#endif

/* Channel c of the query, pre-scaled: from registers (qv) or from global memory (qp). */
#ifdef HEAD_DIM
#define QAT(c) qv[c]
#else
#define QAT(c) (LD(qp, (c) * hw) * scale)
#endif

/* One key of the online softmax: score s joins the running maximum *m and sum *l (acc[0..DC),
 * the weighted sum of values, is rescaled by exp(m_old - m_new) when the maximum grows).
 * Returns the key's weight exp(s - m), by which the caller adds its value to acc. */
inline float softmax_step(float s, float *m, float *l, float *acc)
{
    if (s > *m) { /* a new maximum: rescale what was summed so far */
        float corr = exp(*m - s);
        *l *= corr;
        for (int u = 0; u < DC; u++)
            acc[u] *= corr;
        *m = s;
    }
    float e = exp(s - *m);
    *l += e;
    return e;
}

__kernel void attention_f32(__global const STORE_T *q, int q_off, __global const STORE_T *k,
                            int k_off, __global const STORE_T *v, int v_off, __global STORE_T *y,
                            int y_off,
                            int H, int W, int Hk, int Wk, int Cq, int Ck, int Cv, int q_c0,
                            int k_c0, int v_c0, int heads, int head_dim, int window, float scale)
{
    int t = get_global_id(0), h = get_global_id(1), n = get_global_id(2);
    int hw = H * W, khw = Hk * Wk;
    if (t >= hw)
        return;
    int ty = t / W, tx = t % W;
    /* the key set: t's tile, or everything */
    int ky0 = window ? ty / window * window : 0, kx0 = window ? tx / window * window : 0;
    int kh = window ? window : Hk, kw = window ? window : Wk;
    __global const STORE_T *qp = q + q_off + (n * Cq + q_c0 + h * HD) * hw + t;
    __global const STORE_T *kp = k + k_off + (n * Ck + k_c0 + h * HD) * khw;
    __global const STORE_T *vp = v + v_off + (n * Cv + v_c0 + h * HD) * khw;
    __global STORE_T *yp = y + y_off + (n * heads * HD + h * HD) * hw + t;
#ifdef HEAD_DIM
    float qv[HD];
    for (int c = 0; c < HD; c++)
        qv[c] = LD(qp, c * hw) * scale;
#endif
    for (int c0 = 0; c0 < HD; c0 += DC) {
        float acc[DC];
        for (int u = 0; u < DC; u++)
            acc[u] = 0.0f;
        float m = -INFINITY, l = 0.0f;
        for (int ky = ky0; ky < ky0 + kh; ky++)
            for (int kx = kx0; kx < kx0 + kw; kx++) {
                int j = ky * Wk + kx;
                float s = 0.0f;
                for (int c = 0; c < HD; c++)
                    s += QAT(c) * LD(kp, c * khw + j);
                float e = softmax_step(s, &m, &l, acc);
                for (int u = 0; u < DC; u++)
                    if (c0 + u < HD)
                        acc[u] += e * LD(vp, (c0 + u) * khw + j);
            }
        float inv = 1.0f / l;
        for (int u = 0; u < DC; u++)
            if (c0 + u < HD)
                ST(yp, (c0 + u) * hw, acc[u] * inv);
    }
}

__kernel void attention_tiled_f32(__global const STORE_T *q, int q_off,
                                  __global const STORE_T *k, int k_off,
                                  __global const STORE_T *v, int v_off, __global STORE_T *y,
                                  int y_off, int H, int W, int Hk, int Wk, int Cq, int Ck, int Cv,
                                  int q_c0, int k_c0, int v_c0, int heads, int head_dim,
                                  int window, float scale, int kt, __local float *kv)
{
    int lid = get_local_id(0), lsz = get_local_size(0), grp = get_group_id(0);
    int h = get_global_id(1), n = get_global_id(2);
    int hw = H * W, khw = Hk * Wk, t, nkeys, wy0 = 0, wx0 = 0;
    if (window) { /* group = one tile; its tokens and keys are the tile's pixels */
        wy0 = grp / (W / window) * window;
        wx0 = grp % (W / window) * window;
        t = (wy0 + lid / window) * W + wx0 + lid % window;
        nkeys = window * window;
    } else {
        t = grp * lsz + lid;
        nkeys = khw;
    }
    int active = t < hw; /* inactive work-items still help to stage keys */
    __global const STORE_T *qp = q + q_off + (n * Cq + q_c0 + h * HD) * hw + (active ? t : 0);
    __global const STORE_T *kp = k + k_off + (n * Ck + k_c0 + h * HD) * khw;
    __global const STORE_T *vp = v + v_off + (n * Cv + v_c0 + h * HD) * khw;
    __global STORE_T *yp = y + y_off + (n * heads * HD + h * HD) * hw + t;
    __local float *ks = kv, *vs = kv + kt * (HD + 1); /* [key][channel], row pitch HD + 1 */
#ifdef HEAD_DIM
    float qv[HD];
    for (int c = 0; c < HD; c++)
        qv[c] = LD(qp, c * hw) * scale;
#endif
    for (int c0 = 0; c0 < HD; c0 += DC) {
        float acc[DC];
        for (int u = 0; u < DC; u++)
            acc[u] = 0.0f;
        float m = -INFINITY, l = 0.0f;
        for (int kc = 0; kc < nkeys; kc += kt) {
            int cnt = min(kt, nkeys - kc);
            barrier(CLK_LOCAL_MEM_FENCE); /* the previous chunk is no longer read */
            for (int e = lid; e < cnt * HD; e += lsz) {
                int c = e / cnt, key = kc + e % cnt;
                int j = window ? (wy0 + key / window) * Wk + wx0 + key % window : key;
                ks[(key - kc) * (HD + 1) + c] = LD(kp, c * khw + j);
                vs[(key - kc) * (HD + 1) + c] = LD(vp, c * khw + j);
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            if (!active)
                continue;
            for (int kk = 0; kk < cnt; kk++) {
                __local const float *kr = ks + kk * (HD + 1), *vr = vs + kk * (HD + 1);
#ifdef HEAD_DIM
                float4 s4 = 0.0f;
                for (int c = 0; c < HD / 4; c++)
                    s4 = mad(vload4(c, qv), vload4(c, kr), s4);
                float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
#else
                float s = 0.0f;
                for (int c = 0; c < HD; c++)
                    s += QAT(c) * kr[c];
#endif
                float e = softmax_step(s, &m, &l, acc);
#ifdef HEAD_DIM
                for (int u = 0; u < HD / 4; u++)
                    vstore4(mad((float4)e, vload4(u, vr), vload4(u, acc)), u, acc);
#else
                for (int u = 0; u < DC; u++)
                    if (c0 + u < HD)
                        acc[u] += e * vr[c0 + u];
#endif
            }
        }
        if (active) {
            float inv = 1.0f / l;
            for (int u = 0; u < DC; u++)
                if (c0 + u < HD)
                    ST(yp, (c0 + u) * hw, acc[u] * inv);
        }
    }
}
