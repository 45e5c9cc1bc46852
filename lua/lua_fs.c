/*
 * lua_fs.c - the little file-system access workflows need and Lua's standard library lacks.
 *
 *   lumen.list_dir(path)   -> sorted array of entry names (without "." and "..") | nil, msg
 *   lumen.file_type(path)  -> "file" | "dir" | "other", size, mtime | nil (does not exist);
 *                             mtime in nanoseconds since the epoch (for cache keys)
 *   lumen.mkdir(path)      -> true | nil, msg (parents too, like mkdir -p; existing is fine)
 *   lumen.isatty(fd)       -> boolean (0 stdin, 1 stdout, 2 stderr)
 *   lumen.write_file(path, text) -> true | nil, msg: atomic (temp file in the same folder,
 *                             fsync, rename, fsync of the folder); only onto a regular file or
 *                             a new name (runtime/sys.c)
 *   lumen.tmp_clean(dir, prefix) -> count of stale "<prefix>*.tmp-<pid>-XXXXXX" files removed
 *   lumen.sha256(text)     -> 64 hex digits
 *   lumen.sha256_file(path) -> 64 hex digits | nil, msg (regular files only: never blocks)
 *
 * Workflows use these instead of io.popen("ls ...") or os.execute("mkdir ..."): no shell, so
 * file names with spaces or quotes are just names. The sandbox (sandbox.c) removes them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binding.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* lumen.list_dir(path) -> names | nil, msg. Names are sorted bytewise, so runs are repeatable. */
static int l_list_dir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d)
        return lb_fail(L, lua_pushfstring(L, "%s: %s", path, strerror(errno)));
    /* collect into a Lua table first (the GC owns it if we raise), then sort a copy */
    lua_newtable(L);
    int t = lua_gettop(L), n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        lua_pushstring(L, e->d_name);
        lua_rawseti(L, -2, ++n);
    }
    closedir(d);
    const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
    if (!names)
        return luaL_error(L, "out of memory");
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, t, i + 1);
        names[i] = lua_tostring(L, -1); /* still referenced by the table after the pop */
        lua_pop(L, 1);
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    free(names);
    return 1;
}

static int l_file_type(lua_State *L)
{
    struct stat st;
    if (stat(luaL_checkstring(L, 1), &st) != 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : "other");
    lua_pushinteger(L, (lua_Integer)st.st_size);
    lua_pushinteger(L, (lua_Integer)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
    return 3;
}

/* lumen.mkdir(path) -> true | nil, msg: creates missing parents; an existing folder is fine. */
static int l_mkdir(lua_State *L)
{
    char err[LUMEN_ERR_MAX];
    if (lumen_mkdirs(luaL_checkstring(L, 1), err, sizeof err) != LUMEN_OK)
        return lb_fail(L, lua_pushstring(L, err));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_write_file(lua_State *L)
{
    size_t n;
    const char *path = luaL_checkstring(L, 1);
    const char *text = luaL_checklstring(L, 2, &n);
    char err[LUMEN_ERR_MAX];
    if (lumen_file_write(path, text, n, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, lua_pushstring(L, err));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_tmp_clean(lua_State *L)
{
    lua_pushinteger(L, lumen_tmp_clean(luaL_checkstring(L, 1), luaL_checkstring(L, 2)));
    return 1;
}

static int l_sha256(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char hex[65];
    if (lumen_sha256_hex(s, n, hex) != LUMEN_OK)
        return luaL_error(L, "sha256: out of memory");
    lua_pushstring(L, hex);
    return 1;
}

static int l_sha256_file(lua_State *L)
{
    char hex[65], err[LUMEN_ERR_MAX];
    if (lumen_sha256_file(luaL_checkstring(L, 1), hex, err, sizeof err) != LUMEN_OK)
        return lb_fail(L, lua_pushstring(L, err));
    lua_pushstring(L, hex);
    return 1;
}

static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

static const luaL_Reg fs_funcs[] = {
    {"list_dir", l_list_dir}, {"file_type", l_file_type},     {"mkdir", l_mkdir},
    {"isatty", l_isatty},     {"write_file", l_write_file},   {"tmp_clean", l_tmp_clean},
    {"sha256", l_sha256},     {"sha256_file", l_sha256_file}, {NULL, NULL}};

/* Adds the functions to the module table on top of the stack. */
void lb_open_fs(lua_State *L)
{
    luaL_setfuncs(L, fs_funcs, 0);
}
