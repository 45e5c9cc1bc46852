/*
 * lua_dicom.c - DICOM for Lua (runtime/dicom/ underneath).
 *
 *   lumen.dicom_probe(path)                  -> true | false | nil, msg (unreadable)
 *   local d <close>, err = lumen.dicom_open(path [, {max_side=, max_frames=, max_bytes=}])
 *   d.frames, d.width, d.height, ...         -- every field of lumen_dicom_info ("" when absent)
 *   local img, err = d:frame(k)              -- k 1-based; a "lumen.Image" of modality values
 *   d:info()                                 -> a plain table of the same fields
 *   d:close()                                -- also __gc / __close
 *
 *   local uid, err = lumen.dicom_sr_write(path, {
 *     source = "x.dcm", verdict = "repeat", reasons = "...", model = "angio_qa",
 *     model_version = "1", model_sha256 = "...", lumen_version = lumen.version,
 *     series_description = "lumen QC", series_number = 9901,
 *     class_names = {"diagnostic", ...},      -- the order of the probabilities
 *     frames = { { sop_class_uid =, sop_instance_uid =, series_instance_uid =,
 *                  study_instance_uid =, frame = 1, class_name = "diagnostic", score = 0.9,
 *                  probabilities = {diagnostic = 0.9, ...}, flags = {...} } or { ..., error = msg
 * },
 *                ... } })                     -- the new SR's SOP Instance UID | nil, msg
 *
 *   lumen.dicom_listen({aet=, port=, store_dir=, timeout=, poll=, max_pdu=},
 *       function(path, calling_aet, arrival_ms) ... end,   -- per stored instance
 *       function() ... end)                               -- when idle (every poll seconds)
 *     -- returns true, signal number (0: a callback returned true) | nil, msg; an error raised
 *     -- in a callback stops the loop and is returned as nil, msg. SIGTERM/SIGINT stop the
 *     -- loop; their handlers stay installed afterwards, so the caller's final writes finish
 *   lumen.dicom_send(path, {aet=, peer_aet=, host=, port=, timeout=}) -> true | nil, msg
 *
 * A DICOM object is "lumen.Dicom" userdata; environment failures (a bad file, a refused limit,
 * an unsupported transfer syntax) return nil, msg, misuse raises.
 */
#include <signal.h>
#include <string.h>

#include "binding.h"
#include "lumen_dicom.h"

#define DICOM_MT "lumen.Dicom"

typedef struct ldicom {
    lumen_dicom *d; /* NULL once closed */
} ldicom;

static ldicom *check_dicom(lua_State *L, int i)
{
    ldicom *u = luaL_checkudata(L, i, DICOM_MT);
    if (!u->d)
        luaL_error(L, "attempt to use a closed DICOM object");
    return u;
}

static int l_probe(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int r = lumen_dicom_probe(path);
    if (r < 0)
        return lb_fail(L, lua_pushfstring(L, "%s: cannot read", path));
    lua_pushboolean(L, r);
    return 1;
}

static int64_t opt_int(lua_State *L, int t, const char *k)
{
    if (!lua_istable(L, t))
        return 0;
    lua_getfield(L, t, k);
    int64_t v = (int64_t)luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
    if (v < 0)
        luaL_error(L, "%s must not be negative", k);
    return v;
}

static int l_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lumen_dicom_limits lim = {(int)opt_int(L, 2, "max_side"), opt_int(L, 2, "max_frames"),
                              opt_int(L, 2, "max_bytes")};
    ldicom *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->d = NULL;
    luaL_setmetatable(L, DICOM_MT);
    char err[LUMEN_ERR_MAX];
    if (lumen_dicom_open(path, &lim, &u->d, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, err);
    return 1;
}

