/*
 * safetensors.c - weight files in the safetensors format (load and save).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON
 *     {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 *      "__metadata__": {"<key>": "<string>"}}
 * then the data section; offsets are relative to its first byte and the tensors must cover it
 * exactly, with no overlap and no hole (as the reference implementation requires). We read the
 * header into memory, validate all entries, then read each tensor straight into its float array.
 * A bad file gives LUMEN_EFORMAT (a valid file we cannot convert gives LUMEN_EUNSUPPORTED) and a
 * message "<path>: tensor '<name>': <problem>". Saves are atomic (io.h, sys.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io.h"

#define IO_MAX_ST_HEADER ((uint64_t)100000000)    /* bytes: the reference implementation's limit */
#define IO_MAX_EXACT ((double)((int64_t)1 << 53)) /* JSON numbers are doubles: exact up to here */

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
static lumen_status st_entry_parse(const lumen__io_file *io, const cJSON *item, int64_t data_size,
                                   lumen_array *a, st_entry *e)
{
    const char *name = item->string;
    const char *why = NULL;
    if (strlen(name) >= sizeof a->name)
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%.64s...': name is longer than %zu bytes",
                              name, sizeof a->name - 1);
    memcpy(a->name, name, strlen(name) + 1);
    if (!cJSON_IsObject(item))
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': entry is not a JSON object", name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!dtype || !shape || !offs)
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': missing '%s'", name,
                              !dtype   ? "dtype"
                              : !shape ? "shape"
                                       : "data_offsets");

    if (!cJSON_IsString(dtype))
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': 'dtype' is not a string", name);
    int found = -1;
    for (int i = 0; i < (int)(sizeof st_dtypes / sizeof st_dtypes[0]); i++)
        if (strcmp(dtype->valuestring, st_dtypes[i].name) == 0)
            found = i;
    if (found < 0) {
        for (size_t i = 0; i < sizeof st_other_dtypes / sizeof st_other_dtypes[0]; i++)
            if (strcmp(dtype->valuestring, st_other_dtypes[i]) == 0)
                return lumen__io_fail(
                    io, LUMEN_EUNSUPPORTED,
                    "tensor '%s': dtype '%s' is not supported (F32, F16, BF16 only)", name,
                    dtype->valuestring);
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': unknown dtype '%.32s'", name,
                              dtype->valuestring);
    }
    e->dtype = (st_dtype)found;

    if (!cJSON_IsArray(shape))
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': 'shape' is not an array", name);
    int rank = cJSON_GetArraySize(shape);
    if (rank > LUMEN_MAX_DIMS)
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': rank %d exceeds the limit of %d",
                              name, rank, LUMEN_MAX_DIMS);
    a->shape.ndim = rank;
    int k = 0;
    for (const cJSON *d = shape->child; d; d = d->next, k++) {
        a->shape.d[k] = json_uint(d, &why);
        if (a->shape.d[k] < 0)
            return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': shape extent %d %s", name, k,
                                  why);
    }
    int64_t need;
    if (lumen__shape_bytes(&a->shape, st_dtypes[found].size, &need) != 0)
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': shape size overflows int64", name);

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': 'data_offsets' must be [begin, end]",
                              name);
    e->begin = json_uint(offs->child, &why);
    if (e->begin < 0)
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': data_offsets begin %s", name, why);
    e->end = json_uint(offs->child->next, &why);
    if (e->end < 0)
        return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': data_offsets end %s", name, why);
    if (e->end < e->begin)
        return lumen__io_fail(io, LUMEN_EFORMAT,
                              "tensor '%s': data_offsets end %lld is before begin %lld", name,
                              (long long)e->end, (long long)e->begin);
    if (e->end > data_size)
        return lumen__io_fail(
            io, LUMEN_EFORMAT,
            "tensor '%s': data_offsets end %lld is beyond the data section (%lld bytes)", name,
            (long long)e->end, (long long)data_size);
    if (e->end - e->begin != need) {
        char sb[128];
        return lumen__io_fail(
            io, LUMEN_EFORMAT,
            "tensor '%s': byte size %lld does not match shape %s x %s (%lld bytes)", name,
            (long long)(e->end - e->begin), lumen_shape_format(&a->shape, sb, sizeof sb),
            st_dtypes[found].name, (long long)need);
    }
    return LUMEN_OK;
}

