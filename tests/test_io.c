/*
 * test_io.c - safetensors and .npy loading and saving (runtime/io.c): round trips, exact F16
 * and BF16 conversion (subnormals, infinities, NaN), metadata and lookups, and one hand-made
 * hostile file per rejection the loader promises, each checked for its status and for a message
 * that names the problem. Needs no OpenCL device.
 * One line per check; exits non-zero when any check fails.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lumen.h"

static int write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = fwrite(data, 1, len, f);
    return fclose(f) != 0 || put != len ? -1 : 0;
}

/* A safetensors file: header length field hlen (the real length when hlen is (uint64_t)-1),
 * header text, then data_len bytes of data (zeros when data is NULL). */
static int write_st(const char *path, uint64_t hlen, const char *header, const void *data,
                    size_t data_len)
{
    size_t n = strlen(header);
    unsigned char *buf = calloc(8 + n + data_len + 1, 1);
    if (!buf)
        return -1;
    if (hlen == (uint64_t)-1)
        hlen = n;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, header, n);
    if (data)
        memcpy(buf + 8 + n, data, data_len);
    int rc = write_bytes(path, buf, 8 + n + data_len);
    free(buf);
    return rc;
}

/* A .npy file: version major, the dict text (a newline is appended), then the data bytes. */
static int write_npy(const char *path, int major, const char *dict, const void *data,
                     size_t data_len)
{
    size_t n = strlen(dict) + 1, pre = major == 1 ? 10 : 12;
    unsigned char *buf = calloc(pre + n + data_len + 1, 1);
    if (!buf)
        return -1;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    for (size_t i = 8; i < pre; i++)
        buf[i] = (unsigned char)(n >> (8 * (i - 8)));
    memcpy(buf + pre, dict, n - 1);
    buf[pre + n - 1] = '\n';
    if (data)
        memcpy(buf + pre + n, data, data_len);
    int rc = write_bytes(path, buf, pre + n + data_len);
    free(buf);
    return rc;
}

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* ---- safetensors ---- */

