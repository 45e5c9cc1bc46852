/*
 * lua_graph.c - "lumen.Graph", "lumen.Model" and "lumen.Weights" for Lua.
 *
 *   local g = lumen.graph()
 *   local x = g:input("image", {1, 1, 64, 64})
 *   local w = g:const_weights("stem.0.weight", weights, "stem.0.weight")
 *   local y = g:op("stem.0", "conv", {stride = 2, pad = 1, act = "relu6"}, {x, w})
 *   g:output("y", y)
 *   local ok, err = g:status()
 *   local m = ctx:model(g)        -- consumes g
 *   m:tensor("image"):write(...); m:run(); m:tensor("y"):read()
 *
 * Value ids are the C API's (0-based integers); an absent optional input is -1 or false.
 * Op parameters are a table whose fields mirror the C param structs (0-based axes): see
 * opdesc_from_table below for the names. Graph building keeps the C API's sticky error: op()
 * returns -1 after a failure and g:status() reports the first error.
 */
#include <stdlib.h>
#include <string.h>

#include "binding.h"

typedef struct lgraph {
    lumen_graph *g; /* NULL once consumed by a model or freed */
} lgraph;

typedef struct lmodel {
    lumen_model *m;
} lmodel;

typedef struct lweights {
    lumen_weights *w;
} lweights;

static lgraph *check_graph(lua_State *L, int i)
{
    lgraph *u = luaL_checkudata(L, i, GRAPH_MT);
    if (!u->g)
        luaL_error(L, "attempt to use a freed or consumed graph");
    return u;
}

static lmodel *check_model(lua_State *L, int i)
{
    lmodel *u = luaL_checkudata(L, i, MODEL_MT);
    if (!u->m)
        luaL_error(L, "attempt to use a freed model");
    return u;
}

static lweights *check_weights(lua_State *L, int i)
{
    lweights *u = luaL_checkudata(L, i, WEIGHTS_MT);
    if (!u->w)
        luaL_error(L, "attempt to use freed weights");
    return u;
}

/* ---- op parameters from a table ---- */

static int opt_int(lua_State *L, int t, const char *k, int def)
{
    lua_getfield(L, t, k);
    int v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_isboolean(L, -1))
            v = lua_toboolean(L, -1);
        else {
            int ok;
            v = (int)lua_tointegerx(L, -1, &ok);
            if (!ok)
                luaL_error(L, "op parameter '%s' must be an integer", k);
        }
    }
    lua_pop(L, 1);
    return v;
}

static float opt_num(lua_State *L, int t, const char *k, float def)
{
    lua_getfield(L, t, k);
    float v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        v = (float)lua_tonumberx(L, -1, &ok);
        if (!ok)
            luaL_error(L, "op parameter '%s' must be a number", k);
    }
    lua_pop(L, 1);
    return v;
}

/* A number or an array of up to n integers; a single number is repeated. Returns how many were
 * given (0 when absent, leaving out[] at def). */
static int opt_ints(lua_State *L, int t, const char *k, int n, int64_t *out, int64_t def)
{
    int given = 0;
    for (int i = 0; i < n; i++)
        out[i] = def;
    lua_getfield(L, t, k);
    if (lua_isinteger(L, -1)) {
        for (int i = 0; i < n; i++)
            out[i] = lua_tointeger(L, -1);
        given = n;
    } else if (lua_istable(L, -1)) {
        lua_Integer len = luaL_len(L, -1);
        if (len > n)
            luaL_error(L, "op parameter '%s' has %d entries, at most %d", k, (int)len, n);
        for (int i = 0; i < len; i++) {
            lua_geti(L, -1, i + 1);
            int ok;
            out[i] = lua_tointegerx(L, -1, &ok);
            if (!ok)
                luaL_error(L, "op parameter '%s' entry %d must be an integer", k, i + 1);
            lua_pop(L, 1);
        }
        given = (int)len;
    } else if (!lua_isnil(L, -1))
        luaL_error(L, "op parameter '%s' must be an integer or an array", k);
    lua_pop(L, 1);
    return given;
}

static void opt_ints32(lua_State *L, int t, const char *k, int n, int *out, int def)
{
    int64_t tmp[LUMEN_MAX_DIMS];
    opt_ints(L, t, k, n, tmp, def);
    for (int i = 0; i < n; i++)
        out[i] = (int)tmp[i];
}

