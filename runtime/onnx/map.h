/*
 * map.h - what the ONNX mappers share: the op table's row type, the two halves of the table
 * (ops_nn.c: compute ops; ops_layout.c: layout, indexing and host-only ops) and the helpers in
 * map.c. Used by the mappers and by import.c, which looks ops up; below it: values.h, rules.h.
 *
 * A mapper reads its node's attributes (with the opset-dependent places they live in), checks
 * their ranges and adds the lumen ops that compute it. The driver checks that the first
 * 'min_in' inputs are present before calling it, so mappers read those without checking.
 * Integer attributes that end up in lumen's int params are bounded to OX_INT_MAX so that no
 * conversion overflows.
 */
#ifndef LUMEN_ONNX_MAP_H
#define LUMEN_ONNX_MAP_H

#include "onnx/rules.h"

#define OX_INT_MAX (1 << 24)

typedef lumen_status (*ox_map_fn)(ox_ctx *c, ox_node *n);

/* One row of the op table: op type, the opset range it covers, the inputs that must be
 * present, the mapper. A table ends with a row whose type is NULL. */
typedef struct ox_op {
    const char *type;
    int since, until; /* opsets [since, until] of the default domain */
    int min_in;
    ox_map_fn map;
} ox_op;

extern const ox_op lumen__ox_ops_nn[];
extern const ox_op lumen__ox_ops_layout[];
extern const ox_op lumen__ox_ops_compose[]; /* ops_compose.c: chains of existing ops */
extern const ox_op lumen__ox_ops_take[];    /* ops_take.c: fixed rearrangements (TAKE) */
extern const ox_op lumen__ox_ops_sample[];  /* ops_sample.c: TopK, GridSample, RoiAlign, Det */
extern const ox_op lumen__ox_ops_rnn[];     /* ops_rnn.c: RNN, GRU, LSTM unrolled */
extern const ox_op lumen__ox_ops_signal[];  /* ops_signal.c: DFT, STFT as matrix products */
extern const ox_op lumen__ox_ops_quant[];   /* ops_quant.c: Quantize/DequantizeLinear in float */

/* ops_take.c, for the mappers of Gather and Pad: Gather of input 0 along axis with constant
 * indices (input 1) of any shape and order; Pad of input 0 by pp (pad0/pad1) in 'reflect'
 * (reflect 1) or 'edge' mode. Each sets output 0 of n. */
lumen_status lumen__ox_gather_take(ox_ctx *c, ox_node *n, int axis);
lumen_status lumen__ox_pad_take(ox_ctx *c, ox_node *n, const lumen_pad_params *pp, int reflect);
/* ops_nn.c, for ArgMax and ArgMin: output 0 of n is the argmax of graph value x (< 0: an input
 * failed) with n's axis, keepdims and select_last_index, marked as int64 indices. */
lumen_status lumen__ox_argmax(ox_ctx *c, ox_node *n, int x);

/* ops_nn.c, for Conv and the quantised convolutions: the CONV (or CONV_TRANSPOSE) op of node
 * n's attributes for input x and weight w. */
lumen_status lumen__ox_conv_desc(ox_ctx *c, ox_node *n, const lumen_shape *x, const lumen_shape *w,
                                 lumen_opdesc *d);

/* Graph value of input i: -1 when absent, -2 after a failure (the message is set). */
int lumen__ox_in(ox_ctx *c, ox_node *n, int i);
/* Static shape of input i, NULL when absent. */
const lumen_shape *lumen__ox_in_shape(ox_ctx *c, ox_node *n, int i);
/* Fails naming the first of inputs 0..k-1 that is absent. */
lumen_status lumen__ox_need(ox_ctx *c, ox_node *n, int k);
/* Adds op d and makes it output 0 of n. */
lumen_status lumen__ox_emit(ox_ctx *c, ox_node *n, const lumen_opdesc *d, int n_in, const int *in);

/* Spatial attributes of a window op with nsp spatial axes. */
typedef struct ox_spatial {
    int nsp;
    int k[3], stride[3], dil[3], pad0[3], pad1[3];
    char auto_pad[32];
} ox_spatial;
/* Reads kernel_shape (or takes kfrom), strides, dilations, pads, auto_pad for nsp axes. */
lumen_status lumen__ox_spatial(ox_ctx *c, ox_node *n, int nsp, const int64_t *kfrom, ox_spatial *s);
/* auto_pad for a forward window op on input extents x[2..]. */
void lumen__ox_auto_pad(ox_spatial *s, const lumen_shape *x);
/* *nsp = rank - 2, failing unless it is 1, 2 or 3. */
lumen_status lumen__ox_spatial_rank(ox_ctx *c, ox_node *n, const lumen_shape *x, int *nsp);

#endif
