/*
 * params.c - op parameter schemas: defaults, validation and field access.
 *
 * Each op family lists its parameters once, beside its implementation (runtime/ops/<family>.c,
 * lumen__op_impl.params); everything here reads those lists, so a new parameter is one entry
 * there and nothing else: lumen_opdesc_default fills it, lumen_opdesc_check validates it before
 * every shape check, and the Lua binding parses it from op tables with lumen_param_get/set.
 *
 * A parameter is a field (or two, for padding) of lumen_opdesc's union, addressed by byte offset.
 * Entries are read and written as doubles, which hold every int, int64 extent and float exactly.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const lumen_param *lumen_op_param(lumen_op op, const char *name)
{
    int n;
    const lumen_param *ps = lumen_op_params(op, &n);
    for (int i = 0; i < n; i++)
        if (!strcmp(ps[i].name, name))
            return &ps[i];
    return NULL;
}

static const char *field_c(const lumen_opdesc *d, size_t at)
{
    return (const char *)d + at;
}

int lumen_param_count(const lumen_param *p, const lumen_opdesc *d)
{
    int n = p->n;
    if (p->flags & (LUMEN_PARAM_COUNT_IN | LUMEN_PARAM_COUNT_OUT)) {
        int c;
        memcpy(&c, field_c(d, p->count_at), sizeof c);
        n = c < 0 ? 0 : c > p->n ? p->n : c;
    }
    return p->flags & LUMEN_PARAM_SPLIT ? 2 * n : n;
}

/* Where entry i lives: SPLIT arrays keep their second half at at2. */
static size_t entry_at(const lumen_param *p, const lumen_opdesc *d, int *i)
{
    if (p->flags & LUMEN_PARAM_SPLIT) {
        int half = lumen_param_count(p, d) / 2;
        if (*i >= half) {
            *i -= half;
            return p->at2;
        }
    }
    return p->at;
}

static double get_at(const lumen_param *p, const lumen_opdesc *d, size_t at, int i)
{
    const char *f = field_c(d, at);
    switch (p->type) {
    case LUMEN_PARAM_INT:
    case LUMEN_PARAM_INTS: {
        int v;
        memcpy(&v, f + (size_t)i * sizeof v, sizeof v);
        return v;
    }
    case LUMEN_PARAM_INT64S: {
        int64_t v;
        memcpy(&v, f + (size_t)i * sizeof v, sizeof v);
        return (double)v;
    }
    case LUMEN_PARAM_FLOAT:
    case LUMEN_PARAM_FLOATS: {
        float v;
        memcpy(&v, f + (size_t)i * sizeof v, sizeof v);
        return v;
    }
    case LUMEN_PARAM_AXES: {
        unsigned v;
        memcpy(&v, f, sizeof v);
        return i >= 0 && i < 32 ? (v >> i & 1u) : 0;
    }
    case LUMEN_PARAM_ACT: {
        lumen_actdesc a;
        memcpy(&a, f, sizeof a);
        return (double)a.act;
    }
    }
    return 0;
}

static void set_at(const lumen_param *p, lumen_opdesc *d, size_t at, int i, double v)
{
    char *f = (char *)d + at;
    switch (p->type) {
    case LUMEN_PARAM_INT:
    case LUMEN_PARAM_INTS: {
        int x = (int)v;
        memcpy(f + (size_t)i * sizeof x, &x, sizeof x);
        break;
    }
    case LUMEN_PARAM_INT64S: {
        int64_t x = (int64_t)v;
        memcpy(f + (size_t)i * sizeof x, &x, sizeof x);
        break;
    }
    case LUMEN_PARAM_FLOAT:
    case LUMEN_PARAM_FLOATS: {
        float x = (float)v;
        memcpy(f + (size_t)i * sizeof x, &x, sizeof x);
        break;
    }
    case LUMEN_PARAM_AXES: {
        unsigned x;
        memcpy(&x, f, sizeof x);
        if (i >= 0 && i < 32)
            x = v != 0 ? x | 1u << i : x & ~(1u << i);
        memcpy(f, &x, sizeof x);
        break;
    }
    case LUMEN_PARAM_ACT: {
        lumen_actdesc a = lumen_actdesc_default((lumen_act)(int)v);
        memcpy(f, &a, sizeof a);
        break;
    }
    }
}

