/*
 * lua_tensor.c - "lumen.Tensor": device tensors from Lua, and .npy files.
 *
 *   local t = ctx:tensor({1, 3, 8, 8}, "x")         -- uninitialised
 *   local t = ctx:tensor({2, 2}, "x", {1, 2, 3, 4})  -- from a flat Lua array (C order)
 *   t:write({...}); t:read() -> flat array; t:fill(0); t:shape() -> {1,3,8,8}; t:numel()
 *   t:copy(u)  -- device-side copy of an equally sized tensor (same context)
 *   t:save_npy("x.npy"); local u = ctx:load_npy("x.npy")
 *   lumen.npy_load("x.npy") -> {shape = {...}, data = {...}} (host only)
 *
 * A Tensor keeps its parent (Context, or the Model that owns it) alive. Tensors a model owns
 * are "borrowed": freeing them from Lua only detaches the userdata.
 */
#include <stdlib.h>
#include <string.h>

#include "binding.h"

static void push_floats(lua_State *L, const float *x, int64_t n)
{
    lua_createtable(L, (int)n, 0);
    for (int64_t k = 0; k < n; k++) {
        lua_pushnumber(L, x[k]);
        lua_rawseti(L, -2, k + 1);
    }
}

/* ctx:tensor(shape [, name [, data]]) -> Tensor | nil, msg */
int lb_tensor_new(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    lumen_shape s = lb_check_shape(L, 2);
    const char *name = luaL_optstring(L, 3, NULL);
    lumen_tensor *t;
    float *data = NULL;
    if (!lua_isnoneornil(L, 4))
        data = lb_check_floats(L, 4, lumen_shape_numel(&s));
    if (lumen_tensor_new(c->ctx, name, &s, &t) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(c->ctx));
    if (data && lumen_tensor_write(t, data, (size_t)lumen_shape_numel(&s)) != LUMEN_OK) {
        lumen_tensor_free(t);
        return lb_fail(L, lumen_ctx_error(c->ctx));
    }
    lb_push_tensor(L, t, 1, 0);
    return 1;
}

