/*
 * fold.h - host folding of shape arithmetic (fold.c), used by import.c.
 */
#ifndef LUMEN_ONNX_FOLD_H
#define LUMEN_ONNX_FOLD_H

#include "onnx/values.h"

/* Evaluates n when every input is a host value and the op is one we fold. *done is 0 when the
 * op is not foldable (the mapper runs instead). */
lumen_status lumen__ox_fold(ox_ctx *c, ox_node *n, int *done);

#endif
