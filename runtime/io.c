/*
 * io.c - host arrays on disk: safetensors weight files and .npy arrays.
 *
 * Both formats arrive from outside (hospital sites, downloads, other tools), so every number in
 * a file is checked before it is used: lengths against the file's size, extents for sign and
 * overflow, byte ranges against each other. A bad file gives LUMEN_EFORMAT (a valid file we
 * cannot convert gives LUMEN_EUNSUPPORTED) and a message "<path>: tensor '<name>': <problem>".
 *
 * safetensors layout: u64 little-endian header length N, N bytes of JSON
 *     {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 *      "__metadata__": {"<key>": "<string>"}}
 * then the data section; offsets are relative to its first byte and the tensors must cover it
 * exactly, with no overlap and no hole (as the reference implementation requires). We read the
 * header into memory, validate all entries, then read each tensor straight into its float array.
 *
 * .npy layout: "\x93NUMPY", major, minor, header length (u16 for 1.x, u32 for 2.x/3.x), a
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
 * spaces and a newline, then the raw data in C order.
 *
 * Saves write "<path>.XXXXXX" next to the target, fsync it and rename it over the target, so a
 * reader sees the old file or the new one, never half of one.
 *
 * Byte order: files are little-endian; values are assembled byte by byte, so the code does not
 * depend on the host's order.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "internal.h"

#define IO_MAX_FILE ((int64_t)1 << 36)            /* bytes: 64 GiB, far above any model we run */
#define IO_MAX_ST_HEADER ((uint64_t)100000000)    /* bytes: the reference implementation's limit */
#define IO_MAX_NPY_HEADER ((uint32_t)1 << 20)     /* bytes: numpy itself stops at 10,000 */
#define IO_MAX_EXACT ((double)((int64_t)1 << 53)) /* JSON numbers are doubles: exact up to here */

/* ---- files and messages ---- */

/* An open input file and where its messages go. */
typedef struct io_file {
    const char *path;
    char *err;
    size_t errlen;
    FILE *f;
    int64_t size; /* bytes, from fstat */
} io_file;

/* Writes "<path>: <message>" into io->err and returns st. */
__attribute__((format(printf, 3, 4))) static lumen_status
io_fail(const io_file *io, lumen_status st, const char *fmt, ...)
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

static const char *io_strerror(int e, char *buf, size_t len)
{
    if (strerror_r(e, buf, len) != 0)
        snprintf(buf, len, "error %d", e);
    return buf;
}

/* Opens path for reading; it must be a regular file of at most IO_MAX_FILE bytes. */
static lumen_status io_open(io_file *io, const char *path, char *err, size_t errlen)
{
    char eb[128];
    memset(io, 0, sizeof *io);
    io->path = path ? path : "(null)";
    io->err = err;
    io->errlen = errlen;
    if (!path)
        return io_fail(io, LUMEN_EINVAL, "no path given");
    io->f = fopen(path, "rb");
    if (!io->f)
        return io_fail(io, LUMEN_EIO, "cannot open: %s", io_strerror(errno, eb, sizeof eb));
    struct stat sb;
    if (fstat(fileno(io->f), &sb) != 0)
        return io_fail(io, LUMEN_EIO, "cannot stat: %s", io_strerror(errno, eb, sizeof eb));
    if (!S_ISREG(sb.st_mode))
        return io_fail(io, LUMEN_EIO, "not a regular file");
    if ((int64_t)sb.st_size > IO_MAX_FILE)
        return io_fail(io, LUMEN_EFORMAT, "file is %lld bytes, above the %lld-byte limit",
                       (long long)sb.st_size, (long long)IO_MAX_FILE);
    io->size = (int64_t)sb.st_size;
    return LUMEN_OK;
}

static void io_close(io_file *io)
{
    if (io->f)
        fclose(io->f);
    io->f = NULL;
}

/* Reads exactly n bytes at byte offset off. A file that ends early (it may have shrunk since
 * fstat) is EFORMAT "truncated"; a read error is EIO. what names the bytes in the message. */
static lumen_status io_read_at(const io_file *io, int64_t off, void *buf, size_t n,
                               const char *what)
{
    if (fseeko(io->f, (off_t)off, SEEK_SET) != 0)
        return io_fail(io, LUMEN_EIO, "cannot seek to byte %lld for %s", (long long)off, what);
    size_t got = fread(buf, 1, n, io->f);
    if (got == n)
        return LUMEN_OK;
    if (ferror(io->f))
        return io_fail(io, LUMEN_EIO, "read error in %s", what);
    return io_fail(io, LUMEN_EFORMAT, "truncated: %s needs %zu bytes at byte %lld, got %zu", what,
                   n, (long long)off, got);
}

/* ---- little-endian numbers and float formats ---- */

