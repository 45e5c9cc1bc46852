/*
 * lua_dicom.c - DICOM for Lua (runtime/dicom_shim.cc underneath).
 *
 *   lumen.dicom_probe(path)                  -> true | false | nil, msg (unreadable)
 *   local d <close>, err = lumen.dicom_open(path [, {max_side=, max_frames=, max_bytes=}])
 *   d.frames, d.width, d.height, ...         -- every field of lumen_dicom_info ("" when absent)
 *   local img, err = d:frame(k)              -- k 1-based; a "lumen.Image" of modality values
 *   d:info()                                 -> a plain table of the same fields
 *   d:close()                                -- also __gc / __close
 *
 * A DICOM object is "lumen.Dicom" userdata; environment failures (a bad file, a refused limit,
 * an unsupported transfer syntax) return nil, msg, misuse raises.
 */
#include <string.h>

#include "binding.h"

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
    luaL_getmetatable(L, DICOM_MT);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, k);
    return 1;
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

static const luaL_Reg dicom_methods[] = {
    {"frame", d_frame}, {"info", d_info}, {"close", d_close}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"dicom_probe", l_probe}, {"dicom_open", l_open}, {NULL, NULL}};

void lb_open_dicom(lua_State *L)
{
    static const luaL_Reg dicom_meta[] = {{"__index", d_index}, {NULL, NULL}};
    lb_new_class(L, DICOM_MT, dicom_methods, dicom_meta, d_close);
    luaL_setfuncs(L, funcs, 0);
}
