/* cases_eltwise.c - UNARY and BINARY cases. */
#include <math.h>

#include "harness.h"

static lumen_opdesc bin(int kind, lumen_act act)
{
    lumen_opdesc d = {.op = LUMEN_OP_BINARY};
    d.p.binary.kind = kind;
    d.p.binary.act.act = act;
    return d;
}

static lumen_opdesc un(lumen_act act, float a, float b)
{
    lumen_opdesc d = lumen_opdesc_unary(act);
    if (a != 0 || b != 0) {
        d.p.unary.act.a = a;
        d.p.unary.act.b = b;
    }
    return d;
}

int cases_eltwise(lumen_ctx *ctx)
{
    static const float hx[] = {-2, -0.5f, 0, 0.5f, 3, 7};
    static const float relu6_x[] = {0, 0, 0, 0.5f, 3, 6};
    static const float ha[] = {1, 2, 3, 4, 5, 6}, hb[] = {10, 20};
    static const float add_x[] = {11, 12, 13, 24, 25, 26}; /* [2,3] + [2,1] */
    /* log(1 + exp(x)): 0 (far below), log 2, log(1 + e), x (far above) */
    static const float softplus_x[] = {-100, 0, 1, 100};
    static const float softplus_y[] = {0, 0.69314718f, 1.31326169f, 100};
    /* NaN propagates as in PyTorch (relu, clamp, hardsigmoid, maximum, minimum); 9 values cover
     * the float8 body and the scalar tail */
    static const float nx[] = {NAN, -1, 2, NAN, 0, 7, -INFINITY, INFINITY, NAN};
    static const float relu_nx[] = {NAN, 0, 2, NAN, 0, 7, 0, INFINITY, NAN};
    static const float relu6_nx[] = {NAN, 0, 2, NAN, 0, 6, 0, 6, NAN};
    static const float clip_nx[] = {NAN, -0.5f, 0.5f, NAN, 0, 0.5f, -0.5f, 0.5f, NAN};
    static const float hsig_nx[] = {NAN, 1 / 3.0f, 5 / 6.0f, NAN, 0.5f, 1, 0, 1, NAN};
    static const float ny[] = {0, NAN, 1, NAN, 5, -7, 1, 1, 2};
    static const float max_n[] = {NAN, NAN, 2, NAN, 5, 7, 1, INFINITY, NAN};
    static const float min_n[] = {NAN, NAN, 1, NAN, 0, -7, -INFINITY, 1, NAN};
    /* the unary math functions and comparisons on the same 9 values (body of 8 and a tail) */
    static const float mx[] = {NAN, -1.5f, 2.5f, -0.5f, 0, 0.5f, -INFINITY, INFINITY, 3.7f};
    static const float fmod_a[] = {5.5f, -5.5f, 5.5f, -5.5f, 7, -1, 0.25f, 3, 9};
    static const float fmod_b[] = {2, 2, -2, -2, 7, 3, 1, 0.5f, 4};
    const tcase cases[] = {
        {"floor NaN hand", un(LUMEN_ACT_FLOOR, 0, 0), 1, {SHAPE(9)}, {mx}, .expect = (const float[]){NAN, -2, 2, -1, 0, 0, -INFINITY, INFINITY, 3}},
        {"ceil NaN hand", un(LUMEN_ACT_CEIL, 0, 0), 1, {SHAPE(9)}, {mx}, .expect = (const float[]){NAN, -1, 3, -0.0f, 0, 1, -INFINITY, INFINITY, 4}},
        {"round half even hand", un(LUMEN_ACT_ROUND, 0, 0), 1, {SHAPE(9)}, {mx}, .expect = (const float[]){NAN, -2, 2, -0.0f, 0, 0, -INFINITY, INFINITY, 4}},
        {"sign NaN hand", un(LUMEN_ACT_SIGN, 0, 0), 1, {SHAPE(9)}, {mx}, .expect = (const float[]){NAN, -1, 1, -1, 0, 1, -1, 1, 1}},
        {"isnan hand", un(LUMEN_ACT_ISNAN, 0, 0), 1, {SHAPE(9)}, {mx}, .expect = (const float[]){1, 0, 0, 0, 0, 0, 0, 0, 0}},
        {"isinf both hand", un(LUMEN_ACT_ISINF, 1, 1), 1, {SHAPE(9)}, {mx}, .expect = (const float[]){0, 0, 0, 0, 0, 0, 1, 1, 0}},
        {"isinf +inf hand", un(LUMEN_ACT_ISINF, 1, 0), 1, {SHAPE(9)}, {mx}, .expect = (const float[]){0, 0, 0, 0, 0, 0, 0, 1, 0}},
        {"isinf -inf hand", un(LUMEN_ACT_ISINF, 0, 1), 1, {SHAPE(9)}, {mx}, .expect = (const float[]){0, 0, 0, 0, 0, 0, 1, 0, 0}},
        {"gt NaN hand", bin(LUMEN_BIN_GT, LUMEN_ACT_NONE), 2, {SHAPE(9), SHAPE(9)}, {nx, ny}, .expect = (const float[]){0, 0, 1, 0, 0, 1, 0, 1, 0}},
        {"le NaN hand", bin(LUMEN_BIN_LE, LUMEN_ACT_NONE), 2, {SHAPE(9), SHAPE(9)}, {nx, ny}, .expect = (const float[]){0, 0, 0, 0, 1, 0, 1, 0, 0}},
        {"ne NaN hand", bin(LUMEN_BIN_NE, LUMEN_ACT_NONE), 2, {SHAPE(9), SHAPE(9)}, {nx, ny}, .expect = (const float[]){1, 1, 1, 1, 1, 1, 1, 1, 1}},
        {"ne self hand", bin(LUMEN_BIN_NE, LUMEN_ACT_NONE), 2, {SHAPE(9), SHAPE(9)}, {mx, mx}, .expect = (const float[]){1, 0, 0, 0, 0, 0, 0, 0, 0}},
        {"ne [C,1,1]", bin(LUMEN_BIN_NE, LUMEN_ACT_NONE), 2, {SHAPE(2, 9, 34, 17), SHAPE(9, 1, 1)}},
        {"eq hand", bin(LUMEN_BIN_EQ, LUMEN_ACT_NONE), 2, {SHAPE(9), SHAPE(1)}, {mx, (const float[]){0.5f}}, .expect = (const float[]){0, 0, 0, 0, 0, 1, 0, 0, 0}},
        {"fmod signs hand", bin(LUMEN_BIN_FMOD, LUMEN_ACT_NONE), 2, {SHAPE(9), SHAPE(9)}, {fmod_a, fmod_b}, .expect = (const float[]){1.5f, -1.5f, 1.5f, -1.5f, 0, -1, 0.25f, 0, 1}},
        {"sin", un(LUMEN_ACT_SIN, 0, 0), 1, {SHAPE(3, 7, 11)}, .lo = {-6}, .hi = {6}},
        {"cos", un(LUMEN_ACT_COS, 0, 0), 1, {SHAPE(3, 7, 11)}, .lo = {-6}, .hi = {6}},
        {"tan", un(LUMEN_ACT_TAN, 0, 0), 1, {SHAPE(3, 7, 11)}, .lo = {-1.3f}, .hi = {1.3f}},
        {"asin", un(LUMEN_ACT_ASIN, 0, 0), 1, {SHAPE(17, 5)}, .lo = {-0.99f}, .hi = {0.99f}},
        {"acos", un(LUMEN_ACT_ACOS, 0, 0), 1, {SHAPE(17, 5)}, .lo = {-0.99f}, .hi = {0.99f}},
        {"atan", un(LUMEN_ACT_ATAN, 0, 0), 1, {SHAPE(17, 5)}, .lo = {-9}, .hi = {9}},
        {"sinh", un(LUMEN_ACT_SINH, 0, 0), 1, {SHAPE(2, 9, 13)}, .lo = {-4}, .hi = {4}},
        {"cosh", un(LUMEN_ACT_COSH, 0, 0), 1, {SHAPE(2, 9, 13)}, .lo = {-4}, .hi = {4}},
        {"asinh", un(LUMEN_ACT_ASINH, 0, 0), 1, {SHAPE(2, 9, 13)}, .lo = {-9}, .hi = {9}},
        {"acosh", un(LUMEN_ACT_ACOSH, 0, 0), 1, {SHAPE(2, 9, 13)}, .lo = {1.01f}, .hi = {9}},
        {"atanh", un(LUMEN_ACT_ATANH, 0, 0), 1, {SHAPE(2, 9, 13)}, .lo = {-0.95f}, .hi = {0.95f}},
        {"floor", un(LUMEN_ACT_FLOOR, 0, 0), 1, {SHAPE(1, 3, 11, 13)}, .lo = {-5}, .hi = {5}},
        {"ceil", un(LUMEN_ACT_CEIL, 0, 0), 1, {SHAPE(1, 3, 11, 13)}, .lo = {-5}, .hi = {5}},
        {"round", un(LUMEN_ACT_ROUND, 0, 0), 1, {SHAPE(1, 3, 11, 13)}, .lo = {-5}, .hi = {5}},
        {"sign", un(LUMEN_ACT_SIGN, 0, 0), 1, {SHAPE(1, 3, 11, 13)}},
        {"gt [C,1,1]", bin(LUMEN_BIN_GT, LUMEN_ACT_NONE), 2, {SHAPE(2, 9, 34, 17), SHAPE(9, 1, 1)}},
        {"ge same", bin(LUMEN_BIN_GE, LUMEN_ACT_NONE), 2, {SHAPE(3, 67), SHAPE(3, 67)}},
        {"lt 6-d", bin(LUMEN_BIN_LT, LUMEN_ACT_NONE), 2, {SHAPE(2, 1, 3, 1, 2, 5), SHAPE(2, 3, 4, 1, 5)}},
        {"le [1,H,W]", bin(LUMEN_BIN_LE, LUMEN_ACT_NONE), 2, {SHAPE(2, 9, 34, 17), SHAPE(1, 34, 17)}},
        {"eq both bcast", bin(LUMEN_BIN_EQ, LUMEN_ACT_NONE), 2, {SHAPE(4, 1, 6), SHAPE(5, 1)}, {(const float[]){0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}, (const float[]){1, 2, 3, 9, 0}}},
        {"mask NaN/inf hand", bin(LUMEN_BIN_MASK, LUMEN_ACT_NONE), 2, {SHAPE(9), SHAPE(9)}, {mx, (const float[]){0, 1, 0, 1, 1, NAN, 0, 1, -2}}, .expect = (const float[]){0, -1.5f, 0, -0.5f, 0, 0.5f, 0, INFINITY, 3.7f}},
        {"mask [H,W] bcast", bin(LUMEN_BIN_MASK, LUMEN_ACT_NONE), 2, {SHAPE(2, 3, 13, 11), SHAPE(13, 11)}, .lo = {-1, -1}, .hi = {1, 1}},
        {"mask same", bin(LUMEN_BIN_MASK, LUMEN_ACT_NONE), 2, {SHAPE(5, 67), SHAPE(5, 67)}},
        {"fmod", bin(LUMEN_BIN_FMOD, LUMEN_ACT_NONE), 2, {SHAPE(3, 5, 7), SHAPE(7)}, .lo = {-9, 0.5f}, .hi = {9, 3}},
        {"relu6 hand", un(LUMEN_ACT_RELU6, 0, 0), 1, {SHAPE(6)}, {hx}, .expect = relu6_x},
        {"relu NaN hand", un(LUMEN_ACT_RELU, 0, 0), 1, {SHAPE(9)}, {nx}, .expect = relu_nx},
        {"relu6 NaN hand", un(LUMEN_ACT_RELU6, 0, 0), 1, {SHAPE(9)}, {nx}, .expect = relu6_nx},
        {"clip NaN hand", un(LUMEN_ACT_CLIP, -0.5f, 0.5f), 1, {SHAPE(9)}, {nx}, .expect = clip_nx},
        {"hardsigmoid NaN hand", un(LUMEN_ACT_HARDSIGMOID, 1.0f / 6, 0.5f), 1, {SHAPE(9)}, {nx}, .expect = hsig_nx},
        {"max NaN hand", bin(LUMEN_BIN_MAX, LUMEN_ACT_NONE), 2, {SHAPE(9), SHAPE(9)}, {nx, ny}, .expect = max_n},
        {"min NaN hand", bin(LUMEN_BIN_MIN, LUMEN_ACT_NONE), 2, {SHAPE(9), SHAPE(9)}, {nx, ny}, .expect = min_n},
        {"add relu NaN hand", bin(LUMEN_BIN_ADD, LUMEN_ACT_RELU), 2, {SHAPE(9), SHAPE(9)}, {nx, ny}, .expect = (const float[]){NAN, NAN, 3, NAN, 5, 0, 0, INFINITY, NAN}},
        {"relu odd", un(LUMEN_ACT_RELU, 0, 0), 1, {SHAPE(2, 9, 34, 17)}},
        {"relu6 range", un(LUMEN_ACT_RELU6, 0, 0), 1, {SHAPE(1, 7, 5, 3)}, .lo = {-9}, .hi = {9}},
        {"leaky 0.2", un(LUMEN_ACT_LEAKY_RELU, 0.2f, 0), 1, {SHAPE(3, 5, 7)}},
        {"sigmoid", un(LUMEN_ACT_SIGMOID, 0, 0), 1, {SHAPE(1, 3, 11, 13)}, .lo = {-8}, .hi = {8}},
        {"tanh", un(LUMEN_ACT_TANH, 0, 0), 1, {SHAPE(1, 3, 11, 13)}, .lo = {-4}, .hi = {4}},
        {"gelu", un(LUMEN_ACT_GELU, 0, 0), 1, {SHAPE(1, 3, 11, 13)}, .lo = {-5}, .hi = {5}},
        {"hardswish", un(LUMEN_ACT_HARDSWISH, 0, 0), 1, {SHAPE(2, 3, 9)}, .lo = {-5}, .hi = {5}},
        {"hardsigmoid", un(LUMEN_ACT_HARDSIGMOID, 0, 0), 1, {SHAPE(2, 3, 9)}, .lo = {-5}, .hi = {5}},
        {"clip -0.3..0.4", un(LUMEN_ACT_CLIP, -0.3f, 0.4f), 1, {SHAPE(17, 3)}},
        {"exp", un(LUMEN_ACT_EXP, 0, 0), 1, {SHAPE(17, 3)}, .lo = {-3}, .hi = {3}},
        {"log", un(LUMEN_ACT_LOG, 0, 0), 1, {SHAPE(17, 3)}, .lo = {0.01f}, .hi = {5}},
        {"sqrt", un(LUMEN_ACT_SQRT, 0, 0), 1, {SHAPE(17, 3)}, .lo = {0}, .hi = {9}},
        {"erf", un(LUMEN_ACT_ERF, 0, 0), 1, {SHAPE(17, 3)}, .lo = {-3}, .hi = {3}},
        {"neg", un(LUMEN_ACT_NEG, 0, 0), 1, {SHAPE(17, 3)}},
        {"abs", un(LUMEN_ACT_ABS, 0, 0), 1, {SHAPE(17, 3)}},
        {"reciprocal", un(LUMEN_ACT_RECIPROCAL, 0, 0), 1, {SHAPE(17, 3)}, .lo = {0.5f}, .hi = {4}},
        {"threshold 0.25", un(LUMEN_ACT_THRESHOLD, 0.25f, 0), 1, {SHAPE(1, 1, 19, 23)}},
        {"scale 2x+1", un(LUMEN_ACT_SCALE, 2, 1), 1, {SHAPE(5, 7)}},
        {"softplus hand", un(LUMEN_ACT_SOFTPLUS, 0, 0), 1, {SHAPE(4)}, {softplus_x},
         .expect = softplus_y},
        {"softplus wide", un(LUMEN_ACT_SOFTPLUS, 0, 0), 1, {SHAPE(3, 9, 17)}, .lo = {-40}, .hi = {40}},
        {"leaky float8 + tail", un(LUMEN_ACT_LEAKY_RELU, 0.1f, 0), 1, {SHAPE(2, 9, 34, 17)}},
        {"threshold float8", un(LUMEN_ACT_THRESHOLD, 0.1f, 0), 1, {SHAPE(4, 64)}},
        {"none (copy)", un(LUMEN_ACT_NONE, 0, 0), 1, {SHAPE(1)}},
        {"add bcast hand", bin(LUMEN_BIN_ADD, LUMEN_ACT_NONE), 2, {SHAPE(2, 3), SHAPE(2, 1)},
         {ha, hb}, .expect = add_x},
        {"add same", bin(LUMEN_BIN_ADD, LUMEN_ACT_NONE), 2, {SHAPE(2, 9, 34, 17), SHAPE(2, 9, 34, 17)}},
        {"add relu same", bin(LUMEN_BIN_ADD, LUMEN_ACT_RELU), 2, {SHAPE(1, 5, 7, 3), SHAPE(1, 5, 7, 3)}},
        {"mul [C,1,1]", bin(LUMEN_BIN_MUL, LUMEN_ACT_NONE), 2, {SHAPE(2, 9, 34, 17), SHAPE(9, 1, 1)}},
        {"sub [1,H,W]", bin(LUMEN_BIN_SUB, LUMEN_ACT_NONE), 2, {SHAPE(2, 9, 34, 17), SHAPE(1, 34, 17)}},
        {"div scalar", bin(LUMEN_BIN_DIV, LUMEN_ACT_NONE), 2, {SHAPE(3, 5, 7), SHAPE(1)},
         .lo = {-1, 0.5f}, .hi = {1, 2}},
        {"div rank-0", bin(LUMEN_BIN_DIV, LUMEN_ACT_NONE), 2, {SHAPE(3, 5, 7), {0, {0}}},
         .lo = {-1, 0.5f}, .hi = {1, 2}},
        {"mul both bcast", bin(LUMEN_BIN_MUL, LUMEN_ACT_SIGMOID), 2, {SHAPE(4, 1, 6), SHAPE(5, 1)}},
        {"mul [1,C,1,1] (2-d)", bin(LUMEN_BIN_MUL, LUMEN_ACT_NONE), 2,
         {SHAPE(1, 16, 13, 11), SHAPE(1, 16, 1, 1)}},
        {"add [1,1,H,W] (2-d)", bin(LUMEN_BIN_ADD, LUMEN_ACT_RELU), 2,
         {SHAPE(1, 5, 13, 11), SHAPE(1, 1, 13, 11)}},
        {"mul [1,C,1,1] float8 (2-d)", bin(LUMEN_BIN_MUL, LUMEN_ACT_SIGMOID), 2,
         {SHAPE(1, 16, 13, 16), SHAPE(1, 16, 1, 1)}},
        {"add [1,1,H,W] float8 (2-d)", bin(LUMEN_BIN_ADD, LUMEN_ACT_GELU), 2,
         {SHAPE(1, 5, 8, 8), SHAPE(1, 1, 8, 8)}},
        {"same float8 + tail", bin(LUMEN_BIN_DIV, LUMEN_ACT_TANH), 2, {SHAPE(3, 67), SHAPE(3, 67)},
         .lo = {-1, 0.5f}, .hi = {1, 2}},
        {"sub scalar first (2-d)", bin(LUMEN_BIN_SUB, LUMEN_ACT_NONE), 2, {SHAPE(1), SHAPE(3, 5, 7)}},
        {"mul transposed-like", bin(LUMEN_BIN_MUL, LUMEN_ACT_NONE), 2, {SHAPE(7, 1), SHAPE(1, 9)}},
        {"pow", bin(LUMEN_BIN_POW, LUMEN_ACT_NONE), 2, {SHAPE(3, 5, 7), SHAPE(7)},
         .lo = {0.1f, -2}, .hi = {3, 2}},
        {"max", bin(LUMEN_BIN_MAX, LUMEN_ACT_NONE), 2, {SHAPE(2, 3, 4, 5, 6), SHAPE(3, 1, 5, 1)}},
        {"min 6-d", bin(LUMEN_BIN_MIN, LUMEN_ACT_NONE), 2, {SHAPE(2, 1, 3, 1, 2, 5), SHAPE(2, 3, 4, 1, 5)}},
    };
    return run_cases(ctx, "eltwise", cases, (int)(sizeof cases / sizeof cases[0]));
}
