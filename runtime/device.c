/*
 * device.c - OpenCL platforms and devices, selection by string, and the context's life.
 *
 * Devices are addressed as "P:D" (platform index, device index within that platform), the same
 * order clGetPlatformIDs/clGetDeviceIDs give, so indices are stable for a given ICD set-up.
 * Nothing here keeps global state: every call enumerates afresh.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

static const char *no_platform_hint =
    "no OpenCL platform found: install an OpenCL driver, e.g. 'apt-get install "
    "pocl-opencl-icd' for the CPU (PoCL), or your GPU vendor's ICD";

const char *lumen_devtype_name(lumen_devtype t)
{
    switch (t) {
    case LUMEN_DEV_GPU:
        return "gpu";
    case LUMEN_DEV_CPU:
        return "cpu";
    case LUMEN_DEV_ACCELERATOR:
        return "accelerator";
    default:
        return "other";
    }
}

static void str_info(cl_device_id d, cl_device_info what, char *buf, size_t len)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, len - 1, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[len - 1] = '\0';
    /* drivers pad some strings with spaces */
    for (size_t n = strlen(buf); n > 0 && isspace((unsigned char)buf[n - 1]); n--)
        buf[n - 1] = '\0';
}

static void fill_info(cl_platform_id p, cl_device_id d, int pi, int di, lumen_device_info *o)
{
    memset(o, 0, sizeof *o);
    o->platform_index = pi;
    o->device_index = di;
    if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof o->platform - 1, o->platform, NULL))
        o->platform[0] = '\0';
    str_info(d, CL_DEVICE_NAME, o->name, sizeof o->name);
    str_info(d, CL_DEVICE_VENDOR, o->vendor, sizeof o->vendor);
    str_info(d, CL_DRIVER_VERSION, o->driver, sizeof o->driver);
    str_info(d, CL_DEVICE_VERSION, o->version, sizeof o->version);
    str_info(d, CL_DEVICE_OPENCL_C_VERSION, o->opencl_c, sizeof o->opencl_c);
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    o->type = (t & CL_DEVICE_TYPE_GPU)           ? LUMEN_DEV_GPU
              : (t & CL_DEVICE_TYPE_ACCELERATOR) ? LUMEN_DEV_ACCELERATOR
              : (t & CL_DEVICE_TYPE_CPU)         ? LUMEN_DEV_CPU
                                                 : LUMEN_DEV_OTHER;
/* o->field = the device property 'what', of OpenCL type T (0 when the query fails). */
#define NUM_INFO(T, what, field)                                                                   \
    do {                                                                                           \
        T v_ = 0;                                                                                  \
        clGetDeviceInfo(d, what, sizeof v_, &v_, NULL);                                            \
        o->field = v_;                                                                             \
    } while (0)
    NUM_INFO(cl_uint, CL_DEVICE_MAX_COMPUTE_UNITS, compute_units);
    NUM_INFO(cl_uint, CL_DEVICE_MAX_CLOCK_FREQUENCY, clock_mhz);
    NUM_INFO(cl_ulong, CL_DEVICE_GLOBAL_MEM_SIZE, global_mem);
    NUM_INFO(cl_ulong, CL_DEVICE_LOCAL_MEM_SIZE, local_mem);
    NUM_INFO(cl_ulong, CL_DEVICE_MAX_MEM_ALLOC_SIZE, max_alloc);
    NUM_INFO(size_t, CL_DEVICE_MAX_WORK_GROUP_SIZE, max_work_group);
#undef NUM_INFO
    cl_bool b = CL_FALSE;
    clGetDeviceInfo(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof b, &b, NULL);
    o->compiler = b == CL_TRUE;
    size_t n = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &n) == CL_SUCCESS && n > 0) {
        char *ext = malloc(n + 1);
        if (ext && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, n, ext, NULL) == CL_SUCCESS) {
            ext[n] = '\0';
            o->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
            o->fp64 = strstr(ext, "cl_khr_fp64") != NULL;
        }
        free(ext);
    }
}

