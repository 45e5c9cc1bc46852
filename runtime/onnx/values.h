/*
 * values.h - the ONNX importer's values, nodes and import state, and the helper library shared
 * by the mappers (ops_*.c), the host folding (fold.c) and the driver (import.c); values.c
 * implements it. Below it: tensor.h. Nothing here knows about particular ops.
 *
 * Values. Every ONNX value name maps to one ox_val. A value is either known on the host
 * ('host' set: initializers, Constant nodes, folded shape arithmetic, Shape of anything, since
 * the graph is static) or a lumen graph value ('gv' >= 0), or both once a host value has been
 * materialised as a graph constant. Host values keep ONNX's integer-ness ('is_int': int64 data)
 * so that shape arithmetic is exact; device values are always float32.
 *
 * Names in messages: every error names the node as "node 'name' (OpType)" or, for unnamed
 * nodes, "node #index (OpType)", then the reason.
 */
#ifndef LUMEN_ONNX_VALUES_H
#define LUMEN_ONNX_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "onnx/tensor.h"

#define OX_MAX_IO 64 /* inputs or outputs of one node that we import */
#define OX_MAX_RANK                                                                                \
    8 /* ONNX ranks we accept; above LUMEN_MAX_DIMS only through Reshape and                       \
         Transpose (window partitioning), see ox_val.wide */

typedef struct ox_val {
    const char *name; /* borrowed from the ModelProto */
    int gv;           /* lumen graph value id, -1 when not (yet) in the graph */
    int is_int;       /* ONNX integer or bool type */
    int dtype;        /* ONNX element type of a run-time integer value when known (Cast,
                         QuantizeLinear set it), else 0 */
    ox_host *host;    /* constant data, owned, or NULL */
    int uses;         /* consumers among the nodes, plus 1 per graph output */
    int is_output;
    /* A run-time value of ONNX rank above LUMEN_MAX_DIMS (e.g. [1,1,4,1,4,2,32] in window
     * attention): its graph value holds the same elements with the extent-1 axes dropped, and
     * only Reshape, Transpose and Shape may read it. wide_ndim 0: an ordinary value. */
    int wide_ndim;
    int64_t wide[OX_MAX_RANK];
} ox_val;

/* The value table: ONNX names to values, open addressing. */
typedef struct ox_table {
    ox_val *vals;
    int n, cap;
    int *slot; /* index into vals, -1 empty */
    int nslot; /* power of two, > 2 * cap */
} ox_table;

/* The value named name, or NULL (also for NULL or ""). */
ox_val *lumen__ox_find(const ox_table *t, const char *name);
/* Adds name (must be new; borrowed); NULL when the table is full. */
ox_val *lumen__ox_add(ox_table *t, const char *name);

/* One node as the mappers see it: inputs resolved (NULL for an absent optional input). */
typedef struct ox_node {
    const Onnx__NodeProto *p;
    int index;
    int n_in, n_out;
    ox_val *in[OX_MAX_IO];
    const char *out[OX_MAX_IO]; /* output names; "" for an unused optional output */
    char label[192];            /* "node 'conv1' (Conv)" */
} ox_node;

/* The import state. */
typedef struct ox_ctx ox_ctx;
struct ox_ctx {
    lumen_graph *g;       /* the graph being built */
    int opset;            /* of the default domain */
    int64_t max_elements; /* the most elements of one tensor */
    const Onnx__NodeProto *const *nodes;
    int n_nodes;
    ox_table t;      /* every value the file can name */
    lumen_status st; /* the first failure (sticky) */
    char *err;       /* its message */
    size_t errlen;
};

/* Formats "<label>: <reason>" into the context's message; returns st. */
lumen_status lumen__ox_fail(ox_ctx *c, const ox_node *n, lumen_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Attributes: each returns def when the attribute is absent. */
const Onnx__AttributeProto *lumen__ox_attr(const ox_node *n, const char *name);
int64_t lumen__ox_attr_int(const ox_node *n, const char *name, int64_t def);
float lumen__ox_attr_float(const ox_node *n, const char *name, float def);
/* String attribute into buf (always terminated); def when absent. */
const char *lumen__ox_attr_str(const ox_node *n, const char *name, const char *def, char *buf,
                               size_t len);
/* Integer list attribute: copies up to cap values into out; returns the count, -1 when absent,
 * -2 when longer than cap. */
int lumen__ox_attr_ints(const ox_node *n, const char *name, int64_t *out, int cap);

/* A new host tensor of shape s (zeroed); NULL when out of memory or larger than max_elements
 * (the message is set in both cases). */
ox_host *lumen__ox_host_new(ox_ctx *c, const ox_node *n, int is_int, const lumen_shape *s);
/* The value of input i as a constant integer list (any numeric type, rank <= 1); returns the
 * count or fails with a message when the input is not constant or longer than cap. */
lumen_status lumen__ox_const_ints(ox_ctx *c, const ox_node *n, int i, int64_t *out, int cap,
                                  int *count);
/* Constant scalar (one element) input i as float. */
lumen_status lumen__ox_const_float(ox_ctx *c, const ox_node *n, int i, float *out);

/* The value of output j of n; NULL for an absent optional output. */
ox_val *lumen__ox_out(ox_ctx *c, const ox_node *n, int j);
/* Output j of n becomes host tensor h (ownership moves; h may be NULL after a failure). */
lumen_status lumen__ox_set_host(ox_ctx *c, const ox_node *n, int j, ox_host *h);
/* Output j of n becomes graph value gv (float). */
lumen_status lumen__ox_set_gv(ox_ctx *c, const ox_node *n, int j, int gv);
/* Output j of n is the same value as v (Identity). */
lumen_status lumen__ox_alias(ox_ctx *c, const ox_node *n, int j, ox_val *v);

/* The graph value of v, materialising a host constant as float data on first use. Fails for a
 * runtime integer value (lumen's device tensors are float). Returns -1 after setting the
 * message. */
int lumen__ox_gv(ox_ctx *c, const ox_node *n, ox_val *v);
/* The static shape of v (host or graph). */
const lumen_shape *lumen__ox_shape(ox_ctx *c, const ox_val *v);
/* Adds op d; the node's label plus suffix names it. Returns the value id or -1 (message set). */
int lumen__ox_op(ox_ctx *c, const ox_node *n, const char *suffix, const lumen_opdesc *d, int n_in,
                 const int *in);
/* Adds a float constant named after the node plus suffix. */
int lumen__ox_const(ox_ctx *c, const ox_node *n, const char *suffix, const lumen_shape *s,
                    const float *data);
/* A graph value for x reshaped to s (no node when the shape is already s). */
int lumen__ox_reshape(ox_ctx *c, const ox_node *n, const char *suffix, int x, const lumen_shape *s);

/* "node 'name' (Op)" or "node #index (Op)" into buf. */
void lumen__ox_node_label(const Onnx__NodeProto *p, int index, char *buf, size_t len);
/* Node i of the graph with its inputs resolved through the table. */
void lumen__ox_node_fill(ox_ctx *c, int i, ox_node *n);

/* Normalises an axis in [-rank, rank) to [0, rank); fails naming the node otherwise. */
lumen_status lumen__ox_axis(ox_ctx *c, const ox_node *n, int64_t axis, int rank, int *out);

#endif