static uint64_t le_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

static uint32_t le_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put_le_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE binary16 to float, exactly: every half value is a float value. Subnormal halves are
 * man x 2^-24 (an exact product); infinities and NaNs (payload kept) map to their float forms. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f)
        return bits_to_float(sign | 0x7f800000u | man << 13);
    if (exp == 0) {
        float mag = (float)man * 0x1p-24f;
        return sign ? -mag : mag;
    }
    /* rebias the exponent: 15 for half, 127 for float */
    return bits_to_float(sign | (exp + 112) << 23 | man << 13);
}

/* bfloat16 is the top half of a float32, so widening is a shift (subnormals, inf, NaN kept). */
static float bf16_to_float(uint16_t h)
{
    return bits_to_float((uint32_t)h << 16);
}

/* ---- shapes ---- */

/* numel x elsize into *bytes, or -1 when it does not fit in int64 (or an extent is negative). */
static int shape_bytes(const lumen_shape *s, int64_t elsize, int64_t *bytes)
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

/* ---- safetensors: the loaded set ---- */

struct lumen_weights {
    int count;
    lumen_array *arrays;        /* file order; each data is malloc'd and owned here */
    const lumen_array **sorted; /* the same arrays sorted by name: find and duplicate check */
    int n_meta;
    char **meta; /* key0, value0, key1, value1, ... (strdup'd) */
};

void lumen_weights_free(lumen_weights *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->count; i++)
        free(w->arrays[i].data);
    for (int i = 0; i < 2 * w->n_meta; i++)
        free(w->meta[i]);
    free(w->arrays);
    free(w->sorted);
    free(w->meta);
    free(w);
}

int lumen_weights_count(const lumen_weights *w)
{
    return w ? w->count : 0;
}

const lumen_array *lumen_weights_at(const lumen_weights *w, int i)
{
    if (!w || i < 0 || i >= w->count)
        return NULL;
    return &w->arrays[i];
}

const lumen_array *lumen_weights_find(const lumen_weights *w, const char *name)
{
    if (!w || !name)
        return NULL;
    int lo = 0, hi = w->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, w->sorted[mid]->name);
        if (c == 0)
            return w->sorted[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *lumen_weights_meta(const lumen_weights *w, const char *key)
{
    if (!w || !key)
        return NULL;
    for (int i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta[2 * i], key) == 0)
            return w->meta[2 * i + 1];
    return NULL;
}

/* ---- safetensors: header validation ---- */

typedef enum { ST_F32, ST_F16, ST_BF16 } st_dtype;
static const struct {
    const char *name;
    int size; /* bytes per element */
} st_dtypes[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2}};

/* The rest of the safetensors dtypes: valid files that we do not convert (EUNSUPPORTED). */
static const char *const st_other_dtypes[] = {"F64", "I64", "I32", "I16",  "I8",      "U64",
                                              "U32", "U16", "U8",  "BOOL", "F8_E4M3", "F8_E5M2"};

/* One tensor's entry, checked: where its bytes are and how to convert them. */
typedef struct st_entry {
    int index; /* file order */
    st_dtype dtype;
    int64_t begin, end; /* bytes, relative to the data section */
} st_entry;

/* A JSON number that is an exact non-negative integer below 2^53, or -1 with *why set. */
static int64_t json_uint(const cJSON *v, const char **why)
{
    if (!cJSON_IsNumber(v)) {
        *why = "is not a number";
        return -1;
    }
    double x = v->valuedouble;
    if (x != x || x < 0) {
        *why = "is negative";
        return -1;
    }
    if (x >= IO_MAX_EXACT) {
        *why = "is too large";
        return -1;
    }
    if (x != (double)(int64_t)x) {
        *why = "is not an integer";
        return -1;
    }
    return (int64_t)x;
}

/* Checks one tensor entry 'name': {"dtype", "shape", "data_offsets"} against a data section of
 * data_size bytes, filling a (name, shape) and e (dtype, byte range). */