static void test_st_roundtrip(void)
{
    char path[512], err[LUMEN_ERR_MAX] = "";
    path_in(path, sizeof path, "rt.safetensors");
    float w[54], b[2] = {0.5f, -0.25f}, s[1] = {3.0f};
    for (int i = 0; i < 54; i++)
        w[i] = (float)sin(i * 0.37) * 1e-3f * (float)(i + 1);
    w[7] = -0.0f;
    w[8] = 1e-40f; /* subnormal float */
    lumen_array arrays[4] = {{"conv.weight", {4, {2, 3, 3, 3}}, w},
                             {"conv.bias", {1, {2}}, b},
                             {"scale", {0, {0}}, s},
                             {"empty", {2, {0, 5}}, NULL}};
    lumen_status st = lumen_weights_save(path, arrays, 4, err, sizeof err);
    CHECK(st == LUMEN_OK, "safetensors save 4 arrays (%s)", err);

    FILE *f = fopen(path, "rb");
    unsigned char len8[8] = {0};
    int aligned = f && fread(len8, 1, 8, f) == 8 && len8[0] % 8 == 0;
    if (f)
        fclose(f);
    CHECK(aligned, "safetensors save pads the header to 8 bytes");

    lumen_weights *wt = NULL;
    st = lumen_weights_load(path, &wt, err, sizeof err);
    CHECK(st == LUMEN_OK && wt, "safetensors load what was saved (%s)", err);
    if (!wt)
        return;
    CHECK(lumen_weights_count(wt) == 4, "count = %d", lumen_weights_count(wt));
    int order = 1, shapes = 1, values = 1;
    for (int i = 0; i < 4; i++) {
        const lumen_array *a = lumen_weights_at(wt, i);
        order &= a && strcmp(a->name, arrays[i].name) == 0;
        shapes &= a && lumen_shape_equal(&a->shape, &arrays[i].shape);
        int64_t n = lumen_shape_numel(&arrays[i].shape);
        for (int64_t k = 0; a && k < n; k++)
            values &= same_bits(a->data[k], arrays[i].data[k]);
    }
    CHECK(order, "at(i) keeps file order");
    CHECK(shapes, "shapes round-trip (incl. scalar [] and empty [0,5])");
    CHECK(values, "F32 values round-trip bit-exactly (incl. -0 and a subnormal)");
    CHECK(lumen_weights_at(wt, -1) == NULL && lumen_weights_at(wt, 4) == NULL,
          "at() out of range gives NULL");
    CHECK(lumen_weights_find(wt, "conv.bias") == lumen_weights_at(wt, 1) &&
              lumen_weights_find(wt, "empty") == lumen_weights_at(wt, 3),
          "find() returns the arrays at() gives");
    CHECK(lumen_weights_find(wt, "conv") == NULL && lumen_weights_find(wt, "__metadata__") == NULL,
          "find() of a missing name gives NULL");
    const char *writer = lumen_weights_meta(wt, "writer");
    CHECK(writer && strncmp(writer, "lumen ", 6) == 0, "save records metadata writer='%s'",
          writer ? writer : "(null)");
    lumen_weights_free(wt);
    lumen_weights_free(NULL);
    CHECK(lumen_weights_count(NULL) == 0 && lumen_weights_find(NULL, "x") == NULL &&
              lumen_weights_meta(NULL, "x") == NULL,
          "NULL weights: free is a no-op, count 0, find/meta NULL");

    /* overwrite atomically with a different set */
    st = lumen_weights_save(path, arrays + 1, 1, err, sizeof err);
    wt = NULL;
    if (st == LUMEN_OK)
        st = lumen_weights_load(path, &wt, err, sizeof err);
    CHECK(st == LUMEN_OK && lumen_weights_count(wt) == 1 &&
              strcmp(lumen_weights_at(wt, 0)->name, "conv.bias") == 0,
          "save over an existing file replaces it");
    lumen_weights_free(wt);

    /* zero arrays is a valid file */
    path_in(path, sizeof path, "none.safetensors");
    st = lumen_weights_save(path, NULL, 0, err, sizeof err);
    wt = NULL;
    if (st == LUMEN_OK)
        st = lumen_weights_load(path, &wt, err, sizeof err);
    CHECK(st == LUMEN_OK && lumen_weights_count(wt) == 0, "save and load zero arrays");
    lumen_weights_free(wt);
}

static void test_st_save_errors(void)
{
    char path[512], err[LUMEN_ERR_MAX] = "";
    float x[2] = {1, 2};
    path_in(path, sizeof path, "bad_save.safetensors");
    lumen_array dup[2] = {{"a", {1, {2}}, x}, {"a", {1, {2}}, x}};
    lumen_status st = lumen_weights_save(path, dup, 2, err, sizeof err);
    CHECK(st == LUMEN_EINVAL && strstr(err, "duplicate name") && access(path, F_OK) != 0,
          "save rejects duplicate names, writes nothing: %s", err);
    lumen_array rank[1] = {{"r", {7, {1, 1, 1, 1, 1, 1}}, x}};
    st = lumen_weights_save(path, rank, 1, err, sizeof err);
    CHECK(st == LUMEN_EINVAL && strstr(err, "rank 7"), "save rejects rank 7: %s", err);
    lumen_array neg[1] = {{"n", {1, {-2}}, x}};
    st = lumen_weights_save(path, neg, 1, err, sizeof err);
    CHECK(st == LUMEN_EINVAL && strstr(err, "negative"), "save rejects a negative extent: %s", err);
    lumen_array nodata[1] = {{"d", {1, {2}}, NULL}};
    st = lumen_weights_save(path, nodata, 1, err, sizeof err);
    CHECK(st == LUMEN_EINVAL && strstr(err, "NULL"), "save rejects NULL data: %s", err);
    path_in(path, sizeof path, "no/such/dir/x.safetensors");
    st = lumen_weights_save(path, dup, 1, err, sizeof err);
    CHECK(st == LUMEN_EIO && strstr(err, "temporary file"), "save into a missing folder: %s", err);
}

