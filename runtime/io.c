/*
 * io.c - what the file-format loaders share (io.h): input files with "<path>: <problem>"
 * messages, exact reads, little-endian numbers, shape sizes with overflow checks, and atomic
 * saves through sys.c. The formats themselves live in safetensors.c and npy.c; PNG in image.c.
 *
 * Every number read from a file is checked before it is used: lengths against the file's
 * size, extents for sign and overflow, byte ranges against each other. Byte order: files are
 * little-endian; values are assembled byte by byte, so the code does not depend on the host's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

/* ---- files and messages ---- */

lumen_status lumen__io_fail(const lumen__io_file *io, lumen_status st, const char *fmt, ...)
{
    if (io->err && io->errlen) {
        char msg[LUMEN_ERR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(io->err, io->errlen, "%s: %s", io->path, msg);
    }
    return st;
}

static const char *lumen__io_strerror(int e, char *buf, size_t len)
{
    if (strerror_r(e, buf, len) != 0)
        snprintf(buf, len, "error %d", e);
    return buf;
}

lumen_status lumen__io_open(lumen__io_file *io, const char *path, char *err, size_t errlen)
{
    char eb[128];
    memset(io, 0, sizeof *io);
    io->path = path ? path : "(null)";
    io->err = err;
    io->errlen = errlen;
    if (!path)
        return lumen__io_fail(io, LUMEN_EINVAL, "no path given");
    char why[LUMEN_ERR_MAX];
    io->f = lumen__open_input(path, why, sizeof why);
    if (!io->f) {
        size_t n = strlen(path);
        /* sys.c's message starts with the path: io_fail adds it again */
        return lumen__io_fail(io, LUMEN_EIO, "%s",
                              strncmp(why, path, n) == 0 && why[n] == ':' ? why + n + 2 : why);
    }
    struct stat sb;
    if (fstat(fileno(io->f), &sb) != 0)
        return lumen__io_fail(io, LUMEN_EIO, "cannot stat: %s",
                              lumen__io_strerror(errno, eb, sizeof eb));
    if (!S_ISREG(sb.st_mode))
        return lumen__io_fail(io, LUMEN_EIO, "not a regular file");
    if ((int64_t)sb.st_size > IO_MAX_FILE)
        return lumen__io_fail(io, LUMEN_EFORMAT, "file is %lld bytes, above the %lld-byte limit",
                              (long long)sb.st_size, (long long)IO_MAX_FILE);
    io->size = (int64_t)sb.st_size;
    return LUMEN_OK;
}

void lumen__io_close(lumen__io_file *io)
{
    if (io->f)
        fclose(io->f);
    io->f = NULL;
}

lumen_status lumen__io_read_at(const lumen__io_file *io, int64_t off, void *buf, size_t n,
                               const char *what)
{
    if (fseeko(io->f, (off_t)off, SEEK_SET) != 0)
        return lumen__io_fail(io, LUMEN_EIO, "cannot seek to byte %lld for %s", (long long)off,
                              what);
    size_t got = fread(buf, 1, n, io->f);
    if (got == n)
        return LUMEN_OK;
    if (ferror(io->f))
        return lumen__io_fail(io, LUMEN_EIO, "read error in %s", what);
    return lumen__io_fail(io, LUMEN_EFORMAT, "truncated: %s needs %zu bytes at byte %lld, got %zu",
                          what, n, (long long)off, got);
}

/* ---- little-endian numbers and float formats ---- */

uint64_t lumen__le_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

uint32_t lumen__le_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void lumen__put_le_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

float lumen__bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- shapes ---- */

int lumen__shape_bytes(const lumen_shape *s, int64_t elsize, int64_t *bytes)
{
    int64_t n = elsize;
    for (int i = 0; i < s->ndim; i++) {
        int64_t d = s->d[i];
        if (d < 0)
            return -1;
        if (d != 0 && n > INT64_MAX / d)
            return -1;
        n *= d;
    }
    *bytes = n;
    return 0;
}
/* ---- atomic writes (sys.c does the work) ---- */

lumen_status lumen__io_out_begin(lumen__io_out *o, const char *path, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->io.path = path ? path : "(null)";
    o->io.err = err;
    o->io.errlen = errlen;
    if (!path || !*path)
        return lumen__io_fail(&o->io, LUMEN_EINVAL, "no path given");
    lumen_status st = lumen__out_begin(&o->out, path, err, errlen);
    o->io.f = o->out.f;
    return st;
}

lumen_status lumen__io_out_write(lumen__io_out *o, const void *p, size_t n)
{
    if (fwrite(p, 1, n, o->io.f) != n)
        return lumen__io_fail(&o->io, LUMEN_EIO, "write failed (disk full?)");
    return LUMEN_OK;
}

lumen_status lumen__io_out_write_f32(lumen__io_out *o, const float *x, int64_t n)
{
    unsigned char buf[4096];
    lumen_status st = LUMEN_OK;
    for (int64_t i = 0; i < n && st == LUMEN_OK;) {
        size_t k = 0;
        for (; k + 4 <= sizeof buf && i < n; k += 4, i++) {
            uint32_t u;
            memcpy(&u, &x[i], sizeof u);
            lumen__put_le_u32(buf + k, u);
        }
        st = lumen__io_out_write(o, buf, k);
    }
    return st;
}

lumen_status lumen__io_out_end(lumen__io_out *o, lumen_status st)
{
    if (!o->out.f)
        return st;
    char msg[LUMEN_ERR_MAX] = "";
    lumen_status s = lumen__out_end(&o->out, st, msg, sizeof msg);
    o->io.f = NULL;
    if (st == LUMEN_OK && s != LUMEN_OK && o->io.err && o->io.errlen)
        snprintf(o->io.err, o->io.errlen, "%s", msg);
    return s;
}

lumen_status lumen__io_check_save_shape(const lumen__io_out *o, const char *what,
                                        const lumen_shape *s, const float *data, int64_t *numel)
{
    int64_t bytes;
    if (!s || s->ndim < 0 || s->ndim > LUMEN_MAX_DIMS)
        return lumen__io_fail(&o->io, LUMEN_EINVAL, "%s: rank %d is outside 0..%d", what,
                              s ? s->ndim : -1, LUMEN_MAX_DIMS);
    if (lumen__shape_bytes(s, 4, &bytes) != 0)
        return lumen__io_fail(&o->io, LUMEN_EINVAL, "%s: negative extent or size overflow", what);
    *numel = bytes / 4;
    if (*numel > 0 && !data)
        return lumen__io_fail(&o->io, LUMEN_EINVAL, "%s: data is NULL", what);
    return LUMEN_OK;
}
