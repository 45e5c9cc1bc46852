/*
 * npy.c - NumPy .npy arrays (load and save).
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 for 1.x, u32 for 2.x/3.x), a Python
 * dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces
 * and a newline, then the raw data in C order. Every number is checked before use; a bad file
 * gives LUMEN_EFORMAT and "<path>: <problem>". Saves are atomic (io.h, sys.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define IO_MAX_NPY_HEADER ((uint32_t)1 << 20) /* bytes: numpy itself stops at 10,000 */

/* ---- .npy ---- */

/* A cursor over the header's dict literal. */
typedef struct npy_lex {
    const char *p, *end;
} npy_lex;

static void npy_ws(npy_lex *x)
{
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

/* Consumes character c (after whitespace); 1 when it was there. */
static int npy_eat(npy_lex *x, char c)
{
    npy_ws(x);
    if (x->p < x->end && *x->p == c) {
        x->p++;
        return 1;
    }
    return 0;
}

/* A quoted string 'abc' or "abc" (no escapes: numpy never writes any) into buf. */
static int npy_string(npy_lex *x, char *buf, size_t cap)
{
    npy_ws(x);
    if (x->p >= x->end || (*x->p != '\'' && *x->p != '"'))
        return 0;
    char q = *x->p++;
    size_t n = 0;
    while (x->p < x->end && *x->p != q) {
        if (*x->p == '\\' || n + 1 >= cap)
            return 0;
        buf[n++] = *x->p++;
    }
    if (x->p >= x->end)
        return 0;
    x->p++;
    buf[n] = '\0';
    return 1;
}

/* True or False: 1 or 0, -1 when neither. */
static int npy_bool(npy_lex *x)
{
    npy_ws(x);
    size_t left = (size_t)(x->end - x->p);
    if (left >= 4 && memcmp(x->p, "True", 4) == 0) {
        x->p += 4;
        return 1;
    }
    if (left >= 5 && memcmp(x->p, "False", 5) == 0) {
        x->p += 5;
        return 0;
    }
    return -1;
}

/* A shape tuple: (), (3,), (2, 3) or (2, 3,). Returns NULL or what went wrong. */
static const char *npy_shape(npy_lex *x, lumen_shape *s)
{
    s->ndim = 0;
    if (!npy_eat(x, '('))
        return "'shape' is not a tuple";
    while (!npy_eat(x, ')')) {
        npy_ws(x);
        if (x->p < x->end && *x->p == '-')
            return "'shape' has a negative extent";
        if (x->p >= x->end || *x->p < '0' || *x->p > '9')
            return "'shape' has a value that is not an integer";
        if (s->ndim == LUMEN_MAX_DIMS)
            return "'shape' has more dimensions than LUMEN_MAX_DIMS";
        int64_t v = 0;
        while (x->p < x->end && *x->p >= '0' && *x->p <= '9') {
            int digit = *x->p++ - '0';
            if (v > (INT64_MAX - digit) / 10)
                return "'shape' has an extent that overflows int64";
            v = v * 10 + digit;
        }
        if (x->p < x->end && *x->p == 'L') /* Python 2 long */
            x->p++;
        s->d[s->ndim++] = v;
        if (!npy_eat(x, ',')) {
            if (!npy_eat(x, ')'))
                return "'shape' tuple is malformed";
            break;
        }
    }
    return NULL;
}

/* Parses the dict literal: exactly the keys descr, fortran_order and shape. */
static lumen_status npy_parse_header(const lumen__io_file *io, const char *text, size_t len,
                                     char *descr, size_t descr_cap, int *fortran,
                                     lumen_shape *shape)
{
    npy_lex x = {text, text + len};
    int seen[3] = {0, 0, 0};
    if (!npy_eat(&x, '{'))
        return lumen__io_fail(io, LUMEN_EFORMAT, "npy header is not a dict");
    while (!npy_eat(&x, '}')) {
        char key[32];
        if (!npy_string(&x, key, sizeof key) || !npy_eat(&x, ':'))
            return lumen__io_fail(io, LUMEN_EFORMAT, "npy header: expected 'key': at byte %ld",
                                  (long)(x.p - text));
        int k = strcmp(key, "descr") == 0           ? 0
                : strcmp(key, "fortran_order") == 0 ? 1
                : strcmp(key, "shape") == 0         ? 2
                                                    : -1;
        if (k < 0)
            return lumen__io_fail(io, LUMEN_EFORMAT, "npy header: unknown key '%s'", key);
        if (seen[k]++)
            return lumen__io_fail(io, LUMEN_EFORMAT, "npy header: duplicate key '%s'", key);
        const char *why = NULL;
        if (k == 0 && !npy_string(&x, descr, descr_cap))
            why = "'descr' is not a short string";
        if (k == 1 && (*fortran = npy_bool(&x)) < 0)
            why = "'fortran_order' is not True or False";
        if (k == 2)
            why = npy_shape(&x, shape);
        if (why)
            return lumen__io_fail(io, LUMEN_EFORMAT, "npy header: %s", why);
        if (!npy_eat(&x, ',')) {
            if (!npy_eat(&x, '}'))
                return lumen__io_fail(io, LUMEN_EFORMAT,
                                      "npy header: expected ',' or '}' at byte %ld",
                                      (long)(x.p - text));
            break;
        }
    }
    npy_ws(&x);
    if (x.p != x.end)
        return lumen__io_fail(io, LUMEN_EFORMAT,
                              "npy header: unexpected data after the dict at byte %ld",
                              (long)(x.p - text));
    if (!seen[0] || !seen[1] || !seen[2])
        return lumen__io_fail(io, LUMEN_EFORMAT, "npy header: missing key '%s'",
                              !seen[0]   ? "descr"
                              : !seen[1] ? "fortran_order"
                                         : "shape");
    return LUMEN_OK;
}

/* Array name from a path: "dir/x_input.npy" gives "x_input". */
static void npy_name(const char *path, char *name, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n >= 4 && strcmp(base + n - 4, ".npy") == 0)
        n -= 4;
    if (n >= cap)
        n = cap - 1;
    memcpy(name, base, n);
    name[n] = '\0';
}

