/*
 * program.c - kernel programs: built lazily per (family, options), cached on disk, or loaded from
 * a binary-only kernels file.
 *
 * Source of a program = the generated prelude (ACT_* codes from LUMEN_ACT_LIST, variants.c) +
 * kernels/common.cl + kernels/<family>.cl, joined with '#line' directives
 * so that build logs name '<family>.cl:<line>'. Sources are embedded at build time
 * (kernels_embed.c); $LUMEN_KERNEL_DIR reads them from disk instead, for kernel development.
 *
 * Disk cache: one file per program, named by a 128-bit hash of the key (platform, device name,
 * driver version, lumen version, options, source hash). The file repeats the key and carries a
 * checksum of the binary: an entry that is truncated, corrupt or for another key is rebuilt
 * silently and overwritten. Writes go to a temporary name and are renamed into place, so a
 * reader never sees half a file.
 *
 * Binary-only file (lumen compile): "LUMENKB1", then counted strings and blobs:
 *   device name, driver, lumen version, n, n x (family, options, source hash, binary).
 * In that mode nothing is compiled: a program missing from the file is an error naming it, and
 * so is one whose recorded source hash (common.cl + <family>.cl) differs from this build's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MAX_KERNELS_PER_PROGRAM 32
#define CACHE_MAGIC "LUMENPC1"
#define KFILE_MAGIC "LUMENKB1"
#define MAX_BINARY (256u << 20) /* sanity bound on a program binary read from disk */

struct lumen__program {
    lumen__program *next;
    char family[32];
    char *options;
    cl_program prog;
    int nk;
    struct {
        char name[64];
        cl_kernel k;
        int launched; /* lumen__launch ran it at least once (coverage tests) */
    } kernels[MAX_KERNELS_PER_PROGRAM];
};

typedef struct kfile_entry {
    char *family, *options;
    uint64_t src_hash;
    unsigned char *bin;
    size_t len;
} kfile_entry;

typedef struct kfile {
    int n;
    kfile_entry *e;
} kfile;

uint64_t lumen__hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- sources ---- */

/* The text of kernels/<family>.cl: from $LUMEN_KERNEL_DIR when set, else embedded. Caller frees. */
static char *family_text(lumen_ctx *ctx, const char *family, lumen_status *st)
{
    const char *dir = getenv("LUMEN_KERNEL_DIR");
    if (dir && *dir) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.cl", dir, family);
        unsigned char *t;
        size_t n;
        char why[LUMEN_ERR_MAX];
        if (lumen__read_file(path, 16u << 20, &t, &n, why, sizeof why) != LUMEN_OK) {
            *st = lumen__fail(ctx, LUMEN_EIO, "cannot read kernel source %s", why);
            return NULL;
        }
        return (char *)t;
    }
    for (int i = 0; i < lumen__kernel_source_count; i++)
        if (!strcmp(lumen__kernel_sources[i].family, family)) {
            char *t = strdup(lumen__kernel_sources[i].text);
            if (!t)
                *st = lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
            return t;
        }
    *st = lumen__fail(ctx, LUMEN_ENOTFOUND, "no kernel family '%s'", family);
    return NULL;
}

/* The prelude generated from the C lists (variants.c) + common + '#line 1 "<family>.cl"' + body,
 * malloc'd; NULL when out of memory. */
static char *join_source(const char *common, const char *family, const char *body)
{
    size_t n = strlen(lumen__cl_prelude) + strlen(common) + strlen(body) + strlen(family) + 64;
    char *src = malloc(n);
    if (src)
        snprintf(src, n, "%s#line 1 \"common.cl\"\n%s\n#line 1 \"%s.cl\"\n%s", lumen__cl_prelude,
                 common, family, body);
    return src;
}

/* The prelude + common.cl + '#line 1 "<family>.cl"' + <family>.cl. Caller frees. */
static char *program_source(lumen_ctx *ctx, const char *family, lumen_status *st)
{
    char *common = family_text(ctx, "common", st);
    if (!common)
        return NULL;
    char *body = family_text(ctx, family, st);
    if (!body) {
        free(common);
        return NULL;
    }
    char *src = join_source(common, family, body);
    if (!src)
        *st = lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
    free(common);
    free(body);
    return src;
}

