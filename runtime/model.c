/*
 * model.c - a graph compiled for one context: memory plan, device tensors, execution, per-node
 * profile and the layer-by-layer checker.
 *
 * Memory plan: intermediate values share whole buffer slots when their lifetimes (first write
 * to last read, in execution order) do not overlap; see plan_memory for the assignment. Slots
 * are allocated once, after planning.
 * Graph inputs and outputs get buffers of their own, so inputs survive a run and outputs stay
 * readable. Two kinds of node are elided, no kernel launched:
 * - a RESHAPE of an intermediate: its output is a view of its input's storage;
 * - a CONCAT whose output regions are contiguous (all axes before the concat axis are 1, e.g.
 *   channels at batch 1): each input becomes a view into the concat's output at its offset, so
 *   the producers write straight into place. Any number of readers may still read such an
 *   input: its storage (the concat's) lives until the last reader of any of them.
 * A storage root lives from the first node that writes any part of it to its last reader.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

lumen_status lumen__selfcheck_admit(lumen_ctx *ctx, const lumen_graph *g); /* selfcheck.c */
/* selfcheck.c: 1 when fp16 storage may run g on ctx (no quirk, no failed fp16 family it uses);
 * else 0 with the reason in why. */
int lumen__selfcheck_fp16_ok(lumen_ctx *ctx, const lumen_graph *g, char *why, size_t len);

struct lumen_model {
    lumen_ctx *ctx;
    lumen_graph *g;
    lumen_tensor **vt;    /* per value: its device tensor, or NULL when not needed */
    lumen_tensor **slots; /* planned buffers */
    int n_slots;
    int *order; /* live node indices, in execution order */
    int n_order;
    int *inputs; /* value ids of graph inputs */
    int n_inputs;
    lumen_plan_stats plan; /* plan.precision: the storage of every tensor below */
    lumen_node_prof *prof;
    cl_event done; /* marker enqueued after the last lumen_model_start; NULL when none pending */
};

void lumen_ctx_set_profiling(lumen_ctx *ctx, int on)
{
    ctx->profiling = on != 0;
    if (!on)
        lumen_ctx_profile_reset(ctx);
}

static uint64_t value_bytes(const lumen_model *m, const lumen__value *v)
{
    return (uint64_t)lumen_shape_numel(&v->shape) * lumen_precision_size(m->plan.precision);
}

void lumen_model_free(lumen_model *m)
{
    if (!m)
        return;
    if (m->vt)
        for (int i = 0; i < m->g->n_values; i++)
            lumen_tensor_free(m->vt[i]);
    for (int i = 0; i < m->n_slots; i++)
        lumen_tensor_free(m->slots[i]);
    free(m->vt);
    free(m->slots);
    free(m->order);
    free(m->inputs);
    free(m->prof);
    if (m->done) {
        clWaitForEvents(1, &m->done); /* buffers below must outlive the queued kernels */
        clReleaseEvent(m->done);
    }
    lumen_graph_free(m->g);
    free(m);
}

/*
 * Settles m->plan.precision from the one asked for. FP16 falls back to FP32, saying why in
 * plan.precision_note, where the device has LUMEN_QUIRK_NO_FP16 or failed its fp16 self-check
 * on a family the graph uses. Refuses (EUNSUPPORTED) an FP16 graph with integers half cannot
 * hold exactly (beyond LUMEN_FP16_MAX_INT): a node lumen__fp16_exact refuses (argmax, topk and
 * max pooling indices, roi_align batch indices), constant take indices or other constants
 * marked as indices (lumen__graph_mark_index) beyond it, run-time take indices into a source of
 * more elements.
 */
