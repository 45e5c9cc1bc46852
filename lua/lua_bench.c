/*
 * lua_bench.c - what `lumen bench` (lua/lumen/cmd/bench.lua) needs beyond the rest of the
 * binding: a monotonic wall clock and a short sleep (ctx:set_gemm and ctx:gemm are in
 * lua_ctx.c, with the other Context methods).
 *
 *   local t0 = lumen.clock()            -- milliseconds, monotonic, arbitrary origin
 *
 * Lua's os.clock() is the process's CPU time, which on a CPU OpenCL device (PoCL runs kernels on
 * its own threads) counts every worker thread: useless for latency. Hence lumen.clock().
 */
#include <string.h>
#include <time.h>

#include <math.h>

#include "binding.h"

/* lumen.clock() -> milliseconds (float) on CLOCK_MONOTONIC. Can't fail. */
static int l_clock(lua_State *L)
{
    lua_pushnumber(L, lumen_clock_ms());
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

static const luaL_Reg funcs[] = {{"clock", l_clock}, {"sleep", l_sleep}, {NULL, NULL}};

/* Adds the functions to the module table on top of the stack. */
void lb_open_bench(lua_State *L)
{
    luaL_setfuncs(L, funcs, 0);
}
