/*
 * sandbox.c - lumen.sandbox_run: runs untrusted Lua text in a fresh, capped Lua state.
 *
 *   local a, b = lumen.sandbox_run(source, "=rules.lua", {
 *       memory = 16 << 20,          -- bytes the sandbox's Lua heap may hold (default 64 MiB)
 *       instructions = 10000000,    -- VM instructions it may execute (default 100 million)
 *       args = {record},            -- plain data, passed as '...' (and the global 'arg')
 *       modules = {["lumen.json"] = src},  -- Lua text 'require' may load inside the sandbox
 *   })
 *   -- returns the script's values (true when it returns none), or nil, message
 *
 * Design (decision 9 in design.md): a workflow or rule file from someone else must not reach the
 * file system, the process or the host's Lua state, and must not run or grow without bound.
 *  - A new lua_State whose allocator counts live bytes and refuses to pass 'memory'; once a
 *    request fails even after Lua's emergency GC, the hook ends the script at its next
 *    instruction (as for the instruction cap), even if the script catches the error.
 *  - A count hook every SB_HOOK_STEP instructions; past 'instructions' it raises, and from then
 *    on fires at every instruction, so a script that catches the error with pcall fails again at
 *    its next instruction outside the pcall (nesting is finite, so the error gets out).
 *  - Only the base library (without dofile, loadfile; 'load' forced to text mode; setmetatable
 *    refusing '__gc', since Lua runs finalizers with hooks off), string (without string.dump),
 *    table, math and utf8; no io, os, package, debug, coroutine.
 *  - 'require' finds only lumen.core (the binding without the functions that read or write files)
 *    and the Lua texts given in 'modules'; every chunk is loaded in text mode ("t"), so binary
 *    chunks (which can break the VM) are refused.
 *  - Data crosses in both directions as copies of plain values: nil, booleans, numbers, strings
 *    and tables of those (depth <= SB_MAX_DEPTH); anything else is refused.
 * Not covered: time spent inside one C function (a long string.rep is capped by memory, but a
 * pathological pattern in string.find is not counted as instructions), and device memory taken by
 * lumen tensors (not Lua heap).
 *
 * Lifetimes: the sandbox state lives in a "lumen.Sandbox" guard userdata on the host stack, so
 * it is closed (by __close here, or by __gc if the host raises midway) exactly once.
 */
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"

#define SANDBOX_MT "lumen.Sandbox"
#define SB_HOOK_STEP 1000
#define SB_MAX_DEPTH 32
#define SB_DEFAULT_MEMORY ((lua_Integer)64 << 20)
#define SB_DEFAULT_INSTRUCTIONS ((lua_Integer)100000000)

int luaopen_lumen_core(lua_State *L); /* lumen_lua.c */

typedef struct sandbox {
    lua_State *S;        /* NULL once closed */
    size_t used;         /* live bytes of the sandbox heap */
    size_t limit;        /* cap on 'used' */
    int memory_hit;      /* the allocator refused a request twice (after an emergency GC) */
    int refused;         /* the last growth request was refused: */
    void *refused_ptr;   /* ... this block */
    size_t refused_size; /* ... to this size */
    lua_Integer count;   /* instructions executed, in SB_HOOK_STEP steps */
    lua_Integer max_instructions;
    int instructions_hit;
    lua_State *host;  /* while copying args in */
    int host_args;    /* host stack index of the args table (0: none) */
    int host_modules; /* host stack index of the modules table (0: none) */
    const char *source;
    size_t source_len;
    const char *chunkname;
} sandbox;

/* ---- allocator and hook ---- */

static void sb_hook(lua_State *S, lua_Debug *ar);

