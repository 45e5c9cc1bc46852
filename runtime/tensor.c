/*
 * tensor.c - tensors on device buffers (float32, or half storage), shapes and their arithmetic.
 *
 * A tensor is (cl_mem, element offset, shape, precision). Views share the cl_mem and each
 * retains it, so the storage lives until the last view is freed. Sizes are computed with
 * overflow checks and kept below INT_MAX elements so kernels can index with int. Offsets and
 * counts are in elements of the tensor's precision (4 or 2 bytes).
 *
 * FP16 tensors: the host side stays float32. Writes round on the host (lumen__float_to_half,
 * to nearest even, NaN kept), reads widen exactly; a copy between precisions runs a conversion
 * kernel of layout.cl (vload_half / vstore_half, core OpenCL 1.2). An FP32 tensor takes none
 * of these paths: its write, read, copy and fill are the plain OpenCL calls.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int64_t lumen_shape_numel(const lumen_shape *s)
{
    if (s->ndim < 0 || s->ndim > LUMEN_MAX_DIMS)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->d[i] < 0 || (s->d[i] > 0 && n > INT64_MAX / s->d[i]))
            return -1;
        n *= s->d[i];
    }
    return n;
}

int lumen_shape_equal(const lumen_shape *a, const lumen_shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

char *lumen_shape_format(const lumen_shape *s, char *buf, size_t len)
{
    size_t n = 0;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, len - n, "[");
    for (int i = 0; i < s->ndim && i < LUMEN_MAX_DIMS && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, i ? ",%lld" : "%lld", (long long)s->d[i]);
    if (n < len)
        snprintf(buf + n, len - n, "]");
    return buf;
}

const char *lumen_precision_name(lumen_precision p)
{
    return p == LUMEN_FP32 ? "fp32" : p == LUMEN_FP16 ? "fp16" : NULL;
}

lumen_status lumen_precision_parse(const char *name, lumen_precision *out)
{
    if (name && !strcmp(name, "fp32"))
        *out = LUMEN_FP32;
    else if (name && !strcmp(name, "fp16"))
        *out = LUMEN_FP16;
    else
        return LUMEN_EINVAL;
    return LUMEN_OK;
}

size_t lumen_precision_size(lumen_precision p)
{
    return p == LUMEN_FP16 ? 2 : 4;
}

static lumen_status check_shape(lumen_ctx *ctx, const lumen_shape *s, int64_t *numel)
{
    char b[160];
    int64_t n = lumen_shape_numel(s);
    if (n < 0)
        return lumen__fail(ctx, LUMEN_ERANGE,
                           "invalid tensor shape (rank %d): negative extent "
                           "or size overflow",
                           s->ndim);
    if (n > INT_MAX)
        return lumen__fail(ctx, LUMEN_ERANGE, "tensor %s has %lld elements; at most %d supported",
                           lumen_shape_format(s, b, sizeof b), (long long)n, INT_MAX);
    *numel = n;
    return LUMEN_OK;
}

static lumen_tensor *tensor_alloc(lumen_ctx *ctx, const char *name, const lumen_shape *shape,
                                  lumen_precision prec)
{
    lumen_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ctx = ctx;
    t->shape = *shape;
    t->prec = prec;
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
    return t;
}

lumen_status lumen_tensor_new(lumen_ctx *ctx, const char *name, const lumen_shape *shape,
                              lumen_tensor **out)
{
    return lumen_tensor_new_prec(ctx, name, shape, LUMEN_FP32, out);
}

lumen_status lumen_tensor_new_prec(lumen_ctx *ctx, const char *name, const lumen_shape *shape,
                                   lumen_precision prec, lumen_tensor **out)
{
    int64_t n = 0;
    char b[160];
    *out = NULL;
    if (!lumen_precision_name(prec))
        return lumen__fail(ctx, LUMEN_EINVAL, "tensor %s: unknown precision %d", name ? name : "",
                           (int)prec);
    lumen_status st = check_shape(ctx, shape, &n);
    if (st != LUMEN_OK)
        return st;
    size_t bytes = (size_t)(n ? n : 1) * lumen_precision_size(prec);
    if (bytes > ctx->info.max_alloc)
        return lumen__fail(ctx, LUMEN_ERANGE,
                           "tensor %s %s needs %zu bytes; the device allows %llu per buffer",
                           name ? name : "", lumen_shape_format(shape, b, sizeof b), bytes,
                           (unsigned long long)ctx->info.max_alloc);
    lumen_tensor *t = tensor_alloc(ctx, name, shape, prec);
    if (!t)
        return lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
    cl_int rc;
    t->mem = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    if (rc != CL_SUCCESS) {
        free(t);
        return lumen__clfail(ctx, rc, "clCreateBuffer");
    }
    ctx->live_tensors++;
    *out = t;
    return LUMEN_OK;
}

lumen_status lumen_tensor_view(lumen_tensor *base, const char *name, int64_t offset,
                               const lumen_shape *shape, lumen_tensor **out)
{
    lumen_ctx *ctx = base->ctx;
    int64_t n = 0, bn = lumen_shape_numel(&base->shape);
    *out = NULL;
    lumen_status st = check_shape(ctx, shape, &n);
    if (st != LUMEN_OK)
        return st;
    if (offset < 0 || offset > bn || n > bn - offset)
        return lumen__fail(ctx, LUMEN_ERANGE,
                           "view of %lld elements at offset %lld is outside tensor '%s' (%lld)",
                           (long long)n, (long long)offset, base->name, (long long)bn);
    lumen_tensor *t = tensor_alloc(ctx, name, shape, base->prec);
    if (!t)
        return lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
    clRetainMemObject(base->mem);
    t->mem = base->mem;
    t->offset = base->offset + offset;
    ctx->live_tensors++;
    *out = t;
    return LUMEN_OK;
}

void lumen_tensor_free(lumen_tensor *t)
{
    if (!t)
        return;
    clReleaseMemObject(t->mem);
    t->ctx->live_tensors--;
    free(t);
}

static lumen_status check_count(const lumen_tensor *t, size_t count, const char *what)
{
    int64_t n = lumen_shape_numel(&t->shape);
    if ((int64_t)count != n)
        return lumen__fail(t->ctx, LUMEN_ESHAPE, "%s: tensor '%s' has %lld elements, not %zu", what,
                           t->name, (long long)n, count);
    return LUMEN_OK;
}

/* A host staging buffer of count halves, or NULL (message set) when out of memory. */
static uint16_t *half_buffer(lumen_ctx *ctx, size_t count)
{
    uint16_t *h = malloc((count ? count : 1) * sizeof *h);
    if (!h)
        lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
    return h;
}

