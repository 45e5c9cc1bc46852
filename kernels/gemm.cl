/*
 * gemm.cl - C[b] = act(alpha * op(A[b]) op(B[b]) + bias + R[b]), the kernels behind 1x1 conv,
 * linear, matmul and attention (runtime/gemm.c holds the contract and the reference).
 *
 * Operands are addressed by element strides, so one general kernel covers every transpose:
 * A[m][k] = a[a_off + bi*a_bs + m*a_sm + k*a_sk], B[k][n] = b[b_off + bi*b_bs + k*b_sk + n*b_sn].
 *
 * gemm_tile_f32 is the fast path: each work-item computes an 8 x 8 block of C with eight float8
 * accumulators; per k it loads one float8 of B's row k and broadcasts eight values of A's column
 * k. The body has no branches on data, so it compiles to straight FMA vector code on CPUs (PoCL
 * does not vectorise across work-items when there is a loop inside). It reads A and B from
 * panels packed by gemm_pack_f32 (sequential reads, no cache-set aliasing at power-of-two
 * leading dims, any transpose) and only touches whole tiles; gemm_general_f32 fills the edges.
 * gemm_epilogue_f32 applies bias / residual / activation in place after CLBlast.
 */
/* Sums over K run in blocks of GEMM_KB terms, each block's partial sum added to the total:
 * the rounding error grows with GEMM_KB + K / GEMM_KB terms instead of K (a 3x3 conv over 512
 * channels has K = 4608), as ONNX Runtime's blocked kernels do, for one add per block. */
#define GEMM_KB 64

#define BIAS_NONE 0
#define BIAS_ROW 1
#define BIAS_COL 2

/* The epilogue shared by every kernel: alpha, bias, residual, activation. */
inline float gemm_epi(float acc, float alpha, __global const STORE_T *bias, int bias_off,
                      int bias_mode, __global const STORE_T *res, int res_off, int m, int n,
                      int act, float pa, float pb)
{
    float v = alpha * acc;
    if (bias_mode == BIAS_ROW)
        v += LD(bias, bias_off + m);
    else if (bias_mode == BIAS_COL)
        v += LD(bias, bias_off + n);
    if (res_off >= 0)
        v += LD(res, res_off);
    return lumen_act(act, pa, pb, v);
}

/*
 * One work-item per element of the region rows [m0, M) x cols [n0, N) of every batch:
 * gws = (N - n0, M - m0, batch). res_off < 0 means no residual.
 */
__kernel void gemm_general_f32(__global const STORE_T *a, int a_off, int a_sm, int a_sk,
                               int a_bs, __global const STORE_T *b, int b_off, int b_sk, int b_sn,
                               int b_bs, __global STORE_T *c, int c_off, int ldc, int c_bs,
                               __global const STORE_T *bias, int bias_off, int bias_mode,
                               __global const STORE_T *res, int res_off, int M, int N, int K,
                               int m0, int n0, float alpha, int act, float pa, float pb)
{
    int n = n0 + get_global_id(0), m = m0 + get_global_id(1), bi = get_global_id(2);
    if (m >= M || n >= N)
        return;
    __global const STORE_T *ap = a + a_off + bi * a_bs + m * a_sm;
    __global const STORE_T *bp = b + b_off + bi * b_bs + n * b_sn;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += GEMM_KB) {
        float part = 0.0f;
        for (int k = k0; k < min(k0 + GEMM_KB, K); k++)
            part = fma(LD(ap, k * a_sk), LD(bp, k * b_sk), part);
        acc += part;
    }
    int ci = bi * c_bs + m * ldc + n;
    ST(c, c_off + ci, gemm_epi(acc, alpha, bias, bias_off, bias_mode, res,
                               res_off >= 0 ? res_off + ci : -1, m, n, act, pa, pb));
}

/* In place after CLBlast: C = act(C + bias + R). gws = (N, M, batch). CLBlast is fp32 only
 * (fp16 storage always runs the own kernels), so the fp16 program leaves it out. */