/* Calls fn for every device until it returns non-zero. Returns ENODEV with the install hint when
 * there is no platform. */
typedef int (*visit_fn)(cl_platform_id, cl_device_id, int, int, void *);
static lumen_status visit_devices(visit_fn fn, void *user, char *err)
{
    cl_platform_id plats[MAX_PLATFORMS];
    cl_uint np = 0;
    cl_int rc = clGetPlatformIDs(MAX_PLATFORMS, plats, &np);
    if (rc != CL_SUCCESS || np == 0)
        return lumen__errf(err, LUMEN_ENODEV, "%s", no_platform_hint);
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devs[MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &nd) != CL_SUCCESS)
            continue; /* a platform without devices is not an error */
        for (cl_uint d = 0; d < nd; d++)
            if (fn(plats[p], devs[d], (int)p, (int)d, user))
                return LUMEN_OK;
    }
    return LUMEN_OK;
}

typedef struct {
    lumen_device_info *out;
    int cap, count;
} list_state;

static int list_one(cl_platform_id p, cl_device_id d, int pi, int di, void *user)
{
    list_state *s = user;
    if (s->count < s->cap)
        fill_info(p, d, pi, di, &s->out[s->count]);
    s->count++;
    return 0;
}

lumen_status lumen_devices(lumen_device_info *out, int cap, int *count, char *err, size_t errlen)
{
    char msg[LUMEN_ERR_MAX] = "";
    list_state s = {out, out ? cap : 0, 0};
    lumen_status st = visit_devices(list_one, &s, msg);
    if (count)
        *count = s.count;
    if (st == LUMEN_OK && s.count == 0)
        st = lumen__errf(msg, LUMEN_ENODEV, "OpenCL platforms were found but no device");
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return st;
}

int lumen__contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

/* How well a device matches a selector: 0 no match; for the default, a rank by type. */
static int match(const lumen_device_info *i, const char *sel)
{
    if (!sel || !*sel) /* default: GPU, then accelerator, then CPU */
        return i->type == LUMEN_DEV_GPU ? 3 : i->type == LUMEN_DEV_ACCELERATOR ? 2 : 1;
    int p, d;
    char tail;
    if (sscanf(sel, "%d:%d%c", &p, &d, &tail) == 2)
        return p == i->platform_index && d == i->device_index;
    if (!strcmp(sel, "gpu") || !strcmp(sel, "cpu") || !strcmp(sel, "accelerator"))
        return !strcmp(sel, lumen_devtype_name(i->type));
    /* PoCL names itself "Portable Computing Language"; "pocl" is in its version string */
    return lumen__contains_ci(i->vendor, sel) || lumen__contains_ci(i->name, sel) ||
           lumen__contains_ci(i->platform, sel) || lumen__contains_ci(i->version, sel);
}

typedef struct {
    const char *sel;
    int best;
    lumen_device_info info;
    cl_platform_id plat;
    cl_device_id dev;
} select_state;

static int select_one(cl_platform_id p, cl_device_id d, int pi, int di, void *user)
{
    select_state *s = user;
    lumen_device_info i;
    fill_info(p, d, pi, di, &i);
    int m = match(&i, s->sel);
    if (m > s->best) { /* strictly better: the first of equals wins */
        s->best = m;
        s->info = i;
        s->plat = p;
        s->dev = d;
    }
    return 0;
}

static lumen_status select_dev(const char *selector, select_state *s, char *err)
{
    if (!selector || !*selector)
        selector = getenv("LUMEN_DEVICE");
    memset(s, 0, sizeof *s);
    s->sel = selector;
    lumen_status st = visit_devices(select_one, s, err);
    if (st != LUMEN_OK)
        return st;
    if (s->best == 0)
        return lumen__errf(err, LUMEN_ENODEV,
                           (selector && *selector)
                               ? "no OpenCL device matches '%s' (see 'lumen devices'; selectors: "
                                 "P:D, gpu, cpu, accelerator, or a vendor/name substring)"
                               : "no OpenCL device found%s",
                           selector ? selector : "");
    return LUMEN_OK;
}