/* Reads numel float64 values at off and narrows them into data, a chunk at a time. */
static lumen_status npy_read_f8(const lumen__io_file *io, int64_t off, float *data, int64_t numel)
{
    unsigned char buf[8 * 512];
    for (int64_t i = 0; i < numel;) {
        int64_t k = numel - i < 512 ? numel - i : 512;
        lumen_status st = lumen__io_read_at(io, off + 8 * i, buf, (size_t)(8 * k), "array data");
        if (st != LUMEN_OK)
            return st;
        for (int64_t j = 0; j < k; j++, i++) {
            uint64_t u = lumen__le_u64(buf + 8 * j);
            double d;
            memcpy(&d, &u, sizeof d);
            data[i] = (float)d;
        }
    }
    return LUMEN_OK;
}

lumen_status lumen_npy_load(const char *path, lumen_array *out, char *err, size_t errlen)
{
    lumen__io_file io;
    char *header = NULL;
    lumen_array a;
    memset(&a, 0, sizeof a);
    if (out)
        memset(out, 0, sizeof *out);
    lumen_status st = lumen__io_open(&io, path, err, errlen);
    if (st == LUMEN_OK && !out)
        st = lumen__io_fail(&io, LUMEN_EINVAL, "no output array given");
    if (st != LUMEN_OK)
        goto cleanup;

    unsigned char pre[12];
    if (io.size < 10) {
        st =
            lumen__io_fail(&io, LUMEN_EFORMAT, "truncated: %lld bytes is too short for a .npy file",
                           (long long)io.size);
        goto cleanup;
    }
    if ((st = lumen__io_read_at(&io, 0, pre, 10, "npy preamble")) != LUMEN_OK)
        goto cleanup;
    if (memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = lumen__io_fail(&io, LUMEN_EFORMAT, "not a .npy file (bad magic)");
        goto cleanup;
    }
    int major = pre[6];
    if (major < 1 || major > 3) {
        st = lumen__io_fail(&io, LUMEN_EUNSUPPORTED, "npy version %d.%d is not supported (1.0-3.0)",
                            major, pre[7]);
        goto cleanup;
    }
    int64_t hstart = major == 1 ? 10 : 12;
    if (major > 1 &&
        (st = lumen__io_read_at(&io, 10, pre + 10, 2, "npy header length")) != LUMEN_OK)
        goto cleanup;
    uint32_t hlen = major == 1 ? (uint32_t)(pre[8] | pre[9] << 8) : lumen__le_u32(pre + 8);
    if (hlen > IO_MAX_NPY_HEADER) {
        st = lumen__io_fail(&io, LUMEN_EFORMAT, "npy header length %u is above the %u-byte limit",
                            hlen, IO_MAX_NPY_HEADER);
        goto cleanup;
    }
    if ((int64_t)hlen > io.size - hstart) {
        st = lumen__io_fail(
            &io, LUMEN_EFORMAT,
            "truncated: npy header length %u is beyond the end of the file (%lld bytes)", hlen,
            (long long)io.size);
        goto cleanup;
    }
    header = malloc((size_t)hlen + 1);
    if (!header) {
        st = lumen__io_fail(&io, LUMEN_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((st = lumen__io_read_at(&io, hstart, header, hlen, "npy header")) != LUMEN_OK)
        goto cleanup;
    header[hlen] = '\0';

    char descr[16];
    int fortran = 0;
    st = npy_parse_header(&io, header, hlen, descr, sizeof descr, &fortran, &a.shape);
    if (st != LUMEN_OK)
        goto cleanup;
    int itemsize = strcmp(descr, "<f4") == 0 ? 4 : strcmp(descr, "<f8") == 0 ? 8 : 0;
    if (!itemsize) {
        st = lumen__io_fail(&io, LUMEN_EUNSUPPORTED,
                            "dtype '%s' is not supported ('<f4', '<f8' only)", descr);
        goto cleanup;
    }
    if (fortran) {
        st = lumen__io_fail(&io, LUMEN_EUNSUPPORTED,
                            "fortran_order True is not supported (C order only)");
        goto cleanup;
    }
    int64_t need, data_start = hstart + hlen, have = io.size - data_start;
    char sb[128];
    lumen_shape_format(&a.shape, sb, sizeof sb);
    if (lumen__shape_bytes(&a.shape, itemsize, &need) != 0) {
        st = lumen__io_fail(&io, LUMEN_EFORMAT, "npy shape %s size overflows int64", sb);
        goto cleanup;
    }
    if (need != have) {
        st = lumen__io_fail(&io, LUMEN_EFORMAT,
                            "%s: shape %s x %s needs %lld data bytes, the file has %lld",
                            need > have ? "truncated" : "trailing bytes", sb, descr,
                            (long long)need, (long long)have);
        goto cleanup;
    }
    int64_t numel = need / itemsize;
    a.data = malloc((size_t)numel * sizeof(float) + 1);
    if (!a.data) {
        st = lumen__io_fail(&io, LUMEN_ENOMEM, "out of memory for %lld floats", (long long)numel);
        goto cleanup;
    }
    if (itemsize == 8) {
        st = npy_read_f8(&io, data_start, a.data, numel);
    } else {
        st = lumen__io_read_at(&io, data_start, a.data, (size_t)need, "array data");
        unsigned char *raw = (unsigned char *)a.data;
        for (int64_t i = 0; i < numel && st == LUMEN_OK; i++)
            a.data[i] = lumen__bits_to_float(lumen__le_u32(raw + 4 * i));
    }
    if (st == LUMEN_OK) {
        npy_name(path, a.name, sizeof a.name);
        *out = a;
        a.data = NULL;
    }
cleanup:
    free(a.data);
    free(header);
    lumen__io_close(&io);
    return st;
}

lumen_status lumen_npy_save(const char *path, const lumen_shape *shape, const float *data,
                            char *err, size_t errlen)
{
    lumen__io_out o;
    int64_t numel = 0;
    lumen_status st = lumen__io_out_begin(&o, path, err, errlen);
    if (st == LUMEN_OK)
        st = lumen__io_check_save_shape(&o, "array", shape, data, &numel);
    if (st == LUMEN_OK) {
        /* {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and
         * ended by a newline so that the data starts at a multiple of 64 bytes, as numpy does */
        char h[256];
        int n = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape->ndim; i++)
            n += snprintf(h + n, sizeof h - (size_t)n, "%s%lld", i ? ", " : "",
                          (long long)shape->d[i]);
        n += snprintf(h + n, sizeof h - (size_t)n, "%s), }", shape->ndim == 1 ? "," : "");
        size_t total = ((size_t)n + 10 + 1 + 63) / 64 * 64, hlen = total - 10;
        memset(h + n, ' ', hlen - 1 - (size_t)n);
        h[hlen - 1] = '\n';
        unsigned char pre[10] = {0x93,
                                 'N',
                                 'U',
                                 'M',
                                 'P',
                                 'Y',
                                 1,
                                 0,
                                 (unsigned char)(hlen & 0xff),
                                 (unsigned char)(hlen >> 8)};
        st = lumen__io_out_write(&o, pre, sizeof pre);
        if (st == LUMEN_OK)
            st = lumen__io_out_write(&o, h, hlen);
    }
    if (st == LUMEN_OK)
        st = lumen__io_out_write_f32(&o, data, numel);
    return lumen__io_out_end(&o, st);
}
