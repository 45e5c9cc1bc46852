/*
 * lua_selfcheck.c - the device self-check and the quirks table in Lua (runtime/selfcheck.c,
 * runtime/quirks.c): ctx:selfcheck([mode]) and ctx:quirks().
 */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>

#include "binding.h"

/*
 * ctx:selfcheck(["cached" | "run" | "stored"]) -> result | nil, msg
 * result = {passed =, from_cache =, ms =, key =, path =, families = {{name =, precision =,
 * verdict = "pass"|"fail"|"skip", cases =, ms =, op =, label =, error =, action =}, ...}}: the
 * families of LUMEN_CHECK_LIST with fp32 tensors ("conv", precision "fp32"), then again with
 * fp16 storage ("fp16:conv", precision "fp16"). "stored" returns nil, msg when nothing is
 * stored for this device.
 */
static int c_selfcheck(lua_State *L)
{
    static const char *const modes[] = {"cached", "run", "stored", NULL};
    static const char *const verdicts[] = {"pass", "fail", "skip"};
    lctx *c = lb_check_ctx(L, 1);
    int mode = luaL_checkoption(L, 2, "cached", modes);
    lumen_selfcheck_result *r = lua_newuserdatauv(L, sizeof *r, 0); /* large: not on the C stack */
    if (lumen_selfcheck(c->ctx, (lumen_selfcheck_mode)mode, r) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(c->ctx));
    lua_createtable(L, 0, 6);
    lb_set_bool(L, "passed", r->passed);
    lb_set_bool(L, "from_cache", r->from_cache);
    lb_set_num(L, "ms", r->ms);
    lb_set_str(L, "key", r->key);
    lb_set_str(L, "path", r->path);
    lua_createtable(L, 2 * LUMEN_CHECK_COUNT, 0);
    for (int k = 0; k < 2 * LUMEN_CHECK_COUNT; k++) {
        int f = k % LUMEN_CHECK_COUNT, fp16 = k >= LUMEN_CHECK_COUNT;
        const lumen_check_verdict *v = fp16 ? &r->fp16[f] : &r->fam[f];
        char name[32];
        snprintf(name, sizeof name, "%s%s", fp16 ? "fp16:" : "",
                 lumen_check_name((lumen_check_family)f));
        lua_createtable(L, 0, 9);
        lb_set_str(L, "name", name);
        lb_set_str(L, "precision", fp16 ? "fp16" : "fp32");
        lb_set_str(L, "verdict", verdicts[v->verdict]);
        lb_set_int(L, "cases", v->cases);
        lb_set_num(L, "ms", v->ms);
        lb_set_str(L, "op", v->op);
        lb_set_str(L, "label", v->label);
        lb_set_str(L, "error", v->error);
        lb_set_str(L, "action", v->action);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "families");
    return 1;
}

/* ctx:quirks() -> {no_clblast = true, ...}, why: the quirks applied when ctx was opened. */
static int c_quirks(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    unsigned q = lumen_ctx_quirks(c->ctx);
    char why[512];
    lumen_quirks(lumen_ctx_device(c->ctx), why, sizeof why);
    lua_createtable(L, 0, 2);
    if (q & LUMEN_QUIRK_NO_CLBLAST) {
        lb_set_bool(L, "no_clblast", 1);
    }
    if (q & LUMEN_QUIRK_NO_FP16) {
        lb_set_bool(L, "no_fp16", 1);
    }
    lua_pushstring(L, why);
    return 2;
}

static const luaL_Reg ctx_methods[] = {
    {"selfcheck", c_selfcheck}, {"quirks", c_quirks}, {NULL, NULL}};

/* Adds the methods to Context. */
void lb_open_check(lua_State *L)
{
    luaL_getmetatable(L, CTX_MT);
    lua_getfield(L, -1, "__index");
    luaL_setfuncs(L, ctx_methods, 0);
    lua_pop(L, 2);
}