static lumen_status choose_precision(lumen_model *m, lumen_precision want)
{
    lumen_graph *g = m->g;
    char why[200];
    m->plan.precision = LUMEN_FP32;
    if (want == LUMEN_FP32)
        return LUMEN_OK;
    if (!lumen_precision_name(want))
        return lumen__fail(m->ctx, LUMEN_EINVAL, "lumen_model_new: unknown precision %d",
                           (int)want);
    for (int i = 0; i < g->n_nodes; i++) {
        const lumen__node *n = &g->nodes[i];
        const lumen_shape *shapes[LUMEN_MAX_IN];
        char err[LUMEN_ERR_MAX];
        if (n->dead)
            continue;
        for (int j = 0; j < n->n_in; j++)
            shapes[j] = n->in[j] >= 0 ? &g->values[n->in[j]].shape : NULL;
        if (lumen__fp16_exact(&n->d, n->n_in, shapes, err) != LUMEN_OK)
            return lumen__fail(m->ctx, LUMEN_EUNSUPPORTED, "node '%s': %s", n->name, err);
        for (int j = 0; j < n->n_in; j++) {
            const lumen__value *v = n->in[j] >= 0 ? &g->values[n->in[j]] : NULL;
            int take_idx = n->d.op == LUMEN_OP_TAKE && j == 1;
            if (!v || !(take_idx || v->index_data))
                continue;
            if (v->kind != LUMEN__VAL_CONST) { /* run-time take indices: bound by the source */
                int64_t src = lumen_shape_numel(shapes[0]);
                if (src - 1 > LUMEN_FP16_MAX_INT)
                    return lumen__fail(m->ctx, LUMEN_EUNSUPPORTED,
                                       "node '%s' (take): run-time indices into %lld elements "
                                       "are not exact in fp16 storage (integers up to %d are); "
                                       "use fp32",
                                       n->name, (long long)src, LUMEN_FP16_MAX_INT);
                continue;
            }
            for (int64_t k = 0; k < lumen_shape_numel(&v->shape); k++)
                if (fabsf(v->data[k]) > LUMEN_FP16_MAX_INT)
                    return lumen__fail(m->ctx, LUMEN_EUNSUPPORTED,
                                       "node '%s' (%s): index %g in '%s' is not exact in fp16 "
                                       "storage (integers up to %d are); use fp32",
                                       n->name, lumen_op_name(n->d.op), v->data[k], v->name,
                                       LUMEN_FP16_MAX_INT);
        }
    }
    /* after the refusals: a graph fp16 cannot hold is refused on every device */
    if (!lumen__selfcheck_fp16_ok(m->ctx, g, why, sizeof why)) {
        snprintf(m->plan.precision_note, sizeof m->plan.precision_note,
                 "fp16 storage not used on %s: %s; running fp32", m->ctx->info.name, why);
        return LUMEN_OK;
    }
    m->plan.precision = LUMEN_FP16;
    return LUMEN_OK;
}

/* Value whose storage v uses (follows aliases). */
static int root_of(const lumen_graph *g, int v)
{
    while (g->values[v].alias >= 0)
        v = g->values[v].alias;
    return v;
}

/* Element offset of v inside its root's storage. */
static int64_t offset_in_root(const lumen_graph *g, int v)
{
    int64_t off = 0;
    while (g->values[v].alias >= 0) {
        off += g->values[v].alias_off;
        v = g->values[v].alias;
    }
    return off;
}

/* Can the inputs of concat node n be written in place into its output? */
static int concat_in_place(const lumen_graph *g, const lumen__node *n)
{
    const lumen_shape *os = &g->values[n->out].shape;
    int axis = n->d.p.concat.axis < 0 ? n->d.p.concat.axis + os->ndim : n->d.p.concat.axis;
    if (axis < 0 || axis >= os->ndim)
        return 0;
    for (int i = 0; i < axis; i++)
        if (os->d[i] != 1)
            return 0; /* regions would interleave */
    for (int j = 0; j < n->n_in; j++) {
        const lumen__value *v = &g->values[n->in[j]];
        if (v->kind != LUMEN__VAL_NODE || v->is_output || v->alias >= 0 ||
            g->nodes[v->producer].elided || g->nodes[v->producer].d.op == LUMEN_OP_CONCAT)
            return 0;
        for (int k = 0; k < j; k++)
            if (n->in[k] == n->in[j])
                return 0;
    }
    return 1;
}