/* Pushes field k of info; returns 0 when k is not a field. */
static int push_field(lua_State *L, const lumen_dicom_info *in, const char *k)
{
    static const struct {
        const char *name;
        size_t off;
    } strs[] = {
#define S(f) {#f, offsetof(lumen_dicom_info, f)}
        S(photometric),      S(transfer_syntax),    S(transfer_syntax_name), S(sop_class_uid),
        S(sop_instance_uid), S(study_instance_uid), S(series_instance_uid),  S(modality),
        S(series_number),    S(instance_number),    S(acquisition_datetime), S(patient_id),
        S(patient_name),
#undef S
    };
    static const struct {
        const char *name;
        size_t off;
    } ints[] = {
#define I(f) {#f, offsetof(lumen_dicom_info, f)}
        I(width),          I(height),      I(frames),   I(samples),
        I(bits_allocated), I(bits_stored), I(high_bit), I(is_signed),
#undef I
    };
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        if (!strcmp(k, strs[i].name)) {
            lua_pushstring(L, (const char *)in + strs[i].off);
            return 1;
        }
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (!strcmp(k, ints[i].name)) {
            lua_pushinteger(L, *(const int *)(const void *)((const char *)in + ints[i].off));
            return 1;
        }
    if (!strcmp(k, "has_pixels"))
        lua_pushboolean(L, in->has_pixels);
    else if (!strcmp(k, "rescale_slope"))
        lua_pushnumber(L, in->rescale_slope);
    else if (!strcmp(k, "rescale_intercept"))
        lua_pushnumber(L, in->rescale_intercept);
    else
        return 0;
    return 1;
}

static const char *const info_fields[] = {"has_pixels",
                                          "width",
                                          "height",
                                          "frames",
                                          "samples",
                                          "bits_allocated",
                                          "bits_stored",
                                          "high_bit",
                                          "is_signed",
                                          "rescale_slope",
                                          "rescale_intercept",
                                          "photometric",
                                          "transfer_syntax",
                                          "transfer_syntax_name",
                                          "sop_class_uid",
                                          "sop_instance_uid",
                                          "study_instance_uid",
                                          "series_instance_uid",
                                          "modality",
                                          "series_number",
                                          "instance_number",
                                          "acquisition_datetime",
                                          "patient_id",
                                          "patient_name",
                                          NULL};

