/*
 * image.c - PNG read/write through libpng's low-level API with our own limits, and host-side
 * post-processing (connected components).
 *
 * libpng reports errors by longjmp: every object that must be freed after a failure is held
 * in a 'volatile' variable set before the setjmp point can be re-entered, and the error text is
 * captured by our own error callback so the caller gets "file: what went wrong". Limits are set
 * before the header is read (png_set_user_limits), so an image that claims to be 100000 pixels
 * wide is refused before any pixel buffer exists.
 */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

typedef struct png_errctx {
    char msg[256];  /* the error that stopped libpng */
    char warn[256]; /* the last warning: libpng explains a size-limit refusal in one */
} png_errctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_errctx *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    /* warnings (e.g. an unknown chunk) do not stop a read; keep the last one for the message */
    png_errctx *e = png_get_error_ptr(png);
    snprintf(e->warn, sizeof e->warn, "%s", msg);
}

void lumen_image_free(lumen_image *img)
{
    if (!img)
        return;
    free(img->data);
    img->data = NULL;
}

lumen_status lumen_png_read(const char *path, int max_side, lumen_image *out, char *err,
                            size_t errlen)
{
    char msg[LUMEN_ERR_MAX] = "";
    png_errctx ectx = {"", ""};
    png_structp png = NULL;
    png_infop info = NULL;
    unsigned char sig[8];
    FILE *volatile f = NULL;
    unsigned char *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    float *volatile data = NULL;
    volatile lumen_status st = LUMEN_EFORMAT;
    const volatile int limit = max_side > 0 ? max_side : LUMEN_PNG_MAX_SIDE;
    memset(out, 0, sizeof *out);
    f = lumen__open_input(path, msg, sizeof msg);
    if (!f) {
        st = LUMEN_EIO;
        goto done;
    }
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        lumen__errf(msg, st, "%s: not a PNG file (bad signature)", path);
        goto done;
    }
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ectx, on_error, on_warning);
    info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        st = lumen__errf(msg, LUMEN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (setjmp(png_jmpbuf(png))) {
        lumen__errf(msg, st, "%s: corrupt or truncated PNG (%s)", path, ectx.msg);
        goto done;
    }
    png_set_user_limits(png, (png_uint_32)limit, (png_uint_32)limit);
    /* Ancillary chunks are skipped unread (libpng's list for a negative count: everything but
     * IHDR, PLTE, tRNS, IDAT, IEND): a frame's text or ICC chunks are no input of ours, and
     * libpng would otherwise keep every decompressed zTXt in memory (120 chunks: 1.9 GB). */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_chunk_malloc_max(png, 1u << 20);
    png_set_chunk_cache_max(png, 128);
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS) && color != PNG_COLOR_TYPE_GRAY)
        png_set_tRNS_to_alpha(png);
    if (color == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_strip_alpha(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info);
    depth = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (ch < 1 || ch > 4 || (depth != 8 && depth != 16) ||
        rowbytes != (size_t)w * (size_t)ch * (size_t)(depth / 8)) {
        lumen__errf(msg, st, "%s: unsupported PNG layout (%d channels, %d bits)", path, ch, depth);
        goto done;
    }
    size_t n = (size_t)w * h * (size_t)ch;
    /* interlaced images need every row at once; others are converted row by row */
    buf = malloc(rowbytes * (passes > 1 ? h : 1));
    rows = malloc(sizeof(png_bytep) * (passes > 1 ? h : 1));
    data = malloc(n * sizeof(float));
    if (!buf || !rows || !data) {
        st = lumen__errf(msg, LUMEN_ENOMEM, "%s: out of memory for %ux%u pixels", path, w, h);
        goto done;
    }
    if (passes > 1) {
        for (png_uint_32 y = 0; y < h; y++)
            rows[y] = buf + (size_t)y * rowbytes;
        png_read_image(png, rows);
    }
    for (png_uint_32 y = 0; y < h; y++) {
        png_bytep row = passes > 1 ? rows[y] : buf;
        if (passes == 1)
            png_read_row(png, row, NULL);
        /* interleaved row -> planar channels */
        for (png_uint_32 x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                size_t i = ((size_t)x * ch + c) * (depth / 8);
                float v = depth == 8 ? row[i] : (float)(row[i] << 8 | row[i + 1]);
                data[((size_t)c * h + y) * w + x] = v;
            }
    }
    png_read_end(png, NULL);
    out->width = (int)w;
    out->height = (int)h;
    out->channels = ch;
    out->bit_depth = depth;
    out->data = data;
    data = NULL;
    st = LUMEN_OK;
done:
    if (st != LUMEN_OK && strstr(ectx.warn, "Image width exceeds user limit"))
        st = lumen__errf(msg, LUMEN_ERANGE, "%s: image wider than the limit of %d pixels", path,
                         limit);
    else if (st != LUMEN_OK && strstr(ectx.warn, "Image height exceeds user limit"))
        st = lumen__errf(msg, LUMEN_ERANGE, "%s: image taller than the limit of %d pixels", path,
                         limit);
    if (png)
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
    free(buf);
    free(rows);
    free(data);
    if (f)
        fclose(f);
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return st;
}