static void put_u16s(unsigned char *out, const uint16_t *v, int n)
{
    for (int i = 0; i < n; i++) {
        out[2 * i] = (unsigned char)(v[i] & 0xff);
        out[2 * i + 1] = (unsigned char)(v[i] >> 8);
    }
}

static void test_st_half(void)
{
    /* F16 and BF16 bit patterns and the float32 each must become (NaN checked with isnan) */
    static const uint16_t h[] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x8001, 0x8000,
                                 0x7bff, 0x3555, 0x7c00, 0xfc00, 0x7e00};
    const float hv[] = {1.0f,    -2.0f,       0x1p-24f, 0x1.ff8p-15f, -0x1p-24f, -0.0f,
                        65504.f, 0x1.554p-2f, INFINITY, -INFINITY,    NAN};
    static const uint16_t bf[] = {0x3f80, 0xc040, 0x0001, 0x8080, 0x3eaa, 0x7f80, 0xff80, 0x7fc0};
    const float bv[] = {1.0f, -3.0f, 0x1p-133f, -0x1p-126f, 0x1.54p-2f, INFINITY, -INFINITY, NAN};
    enum { NH = sizeof h / sizeof h[0], NB = sizeof bf / sizeof bf[0] };
    unsigned char data[2 * (NH + NB)];
    put_u16s(data, h, NH);
    put_u16s(data + 2 * NH, bf, NB);
    char header[512], path[512], err[LUMEN_ERR_MAX] = "";
    snprintf(header, sizeof header,
             "{\"__metadata__\": {\"format\": \"pt\", \"note\": \"hand made\"},"
             " \"h\": {\"dtype\": \"F16\", \"shape\": [%d], \"data_offsets\": [0, %d]},"
             " \"b\": {\"dtype\": \"BF16\", \"shape\": [1, %d], \"data_offsets\": [%d, %d]}}  ",
             NH, 2 * NH, NB, 2 * NH, 2 * (NH + NB));
    path_in(path, sizeof path, "half.safetensors");
    write_st(path, (uint64_t)-1, header, data, sizeof data);
    lumen_weights *w = NULL;
    lumen_status st = lumen_weights_load(path, &w, err, sizeof err);
    CHECK(st == LUMEN_OK && lumen_weights_count(w) == 2, "hand-made F16/BF16 file loads (%s)", err);
    if (!w)
        return;
    const lumen_array *a = lumen_weights_find(w, "h"), *b = lumen_weights_find(w, "b");
    CHECK(a == lumen_weights_at(w, 0) && b == lumen_weights_at(w, 1),
          "__metadata__ first does not count as an array");
    for (int i = 0; a && i < NH; i++)
        CHECK(isnan(hv[i]) ? isnan(a->data[i]) : same_bits(a->data[i], hv[i]),
              "F16 0x%04x -> %a (want %a)", h[i], a->data[i], hv[i]);
    for (int i = 0; b && i < NB; i++)
        CHECK(isnan(bv[i]) ? isnan(b->data[i]) : same_bits(b->data[i], bv[i]),
              "BF16 0x%04x -> %a (want %a)", bf[i], b->data[i], bv[i]);
    const char *fmt = lumen_weights_meta(w, "format"), *note = lumen_weights_meta(w, "note");
    CHECK(fmt && strcmp(fmt, "pt") == 0 && note && strcmp(note, "hand made") == 0 &&
              lumen_weights_meta(w, "missing") == NULL,
          "metadata format='%s' note='%s', missing key NULL", fmt ? fmt : "(null)",
          note ? note : "(null)");
    lumen_weights_free(w);

    /* every half value converts exactly: compare with a slow reference */
    int exact = 1;
    unsigned char all[2 * 65536];
    for (int i = 0; i < 65536; i++) {
        all[2 * i] = (unsigned char)(i & 0xff);
        all[2 * i + 1] = (unsigned char)(i >> 8);
    }
    write_st(path, (uint64_t)-1,
             "{\"h\": {\"dtype\": \"F16\", \"shape\": [256, 256], \"data_offsets\": [0, 131072]}}",
             all, sizeof all);
    w = NULL;
    st = lumen_weights_load(path, &w, err, sizeof err);
    for (int i = 0; st == LUMEN_OK && i < 65536; i++) {
        int e = (i >> 10) & 0x1f, m = i & 0x3ff;
        double mag = e == 0    ? ldexp(m, -24)
                     : e == 31 ? (m ? NAN : INFINITY)
                               : ldexp(1024 + m, e - 25);
        float want = (float)((i & 0x8000) ? -mag : mag), got = lumen_weights_at(w, 0)->data[i];
        exact &= isnan(want) ? isnan(got) : same_bits(got, want);
    }
    CHECK(st == LUMEN_OK && exact, "all 65536 F16 values match ldexp() reference");
    lumen_weights_free(w);
}