static int opt_enum(lua_State *L, int t, const char *k, const char *const *names, int def)
{
    lua_getfield(L, t, k);
    int v = def;
    if (!lua_isnil(L, -1)) {
        const char *s = lua_tostring(L, -1);
        v = -1;
        for (int i = 0; s && names[i]; i++)
            if (!strcmp(names[i], s))
                v = i;
        if (v < 0)
            luaL_error(L, "op parameter '%s': unknown value '%s'", k, s ? s : "?");
    }
    lua_pop(L, 1);
    return v;
}

static lumen_actdesc opt_act(lua_State *L, int t)
{
    lumen_actdesc a = {LUMEN_ACT_NONE, 0, 0};
    lua_getfield(L, t, "act");
    if (!lua_isnil(L, -1)) {
        const char *s = luaL_checkstring(L, -1);
        int v = lumen_act_from_name(s);
        if (v < 0)
            luaL_error(L, "unknown activation '%s'", s);
        a.act = (lumen_act)v;
        if (a.act == LUMEN_ACT_LEAKY_RELU)
            a.a = 0.01f;
        if (a.act == LUMEN_ACT_HARDSIGMOID) {
            a.a = 1.0f / 6.0f;
            a.b = 0.5f;
        }
    }
    lua_pop(L, 1);
    a.a = opt_num(L, t, "act_a", a.a);
    a.b = opt_num(L, t, "act_b", a.b);
    return a;
}

/* Pads: 'pad' (symmetric, number or per axis) or 'pads' = {begin..., end...} (ONNX order). */
static void opt_pads(lua_State *L, int t, int nsp, int *pad0, int *pad1)
{
    int64_t p[2 * LUMEN_MAX_DIMS];
    opt_ints(L, t, "pad", nsp, p, 0);
    for (int i = 0; i < nsp; i++)
        pad0[i] = pad1[i] = (int)p[i];
    if (opt_ints(L, t, "pads", 2 * nsp, p, 0) == 2 * nsp)
        for (int i = 0; i < nsp; i++) {
            pad0[i] = (int)p[i];
            pad1[i] = (int)p[nsp + i];
        }
}

