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
 * Op parameters are a table whose fields mirror the C param structs (0-based axes), named by
 * each op's schema (the lumen_param lists in runtime/ops/<family>.c). Graph building keeps the C
 * API's sticky error: op() returns -1 after a failure and g:status() reports the first error.
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

/* Field k of the options table at t: an integer or a boolean (0/1), def when absent. */
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
                luaL_error(L, "option '%s' must be an integer", k);
        }
    }
    lua_pop(L, 1);
    return v;
}

/* ---- op parameters from a table, read by the op's schema (lumen_op_params) ---- */

/* The integer at the top of the stack, for parameter k (entry i > 0 when in an array). */
static double param_int(lua_State *L, const char *k, int i)
{
    if (lua_isboolean(L, -1))
        return lua_toboolean(L, -1);
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < INT64_MIN / 2 || v > INT64_MAX / 2) {
        if (i)
            luaL_error(L, "op parameter '%s' entry %d must be an integer", k, i);
        luaL_error(L, "op parameter '%s' must be an integer", k);
    }
    return (double)v;
}

static double param_entry(lua_State *L, const lumen_param *p, int i)
{
    if (p->type == LUMEN_PARAM_FLOAT || p->type == LUMEN_PARAM_FLOATS) {
        int ok;
        double v = lua_tonumberx(L, -1, &ok);
        if (!ok)
            luaL_error(L, "op parameter '%s' must be a number", p->name);
        return v;
    }
    return param_int(L, p->name, i);
}

/* One parameter from the value at the top of the stack into d. */
static void read_param(lua_State *L, const lumen_param *p, lumen_opdesc *d)
{
    if (p->type == LUMEN_PARAM_ACT) {
        const char *s = luaL_checkstring(L, -1);
        int v = lumen_act_from_name(s);
        if (v < 0)
            luaL_error(L, "unknown activation '%s'", s);
        lumen_param_set(p, d, 0, v);
    } else if (p->names) {
        const char *s = lua_tostring(L, -1);
        int v = -1;
        for (int i = 0; s && p->names[i]; i++)
            if (!strcmp(p->names[i], s))
                v = i;
        if (v < 0)
            luaL_error(L, "op parameter '%s': unknown value '%s'", p->name, s ? s : "?");
        lumen_param_set(p, d, 0, v);
    } else if (p->type == LUMEN_PARAM_AXES) { /* an axis or a list of them */
        int n = lua_istable(L, -1) ? (int)luaL_len(L, -1) : 1;
        for (int i = 0; i < n; i++) {
            if (lua_istable(L, -1))
                lua_geti(L, -1, i + 1);
            else
                lua_pushvalue(L, -1);
            double a = param_int(L, p->name, i + 1);
            if (a < 0 || a >= LUMEN_MAX_DIMS)
                luaL_error(L, "op parameter '%s': axis %d out of range", p->name, (int)a);
            lumen_param_set(p, d, (int)a, 1);
            lua_pop(L, 1);
        }
    } else if (p->n == 1) {
        lumen_param_set(p, d, 0, param_entry(L, p, 0));
    } else { /* an array: a number fills every entry, a list sets its first entries */
        int want = p->flags & LUMEN_PARAM_COUNT_IN ? lumen_param_count(p, d) : p->n;
        if (p->flags & LUMEN_PARAM_SPLIT)
            want = lumen_param_count(p, d);
        int given = want;
        if (lua_istable(L, -1)) {
            given = (int)luaL_len(L, -1);
            if (given > want)
                luaL_error(L, "op parameter '%s' has %d entries, at most %d", p->name, given, want);
            if ((p->flags & LUMEN_PARAM_SPLIT) && given != want)
                luaL_error(L, "op parameter '%s' has %d entries, expected %d (begins, then ends)",
                           p->name, given, want);
            for (int i = 0; i < given; i++) {
                lua_geti(L, -1, i + 1);
                lumen_param_set(p, d, i, param_entry(L, p, i + 1));
                lua_pop(L, 1);
            }
        } else if (lua_isnumber(L, -1)) {
            double v = param_entry(L, p, 0);
            for (int i = 0; i < want; i++)
                lumen_param_set(p, d, i, v);
        } else {
            luaL_error(L, "op parameter '%s' must be a number or an array", p->name);
        }
        if (p->flags & LUMEN_PARAM_COUNT_OUT)
            memcpy((char *)d + p->count_at, &given, sizeof given);
    }
}

/*
 * The opdesc of op 'opname' from the table at t: each parameter of the op's schema by its name,
 * in schema order (so 'stride' knows 'nsp'), defaults for the others. A key that is not a
 * parameter of the op, a missing required one or a value of the wrong type raises; ranges are
 * the op's own check (a sticky graph error, as from C).
 */