static lumen_status st_entry_parse(const io_file *io, const cJSON *item, int64_t data_size,
                                   lumen_array *a, st_entry *e)
{
    const char *name = item->string;
    const char *why = NULL;
    if (strlen(name) >= sizeof a->name)
        return io_fail(io, LUMEN_EFORMAT, "tensor '%.64s...': name is longer than %zu bytes", name,
                       sizeof a->name - 1);
    memcpy(a->name, name, strlen(name) + 1);
    if (!cJSON_IsObject(item))
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': entry is not a JSON object", name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!dtype || !shape || !offs)
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': missing '%s'", name,
                       !dtype   ? "dtype"
                       : !shape ? "shape"
                                : "data_offsets");

    if (!cJSON_IsString(dtype))
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': 'dtype' is not a string", name);
    int found = -1;
    for (int i = 0; i < (int)(sizeof st_dtypes / sizeof st_dtypes[0]); i++)
        if (strcmp(dtype->valuestring, st_dtypes[i].name) == 0)
            found = i;
    if (found < 0) {
        for (size_t i = 0; i < sizeof st_other_dtypes / sizeof st_other_dtypes[0]; i++)
            if (strcmp(dtype->valuestring, st_other_dtypes[i]) == 0)
                return io_fail(io, LUMEN_EUNSUPPORTED,
                               "tensor '%s': dtype '%s' is not supported (F32, F16, BF16 only)",
                               name, dtype->valuestring);
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': unknown dtype '%.32s'", name,
                       dtype->valuestring);
    }
    e->dtype = (st_dtype)found;

    if (!cJSON_IsArray(shape))
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': 'shape' is not an array", name);
    int rank = cJSON_GetArraySize(shape);
    if (rank > LUMEN_MAX_DIMS)
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': rank %d exceeds the limit of %d", name,
                       rank, LUMEN_MAX_DIMS);
    a->shape.ndim = rank;
    int k = 0;
    for (const cJSON *d = shape->child; d; d = d->next, k++) {
        a->shape.d[k] = json_uint(d, &why);
        if (a->shape.d[k] < 0)
            return io_fail(io, LUMEN_EFORMAT, "tensor '%s': shape extent %d %s", name, k, why);
    }
    int64_t need;
    if (shape_bytes(&a->shape, st_dtypes[found].size, &need) != 0)
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': shape size overflows int64", name);

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': 'data_offsets' must be [begin, end]", name);
    e->begin = json_uint(offs->child, &why);
    if (e->begin < 0)
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': data_offsets begin %s", name, why);
    e->end = json_uint(offs->child->next, &why);
    if (e->end < 0)
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': data_offsets end %s", name, why);
    if (e->end < e->begin)
        return io_fail(io, LUMEN_EFORMAT, "tensor '%s': data_offsets end %lld is before begin %lld",
                       name, (long long)e->end, (long long)e->begin);
    if (e->end > data_size)
        return io_fail(io, LUMEN_EFORMAT,
                       "tensor '%s': data_offsets end %lld is beyond the data section (%lld bytes)",
                       name, (long long)e->end, (long long)data_size);
    if (e->end - e->begin != need) {
        char sb[128];
        return io_fail(io, LUMEN_EFORMAT,
                       "tensor '%s': byte size %lld does not match shape %s x %s (%lld bytes)",
                       name, (long long)(e->end - e->begin),
                       lumen_shape_format(&a->shape, sb, sizeof sb), st_dtypes[found].name,
                       (long long)need);
    }
    return LUMEN_OK;
}

/* "__metadata__": an object of string values, copied into w. */
static lumen_status st_meta_parse(const io_file *io, const cJSON *m, lumen_weights *w)
{
    if (w->meta)
        return io_fail(io, LUMEN_EFORMAT, "duplicate '__metadata__'");
    if (!cJSON_IsObject(m))
        return io_fail(io, LUMEN_EFORMAT, "'__metadata__' is not a JSON object");
    int n = cJSON_GetArraySize(m);
    w->meta = calloc(2 * (size_t)n + 1, sizeof *w->meta);
    if (!w->meta)
        return io_fail(io, LUMEN_ENOMEM, "out of memory for metadata");
    for (const cJSON *v = m->child; v; v = v->next) {
        if (!cJSON_IsString(v))
            return io_fail(io, LUMEN_EFORMAT, "'__metadata__' value for '%.64s' is not a string",
                           v->string);
        char *key = strdup(v->string), *val = strdup(v->valuestring);
        w->meta[2 * w->n_meta] = key;
        w->meta[2 * w->n_meta + 1] = val;
        w->n_meta++; /* counted before the check so that free releases both */
        if (!key || !val)
            return io_fail(io, LUMEN_ENOMEM, "out of memory for metadata");
    }
    return LUMEN_OK;
}