/* ---- disk cache ---- */

void lumen__cache_dir_init(lumen_ctx *ctx, const char *opt)
{
    const char *env = getenv("LUMEN_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    ctx->cache_dir[0] = '\0';
    if (opt)
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", opt);
    else if (env)
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", env);
    else if (xdg && *xdg)
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/lumen", xdg);
    else if (home && *home)
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/.cache/lumen", home);
}

static void cache_key(const lumen_ctx *ctx, const char *options, const char *src, char *key,
                      size_t len)
{
    snprintf(key, len, "%s\n%s\n%s\nlumen %s\n%s\nsrc %016llx", ctx->info.platform, ctx->info.name,
             ctx->info.driver, LUMEN_VERSION, options,
             (unsigned long long)lumen__hash64(src, strlen(src), 0));
}

static void cache_path(const lumen_ctx *ctx, const char *key, char *path, size_t len)
{
    snprintf(path, len, "%s/%016llx%016llx.bin", ctx->cache_dir,
             (unsigned long long)lumen__hash64(key, strlen(key), 0),
             (unsigned long long)lumen__hash64(key, strlen(key), 0x9e3779b97f4a7c15ull));
}

/* Reads a cached binary for key; NULL when absent, corrupt or mismatched (counted). */
static unsigned char *cache_load(lumen_ctx *ctx, const char *key, size_t *len)
{
    char path[700];
    cache_path(ctx, key, path, sizeof path);
    size_t n;
    unsigned char *buf;
    if (lumen__read_file(path, MAX_BINARY, &buf, &n, NULL, 0) != LUMEN_OK)
        return NULL;
    size_t klen = strlen(key), hdr = 8 + 4 + klen + 8 + 8;
    uint32_t fk;
    uint64_t blen, bhash;
    if (n < hdr || memcmp(buf, CACHE_MAGIC, 8) != 0)
        goto bad;
    memcpy(&fk, buf + 8, 4);
    if (fk != klen || memcmp(buf + 12, key, klen) != 0)
        goto bad;
    memcpy(&blen, buf + 12 + klen, 8);
    memcpy(&bhash, buf + 20 + klen, 8);
    if (blen != n - hdr || blen == 0 || lumen__hash64(buf + hdr, blen, 0) != bhash)
        goto bad;
    memmove(buf, buf + hdr, blen);
    *len = blen;
    return buf;
bad:
    ctx->stats.disk_rejected++;
    free(buf);
    return NULL;
}

/* Writes a cache entry atomically. Failures are ignored: the cache is an optimisation. */
static void cache_store(lumen_ctx *ctx, const char *key, const unsigned char *bin, size_t len)
{
    char path[700];
    lumen__out o;
    if (lumen_mkdirs(ctx->cache_dir, NULL, 0) != LUMEN_OK)
        return;
    cache_path(ctx, key, path, sizeof path);
    if (lumen__out_begin(&o, path, NULL, 0) != LUMEN_OK)
        return;
    uint32_t klen = (uint32_t)strlen(key);
    uint64_t blen = len, bhash = lumen__hash64(bin, len, 0);
    int ok = fwrite(CACHE_MAGIC, 1, 8, o.f) == 8 && fwrite(&klen, 4, 1, o.f) == 1 &&
             fwrite(key, 1, klen, o.f) == klen && fwrite(&blen, 8, 1, o.f) == 1 &&
             fwrite(&bhash, 8, 1, o.f) == 1 && fwrite(bin, 1, len, o.f) == len;
    lumen__out_end(&o, ok ? LUMEN_OK : LUMEN_EIO, NULL, 0);
}

/* ---- building ---- */

static lumen_status program_binary(lumen_ctx *ctx, cl_program p, unsigned char **bin, size_t *len)
{
    size_t n = 0;
    cl_int rc = clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL);
    if (rc != CL_SUCCESS)
        return lumen__clfail(ctx, rc, "clGetProgramInfo(BINARY_SIZES)");
    if (n == 0)
        return lumen__fail(ctx, LUMEN_EUNSUPPORTED, "the driver returned no program binary");
    *bin = malloc(n);
    if (!*bin)
        return lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
    rc = clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof *bin, bin, NULL);
    if (rc != CL_SUCCESS) {
        free(*bin);
        *bin = NULL;
        return lumen__clfail(ctx, rc, "clGetProgramInfo(BINARIES)");
    }
    *len = n;
    return LUMEN_OK;
}