/* A storage root to place: its bytes and its lifetime in execution positions. */
typedef struct plan_item {
    int value;
    uint64_t bytes;
    int first, last; /* first write .. last read, inclusive */
} plan_item;

static int by_size_desc(const void *a, const void *b)
{
    const plan_item *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    return x->first - y->first;
}

/*
 * Assigns slots to intermediates; fills slot_of[value] (-1: not planned).
 *
 * The whole schedule is known, so this plans offline, greedy by size: storage roots are taken
 * largest first, each into the smallest existing slot whose values' lifetimes it does not
 * overlap (all existing slots are at least as large, having been sized by a larger value),
 * else into a new slot. Lifetimes are inclusive, so a node's output never shares a slot with
 * one of its own inputs.
 */
static lumen_status plan_memory(lumen_model *m, const lumen_model_options *o, int *slot_of)
{
    lumen_graph *g = m->g;
    int nv = g->n_values, n_items = 0, n_slots = 0;
    plan_item *items = calloc((size_t)nv + 1, sizeof *items);
    int *item_of = malloc(((size_t)nv + 1) * sizeof *item_of);
    uint64_t *slot_size = calloc((size_t)nv + 1, sizeof *slot_size);
    int *owner = malloc(((size_t)nv + 1) * sizeof *owner); /* item -> slot */
    lumen_status st = LUMEN_OK;
    if (!items || !item_of || !slot_size || !owner) {
        st = lumen__fail(m->ctx, LUMEN_ENOMEM, "out of host memory");
        goto cleanup;
    }
    for (int v = 0; v < nv; v++) {
        item_of[v] = -1;
        slot_of[v] = -1;
    }
    for (int k = 0; k < m->n_order; k++) {
        const lumen__node *n = &g->nodes[m->order[k]];
        const lumen__value *out = &g->values[n->out];
        int r = root_of(g, n->out);
        if (!out->is_output) /* naive: every intermediate its own buffer, elided ones included */
            m->plan.naive_bytes += value_bytes(m, out);
        if (g->values[r].kind == LUMEN__VAL_NODE && !g->values[r].is_output && item_of[r] < 0) {
            item_of[r] = n_items;
            items[n_items++] = (plan_item){r, value_bytes(m, &g->values[r]), k, k};
        }
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && item_of[root_of(g, n->in[j])] >= 0)
                items[item_of[root_of(g, n->in[j])]].last = k;
    }
    /* the largest set of intermediates live at one time: the lower bound for any plan */
    for (int k = 0; k < m->n_order; k++) {
        uint64_t live = 0;
        for (int i = 0; i < n_items; i++)
            if (items[i].first <= k && k <= items[i].last)
                live += items[i].bytes;
        if (live > m->plan.live_peak)
            m->plan.live_peak = live;
    }
    qsort(items, (size_t)n_items, sizeof *items, by_size_desc);
    for (int i = 0; i < n_items; i++) {
        int best = -1;
        for (int s = 0; !o->no_memory_plan && s < n_slots; s++) {
            int clash = 0;
            for (int j = 0; j < i && !clash; j++)
                clash = owner[j] == s && items[j].first <= items[i].last &&
                        items[i].first <= items[j].last;
            if (!clash && (best < 0 || slot_size[s] < slot_size[best]))
                best = s;
        }
        if (best < 0) {
            best = n_slots++;
            slot_size[best] = items[i].bytes;
        }
        owner[i] = best;
        slot_of[items[i].value] = best;
    }
    m->n_slots = n_slots;
    m->slots = calloc((size_t)n_slots + 1, sizeof *m->slots);
    if (!m->slots) {
        st = lumen__fail(m->ctx, LUMEN_ENOMEM, "out of host memory");
        goto cleanup;
    }
    for (int s = 0; s < n_slots; s++) {
        lumen_precision prec = m->plan.precision;
        lumen_shape sh = {1, {(int64_t)(slot_size[s] / lumen_precision_size(prec))}};
        char name[32];
        snprintf(name, sizeof name, "slot%d", s);
        st = lumen_tensor_new_prec(m->ctx, name, &sh, prec, &m->slots[s]);
        if (st != LUMEN_OK)
            goto cleanup;
        m->plan.planned_bytes += slot_size[s];
    }
    m->plan.buffers = n_slots;