double lumen_param_get(const lumen_param *p, const lumen_opdesc *d, int i)
{
    size_t at = entry_at(p, d, &i);
    return get_at(p, d, at, i);
}

void lumen_param_set(const lumen_param *p, lumen_opdesc *d, int i, double v)
{
    size_t at = entry_at(p, d, &i);
    set_at(p, d, at, i, v);
    if (p->flags & LUMEN_PARAM_MIRROR)
        set_at(p, d, p->at2, i, v);
}

void lumen_param_reset(const lumen_param *p, lumen_opdesc *d)
{
    if (p->flags & LUMEN_PARAM_KEEP)
        return;
    const lumen_param *from = p->def_from ? lumen_op_param(d->op, p->def_from) : NULL;
    if (p->type == LUMEN_PARAM_AXES) {
        memset((char *)d + p->at, 0, sizeof(unsigned));
        return;
    }
    /* every entry the field holds, not only those counted now: the count may change later */
    int n = p->flags & LUMEN_PARAM_SPLIT ? 2 * p->n : p->n;
    for (int i = 0; i < n; i++) {
        double base = from ? get_at(from, d, from->at, i < from->n ? i : from->n - 1) : 0;
        if (p->flags & LUMEN_PARAM_SPLIT)
            set_at(p, d, i < p->n ? p->at : p->at2, i % p->n, base + p->def);
        else
            lumen_param_set(p, d, i, base + p->def);
    }
}

lumen_opdesc lumen_opdesc_default(lumen_op op)
{
    lumen_opdesc d;
    memset(&d, 0, sizeof d);
    d.op = op;
    int n;
    const lumen_param *ps = lumen_op_params(op, &n);
    for (int i = 0; i < n; i++)
        lumen_param_reset(&ps[i], &d);
    return d;
}

/* "must be >= 1", "must be in [1, 3]" */
static void range_text(const lumen_param *p, char *buf, size_t len)
{
    if (p->hi >= INT_MAX)
        snprintf(buf, len, ">= %g", p->lo);
    else if (p->lo <= -INT_MAX)
        snprintf(buf, len, "<= %g", p->hi);
    else
        snprintf(buf, len, "in [%g, %g]", p->lo, p->hi);
}

lumen_status lumen_opdesc_check(const lumen_opdesc *d, char *err)
{
    int n;
    const lumen_param *ps = d ? lumen_op_params(d->op, &n) : NULL;
    if (!ps)
        return lumen__errf(err, LUMEN_EUNSUPPORTED, "unsupported op %d", d ? (int)d->op : -1);
    const char *op = lumen_op_name(d->op);
    for (int k = 0; k < n; k++) {
        const lumen_param *p = &ps[k];
        if (p->type == LUMEN_PARAM_ACT) {
            lumen_actdesc a;
            memcpy(&a, field_c(d, p->at), sizeof a);
            int math = (p->flags & LUMEN_PARAM_MATH) && a.act >= LUMEN_ACT_EPILOGUE_COUNT &&
                       a.act < LUMEN_ACT_COUNT;
            lumen_status st = math ? LUMEN_OK : lumen__act_check(&a, err);
            if (st != LUMEN_OK)
                return st;
            continue;
        }
        if (p->names) {
            int count = 0, v = (int)lumen_param_get(p, d, 0);
            while (p->names[count])
                count++;
            if (v < 0 || v >= count)
                return lumen__errf(err, LUMEN_EINVAL, "%s: parameter '%s' is %d, not one of 0..%d",
                                   op, p->name, v, count - 1);
            continue;
        }
        if (!(p->lo < p->hi))
            continue;
        int m = lumen_param_count(p, d);
        for (int i = 0; i < m; i++) {
            double v = lumen_param_get(p, d, i);
            if (!(v >= p->lo && v <= p->hi)) {
                char r[64], at[24] = "";
                range_text(p, r, sizeof r);
                if (p->n > 1)
                    snprintf(at, sizeof at, " entry %d", i);
                return lumen__errf(err, LUMEN_EINVAL, "%s: parameter '%s'%s is %g, must be %s", op,
                                   p->name, at, v, r);
            }
        }
    }
    return LUMEN_OK;
}