static int cmp_array_name(const void *a, const void *b)
{
    const lumen_array *x = *(const lumen_array *const *)a, *y = *(const lumen_array *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_entry_range(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->index - y->index;
}

/* Names must be unique: sorts w->sorted and compares neighbours. */
static lumen_status st_check_names(const io_file *io, lumen_weights *w)
{
    for (int i = 0; i < w->count; i++)
        w->sorted[i] = &w->arrays[i];
    qsort(w->sorted, (size_t)w->count, sizeof *w->sorted, cmp_array_name);
    for (int i = 1; i < w->count; i++)
        if (strcmp(w->sorted[i - 1]->name, w->sorted[i]->name) == 0)
            return io_fail(io, LUMEN_EFORMAT, "tensor '%s': duplicate name", w->sorted[i]->name);
    return LUMEN_OK;
}

/* The byte ranges must tile [0, data_size): sorted by begin, each starts where the last ended.
 * Sorts e (a copy: e[i].index still points into w->arrays). */
static lumen_status st_check_ranges(const io_file *io, const lumen_weights *w, st_entry *e,
                                    int64_t data_size)
{
    qsort(e, (size_t)w->count, sizeof *e, cmp_entry_range);
    int64_t covered = 0;
    for (int i = 0; i < w->count; i++) {
        const char *name = w->arrays[e[i].index].name;
        if (e[i].begin < covered)
            return io_fail(
                io, LUMEN_EFORMAT, "tensor '%s': data_offsets [%lld, %lld) overlap tensor '%s'",
                name, (long long)e[i].begin, (long long)e[i].end, w->arrays[e[i - 1].index].name);
        if (e[i].begin > covered)
            return io_fail(io, LUMEN_EFORMAT,
                           "tensor '%s': hole in the data section: bytes [%lld, %lld) belong "
                           "to no tensor",
                           name, (long long)covered, (long long)e[i].begin);
        covered = e[i].end;
    }
    if (covered != data_size)
        return io_fail(io, LUMEN_EFORMAT,
                       "data section is %lld bytes but tensors cover only %lld: bytes [%lld, "
                       "%lld) belong to no tensor",
                       (long long)data_size, (long long)covered, (long long)covered,
                       (long long)data_size);
    return LUMEN_OK;
}

/* Reads one checked tensor into a freshly allocated float array. */
static lumen_status st_read_tensor(const io_file *io, int64_t data_start, const st_entry *e,
                                   lumen_array *a)
{
    int64_t numel = (e->end - e->begin) / st_dtypes[e->dtype].size;
    /* +1: malloc(0) may return NULL, and empty tensors are legal */
    a->data = malloc((size_t)numel * sizeof(float) + 1);
    if (!a->data)
        return io_fail(io, LUMEN_ENOMEM, "tensor '%s': out of memory for %lld floats", a->name,
                       (long long)numel);
    unsigned char *raw = (unsigned char *)a->data;
    char what[300];
    snprintf(what, sizeof what, "tensor '%s'", a->name);
    lumen_status st = io_read_at(io, data_start + e->begin, raw, (size_t)(e->end - e->begin), what);
    if (st != LUMEN_OK)
        return st;
    /* Convert in place. 2-byte types widen to 4 bytes, so walk backwards: element i is read
     * from bytes [2i, 2i+2) before anything is written at [4i, 4i+4), and later writes land
     * only on elements already converted. */
    for (int64_t i = numel - 1; i >= 0 && e->dtype != ST_F32; i--) {
        uint16_t h = (uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8);
        a->data[i] = e->dtype == ST_F16 ? half_to_float(h) : bf16_to_float(h);
    }
    for (int64_t i = 0; i < numel && e->dtype == ST_F32; i++)
        a->data[i] = bits_to_float(le_u32(raw + 4 * i));
    return LUMEN_OK;
}

/* Parses and checks the JSON header, then fills w (arrays in file order, names, metadata). */
static lumen_status st_parse_header(const io_file *io, const char *text, size_t len,
                                    int64_t data_size, lumen_weights *w, st_entry **entries)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        long at = end ? (long)(end - text) : -1;
        return io_fail(io, LUMEN_EFORMAT, "invalid JSON in the header near byte %ld", at);
    }
    lumen_status st = LUMEN_OK;
    for (const char *p = end; p < text + len && st == LUMEN_OK; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            st = io_fail(io, LUMEN_EFORMAT,
                         "invalid JSON in the header: data after the JSON value at byte %ld",
                         (long)(p - text));
    if (st == LUMEN_OK && !cJSON_IsObject(root))
        st = io_fail(io, LUMEN_EFORMAT, "header is not a JSON object");
    if (st != LUMEN_OK)
        goto cleanup;

    int n = 0;
    for (const cJSON *c = root->child; c; c = c->next)
        n += strcmp(c->string, "__metadata__") != 0;
    w->arrays = calloc((size_t)n + 1, sizeof *w->arrays);
    w->sorted = calloc((size_t)n + 1, sizeof *w->sorted);
    *entries = calloc((size_t)n + 1, sizeof **entries);
    if (!w->arrays || !w->sorted || !*entries) {
        st = io_fail(io, LUMEN_ENOMEM, "out of memory for %d tensors", n);
        goto cleanup;
    }
    for (const cJSON *c = root->child; c && st == LUMEN_OK; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            st = st_meta_parse(io, c, w);
            continue;
        }
        st_entry *e = &(*entries)[w->count];
        e->index = w->count;
        st = st_entry_parse(io, c, data_size, &w->arrays[w->count], e);
        w->count++;
    }
    if (st == LUMEN_OK)
        st = st_check_names(io, w);
    if (st == LUMEN_OK)
        st = st_check_ranges(io, w, *entries, data_size);
cleanup:
    cJSON_Delete(root);
    return st;
}