lumen_status lumen_png_write(const char *path, const lumen_image *img, char *err, size_t errlen)
{
    char msg[LUMEN_ERR_MAX] = "";
    png_errctx ectx = {"", ""};
    png_structp png = NULL;
    png_infop info = NULL;
    lumen__out out = {0};
    FILE *volatile f = NULL;
    unsigned char *volatile row = NULL;
    volatile lumen_status st = LUMEN_EIO;
    int ch = img->channels, bytes = img->bit_depth == 16 ? 2 : 1;
    if ((ch != 1 && ch != 3 && ch != 4) || (img->bit_depth != 8 && img->bit_depth != 16) ||
        img->width <= 0 || img->height <= 0 || !img->data) {
        st = lumen__errf(msg, LUMEN_EINVAL,
                         "%s: cannot write a %dx%d image with %d channels at "
                         "%d bits",
                         path, img->width, img->height, ch, img->bit_depth);
        goto done;
    }
    st = lumen__out_begin(&out, path, msg, sizeof msg);
    if (st != LUMEN_OK)
        goto done;
    st = LUMEN_EIO;
    f = out.f;
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ectx, on_error, on_warning);
    info = png ? png_create_info_struct(png) : NULL;
    row = malloc((size_t)img->width * ch * bytes);
    if (!png || !info || !row) {
        st = lumen__errf(msg, LUMEN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (setjmp(png_jmpbuf(png))) {
        lumen__errf(msg, st, "%s: PNG write failed (%s)", path, ectx.msg);
        goto done;
    }
    png_init_io(png, f);
    static const int types[] = {0, PNG_COLOR_TYPE_GRAY, 0, PNG_COLOR_TYPE_RGB,
                                PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, img->bit_depth,
                 types[ch], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    float maxv = img->bit_depth == 16 ? 65535.0f : 255.0f;
    size_t plane = (size_t)img->width * img->height;
    for (int y = 0; y < img->height; y++) {
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < ch; c++) {
                float v = img->data[c * plane + (size_t)y * img->width + x];
                v = v < 0 ? 0 : v > maxv ? maxv : v;
                unsigned u = (unsigned)(v + 0.5f);
                size_t i = ((size_t)x * ch + c) * bytes;
                if (bytes == 2) {
                    row[i] = (unsigned char)(u >> 8);
                    row[i + 1] = (unsigned char)u;
                } else
                    row[i] = (unsigned char)u;
            }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    st = LUMEN_OK;
done:
    if (png)
        png_destroy_write_struct(&png, info ? &info : NULL);
    free(row);
    if (f)
        st = lumen__out_end(&out, st, msg, sizeof msg);
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return st;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int lumen_components(const float *mask, int width, int height, int *labels, int64_t *sizes,
                     int max_sizes)
{
    size_t n = (size_t)width * height;
    int *lab = labels ? labels : malloc(n * sizeof *lab + 1);
    int *stack = malloc(n * sizeof *stack + 1);
    int64_t *all = NULL;
    int count = 0, cap = 0;
    if (!lab || !stack) {
        if (!labels)
            free(lab);
        free(stack);
        return -1;
    }
    memset(lab, 0, n * sizeof *lab);
    /* flood fill with an explicit stack: no recursion depth to run out of */
    for (size_t s = 0; s < n; s++) {
        if (!(mask[s] > 0) || lab[s])
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            int64_t *p = realloc(all, (size_t)cap * sizeof *p);
            if (!p) {
                count = -1;
                break;
            }
            all = p;
        }
        int id = ++count;
        int64_t size = 0;
        size_t top = 0;
        stack[top++] = (int)s;
        lab[s] = id;
        while (top) {
            int p = stack[--top];
            int py = p / width, px = p % width;
            size++;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int qy = py + dy, qx = px + dx;
                    if (qy < 0 || qy >= height || qx < 0 || qx >= width)
                        continue;
                    size_t q = (size_t)qy * width + qx;
                    if (mask[q] > 0 && !lab[q]) {
                        lab[q] = id;
                        stack[top++] = (int)q;
                    }
                }
        }
        all[id - 1] = size;
    }
    if (count > 0 && sizes) {
        qsort(all, (size_t)count, sizeof *all, cmp_desc);
        for (int i = 0; i < count && i < max_sizes; i++)
            sizes[i] = all[i];
    }
    free(all);
    free(stack);
    if (!labels)
        free(lab);
    return count;
}