lumen_status lumen_tensor_write(lumen_tensor *t, const float *src, size_t count)
{
    lumen_status st = check_count(t, count, "lumen_tensor_write");
    if (st != LUMEN_OK || count == 0)
        return st;
    if (t->prec == LUMEN_FP16) {
        uint16_t *h = half_buffer(t->ctx, count);
        if (!h)
            return LUMEN_ENOMEM;
        for (size_t i = 0; i < count; i++)
            h[i] = lumen__float_to_half(src[i]);
        cl_int rc = clEnqueueWriteBuffer(t->ctx->queue, t->mem, CL_TRUE, t->offset * sizeof *h,
                                         count * sizeof *h, h, 0, NULL, NULL);
        free(h);
        return rc == CL_SUCCESS ? LUMEN_OK : lumen__clfail(t->ctx, rc, "clEnqueueWriteBuffer");
    }
    cl_int rc = clEnqueueWriteBuffer(t->ctx->queue, t->mem, CL_TRUE, t->offset * sizeof(float),
                                     count * sizeof(float), src, 0, NULL, NULL);
    return rc == CL_SUCCESS ? LUMEN_OK : lumen__clfail(t->ctx, rc, "clEnqueueWriteBuffer");
}

lumen_status lumen_tensor_read(const lumen_tensor *t, float *dst, size_t count)
{
    lumen_status st = check_count(t, count, "lumen_tensor_read");
    if (st != LUMEN_OK || count == 0)
        return st;
    if (t->prec == LUMEN_FP16) {
        uint16_t *h = half_buffer(t->ctx, count);
        if (!h)
            return LUMEN_ENOMEM;
        cl_int rc = clEnqueueReadBuffer(t->ctx->queue, t->mem, CL_TRUE, t->offset * sizeof *h,
                                        count * sizeof *h, h, 0, NULL, NULL);
        for (size_t i = 0; rc == CL_SUCCESS && i < count; i++)
            dst[i] = lumen__half_to_float(h[i]);
        free(h);
        return rc == CL_SUCCESS ? LUMEN_OK : lumen__clfail(t->ctx, rc, "clEnqueueReadBuffer");
    }
    cl_int rc = clEnqueueReadBuffer(t->ctx->queue, t->mem, CL_TRUE, t->offset * sizeof(float),
                                    count * sizeof(float), dst, 0, NULL, NULL);
    return rc == CL_SUCCESS ? LUMEN_OK : lumen__clfail(t->ctx, rc, "clEnqueueReadBuffer");
}

