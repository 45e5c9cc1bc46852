/*
 * sys.c - the platform layer: the few things every writer and reader of files needs, written
 * once. Nothing else in lumen calls rename, mkdir, fsync or clock_gettime.
 *
 * Reading (lumen__open_input, lumen__read_file): inputs are opened with O_NONBLOCK and checked
 * with fstat before a byte is read, so a FIFO, a socket, a device (/dev/zero through a symlink)
 * or a folder is refused at once with "not a regular file" instead of blocking a batch forever
 * or reading without end. O_NONBLOCK is cleared again once the file is known to be regular.
 *
 * Writing (lumen__out_begin/end, lumen_file_write): the bytes go to "<path>.tmp-<pid>-XXXXXX" in
 * the target's folder; at the end the temp file is flushed and fsync'd, renamed over the target,
 * and the folder is fsync'd, so after a crash a reader sees the old file or the new one, never
 * half of one, and the rename itself survives a power cut. The target must be a regular file
 * or a new name: a symlink, a device (/dev/null), a FIFO or a folder is refused before anything
 * is written (lstat, checked again just before the rename). Temp files left by a killed process
 * are removed by lumen_tmp_clean.
 *
 * Hashing: SHA-256 through OpenSSL's libcrypto (EVP), streaming files in 1 MiB blocks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "internal.h"

#define SYS_BLOCK (1u << 20)  /* bytes per read while hashing */
#define SYS_STALE_S (60 * 60) /* a temp file this old is stale even if its pid lives */
#define SYS_TMP_TAG ".tmp-"   /* "<target>.tmp-<pid>-XXXXXX" */

/* ---- clock and number formats ---- */

double lumen_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static float sys_bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float lumen__half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0x1f) /* Inf, NaN (payload kept) */
        return sys_bits_to_float(sign | 0x7f800000u | (m << 13));
    if (e == 0) { /* zero, subnormal: m * 2^-24 */
        float v = (float)m * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return sys_bits_to_float(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t lumen__float_to_half(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u, e = (u >> 23) & 0xff, m = u & 0x7fffffu;
    if (e == 0xff) /* Inf, NaN (kept a NaN) */
        return (uint16_t)(sign | 0x7c00u | (m ? 0x200u | (m >> 13) : 0));
    int ex = (int)e - 127 + 15;
    if (ex >= 0x1f)
        return (uint16_t)(sign | 0x7c00u);
    if (ex <= 0) { /* subnormal or zero: round to nearest even */
        if (ex < -10)
            return (uint16_t)sign;
        m |= 0x800000u;
        int shift = 14 - ex;
        uint32_t v = m >> shift, rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rest > half || (rest == half && (v & 1)))
            v++;
        return (uint16_t)(sign | v);
    }
    uint32_t v = ((uint32_t)ex << 10) | (m >> 13), rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (v & 1)))
        v++; /* may carry into the exponent: still correct, up to Inf */
    return (uint16_t)(sign | v);
}

float lumen__bf16_to_float(uint16_t h)
{
    return sys_bits_to_float((uint32_t)h << 16);
}

/* ---- reading ---- */

