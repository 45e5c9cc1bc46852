/*
 * lua_image.c - images and host-side post-processing for Lua.
 *
 *   local img, err = lumen.png_read(path [, {max_side = 8192}])  -- nil, msg on a bad file
 *   img.width, img.height, img.channels, img.bit_depth
 *   local t = img:tensor(ctx [, name])        -- [1, C, H, W] raw sample values on the device
 *   lumen.png_write(path, tensor, {bit_depth = 8|16, scale = s, offset = o})  -- gray or RGB
 *   lumen.mask_stats(prob_tensor, threshold) -> {area_fraction=, components=, largest=,
 *       largest_share=, sizes = {...}}
 *   lumen.overlay_png(path, frame_tensor, prob_tensor, {threshold=, alpha=, step=})
 *
 * Images are "lumen.Image" userdata holding host pixels (planar floats); the pixel data never
 * passes through Lua tables.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"

#define IMAGE_MT "lumen.Image"

typedef struct limage {
    lumen_image img; /* data NULL once freed */
} limage;

static limage *check_image(lua_State *L, int i)
{
    limage *u = luaL_checkudata(L, i, IMAGE_MT);
    if (!u->img.data)
        luaL_error(L, "attempt to use a freed image");
    return u;
}

static int l_png_read(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int max_side = 0;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "max_side");
        max_side = (int)luaL_optinteger(L, -1, 0);
        lua_pop(L, 1);
    }
    limage *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    luaL_setmetatable(L, IMAGE_MT);
    char err[LUMEN_ERR_MAX];
    if (lumen_png_read(path, max_side, &u->img, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, err);
    return 1;
}

lumen_image *lb_new_image(lua_State *L)
{
    limage *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    luaL_setmetatable(L, IMAGE_MT);
    return &u->img;
}

