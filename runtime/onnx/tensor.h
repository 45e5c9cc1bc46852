/*
 * tensor.h - host tensors of the ONNX importer and the TensorProto decoder (tensor.c).
 */
#ifndef LUMEN_ONNX_TENSOR_H
#define LUMEN_ONNX_TENSOR_H

#include <stdint.h>

#include "internal.h"
#include "onnx.pb-c.h"

/* A tensor known at load time. Exactly one of f / i is non-NULL (i when is_int: ONNX integer
 * and bool types keep exact int64 values so that shape arithmetic is exact). */
typedef struct ox_host {
    int is_int;
    int dtype; /* the ONNX element type when read from a TensorProto; 0 when computed */
    lumen_shape shape;
    float *f;
    int64_t *i;
} ox_host;

/* Converts TensorProto t to a host tensor after checking it (no external data, dims >= 0,
 * element count <= max_elements and matching the data). what names it in messages (err,
 * LUMEN_ERR_MAX). The caller owns *out. */
lumen_status lumen__ox_tensor(const Onnx__TensorProto *t, const char *what, int64_t max_elements,
                              ox_host **out, char *err);
/* A zeroed host tensor of shape s; NULL when out of memory or s is invalid. */
ox_host *lumen__ox_host_alloc(int is_int, const lumen_shape *s);
/* A deep copy of h; NULL when out of memory. */
ox_host *lumen__ox_host_copy(const ox_host *h);
/* Frees h; NULL is a no-op. */
void lumen__ox_host_free(ox_host *h);
/* Element k of h as double / int64 (floats truncate toward zero, NaN to 0, saturating). */
double lumen__ox_host_get(const ox_host *h, int64_t k);
int64_t lumen__ox_host_geti(const ox_host *h, int64_t k);

#endif
