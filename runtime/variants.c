/*
 * variants.c - every (kernel family, build options) program the runtime may ask for.
 *
 * 'lumen compile' builds exactly these into a binary-only kernels file, and binary-only mode has
 * nothing else; so a launcher that asks for options not listed here fails in that mode (the op
 * tests run in binary-only mode too, which catches it). Keep variants few: launch-time choices
 * (activation, sizes) are kernel arguments, -D options are for what must be compile-time.
 */
#include "internal.h"

const lumen__variant lumen__variants[] = {
    {"eltwise", ""},
    {"conv", ""},
    {"conv", "-DCOB=1"},
    {"conv", "-DKS=3"},
    {"conv", "-DKS=5"},
    {"conv", "-DVW=16"},
    {"conv", "-DCOB=1 -DVW=16"},
    {"norm", ""},
    {"attention", ""},
    {"attention", "-DHEAD_DIM=16"},
    {"attention", "-DHEAD_DIM=32"},
    {"attention", "-DHEAD_DIM=64"},
    {"gemm", ""},
    {"pool", ""},
    {"resize", ""},
    {"layout", ""},
};
const int lumen__variant_count = (int)(sizeof lumen__variants / sizeof lumen__variants[0]);
