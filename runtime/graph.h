/*
 * graph.h - the graph's internal data, shared by graph.c (building, passes) and model.c
 * (memory plan, execution, profile, checker).
 */
#ifndef LUMEN_GRAPH_H
#define LUMEN_GRAPH_H

#include "internal.h"

enum { LUMEN__VAL_INPUT, LUMEN__VAL_CONST, LUMEN__VAL_NODE };

typedef struct lumen__value {
    char name[128];
    lumen_shape shape;
    int kind;     /* LUMEN__VAL_* */
    float *data;  /* constants: host data, owned */
    int producer; /* node index for LUMEN__VAL_NODE, else -1 */
    int uses;     /* live consumers + output marks (lumen__graph_count_uses) */
    int is_output;
    int index_data;    /* constants: integers used as indices (lumen__graph_mark_index) */
    int alias;         /* model.c: value whose storage this one shares, or -1 */
    int64_t alias_off; /* element offset inside that storage (concat inputs) */
} lumen__value;

typedef struct lumen__node {
    char name[128];
    lumen_opdesc d;
    int n_in;
    int in[LUMEN_MAX_IN]; /* value ids, -1 absent */
    int out;              /* value id */
    int dead;             /* removed by a pass */
    int elided;           /* model.c: its output is already in place (alias), nothing runs */
} lumen__node;

struct lumen_graph {
    lumen__value *values;
    int n_values, cap_values;
    lumen__node *nodes;
    int n_nodes, cap_nodes;
    struct {
        char name[128];
        int value;
    } * outputs;
    int n_outputs, cap_outputs;
    lumen_status status; /* first builder error (sticky) */
    char err[LUMEN_ERR_MAX];
};

/* Pattern passes (fuse.c): decomposed GELU and LayerNorm become one op each. */
lumen_status lumen__graph_fuse_patterns(lumen_graph *g);
lumen_status lumen__graph_optimize(lumen_graph *g, const lumen_model_options *o);
void lumen__graph_count_uses(lumen_graph *g);
/* Marks constant 'value' of g as holding indices compared or looked up exactly (a ramp that
 * run-time indices are compared with): lumen_model_new refuses fp16 storage when any of its
 * values is beyond LUMEN_FP16_MAX_INT. Does nothing for -1 or a value that is not constant. */
void lumen__graph_mark_index(lumen_graph *g, int value);
int lumen__graph_find_value(const lumen_graph *g, const char *name);
double lumen__node_flops(const lumen_graph *g, const lumen__node *n);

#endif