FILE *lumen__open_input(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        lumen__errfn(err, errlen, LUMEN_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        lumen__errfn(err, errlen, LUMEN_EIO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        lumen__errfn(err, errlen, LUMEN_EIO, "%s: not a regular file (%s)", path,
                     S_ISDIR(st.st_mode) ? "a folder" : "a device, FIFO or socket");
        return NULL;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        lumen__errfn(err, errlen, LUMEN_ENOMEM, "%s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

lumen_status lumen__read_file(const char *path, size_t limit, unsigned char **data, size_t *len,
                              char *err, size_t errlen)
{
    *data = NULL;
    *len = 0;
    FILE *f = lumen__open_input(path, err, errlen);
    if (!f)
        return LUMEN_EIO;
    struct stat st;
    lumen_status s = LUMEN_OK;
    unsigned char *buf = NULL;
    if (fstat(fileno(f), &st) != 0) {
        s = lumen__errfn(err, errlen, LUMEN_EIO, "%s: %s", path, strerror(errno));
    } else if ((uint64_t)st.st_size > limit) {
        s = lumen__errfn(err, errlen, LUMEN_ERANGE, "%s: %lld bytes, above the limit of %zu", path,
                         (long long)st.st_size, limit);
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        s = lumen__errfn(err, errlen, LUMEN_ENOMEM, "%s: out of memory", path);
    } else if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        s = lumen__errfn(err, errlen, LUMEN_EIO, "%s: short read", path);
    }
    fclose(f);
    if (s != LUMEN_OK) {
        free(buf);
        return s;
    }
    buf[st.st_size] = '\0';
    *data = buf;
    *len = (size_t)st.st_size;
    return LUMEN_OK;
}

/* ---- hashing ---- */

static void sys_hex(const unsigned char *d, unsigned n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

lumen_status lumen_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!EVP_Digest(data, len, d, &n, EVP_sha256(), NULL) || n != 32) {
        hex[0] = '\0';
        return LUMEN_ENOMEM;
    }
    sys_hex(d, n, hex);
    return LUMEN_OK;
}

lumen_status lumen_sha256_file(const char *path, char hex[65], char *err, size_t errlen)
{
    hex[0] = '\0';
    FILE *f = lumen__open_input(path, err, errlen);
    if (!f)
        return LUMEN_EIO;
    lumen_status st = LUMEN_OK;
    unsigned char *buf = malloc(SYS_BLOCK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!buf || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        st = lumen__errfn(err, errlen, LUMEN_ENOMEM, "%s: out of memory for hashing", path);
        goto done;
    }
    size_t n;
    while ((n = fread(buf, 1, SYS_BLOCK, f)) > 0)
        if (!EVP_DigestUpdate(md, buf, n)) {
            st = lumen__errfn(err, errlen, LUMEN_ENOMEM, "%s: hashing failed", path);
            goto done;
        }
    if (ferror(f)) {
        st = lumen__errfn(err, errlen, LUMEN_EIO, "%s: read error", path);
        goto done;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dn = 0;
    if (!EVP_DigestFinal_ex(md, d, &dn) || dn != 32) {
        st = lumen__errfn(err, errlen, LUMEN_ENOMEM, "%s: hashing failed", path);
        goto done;
    }
    sys_hex(d, dn, hex);
done:
    EVP_MD_CTX_free(md);
    free(buf);
    fclose(f);
    return st;
}

/* ---- folders ---- */

lumen_status lumen_mkdirs(const char *path, char *err, size_t errlen)
{
    size_t len = strlen(path);
    char *p = malloc(len + 1);
    if (!p)
        return lumen__errfn(err, errlen, LUMEN_ENOMEM, "out of memory");
    memcpy(p, path, len + 1);
    lumen_status st = LUMEN_OK;
    for (size_t i = 1; i <= len && st == LUMEN_OK; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        struct stat s;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            st = lumen__errfn(err, errlen, LUMEN_EIO, "cannot create folder %s: %s", p,
                              strerror(errno));
        else if (stat(p, &s) != 0 || !S_ISDIR(s.st_mode))
            st = lumen__errfn(err, errlen, LUMEN_EIO, "cannot create folder %s: not a folder", p);
        p[i] = c;
    }
    free(p);
    return st;
}

/* ---- atomic writes ---- */

/* Is path a regular file or absent? Otherwise fills err. Uses lstat: a symlink is refused. */
static lumen_status sys_check_target(const char *path, char *err, size_t errlen)
{
    struct stat s;
    if (lstat(path, &s) != 0)
        return errno == ENOENT
                   ? LUMEN_OK
                   : lumen__errfn(err, errlen, LUMEN_EIO, "%s: %s", path, strerror(errno));
    if (S_ISREG(s.st_mode))
        return LUMEN_OK;
    return lumen__errfn(
        err, errlen, LUMEN_EINVAL,
        "%s: refusing to replace a %s (lumen writes only regular files or new names)", path,
        S_ISLNK(s.st_mode)    ? "symbolic link"
        : S_ISDIR(s.st_mode)  ? "folder"
        : S_ISCHR(s.st_mode)  ? "character device"
        : S_ISBLK(s.st_mode)  ? "block device"
        : S_ISFIFO(s.st_mode) ? "FIFO"
                              : "special file");
}

/* fsyncs the folder holding path (a failure is ignored: some file systems refuse it). */
static void sys_sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

lumen_status lumen__out_begin(lumen__out *o, const char *path, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    lumen_status st = sys_check_target(path, err, errlen);
    if (st != LUMEN_OK)
        return st;
    size_t n = strlen(path);
    o->path = malloc(n + 1);
    o->tmp = malloc(n + 48);
    if (!o->path || !o->tmp) {
        free(o->path);
        free(o->tmp);
        memset(o, 0, sizeof *o);
        return lumen__errfn(err, errlen, LUMEN_ENOMEM, "%s: out of memory", path);
    }
    memcpy(o->path, path, n + 1);
    snprintf(o->tmp, n + 48, "%s" SYS_TMP_TAG "%ld-XXXXXX", path, (long)getpid());
    int fd = mkstemp(o->tmp);
    if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
        st = lumen__errfn(err, errlen, LUMEN_EIO, "cannot create a temporary file for %s: %s", path,
                          strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        free(o->path);
        free(o->tmp);
        memset(o, 0, sizeof *o);
        return st;
    }
    fchmod(fd, 0644);
    return LUMEN_OK;
}

lumen_status lumen__out_end(lumen__out *o, lumen_status st, char *err, size_t errlen)
{
    if (!o->f)
        return st;
    int e = 0;
    if (st == LUMEN_OK && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0))
        e = errno ? errno : EIO;
    if (fclose(o->f) != 0 && st == LUMEN_OK && !e)
        e = errno ? errno : EIO;
    o->f = NULL;
    if (st == LUMEN_OK && e)
        st = lumen__errfn(err, errlen, LUMEN_EIO, "cannot write %s: %s", o->path, strerror(e));
    if (st == LUMEN_OK)
        st = sys_check_target(o->path, err, errlen);
    if (st == LUMEN_OK && rename(o->tmp, o->path) != 0)
        st = lumen__errfn(err, errlen, LUMEN_EIO, "cannot rename %s to %s: %s", o->tmp, o->path,
                          strerror(errno));
    if (st == LUMEN_OK)
        sys_sync_dir(o->path);
    else
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return st;
}

lumen_status lumen_file_write(const char *path, const void *data, size_t len, char *err,
                              size_t errlen)
{
    lumen__out o;
    lumen_status st = lumen__out_begin(&o, path, err, errlen);
    if (st != LUMEN_OK)
        return st;
    if (len && fwrite(data, 1, len, o.f) != len)
        st = lumen__errfn(err, errlen, LUMEN_EIO, "cannot write %s: %s", path, strerror(errno));
    return lumen__out_end(&o, st, err, errlen);
}

/* Is 'name' "<prefix...>.tmp-<pid>-XXXXXX" with a stale owner? Fills *pid. */
static int sys_tmp_pid(const char *name, const char *prefix, long *pid)
{
    size_t pn = strlen(prefix);
    if (strncmp(name, prefix, pn) != 0)
        return 0;
    const char *t = strstr(name + pn, SYS_TMP_TAG);
    if (!t)
        return 0;
    char *end;
    *pid = strtol(t + strlen(SYS_TMP_TAG), &end, 10);
    return end != t + strlen(SYS_TMP_TAG) && *end == '-' && strlen(end + 1) == 6;
}

int lumen_tmp_clean(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        if (!sys_tmp_pid(e->d_name, prefix, &pid))
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p)
            break;
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat s;
        /* stale: its writer is gone from this machine, or it is older than any write takes
         * (a writer on another node of a shared file system has its own pid space) */
        int dead = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        if (lstat(p, &s) == 0 && S_ISREG(s.st_mode) && (dead || now - s.st_mtime > SYS_STALE_S) &&
            unlink(p) == 0)
            removed++;
        free(p);
    }
    closedir(d);
    return removed;
}
