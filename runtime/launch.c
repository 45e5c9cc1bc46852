/*
 * launch.c - setting kernel arguments, enqueueing launches, and the profile of launches.
 *
 * While profiling is on, each launch keeps its event and a record (label, flops, bytes); the
 * times are read from the events only when the profile is asked for, so launching never waits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

lumen_status lumen__set_args(lumen_ctx *ctx, cl_kernel k, const char *what, int n,
                             const lumen__arg *args)
{
    for (int i = 0; i < n; i++) {
        cl_int rc = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].ptr);
        if (rc != CL_SUCCESS) {
            char w[160];
            snprintf(w, sizeof w, "clSetKernelArg(%s, arg %d)", what, i);
            return lumen__clfail(ctx, rc, w);
        }
    }
    return LUMEN_OK;
}

lumen_status lumen__keep_event(lumen_ctx *ctx, cl_event ev, const char *label, double flops,
                               double bytes)
{
    if (ctx->n_events == ctx->cap_events) {
        int cap = ctx->cap_events ? 2 * ctx->cap_events : 256;
        cl_event *e = realloc(ctx->events, (size_t)cap * sizeof *e);
        if (e)
            ctx->events = e;
        lumen_prof_record *r = e ? realloc(ctx->records, (size_t)cap * sizeof *r) : NULL;
        if (r)
            ctx->records = r;
        if (!e || !r) {
            clReleaseEvent(ev);
            return lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
        }
        ctx->cap_events = cap;
    }
    lumen_prof_record *r = &ctx->records[ctx->n_events];
    snprintf(r->label, sizeof r->label, "%s", label ? label : "?");
    r->ms = 0;
    r->flops = flops;
    r->bytes = bytes;
    ctx->events[ctx->n_events++] = ev;
    return LUMEN_OK;
}

size_t lumen__max_wg(lumen_ctx *ctx, cl_kernel k)
{
    size_t cap = ctx->info.max_work_group ? ctx->info.max_work_group : 1, kw = 0;
    if (clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kw, &kw, NULL) ==
            CL_SUCCESS &&
        kw > 0 && kw < cap)
        cap = kw;
    return cap;
}

uint64_t lumen__local_free(lumen_ctx *ctx, cl_kernel k)
{
    cl_ulong used = 0;
    clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof used, &used, NULL);
    return ctx->info.local_mem > used ? ctx->info.local_mem - used : 0;
}

lumen_status lumen__launch(lumen_ctx *ctx, cl_kernel k, int dims, const size_t *gws,
                           const size_t *lws, const char *label, double flops, double bytes)
{
    size_t g[3], auto_lws[3], cap = lumen__max_wg(ctx, k), group = 1;
    for (int i = 0; i < dims; i++) {
        if (gws[i] == 0)
            return LUMEN_OK; /* empty tensor: nothing to do */
        g[i] = lws ? lumen__round_up(gws[i], lws[i]) : gws[i];
        group *= lws ? lws[i] : 1;
    }
    /* A launcher that asks for more than the device or the kernel allows has a bug: say so
     * instead of CL_INVALID_WORK_GROUP_SIZE (which some drivers do not even report). */
    if (group > cap)
        return lumen__fail(ctx, LUMEN_EUNSUPPORTED,
                           "%s: work-group of %zu work-items exceeds this kernel's limit of %zu on "
                           "'%s'",
                           label ? label : "?", group, cap, ctx->info.name);
    /* PoCL's own choice for a NULL work-group size can be a handful of work-items, and each
     * group costs a scheduling round: on CPUs pick an exact divisor shape instead (same grid).
     * Under debug limits the driver does not know the pretend limit, so choose here too. */
    if (!lws && (ctx->info.type == LUMEN_DEV_CPU || ctx->debug_limits)) {
        lumen__exact_lws(dims, g, cap < 128 ? cap : 128, auto_lws);
        lws = auto_lws;
    }
    cl_event ev = NULL;
    cl_int rc = clEnqueueNDRangeKernel(ctx->queue, k, (cl_uint)dims, NULL, g, lws, 0, NULL,
                                       ctx->profiling ? &ev : NULL);
    if (rc != CL_SUCCESS) {
        char w[128];
        snprintf(w, sizeof w, "clEnqueueNDRangeKernel(%s)", label ? label : "?");
        return lumen__clfail(ctx, rc, w);
    }
    lumen__mark_launched(ctx, k);
    return ctx->profiling ? lumen__keep_event(ctx, ev, label, flops, bytes) : LUMEN_OK;
}

void lumen__exact_lws(int dims, const size_t *gws, size_t target, size_t *lws)
{
    size_t total = 1;
    for (int i = 0; i < dims; i++) {
        size_t cap = target / total, l = gws[i] < cap ? gws[i] : cap;
        if (i == 0 && l > 64)
            l = 64; /* a row of up to 64: what PoCL vectorises along */
        if (l < 1)
            l = 1;
        while (gws[i] % l)
            l--;
        lws[i] = l;
        total *= l;
    }
}

int lumen__vec_width(lumen_ctx *ctx)
{
    if (!ctx->vec_width) {
        const char *env = getenv("LUMEN_VEC_WIDTH");
        if (env && (!strcmp(env, "8") || !strcmp(env, "16")))
            return ctx->vec_width = atoi(env);
        cl_uint w = 0;
        clGetDeviceInfo(ctx->device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof w, &w, NULL);
        ctx->vec_width = w >= 16 ? 16 : 8;
    }
    return ctx->vec_width;
}

lumen_status lumen_ctx_profile(lumen_ctx *ctx, const lumen_prof_record **out, int *count)
{
    cl_int rc = clFinish(ctx->queue); /* not lumen_ctx_finish: device.c sits above this file */
    if (rc != CL_SUCCESS)
        return lumen__clfail(ctx, rc, "clFinish");
    for (int i = 0; i < ctx->n_events; i++) {
        cl_ulong t0 = 0, t1 = 0;
        clGetEventProfilingInfo(ctx->events[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(ctx->events[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        ctx->records[i].ms = t1 > t0 ? (double)(t1 - t0) / 1e6 : 0.0;
    }
    *out = ctx->records;
    *count = ctx->n_events;
    return LUMEN_OK;
}

void lumen_ctx_profile_reset(lumen_ctx *ctx)
{
    for (int i = 0; i < ctx->n_events; i++)
        clReleaseEvent(ctx->events[i]);
    ctx->n_events = 0;
}