#ifndef LUMEN_FP16
__kernel void gemm_epilogue_f32(__global STORE_T *c, int c_off, int ldc, int c_bs,
                                __global const STORE_T *bias, int bias_off, int bias_mode,
                                __global const STORE_T *res, int res_off, int M, int N, int act,
                                float pa, float pb)
{
    int n = get_global_id(0), m = get_global_id(1), bi = get_global_id(2);
    if (m >= M || n >= N)
        return;
    int ci = bi * c_bs + m * ldc + n;
    ST(c, c_off + ci, gemm_epi(LD(c, c_off + ci), 1.0f, bias, bias_off, bias_mode, res,
                               res_off >= 0 ? res_off + ci : -1, m, n, act, pa, pb));
}
#endif

/* C rows m..m+7 as float8 accumulators c0..c7: one epilogue row. */
inline void gemm_store8(__global STORE_T *c, int ci, float8 acc, float alpha,
                        __global const STORE_T *bias, int bias_off, int bias_mode,
                        __global const STORE_T *res, int res_off, int m, int n, int act, float pa,
                        float pb)
{
    float8 v = alpha * acc;
    if (bias_mode == BIAS_ROW)
        v += LD(bias, bias_off + m);
    else if (bias_mode == BIAS_COL)
        v += LD8(bias, bias_off + n);
    if (res_off >= 0)
        v += LD8(res, res_off + ci);
    if (act != ACT_NONE) {
        v.s0 = lumen_act(act, pa, pb, v.s0);
        v.s1 = lumen_act(act, pa, pb, v.s1);
        v.s2 = lumen_act(act, pa, pb, v.s2);
        v.s3 = lumen_act(act, pa, pb, v.s3);
        v.s4 = lumen_act(act, pa, pb, v.s4);
        v.s5 = lumen_act(act, pa, pb, v.s5);
        v.s6 = lumen_act(act, pa, pb, v.s6);
        v.s7 = lumen_act(act, pa, pb, v.s7);
    }
    ST8(c, ci, v);
}

/*
 * Whole 8 x 8 tiles from packed panels: work-item (j, i, bi) computes C[bi][8i .. 8i+8][8j ..
 * 8j+8]. ap is A's row panel i (K x 8: ap[8k + r] = A[8i + r][k]), bp is B's column panel j
 * (K x 8: bp[8k + c] = B[k][8j + c]); both are read sequentially. a_ps / b_ps: elements between
 * the panels of consecutive batches (0 when that operand is broadcast); a_po / b_po: offsets
 * of the packed operands.
 * gws = (N / 8, M / 8, batch); the caller covers the edge strips with gemm_general_f32.
 */
__kernel void gemm_tile_f32(__global const float *pa_, int a_po, int a_ps,
                            __global const float *pb_, int b_po, int b_ps, int K,
                            __global STORE_T *c, int c_off, int ldc, int c_bs,
                            __global const STORE_T *bias, int bias_off, int bias_mode,
                            __global const STORE_T *res, int res_off, float alpha, int act,
                            float pa, float pb)
{
    int j = get_global_id(0), i = get_global_id(1), bi = get_global_id(2);
    int n = 8 * j, m = 8 * i;
    __global const float *ap = pa_ + a_po + bi * a_ps + i * 8 * K;
    __global const float *bp = pb_ + b_po + bi * b_ps + j * 8 * K;
    float8 c0 = 0.0f, c1 = 0.0f, c2 = 0.0f, c3 = 0.0f, c4 = 0.0f, c5 = 0.0f, c6 = 0.0f,
           c7 = 0.0f;
    for (int k0 = 0; k0 < K; k0 += GEMM_KB) {
        float8 d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f, d4 = 0.0f, d5 = 0.0f, d6 = 0.0f,
               d7 = 0.0f;
        for (int k = k0; k < min(k0 + GEMM_KB, K); k++) {
            float8 bv = vload8(k, bp);
            __global const float *ak = ap + 8 * k;
            d0 = fma((float8)(ak[0]), bv, d0);
            d1 = fma((float8)(ak[1]), bv, d1);
            d2 = fma((float8)(ak[2]), bv, d2);
            d3 = fma((float8)(ak[3]), bv, d3);
            d4 = fma((float8)(ak[4]), bv, d4);
            d5 = fma((float8)(ak[5]), bv, d5);
            d6 = fma((float8)(ak[6]), bv, d6);
            d7 = fma((float8)(ak[7]), bv, d7);
        }
        c0 += d0;
        c1 += d1;
        c2 += d2;
        c3 += d3;
        c4 += d4;
        c5 += d5;
        c6 += d6;
        c7 += d7;
    }
    int ci = bi * c_bs + m * ldc + n;
    c += c_off;
#define STORE_ROW(r, acc)                                                                          \
    gemm_store8(c, ci + (r)*ldc, acc, alpha, bias, bias_off, bias_mode, res, res_off, m + (r), n, \
                act, pa, pb)
    STORE_ROW(0, c0);
    STORE_ROW(1, c1);
    STORE_ROW(2, c2);
    STORE_ROW(3, c3);
    STORE_ROW(4, c4);
    STORE_ROW(5, c5);
    STORE_ROW(6, c6);
    STORE_ROW(7, c7);
#undef STORE_ROW
}