static lumen_opdesc opdesc_from_table(lua_State *L, const char *opname, int t)
{
    static const char *const pool_kinds[] = {"max", "avg", NULL};
    static const char *const reduce_kinds[] = {"sum", "mean", "max", NULL};
    static const char *const bin_kinds[] = {"add", "sub",  "mul",  "div", "pow", "max",
                                            "min", "gt",   "ge",   "lt",  "le",  "eq",
                                            "ne",  "fmod", "mask", NULL};
    _Static_assert(sizeof bin_kinds / sizeof bin_kinds[0] == LUMEN_BIN_COUNT + 1,
                   "bin_kinds lists every LUMEN_BIN_* name");
    static const char *const resize_modes[] = {"nearest", "linear", NULL};
    static const char *const coords[] = {"half_pixel", "align_corners", "asymmetric",
                                         "pytorch_half_pixel", NULL};
    static const char *const nearests[] = {"floor", "round_prefer_floor", "round_prefer_ceil",
                                           "ceil", NULL};
    lumen_opdesc d;
    memset(&d, 0, sizeof d);
    d.op = LUMEN_OP_COUNT;
    for (int i = 0; i < LUMEN_OP_COUNT; i++)
        if (!strcmp(lumen_op_name((lumen_op)i), opname))
            d.op = (lumen_op)i;
    if (d.op == LUMEN_OP_COUNT)
        luaL_error(L, "unknown op '%s'", opname);
    int64_t tmp[LUMEN_MAX_DIMS];
    switch (d.op) {
    case LUMEN_OP_CONV:
    case LUMEN_OP_CONV_TRANSPOSE: {
        lumen_conv_params *c = &d.p.conv;
        c->nsp = opt_int(L, t, "nsp", 2);
        if (c->nsp < 1 || c->nsp > 3)
            luaL_error(L, "conv: nsp must be 1, 2 or 3");
        opt_ints32(L, t, "stride", c->nsp, c->stride, 1);
        opt_ints32(L, t, "dilation", c->nsp, c->dil, 1);
        opt_ints32(L, t, "out_pad", c->nsp, c->out_pad, 0);
        opt_pads(L, t, c->nsp, c->pad0, c->pad1);
        c->groups = opt_int(L, t, "groups", 1);
        c->act = opt_act(L, t);
        break;
    }
    case LUMEN_OP_POOL: {
        lumen_pool_params *p = &d.p.pool;
        p->kind = opt_enum(L, t, "kind", pool_kinds, 0);
        p->nsp = opt_int(L, t, "nsp", 2);
        if (p->nsp < 1 || p->nsp > 3)
            luaL_error(L, "pool: nsp must be 1, 2 or 3");
        opt_ints32(L, t, "kernel", p->nsp, p->k, 2);
        int64_t st[3];
        int given = opt_ints(L, t, "stride", p->nsp, st, 0);
        for (int i = 0; i < p->nsp; i++)
            p->stride[i] = given ? (int)st[i] : p->k[i]; /* PyTorch: stride defaults to kernel */
        opt_ints32(L, t, "dilation", p->nsp, p->dil, 1);
        opt_pads(L, t, p->nsp, p->pad0, p->pad1);
        p->count_include_pad = opt_int(L, t, "count_include_pad", 0);
        p->ceil_mode = opt_int(L, t, "ceil_mode", 0);
        break;
    }
    case LUMEN_OP_REDUCE: {
        d.p.reduce.kind = opt_enum(L, t, "kind", reduce_kinds, 1);
        int n = opt_ints(L, t, "axes", LUMEN_MAX_DIMS, tmp, 0);
        for (int i = 0; i < n; i++) {
            if (tmp[i] < 0 || tmp[i] >= LUMEN_MAX_DIMS)
                luaL_error(L, "reduce: axis %d out of range", (int)tmp[i]);
            d.p.reduce.axes |= 1u << tmp[i];
        }
        d.p.reduce.keepdims = opt_int(L, t, "keepdims", 1);
        break;
    }
    case LUMEN_OP_RESIZE: {
        lumen_resize_params *r = &d.p.resize;
        r->mode = opt_enum(L, t, "mode", resize_modes, 1);
        r->coord = opt_enum(L, t, "coord", coords, 0);
        r->nearest = opt_enum(L, t, "nearest", nearests, 0);
        r->nsp = opt_ints(L, t, "size", 3, r->out, 0);
        if (r->nsp < 1)
            luaL_error(L, "resize: 'size' (output extents of the last axes) is required");
        lua_getfield(L, t, "scale");
        if (lua_istable(L, -1))
            for (int i = 0; i < r->nsp; i++) {
                lua_geti(L, -1, i + 1);
                r->scale[i] = (float)lua_tonumber(L, -1);
                lua_pop(L, 1);
            }
        else if (lua_isnumber(L, -1))
            for (int i = 0; i < r->nsp; i++)
                r->scale[i] = (float)lua_tonumber(L, -1);
        lua_pop(L, 1);
        break;
    }
    case LUMEN_OP_CONCAT:
        d.p.concat.axis = opt_int(L, t, "axis", 1);
        break;
    case LUMEN_OP_SLICE:
        opt_ints(L, t, "start", LUMEN_MAX_DIMS, d.p.slice.start, 0);
        opt_ints(L, t, "step", LUMEN_MAX_DIMS, d.p.slice.step, 1);
        opt_ints(L, t, "count", LUMEN_MAX_DIMS, d.p.slice.count, 0);
        break;
    case LUMEN_OP_PAD:
        opt_ints(L, t, "pad0", LUMEN_MAX_DIMS, d.p.pad.pad0, 0);
        opt_ints(L, t, "pad1", LUMEN_MAX_DIMS, d.p.pad.pad1, 0);
        d.p.pad.value = opt_num(L, t, "value", 0);
        break;
    case LUMEN_OP_BINARY:
        d.p.binary.kind = opt_enum(L, t, "kind", bin_kinds, 0);
        d.p.binary.act = opt_act(L, t);
        break;
    case LUMEN_OP_UNARY:
        d.p.unary.act = opt_act(L, t);
        break;
    case LUMEN_OP_SOFTMAX:
    case LUMEN_OP_LAYERNORM:
        d.p.axes.axis = opt_int(L, t, "axis", 1);
        d.p.axes.axis_end = opt_int(L, t, "axis_end", d.p.axes.axis + 1);
        d.p.axes.eps = opt_num(L, t, "eps", 1e-5f);
        break;
    case LUMEN_OP_BATCHNORM:
    case LUMEN_OP_INSTANCENORM:
        d.p.norm.eps = opt_num(L, t, "eps", 1e-5f);
        break;
    case LUMEN_OP_TRANSPOSE:
        opt_ints32(L, t, "perm", LUMEN_MAX_DIMS, d.p.transpose.perm, 0);
        break;
    case LUMEN_OP_RESHAPE: {
        int n = opt_ints(L, t, "shape", LUMEN_MAX_DIMS, d.p.reshape.shape.d, 0);
        d.p.reshape.shape.ndim = n;
        break;
    }
    case LUMEN_OP_MATMUL:
        d.p.matmul.trans_a = opt_int(L, t, "trans_a", 0);
        d.p.matmul.trans_b = opt_int(L, t, "trans_b", 0);
        d.p.matmul.alpha = opt_num(L, t, "alpha", 1.0f);
        d.p.matmul.act = opt_act(L, t);
        break;
    case LUMEN_OP_ATTENTION: {
        lumen_attention_params *a = &d.p.attention;
        a->heads = opt_int(L, t, "heads", 1);
        a->head_dim = opt_int(L, t, "head_dim", 0);
        a->window = opt_int(L, t, "window", 0);
        a->scale = opt_num(L, t, "scale", 0);
        a->q_c0 = opt_int(L, t, "q_c0", 0);
        a->k_c0 = opt_int(L, t, "k_c0", 0);
        a->v_c0 = opt_int(L, t, "v_c0", 0);
        break;
    }
    case LUMEN_OP_ARGMAX:
        d.p.argmax.axis = opt_int(L, t, "axis", 1);
        d.p.argmax.keepdims = opt_int(L, t, "keepdims", 1);
        break;
    default:
        break;
    }
    return d;
}