/* One hand-made bad file: label, header, data bytes, status and a piece of the message. */
typedef struct st_case {
    const char *label, *header;
    int data_len;
    lumen_status st;
    const char *msg;
} st_case;

#define T1(fields) "{\"w\": {" fields "}}"
static const st_case st_cases[] = {
    {"invalid JSON", "{\"w\": {\"dtype\": ", 0, LUMEN_EFORMAT, "invalid JSON"},
    {"data after the JSON", "{} x", 0, LUMEN_EFORMAT, "data after the JSON"},
    {"header not an object", "[1, 2]", 0, LUMEN_EFORMAT, "header is not a JSON object"},
    {"entry not an object", "{\"w\": 5}", 0, LUMEN_EFORMAT,
     "tensor 'w': entry is not a JSON object"},
    {"missing dtype", T1("\"shape\": [1], \"data_offsets\": [0, 4]"), 4, LUMEN_EFORMAT,
     "tensor 'w': missing 'dtype'"},
    {"missing shape", T1("\"dtype\": \"F32\", \"data_offsets\": [0, 4]"), 4, LUMEN_EFORMAT,
     "tensor 'w': missing 'shape'"},
    {"missing data_offsets", T1("\"dtype\": \"F32\", \"shape\": [1]"), 4, LUMEN_EFORMAT,
     "tensor 'w': missing 'data_offsets'"},
    {"dtype not a string", T1("\"dtype\": 4, \"shape\": [1], \"data_offsets\": [0, 4]"), 4,
     LUMEN_EFORMAT, "'dtype' is not a string"},
    {"unknown dtype", T1("\"dtype\": \"F99\", \"shape\": [1], \"data_offsets\": [0, 4]"), 4,
     LUMEN_EFORMAT, "tensor 'w': unknown dtype 'F99'"},
    {"known but unsupported dtype",
     T1("\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [0, 8]"), 8, LUMEN_EUNSUPPORTED,
     "dtype 'I64' is not supported"},
    {"shape not an array", T1("\"dtype\": \"F32\", \"shape\": 1, \"data_offsets\": [0, 4]"), 4,
     LUMEN_EFORMAT, "'shape' is not an array"},
    {"non-integer extent", T1("\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]"), 8,
     LUMEN_EFORMAT, "shape extent 0 is not an integer"},
    {"string extent", T1("\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 8]"), 8,
     LUMEN_EFORMAT, "shape extent 0 is not a number"},
    {"negative extent", T1("\"dtype\": \"F32\", \"shape\": [2, -3], \"data_offsets\": [0, 8]"), 8,
     LUMEN_EFORMAT, "shape extent 1 is negative"},
    {"huge extent", T1("\"dtype\": \"F32\", \"shape\": [1e300], \"data_offsets\": [0, 8]"), 8,
     LUMEN_EFORMAT, "shape extent 0 is too large"},
    {"overflowing extents",
     T1("\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 8]"), 8,
     LUMEN_EFORMAT, "tensor 'w': shape size overflows"},
    {"rank above LUMEN_MAX_DIMS",
     T1("\"dtype\": \"F32\", \"shape\": [1, 1, 1, 1, 1, 1, 1], \"data_offsets\": [0, 4]"), 4,
     LUMEN_EFORMAT, "tensor 'w': rank 7 exceeds"},
    {"data_offsets not a pair", T1("\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]"), 4,
     LUMEN_EFORMAT, "'data_offsets' must be [begin, end]"},
    {"negative offset", T1("\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]"), 4,
     LUMEN_EFORMAT, "data_offsets begin is negative"},
    {"fractional offset", T1("\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4.5]"), 4,
     LUMEN_EFORMAT, "data_offsets end is not an integer"},
    {"end before begin", T1("\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 4]"), 8,
     LUMEN_EFORMAT, "end 4 is before begin 8"},
    {"end beyond the data", T1("\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]"), 4,
     LUMEN_EFORMAT, "end 8 is beyond the data section (4 bytes)"},
    {"byte size != numel x dtype",
     T1("\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 12]"), 12, LUMEN_EFORMAT,
     "byte size 12 does not match shape [2,2] x F32 (16 bytes)"},
    {"overlapping ranges",
     "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
     " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
     12, LUMEN_EFORMAT, "tensor 'b': data_offsets [4, 12) overlap tensor 'a'"},
    {"hole between tensors",
     "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
     " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}",
     12, LUMEN_EFORMAT, "hole in the data section: bytes [4, 8)"},
    {"hole before the first tensor",
     T1("\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]"), 8, LUMEN_EFORMAT,
     "bytes [0, 4) belong to no tensor"},
    {"data after the last tensor",
     T1("\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]"), 8, LUMEN_EFORMAT,
     "bytes [4, 8) belong to no tensor"},
    {"duplicate names",
     "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
     " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
     8, LUMEN_EFORMAT, "tensor 'a': duplicate name"},
    {"names equal up to an escaped NUL",
     "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
     " \"a\\u0000b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
     8, LUMEN_EFORMAT, "duplicate name"},
    {"__metadata__ not an object", "{\"__metadata__\": 3}", 0, LUMEN_EFORMAT,
     "'__metadata__' is not a JSON object"},
    {"__metadata__ value not a string", "{\"__metadata__\": {\"k\": 1}}", 0, LUMEN_EFORMAT,
     "'__metadata__' value for 'k' is not a string"},
    {"two __metadata__", "{\"__metadata__\": {}, \"__metadata__\": {}}", 0, LUMEN_EFORMAT,
     "duplicate '__metadata__'"},
};

