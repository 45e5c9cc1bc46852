/*
 * pbwire.c - the protobuf wire-format writer and reader of pbwire.h. Little-endian fixed-width
 * fields, base-128 varints (at most 10 bytes), length-delimited fields bounded by the enclosing
 * message. No allocation in the reader; the writer doubles its buffer.
 */
#include "pbwire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pb_dtype_name(int dtype)
{
    static const char *names[] = {"undefined",  "float",   "uint8",  "int8",   "uint16",
                                  "int16",      "int32",   "int64",  "string", "bool",
                                  "float16",    "double",  "uint32", "uint64", "complex64",
                                  "complex128", "bfloat16"};
    static char other[32];
    if (dtype >= 0 && dtype < (int)(sizeof names / sizeof names[0]))
        return names[dtype];
    snprintf(other, sizeof other, "type %d", dtype);
    return other;
}

void pbw_free(pbw *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

void pbw_raw(pbw *w, const void *p, size_t n)
{
    if (w->oom || n == 0)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *d = realloc(w->data, cap);
        if (!d) {
            w->oom = 1;
            return;
        }
        w->data = d;
        w->cap = cap;
    }
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

void pbw_varint(pbw *w, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    pbw_raw(w, b, n);
}

void pbw_tag(pbw *w, int field, int wire_type)
{
    pbw_varint(w, ((uint64_t)field << 3) | (uint64_t)wire_type);
}

void pbw_int(pbw *w, int field, int64_t v)
{
    pbw_tag(w, field, PB_VARINT);
    pbw_varint(w, (uint64_t)v);
}

void pbw_bytes(pbw *w, int field, const void *p, size_t n)
{
    pbw_tag(w, field, PB_LEN);
    pbw_varint(w, n);
    pbw_raw(w, p, n);
}

void pbw_str(pbw *w, int field, const char *s)
{
    pbw_bytes(w, field, s, strlen(s));
}

void pbw_msg(pbw *w, int field, const pbw *child)
{
    if (child->oom)
        w->oom = 1;
    pbw_bytes(w, field, child->data, child->len);
}

void pbw_float(pbw *w, int field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                          (unsigned char)(u >> 24)};
    pbw_tag(w, field, PB_I32);
    pbw_raw(w, b, 4);
}

pbr pbr_init(const void *p, size_t n)
{
    pbr r = {(const unsigned char *)p, (const unsigned char *)p + n, 0};
    return r;
}

static int read_varint(pbr *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end)
            return 0;
        unsigned char b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

static int read_fixed(pbr *r, int bytes, uint64_t *v)
{
    if (r->end - r->p < bytes)
        return 0;
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    *v = x;
    return 1;
}

int pbr_next(pbr *r, pbfield *f)
{
    uint64_t key;
    if (r->bad || r->p >= r->end)
        return 0;
    memset(f, 0, sizeof *f);
    if (!read_varint(r, &key) || key >> 3 == 0 || key >> 3 > 0x1fffffff)
        goto bad;
    f->field = (int)(key >> 3);
    f->wire_type = (int)(key & 7);
    switch (f->wire_type) {
    case PB_VARINT:
        if (!read_varint(r, &f->v))
            goto bad;
        return 1;
    case PB_I64:
        if (!read_fixed(r, 8, &f->v))
            goto bad;
        return 1;
    case PB_I32:
        if (!read_fixed(r, 4, &f->v))
            goto bad;
        return 1;
    case PB_LEN:
        if (!read_varint(r, &f->v) || f->v > (uint64_t)(r->end - r->p))
            goto bad;
        f->ptr = r->p;
        f->len = (size_t)f->v;
        r->p += f->len;
        return 1;
    default:
        goto bad;
    }
bad:
    r->bad = 1;
    return 0;
}

pbr pbr_sub(const pbfield *f)
{
    return pbr_init(f->ptr, f->len);
}
