/*
 * lua_bench.c - what `lumen bench` (lua/lumen/cmd/bench.lua) needs beyond the rest of the
 * binding: a monotonic wall clock and the context's GEMM engine.
 *
 *   local t0 = lumen.clock()            -- milliseconds, monotonic, arbitrary origin
 *   ctx:set_gemm("own")                  -- "auto" | "own" | "clblast"
 *   print(ctx:gemm())                    -- the engine in use ("auto" until the first GEMM)
 *
 * Lua's os.clock() is the process's CPU time, which on a CPU OpenCL device (PoCL runs kernels on
 * its own threads) counts every worker thread: useless for latency. Hence lumen.clock().
 */
#include <string.h>
#include <time.h>

#include <math.h>

#include "binding.h"

static const char *const gemm_names[] = {"auto", "own", "clblast", NULL};

/* lumen.clock() -> milliseconds (float) on CLOCK_MONOTONIC. Can't fail. */
static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec * 1e3 + (lua_Number)ts.tv_nsec / 1e6);
    return 1;
}

/* lumen.sleep(ms): sleeps for ms milliseconds (0 to 1000; a poll loop's pause, not a timer).
 * Can't fail. */
static int l_sleep(lua_State *L)
{
    lua_Number ms = luaL_checknumber(L, 1);
    luaL_argcheck(L, ms >= 0 && ms <= 1000, 1, "milliseconds between 0 and 1000");
    struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000) * 1e6)};
    nanosleep(&ts, NULL);
    return 0;
}

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

static const luaL_Reg ctx_methods[] = {{"set_gemm", c_set_gemm}, {"gemm", c_gemm}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"clock", l_clock}, {"sleep", l_sleep}, {NULL, NULL}};

/* Adds the functions to the module table on top of the stack and the methods to Context. */
void lb_open_bench(lua_State *L)
{
    luaL_getmetatable(L, CTX_MT);
    lua_getfield(L, -1, "__index");
    luaL_setfuncs(L, ctx_methods, 0);
    lua_pop(L, 2);
    luaL_setfuncs(L, funcs, 0);
}