/* Loads path expecting failure st with msg in the message and no weights returned. */
static void expect_load_fail(const char *label, const char *path, lumen_status st, const char *msg)
{
    char err[LUMEN_ERR_MAX] = "";
    lumen_weights *w = (lumen_weights *)(uintptr_t)1; /* must be reset to NULL */
    lumen_status got = lumen_weights_load(path, &w, err, sizeof err);
    CHECK(got == st && w == NULL && strstr(err, msg) != NULL, "reject %s: %s -> %s", label,
          lumen_status_name(got), err);
    if (got == LUMEN_OK)
        lumen_weights_free(w);
}

static void test_st_hostile(void)
{
    char path[512];
    path_in(path, sizeof path, "bad.safetensors");
    for (size_t i = 0; i < sizeof st_cases / sizeof st_cases[0]; i++) {
        const st_case *c = &st_cases[i];
        write_st(path, (uint64_t)-1, c->header, NULL, (size_t)c->data_len);
        expect_load_fail(c->label, path, c->st, c->msg);
    }

    /* names longer than lumen_array.name holds */
    char header[1024], name[301];
    memset(name, 'n', 300);
    name[300] = '\0';
    snprintf(header, sizeof header,
             "{\"%s\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", name);
    write_st(path, (uint64_t)-1, header, NULL, 4);
    expect_load_fail("a 300-byte name", path, LUMEN_EFORMAT, "name is longer than 255 bytes");

    /* the length field itself */
    write_st(path, 1000, "{}", NULL, 16);
    expect_load_fail("header length beyond the file", path, LUMEN_EFORMAT,
                     "header length 1000 is beyond the end of the file (26 bytes)");
    write_st(path, 200000000, "{}", NULL, 0);
    expect_load_fail("header length above 100 MB", path, LUMEN_EFORMAT, "above the 100 MB limit");
    write_st(path, UINT64_MAX - 3, "{}", NULL, 0);
    expect_load_fail("header length near 2^64", path, LUMEN_EFORMAT, "100 MB");
    write_bytes(path, "\x02\0\0\0", 4);
    expect_load_fail("a 4-byte file", path, LUMEN_EFORMAT, "shorter than the 8-byte header length");
    write_bytes(path, "", 0);
    expect_load_fail("an empty file", path, LUMEN_EFORMAT, "file is 0 bytes");

    /* the environment */
    path_in(path, sizeof path, "missing.safetensors");
    expect_load_fail("a missing file", path, LUMEN_EIO, "cannot open");
    expect_load_fail("a directory", tmpdir, LUMEN_EIO, "not a regular file");
    char err[LUMEN_ERR_MAX] = "";
    CHECK(lumen_weights_load(path, NULL, err, sizeof err) != LUMEN_OK &&
              lumen_weights_load(path, NULL, NULL, 0) != LUMEN_OK,
          "NULL out pointer and NULL err buffer are handled");
    char small[16];
    path_in(path, sizeof path, "bad.safetensors");
    lumen_weights *w = NULL;
    lumen_weights_load(path, &w, small, sizeof small);
    CHECK(strlen(small) == sizeof small - 1, "message truncated to errlen (%zu bytes)",
          strlen(small));
}

