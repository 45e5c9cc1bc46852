/*
 * wire.h - the ONNX wire-format pre-scan (wire.c): the lowest part of the importer.
 */
#ifndef LUMEN_ONNX_WIRE_H
#define LUMEN_ONNX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* The message type a buffer holds. */
typedef enum ox_root { OX_ROOT_MODEL, OX_ROOT_TENSOR } ox_root;

/* Walks the serialized message p[0..len) of type root and refuses what protobuf-c could not
 * unpack safely (see wire.c). LUMEN_OK, or a status with the reason in err (LUMEN_ERR_MAX). */
lumen_status lumen__ox_prescan(const uint8_t *p, size_t len, ox_root root, int max_depth,
                               char *err);

#endif