/* "__metadata__": an object of string values, copied into w. */
static lumen_status st_meta_parse(const lumen__io_file *io, const cJSON *m, lumen_weights *w)
{
    if (w->meta)
        return lumen__io_fail(io, LUMEN_EFORMAT, "duplicate '__metadata__'");
    if (!cJSON_IsObject(m))
        return lumen__io_fail(io, LUMEN_EFORMAT, "'__metadata__' is not a JSON object");
    int n = cJSON_GetArraySize(m);
    w->meta = calloc(2 * (size_t)n + 1, sizeof *w->meta);
    if (!w->meta)
        return lumen__io_fail(io, LUMEN_ENOMEM, "out of memory for metadata");
    for (const cJSON *v = m->child; v; v = v->next) {
        if (!cJSON_IsString(v))
            return lumen__io_fail(io, LUMEN_EFORMAT,
                                  "'__metadata__' value for '%.64s' is not a string", v->string);
        char *key = strdup(v->string), *val = strdup(v->valuestring);
        w->meta[2 * w->n_meta] = key;
        w->meta[2 * w->n_meta + 1] = val;
        w->n_meta++; /* counted before the check so that free releases both */
        if (!key || !val)
            return lumen__io_fail(io, LUMEN_ENOMEM, "out of memory for metadata");
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
static lumen_status st_check_names(const lumen__io_file *io, lumen_weights *w)
{
    for (int i = 0; i < w->count; i++)
        w->sorted[i] = &w->arrays[i];
    qsort(w->sorted, (size_t)w->count, sizeof *w->sorted, cmp_array_name);
    for (int i = 1; i < w->count; i++)
        if (strcmp(w->sorted[i - 1]->name, w->sorted[i]->name) == 0)
            return lumen__io_fail(io, LUMEN_EFORMAT, "tensor '%s': duplicate name",
                                  w->sorted[i]->name);
    return LUMEN_OK;
}

/* The byte ranges must tile [0, data_size): sorted by begin, each starts where the last ended.
 * Sorts e (a copy: e[i].index still points into w->arrays). */
static lumen_status st_check_ranges(const lumen__io_file *io, const lumen_weights *w, st_entry *e,
                                    int64_t data_size)
{
    qsort(e, (size_t)w->count, sizeof *e, cmp_entry_range);
    int64_t covered = 0;
    for (int i = 0; i < w->count; i++) {
        const char *name = w->arrays[e[i].index].name;
        if (e[i].begin < covered)
            return lumen__io_fail(
                io, LUMEN_EFORMAT, "tensor '%s': data_offsets [%lld, %lld) overlap tensor '%s'",
                name, (long long)e[i].begin, (long long)e[i].end, w->arrays[e[i - 1].index].name);
        if (e[i].begin > covered)
            return lumen__io_fail(
                io, LUMEN_EFORMAT,
                "tensor '%s': hole in the data section: bytes [%lld, %lld) belong "
                "to no tensor",
                name, (long long)covered, (long long)e[i].begin);
        covered = e[i].end;
    }
    if (covered != data_size)
        return lumen__io_fail(
            io, LUMEN_EFORMAT,
            "data section is %lld bytes but tensors cover only %lld: bytes [%lld, "
            "%lld) belong to no tensor",
            (long long)data_size, (long long)covered, (long long)covered, (long long)data_size);
    return LUMEN_OK;
}

/* Reads one checked tensor into a freshly allocated float array. */
static lumen_status st_read_tensor(const lumen__io_file *io, int64_t data_start, const st_entry *e,
                                   lumen_array *a)
{
    int64_t numel = (e->end - e->begin) / st_dtypes[e->dtype].size;
    /* +1: malloc(0) may return NULL, and empty tensors are legal */
    a->data = malloc((size_t)numel * sizeof(float) + 1);
    if (!a->data)
        return lumen__io_fail(io, LUMEN_ENOMEM, "tensor '%s': out of memory for %lld floats",
                              a->name, (long long)numel);
    unsigned char *raw = (unsigned char *)a->data;
    char what[300];
    snprintf(what, sizeof what, "tensor '%s'", a->name);
    lumen_status st =
        lumen__io_read_at(io, data_start + e->begin, raw, (size_t)(e->end - e->begin), what);
    if (st != LUMEN_OK)
        return st;
    /* Convert in place. 2-byte types widen to 4 bytes, so walk backwards: element i is read
     * from bytes [2i, 2i+2) before anything is written at [4i, 4i+4), and later writes land
     * only on elements already converted. */
    for (int64_t i = numel - 1; i >= 0 && e->dtype != ST_F32; i--) {
        uint16_t h = (uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8);
        a->data[i] = e->dtype == ST_F16 ? lumen__half_to_float(h) : lumen__bf16_to_float(h);
    }
    for (int64_t i = 0; i < numel && e->dtype == ST_F32; i++)
        a->data[i] = lumen__bits_to_float(lumen__le_u32(raw + 4 * i));
    return LUMEN_OK;
}

/* Parses and checks the JSON header, then fills w (arrays in file order, names, metadata). */
static lumen_status st_parse_header(const lumen__io_file *io, const char *text, size_t len,
                                    int64_t data_size, lumen_weights *w, st_entry **entries)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        long at = end ? (long)(end - text) : -1;
        return lumen__io_fail(io, LUMEN_EFORMAT, "invalid JSON in the header near byte %ld", at);
    }
    lumen_status st = LUMEN_OK;
    for (const char *p = end; p < text + len && st == LUMEN_OK; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            st = lumen__io_fail(io, LUMEN_EFORMAT,
                                "invalid JSON in the header: data after the JSON value at byte %ld",
                                (long)(p - text));
    if (st == LUMEN_OK && !cJSON_IsObject(root))
        st = lumen__io_fail(io, LUMEN_EFORMAT, "header is not a JSON object");
    if (st != LUMEN_OK)
        goto cleanup;

    int n = 0;
    for (const cJSON *c = root->child; c; c = c->next)
        n += strcmp(c->string, "__metadata__") != 0;
    w->arrays = calloc((size_t)n + 1, sizeof *w->arrays);
    w->sorted = calloc((size_t)n + 1, sizeof *w->sorted);
    *entries = calloc((size_t)n + 1, sizeof **entries);
    if (!w->arrays || !w->sorted || !*entries) {
        st = lumen__io_fail(io, LUMEN_ENOMEM, "out of memory for %d tensors", n);
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
    lumen__io_file io;
    char *header = NULL;
    st_entry *entries = NULL;
    lumen_weights *w = NULL;
    if (out)
        *out = NULL;
    lumen_status st = lumen__io_open(&io, path, err, errlen);
    if (st == LUMEN_OK && !out)
        st = lumen__io_fail(&io, LUMEN_EINVAL, "no output pointer given");
    if (st != LUMEN_OK)
        goto cleanup;

    unsigned char lenbuf[8];
    if (io.size < 8) {
        st = lumen__io_fail(&io, LUMEN_EFORMAT,
                            "file is %lld bytes, shorter than the 8-byte header length",
                            (long long)io.size);
        goto cleanup;
    }
    if ((st = lumen__io_read_at(&io, 0, lenbuf, 8, "header length")) != LUMEN_OK)
        goto cleanup;
    uint64_t hlen = lumen__le_u64(lenbuf);
    if (hlen > IO_MAX_ST_HEADER) {
        st = lumen__io_fail(&io, LUMEN_EFORMAT, "header length %llu is above the 100 MB limit",
                            (unsigned long long)hlen);
        goto cleanup;
    }
    if (hlen > (uint64_t)(io.size - 8)) {
        st = lumen__io_fail(&io, LUMEN_EFORMAT,
                            "header length %llu is beyond the end of the file (%lld bytes)",
                            (unsigned long long)hlen, (long long)io.size);
        goto cleanup;
    }
    header = malloc((size_t)hlen + 1);
    w = calloc(1, sizeof *w);
    if (!header || !w) {
        st = lumen__io_fail(&io, LUMEN_ENOMEM, "out of memory for a %llu-byte header",
                            (unsigned long long)hlen);
        goto cleanup;
    }
    if ((st = lumen__io_read_at(&io, 8, header, (size_t)hlen, "JSON header")) != LUMEN_OK)
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
    lumen__io_close(&io);
    return st;
}

/* ---- safetensors: saving ---- */

/* Builds the JSON header for arrays[0..n) (F32, packed in order) into *text. */
static lumen_status st_build_header(lumen__io_out *o, const lumen_array *arrays, int n, char **text)
{
    lumen_status st = LUMEN_OK;
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    if (!root || !meta || !cJSON_AddStringToObject(meta, "writer", "lumen " LUMEN_VERSION) ||
        !cJSON_AddItemToObject(root, "__metadata__", meta)) {
        cJSON_Delete(meta);
        meta = NULL;
        st = lumen__io_fail(&o->io, LUMEN_ENOMEM, "out of memory for the header");
    }
    int64_t offset = 0;
    for (int i = 0; i < n && st == LUMEN_OK; i++) {
        const lumen_array *a = &arrays[i];
        int64_t numel = 0;
        char what[300];
        snprintf(what, sizeof what, "array %d '%.256s'", i, a->name);
        if (memchr(a->name, '\0', sizeof a->name) == NULL || !a->name[0] ||
            strcmp(a->name, "__metadata__") == 0) {
            st = lumen__io_fail(&o->io, LUMEN_EINVAL, "%s: invalid name", what);
            break;
        }
        if (cJSON_GetObjectItemCaseSensitive(root, a->name)) {
            st = lumen__io_fail(&o->io, LUMEN_EINVAL, "%s: duplicate name", what);
            break;
        }
        if ((st = lumen__io_check_save_shape(o, what, &a->shape, a->data, &numel)) != LUMEN_OK)
            break;
        if (numel > (INT64_MAX - offset) / 4) {
            st = lumen__io_fail(&o->io, LUMEN_EINVAL, "%s: total size overflows", what);
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
            st = lumen__io_fail(&o->io, LUMEN_ENOMEM, "out of memory for the header");
        offset += numel * 4;
    }
    *text = st == LUMEN_OK ? cJSON_PrintUnformatted(root) : NULL;
    if (st == LUMEN_OK && !*text)
        st = lumen__io_fail(&o->io, LUMEN_ENOMEM, "out of memory for the header");
    cJSON_Delete(root);
    return st;
}

lumen_status lumen_weights_save(const char *path, const lumen_array *arrays, int n, char *err,
                                size_t errlen)
{
    lumen__io_out o;
    char *text = NULL;
    lumen_status st = lumen__io_out_begin(&o, path, err, errlen);
    if (st == LUMEN_OK && (n < 0 || (n > 0 && !arrays)))
        st = lumen__io_fail(&o.io, LUMEN_EINVAL, "invalid array list (n = %d)", n);
    if (st == LUMEN_OK)
        st = st_build_header(&o, arrays, n, &text);
    if (st == LUMEN_OK) {
        /* pad with spaces so the data section starts 8-byte aligned, as other writers do */
        size_t len = strlen(text), padded = (len + 8 + 7) / 8 * 8 - 8;
        unsigned char lenbuf[8];
        for (int i = 0; i < 8; i++)
            lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
        st = lumen__io_out_write(&o, lenbuf, 8);
        if (st == LUMEN_OK)
            st = lumen__io_out_write(&o, text, len);
        for (size_t i = len; i < padded && st == LUMEN_OK; i++)
            st = lumen__io_out_write(&o, " ", 1);
    }
    for (int i = 0; i < n && st == LUMEN_OK; i++)
        st = lumen__io_out_write_f32(&o, arrays[i].data, lumen_shape_numel(&arrays[i].shape));
    free(text);
    return lumen__io_out_end(&o, st);
}