/* ---- .npy ---- */

static void test_npy_roundtrip(void)
{
    char path[512], err[LUMEN_ERR_MAX] = "";
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i * 0.25f - 3.0f;
    const lumen_shape shapes[] = {
        {3, {2, 3, 4}}, {1, {24}}, {0, {0}}, {2, {0, 7}}, {6, {1, 2, 1, 3, 1, 4}}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        char sb[64];
        lumen_shape_format(&shapes[k], sb, sizeof sb);
        path_in(path, sizeof path, "rt.npy");
        lumen_status st = lumen_npy_save(path, &shapes[k], x, err, sizeof err);
        lumen_array a = {{0}};
        if (st == LUMEN_OK)
            st = lumen_npy_load(path, &a, err, sizeof err);
        int64_t n = lumen_shape_numel(&shapes[k]);
        int same = st == LUMEN_OK && lumen_shape_equal(&a.shape, &shapes[k]) &&
                   (n == 0 || memcmp(a.data, x, (size_t)n * sizeof(float)) == 0);
        struct stat sbuf;
        int aligned = stat(path, &sbuf) == 0 && (sbuf.st_size - n * 4) % 64 == 0;
        CHECK(same && aligned && strcmp(a.name, "rt") == 0,
              "npy round trip shape %s (name '%s', header 64-aligned) %s", sb, a.name, err);
        free(a.data);
    }
}