/* Counts live bytes and refuses growth past the limit. Lua answers a refusal with an emergency
 * full GC and one retry of the same request; when the retry is refused too, the memory error is
 * unavoidable and the script is ended at its next instruction (a script that catches memory
 * errors would otherwise retry forever, each failure costing a full GC). */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sandbox *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (nsize > old && (nsize - old > sb->limit || sb->used + (nsize - old) > sb->limit)) {
        if (sb->refused && sb->refused_ptr == ptr && sb->refused_size == nsize) {
            sb->memory_hit = 1;
            if (sb->S)
                lua_sethook(sb->S, sb_hook, LUA_MASKCOUNT, 1);
        }
        sb->refused = 1;
        sb->refused_ptr = ptr;
        sb->refused_size = nsize;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) {
        sb->used = sb->used - old + nsize;
        if (nsize > old)
            sb->refused = 0;
    }
    return p;
}

static sandbox *sb_of(lua_State *S)
{
    void *ud;
    lua_getallocf(S, &ud);
    return ud;
}

static void sb_hook(lua_State *S, lua_Debug *ar)
{
    (void)ar;
    sandbox *sb = sb_of(S);
    if (sb->memory_hit)
        luaL_error(S, "sandbox: memory limit of %I bytes exceeded", (lua_Integer)sb->limit);
    sb->count += sb->instructions_hit ? 1 : SB_HOOK_STEP;
    if (sb->count > sb->max_instructions) {
        if (!sb->instructions_hit) {
            sb->instructions_hit = 1;
            lua_sethook(S, sb_hook, LUA_MASKCOUNT, 1);
        }
        luaL_error(S, "sandbox: instruction limit of %I exceeded", sb->max_instructions);
    }
}

/* ---- plain data: checking and copying between states ---- */

/* Checks that the value at index i of 'from' is plain data; returns NULL or a static message.
 * Uses only raw accesses, which neither allocate nor raise. */
static const char *sb_check_plain(lua_State *from, int i, int depth)
{
    int t = lua_type(from, i);
    if (t == LUA_TNIL || t == LUA_TBOOLEAN || t == LUA_TNUMBER || t == LUA_TSTRING)
        return NULL;
    if (t != LUA_TTABLE)
        return "only nil, booleans, numbers, strings and tables of them can cross the sandbox";
    if (depth >= SB_MAX_DEPTH)
        return "tables nested too deeply (or a cycle) to cross the sandbox";
    if (!lua_checkstack(from, 3))
        return "stack overflow";
    i = lua_absindex(from, i);
    lua_pushnil(from);
    while (lua_next(from, i)) {
        int kt = lua_type(from, -2);
        const char *msg =
            (kt == LUA_TSTRING || kt == LUA_TNUMBER || kt == LUA_TBOOLEAN)
                ? sb_check_plain(from, -1, depth + 1)
                : "table keys crossing the sandbox must be strings, numbers or booleans";
        if (msg) {
            lua_pop(from, 2);
            return msg;
        }
        lua_pop(from, 1);
    }
    return NULL;
}

/* Pushes onto 'to' a copy of the checked plain value at index i of 'from'. Only 'to' allocates
 * (and may raise there); 'from' is read with raw accesses. */
static void sb_copy(lua_State *from, int i, lua_State *to)
{
    luaL_checkstack(to, 4, "sandbox copy");
    switch (lua_type(from, i)) {
    case LUA_TBOOLEAN:
        lua_pushboolean(to, lua_toboolean(from, i));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(from, i))
            lua_pushinteger(to, lua_tointeger(from, i));
        else
            lua_pushnumber(to, lua_tonumber(from, i));
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(from, i, &n); /* a string already: no conversion */
        lua_pushlstring(to, s, n);
        break;
    }
    case LUA_TTABLE:
        i = lua_absindex(from, i);
        lua_newtable(to);
        lua_pushnil(from);
        while (lua_next(from, i)) {
            sb_copy(from, -2, to);
            sb_copy(from, -1, to);
            lua_rawset(to, -3);
            lua_pop(from, 1);
        }
        break;
    default:
        lua_pushnil(to);
    }
}

/* ---- what the sandbox may use ---- */