cleanup:
    free(items);
    free(item_of);
    free(slot_size);
    free(owner);
    return st;
}

/* Makes the device tensor of every value the live nodes and outputs need. */
static lumen_status make_tensors(lumen_model *m, const int *slot_of)
{
    lumen_graph *g = m->g;
    lumen_status st;
    for (int v = 0; v < g->n_values; v++) {
        lumen__value *val = &g->values[v];
        if (val->kind == LUMEN__VAL_NODE && val->alias < 0 && slot_of[v] >= 0) {
            st = lumen_tensor_view(m->slots[slot_of[v]], val->name, 0, &val->shape, &m->vt[v]);
            if (st != LUMEN_OK)
                return st;
        } else if (val->kind == LUMEN__VAL_INPUT ||
                   (val->kind == LUMEN__VAL_NODE && val->alias < 0) ||
                   (val->kind == LUMEN__VAL_CONST && val->uses > 0)) {
            if (val->kind == LUMEN__VAL_NODE && g->nodes[val->producer].dead)
                continue;
            st =
                lumen_tensor_new_prec(m->ctx, val->name, &val->shape, m->plan.precision, &m->vt[v]);
            if (st != LUMEN_OK)
                return st;
            uint64_t b = value_bytes(m, val);
            if (val->kind == LUMEN__VAL_CONST) {
                m->plan.weight_bytes += b;
                st =
                    lumen_tensor_write(m->vt[v], val->data, (size_t)lumen_shape_numel(&val->shape));
                if (st != LUMEN_OK)
                    return st;
            } else
                m->plan.io_bytes += b;
        }
    }
    /* aliases: views into their root's storage at their offset */
    for (int v = 0; v < g->n_values; v++) {
        lumen__value *val = &g->values[v];
        if (val->alias < 0)
            continue;
        lumen_tensor *base = m->vt[root_of(g, v)];
        if (!base)
            return lumen__fail(m->ctx, LUMEN_EINVAL, "value '%s' has no storage", val->name);
        st = lumen_tensor_view(base, val->name, offset_in_root(g, v), &val->shape, &m->vt[v]);
        if (st != LUMEN_OK)
            return st;
    }
    return LUMEN_OK;
}