static void test_npy_handmade(void)
{
    char path[512], err[LUMEN_ERR_MAX] = "";
    lumen_array a = {{0}};
    path_in(path, sizeof path, "f8.npy");

    /* '<f8' narrowed to float; 1e40 becomes inf */
    const double d[4] = {1.5, -2.25, 0.1, 1e40};
    unsigned char raw[32];
    for (int i = 0; i < 4; i++) {
        uint64_t u;
        memcpy(&u, &d[i], 8);
        for (int b = 0; b < 8; b++)
            raw[8 * i + b] = (unsigned char)(u >> (8 * b));
    }
    write_npy(path, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2,), }", raw, 32);
    lumen_status st = lumen_npy_load(path, &a, err, sizeof err);
    CHECK(st == LUMEN_OK && a.shape.ndim == 2 && a.shape.d[0] == 2 && a.shape.d[1] == 2 &&
              a.data[0] == 1.5f && a.data[1] == -2.25f && a.data[2] == (float)0.1 &&
              isinf(a.data[3]),
          "npy '<f8' (2, 2,) converted to float32 %s", err);
    free(a.data);

    /* version 2 and 3 headers (u32 length), double quotes, keys in another order */
    float f[3] = {1, 2, 3};
    unsigned char f4[12];
    for (int i = 0; i < 3; i++) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        for (int b = 0; b < 4; b++)
            f4[4 * i + b] = (unsigned char)(u >> (8 * b));
    }
    for (int major = 2; major <= 3; major++) {
        write_npy(path, major, "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}",
                  f4, 12);
        memset(&a, 0, sizeof a);
        st = lumen_npy_load(path, &a, err, sizeof err);
        CHECK(st == LUMEN_OK && a.shape.ndim == 1 && a.shape.d[0] == 3 && a.data[2] == 3.0f,
              "npy version %d.0 header %s", major, err);
        free(a.data);
    }

    /* a rank-1 shape without the comma, and a 0-d array */
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", f4, 12);
    memset(&a, 0, sizeof a);
    st = lumen_npy_load(path, &a, err, sizeof err);
    CHECK(st == LUMEN_OK && a.shape.ndim == 1 && a.shape.d[0] == 3, "npy shape (3) %s", err);
    free(a.data);
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", f4, 4);
    memset(&a, 0, sizeof a);
    st = lumen_npy_load(path, &a, err, sizeof err);
    CHECK(st == LUMEN_OK && a.shape.ndim == 0 && a.data[0] == 1.0f, "npy 0-d shape () %s", err);
    free(a.data);
}

typedef struct npy_case {
    const char *label;
    int major;
    const char *dict;
    int data_len;
    lumen_status st;
    const char *msg;
} npy_case;

#define NPY(shape) "{'descr': '<f4', 'fortran_order': False, 'shape': " shape ", }"
static const npy_case npy_cases[] = {
    {"shape larger than the data", 1, NPY("(4, 4)"), 60, LUMEN_EFORMAT,
     "truncated: shape [4,4] x <f4 needs 64 data bytes, the file has 60"},
    {"bytes after the data", 1, NPY("(2,)"), 12, LUMEN_EFORMAT, "trailing bytes"},
    {"fortran_order True", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16,
     LUMEN_EUNSUPPORTED, "fortran_order True is not supported"},
    {"big-endian '>f4'", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8,
     LUMEN_EUNSUPPORTED, "dtype '>f4' is not supported"},
    {"int64 '<i8'", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 16,
     LUMEN_EUNSUPPORTED, "dtype '<i8' is not supported"},
    {"version 4", 4, NPY("(2,)"), 8, LUMEN_EUNSUPPORTED, "npy version 4.0 is not supported"},
    {"negative extent", 1, NPY("(2, -1)"), 8, LUMEN_EFORMAT, "negative extent"},
    {"overflowing extents", 1, NPY("(4294967296, 4294967296, 4294967296)"), 8, LUMEN_EFORMAT,
     "size overflows"},
    {"extent beyond int64", 1, NPY("(99999999999999999999,)"), 8, LUMEN_EFORMAT,
     "extent that overflows"},
    {"rank 7", 1, NPY("(1, 1, 1, 1, 1, 1, 1)"), 4, LUMEN_EFORMAT, "more dimensions"},
    {"shape not a tuple", 1, NPY("[2]"), 8, LUMEN_EFORMAT, "'shape' is not a tuple"},
    {"non-integer extent", 1, NPY("(2.5,)"), 8, LUMEN_EFORMAT, "tuple is malformed"},
    {"missing key", 1, "{'descr': '<f4', 'fortran_order': False}", 8, LUMEN_EFORMAT,
     "missing key 'shape'"},
    {"unknown key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8,
     LUMEN_EFORMAT, "unknown key 'x'"},
    {"duplicate key", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
     8, LUMEN_EFORMAT, "duplicate key 'descr'"},
    {"fortran_order not a bool", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", 8,
     LUMEN_EFORMAT, "'fortran_order' is not True or False"},
    {"header not a dict", 1, "('<f4', False, (2,))", 8, LUMEN_EFORMAT, "not a dict"},
    {"unterminated string", 1, "{'descr': '<f4", 8, LUMEN_EFORMAT, "'descr' is not a short string"},
    {"data after the dict", 1, NPY("(2,)") " junk", 8, LUMEN_EFORMAT, "after the dict"},
};

