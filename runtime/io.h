/*
 * io.h - what the file-format readers and writers (safetensors.c, npy.c) share: an input file
 * with its message buffer, exact reads at offsets, little-endian numbers, shape sizes with
 * overflow checks, and atomic saves (through sys.c). Internal to the runtime.
 */
#ifndef LUMEN_IO_H
#define LUMEN_IO_H

#include <stdio.h>

#include "internal.h"

#define IO_MAX_FILE ((int64_t)1 << 36) /* bytes: 64 GiB, far above any model we run */

/* An open input file and where its messages go. */
typedef struct lumen__io_file {
    const char *path;
    char *err;
    size_t errlen;
    FILE *f;
    int64_t size; /* bytes, from fstat */
} lumen__io_file;

/* Writes "<path>: <message>" into io->err and returns st. */
lumen_status lumen__io_fail(const lumen__io_file *io, lumen_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Opens path for reading; it must be a regular file of at most IO_MAX_FILE bytes (a FIFO or
 * device is refused without blocking). */
lumen_status lumen__io_open(lumen__io_file *io, const char *path, char *err, size_t errlen);
void lumen__io_close(lumen__io_file *io);
/* Reads exactly n bytes at byte offset off. A file that ends early (it may have shrunk since
 * fstat) is EFORMAT "truncated"; a read error is EIO. what names the bytes in the message. */
lumen_status lumen__io_read_at(const lumen__io_file *io, int64_t off, void *buf, size_t n,
                               const char *what);

uint64_t lumen__le_u64(const unsigned char *b);
uint32_t lumen__le_u32(const unsigned char *b);
void lumen__put_le_u32(unsigned char *b, uint32_t v);
float lumen__bits_to_float(uint32_t u);
/* numel x elsize into *bytes, or -1 when it does not fit in int64 (or an extent is negative). */
int lumen__shape_bytes(const lumen_shape *s, int64_t elsize, int64_t *bytes);

/* A file being saved atomically (sys.c's lumen__out); io.path and io.err serve messages. */
typedef struct lumen__io_out {
    lumen__io_file io;
    lumen__out out;
} lumen__io_out;
lumen_status lumen__io_out_begin(lumen__io_out *o, const char *path, char *err, size_t errlen);
lumen_status lumen__io_out_write(lumen__io_out *o, const void *p, size_t n);
/* Writes n floats as little-endian float32. */
lumen_status lumen__io_out_write_f32(lumen__io_out *o, const float *x, int64_t n);
/* On success flushes, syncs and renames the temp file over the target; on failure (st != OK)
 * removes it. Returns st or the commit's own failure. */
lumen_status lumen__io_out_end(lumen__io_out *o, lumen_status st);
/* Checks a shape given to a save: rank, extents; numel into *numel. */
lumen_status lumen__io_check_save_shape(const lumen__io_out *o, const char *what,
                                        const lumen_shape *s, const float *data, int64_t *numel);

#endif