/* ctx:load_npy(path [, name]) -> Tensor | nil, msg */
int lb_tensor_load_npy(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    const char *path = luaL_checkstring(L, 2);
    const char *name = luaL_optstring(L, 3, path);
    char err[LUMEN_ERR_MAX];
    lumen_array a;
    if (lumen_npy_load(path, &a, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, err);
    lumen_tensor *t;
    lumen_status st = lumen_tensor_new(c->ctx, name, &a.shape, &t);
    if (st == LUMEN_OK) {
        st = lumen_tensor_write(t, a.data, (size_t)lumen_shape_numel(&a.shape));
        if (st != LUMEN_OK)
            lumen_tensor_free(t);
    }
    free(a.data);
    if (st != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(c->ctx));
    lb_push_tensor(L, t, 1, 0);
    return 1;
}

/* lumen.npy_load(path) -> {shape=, data=} | nil, msg */
static int l_npy_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char err[LUMEN_ERR_MAX];
    lumen_array a;
    if (lumen_npy_load(path, &a, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, err);
    lua_createtable(L, 0, 2);
    lb_push_shape(L, &a.shape);
    lua_setfield(L, -2, "shape");
    push_floats(L, a.data, lumen_shape_numel(&a.shape));
    lua_setfield(L, -2, "data");
    free(a.data);
    return 1;
}

/* lumen.npy_save(path, shape, data) -> true | nil, msg */
static int l_npy_save(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lumen_shape s = lb_check_shape(L, 2);
    float *data = lb_check_floats(L, 3, lumen_shape_numel(&s));
    char err[LUMEN_ERR_MAX];
    lumen_status st = lumen_npy_save(path, &s, data, err, sizeof err);
    if (st != LUMEN_OK)
        return lb_fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int t_shape(lua_State *L)
{
    lb_push_shape(L, lumen_tensor_shape(lb_check_tensor(L, 1)));
    return 1;
}

static int t_numel(lua_State *L)
{
    lua_pushinteger(L, lumen_tensor_numel(lb_check_tensor(L, 1)));
    return 1;
}

static int t_name(lua_State *L)
{
    lua_pushstring(L, lumen_tensor_name(lb_check_tensor(L, 1)));
    return 1;
}

/* t:read() -> flat array | nil, msg */
static int t_read(lua_State *L)
{
    lumen_tensor *t = lb_check_tensor(L, 1);
    int64_t n = lumen_tensor_numel(t);
    float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!buf)
        return luaL_error(L, "out of memory");
    if (lumen_tensor_read(t, buf, (size_t)n) != LUMEN_OK) {
        free(buf);
        return lb_fail(L, lumen_ctx_error(lumen_tensor_ctx(t)));
    }
    push_floats(L, buf, n);
    free(buf);
    return 1;
}

/* t:write(array) -> t | nil, msg */
static int t_write(lua_State *L)
{
    lumen_tensor *t = lb_check_tensor(L, 1);
    float *buf = lb_check_floats(L, 2, lumen_tensor_numel(t));
    lumen_status st = lumen_tensor_write(t, buf, (size_t)lumen_tensor_numel(t));
    if (st != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(lumen_tensor_ctx(t)));
    lua_settop(L, 1);
    return 1;
}

/* t:copy(src) -> t | nil, msg: device-side copy of an equally sized tensor */
static int t_copy(lua_State *L)
{
    lumen_tensor *t = lb_check_tensor(L, 1), *src = lb_check_tensor(L, 2);
    luaL_argcheck(L, lumen_tensor_numel(src) == lumen_tensor_numel(t), 2, "element counts differ");
    if (lumen_tensor_copy(t, src) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(lumen_tensor_ctx(t)));
    lua_settop(L, 1);
    return 1;
}

static int t_fill(lua_State *L)
{
    lumen_tensor *t = lb_check_tensor(L, 1);
    if (lumen_tensor_fill(t, (float)luaL_checknumber(L, 2)) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(lumen_tensor_ctx(t)));
    lua_settop(L, 1);
    return 1;
}

/* t:save_npy(path) -> true | nil, msg */
static int t_save_npy(lua_State *L)
{
    lumen_tensor *t = lb_check_tensor(L, 1);
    const char *path = luaL_checkstring(L, 2);
    int64_t n = lumen_tensor_numel(t);
    char err[LUMEN_ERR_MAX];
    float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!buf)
        return luaL_error(L, "out of memory");
    lumen_status st = lumen_tensor_read(t, buf, (size_t)n);
    if (st != LUMEN_OK)
        snprintf(err, sizeof err, "%s", lumen_ctx_error(lumen_tensor_ctx(t)));
    else
        st = lumen_npy_save(path, lumen_tensor_shape(t), buf, err, sizeof err);
    free(buf);
    if (st != LUMEN_OK)
        return lb_fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* __gc, __close and t:free(): idempotent */
static int t_free(lua_State *L)
{
    ltensor *u = luaL_checkudata(L, 1, TENSOR_MT);
    if (u->t && !u->borrowed)
        lumen_tensor_free(u->t);
    u->t = NULL;
    return 0;
}

static int t_tostring(lua_State *L)
{
    ltensor *u = luaL_checkudata(L, 1, TENSOR_MT);
    char buf[256];
    if (u->t)
        lua_pushfstring(L, "lumen.Tensor %s", lumen_tensor_format(u->t, buf, sizeof buf));
    else
        lua_pushliteral(L, "lumen.Tensor (freed)");
    return 1;
}

static const luaL_Reg tensor_methods[] = {
    {"shape", t_shape}, {"numel", t_numel}, {"name", t_name}, {"read", t_read},
    {"write", t_write}, {"fill", t_fill},   {"copy", t_copy}, {"save_npy", t_save_npy},
    {"free", t_free},   {NULL, NULL}};
static const luaL_Reg tensor_meta[] = {{"__tostring", t_tostring}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"npy_load", l_npy_load}, {"npy_save", l_npy_save}, {NULL, NULL}};

void lb_open_tensor(lua_State *L)
{
    lb_new_class(L, TENSOR_MT, tensor_methods, tensor_meta, t_free);
    luaL_setfuncs(L, funcs, 0);
}