static void expect_npy_fail(const char *label, const char *path, lumen_status st, const char *msg)
{
    char err[LUMEN_ERR_MAX] = "";
    lumen_array a;
    memset(&a, 0x5a, sizeof a);
    lumen_status got = lumen_npy_load(path, &a, err, sizeof err);
    CHECK(got == st && a.data == NULL && strstr(err, msg) != NULL, "reject npy %s: %s -> %s", label,
          lumen_status_name(got), err);
    if (got == LUMEN_OK)
        free(a.data);
}

static void test_npy_hostile(void)
{
    char path[512];
    path_in(path, sizeof path, "bad.npy");
    unsigned char zeros[64] = {0};
    for (size_t i = 0; i < sizeof npy_cases / sizeof npy_cases[0]; i++) {
        const npy_case *c = &npy_cases[i];
        write_npy(path, c->major, c->dict, zeros, (size_t)c->data_len);
        expect_npy_fail(c->label, path, c->st, c->msg);
    }

    /* truncations of a valid file: inside the preamble, inside the header, inside the data */
    char good[512], err[LUMEN_ERR_MAX];
    lumen_shape s = {2, {4, 4}};
    float x[16] = {0};
    path_in(good, sizeof good, "good.npy");
    lumen_npy_save(good, &s, x, err, sizeof err);
    FILE *f = fopen(good, "rb");
    unsigned char buf[256];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    CHECK(n == 128 + 64, "saved (4, 4) npy is %zu bytes", n);
    const size_t cuts[] = {6, 11, 40, 128 + 20};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "file truncated to %zu bytes", cuts[i]);
        write_bytes(path, buf, cuts[i]);
        expect_npy_fail(label, path, LUMEN_EFORMAT, "truncated");
    }
    memcpy(buf, "\x93NUMPZ", 6);
    write_bytes(path, buf, n);
    expect_npy_fail("bad magic", path, LUMEN_EFORMAT, "bad magic");
    memcpy(buf, "\x93NUMPY", 6);
    buf[8] = 0xff, buf[9] = 0xff;
    write_bytes(path, buf, n);
    expect_npy_fail("header length beyond the file", path, LUMEN_EFORMAT,
                    "header length 65535 is beyond the end of the file");
    path_in(path, sizeof path, "missing.npy");
    expect_npy_fail("a missing file", path, LUMEN_EIO, "cannot open");

    /* saves that must refuse */
    lumen_shape bad = {7, {1, 1, 1, 1, 1, 1}};
    path_in(path, sizeof path, "bad_save.npy");
    lumen_status st = lumen_npy_save(path, &bad, x, err, sizeof err);
    CHECK(st == LUMEN_EINVAL && access(path, F_OK) != 0, "npy save rejects rank 7: %s", err);
    st = lumen_npy_save(path, &s, NULL, err, sizeof err);
    CHECK(st == LUMEN_EINVAL && strstr(err, "NULL"), "npy save rejects NULL data: %s", err);
}

/* Removes what the tests wrote (the folder holds only our files). */
static void cleanup_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int leftovers = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[512];
        path_in(p, sizeof p, e->d_name);
        leftovers += strchr(e->d_name, '.') && strlen(strrchr(e->d_name, '.')) == 7;
        unlink(p);
    }
    if (d)
        closedir(d);
    CHECK(leftovers == 0, "no temporary files left behind by saves (%d)", leftovers);
    rmdir(tmpdir);
}

int main(void)
{
    if (check_tmpdir("test-io") != 0)
        return 2;
    test_st_roundtrip();
    test_st_save_errors();
    test_st_half();
    test_st_hostile();
    test_npy_roundtrip();
    test_npy_handmade();
    test_npy_hostile();
    cleanup_tmpdir();
    return check_summary();
}