lumen_status lumen_device_select(const char *selector, lumen_device_info *out, char *err,
                                 size_t errlen)
{
    char msg[LUMEN_ERR_MAX] = "";
    select_state s;
    lumen_status st = select_dev(selector, &s, msg);
    if (st == LUMEN_OK && out)
        *out = s.info;
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return st;
}

/* ---- debug limits ---- */

/* Applies a LUMEN_DEBUG_LIMITS spec ("wg=64,local=16384,alloc=1048576,compiler=0") to info:
 * each limit only ever lowers what the device reports. EINVAL naming the bad item otherwise. */
static lumen_status apply_limits(lumen_device_info *info, const char *spec, char *err)
{
    const char *p = spec;
    while (*p) {
        char key[16];
        int n = 0;
        unsigned long long v;
        if (sscanf(p, "%15[a-z]=%llu%n", key, &v, &n) != 2 || (p[n] != ',' && p[n] != '\0'))
            return lumen__errf(err, LUMEN_EINVAL,
                               "LUMEN_DEBUG_LIMITS: cannot read '%s' (want e.g. "
                               "wg=64,local=16384,alloc=1048576,compiler=0)",
                               p);
        if (!strcmp(key, "wg") && v >= 1) {
            if (v < info->max_work_group)
                info->max_work_group = (size_t)v;
        } else if (!strcmp(key, "local") && v >= 1) {
            if (v < info->local_mem)
                info->local_mem = v;
        } else if (!strcmp(key, "alloc") && v >= 1) {
            if (v < info->max_alloc)
                info->max_alloc = v;
        } else if (!strcmp(key, "compiler") && v <= 1) {
            if (v == 0)
                info->compiler = 0;
        } else
            return lumen__errf(err, LUMEN_EINVAL,
                               "LUMEN_DEBUG_LIMITS: unknown or out-of-range limit '%s=%llu' "
                               "(wg, local, alloc >= 1; compiler 0 or 1)",
                               key, v);
        p += n + (p[n] == ',');
    }
    return LUMEN_OK;
}

/* ---- contexts ---- */

lumen_status lumen_ctx_new(const char *selector, lumen_ctx **out, char *err, size_t errlen)
{
    return lumen_ctx_new_opts(selector, NULL, out, err, errlen);
}