/* load(chunk [, chunkname [, mode [, env]]]) with mode forced to "t"; an absent env stays
 * absent (an explicit nil env would give the chunk no globals). */
static int sb_load(lua_State *S)
{
    int n = lua_gettop(S) >= 4 ? 4 : 3;
    lua_settop(S, n);
    lua_pushliteral(S, "t");
    lua_replace(S, 3);
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, n, LUA_MULTRET);
    return lua_gettop(S);
}

/* setmetatable refusing a metatable with '__gc': Lua runs finalizers with hooks off, so a
 * finalizer could loop past the instruction cap (also while the state is being closed). */
static int sb_setmetatable(lua_State *S)
{
    if (lua_type(S, 2) == LUA_TTABLE) {
        lua_pushliteral(S, "__gc");
        if (lua_rawget(S, 2) != LUA_TNIL)
            return luaL_error(S, "sandbox: __gc metamethods are not allowed");
        lua_pop(S, 1);
    }
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, lua_gettop(S) - 1, 1);
    return 1;
}

/* require(name): the sandbox's own loaded table, then the module texts given by the host. */
static int sb_require(lua_State *S)
{
    const char *name = luaL_checkstring(S, 1);
    lua_getfield(S, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(S, -1, name) != LUA_TNIL)
        return 1;
    lua_pop(S, 1);
    lua_getfield(S, LUA_REGISTRYINDEX, "lumen.sandbox.modules");
    size_t n;
    const char *src = lua_getfield(S, -1, name) == LUA_TSTRING ? lua_tolstring(S, -1, &n) : NULL;
    if (!src)
        return luaL_error(S, "module '%s' is not available in the sandbox", name);
    lua_pushfstring(S, "=%s", name);
    if (luaL_loadbufferx(S, src, n, lua_tostring(S, -1), "t") != LUA_OK)
        return lua_error(S);
    lua_pushstring(S, name);
    lua_call(S, 1, 1);
    if (lua_isnil(S, -1)) {
        lua_pop(S, 1);
        lua_pushboolean(S, 1);
    }
    lua_pushvalue(S, -1);
    lua_setfield(S, -6, name); /* loaded[name] */
    return 1;
}

/* Sets t[name] = nil for each name (t: a table at stack index t). */
static void sb_remove(lua_State *S, int t, const char *const *names)
{
    t = lua_absindex(S, t);
    for (; *names; names++) {
        lua_pushnil(S);
        lua_setfield(S, t, *names);
    }
}

/* Removes methods from the __index table of metatable 'mt'. */
static void sb_remove_methods(lua_State *S, const char *mt, const char *const *names)
{
    int top = lua_gettop(S);
    if (luaL_getmetatable(S, mt) == LUA_TTABLE && lua_getfield(S, -1, "__index") == LUA_TTABLE)
        sb_remove(S, -1, names);
    lua_settop(S, top);
}

static void sb_open_libs(lua_State *S)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL}};
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(S, l->name, l->func, 1);
        lua_pop(S, 1);
    }
    static const char *const base_out[] = {"dofile", "loadfile", "require", NULL};
    lua_pushglobaltable(S);
    sb_remove(S, -1, base_out);
    lua_getfield(S, -1, "load");
    lua_pushcclosure(S, sb_load, 1);
    lua_setfield(S, -2, "load");
    lua_getfield(S, -1, "setmetatable");
    lua_pushcclosure(S, sb_setmetatable, 1);
    lua_setfield(S, -2, "setmetatable");
    lua_pushcfunction(S, sb_require);
    lua_setfield(S, -2, "require");
    lua_pop(S, 1);
    lua_getglobal(S, LUA_STRLIBNAME);
    lua_pushnil(S);
    lua_setfield(S, -2, "dump");
    lua_pop(S, 1);

    /* lumen.core, without what touches files or nests sandboxes */
    luaL_requiref(S, "lumen.core", luaopen_lumen_core, 0);
    static const char *const core_out[] = {
        "png_read",    "png_write",   "npy_load",   "npy_save",       "load_weights",
        "overlay_png", "sandbox_run", "list_dir",   "file_type",      "mkdir",
        "isatty",      "dicom_probe", "dicom_open", "dicom_sr_write", "dicom_listen",
        "dicom_send",  NULL};
    sb_remove(S, -1, core_out);
    lua_pop(S, 1);
    static const char *const ctx_out[] = {"compile", "load_npy", NULL};
    static const char *const tensor_out[] = {"save_npy", NULL};
    sb_remove_methods(S, CTX_MT, ctx_out);
    sb_remove_methods(S, TENSOR_MT, tensor_out);
}

