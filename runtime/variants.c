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
};
const int lumen__variant_count = (int)(sizeof lumen__variants / sizeof lumen__variants[0]);