lumen_status lumen_ctx_new_opts(const char *selector, const lumen_ctx_options *opt, lumen_ctx **out,
                                char *err, size_t errlen)
{
    char msg[LUMEN_ERR_MAX] = "";
    lumen_ctx *ctx = NULL;
    select_state s;
    cl_int rc;
    lumen_status st;
    if (!out)
        return lumen__errf(err, LUMEN_EINVAL, "lumen_ctx_new: out is NULL");
    *out = NULL;
    st = select_dev(selector, &s, msg);
    if (st != LUMEN_OK)
        goto cleanup;
    ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        st = lumen__errf(msg, LUMEN_ENOMEM, "out of host memory");
        goto cleanup;
    }
    ctx->info = s.info;
    const char *limits = opt && opt->limits ? opt->limits : getenv("LUMEN_DEBUG_LIMITS");
    if (limits && *limits) {
        if ((st = apply_limits(&ctx->info, limits, msg)) != LUMEN_OK)
            goto cleanup;
        ctx->debug_limits = 1;
    }
    ctx->platform = s.plat;
    ctx->device = s.dev;
    ctx->profiling = opt && opt->profiling;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)s.plat, 0};
    ctx->cl = clCreateContext(props, 1, &s.dev, NULL, NULL, &rc);
    if (rc != CL_SUCCESS) {
        st = lumen__clfail(ctx, rc, "clCreateContext");
        snprintf(msg, sizeof msg, "%s", ctx->err);
        goto cleanup;
    }
    ctx->queue = clCreateCommandQueue(ctx->cl, s.dev, CL_QUEUE_PROFILING_ENABLE, &rc);
    if (rc != CL_SUCCESS) {
        st = lumen__clfail(ctx, rc, "clCreateCommandQueue");
        snprintf(msg, sizeof msg, "%s", ctx->err);
        goto cleanup;
    }
    lumen__cache_dir_init(ctx, opt ? opt->cache_dir : NULL);
    const char *kpath = opt && opt->kernels ? opt->kernels : getenv("LUMEN_KERNELS");
    if (kpath && *kpath) {
        ctx->kernels_path = strdup(kpath);
        st = ctx->kernels_path ? lumen__kernels_file_open(ctx) : LUMEN_ENOMEM;
        if (st != LUMEN_OK) {
            snprintf(msg, sizeof msg, "%s", ctx->err[0] ? ctx->err : "out of host memory");
            goto cleanup;
        }
    } else if (!ctx->info.compiler) {
        st = lumen__errf(msg, LUMEN_EUNSUPPORTED,
                         "device '%s' has no OpenCL C compiler: run it in binary-only mode "
                         "(LUMEN_KERNELS=file written by 'lumen compile')",
                         ctx->info.name);
        goto cleanup;
    }
    const char *g = getenv("LUMEN_GEMM");
    if (g && *g && strcmp(g, "own") && strcmp(g, "clblast") && strcmp(g, "auto")) {
        st = lumen__errf(msg, LUMEN_EINVAL, "LUMEN_GEMM must be own, clblast or auto, not '%s'", g);
        goto cleanup;
    }
    ctx->gemm = g && !strcmp(g, "own")       ? LUMEN_GEMM_OWN
                : g && !strcmp(g, "clblast") ? LUMEN_GEMM_CLBLAST
                                             : LUMEN_GEMM_AUTO;
    lumen__quirks_apply(ctx);
    *out = ctx;
    ctx = NULL;
    st = LUMEN_OK;
cleanup:
    if (ctx) {
        ctx->live_tensors = 0;
        lumen_ctx_free(ctx);
    }
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return st;
}

lumen_status lumen_ctx_free(lumen_ctx *ctx)
{
    if (!ctx)
        return LUMEN_OK;
    if (ctx->live_tensors > 0)
        return lumen__fail(ctx, LUMEN_EBUSY, "lumen_ctx_free: %d tensors of this context live",
                           ctx->live_tensors);
    if (ctx->queue)
        clFinish(ctx->queue);
    lumen_ctx_profile_reset(ctx);
    free(ctx->events);
    free(ctx->records);
    lumen__gemm_free(ctx);
    lumen__selfcheck_free(ctx);
    lumen__programs_free(ctx);
    lumen__kernels_file_close(ctx);
    free(ctx->kernels_path);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->cl)
        clReleaseContext(ctx->cl);
    free(ctx);
    return LUMEN_OK;
}

const char *lumen_ctx_error(const lumen_ctx *ctx)
{
    return ctx ? ctx->err : "no context";
}

const lumen_device_info *lumen_ctx_device(const lumen_ctx *ctx)
{
    return &ctx->info;
}

lumen_status lumen_ctx_finish(lumen_ctx *ctx)
{
    cl_int rc = clFinish(ctx->queue);
    return rc == CL_SUCCESS ? LUMEN_OK : lumen__clfail(ctx, rc, "clFinish");
}

void lumen_ctx_cache_stats(const lumen_ctx *ctx, lumen_cache_stats *out)
{
    *out = ctx->stats;
}

const char *lumen_ctx_cache_dir(const lumen_ctx *ctx)
{
    return ctx->cache_dir;
}