/* dst = src converted between precisions (layout.cl: f32_to_f16 / f16_to_f32), n elements. */
static lumen_status convert(lumen_tensor *dst, const lumen_tensor *src, int n)
{
    lumen_ctx *ctx = dst->ctx;
    const char *name = src->prec == LUMEN_FP32 ? "f32_to_f16" : "f16_to_f32";
    cl_kernel k;
    lumen_status st = lumen__kernel_prec(ctx, LUMEN_FP32, "layout", "", name, &k);
    if (st != LUMEN_OK)
        return st;
    int so = lumen__off(src), dof = lumen__off(dst);
    lumen__arg args[] = {{sizeof(cl_mem), &src->mem},
                         {sizeof(int), &so},
                         {sizeof(cl_mem), &dst->mem},
                         {sizeof(int), &dof},
                         {sizeof(int), &n}};
    st = lumen__set_args(ctx, k, name, (int)(sizeof args / sizeof args[0]), args);
    size_t gws = lumen__round_up((size_t)n, 64), lws = 64;
    if (lws > lumen__max_wg(ctx, k))
        lws = 1;
    return st != LUMEN_OK ? st : lumen__launch(ctx, k, 1, &gws, &lws, name, 0, 6.0 * n);
}

lumen_status lumen_tensor_copy(lumen_tensor *dst, const lumen_tensor *src)
{
    int64_t n = lumen_shape_numel(&src->shape);
    if (dst->ctx != src->ctx)
        return lumen__fail(dst->ctx, LUMEN_EINVAL, "lumen_tensor_copy: tensors of two contexts");
    lumen_status st = check_count(dst, (size_t)n, "lumen_tensor_copy");
    if (st != LUMEN_OK || n == 0 ||
        (dst->mem == src->mem && dst->offset == src->offset && dst->prec == src->prec))
        return st;
    if (dst->prec != src->prec)
        return convert(dst, src, (int)n);
    size_t es = lumen_precision_size(src->prec);
    cl_int rc = clEnqueueCopyBuffer(dst->ctx->queue, src->mem, dst->mem, (size_t)src->offset * es,
                                    (size_t)dst->offset * es, (size_t)n * es, 0, NULL, NULL);
    return rc == CL_SUCCESS ? LUMEN_OK : lumen__clfail(dst->ctx, rc, "clEnqueueCopyBuffer");
}

lumen_status lumen_tensor_fill(lumen_tensor *t, float value)
{
    int64_t n = lumen_shape_numel(&t->shape);
    if (n == 0)
        return LUMEN_OK;
    cl_int rc;
    if (t->prec == LUMEN_FP16) {
        uint16_t h = lumen__float_to_half(value);
        rc = clEnqueueFillBuffer(t->ctx->queue, t->mem, &h, sizeof h, t->offset * sizeof h,
                                 (size_t)n * sizeof h, 0, NULL, NULL);
    } else {
        rc = clEnqueueFillBuffer(t->ctx->queue, t->mem, &value, sizeof value,
                                 t->offset * sizeof(float), (size_t)n * sizeof(float), 0, NULL,
                                 NULL);
    }
    return rc == CL_SUCCESS ? LUMEN_OK : lumen__clfail(t->ctx, rc, "clEnqueueFillBuffer");
}

const lumen_shape *lumen_tensor_shape(const lumen_tensor *t)
{
    return &t->shape;
}
int64_t lumen_tensor_numel(const lumen_tensor *t)
{
    return lumen_shape_numel(&t->shape);
}
const char *lumen_tensor_name(const lumen_tensor *t)
{
    return t->name;
}
lumen_precision lumen_tensor_precision(const lumen_tensor *t)
{
    return t->prec;
}
lumen_ctx *lumen_tensor_ctx(const lumen_tensor *t)
{
    return t->ctx;
}

char *lumen_tensor_format(const lumen_tensor *t, char *buf, size_t len)
{
    char s[160];
    snprintf(buf, len, "%s %s%s", t->name[0] ? t->name : "(unnamed)",
             t->prec == LUMEN_FP16 ? "f16" : "f32", lumen_shape_format(&t->shape, s, sizeof s));
    return buf;
}