/* Runs inside the sandbox state under lua_pcall: sets up the libraries, copies the module texts
 * and args in, loads the chunk (text only) and calls it. Leaves only its results on the stack. */
static int sb_main(lua_State *S)
{
    sandbox *sb = lua_touserdata(S, 1);
    lua_settop(S, 0);
    sb_open_libs(S);

    if (sb->host_modules)
        sb_copy(sb->host, sb->host_modules, S);
    else
        lua_newtable(S);
    lua_setfield(S, LUA_REGISTRYINDEX, "lumen.sandbox.modules");

    /* the global 'arg' (arg[0] = chunk name) and the chunk's '...' */
    lua_Integer nargs = sb->host_args ? (lua_Integer)lua_rawlen(sb->host, sb->host_args) : 0;
    luaL_checkstack(S, (int)nargs + 4, "too many sandbox arguments");
    lua_createtable(S, (int)nargs, 1);
    const char *a0 = sb->chunkname;
    lua_pushstring(S, (a0[0] == '=' || a0[0] == '@') ? a0 + 1 : a0);
    lua_rawseti(S, -2, 0);
    for (lua_Integer k = 1; k <= nargs; k++) {
        lua_rawgeti(sb->host, sb->host_args, k);
        sb_copy(sb->host, -1, S);
        lua_pop(sb->host, 1);
        lua_rawseti(S, -2, k);
    }
    lua_pushvalue(S, -1);
    lua_setglobal(S, "arg");
    if (luaL_loadbufferx(S, sb->source, sb->source_len, sb->chunkname, "t") != LUA_OK)
        return lua_error(S);
    lua_insert(S, 1); /* chunk, arg */
    for (lua_Integer k = 1; k <= nargs; k++)
        lua_rawgeti(S, 2, k);
    lua_remove(S, 2);
    sb->count = 0;
    lua_sethook(S, sb_hook, LUA_MASKCOUNT, SB_HOOK_STEP);
    lua_call(S, (int)nargs, LUA_MULTRET);
    return lua_gettop(S);
}

/* ---- the host side ---- */

/* Closes the sandbox state once (only C finalizers run: Lua ones are refused by setmetatable). */
static void sb_close_state(sandbox *sb)
{
    if (!sb->S)
        return;
    lua_close(sb->S);
    sb->S = NULL;
}

static int sb_close(lua_State *L)
{
    sb_close_state(luaL_checkudata(L, 1, SANDBOX_MT));
    return 0;
}

static lua_Integer opt_field_int(lua_State *L, int t, const char *k, lua_Integer def)
{
    if (lua_isnoneornil(L, t))
        return def;
    lua_getfield(L, t, k);
    lua_Integer v = luaL_optinteger(L, -1, def);
    lua_pop(L, 1);
    return v;
}

/* Pushes the sandbox's error message onto L: the clean cap message when a cap was hit. */
static void sb_push_error(lua_State *L, sandbox *sb, int status)
{
    const char *msg = lua_type(sb->S, -1) == LUA_TSTRING ? lua_tostring(sb->S, -1) : NULL;
    if (sb->memory_hit || status == LUA_ERRMEM)
        lua_pushfstring(L, "sandbox: memory limit of %I bytes exceeded", (lua_Integer)sb->limit);
    else if (sb->instructions_hit)
        lua_pushfstring(L, "sandbox: instruction limit of %I exceeded", sb->max_instructions);
    else if (msg)
        lua_pushstring(L, msg);
    else
        lua_pushfstring(L, "sandbox: error object is a %s value", luaL_typename(sb->S, -1));
}