static lumen_status build(lumen_ctx *ctx, cl_program p, const char *family, const char *options)
{
    char opts[512];
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 %s", options);
    cl_int rc = clBuildProgram(p, 1, &ctx->device, opts, NULL, NULL);
    if (rc == CL_SUCCESS)
        return LUMEN_OK;
    /* Keep the head of the build log: the first errors carry '<family>.cl:line:col'. */
    char log[LUMEN_ERR_MAX - 128] = "";
    size_t n = 0;
    clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, &n);
    if (n == 0 || n > sizeof log - 1) {
        /* log longer than the buffer: fetch all, keep the head */
        size_t full = 0;
        clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &full);
        char *all = full ? malloc(full + 1) : NULL;
        if (all && clGetProgramBuildInfo(p, ctx->device, CL_PROGRAM_BUILD_LOG, full, all, NULL) ==
                       CL_SUCCESS) {
            all[full] = '\0';
            snprintf(log, sizeof log, "%s", all);
        }
        free(all);
    }
    log[sizeof log - 1] = '\0';
    return lumen__fail(ctx, LUMEN_EBUILD, "building kernels/%s.cl [%s] failed (%s):\n%s", family,
                       options, lumen__cl_error_name(rc), log);
}

static lumen_status from_binary(lumen_ctx *ctx, const unsigned char *bin, size_t len,
                                cl_program *out)
{
    cl_int rc, brc = CL_SUCCESS;
    *out = clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &len, &bin, &brc, &rc);
    if (rc != CL_SUCCESS || brc != CL_SUCCESS) {
        if (*out)
            clReleaseProgram(*out);
        *out = NULL;
        return lumen__clfail(ctx, rc != CL_SUCCESS ? rc : brc, "clCreateProgramWithBinary");
    }
    return LUMEN_OK;
}

static kfile_entry *kfile_find(lumen_ctx *ctx, const char *family, const char *options);

/* Hash of a program's source (common.cl + <family>.cl, joined as program_source does), as
 * recorded in a kernels file. embedded: this build's embedded sources, never $LUMEN_KERNEL_DIR
 * (binary-only mode reads no source file). */
static lumen_status source_hash(lumen_ctx *ctx, const char *family, int embedded, uint64_t *h)
{
    lumen_status st = LUMEN_OK;
    char *src = NULL;
    if (!embedded) {
        src = program_source(ctx, family, &st);
    } else {
        const char *common = NULL, *body = NULL;
        for (int i = 0; i < lumen__kernel_source_count; i++) {
            if (!strcmp(lumen__kernel_sources[i].family, "common"))
                common = lumen__kernel_sources[i].text;
            if (!strcmp(lumen__kernel_sources[i].family, family))
                body = lumen__kernel_sources[i].text;
        }
        if (!common || !body)
            return lumen__fail(ctx, LUMEN_ENOTFOUND, "no kernel family '%s'", family);
        if (!(src = join_source(common, family, body)))
            st = lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
    }
    if (!src)
        return st;
    *h = lumen__hash64(src, strlen(src), 0);
    free(src);
    return LUMEN_OK;
}

