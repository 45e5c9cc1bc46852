/*
 * rules.h - ONNX shape rules (rules.c), used by fold.c and the mappers.
 */
#ifndef LUMEN_ONNX_RULES_H
#define LUMEN_ONNX_RULES_H

#include "onnx/values.h"

/* Slice parameters of Slice node n applied to shape x: attributes before opset 10, constant
 * inputs from 10, normalised as ONNX clamps them. */
lumen_status lumen__ox_slice_params(ox_ctx *c, const ox_node *n, const lumen_shape *x,
                                    lumen_slice_params *p);
/* Output shape of Reshape, Flatten, Squeeze or Unsqueeze node n on an input of extents
 * x[0..xr): writes up to OX_MAX_RANK extents to out and the rank to *outr. */
lumen_status lumen__ox_reshape_shape(ox_ctx *c, const ox_node *n, const int64_t *x, int xr,
                                     int64_t *out, int *outr);

#endif
