/*
 * binding.h - what the Lua binding's files share. Metatables: "lumen.Context", "lumen.Tensor",
 * "lumen.Graph", "lumen.Model", "lumen.Weights".
 *
 * Lifetimes (design.md decision 8): a userdata keeps its parent alive through its first user
 * value (a Tensor its Context or Model, a Model its Context); __gc and __close share one
 * idempotent release; a released object raises "attempt to use a freed <kind>".
 */
#ifndef LUMEN_LUA_BINDING_H
#define LUMEN_LUA_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "lumen.h"

#define CTX_MT "lumen.Context"
#define TENSOR_MT "lumen.Tensor"
#define GRAPH_MT "lumen.Graph"
#define MODEL_MT "lumen.Model"
#define WEIGHTS_MT "lumen.Weights"

typedef struct lctx {
    lumen_ctx *ctx; /* NULL once closed */
} lctx;

typedef struct ltensor {
    lumen_tensor *t; /* NULL once freed */
    int borrowed;    /* owned by a model: never freed here */
} ltensor;

/* Pushes nil and msg; returns 2 (the 'fail, message' convention). */
int lb_fail(lua_State *L, const char *msg);
lctx *lb_check_ctx(lua_State *L, int i);
lumen_tensor *lb_check_tensor(lua_State *L, int i);
/* Pushes a new Tensor userdata for t; parent (stack index) is kept alive as its user value. */
void lb_push_tensor(lua_State *L, lumen_tensor *t, int parent, int borrowed);
/* Reads a shape from a Lua array of integers at index i (raises on misuse). */
lumen_shape lb_check_shape(lua_State *L, int i);
/* Reads a flat Lua array of exactly n numbers (raises on misuse: wrong length, a non-number).
 * The buffer is a userdata left on the stack, freed by the GC, also when an error is raised. */
float *lb_check_floats(lua_State *L, int i, int64_t n);
void lb_push_shape(lua_State *L, const lumen_shape *s);
/* Pushes a new empty "lumen.Image" and returns its image for the caller to fill (the userdata
 * owns whatever pixels are put there, so a later error frees them with the GC). */
lumen_image *lb_new_image(lua_State *L);

void lb_open_tensor(lua_State *L); /* registers metatables; adds functions to the table on top */
void lb_open_graph(lua_State *L);
void lb_open_image(lua_State *L);
void lb_open_sandbox(lua_State *L); /* lumen.sandbox_run (sandbox.c) */
void lb_open_fs(lua_State *L);      /* lumen.list_dir, file_type, mkdir, isatty (lua_fs.c) */
void lb_open_bench(lua_State *L);   /* lumen.clock, ctx:set_gemm (lua_bench.c) */
void lb_open_dicom(lua_State *L);   /* lumen.dicom_* (lua_dicom.c) */
void lb_open_check(lua_State *L);   /* ctx:selfcheck, ctx:quirks (lua_selfcheck.c) */

#endif
