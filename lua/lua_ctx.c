/*
 * lua_ctx.c - devices and "lumen.Context", the class every other object hangs from.
 *
 *   lumen.devices() -> {device...}; lumen.select_device("gpu") -> device
 *   local ctx = lumen.context([selector [, {profiling=, cache_dir=, kernels=}]])
 *   ctx:device(), ctx:cache_stats(), ctx:build_all(), ctx:compile(path)
 *   ctx:tensor(shape [, name [, data]]), ctx:load_npy(path)    -- lua_tensor.c makes them
 *   ctx:model(graph [, options])                               -- lua_graph.c makes it
 *   ctx:set_gemm("own" | "clblast" | "auto"), ctx:gemm()
 *   ctx:close() -> true | nil, "busy"
 *
 * All the methods are in the one table below (constructors of other classes are exported by
 * their class files). A context is only released once no tensor or model refers to it (they
 * keep it alive through their user value); __gc and __close share one idempotent release.
 *
 * Error convention (as Lua's own io library): misuse (wrong argument types) raises; failures of
 * the environment (no device, unreadable file, OpenCL errors) return nil plus a message.
 */
#include <string.h>

#include "binding.h"

static void push_device(lua_State *L, const lumen_device_info *d)
{
    char sel[32];
    lua_createtable(L, 0, 20);
    snprintf(sel, sizeof sel, "%d:%d", d->platform_index, d->device_index);
    lb_set_str(L, "index", sel);
    lb_set_str(L, "platform", d->platform);
    lb_set_str(L, "name", d->name);
    lb_set_str(L, "vendor", d->vendor);
    lb_set_str(L, "type", lumen_devtype_name(d->type));
    lb_set_str(L, "driver", d->driver);
    lb_set_str(L, "version", d->version);
    lb_set_str(L, "opencl_c", d->opencl_c);
    lb_set_int(L, "compute_units", d->compute_units);
    lb_set_int(L, "clock_mhz", d->clock_mhz);
    lb_set_int(L, "global_mem", (lua_Integer)d->global_mem);
    lb_set_int(L, "local_mem", (lua_Integer)d->local_mem);
    lb_set_int(L, "max_alloc", (lua_Integer)d->max_alloc);
    lb_set_int(L, "max_work_group", (lua_Integer)d->max_work_group);
    lb_set_bool(L, "fp16", d->fp16);
    lb_set_bool(L, "fp64", d->fp64);
    lb_set_bool(L, "compiler", d->compiler);
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
    lb_set_int(L, "memory_hits", s.memory_hits);
    lb_set_int(L, "disk_hits", s.disk_hits);
    lb_set_int(L, "disk_misses", s.disk_misses);
    lb_set_int(L, "disk_rejected", s.disk_rejected);
    lb_set_int(L, "binary_file", s.binary_file);
    lb_set_num(L, "build_ms", s.build_ms);
    lb_set_str(L, "dir", lumen_ctx_cache_dir(c->ctx));
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

/* __gc and __close: idempotent. A context still in use (tensors or models alive) stays open;
 * they keep it alive, so the collector only gets here once they are gone. */
static int c_release(lua_State *L)
{
    lctx *c = luaL_checkudata(L, 1, CTX_MT);
    if (c->ctx && lumen_ctx_free(c->ctx) == LUMEN_OK)
        c->ctx = NULL;
    return 0;
}

/* ctx:close() -> true | nil, "busy": refuses while tensors or models of the context are alive
 * (libuv's EBUSY); closing a closed context is a no-op. */
static int c_close(lua_State *L)
{
    lctx *c = luaL_checkudata(L, 1, CTX_MT);
    if (c->ctx) {
        if (lumen_ctx_free(c->ctx) != LUMEN_OK)
            return lb_fail(L, "busy");
        c->ctx = NULL;
    }
    lua_pushboolean(L, 1);
    return 1;
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

static const char *const gemm_names[] = {"auto", "own", "clblast", NULL};

/* ctx:set_gemm(name) -> true | nil, msg. An unknown name is misuse and raises. */
static int c_set_gemm(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    int e = luaL_checkoption(L, 2, NULL, gemm_names);
    if (lumen_ctx_set_gemm(c->ctx, (lumen_gemm_engine)e) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(c->ctx));
    lua_pushboolean(L, 1);
    return 1;
}

/* ctx:gemm() -> "auto" | "own" | "clblast" */
static int c_gemm(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    lumen_gemm_engine e = lumen_ctx_gemm(c->ctx);
    lua_pushstring(L, (int)e >= 0 && (int)e < 3 ? gemm_names[e] : "?");
    return 1;
}

static const luaL_Reg ctx_methods[] = {{"device", c_device},
                                       {"cache_stats", c_cache_stats},
                                       {"build_all", c_build_all},
                                       {"compile", c_compile},
                                       {"tensor", lb_tensor_new},
                                       {"load_npy", lb_tensor_load_npy},
                                       {"model", lb_model_new},
                                       {"set_gemm", c_set_gemm},
                                       {"gemm", c_gemm},
                                       {"close", c_close},
                                       {NULL, NULL}};
static const luaL_Reg ctx_meta[] = {{"__tostring", c_tostring}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"devices", l_devices},
                                 {"select_device", l_select_device},
                                 {"context", l_context},
                                 {NULL, NULL}};

void lb_open_ctx(lua_State *L)
{
    lb_new_class(L, CTX_MT, ctx_methods, ctx_meta, c_release);
    luaL_setfuncs(L, funcs, 0);
}