lumen_status lumen_weights_load(const char *path, lumen_weights **out, char *err, size_t errlen)
{
    io_file io;
    char *header = NULL;
    st_entry *entries = NULL;
    lumen_weights *w = NULL;
    if (out)
        *out = NULL;
    lumen_status st = io_open(&io, path, err, errlen);
    if (st == LUMEN_OK && !out)
        st = io_fail(&io, LUMEN_EINVAL, "no output pointer given");
    if (st != LUMEN_OK)
        goto cleanup;

    unsigned char lenbuf[8];
    if (io.size < 8) {
        st =
            io_fail(&io, LUMEN_EFORMAT, "file is %lld bytes, shorter than the 8-byte header length",
                    (long long)io.size);
        goto cleanup;
    }
    if ((st = io_read_at(&io, 0, lenbuf, 8, "header length")) != LUMEN_OK)
        goto cleanup;
    uint64_t hlen = le_u64(lenbuf);
    if (hlen > IO_MAX_ST_HEADER) {
        st = io_fail(&io, LUMEN_EFORMAT, "header length %llu is above the 100 MB limit",
                     (unsigned long long)hlen);
        goto cleanup;
    }
    if (hlen > (uint64_t)(io.size - 8)) {
        st = io_fail(&io, LUMEN_EFORMAT,
                     "header length %llu is beyond the end of the file (%lld bytes)",
                     (unsigned long long)hlen, (long long)io.size);
        goto cleanup;
    }
    header = malloc((size_t)hlen + 1);
    w = calloc(1, sizeof *w);
    if (!header || !w) {
        st = io_fail(&io, LUMEN_ENOMEM, "out of memory for a %llu-byte header",
                     (unsigned long long)hlen);
        goto cleanup;
    }
    if ((st = io_read_at(&io, 8, header, (size_t)hlen, "JSON header")) != LUMEN_OK)
        goto cleanup;
    header[hlen] = '\0';
    int64_t data_start = 8 + (int64_t)hlen, data_size = io.size - data_start;
    st = st_parse_header(&io, header, (size_t)hlen, data_size, w, &entries);
    for (int i = 0; i < w->count && st == LUMEN_OK; i++)
        st = st_read_tensor(&io, data_start, &entries[i], &w->arrays[entries[i].index]);
    if (st == LUMEN_OK) {
        *out = w;
        w = NULL;
    }
cleanup:
    lumen_weights_free(w);
    free(entries);
    free(header);
    io_close(&io);
    return st;
}

/* ---- atomic writes ---- */

/* A file being written: "<path>.XXXXXX" until out_end renames it over path. io.f is the
 * temporary file; io.path and io.err serve messages as for reading. */
typedef struct io_out {
    io_file io;
    char *tmp;
} io_out;

static lumen_status out_begin(io_out *o, const char *path, char *err, size_t errlen)
{
    char eb[128];
    memset(o, 0, sizeof *o);
    o->io.path = path ? path : "(null)";
    o->io.err = err;
    o->io.errlen = errlen;
    if (!path || !*path)
        return io_fail(&o->io, LUMEN_EINVAL, "no path given");
    size_t n = strlen(path);
    o->tmp = malloc(n + 8);
    if (!o->tmp)
        return io_fail(&o->io, LUMEN_ENOMEM, "out of memory");
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".XXXXXX", 8);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        free(o->tmp);
        o->tmp = NULL;
        return io_fail(&o->io, LUMEN_EIO, "cannot create a temporary file: %s",
                       io_strerror(errno, eb, sizeof eb));
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; these files are meant to be shared */
    o->io.f = fdopen(fd, "wb");
    if (!o->io.f) {
        close(fd);
        unlink(o->tmp);
        return io_fail(&o->io, LUMEN_EIO, "cannot open %s: %s", o->tmp,
                       io_strerror(errno, eb, sizeof eb));
    }
    return LUMEN_OK;
}

static lumen_status out_write(io_out *o, const void *p, size_t n)
{
    if (fwrite(p, 1, n, o->io.f) != n)
        return io_fail(&o->io, LUMEN_EIO, "write failed (disk full?)");
    return LUMEN_OK;
}