/* ---- Graph ---- */

static int l_graph(lua_State *L)
{
    lgraph *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->g = NULL;
    luaL_setmetatable(L, GRAPH_MT);
    u->g = lumen_graph_new();
    if (!u->g)
        return luaL_error(L, "out of memory");
    return 1;
}

static int g_input(lua_State *L)
{
    lgraph *u = check_graph(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lumen_shape s = lb_check_shape(L, 3);
    lua_pushinteger(L, lumen_graph_input(u->g, name, &s));
    return 1;
}

static int g_const(lua_State *L)
{
    lgraph *u = check_graph(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lumen_shape s = lb_check_shape(L, 3);
    float *buf = lb_check_floats(L, 4, lumen_shape_numel(&s));
    lua_pushinteger(L, lumen_graph_const(u->g, name, &s, buf));
    return 1;
}

/* g:const_weights(name, weights, key [, shape]) -> id. The key must exist and, when shape is
 * given, have that many elements (it is then reshaped). */
static int g_const_weights(lua_State *L)
{
    lgraph *u = check_graph(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lweights *w = check_weights(L, 3);
    const char *key = luaL_checkstring(L, 4);
    const lumen_array *a = lumen_weights_find(w->w, key);
    if (!a)
        return luaL_error(L, "weights have no tensor '%s'", key);
    lumen_shape s = a->shape;
    if (!lua_isnoneornil(L, 5)) {
        s = lb_check_shape(L, 5);
        if (lumen_shape_numel(&s) != lumen_shape_numel(&a->shape))
            return luaL_error(L, "weight '%s' cannot take shape given (element counts differ)",
                              key);
    }
    lua_pushinteger(L, lumen_graph_const(u->g, name, &s, a->data));
    return 1;
}

/* g:const_random(name, shape, seed [, lo, hi]) -> id: uniform random weights (xorshift). */
static int g_const_random(lua_State *L)
{
    lgraph *u = check_graph(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lumen_shape s = lb_check_shape(L, 3);
    uint64_t seed = (uint64_t)luaL_checkinteger(L, 4);
    float lo = (float)luaL_optnumber(L, 5, -0.1), hi = (float)luaL_optnumber(L, 6, 0.1);
    int64_t n = lumen_shape_numel(&s);
    float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!buf)
        return luaL_error(L, "out of memory");
    uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = lo + (hi - lo) * (float)((x >> 40) / (double)(1ull << 24));
    }
    lua_pushinteger(L, lumen_graph_const(u->g, name, &s, buf));
    free(buf);
    return 1;
}

/* g:op(name, opname, params, inputs) -> id (-1 after an error; see g:status()) */
static int g_op(lua_State *L)
{
    lgraph *u = check_graph(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const char *opname = luaL_checkstring(L, 3);
    if (lua_isnoneornil(L, 4)) {
        lua_newtable(L);
        lua_replace(L, 4);
    }
    luaL_checktype(L, 4, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TTABLE);
    lumen_opdesc d = opdesc_from_table(L, opname, 4);
    int n = (int)luaL_len(L, 5), in[LUMEN_MAX_IN];
    luaL_argcheck(L, n <= LUMEN_MAX_IN, 5, "too many inputs");
    for (int i = 0; i < n; i++) {
        lua_geti(L, 5, i + 1);
        in[i] = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : -1;
        if (!lua_isinteger(L, -1) && !(lua_isboolean(L, -1) && !lua_toboolean(L, -1)))
            return luaL_error(L, "op '%s': input %d must be a value id or false", name, i + 1);
        lua_pop(L, 1);
    }
    lua_pushinteger(L, lumen_graph_op(u->g, name, &d, n, in));
    return 1;
}

static int g_output(lua_State *L)
{
    lgraph *u = check_graph(L, 1);
    lumen_graph_output(u->g, luaL_checkstring(L, 2), (int)luaL_checkinteger(L, 3));
    return 0;
}

static int g_shape(lua_State *L)
{
    lgraph *u = check_graph(L, 1);
    const lumen_shape *s = lumen_graph_shape(u->g, (int)luaL_checkinteger(L, 2));
    if (!s)
        return lb_fail(L, "no such value");
    lb_push_shape(L, s);
    return 1;
}

/* g:status() -> true | nil, first error */
static int g_status(lua_State *L)
{
    lgraph *u = check_graph(L, 1);
    if (lumen_graph_status(u->g) != LUMEN_OK)
        return lb_fail(L, lumen_graph_error(u->g));
    lua_pushboolean(L, 1);
    return 1;
}

static void push_graph_stats(lua_State *L, const lumen_graph *g)
{
    lumen_graph_stats s;
    lumen_graph_stats_get(g, &s);
    lua_createtable(L, 0, 7);
    lua_pushinteger(L, s.inputs);
    lua_setfield(L, -2, "inputs");
    lua_pushinteger(L, s.outputs);
    lua_setfield(L, -2, "outputs");
    lua_pushinteger(L, s.consts);
    lua_setfield(L, -2, "consts");
    lua_pushinteger(L, s.nodes);
    lua_setfield(L, -2, "nodes");
    lua_pushnumber(L, s.const_elements);
    lua_setfield(L, -2, "const_elements");
    lua_pushnumber(L, s.macs);
    lua_setfield(L, -2, "macs");
    lua_pushnumber(L, s.flops);
    lua_setfield(L, -2, "flops");
}

static int g_stats(lua_State *L)
{
    push_graph_stats(L, check_graph(L, 1)->g);
    return 1;
}

static int g_free(lua_State *L)
{
    lgraph *u = luaL_checkudata(L, 1, GRAPH_MT);
    lumen_graph_free(u->g);
    u->g = NULL;
    return 0;
}

/* ---- Model ---- */

/* ctx:model(graph [, {no_fold_bn=true, ...}]) -> Model | nil, msg. Consumes the graph. */
static int c_model(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    lgraph *gu = check_graph(L, 2);
    lumen_model_options o = {0};
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        o.no_fold_const = opt_int(L, 3, "no_fold_const", 0);
        o.no_fold_bn = opt_int(L, 3, "no_fold_bn", 0);
        o.no_fuse_residual = opt_int(L, 3, "no_fuse_residual", 0);
        o.no_fuse_act = opt_int(L, 3, "no_fuse_act", 0);
        o.no_fuse_patterns = opt_int(L, 3, "no_fuse_patterns", 0);
        o.no_dead_code = opt_int(L, 3, "no_dead_code", 0);
        o.no_memory_plan = opt_int(L, 3, "no_memory_plan", 0);
    }
    lmodel *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->m = NULL;
    luaL_setmetatable(L, MODEL_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    lumen_graph *g = gu->g;
    gu->g = NULL; /* consumed, whatever happens */
    if (lumen_model_new(c->ctx, g, &o, &u->m) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(c->ctx));
    return 1;
}

static lumen_ctx *model_ctx(lua_State *L, int i)
{
    lua_getiuservalue(L, i, 1);
    lctx *c = lb_check_ctx(L, -1);
    lua_pop(L, 1);
    return c->ctx;
}

static void push_io(lua_State *L, lmodel *u, int outputs)
{
    int n = outputs ? lumen_model_output_count(u->m) : lumen_model_input_count(u->m);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lumen_tensor *t = outputs ? lumen_model_output(u->m, i) : lumen_model_input(u->m, i);
        lua_createtable(L, 0, 2);
        lua_pushstring(L, outputs ? lumen_model_output_name(u->m, i)
                                  : lumen_model_input_name(u->m, i));
        lua_setfield(L, -2, "name");
        lb_push_shape(L, lumen_tensor_shape(t));
        lua_setfield(L, -2, "shape");
        lua_rawseti(L, -2, i + 1);
    }
}

static int m_inputs(lua_State *L)
{
    push_io(L, check_model(L, 1), 0);
    return 1;
}

static int m_outputs(lua_State *L)
{
    push_io(L, check_model(L, 1), 1);
    return 1;
}

/* m:tensor(name) -> Tensor (owned by the model) | nil, msg */
static int m_tensor(lua_State *L)
{
    lmodel *u = check_model(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lumen_tensor *t = lumen_model_tensor(u->m, name);
    if (!t)
        return lb_fail(L, lua_pushfstring(L, "the model has no input or output '%s'", name));
    lb_push_tensor(L, t, 1, 1);
    return 1;
}

static int m_run(lua_State *L)
{
    lmodel *u = check_model(L, 1);
    if (lumen_model_run(u->m) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(model_ctx(L, 1)));
    lua_pushboolean(L, 1);
    return 1;
}

/* m:start() -> true | nil, msg: enqueues a run and returns at once (see lumen_model_start). */
static int m_start(lua_State *L)
{
    lmodel *u = check_model(L, 1);
    if (lumen_model_start(u->m) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(model_ctx(L, 1)));
    lua_pushboolean(L, 1);
    return 1;
}

/* m:poll() -> true (the run has finished) | false (still running) | nil, msg */
static int m_poll(lua_State *L)
{
    lmodel *u = check_model(L, 1);
    int done = 0;
    if (lumen_model_poll(u->m, &done) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(model_ctx(L, 1)));
    lua_pushboolean(L, done);
    return 1;
}

/* m:wait() -> true | nil, msg: blocks until the started run has finished. */
static int m_wait(lua_State *L)
{
    lmodel *u = check_model(L, 1);
    if (lumen_model_wait(u->m) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(model_ctx(L, 1)));
    lua_pushboolean(L, 1);
    return 1;
}

/* m:profile() -> array of {name=, op=, shape=, ms=, flops=, bytes=} | nil, msg */
static int m_profile(lua_State *L)
{
    lmodel *u = check_model(L, 1);
    const lumen_node_prof *p;
    int n;
    if (lumen_model_profile(u->m, &p, &n) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(model_ctx(L, 1)));
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 6);
        lua_pushstring(L, p[i].name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, lumen_op_name(p[i].op));
        lua_setfield(L, -2, "op");
        lb_push_shape(L, &p[i].out);
        lua_setfield(L, -2, "shape");
        lua_pushnumber(L, p[i].ms);
        lua_setfield(L, -2, "ms");
        lua_pushnumber(L, p[i].flops);
        lua_setfield(L, -2, "flops");
        lua_pushnumber(L, p[i].bytes);
        lua_setfield(L, -2, "bytes");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int m_plan(lua_State *L)
{
    lmodel *u = check_model(L, 1);
    lumen_plan_stats s;
    lumen_model_plan_stats(u->m, &s);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)s.planned_bytes);
    lua_setfield(L, -2, "planned_bytes");
    lua_pushinteger(L, (lua_Integer)s.naive_bytes);
    lua_setfield(L, -2, "naive_bytes");
    lua_pushinteger(L, (lua_Integer)s.live_peak);
    lua_setfield(L, -2, "live_peak");
    lua_pushinteger(L, (lua_Integer)s.weight_bytes);
    lua_setfield(L, -2, "weight_bytes");
    lua_pushinteger(L, (lua_Integer)s.io_bytes);
    lua_setfield(L, -2, "io_bytes");
    lua_pushinteger(L, s.buffers);
    lua_setfield(L, -2, "buffers");
    return 1;
}

static int m_stats(lua_State *L)
{
    push_graph_stats(L, lumen_model_graph(check_model(L, 1)->m));
    return 1;
}

/* m:check([atol [, rtol]]) -> true, summary | false, report */
static int m_check(lua_State *L)
{
    lmodel *u = check_model(L, 1);
    float atol = (float)luaL_optnumber(L, 2, 1e-5), rtol = (float)luaL_optnumber(L, 3, 1e-4);
    char report[LUMEN_ERR_MAX] = "";
    lumen_status st = lumen_model_check(u->m, atol, rtol, report, sizeof report);
    lua_pushboolean(L, st == LUMEN_OK);
    lua_pushstring(L, report[0] ? report : lumen_ctx_error(model_ctx(L, 1)));
    return 2;
}

static int m_free(lua_State *L)
{
    lmodel *u = luaL_checkudata(L, 1, MODEL_MT);
    lumen_model_free(u->m);
    u->m = NULL;
    return 0;
}

/* ---- ONNX ---- */

/* lumen.onnx_load(path [, {shapes = {name = {dims...}}, max_depth =, max_elements =}])
 *   -> Graph, info | nil, msg, status_name
 * info: ir_version, opset, producer, nodes, parameters, inputs = {{name=, shape=}...},
 * outputs = {{name=, shape=}...}, op_types = {{type=, count=}...} (file order). The third
 * result on failure names the status ("LUMEN_EINVAL" for a bad input name or shape). */
static int l_onnx_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lumen_onnx_options o = {0};
    lumen_onnx_input_shape shapes[16];
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        o.max_depth = opt_int(L, 2, "max_depth", 0);
        lua_getfield(L, 2, "max_elements");
        o.max_elements = (int64_t)luaL_optinteger(L, -1, 0);
        lua_pop(L, 1);
        lua_getfield(L, 2, "shapes");
        if (!lua_isnil(L, -1)) {
            luaL_checktype(L, -1, LUA_TTABLE);
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                if (o.n_shapes >= 16)
                    return luaL_error(L, "onnx_load: at most 16 input shapes");
                if (lua_type(L, -2) != LUA_TSTRING)
                    return luaL_error(L, "onnx_load: shapes must be keyed by input name");
                shapes[o.n_shapes].name = lua_tostring(L, -2); /* anchored in the table */
                shapes[o.n_shapes].shape = lb_check_shape(L, lua_gettop(L));
                o.n_shapes++;
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
        o.shapes = shapes;
    }
    lgraph *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->g = NULL;
    luaL_setmetatable(L, GRAPH_MT);
    lumen_onnx_info *info = malloc(sizeof *info);
    if (!info)
        return luaL_error(L, "out of memory");
    char err[LUMEN_ERR_MAX];
    lumen_status st = lumen_onnx_load(path, &o, &u->g, info, err, sizeof err);
    if (st != LUMEN_OK) {
        free(info);
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, lumen_status_name(st));
        return 3;
    }
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, info->ir_version);
    lua_setfield(L, -2, "ir_version");
    lua_pushinteger(L, info->opset);
    lua_setfield(L, -2, "opset");
    lua_pushstring(L, info->producer);
    lua_setfield(L, -2, "producer");
    lua_pushinteger(L, info->nodes);
    lua_setfield(L, -2, "nodes");
    lua_pushinteger(L, info->parameters);
    lua_setfield(L, -2, "parameters");
    for (int io = 0; io < 2; io++) {
        int n = io ? info->n_outputs : info->n_inputs;
        lua_createtable(L, n, 0);
        for (int i = 0; i < n && i < 16; i++) {
            lua_createtable(L, 0, 2);
            lua_pushstring(L, io ? info->outputs[i].name : info->inputs[i].name);
            lua_setfield(L, -2, "name");
            lb_push_shape(L, io ? &info->outputs[i].shape : &info->inputs[i].shape);
            lua_setfield(L, -2, "shape");
            if (!io) { /* dynamic = {1-based indices of the model's symbolic dims} */
                lua_newtable(L);
                for (int d = 0, k = 0; d < LUMEN_MAX_DIMS; d++)
                    if (info->inputs[i].dynamic >> d & 1) {
                        lua_pushinteger(L, d + 1);
                        lua_rawseti(L, -2, ++k);
                    }
                lua_setfield(L, -2, "dynamic");
            }
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, io ? "outputs" : "inputs");
    }
    lua_createtable(L, info->n_op_types, 0);
    for (int i = 0; i < info->n_op_types && i < 64; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, info->op_types[i].type);
        lua_setfield(L, -2, "type");
        lua_pushinteger(L, info->op_types[i].count);
        lua_setfield(L, -2, "count");
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "op_types");
    free(info);
    return 2;
}