/* lumen.sandbox_run(source, chunkname [, opts]) -> values... | nil, msg. Misuse (bad option
 * types, non-plain args) raises; anything the script does returns nil, msg. */
static int l_sandbox_run(lua_State *L)
{
    size_t len;
    const char *src = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=sandbox");
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer mem = opt_field_int(L, 3, "memory", SB_DEFAULT_MEMORY);
    lua_Integer ins = opt_field_int(L, 3, "instructions", SB_DEFAULT_INSTRUCTIONS);
    luaL_argcheck(L, mem > 0 && ins > 0, 3, "memory and instructions must be positive");
    lua_settop(L, 3);
    int args = 0, modules = 0;
    if (!lua_isnil(L, 3)) {
        lua_getfield(L, 3, "args");    /* index 4 */
        lua_getfield(L, 3, "modules"); /* index 5 */
        const char *why = sb_check_plain(L, 4, 0);
        luaL_argcheck(L, !why, 3, why ? why : "");
        luaL_argcheck(L, lua_isnil(L, 5) || lua_istable(L, 5), 3, "'modules' must be a table");
        why = sb_check_plain(L, 5, 0);
        luaL_argcheck(L, !why, 3, why ? why : "");
        args = lua_istable(L, 4) ? 4 : 0;
        modules = lua_istable(L, 5) ? 5 : 0;
    }
    sandbox *sb = lua_newuserdatauv(L, sizeof *sb, 0);
    memset(sb, 0, sizeof *sb);
    luaL_setmetatable(L, SANDBOX_MT);
    sb->limit = (size_t)mem;
    sb->max_instructions = ins;
    sb->host = L;
    sb->host_args = args;
    sb->host_modules = modules;
    sb->source = src;
    sb->source_len = len;
    sb->chunkname = name;
    /* the host stack must have room for the raw reads done while copying args in */
    luaL_checkstack(L, 3 * SB_MAX_DEPTH + 8, "sandbox");

    sb->S = lua_newstate(sb_alloc, sb);
    if (!sb->S)
        return lb_fail(L, lua_pushfstring(L, "sandbox: memory limit of %I bytes exceeded", mem));
    lua_State *S = sb->S;
    lua_pushcfunction(S, sb_main);
    lua_pushlightuserdata(S, sb);
    int status = lua_pcall(S, 1, LUA_MULTRET, 0);
    sb->host = NULL;
    if (status != LUA_OK) {
        luaL_pushfail(L);
        sb_push_error(L, sb, status);
        sb_close_state(sb);
        return 2;
    }
    int n = lua_gettop(S);
    for (int i = 1; i <= n; i++) {
        const char *why = sb_check_plain(S, i, 0);
        if (why) {
            luaL_pushfail(L);
            lua_pushfstring(L, "sandbox: result #%d: %s", i, why);
            sb_close_state(sb);
            return 2;
        }
    }
    luaL_checkstack(L, n + 2, "too many sandbox results");
    if (n == 0)
        lua_pushboolean(L, 1);
    for (int i = 1; i <= n; i++)
        sb_copy(S, i, L);
    sb_close_state(sb);
    return n == 0 ? 1 : n;
}

static const luaL_Reg sandbox_funcs[] = {{"sandbox_run", l_sandbox_run}, {NULL, NULL}};

void lb_open_sandbox(lua_State *L)
{
    luaL_newmetatable(L, SANDBOX_MT);
    lua_pushcfunction(L, sb_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, sb_close);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
    luaL_setfuncs(L, sandbox_funcs, 0);
}