lumen_status lumen_model_new(lumen_ctx *ctx, lumen_graph *g, const lumen_model_options *opt,
                             lumen_model **out)
{
    lumen_model_options none = {0};
    lumen_status st;
    int *slot_of = NULL;
    *out = NULL;
    if (!g)
        return lumen__fail(ctx, LUMEN_EINVAL, "lumen_model_new: no graph");
    if (!opt)
        opt = &none;
    lumen_model *m = calloc(1, sizeof *m);
    if (!m) {
        lumen_graph_free(g);
        return lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
    }
    m->ctx = ctx;
    m->g = g;
    st = lumen__graph_optimize(g, opt);
    if (st != LUMEN_OK) {
        st = lumen__fail(ctx, st, "%s", g->err);
        goto fail;
    }
    if ((st = lumen__selfcheck_admit(ctx, g)) != LUMEN_OK)
        goto fail; /* a family this device failed its self-check on */
    if ((st = choose_precision(m, opt->precision)) != LUMEN_OK)
        goto fail;
    m->vt = calloc((size_t)g->n_values + 1, sizeof *m->vt);
    m->order = malloc(((size_t)g->n_nodes + 1) * sizeof *m->order);
    m->inputs = malloc(((size_t)g->n_values + 1) * sizeof *m->inputs);
    slot_of = malloc(((size_t)g->n_values + 1) * sizeof *slot_of);
    if (!m->vt || !m->order || !m->inputs || !slot_of) {
        st = lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
        goto fail;
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead)
            m->order[m->n_order++] = i;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == LUMEN__VAL_INPUT)
            m->inputs[m->n_inputs++] = v;
    /* elide reshapes of intermediates, and concats whose inputs can be written in place */
    for (int k = 0; k < m->n_order; k++) {
        lumen__node *n = &g->nodes[m->order[k]];
        if (n->d.op == LUMEN_OP_RESHAPE && !g->values[n->out].is_output &&
            g->values[n->in[0]].kind == LUMEN__VAL_NODE) {
            g->values[n->out].alias = n->in[0];
            n->elided = 1;
        }
    }
    for (int k = m->n_order - 1; !opt->no_memory_plan && k >= 0; k--) {
        lumen__node *n = &g->nodes[m->order[k]];
        if (n->d.op != LUMEN_OP_CONCAT || !concat_in_place(g, n))
            continue;
        int64_t off = 0;
        for (int j = 0; j < n->n_in; j++) {
            lumen__value *v = &g->values[n->in[j]];
            v->alias = n->out;
            v->alias_off = off;
            off += lumen_shape_numel(&v->shape);
        }
        n->elided = 1;
    }
    if ((st = plan_memory(m, opt, slot_of)) != LUMEN_OK ||
        (st = make_tensors(m, slot_of)) != LUMEN_OK)
        goto fail;
    free(slot_of);
    *out = m;
    return LUMEN_OK;
fail:
    free(slot_of);
    lumen_model_free(m);
    return st;
}

const lumen_graph *lumen_model_graph(const lumen_model *m)
{
    return m->g;
}
int lumen_model_input_count(const lumen_model *m)
{
    return m->n_inputs;
}
int lumen_model_output_count(const lumen_model *m)
{
    return m->g->n_outputs;
}

const char *lumen_model_input_name(const lumen_model *m, int i)
{
    return i >= 0 && i < m->n_inputs ? m->g->values[m->inputs[i]].name : NULL;
}

const char *lumen_model_output_name(const lumen_model *m, int i)
{
    return i >= 0 && i < m->g->n_outputs ? m->g->outputs[i].name : NULL;
}

lumen_tensor *lumen_model_input(lumen_model *m, int i)
{
    return i >= 0 && i < m->n_inputs ? m->vt[m->inputs[i]] : NULL;
}

lumen_tensor *lumen_model_output(lumen_model *m, int i)
{
    return i >= 0 && i < m->g->n_outputs ? m->vt[m->g->outputs[i].value] : NULL;
}

lumen_tensor *lumen_model_tensor(lumen_model *m, const char *name)
{
    for (int i = 0; i < m->g->n_outputs; i++)
        if (!strcmp(m->g->outputs[i].name, name))
            return lumen_model_output(m, i);
    for (int i = 0; i < m->n_inputs; i++)
        if (!strcmp(lumen_model_input_name(m, i), name))
            return lumen_model_input(m, i);
    return NULL;
}

void lumen_model_plan_stats(const lumen_model *m, lumen_plan_stats *out)
{
    *out = m->plan;
}

/* Enqueues node k of the execution order. */
static lumen_status run_node(lumen_model *m, int k)
{
    const lumen__node *n = &m->g->nodes[m->order[k]];
    if (n->elided)
        return LUMEN_OK;
    const lumen_tensor *in[LUMEN_MAX_IN];
    for (int j = 0; j < n->n_in; j++)
        in[j] = n->in[j] >= 0 ? m->vt[n->in[j]] : NULL;
    lumen_status st = lumen_op_run(m->ctx, &n->d, n->n_in, in, m->vt[n->out]);
    if (st != LUMEN_OK) {
        char msg[LUMEN_ERR_MAX];
        snprintf(msg, sizeof msg, "%s", lumen_ctx_error(m->ctx));
        lumen__fail(m->ctx, st, "node '%s' (%s): %s", n->name, lumen_op_name(n->d.op), msg);
    }
    return st;
}