/*
 * Packs whole 8-wide panels of an operand for gemm_tile_f32: p[bi][t][k][r] = X[bi][8t + r][k]
 * where X(u, k) = x[x_off + bi*x_bs + u*x_su + k*x_sk] (u runs over M for A, N for B; the
 * strides express any transpose). gws = (8 * tiles, K, slabs).
 */
__kernel void gemm_pack_f32(__global const STORE_T *x, int x_off, int x_su, int x_sk, int x_bs,
                            __global float *p, int p_off, int K, int tiles)
{
    int u = get_global_id(0), k = get_global_id(1), bi = get_global_id(2);
    float v = LD(x, x_off + bi * x_bs + u * x_su + k * x_sk);
    p[p_off + ((bi * tiles + u / 8) * K + k) * 8 + u % 8] = v;
}


/*
 * C[bi][m][n] for a non-transposed, unpacked B (B[k][n] = b[b_off + bi*b_bs + k*ldb + n]): the
 * 1x1 convolution path, where B is the activation [Cin, H*W] and packing it would cost a full
 * extra pass over memory. Work-item (j, i, bi) computes rows 8i..8i+7 and columns
 * DW*j..DW*j+DW-1 of C with eight DW-wide vector accumulators; per k it loads one vector of B's
 * row k and broadcasts A[m][k] of the eight rows (A is the small weight matrix, read in place
 * with row stride lda: it stays in L1). Rows past M repeat row M-1 and are not stored; columns
 * past N are loaded as zeros and not stored. gws = (ceil(M/8), ceil(N/DW), batch): the row
 * tiles that share a strip of B run next to each other.
 */