static int d_index(lua_State *L)
{
    ldicom *u = check_dicom(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (push_field(L, lumen_dicom_get_info(u->d), k))
        return 1;
    return lb_push_method(L, DICOM_MT, k);
}

static int d_info(lua_State *L)
{
    ldicom *u = check_dicom(L, 1);
    const lumen_dicom_info *in = lumen_dicom_get_info(u->d);
    lua_createtable(L, 0, 24);
    for (int i = 0; info_fields[i]; i++) {
        push_field(L, in, info_fields[i]);
        lua_setfield(L, -2, info_fields[i]);
    }
    return 1;
}

/* d:frame(k) -> Image | nil, msg (k 1-based) */
static int d_frame(lua_State *L)
{
    ldicom *u = check_dicom(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    lumen_image *img = lb_new_image(L);
    char err[LUMEN_ERR_MAX];
    int f = k < 1 || k > 1 << 30 ? -1 : (int)k - 1;
    if (lumen_dicom_read_frame(u->d, f, img, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, err);
    return 1;
}

static int d_close(lua_State *L)
{
    ldicom *u = luaL_checkudata(L, 1, DICOM_MT);
    lumen_dicom_free(u->d);
    u->d = NULL;
    return 0;
}

/* A string field of the table at index t, or NULL when absent (raises when not a string). */
static const char *opt_str(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    const char *v = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_pop(L, 1); /* the string stays alive in the table */
    return v;
}

/* Adds frames[i] (the table on top of the stack) to sr. Returns 0 or raises on misuse; an SR
 * failure returns -1 with err filled. */
static int sr_add_one(lua_State *L, lumen_sr *sr, int names, char *err, size_t errlen)
{
    int f = lua_gettop(L);
    luaL_checktype(L, f, LUA_TTABLE);
    lumen_sr_frame fr = {0};
    fr.sop_class_uid = opt_str(L, f, "sop_class_uid");
    fr.sop_instance_uid = opt_str(L, f, "sop_instance_uid");
    fr.series_instance_uid = opt_str(L, f, "series_instance_uid");
    fr.study_instance_uid = opt_str(L, f, "study_instance_uid");
    fr.class_name = opt_str(L, f, "class_name");
    fr.error = opt_str(L, f, "error");
    lua_getfield(L, f, "frame");
    fr.frame = (int)luaL_optinteger(L, -1, 1);
    lua_getfield(L, f, "score");
    fr.score = luaL_optnumber(L, -1, 0);
    lua_pop(L, 2);
    /* scratch arrays as userdata: freed by the GC, also when something raises */
    int nc = names ? (int)luaL_len(L, names) : 0;
    const char **pn = lua_newuserdatauv(L, sizeof(char *) * (size_t)(nc + 1), 0);
    double *pv = lua_newuserdatauv(L, sizeof(double) * (size_t)(nc + 1), 0);
    lua_getfield(L, f, "probabilities");
    int probs = lua_gettop(L);
    if (lua_istable(L, probs))
        for (int i = 1; i <= nc; i++) {
            lua_geti(L, names, i);
            const char *name = luaL_checkstring(L, -1);
            lua_gettable(L, probs);
            if (lua_isnumber(L, -1)) {
                pn[fr.n_probs] = name; /* kept alive by class_names */
                pv[fr.n_probs++] = lua_tonumber(L, -1);
            }
            lua_pop(L, 1);
        }
    fr.prob_names = pn;
    fr.probs = pv;
    lua_getfield(L, f, "flags");
    int flags = lua_gettop(L);
    int nf = lua_istable(L, flags) ? (int)luaL_len(L, flags) : 0;
    const char **fl = lua_newuserdatauv(L, sizeof(char *) * (size_t)(nf + 1), 0);
    for (int i = 1; i <= nf; i++) {
        lua_geti(L, flags, i);
        fl[i - 1] = luaL_checkstring(L, -1);
        lua_pop(L, 1); /* alive in the flags table */
    }
    fr.n_flags = nf;
    fr.flags = fl;
    int rc = lumen_sr_add_frame(sr, &fr, err, errlen) == LUMEN_OK ? 0 : -1;
    lua_settop(L, f);
    return rc;
}

/* The SR under construction, as userdata so that a raise frees it. */
typedef struct lsr {
    lumen_sr *sr;
} lsr;

static int sr_gc(lua_State *L)
{
    lsr *u = lua_touserdata(L, 1);
    lumen_sr_free(u->sr);
    u->sr = NULL;
    return 0;
}

/* lumen.dicom_sr_write(path, desc) -> sop_instance_uid | nil, msg (see the header) */
static int l_sr_write(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lumen_sr_info in = {0};
    in.source_path = opt_str(L, 2, "source");
    in.verdict = opt_str(L, 2, "verdict");
    in.reasons = opt_str(L, 2, "reasons");
    in.title = opt_str(L, 2, "title");
    in.model_name = opt_str(L, 2, "model");
    in.model_version = opt_str(L, 2, "model_version");
    in.model_sha256 = opt_str(L, 2, "model_sha256");
    in.lumen_version = opt_str(L, 2, "lumen_version");
    in.series_description = opt_str(L, 2, "series_description");
    in.observer_uid = opt_str(L, 2, "observer_uid");
    lua_getfield(L, 2, "series_number");
    in.series_number = (int)luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
    if (!in.source_path || !in.verdict)
        return luaL_error(L, "dicom_sr_write: 'source' and 'verdict' are required");
    lsr *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->sr = NULL;
    lua_newtable(L); /* a metatable with __gc for the SR */
    lua_pushcfunction(L, sr_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    char err[LUMEN_ERR_MAX];
    if (lumen_sr_new(&in, &u->sr, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, err);
    lua_getfield(L, 2, "class_names");
    int names = lua_istable(L, -1) ? lua_gettop(L) : 0;
    lua_getfield(L, 2, "frames");
    int frames = lua_gettop(L);
    luaL_checktype(L, frames, LUA_TTABLE);
    lua_Integer n = luaL_len(L, frames);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, frames, i);
        if (sr_add_one(L, u->sr, names, err, sizeof err) != 0)
            return lb_fail(L, err);
        lua_pop(L, 1);
    }
    char uid[96];
    lumen_status st = lumen_sr_write(u->sr, path, uid, sizeof uid, err, sizeof err);
    lumen_sr_free(u->sr);
    u->sr = NULL;
    if (st != LUMEN_OK)
        return lb_fail(L, err);
    lua_pushstring(L, uid);
    return 1;
}

/* SIGTERM/SIGINT while listening: the loop ends after the current association. Signals are
 * process-wide, so this flag is too. */
static volatile sig_atomic_t listen_signal;

static void on_signal(int sig)
{
    listen_signal = sig;
}

typedef struct listen_ctx {
    lua_State *L;
    int store_ref, idle_ref; /* registry references to the callbacks */
    char error[LUMEN_ERR_MAX];
} listen_ctx;

/* Calls the callback (its reference) with nargs arguments already pushed; 1 to stop. */
static int listen_call(listen_ctx *c, int ref, int nargs)
{
    lua_State *L = c->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_insert(L, -1 - nargs);
    if (lua_pcall(L, nargs, 1, 0) != LUA_OK) {
        snprintf(c->error, sizeof c->error, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 1;
    }
    int stop = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop || listen_signal;
}

static int listen_store(void *user, const char *path, const char *aet, double arrival_ms)
{
    listen_ctx *c = user;
    lua_pushstring(c->L, path);
    lua_pushstring(c->L, aet);
    lua_pushnumber(c->L, arrival_ms);
    return listen_call(c, c->store_ref, 3);
}

static int listen_idle(void *user)
{
    listen_ctx *c = user;
    if (listen_signal)
        return 1;
    if (c->idle_ref == LUA_NOREF)
        return 0;
    return listen_call(c, c->idle_ref, 0);
}

static int l_listen(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lumen_scp_options o = {0};
    o.aet = opt_str(L, 1, "aet");
    o.store_dir = opt_str(L, 1, "store_dir");
    o.port = (int)opt_int(L, 1, "port");
    o.timeout_s = (int)opt_int(L, 1, "timeout");
    o.poll_s = (int)opt_int(L, 1, "poll");
    o.max_pdu = (int)opt_int(L, 1, "max_pdu");
    if (!o.aet || !o.store_dir)
        return luaL_error(L, "dicom_listen: 'aet' and 'store_dir' are required");
    listen_ctx c = {L, LUA_NOREF, LUA_NOREF, ""};
    lua_pushvalue(L, 2);
    c.store_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (lua_isfunction(L, 3)) {
        lua_pushvalue(L, 3);
        c.idle_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    struct sigaction sa, old_term, old_int;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    listen_signal = 0;
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    char err[LUMEN_ERR_MAX];
    lumen_status st = lumen_scp_run(&o, listen_store, listen_idle, &c, err, sizeof err);
    /* the handlers stay: a SIGTERM during the caller's final writes (pending SRs, reports)
     * must not kill the process half-way; SIGKILL still does */
    (void)old_term;
    (void)old_int;
    luaL_unref(L, LUA_REGISTRYINDEX, c.store_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, c.idle_ref);
    if (st != LUMEN_OK)
        return lb_fail(L, err);
    if (c.error[0])
        return lb_fail(L, c.error);
    lua_pushboolean(L, 1);
    lua_pushinteger(L, listen_signal);
    return 2;
}

/* lumen.dicom_send(path, {aet=, peer_aet=, host=, port=, timeout=}) -> true | nil, msg */
static int l_send(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *aet = opt_str(L, 2, "aet"), *peer = opt_str(L, 2, "peer_aet");
    const char *host = opt_str(L, 2, "host");
    int port = (int)opt_int(L, 2, "port"), timeout = (int)opt_int(L, 2, "timeout");
    if (!aet || !peer || !host || port <= 0)
        return luaL_error(L, "dicom_send: aet, peer_aet, host and port are required");
    char err[LUMEN_ERR_MAX];
    if (lumen_scu_store(path, aet, peer, host, port, timeout > 0 ? timeout : 30, err, sizeof err) !=
        LUMEN_OK)
        return lb_fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg dicom_methods[] = {
    {"frame", d_frame}, {"info", d_info}, {"close", d_close}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"dicom_probe", l_probe},       {"dicom_open", l_open},
                                 {"dicom_sr_write", l_sr_write}, {"dicom_listen", l_listen},
                                 {"dicom_send", l_send},         {NULL, NULL}};

void lb_open_dicom(lua_State *L)
{
    static const luaL_Reg dicom_meta[] = {{"__index", d_index}, {NULL, NULL}};
    lb_new_class(L, DICOM_MT, dicom_methods, dicom_meta, d_close);
    luaL_setfuncs(L, funcs, 0);
}