lumen_status lumen_model_run(lumen_model *m)
{
    lumen_status st = lumen_model_start(m);
    return st != LUMEN_OK ? st : lumen_model_wait(m);
}

/* Forgets the pending marker, if any. */
static void drop_marker(lumen_model *m)
{
    if (m->done)
        clReleaseEvent(m->done);
    m->done = NULL;
}

lumen_status lumen_model_start(lumen_model *m)
{
    lumen_status st = lumen_model_wait(m); /* one run in flight per model */
    for (int k = 0; st == LUMEN_OK && k < m->n_order; k++)
        st = run_node(m, k);
    if (st != LUMEN_OK)
        return st;
    cl_int rc = clEnqueueMarkerWithWaitList(m->ctx->queue, 0, NULL, &m->done);
    if (rc != CL_SUCCESS) {
        m->done = NULL;
        return lumen__clfail(m->ctx, rc, "clEnqueueMarkerWithWaitList");
    }
    rc = clFlush(m->ctx->queue); /* make sure the device starts without a later sync */
    return rc == CL_SUCCESS ? LUMEN_OK : lumen__clfail(m->ctx, rc, "clFlush");
}

lumen_status lumen_model_poll(lumen_model *m, int *done)
{
    *done = 1;
    if (!m->done)
        return LUMEN_OK;
    cl_int status = CL_COMPLETE;
    cl_int rc =
        clGetEventInfo(m->done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
    if (rc != CL_SUCCESS) {
        drop_marker(m);
        return lumen__clfail(m->ctx, rc, "clGetEventInfo");
    }
    if (status < 0) { /* a command before the marker failed */
        drop_marker(m);
        return lumen__clfail(m->ctx, status, "model run");
    }
    if (status != CL_COMPLETE) {
        *done = 0;
        return LUMEN_OK;
    }
    drop_marker(m);
    return LUMEN_OK;
}

lumen_status lumen_model_wait(lumen_model *m)
{
    if (!m->done)
        return LUMEN_OK;
    drop_marker(m);
    return lumen_ctx_finish(m->ctx);
}

lumen_status lumen_model_profile(lumen_model *m, const lumen_node_prof **out, int *count)
{
    lumen_ctx *ctx = m->ctx;
    int was = ctx->profiling;
    lumen_status st = LUMEN_OK;
    int *first = malloc(((size_t)m->n_order + 1) * sizeof *first);
    lumen_node_prof *prof = realloc(m->prof, ((size_t)m->n_order + 1) * sizeof *prof);
    if (!first || !prof) {
        free(first);
        if (prof)
            m->prof = prof;
        return lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
    }
    m->prof = prof;
    lumen_ctx_profile_reset(ctx);
    ctx->profiling = 1;
    for (int k = 0; k < m->n_order && st == LUMEN_OK; k++) {
        first[k] = ctx->n_events;
        st = run_node(m, k);
    }
    first[m->n_order] = ctx->n_events;
    const lumen_prof_record *rec;
    int nrec;
    if (st == LUMEN_OK)
        st = lumen_ctx_profile(ctx, &rec, &nrec);
    for (int k = 0; st == LUMEN_OK && k < m->n_order; k++) {
        const lumen__node *n = &m->g->nodes[m->order[k]];
        lumen_node_prof *p = &prof[k];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", n->name);
        p->op = n->d.op;
        p->out = m->g->values[n->out].shape;
        for (int e = first[k]; e < first[k + 1]; e++)
            p->ms += rec[e].ms;
        p->flops = lumen__node_flops(m->g, n);
        p->bytes = (double)value_bytes(m, &m->g->values[n->out]);
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                p->bytes += (double)value_bytes(m, &m->g->values[n->in[j]]);
        if (n->elided)
            p->bytes = 0;
    }
    lumen_ctx_profile_reset(ctx);
    ctx->profiling = was;
    free(first);
    if (st != LUMEN_OK)
        return st;
    *out = prof;
    *count = m->n_order;
    return LUMEN_OK;
}

/* Reads a device tensor into a new host array. */
static float *read_host(lumen_model *m, int v, lumen_status *st)
{
    int64_t n = lumen_shape_numel(&m->g->values[v].shape);
    float *h = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!h) {
        *st = lumen__fail(m->ctx, LUMEN_ENOMEM, "out of host memory");
        return NULL;
    }
    *st = lumen_tensor_read(m->vt[v], h, (size_t)n);
    if (*st != LUMEN_OK) {
        free(h);
        return NULL;
    }
    return h;
}

