/*
 * binding.c - the helpers every file of the Lua binding uses, below all of them: the
 * 'fail, message' return, argument checks for shapes, float arrays, contexts and tensors, pushing
 * tensors and shapes, and lb_new_class, the one way a class's metatable is made.
 *
 * Nothing here calls into the class files (lua_ctx.c, lua_tensor.c, lua_graph.c, ...): they sit
 * above this file, and lumen_lua.c, which opens the module, sits above them.
 */
#include <stdlib.h>
#include <string.h>

#include "binding.h"

int lb_fail(lua_State *L, const char *msg)
{
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    return 2;
}

void lb_new_class(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta,
                  lua_CFunction release)
{
    luaL_newmetatable(L, name);
    if (release) {
        lua_pushcfunction(L, release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, release);
        lua_setfield(L, -2, "__close");
    }
    if (meta)
        luaL_setfuncs(L, meta, 0);
    /* a class whose __index is a function (fields computed on access) finds its methods in
     * the metatable's 'methods' */
    int computed = lua_getfield(L, -1, "__index") == LUA_TFUNCTION;
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, computed ? "methods" : "__index");
    lua_pop(L, 1);
}

void lb_set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

void lb_set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

void lb_set_num(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

void lb_set_bool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

int lb_push_method(lua_State *L, const char *name, const char *k)
{
    luaL_getmetatable(L, name);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, k);
    return 1;
}

lctx *lb_check_ctx(lua_State *L, int i)
{
    lctx *c = luaL_checkudata(L, i, CTX_MT);
    if (!c->ctx)
        luaL_error(L, "attempt to use a closed context");
    return c;
}

lumen_shape lb_check_shape(lua_State *L, int i)
{
    lumen_shape s = {0, {0}};
    luaL_checktype(L, i, LUA_TTABLE);
    lua_Integer n = luaL_len(L, i);
    luaL_argcheck(L, n <= LUMEN_MAX_DIMS, i, "too many dimensions");
    s.ndim = (int)n;
    for (int k = 0; k < s.ndim; k++) {
        lua_geti(L, i, k + 1);
        int isnum;
        lua_Integer d = lua_tointegerx(L, -1, &isnum);
        luaL_argcheck(L, isnum && d >= 0, i, "shape entries must be non-negative integers");
        s.d[k] = d;
        lua_pop(L, 1);
    }
    return s;
}

void lb_push_shape(lua_State *L, const lumen_shape *s)
{
    lua_createtable(L, s->ndim, 0);
    for (int k = 0; k < s->ndim; k++) {
        lua_pushinteger(L, s->d[k]);
        lua_rawseti(L, -2, k + 1);
    }
}

void lb_push_tensor(lua_State *L, lumen_tensor *t, int parent, int borrowed)
{
    parent = lua_absindex(L, parent);
    ltensor *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->t = t;
    u->borrowed = borrowed;
    luaL_setmetatable(L, TENSOR_MT);
    lua_pushvalue(L, parent);
    lua_setiuservalue(L, -2, 1);
}

lumen_tensor *lb_check_tensor(lua_State *L, int i)
{
    ltensor *u = luaL_checkudata(L, i, TENSOR_MT);
    if (!u->t)
        luaL_error(L, "attempt to use a freed tensor");
    return u->t;
}

/* Reads a flat Lua array of numbers of exactly n entries into a buffer (raises on misuse). The
 * buffer is a userdata pushed on the stack, so an error anywhere frees it with the GC. */
float *lb_check_floats(lua_State *L, int i, int64_t n)
{
    luaL_checktype(L, i, LUA_TTABLE);
    lua_Integer len = luaL_len(L, i);
    if (len != n)
        luaL_error(L, "bad argument #%d: %d numbers given, the tensor has %d", i, (int)len, (int)n);
    float *buf = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(float), 0);
    for (int64_t k = 0; k < n; k++) {
        lua_geti(L, i, k + 1);
        int isnum;
        lua_Number v = lua_tonumberx(L, -1, &isnum);
        lua_pop(L, 1);
        if (!isnum)
            luaL_error(L, "bad argument #%d: entry %d is not a number", i, (int)k + 1);
        buf[k] = (float)v;
    }
    return buf;
}
