/*
 * fuzz_dicom.c - libFuzzer target for the DICOM reader (runtime/dicom/read.cc): every input is
 * handed to lumen_dicom_open_buffer (DCMTK's parser, then lumen's layout and limit checks) and,
 * when it opens, its first frames are decoded (native, deflate, RLE, JPEG, JPEG-LS codecs).
 * Built only with -DLUMEN_FUZZ=ON and clang; setup.sh test runs it for a bounded time on a seed
 * corpus of small series written by examples/make_dicom.py in every transfer syntax.
 *
 * Limits are tighter than the defaults (1024 pixels per side, 64 frames, 32 MB) so that a
 * mutated Rows or Number of Frames cannot make one run allocate gigabytes legitimately.
 */
#include <stddef.h>
#include <stdint.h>

#include "lumen_dicom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[LUMEN_ERR_MAX];
    lumen_dicom_limits lim = {1024, 64, 32 << 20};
    lumen_dicom *d = NULL;
    if (lumen_dicom_open_buffer(data, size, &lim, &d, err, sizeof err) != LUMEN_OK)
        return 0;
    const lumen_dicom_info *in = lumen_dicom_get_info(d);
    for (int f = 0; in->has_pixels && f < in->frames && f < 3; f++) {
        lumen_image img;
        if (lumen_dicom_read_frame(d, f, &img, err, sizeof err) == LUMEN_OK)
            lumen_image_free(&img);
    }
    lumen_dicom_free(d);
    return 0;
}