/* ---- Weights ---- */

/* lumen.load_weights(path) -> Weights | nil, msg */
static int l_load_weights(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lweights *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->w = NULL;
    luaL_setmetatable(L, WEIGHTS_MT);
    char err[LUMEN_ERR_MAX];
    if (lumen_weights_load(path, &u->w, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, err);
    return 1;
}

static int w_keys(lua_State *L)
{
    lweights *u = check_weights(L, 1);
    int n = lumen_weights_count(u->w);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, lumen_weights_at(u->w, i)->name);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int w_shape(lua_State *L)
{
    lweights *u = check_weights(L, 1);
    const lumen_array *a = lumen_weights_find(u->w, luaL_checkstring(L, 2));
    if (!a)
        return lb_fail(L, "no such tensor");
    lb_push_shape(L, &a->shape);
    return 1;
}

static int w_get(lua_State *L)
{
    lweights *u = check_weights(L, 1);
    const lumen_array *a = lumen_weights_find(u->w, luaL_checkstring(L, 2));
    if (!a)
        return lb_fail(L, "no such tensor");
    int64_t n = lumen_shape_numel(&a->shape);
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushnumber(L, a->data[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int w_meta(lua_State *L)
{
    lweights *u = check_weights(L, 1);
    const char *v = lumen_weights_meta(u->w, luaL_checkstring(L, 2));
    if (v)
        lua_pushstring(L, v);
    else
        lua_pushnil(L);
    return 1;
}

static int w_free(lua_State *L)
{
    lweights *u = luaL_checkudata(L, 1, WEIGHTS_MT);
    lumen_weights_free(u->w);
    u->w = NULL;
    return 0;
}

static void new_class(lua_State *L, const char *mt, const luaL_Reg *methods, lua_CFunction gc)
{
    luaL_newmetatable(L, mt);
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "free");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

static const luaL_Reg graph_methods[] = {{"input", g_input},
                                         {"const", g_const},
                                         {"const_weights", g_const_weights},
                                         {"const_random", g_const_random},
                                         {"op", g_op},
                                         {"output", g_output},
                                         {"shape", g_shape},
                                         {"status", g_status},
                                         {"stats", g_stats},
                                         {NULL, NULL}};
static const luaL_Reg model_methods[] = {
    {"inputs", m_inputs}, {"outputs", m_outputs}, {"tensor", m_tensor}, {"run", m_run},
    {"start", m_start},   {"poll", m_poll},       {"wait", m_wait},     {"profile", m_profile},
    {"plan", m_plan},     {"stats", m_stats},     {"check", m_check},   {NULL, NULL}};
static const luaL_Reg weights_methods[] = {
    {"keys", w_keys}, {"shape", w_shape}, {"get", w_get}, {"meta", w_meta}, {NULL, NULL}};
static const luaL_Reg ctx_methods[] = {{"model", c_model}, {NULL, NULL}};
static const luaL_Reg funcs[] = {
    {"graph", l_graph}, {"load_weights", l_load_weights}, {"onnx_load", l_onnx_load}, {NULL, NULL}};

void lb_open_graph(lua_State *L)
{
    new_class(L, GRAPH_MT, graph_methods, g_free);
    new_class(L, MODEL_MT, model_methods, m_free);
    new_class(L, WEIGHTS_MT, weights_methods, w_free);
    luaL_getmetatable(L, CTX_MT);
    lua_getfield(L, -1, "__index");
    luaL_setfuncs(L, ctx_methods, 0);
    lua_pop(L, 2);
    luaL_setfuncs(L, funcs, 0);
}