/* Makes the cl_program for (family, options): binary-only file, disk cache, or source. */
static lumen_status make_program(lumen_ctx *ctx, const char *family, const char *options,
                                 cl_program *out)
{
    lumen_status st = LUMEN_OK;
    char *src = NULL, key[1024];
    unsigned char *bin = NULL;
    size_t len = 0;
    cl_int rc;
    double t0 = lumen_clock_ms();
    *out = NULL;
    if (ctx->kernels_file) {
        kfile_entry *e = kfile_find(ctx, family, options);
        if (!e) {
            st = lumen__fail(ctx, LUMEN_ENOTFOUND,
                             "binary-only mode: kernels file %s has no program kernels/%s.cl "
                             "[%s]; rebuild it with 'lumen compile'",
                             ctx->kernels_path, family, options);
            goto cleanup;
        }
        uint64_t h = 0;
        st = source_hash(ctx, family, 1, &h);
        if (st == LUMEN_OK && h != e->src_hash)
            st = lumen__fail(ctx, LUMEN_EINVAL,
                             "binary-only mode: kernels file %s holds kernels/%s.cl as it was "
                             "when compiled, not this lumen's source; rebuild it with 'lumen "
                             "compile'",
                             ctx->kernels_path, family);
        if (st == LUMEN_OK)
            st = from_binary(ctx, e->bin, e->len, out);
        if (st == LUMEN_OK)
            st = build(ctx, *out, family, options);
        if (st == LUMEN_OK)
            ctx->stats.binary_file++;
        goto cleanup;
    }
    src = program_source(ctx, family, &st);
    if (!src)
        goto cleanup;
    cache_key(ctx, options, src, key, sizeof key);
    if (ctx->cache_dir[0] && (bin = cache_load(ctx, key, &len)) != NULL) {
        if (from_binary(ctx, bin, len, out) == LUMEN_OK &&
            build(ctx, *out, family, options) == LUMEN_OK) {
            ctx->stats.disk_hits++;
            goto cleanup;
        }
        /* the driver refused its own cached binary: rebuild from source */
        ctx->stats.disk_rejected++;
        if (*out)
            clReleaseProgram(*out);
        *out = NULL;
        free(bin);
        bin = NULL;
    }
    const char *s = src;
    *out = clCreateProgramWithSource(ctx->cl, 1, &s, NULL, &rc);
    if (rc != CL_SUCCESS) {
        st = lumen__clfail(ctx, rc, "clCreateProgramWithSource");
        goto cleanup;
    }
    st = build(ctx, *out, family, options);
    if (st != LUMEN_OK)
        goto cleanup;
    ctx->stats.disk_misses++;
    if (ctx->cache_dir[0] && program_binary(ctx, *out, &bin, &len) == LUMEN_OK)
        cache_store(ctx, key, bin, len);
    ctx->err[0] = '\0';
cleanup:
    if (st != LUMEN_OK && *out) {
        clReleaseProgram(*out);
        *out = NULL;
    }
    ctx->stats.build_ms += lumen_clock_ms() - t0;
    free(src);
    free(bin);
    return st;
}

static lumen__program *find_program(lumen_ctx *ctx, const char *family, const char *options)
{
    for (lumen__program *p = ctx->programs; p; p = p->next)
        if (!strcmp(p->family, family) && !strcmp(p->options, options))
            return p;
    return NULL;
}

static lumen_status get_program(lumen_ctx *ctx, const char *family, const char *options,
                                lumen__program **out)
{
    lumen__program *p = find_program(ctx, family, options);
    if (p) {
        ctx->stats.memory_hits++;
        *out = p;
        return LUMEN_OK;
    }
    if (strlen(family) >= sizeof p->family)
        return lumen__fail(ctx, LUMEN_EINVAL, "kernel family name too long: %s", family);
    p = calloc(1, sizeof *p);
    if (!p || !(p->options = strdup(options))) {
        free(p);
        return lumen__fail(ctx, LUMEN_ENOMEM, "out of host memory");
    }
    snprintf(p->family, sizeof p->family, "%s", family);
    lumen_status st = make_program(ctx, family, options, &p->prog);
    if (st != LUMEN_OK) {
        free(p->options);
        free(p);
        return st;
    }
    p->next = ctx->programs;
    ctx->programs = p;
    *out = p;
    return LUMEN_OK;
}

lumen_status lumen__kernel(lumen_ctx *ctx, const char *family, const char *options,
                           const char *name, cl_kernel *out)
{
    return lumen__kernel_prec(ctx, ctx->launch_prec, family, options, name, out);
}

