/*
 * tensor.c - ONNX TensorProtos into host tensors (ox_host): every element type ONNX stores
 * (float, double, float16, bfloat16, the integers and bool; raw_data or the typed fields)
 * becomes float32 or int64 on the host. Each tensor is checked first: no external data, dims
 * >= 0, the element count overflow-checked, bounded and matching the payload. Uses nothing of
 * the importer above it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/tensor.h"

static int elem_size(int dt)
{
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        return 1;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
        return 2;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
        return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        return 8;
    default:
        return 0;
    }
}

static int is_float_type(int dt)
{
    return dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 ||
           dt == ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
}

/* Element k of a typed payload as double (floats) and int64 (integers). */
static void raw_elem(int dt, const uint8_t *b, double *f, int64_t *i)
{
    uint64_t u = 0;
    int n = elem_size(dt);
    for (int k = 0; k < n; k++)
        u |= (uint64_t)b[k] << (8 * k);
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
        uint32_t w = (uint32_t)u;
        float x;
        memcpy(&x, &w, 4);
        *f = x;
        break;
    }
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        memcpy(f, &u, 8);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
        *f = lumen__half_to_float((uint16_t)u);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
        *f = lumen__bf16_to_float((uint16_t)u);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
        *i = (int8_t)u;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
        *i = (int16_t)u;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        *i = (int32_t)u;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        *i = u != 0;
        break;
    default: /* unsigned types and int64 */
        *i = (int64_t)u;
        break;
    }
}

/* Converts TensorProto t to a host tensor after checking it. what names it in messages. */
lumen_status lumen__ox_tensor(const Onnx__TensorProto *t, const char *what, int64_t max_elements,
                              ox_host **out, char *err)
{
    *out = NULL;
    int dt = t->has_data_type ? t->data_type : 0;
    if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        t->n_external_data > 0)
        return lumen__errf(err, LUMEN_EFORMAT,
                           "%s: external data is not supported (embed the tensor in the file)",
                           what);
    if (t->segment)
        return lumen__errf(err, LUMEN_EFORMAT, "%s: segmented tensors are not supported", what);
    if (t->n_dims > LUMEN_MAX_DIMS)
        return lumen__errf(err, LUMEN_EUNSUPPORTED, "%s: rank %zu (at most %d)", what, t->n_dims,
                           LUMEN_MAX_DIMS);
    int es = elem_size(dt);
    if (!es)
        return lumen__errf(err, LUMEN_EUNSUPPORTED, "%s: element type %d is not supported", what,
                           dt);
    lumen_shape s = {(int)t->n_dims, {0}};
    int64_t numel = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0)
            return lumen__errf(err, LUMEN_EFORMAT, "%s: negative dim %lld", what,
                               (long long)t->dims[i]);
        s.d[i] = t->dims[i];
        if (t->dims[i] && numel > max_elements / t->dims[i])
            return lumen__errf(err, LUMEN_ERANGE, "%s: more than %lld elements", what,
                               (long long)max_elements);
        numel *= t->dims[i];
    }
    if (numel > max_elements)
        return lumen__errf(err, LUMEN_ERANGE, "%s: more than %lld elements", what,
                           (long long)max_elements);
    size_t typed;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        typed = t->n_float_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        typed = t->n_int64_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        typed = t->n_double_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
        typed = t->n_uint64_data;
        break;
    default:
        typed = t->n_int32_data;
        break;
    }
    int raw = t->has_raw_data && (t->raw_data.len > 0 || typed == 0);
    if (raw && t->raw_data.len != (size_t)numel * (size_t)es)
        return lumen__errf(err, LUMEN_EFORMAT,
                           "%s: raw_data holds %zu bytes, shape and type need %lld", what,
                           t->raw_data.len, (long long)numel * es);
    if (!raw && typed != (size_t)numel)
        return lumen__errf(err, LUMEN_EFORMAT, "%s: holds %zu values, its shape needs %lld", what,
                           typed, (long long)numel);
    ox_host *h = calloc(1, sizeof *h);
    if (!h)
        return lumen__errf(err, LUMEN_ENOMEM, "out of host memory");
    h->is_int = !is_float_type(dt);
    h->dtype = dt;
    h->shape = s;
    size_t bytes = (size_t)(numel ? numel : 1) * (h->is_int ? sizeof(int64_t) : sizeof(float));
    if (h->is_int)
        h->i = malloc(bytes);
    else
        h->f = malloc(bytes);
    if (!h->i && !h->f) {
        free(h);
        return lumen__errf(err, LUMEN_ENOMEM, "%s: out of host memory", what);
    }
    for (int64_t k = 0; k < numel; k++) {
        double fv = 0;
        int64_t iv = 0;
        if (raw) {
            raw_elem(dt, t->raw_data.data + (size_t)k * (size_t)es, &fv, &iv);
        } else {
            switch (dt) {
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
                fv = t->float_data[k];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
                iv = t->int64_data[k];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
                fv = t->double_data[k];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
            case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
                iv = (int64_t)t->uint64_data[k];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
                fv = lumen__half_to_float((uint16_t)t->int32_data[k]);
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: {
                uint32_t w = (uint32_t)(t->int32_data[k] & 0xffff) << 16;
                float x;
                memcpy(&x, &w, 4);
                fv = x;
                break;
            }
            case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
                iv = t->int32_data[k] != 0;
                break;
            default:
                iv = t->int32_data[k];
                break;
            }
        }
        if (h->is_int)
            h->i[k] = iv;
        else
            h->f[k] = (float)fv;
    }
    *out = h;
    return LUMEN_OK;
}

void lumen__ox_host_free(ox_host *h)
{
    if (!h)
        return;
    free(h->f);
    free(h->i);
    free(h);
}

double lumen__ox_host_get(const ox_host *h, int64_t k)
{
    return h->is_int ? (double)h->i[k] : h->f[k];
}

int64_t lumen__ox_host_geti(const ox_host *h, int64_t k)
{
    if (h->is_int)
        return h->i[k];
    float v = h->f[k];
    return v != v ? 0 : v >= 9.2e18f ? INT64_MAX : v <= -9.2e18f ? INT64_MIN : (int64_t)v;
}

ox_host *lumen__ox_host_alloc(int is_int, const lumen_shape *s)
{
    int64_t numel = lumen_shape_numel(s);
    if (numel < 0)
        return NULL;
    ox_host *h = calloc(1, sizeof *h);
    size_t cnt = (size_t)(numel ? numel : 1);
    if (h) {
        h->is_int = is_int;
        h->shape = *s;
        if (is_int)
            h->i = calloc(cnt, sizeof(int64_t));
        else
            h->f = calloc(cnt, sizeof(float));
    }
    if (!h || (!h->i && !h->f)) {
        lumen__ox_host_free(h);
        return NULL;
    }
    return h;
}

ox_host *lumen__ox_host_copy(const ox_host *h)
{
    ox_host *d = calloc(1, sizeof *d);
    int64_t k = lumen_shape_numel(&h->shape);
    size_t bytes = (size_t)(k ? k : 1) * (h->is_int ? sizeof(int64_t) : sizeof(float));
    if (!d)
        return NULL;
    *d = *h;
    d->f = NULL, d->i = NULL;
    void *p = malloc(bytes);
    if (!p) {
        free(d);
        return NULL;
    }
    memcpy(p, h->is_int ? (void *)h->i : (void *)h->f, bytes);
    if (h->is_int)
        d->i = p;
    else
        d->f = p;
    return d;
}
