/*
 * main.c - the `lumen` command: a Lua 5.4 state with the lumen binding, running lua/lumen/cli.lua.
 *
 * Subcommands are Lua (lua/lumen/cmd/<name>.lua) so users can read them to learn how to write
 * their own workflows. The Lua library is found in $LUMEN_LUA_DIR, else in the source tree's lua/
 * folder this binary was built from. Exit codes: 0 ok, 1 some inputs failed, 2 usage error,
 * 3 no device or runtime failure (an uncaught Lua error counts as 3).
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef LUMEN_LUA_DIR
#define LUMEN_LUA_DIR "lua"
#endif

int luaopen_lumen_core(lua_State *L);

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "lumen: cannot create a Lua state (out of memory)\n");
        return 3;
    }
    luaL_openlibs(L);
    luaL_requiref(L, "lumen.core", luaopen_lumen_core, 0);
    lua_pop(L, 1);

    const char *dir = getenv("LUMEN_LUA_DIR");
    if (!dir || !*dir)
        dir = LUMEN_LUA_DIR;
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);

    /* global 'arg' as the standalone interpreter sets it */
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    lua_setglobal(L, "arg");

    lua_pushcfunction(L, traceback);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lumen.cli");
    int rc = 3;
    if (lua_pcall(L, 1, 1, 1) != LUA_OK) {
        fprintf(stderr, "lumen: %s\n", lua_tostring(L, -1));
    } else {
        lua_getfield(L, -1, "main");
        lua_createtable(L, argc, 0);
        for (int i = 1; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i);
        }
        if (lua_pcall(L, 1, 1, 1) != LUA_OK)
            fprintf(stderr, "lumen: %s\n", lua_tostring(L, -1));
        else
            rc = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
    }
    lua_close(L);
    return rc;
}
