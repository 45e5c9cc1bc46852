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

/* ---- binding.c: helpers below every class file ---- */

/* Pushes nil and msg; returns 2 (the 'fail, message' convention). */
int lb_fail(lua_State *L, const char *msg);
/*
 * Registers class 'name' (its metatable, as luaL_newmetatable): the functions of meta (may be
 * NULL) as metamethods, release (may be NULL) as both __gc and __close, and the methods table as
 * __index, or, when meta gives __index as a function (fields computed on access), as the
 * metatable's 'methods' for that function to consult. Leaves the stack as it was.
 */
void lb_new_class(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta,
                  lua_CFunction release);
/* Field k of the table on top of the stack set to v (lb_set_str: NULL sets nil). */
void lb_set_str(lua_State *L, const char *k, const char *v);
void lb_set_int(lua_State *L, const char *k, lua_Integer v);
void lb_set_num(lua_State *L, const char *k, lua_Number v);
void lb_set_bool(lua_State *L, const char *k, int v);
/* For a class whose __index is computed: pushes its method k (nil when none) and returns 1. */
int lb_push_method(lua_State *L, const char *name, const char *k);
/* The open context at i (raises "attempt to use a closed context"). */
lctx *lb_check_ctx(lua_State *L, int i);
/* The live tensor at i (raises "attempt to use a freed tensor"). */
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

/* ---- class files: each registers its classes and adds its functions to the module table on
 * top of the stack (lumen_lua.c calls them in this order) ---- */
void lb_open_ctx(lua_State *L);     /* lumen.Context, devices (lua_ctx.c) */
void lb_open_tensor(lua_State *L);  /* lumen.Tensor, npy (lua_tensor.c) */
void lb_open_graph(lua_State *L);   /* lumen.Graph, Model, Weights (lua_graph.c) */
void lb_open_image(lua_State *L);   /* lumen.Image, png, mask statistics (lua_image.c) */
void lb_open_sandbox(lua_State *L); /* lumen.sandbox_run (sandbox.c) */
void lb_open_fs(lua_State *L);      /* lumen.list_dir, file_type, mkdir, isatty (lua_fs.c) */
void lb_open_bench(lua_State *L);   /* lumen.clock, lumen.sleep (lua_bench.c) */
void lb_open_dicom(lua_State *L);   /* lumen.dicom_* (lua_dicom.c) */
void lb_open_check(lua_State *L);   /* ctx:selfcheck, ctx:quirks (lua_selfcheck.c) */

/* Context methods that make objects of another class, listed in lua_ctx.c's method table. */
int lb_tensor_new(lua_State *L);      /* ctx:tensor(shape [, name [, data]]) (lua_tensor.c) */
int lb_tensor_load_npy(lua_State *L); /* ctx:load_npy(path [, name]) (lua_tensor.c) */
int lb_model_new(lua_State *L);       /* ctx:model(graph [, options]) (lua_graph.c) */

#endif
