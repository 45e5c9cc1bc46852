/*
 * fuzz_png.c - libFuzzer target for the PNG reader (lumen_png_read): libpng's low-level API
 * with lumen's limits, ancillary chunks skipped, gray+alpha reduced to gray, rows converted one
 * at a time. The side limit is 1024 here (8192 by default) so that a mutated header cannot make
 * one run allocate a gigabyte legitimately; rejections stay the reader's job. Seeds: the
 * sample frames and tests/hostile/files (setup.sh).
 */
#include "fuzz_file.h"
#include "lumen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, "png");
    char err[LUMEN_ERR_MAX];
    lumen_image img;
    if (path && lumen_png_read(path, 1024, &img, err, sizeof err) == LUMEN_OK)
        lumen_image_free(&img);
    return 0;
}