lumen_status lumen_model_check(lumen_model *m, float atol, float rtol, char *report, size_t len)
{
    lumen_graph *g = m->g;
    lumen_status st = LUMEN_OK;
    char err[LUMEN_ERR_MAX], b[160];
    float **host = calloc((size_t)g->n_values + 1, sizeof *host);
    float *ref = NULL;
    double worst = 0;
    int worst_node = -1;
    if (!host)
        return lumen__fail(m->ctx, LUMEN_ENOMEM, "out of host memory");
    for (int i = 0; i < m->n_inputs && st == LUMEN_OK; i++)
        host[m->inputs[i]] = read_host(m, m->inputs[i], &st);
    for (int k = 0; k < m->n_order && st == LUMEN_OK; k++) {
        const lumen__node *n = &g->nodes[m->order[k]];
        const lumen_shape *shapes[LUMEN_MAX_IN];
        const float *ins[LUMEN_MAX_IN];
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            shapes[j] = v >= 0 ? &g->values[v].shape : NULL;
            ins[j] = v < 0                                   ? NULL
                     : g->values[v].kind == LUMEN__VAL_CONST ? g->values[v].data
                                                             : host[v];
        }
        if ((st = run_node(m, k)) != LUMEN_OK || (st = lumen_ctx_finish(m->ctx)) != LUMEN_OK)
            break;
        float *dev = read_host(m, n->out, &st);
        if (!dev)
            break;
        host[n->out] = dev;
        int64_t cnt = lumen_shape_numel(&g->values[n->out].shape);
        free(ref);
        ref = malloc((size_t)(cnt ? cnt : 1) * sizeof(float));
        if (!ref) {
            st = lumen__fail(m->ctx, LUMEN_ENOMEM, "out of host memory");
            break;
        }
        st = lumen_op_ref(&n->d, n->n_in, shapes, ins, ref, err);
        if (st != LUMEN_OK) {
            lumen__fail(m->ctx, st, "reference of node '%s': %s", n->name, err);
            break;
        }
        double node_max = 0;
        for (int64_t i = 0; i < cnt; i++) {
            double d = fabs((double)dev[i] - ref[i]);
            if (isnan(dev[i]) != isnan(ref[i]) || d > atol + rtol * fabs(ref[i])) {
                st = LUMEN_ERANGE;
                if (report)
                    snprintf(report, len,
                             "first mismatch at node %d '%s' (%s, out %s): element %lld device "
                             "%.9g reference %.9g (|diff| %.3g > %.3g + %.3g*|ref|)",
                             k, n->name, lumen_op_name(n->d.op),
                             lumen_shape_format(&g->values[n->out].shape, b, sizeof b),
                             (long long)i, dev[i], ref[i], d, atol, rtol);
                lumen__fail(m->ctx, st, "layer check failed at node '%s'", n->name);
                break;
            }
            if (d > node_max)
                node_max = d;
        }
        if (node_max >= worst) {
            worst = node_max;
            worst_node = k;
        }
    }
    if (st == LUMEN_OK && report)
        snprintf(report, len, "%d nodes match the reference; largest |diff| %.3g at '%s'",
                 m->n_order, worst, worst_node >= 0 ? g->nodes[m->order[worst_node]].name : "-");
    for (int v = 0; v < g->n_values; v++)
        free(host[v]);
    free(host);
    free(ref);
    return st;
}
