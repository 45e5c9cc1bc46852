/*
 * lumen_lua.c - the Lua 5.4 binding of liblumen: `local lumen = require "lumen"`.
 *
 * This file only opens the module: each class file registers its class (lb_new_class in
 * binding.c) and adds its functions to the module table. Classes: "lumen.Context" (lua_ctx.c),
 * "lumen.Tensor" (lua_tensor.c), "lumen.Graph", "lumen.Model", "lumen.Weights" (lua_graph.c),
 * "lumen.Image" (lua_image.c), DICOM files (lua_dicom.c), sandboxes (sandbox.c); plain functions
 * in lua_fs.c, lua_bench.c.
 */
#include "binding.h"

int luaopen_lumen_core(lua_State *L)
{
    lua_newtable(L);
    lb_open_ctx(L);
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
