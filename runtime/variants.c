/*
 * variants.c - what the C lists give the kernels: every program the runtime may ask for, and the
 * OpenCL definitions generated from LUMEN_ACT_LIST.
 *
 * 'lumen compile' builds exactly the programs gathered here into a binary-only kernels file,
 * and binary-only mode has nothing else; so a launcher that asks for options its op's variant
 * list (runtime/ops/<family>.c) does not name fails in that mode (the op tests run in
 * binary-only mode too, which catches it). Keep variants few: launch-time choices (activation,
 * sizes) are kernel arguments, -D options are for what must be compile-time.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* "enum { ACT_NONE, ACT_RELU, ... };": the codes kernels switch on, in the C list's order. */
const char lumen__cl_prelude[] = "enum lumen_act_code {"
#define LUMEN_X(name, str, a, b) " ACT_" #name ","
    LUMEN_ACT_LIST(LUMEN_X)
#undef LUMEN_X
        " ACT_COUNT_ };\n";

static int add_variant(lumen__variant *out, int cap, int n, const lumen__variant *v)
{
    for (int i = 0; i < n && i < cap; i++)
        if (!strcmp(out[i].family, v->family) && !strcmp(out[i].options, v->options) &&
            out[i].fp16 == v->fp16)
            return n;
    if (n < cap)
        out[n] = *v;
    return n + 1;
}

const char *lumen__prec_options(lumen_precision prec, const char *options, char *buf, size_t len)
{
    if (prec != LUMEN_FP16)
        return options;
    snprintf(buf, len, "%s%s%s", LUMEN_FP16_OPTION, options[0] ? " " : "", options);
    return buf;
}

const char *lumen__variant_options(const lumen__variant *v, char *buf, size_t len)
{
    return lumen__prec_options(v->fp16 ? LUMEN_FP16 : LUMEN_FP32, v->options, buf, len);
}

int lumen__variants(lumen__variant *out, int cap)
{
    int n = 0;
    for (int fp16 = 0; fp16 <= 1; fp16++)
        for (int op = 0; op < LUMEN_OP_COUNT; op++) {
            const lumen__op_impl *im = lumen__impl((lumen_op)op);
            for (int l = 0; im->variants && im->variants[l]; l++)
                for (const lumen__variant *v = im->variants[l]; v->family; v++) {
                    lumen__variant w = *v;
                    w.fp16 = fp16;
                    n = add_variant(out, cap, n, &w);
                }
        }
    return n;
}