/* Writes n floats as little-endian float32. */
static lumen_status out_write_f32(io_out *o, const float *x, int64_t n)
{
    unsigned char buf[4096];
    lumen_status st = LUMEN_OK;
    for (int64_t i = 0; i < n && st == LUMEN_OK;) {
        size_t k = 0;
        for (; k + 4 <= sizeof buf && i < n; k += 4, i++) {
            uint32_t u;
            memcpy(&u, &x[i], sizeof u);
            put_le_u32(buf + k, u);
        }
        st = out_write(o, buf, k);
    }
    return st;
}

/* On success flushes, syncs and renames the temp file over the target; on failure (st != OK)
 * removes it. Returns st or the commit's own failure. */
static lumen_status out_end(io_out *o, lumen_status st)
{
    char eb[128];
    if (o->io.f) {
        if (st == LUMEN_OK && (fflush(o->io.f) != 0 || fsync(fileno(o->io.f)) != 0))
            st = io_fail(&o->io, LUMEN_EIO, "cannot flush: %s", io_strerror(errno, eb, sizeof eb));
        if (fclose(o->io.f) != 0 && st == LUMEN_OK)
            st = io_fail(&o->io, LUMEN_EIO, "cannot close: %s", io_strerror(errno, eb, sizeof eb));
        if (st == LUMEN_OK && rename(o->tmp, o->io.path) != 0)
            st = io_fail(&o->io, LUMEN_EIO, "cannot rename %s: %s", o->tmp,
                         io_strerror(errno, eb, sizeof eb));
        if (st != LUMEN_OK)
            unlink(o->tmp);
    }
    free(o->tmp);
    o->tmp = NULL;
    o->io.f = NULL;
    return st;
}

/* Checks a shape given to a save: rank, extents; numel into *numel. */
static lumen_status check_save_shape(const io_out *o, const char *what, const lumen_shape *s,
                                     const float *data, int64_t *numel)
{
    int64_t bytes;
    if (!s || s->ndim < 0 || s->ndim > LUMEN_MAX_DIMS)
        return io_fail(&o->io, LUMEN_EINVAL, "%s: rank %d is outside 0..%d", what, s ? s->ndim : -1,
                       LUMEN_MAX_DIMS);
    if (shape_bytes(s, 4, &bytes) != 0)
        return io_fail(&o->io, LUMEN_EINVAL, "%s: negative extent or size overflow", what);
    *numel = bytes / 4;
    if (*numel > 0 && !data)
        return io_fail(&o->io, LUMEN_EINVAL, "%s: data is NULL", what);
    return LUMEN_OK;
}

/* ---- safetensors: saving ---- */

/* Builds the JSON header for arrays[0..n) (F32, packed in order) into *text. */
static lumen_status st_build_header(io_out *o, const lumen_array *arrays, int n, char **text)
{
    lumen_status st = LUMEN_OK;
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    if (!root || !meta || !cJSON_AddStringToObject(meta, "writer", "lumen " LUMEN_VERSION) ||
        !cJSON_AddItemToObject(root, "__metadata__", meta)) {
        cJSON_Delete(meta);
        meta = NULL;
        st = io_fail(&o->io, LUMEN_ENOMEM, "out of memory for the header");
    }
    int64_t offset = 0;
    for (int i = 0; i < n && st == LUMEN_OK; i++) {
        const lumen_array *a = &arrays[i];
        int64_t numel = 0;
        char what[300];
        snprintf(what, sizeof what, "array %d '%.256s'", i, a->name);
        if (memchr(a->name, '\0', sizeof a->name) == NULL || !a->name[0] ||
            strcmp(a->name, "__metadata__") == 0) {
            st = io_fail(&o->io, LUMEN_EINVAL, "%s: invalid name", what);
            break;
        }
        if (cJSON_GetObjectItemCaseSensitive(root, a->name)) {
            st = io_fail(&o->io, LUMEN_EINVAL, "%s: duplicate name", what);
            break;
        }
        if ((st = check_save_shape(o, what, &a->shape, a->data, &numel)) != LUMEN_OK)
            break;
        if (numel > (INT64_MAX - offset) / 4) {
            st = io_fail(&o->io, LUMEN_EINVAL, "%s: total size overflows", what);
            break;
        }
        cJSON *e = cJSON_AddObjectToObject(root, a->name);
        int ok = e && cJSON_AddStringToObject(e, "dtype", "F32");
        cJSON *shape = ok ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = offs != NULL;
        for (int k = 0; ok && k < a->shape.ndim; k++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)a->shape.d[k]));
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + numel * 4)));
        if (!ok)
            st = io_fail(&o->io, LUMEN_ENOMEM, "out of memory for the header");
        offset += numel * 4;
    }
    *text = st == LUMEN_OK ? cJSON_PrintUnformatted(root) : NULL;
    if (st == LUMEN_OK && !*text)
        st = io_fail(&o->io, LUMEN_ENOMEM, "out of memory for the header");
    cJSON_Delete(root);
    return st;
}