static int i_index(lua_State *L)
{
    limage *u = check_image(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (!strcmp(k, "width"))
        lua_pushinteger(L, u->img.width);
    else if (!strcmp(k, "height"))
        lua_pushinteger(L, u->img.height);
    else if (!strcmp(k, "channels"))
        lua_pushinteger(L, u->img.channels);
    else if (!strcmp(k, "bit_depth"))
        lua_pushinteger(L, u->img.bit_depth);
    else
        return lb_push_method(L, IMAGE_MT, k);
    return 1;
}

/* img:tensor(ctx [, name]) -> Tensor [1, C, H, W] | nil, msg */
static int i_tensor(lua_State *L)
{
    limage *u = check_image(L, 1);
    lctx *c = lb_check_ctx(L, 2);
    const char *name = luaL_optstring(L, 3, "image");
    lumen_shape s = {4, {1, u->img.channels, u->img.height, u->img.width}};
    lumen_tensor *t;
    if (lumen_tensor_new(c->ctx, name, &s, &t) != LUMEN_OK)
        return lb_fail(L, lumen_ctx_error(c->ctx));
    if (lumen_tensor_write(t, u->img.data, (size_t)lumen_shape_numel(&s)) != LUMEN_OK) {
        lumen_tensor_free(t);
        return lb_fail(L, lumen_ctx_error(c->ctx));
    }
    lb_push_tensor(L, t, 2, 0);
    return 1;
}

static int i_free(lua_State *L)
{
    limage *u = luaL_checkudata(L, 1, IMAGE_MT);
    lumen_image_free(&u->img);
    return 0;
}

/* Reads a tensor into a new host buffer; raises on a failed read (an OpenCL failure here means
 * the device is gone, which a workflow cannot handle per frame anyway). */
static float *read_tensor(lua_State *L, lumen_tensor *t, int64_t *n)
{
    *n = lumen_tensor_numel(t);
    float *h = malloc((size_t)(*n ? *n : 1) * sizeof(float));
    if (!h)
        luaL_error(L, "out of memory");
    if (lumen_tensor_read(t, h, (size_t)*n) != LUMEN_OK) {
        free(h);
        luaL_error(L, "reading tensor: %s", lumen_ctx_error(lumen_tensor_ctx(t)));
    }
    return h;
}

static float opt_field(lua_State *L, int t, const char *k, float def)
{
    if (!lua_istable(L, t))
        return def;
    lua_getfield(L, t, k);
    float v = (float)luaL_optnumber(L, -1, def);
    lua_pop(L, 1);
    return v;
}

/* Writes img to path as PNG and frees img's data; true, or nil, msg. */
static int write_png(lua_State *L, const char *path, lumen_image *img)
{
    char err[LUMEN_ERR_MAX];
    lumen_status st = lumen_png_write(path, img, err, sizeof err);
    free(img->data);
    if (st != LUMEN_OK)
        return lb_fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* lumen.png_write(path, tensor [, {bit_depth=8, scale=1, offset=0}]): tensor [1,C,H,W] or
 * [C,H,W] or [H,W] with C 1, 3 or 4; stored value = v*scale + offset. */
static int l_png_write(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lumen_tensor *t = lb_check_tensor(L, 2);
    const lumen_shape *s = lumen_tensor_shape(t);
    int nd = s->ndim;
    luaL_argcheck(L, nd >= 2 && nd <= 4 && (nd < 4 || s->d[0] == 1), 2,
                  "expected a [1,C,H,W], [C,H,W] or [H,W] tensor");
    int64_t c = nd == 2 ? 1 : s->d[nd - 3];
    luaL_argcheck(L, c == 1 || c == 3 || c == 4, 2, "1, 3 or 4 channels");
    lumen_image img = {(int)s->d[nd - 1], (int)s->d[nd - 2], (int)c,
                       (int)opt_field(L, 3, "bit_depth", 8), NULL};
    float scale = opt_field(L, 3, "scale", 1), offset = opt_field(L, 3, "offset", 0);
    int64_t n;
    img.data = read_tensor(L, t, &n);
    for (int64_t i = 0; i < n; i++)
        img.data[i] = img.data[i] * scale + offset;
    return write_png(L, path, &img);
}

/* The last two axes of a tensor as (H, W); the rest must be 1. */
static void plane_of(lua_State *L, int arg, lumen_tensor *t, int *h, int *w)
{
    const lumen_shape *s = lumen_tensor_shape(t);
    luaL_argcheck(L, s->ndim >= 2, arg, "expected an image-shaped tensor");
    for (int i = 0; i < s->ndim - 2; i++)
        luaL_argcheck(L, s->d[i] == 1, arg, "expected a single-plane tensor [1,1,H,W]");
    *h = (int)s->d[s->ndim - 2];
    *w = (int)s->d[s->ndim - 1];
}

/* lumen.mask_stats(prob_tensor [, threshold=0.5]) */
static int l_mask_stats(lua_State *L)
{
    lumen_tensor *t = lb_check_tensor(L, 1);
    float thr = (float)luaL_optnumber(L, 2, 0.5);
    int h, w;
    plane_of(L, 1, t, &h, &w);
    int64_t n;
    float *p = read_tensor(L, t, &n);
    int64_t on = 0, nonfinite = 0;
    for (int64_t i = 0; i < n; i++) {
        nonfinite += !isfinite(p[i]);
        p[i] = p[i] > thr ? 1.0f : 0.0f;
        on += p[i] > 0;
    }
    int64_t sizes[16] = {0};
    int k = lumen_components(p, w, h, NULL, sizes, 16);
    free(p);
    if (k < 0)
        return luaL_error(L, "out of memory");
    lua_createtable(L, 0, 7);
    lb_set_int(L, "nonfinite", (lua_Integer)nonfinite);
    lb_set_num(L, "area_fraction", n ? (double)on / (double)n : 0);
    lb_set_int(L, "pixels", (lua_Integer)on);
    lb_set_int(L, "components", k);
    lb_set_int(L, "largest", (lua_Integer)sizes[0]);
    lb_set_num(L, "largest_share", on ? (double)sizes[0] / (double)on : 0);
    lua_createtable(L, k < 16 ? k : 16, 0);
    for (int i = 0; i < k && i < 16; i++) {
        lua_pushinteger(L, (lua_Integer)sizes[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "sizes");
    return 1;
}

/* lumen.overlay_png(path, frame, prob [, {threshold=0.5, alpha=0.55, step=1}]): the frame
 * min-max scaled to gray, vessels (prob > threshold) tinted red; every step-th pixel (a
 * thumbnail when step > 1). */
static int l_overlay_png(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lumen_tensor *ft = lb_check_tensor(L, 2), *pt = lb_check_tensor(L, 3);
    float thr = opt_field(L, 4, "threshold", 0.5f), alpha = opt_field(L, 4, "alpha", 0.55f);
    int step = (int)opt_field(L, 4, "step", 1);
    int h, w, h2, w2;
    plane_of(L, 2, ft, &h, &w);
    plane_of(L, 3, pt, &h2, &w2);
    luaL_argcheck(L, h == h2 && w == w2, 3, "frame and mask sizes differ");
    luaL_argcheck(L, step >= 1, 4, "step must be >= 1");
    int64_t n;
    float *f = read_tensor(L, ft, &n), *p = read_tensor(L, pt, &n);
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        lo = fminf(lo, f[i]);
        hi = fmaxf(hi, f[i]);
    }
    float range = hi > lo ? hi - lo : 1;
    lumen_image img = {(w + step - 1) / step, (h + step - 1) / step, 3, 8, NULL};
    size_t plane = (size_t)img.width * img.height;
    img.data = malloc(3 * plane * sizeof(float));
    if (!img.data) {
        free(f);
        free(p);
        return luaL_error(L, "out of memory");
    }
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++) {
            size_t s = (size_t)y * step * w + (size_t)x * step, d = (size_t)y * img.width + x;
            float g = 255.0f * (f[s] - lo) / range;
            int on = p[s] > thr;
            img.data[d] = on ? (1 - alpha) * g + alpha * 255.0f : g;
            img.data[plane + d] = on ? (1 - alpha) * g + alpha * 40.0f : g;
            img.data[2 * plane + d] = on ? (1 - alpha) * g + alpha * 40.0f : g;
        }
    free(f);
    free(p);
    return write_png(L, path, &img);
}

static const luaL_Reg image_methods[] = {{"tensor", i_tensor}, {"free", i_free}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"png_read", l_png_read},
                                 {"png_write", l_png_write},
                                 {"mask_stats", l_mask_stats},
                                 {"overlay_png", l_overlay_png},
                                 {NULL, NULL}};

void lb_open_image(lua_State *L)
{
    static const luaL_Reg image_meta[] = {{"__index", i_index}, {NULL, NULL}};
    lb_new_class(L, IMAGE_MT, image_methods, image_meta, i_free);
    luaL_setfuncs(L, funcs, 0);
}