#define GEMM_DIRECT(NAME, DW, VT, VLOAD, VSTORE, LDS, STS, ACT)                                    \
    __kernel void NAME(__global const STORE_T *a, int a_off, int lda, int a_bs,                    \
                       __global const STORE_T *b, int b_off, int ldb, int b_bs,                    \
                       __global STORE_T *c, int c_off, int ldc, int c_bs,                          \
                       __global const STORE_T *bias, int bias_off, int bias_mode,                  \
                       __global const STORE_T *res, int res_off, int M, int N, int K, float alpha, \
                       int act, float pa, float pb)                                                \
    {                                                                                              \
        int n = DW * (int)get_global_id(1), m = 8 * (int)get_global_id(0),                         \
            bi = (int)get_global_id(2);                                                            \
        if (n >= N || m >= M)                                                                      \
            return;                                                                                \
        __global const STORE_T *ap = a + a_off + bi * a_bs;                                        \
        __global const STORE_T *a0 = ap + min(m + 0, M - 1) * lda,                                 \
                             *a1 = ap + min(m + 1, M - 1) * lda,                                   \
                             *a2 = ap + min(m + 2, M - 1) * lda,                                   \
                             *a3 = ap + min(m + 3, M - 1) * lda,                                   \
                             *a4 = ap + min(m + 4, M - 1) * lda,                                   \
                             *a5 = ap + min(m + 5, M - 1) * lda,                                   \
                             *a6 = ap + min(m + 6, M - 1) * lda,                                   \
                             *a7 = ap + min(m + 7, M - 1) * lda;                                   \
        __global const STORE_T *bp = b + b_off + bi * b_bs + n;                                    \
        VT c0 = 0.0f, c1 = 0.0f, c2 = 0.0f, c3 = 0.0f, c4 = 0.0f, c5 = 0.0f, c6 = 0.0f,            \
           c7 = 0.0f;                                                                              \
        int full = n + DW <= N;                                                                    \
        for (int k0 = 0; k0 < K; k0 += GEMM_KB) {                                                  \
            VT d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f, d4 = 0.0f, d5 = 0.0f, d6 = 0.0f,        \
               d7 = 0.0f;                                                                          \
            for (int k = k0; k < min(k0 + GEMM_KB, K); k++, bp += ldb) {                           \
                VT bv;                                                                             \
                if (full) {                                                                        \
                    bv = LDS(bp, 0);                                                               \
                } else {                                                                           \
                    float t[DW];                                                                   \
                    for (int u = 0; u < DW; u++)                                                   \
                        t[u] = n + u < N ? LD(bp, u) : 0.0f;                                       \
                    bv = VLOAD(0, t);                                                              \
                }                                                                                  \
                d0 = fma((VT)(LD(a0, k)), bv, d0);                                                 \
                d1 = fma((VT)(LD(a1, k)), bv, d1);                                                 \
                d2 = fma((VT)(LD(a2, k)), bv, d2);                                                 \
                d3 = fma((VT)(LD(a3, k)), bv, d3);                                                 \
                d4 = fma((VT)(LD(a4, k)), bv, d4);                                                 \
                d5 = fma((VT)(LD(a5, k)), bv, d5);                                                 \
                d6 = fma((VT)(LD(a6, k)), bv, d6);                                                 \
                d7 = fma((VT)(LD(a7, k)), bv, d7);                                                 \
            }                                                                                      \
            c0 += d0;                                                                              \
            c1 += d1;                                                                              \
            c2 += d2;                                                                              \
            c3 += d3;                                                                              \
            c4 += d4;                                                                              \
            c5 += d5;                                                                              \
            c6 += d6;                                                                              \
            c7 += d7;                                                                              \
        }                                                                                          \
        VT acc[8] = {c0, c1, c2, c3, c4, c5, c6, c7};                                              \
        for (int r = 0; r < 8 && m + r < M; r++) {                                                 \
            int ci = bi * c_bs + (m + r) * ldc + n;                                                \
            VT v = alpha * acc[r];                                                                 \
            if (bias_mode == BIAS_ROW)                                                             \
                v += LD(bias, bias_off + m + r);                                                   \
            if (full) {                                                                            \
                if (bias_mode == BIAS_COL)                                                         \
                    v += LDS(bias, bias_off + n);                                                  \
                if (res_off >= 0)                                                                  \
                    v += LDS(res, res_off + ci);                                                   \
                STS(c, c_off + ci, ACT(act, pa, pb, v));                                           \
            } else {                                                                               \
                float t[DW];                                                                       \
                VSTORE(v, 0, t);                                                                   \
                for (int u = 0; u < DW && n + u < N; u++)                                          \
                    ST(c, c_off + ci + u,                                                          \
                       gemm_epi(t[u], 1.0f, bias, bias_off, bias_mode == BIAS_COL ? 2 : 0, res,    \
                                res_off >= 0 ? res_off + ci + u : -1, m + r, n + u, act, pa, pb)); \
            }                                                                                      \
        }                                                                                          \
    }

inline float16 lumen_act16(int act, float a, float b, float16 x)
{
    return (float16)(lumen_act8(act, a, b, x.lo), lumen_act8(act, a, b, x.hi));
}

GEMM_DIRECT(gemm_direct8_f32, 8, float8, vload8, vstore8, LD8, ST8, lumen_act8)
GEMM_DIRECT(gemm_direct16_f32, 16, float16, vload16, vstore16, LD16, ST16, lumen_act16)