lumen_status lumen__kernel_prec(lumen_ctx *ctx, lumen_precision prec, const char *family,
                                const char *options, const char *name, cl_kernel *out)
{
    lumen__program *p;
    char buf[256];
    options = lumen__prec_options(prec, options, buf, sizeof buf);
    lumen_status st = get_program(ctx, family, options, &p);
    if (st != LUMEN_OK)
        return st;
    for (int i = 0; i < p->nk; i++)
        if (!strcmp(p->kernels[i].name, name)) {
            *out = p->kernels[i].k;
            return LUMEN_OK;
        }
    if (p->nk == MAX_KERNELS_PER_PROGRAM || strlen(name) >= sizeof p->kernels[0].name)
        return lumen__fail(ctx, LUMEN_EINVAL, "too many kernels or name too long: %s", name);
    cl_int rc;
    cl_kernel k = clCreateKernel(p->prog, name, &rc);
    if (rc != CL_SUCCESS) {
        char what[160];
        snprintf(what, sizeof what, "clCreateKernel(%s in kernels/%s.cl)", name, family);
        return lumen__clfail(ctx, rc, what);
    }
    snprintf(p->kernels[p->nk].name, sizeof p->kernels[0].name, "%s", name);
    p->kernels[p->nk++].k = k;
    *out = k;
    return LUMEN_OK;
}

void lumen__programs_free(lumen_ctx *ctx)
{
    lumen__program *p = ctx->programs, *next;
    for (; p; p = next) {
        next = p->next;
        for (int i = 0; i < p->nk; i++)
            clReleaseKernel(p->kernels[i].k);
        clReleaseProgram(p->prog);
        free(p->options);
        free(p);
    }
    ctx->programs = NULL;
}

#define MAX_VARIANTS 128

/* Every program of every op (lumen__variants), or ERANGE when there are more than fit. */
static lumen_status all_variants(lumen_ctx *ctx, lumen__variant *vs, int *n)
{
    *n = lumen__variants(vs, MAX_VARIANTS);
    if (*n > MAX_VARIANTS)
        return lumen__fail(ctx, LUMEN_ERANGE, "%d kernel variants, at most %d: raise MAX_VARIANTS",
                           *n, MAX_VARIANTS);
    return LUMEN_OK;
}

lumen_status lumen_ctx_build_all(lumen_ctx *ctx)
{
    lumen__variant vs[MAX_VARIANTS];
    int nv;
    lumen_status st = all_variants(ctx, vs, &nv);
    if (st != LUMEN_OK)
        return st;
    for (int i = 0; i < nv; i++) {
        lumen__program *p;
        char buf[256];
        st = get_program(ctx, vs[i].family, lumen__variant_options(&vs[i], buf, sizeof buf), &p);
        if (st != LUMEN_OK)
            return st;
    }
    return LUMEN_OK;
}

lumen_status lumen__variant_kernels(lumen_ctx *ctx, const lumen__variant *v, char *names,
                                    size_t len)
{
    lumen__program *p;
    char buf[256];
    lumen_status st = get_program(ctx, v->family, lumen__variant_options(v, buf, sizeof buf), &p);
    if (st != LUMEN_OK)
        return st;
    names[0] = '\0';
    cl_int rc = clGetProgramInfo(p->prog, CL_PROGRAM_KERNEL_NAMES, len - 1, names, NULL);
    names[len - 1] = '\0';
    return rc == CL_SUCCESS ? LUMEN_OK : lumen__clfail(ctx, rc, "clGetProgramInfo(KERNEL_NAMES)");
}

int lumen__kernel_used(lumen_ctx *ctx, const char *family, const char *options, const char *name)
{
    lumen__program *p = find_program(ctx, family, options);
    for (int k = 0; p && k < p->nk; k++)
        if (!strcmp(p->kernels[k].name, name))
            return p->kernels[k].launched;
    return 0;
}

void lumen__mark_launched(lumen_ctx *ctx, cl_kernel k)
{
    for (lumen__program *p = ctx->programs; p; p = p->next)
        for (int i = 0; i < p->nk; i++)
            if (p->kernels[i].k == k) {
                p->kernels[i].launched = 1;
                return;
            }
}

/* ---- binary-only kernels file ---- */

typedef struct reader {
    const unsigned char *p, *end;
} reader;

static int rd_u64(reader *r, uint64_t *v)
{
    if (r->end - r->p < 8)
        return -1;
    memcpy(v, r->p, 8);
    r->p += 8;
    return 0;
}

