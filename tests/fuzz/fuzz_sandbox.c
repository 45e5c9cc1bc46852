/*
 * fuzz_sandbox.c - libFuzzer target for the Lua sandbox entry (lumen.sandbox_run): each input is
 * a chunk of Lua text run in a fresh sandbox under small caps (4 MiB heap, 200,000
 * instructions), with a record-like table as its argument and lumen.json as a module. The
 * sandbox must end every chunk (error or values) within the caps, never crash, leak, or let
 * a C function run unbounded. Seeds: the sandbox test scripts and escape attempts (setup.sh).
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int luaopen_lumen_core(lua_State *L); /* lua/lumen_lua.c */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char RUNNER[] =
    "local core, src, json = ...\n"
    "local ok, a, b = pcall(core.sandbox_run, src, '=fuzz', {memory = 4 << 20,\n"
    "  instructions = 200000, modules = {['lumen.json'] = json},\n"
    "  args = {{input = 'a.png', score = 0.5, probabilities = {diagnostic = 0.5},\n"
    "           vessels = {area_fraction = 0.1, pixels = 10}, flags = {'x'}}}})\n"
    "if not ok then error(a, 0) end\n";

static lua_State *host;
static char *json_text;
static size_t json_len;

/* lumen.json's text, from the source tree (LUMEN_LUA_DIR, set by CMake). */
static void load_json(void)
{
    FILE *f = fopen(LUMEN_LUA_DIR "/lumen/json.lua", "rb");
    if (!f)
        return;
    json_text = malloc(1 << 20);
    if (json_text)
        json_len = fread(json_text, 1, 1 << 20, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!host) {
        host = luaL_newstate();
        luaL_openlibs(host);
        load_json();
    }
    int top = lua_gettop(host);
    if (luaL_loadbuffer(host, RUNNER, sizeof RUNNER - 1, "=runner") != LUA_OK) {
        lua_settop(host, top);
        return 0;
    }
    luaL_requiref(host, "lumen.core", luaopen_lumen_core, 0);
    lua_pushlstring(host, (const char *)data, size);
    lua_pushlstring(host, json_text ? json_text : "", json_len);
    /* misuse raises (it must not: the arguments are valid); anything the chunk does is a
     * nil, message result */
    if (lua_pcall(host, 3, 0, 0) != LUA_OK) {
        fprintf(stderr, "sandbox_run raised: %s\n", lua_tostring(host, -1));
        abort();
    }
    lua_settop(host, top);
    lua_gc(host, LUA_GCCOLLECT);
    return 0;
}
