/*
 * lumen_lua.c - the Lua 5.4 binding of liblumen: `local lumen = require "lumen"`.
 *
 * This file: the module table, devices and "lumen.Context"; tensors are in lua_tensor.c, graphs,
 * models and weights in lua_graph.c. Contexts are userdata holding a lumen_ctx; __gc and __close
 * share one idempotent release, and a released context raises "attempt to use a closed context".
 * A context is only released once no tensor or model refers to it (they keep it alive).
 *
 * Error convention (as Lua's own io library): misuse (wrong argument types) raises; failures of
 * the environment (no device, unreadable file, OpenCL errors) return nil plus a message.
 */
#include <lualib.h>
#include <string.h>

#include "binding.h"

int lb_fail(lua_State *L, const char *msg)
{
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    return 2;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

static void push_device(lua_State *L, const lumen_device_info *d)
{
    char sel[32];
    lua_createtable(L, 0, 20);
    snprintf(sel, sizeof sel, "%d:%d", d->platform_index, d->device_index);
    set_str(L, "index", sel);
    set_str(L, "platform", d->platform);
    set_str(L, "name", d->name);
    set_str(L, "vendor", d->vendor);
    set_str(L, "type", lumen_devtype_name(d->type));
    set_str(L, "driver", d->driver);
    set_str(L, "version", d->version);
    set_str(L, "opencl_c", d->opencl_c);
    set_int(L, "compute_units", d->compute_units);
    set_int(L, "clock_mhz", d->clock_mhz);
    set_int(L, "global_mem", (lua_Integer)d->global_mem);
    set_int(L, "local_mem", (lua_Integer)d->local_mem);
    set_int(L, "max_alloc", (lua_Integer)d->max_alloc);
    set_int(L, "max_work_group", (lua_Integer)d->max_work_group);
    set_bool(L, "fp16", d->fp16);
    set_bool(L, "fp64", d->fp64);
    set_bool(L, "compiler", d->compiler);
}

/* lumen.devices() -> array of device tables | nil, msg */
static int l_devices(lua_State *L)
{
    char err[LUMEN_ERR_MAX];
    int n = 0;
    lumen_device_info infos[64];
    if (lumen_devices(infos, 64, &n, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, err);
    if (n > 64)
        n = 64;
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        push_device(L, &infos[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* lumen.select_device([selector]) -> device table | nil, msg */
static int l_select_device(lua_State *L)
{
    const char *sel = luaL_optstring(L, 1, NULL);
    char err[LUMEN_ERR_MAX];
    lumen_device_info info;
    if (lumen_device_select(sel, &info, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, err);
    push_device(L, &info);
    return 1;
}

lctx *lb_check_ctx(lua_State *L, int i)
{
    lctx *c = luaL_checkudata(L, i, CTX_MT);
    if (!c->ctx)
        luaL_error(L, "attempt to use a closed context");
    return c;
}

/* lumen.context([selector [, {profiling=, cache_dir=, kernels=}]]) -> Context | nil, msg */
static int l_context(lua_State *L)
{
    const char *sel = luaL_optstring(L, 1, NULL);
    lumen_ctx_options opt = {0};
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "profiling");
        opt.profiling = lua_toboolean(L, -1);
        lua_getfield(L, 2, "cache_dir");
        opt.cache_dir = luaL_optstring(L, -1, NULL);
        lua_getfield(L, 2, "kernels");
        opt.kernels = luaL_optstring(L, -1, NULL);
        /* the strings stay on the stack (and alive) until this function returns */
    }
    lctx *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->ctx = NULL;
    luaL_setmetatable(L, CTX_MT);
    char err[LUMEN_ERR_MAX];
    if (lumen_ctx_new_opts(sel, &opt, &c->ctx, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, err);
    return 1;
}

/* ctx:device() -> device table */
static int c_device(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    push_device(L, lumen_ctx_device(c->ctx));
    return 1;
}

/* ctx:cache_stats() -> {memory_hits=, disk_hits=, disk_misses=, disk_rejected=, binary_file=,
 * build_ms=, dir=} */
static int c_cache_stats(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    lumen_cache_stats s;
    lumen_ctx_cache_stats(c->ctx, &s);
    lua_createtable(L, 0, 7);
    set_int(L, "memory_hits", s.memory_hits);
    set_int(L, "disk_hits", s.disk_hits);
    set_int(L, "disk_misses", s.disk_misses);
    set_int(L, "disk_rejected", s.disk_rejected);
    set_int(L, "binary_file", s.binary_file);
    lua_pushnumber(L, s.build_ms);
    lua_setfield(L, -2, "build_ms");
    set_str(L, "dir", lumen_ctx_cache_dir(c->ctx));
    return 1;
}

/* ctx:build_all() -> true | nil, msg */
static int c_build_all(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    if (lumen_ctx_build_all(c->ctx) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(c->ctx));
    lua_pushboolean(L, 1);
    return 1;
}

/* ctx:compile(path) -> true | nil, msg: every kernel program into one binary-only file */
static int c_compile(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (lumen_ctx_compile_all(c->ctx, path) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(c->ctx));
    lua_pushboolean(L, 1);
    return 1;
}

/* Shared by __gc, __close and ctx:close(): idempotent. */
static int c_close(lua_State *L)
{
    lctx *c = luaL_checkudata(L, 1, CTX_MT);
    if (c->ctx && lumen_ctx_free(c->ctx) == LUMEN_OK)
        c->ctx = NULL;
    return 0;
}

static int c_tostring(lua_State *L)
{
    lctx *c = luaL_checkudata(L, 1, CTX_MT);
    if (c->ctx)
        lua_pushfstring(L, "lumen.Context (%s)", lumen_ctx_device(c->ctx)->name);
    else
        lua_pushliteral(L, "lumen.Context (closed)");
    return 1;
}

static const luaL_Reg lib_funcs[] = {{"devices", l_devices},
                                     {"select_device", l_select_device},
                                     {"context", l_context},
                                     {NULL, NULL}};

static const luaL_Reg ctx_methods[] = {{"device", c_device},       {"cache_stats", c_cache_stats},
                                       {"build_all", c_build_all}, {"compile", c_compile},
                                       {"close", c_close},         {NULL, NULL}};

static const luaL_Reg ctx_meta[] = {{"__gc", c_close},
                                    {"__close", c_close},
                                    {"__tostring", c_tostring},
                                    {"__index", NULL},
                                    {NULL, NULL}};

int luaopen_lumen_core(lua_State *L)
{
    luaL_newmetatable(L, CTX_MT);
    luaL_setfuncs(L, ctx_meta, 0);
    luaL_newlibtable(L, ctx_methods);
    luaL_setfuncs(L, ctx_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, lib_funcs);
    lb_open_tensor(L);
    lb_open_graph(L);
    lb_open_image(L);
    lb_open_sandbox(L);
    lb_open_fs(L);
    lb_open_bench(L);
    lb_open_dicom(L);
    lb_open_check(L);
    lua_pushliteral(L, LUMEN_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