/* A counted blob; *out points into the buffer (not terminated). */
static int rd_blob(reader *r, const unsigned char **out, size_t *len, size_t limit)
{
    uint64_t n;
    if (rd_u64(r, &n) || n > limit || n > (uint64_t)(r->end - r->p))
        return -1;
    *out = r->p;
    *len = (size_t)n;
    r->p += n;
    return 0;
}

static char *rd_str(reader *r)
{
    const unsigned char *s;
    size_t n;
    if (rd_blob(r, &s, &n, 4096))
        return NULL;
    char *t = malloc(n + 1);
    if (t) {
        memcpy(t, s, n);
        t[n] = '\0';
    }
    return t;
}

static void kfile_free(kfile *kf)
{
    if (!kf)
        return;
    for (int i = 0; i < kf->n; i++) {
        free(kf->e[i].family);
        free(kf->e[i].options);
        free(kf->e[i].bin);
    }
    free(kf->e);
    free(kf);
}

void lumen__kernels_file_close(lumen_ctx *ctx)
{
    kfile_free(ctx->kernels_file);
    ctx->kernels_file = NULL;
}

lumen_status lumen__kernels_file_open(lumen_ctx *ctx)
{
    size_t n;
    lumen_status st = LUMEN_EFORMAT;
    char *dev = NULL, *drv = NULL, *ver = NULL;
    unsigned char *buf;
    char why[LUMEN_ERR_MAX];
    if (lumen__read_file(ctx->kernels_path, 1u << 30, &buf, &n, why, sizeof why) != LUMEN_OK)
        return lumen__fail(ctx, LUMEN_EIO,
                           "cannot read kernels file %s (LUMEN_KERNELS must name a file written "
                           "by 'lumen compile')",
                           why);
    kfile *kf = calloc(1, sizeof *kf);
    reader r = {buf + 8, buf + n};
    uint64_t count;
    if (!kf)
        goto cleanup;
    if (n < 8 || memcmp(buf, KFILE_MAGIC, 8) != 0 || !(dev = rd_str(&r)) || !(drv = rd_str(&r)) ||
        !(ver = rd_str(&r)) || rd_u64(&r, &count) || count > 4096)
        goto cleanup;
    if (strcmp(dev, ctx->info.name) != 0 || strcmp(drv, ctx->info.driver) != 0) {
        st = lumen__fail(ctx, LUMEN_EINVAL,
                         "kernels file %s was compiled for '%s' (driver %s), not for this device "
                         "'%s' (driver %s)",
                         ctx->kernels_path, dev, drv, ctx->info.name, ctx->info.driver);
        goto cleanup;
    }
    if (strcmp(ver, LUMEN_VERSION) != 0) {
        st = lumen__fail(ctx, LUMEN_EINVAL, "kernels file %s is from lumen %s, this is lumen %s",
                         ctx->kernels_path, ver, LUMEN_VERSION);
        goto cleanup;
    }
    kf->e = calloc(count ? count : 1, sizeof *kf->e);
    if (!kf->e)
        goto cleanup;
    for (uint64_t i = 0; i < count; i++) {
        kfile_entry *e = &kf->e[kf->n];
        const unsigned char *b;
        e->family = rd_str(&r);
        e->options = rd_str(&r);
        kf->n++;
        if (!e->family || !e->options || rd_u64(&r, &e->src_hash) ||
            rd_blob(&r, &b, &e->len, MAX_BINARY) || e->len == 0 || !(e->bin = malloc(e->len)))
            goto cleanup;
        memcpy(e->bin, b, e->len);
    }
    /* A file from an older build may lack variants added since: name them all now rather than
     * fail on the first op that needs one, halfway through a model. */
    char missing[LUMEN_ERR_MAX / 2] = "";
    lumen__variant vs[MAX_VARIANTS];
    int n_missing = 0, n_fp16 = 0, nv;
    if ((st = all_variants(ctx, vs, &nv)) != LUMEN_OK)
        goto cleanup;
    for (int i = 0; i < nv; i++) {
        const lumen__variant *v = &vs[i];
        char buf[256];
        const char *opts = lumen__variant_options(v, buf, sizeof buf);
        int found = 0;
        for (int j = 0; j < kf->n && !found; j++)
            found = !strcmp(kf->e[j].family, v->family) && !strcmp(kf->e[j].options, opts);
        if (found)
            continue;
        size_t at = strlen(missing);
        if (at < sizeof missing - 1)
            snprintf(missing + at, sizeof missing - at, "%s%s.cl [%s] (%s)", n_missing ? ", " : "",
                     v->family, opts, v->fp16 ? "fp16" : "fp32");
        n_missing++;
        n_fp16 += v->fp16;
    }
    if (n_missing) {
        st = lumen__fail(ctx, LUMEN_ENOTFOUND,
                         "kernels file %s lacks %d of the %d kernel variants (%d fp32, %d "
                         "fp16 storage): %s; rebuild it with 'lumen compile'",
                         ctx->kernels_path, n_missing, nv, n_missing - n_fp16, n_fp16, missing);
        goto cleanup;
    }
    ctx->kernels_file = kf;
    kf = NULL;
    st = LUMEN_OK;
cleanup:
    if (st == LUMEN_EFORMAT)
        lumen__fail(ctx, st, "kernels file %s is malformed or truncated", ctx->kernels_path);
    kfile_free(kf);
    free(dev);
    free(drv);
    free(ver);
    free(buf);
    return st;
}