static lumen_opdesc opdesc_from_table(lua_State *L, const char *opname, int t)
{
    lumen_op op = LUMEN_OP_COUNT;
    for (int i = 0; i < LUMEN_OP_COUNT; i++)
        if (!strcmp(lumen_op_name((lumen_op)i), opname))
            op = (lumen_op)i;
    if (op == LUMEN_OP_COUNT)
        luaL_error(L, "unknown op '%s'", opname);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (!k || !lumen_op_param(op, k))
            luaL_error(L, "%s: unknown op parameter '%s'", opname, k ? k : luaL_typename(L, -1));
    }
    lumen_opdesc d = lumen_opdesc_default(op);
    int n;
    const lumen_param *ps = lumen_op_params(op, &n);
    for (int i = 0; i < n; i++) {
        const lumen_param *p = &ps[i];
        if (lua_getfield(L, t, p->name) != LUA_TNIL)
            read_param(L, p, &d);
        else if (p->flags & LUMEN_PARAM_REQUIRED)
            luaL_error(L, "%s: op parameter '%s' is required", opname, p->name);
        else if (p->def_from)
            lumen_param_reset(p, &d); /* the parameter it follows may have been given */
        lua_pop(L, 1);
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
    lb_set_int(L, "inputs", s.inputs);
    lb_set_int(L, "outputs", s.outputs);
    lb_set_int(L, "consts", s.consts);
    lb_set_int(L, "nodes", s.nodes);
    lb_set_num(L, "const_elements", s.const_elements);
    lb_set_num(L, "macs", s.macs);
    lb_set_num(L, "flops", s.flops);
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

/* ctx:model(graph [, {no_fold_bn=true, ..., precision="fp16"}]) -> Model | nil, msg. Consumes
 * the graph. precision: "fp32" (default) or "fp16" (half storage; model:plan().precision says
 * what runs, and precision_note why fp16 fell back to fp32 on this device). */
int lb_model_new(lua_State *L)
{
    lctx *c = lb_check_ctx(L, 1);
    lgraph *gu = check_graph(L, 2);
    lumen_model_options o = {0};
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "precision");
        if (!lua_isnil(L, -1)) {
            static const char *const names[] = {"fp32", "fp16", NULL};
            o.precision = luaL_checkoption(L, -1, NULL, names) ? LUMEN_FP16 : LUMEN_FP32;
        }
        lua_pop(L, 1);
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
        lb_set_str(L, "name", p[i].name);
        lb_set_str(L, "op", lumen_op_name(p[i].op));
        lb_push_shape(L, &p[i].out);
        lua_setfield(L, -2, "shape");
        lb_set_num(L, "ms", p[i].ms);
        lb_set_num(L, "flops", p[i].flops);
        lb_set_num(L, "bytes", p[i].bytes);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int m_plan(lua_State *L)
{
    lmodel *u = check_model(L, 1);
    lumen_plan_stats s;
    lumen_model_plan_stats(u->m, &s);
    lua_createtable(L, 0, 8);
    lb_set_str(L, "precision", lumen_precision_name(s.precision));
    if (s.precision_note[0])
        lb_set_str(L, "precision_note", s.precision_note);
    lb_set_int(L, "planned_bytes", (lua_Integer)s.planned_bytes);
    lb_set_int(L, "naive_bytes", (lua_Integer)s.naive_bytes);
    lb_set_int(L, "live_peak", (lua_Integer)s.live_peak);
    lb_set_int(L, "weight_bytes", (lua_Integer)s.weight_bytes);
    lb_set_int(L, "io_bytes", (lua_Integer)s.io_bytes);
    lb_set_int(L, "buffers", s.buffers);
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
    lb_set_int(L, "ir_version", info->ir_version);
    lb_set_int(L, "opset", info->opset);
    lb_set_str(L, "producer", info->producer);
    lb_set_int(L, "nodes", info->nodes);
    lb_set_int(L, "parameters", info->parameters);
    for (int io = 0; io < 2; io++) {
        int n = io ? info->n_outputs : info->n_inputs;
        lua_createtable(L, n, 0);
        for (int i = 0; i < n && i < 16; i++) {
            lua_createtable(L, 0, 2);
            lb_set_str(L, "name", io ? info->outputs[i].name : info->inputs[i].name);
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
        lb_set_str(L, "type", info->op_types[i].type);
        lb_set_int(L, "count", info->op_types[i].count);
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

static const luaL_Reg graph_methods[] = {{"input", g_input},
                                         {"const", g_const},
                                         {"const_weights", g_const_weights},
                                         {"const_random", g_const_random},
                                         {"op", g_op},
                                         {"output", g_output},
                                         {"shape", g_shape},
                                         {"status", g_status},
                                         {"stats", g_stats},
                                         {"free", g_free},
                                         {NULL, NULL}};
static const luaL_Reg model_methods[] = {
    {"inputs", m_inputs}, {"outputs", m_outputs}, {"tensor", m_tensor}, {"run", m_run},
    {"start", m_start},   {"poll", m_poll},       {"wait", m_wait},     {"profile", m_profile},
    {"plan", m_plan},     {"stats", m_stats},     {"check", m_check},   {"free", m_free},
    {NULL, NULL}};
static const luaL_Reg weights_methods[] = {{"keys", w_keys}, {"shape", w_shape}, {"get", w_get},
                                           {"meta", w_meta}, {"free", w_free},   {NULL, NULL}};
static const luaL_Reg funcs[] = {
    {"graph", l_graph}, {"load_weights", l_load_weights}, {"onnx_load", l_onnx_load}, {NULL, NULL}};

void lb_open_graph(lua_State *L)
{
    lb_new_class(L, GRAPH_MT, graph_methods, NULL, g_free);
    lb_new_class(L, MODEL_MT, model_methods, NULL, m_free);
    lb_new_class(L, WEIGHTS_MT, weights_methods, NULL, w_free);
    luaL_setfuncs(L, funcs, 0);
    /* lumen.activations: the names of LUMEN_ACT_LIST in order, so Lua keeps no copy */
    lua_createtable(L, LUMEN_ACT_COUNT, 0);
    for (int i = 0; i < LUMEN_ACT_COUNT; i++) {
        lua_pushstring(L, lumen_act_name((lumen_act)i));
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "activations");
}