lumen_status lumen_weights_save(const char *path, const lumen_array *arrays, int n, char *err,
                                size_t errlen)
{
    io_out o;
    char *text = NULL;
    lumen_status st = out_begin(&o, path, err, errlen);
    if (st == LUMEN_OK && (n < 0 || (n > 0 && !arrays)))
        st = io_fail(&o.io, LUMEN_EINVAL, "invalid array list (n = %d)", n);
    if (st == LUMEN_OK)
        st = st_build_header(&o, arrays, n, &text);
    if (st == LUMEN_OK) {
        /* pad with spaces so the data section starts 8-byte aligned, as other writers do */
        size_t len = strlen(text), padded = (len + 8 + 7) / 8 * 8 - 8;
        unsigned char lenbuf[8];
        for (int i = 0; i < 8; i++)
            lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
        st = out_write(&o, lenbuf, 8);
        if (st == LUMEN_OK)
            st = out_write(&o, text, len);
        for (size_t i = len; i < padded && st == LUMEN_OK; i++)
            st = out_write(&o, " ", 1);
    }
    for (int i = 0; i < n && st == LUMEN_OK; i++)
        st = out_write_f32(&o, arrays[i].data, lumen_shape_numel(&arrays[i].shape));
    free(text);
    return out_end(&o, st);
}

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
static lumen_status npy_parse_header(const io_file *io, const char *text, size_t len, char *descr,
                                     size_t descr_cap, int *fortran, lumen_shape *shape)
{
    npy_lex x = {text, text + len};
    int seen[3] = {0, 0, 0};
    if (!npy_eat(&x, '{'))
        return io_fail(io, LUMEN_EFORMAT, "npy header is not a dict");
    while (!npy_eat(&x, '}')) {
        char key[32];
        if (!npy_string(&x, key, sizeof key) || !npy_eat(&x, ':'))
            return io_fail(io, LUMEN_EFORMAT, "npy header: expected 'key': at byte %ld",
                           (long)(x.p - text));
        int k = strcmp(key, "descr") == 0           ? 0
                : strcmp(key, "fortran_order") == 0 ? 1
                : strcmp(key, "shape") == 0         ? 2
                                                    : -1;
        if (k < 0)
            return io_fail(io, LUMEN_EFORMAT, "npy header: unknown key '%s'", key);
        if (seen[k]++)
            return io_fail(io, LUMEN_EFORMAT, "npy header: duplicate key '%s'", key);
        const char *why = NULL;
        if (k == 0 && !npy_string(&x, descr, descr_cap))
            why = "'descr' is not a short string";
        if (k == 1 && (*fortran = npy_bool(&x)) < 0)
            why = "'fortran_order' is not True or False";
        if (k == 2)
            why = npy_shape(&x, shape);
        if (why)
            return io_fail(io, LUMEN_EFORMAT, "npy header: %s", why);
        if (!npy_eat(&x, ',')) {
            if (!npy_eat(&x, '}'))
                return io_fail(io, LUMEN_EFORMAT, "npy header: expected ',' or '}' at byte %ld",
                               (long)(x.p - text));
            break;
        }
    }
    npy_ws(&x);
    if (x.p != x.end)
        return io_fail(io, LUMEN_EFORMAT, "npy header: unexpected data after the dict at byte %ld",
                       (long)(x.p - text));
    if (!seen[0] || !seen[1] || !seen[2])
        return io_fail(io, LUMEN_EFORMAT, "npy header: missing key '%s'",
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
static lumen_status npy_read_f8(const io_file *io, int64_t off, float *data, int64_t numel)
{
    unsigned char buf[8 * 512];
    for (int64_t i = 0; i < numel;) {
        int64_t k = numel - i < 512 ? numel - i : 512;
        lumen_status st = io_read_at(io, off + 8 * i, buf, (size_t)(8 * k), "array data");
        if (st != LUMEN_OK)
            return st;
        for (int64_t j = 0; j < k; j++, i++) {
            uint64_t u = le_u64(buf + 8 * j);
            double d;
            memcpy(&d, &u, sizeof d);
            data[i] = (float)d;
        }
    }
    return LUMEN_OK;
}

lumen_status lumen_npy_load(const char *path, lumen_array *out, char *err, size_t errlen)
{
    io_file io;
    char *header = NULL;
    lumen_array a;
    memset(&a, 0, sizeof a);
    if (out)
        memset(out, 0, sizeof *out);
    lumen_status st = io_open(&io, path, err, errlen);
    if (st == LUMEN_OK && !out)
        st = io_fail(&io, LUMEN_EINVAL, "no output array given");
    if (st != LUMEN_OK)
        goto cleanup;

    unsigned char pre[12];
    if (io.size < 10) {
        st = io_fail(&io, LUMEN_EFORMAT, "truncated: %lld bytes is too short for a .npy file",
                     (long long)io.size);
        goto cleanup;
    }
    if ((st = io_read_at(&io, 0, pre, 10, "npy preamble")) != LUMEN_OK)
        goto cleanup;
    if (memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = io_fail(&io, LUMEN_EFORMAT, "not a .npy file (bad magic)");
        goto cleanup;
    }
    int major = pre[6];
    if (major < 1 || major > 3) {
        st = io_fail(&io, LUMEN_EUNSUPPORTED, "npy version %d.%d is not supported (1.0-3.0)", major,
                     pre[7]);
        goto cleanup;
    }
    int64_t hstart = major == 1 ? 10 : 12;
    if (major > 1 && (st = io_read_at(&io, 10, pre + 10, 2, "npy header length")) != LUMEN_OK)
        goto cleanup;
    uint32_t hlen = major == 1 ? (uint32_t)(pre[8] | pre[9] << 8) : le_u32(pre + 8);
    if (hlen > IO_MAX_NPY_HEADER) {
        st = io_fail(&io, LUMEN_EFORMAT, "npy header length %u is above the %u-byte limit", hlen,
                     IO_MAX_NPY_HEADER);
        goto cleanup;
    }
    if ((int64_t)hlen > io.size - hstart) {
        st = io_fail(&io, LUMEN_EFORMAT,
                     "truncated: npy header length %u is beyond the end of the file (%lld bytes)",
                     hlen, (long long)io.size);
        goto cleanup;
    }
    header = malloc((size_t)hlen + 1);
    if (!header) {
        st = io_fail(&io, LUMEN_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((st = io_read_at(&io, hstart, header, hlen, "npy header")) != LUMEN_OK)
        goto cleanup;
    header[hlen] = '\0';

    char descr[16];
    int fortran = 0;
    st = npy_parse_header(&io, header, hlen, descr, sizeof descr, &fortran, &a.shape);
    if (st != LUMEN_OK)
        goto cleanup;
    int itemsize = strcmp(descr, "<f4") == 0 ? 4 : strcmp(descr, "<f8") == 0 ? 8 : 0;
    if (!itemsize) {
        st = io_fail(&io, LUMEN_EUNSUPPORTED, "dtype '%s' is not supported ('<f4', '<f8' only)",
                     descr);
        goto cleanup;
    }
    if (fortran) {
        st = io_fail(&io, LUMEN_EUNSUPPORTED, "fortran_order True is not supported (C order only)");
        goto cleanup;
    }
    int64_t need, data_start = hstart + hlen, have = io.size - data_start;
    char sb[128];
    lumen_shape_format(&a.shape, sb, sizeof sb);
    if (shape_bytes(&a.shape, itemsize, &need) != 0) {
        st = io_fail(&io, LUMEN_EFORMAT, "npy shape %s size overflows int64", sb);
        goto cleanup;
    }
    if (need != have) {
        st = io_fail(&io, LUMEN_EFORMAT,
                     "%s: shape %s x %s needs %lld data bytes, the file has %lld",
                     need > have ? "truncated" : "trailing bytes", sb, descr, (long long)need,
                     (long long)have);
        goto cleanup;
    }
    int64_t numel = need / itemsize;
    a.data = malloc((size_t)numel * sizeof(float) + 1);
    if (!a.data) {
        st = io_fail(&io, LUMEN_ENOMEM, "out of memory for %lld floats", (long long)numel);
        goto cleanup;
    }
    if (itemsize == 8) {
        st = npy_read_f8(&io, data_start, a.data, numel);
    } else {
        st = io_read_at(&io, data_start, a.data, (size_t)need, "array data");
        unsigned char *raw = (unsigned char *)a.data;
        for (int64_t i = 0; i < numel && st == LUMEN_OK; i++)
            a.data[i] = bits_to_float(le_u32(raw + 4 * i));
    }
    if (st == LUMEN_OK) {
        npy_name(path, a.name, sizeof a.name);
        *out = a;
        a.data = NULL;
    }
cleanup:
    free(a.data);
    free(header);
    io_close(&io);
    return st;
}

lumen_status lumen_npy_save(const char *path, const lumen_shape *shape, const float *data,
                            char *err, size_t errlen)
{
    io_out o;
    int64_t numel = 0;
    lumen_status st = out_begin(&o, path, err, errlen);
    if (st == LUMEN_OK)
        st = check_save_shape(&o, "array", shape, data, &numel);
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
        st = out_write(&o, pre, sizeof pre);
        if (st == LUMEN_OK)
            st = out_write(&o, h, hlen);
    }
    if (st == LUMEN_OK)
        st = out_write_f32(&o, data, numel);
    return out_end(&o, st);
}