static kfile_entry *kfile_find(lumen_ctx *ctx, const char *family, const char *options)
{
    kfile *kf = ctx->kernels_file;
    for (int i = 0; i < kf->n; i++)
        if (!strcmp(kf->e[i].family, family) && !strcmp(kf->e[i].options, options))
            return &kf->e[i];
    return NULL;
}

static int wr_blob(FILE *f, const void *p, size_t n)
{
    uint64_t v = n;
    return fwrite(&v, 8, 1, f) == 1 && fwrite(p, 1, n, f) == n;
}

static int wr_str(FILE *f, const char *s)
{
    return wr_blob(f, s, strlen(s));
}

lumen_status lumen_ctx_compile_all(lumen_ctx *ctx, const char *path)
{
    lumen__variant vs[MAX_VARIANTS];
    int nv;
    lumen_status st = all_variants(ctx, vs, &nv);
    if (st != LUMEN_OK)
        return st;
    lumen__out o;
    char why[LUMEN_ERR_MAX];
    /* the target is checked (and the temp file made) before minutes of building */
    st = lumen__out_begin(&o, path, why, sizeof why);
    if (st != LUMEN_OK)
        return lumen__fail(ctx, st, "%s", why);
    if ((st = lumen_ctx_build_all(ctx)) != LUMEN_OK) {
        lumen__out_end(&o, st, NULL, 0);
        return st;
    }
    FILE *f = o.f;
    uint64_t count = (uint64_t)nv;
    int ok = fwrite(KFILE_MAGIC, 1, 8, f) == 8 && wr_str(f, ctx->info.name) &&
             wr_str(f, ctx->info.driver) && wr_str(f, LUMEN_VERSION) &&
             fwrite(&count, 8, 1, f) == 1;
    for (int i = 0; ok && st == LUMEN_OK && i < nv; i++) {
        const lumen__variant *v = &vs[i];
        char buf[256];
        const char *opts = lumen__variant_options(v, buf, sizeof buf);
        lumen__program *p = find_program(ctx, v->family, opts);
        unsigned char *bin = NULL;
        size_t len = 0;
        uint64_t h = 0;
        LUMEN_ASSERT(p);
        st = program_binary(ctx, p->prog, &bin, &len);
        if (st == LUMEN_OK)
            st = source_hash(ctx, v->family, 0, &h);
        if (st == LUMEN_OK)
            ok = wr_str(f, v->family) && wr_str(f, opts) && fwrite(&h, 8, 1, f) == 1 &&
                 wr_blob(f, bin, len);
        free(bin);
    }
    if (st != LUMEN_OK) {
        lumen__out_end(&o, st, NULL, 0);
        return st;
    }
    if ((st = lumen__out_end(&o, ok ? LUMEN_OK : LUMEN_EIO, why, sizeof why)) != LUMEN_OK)
        return lumen__fail(ctx, st, "%s", ok ? why : "cannot write the kernels file");
    return LUMEN_OK;
}
