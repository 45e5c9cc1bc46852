/*
 * test_dicom.c - the DICOM reader (runtime/dicom/read.cc) on files made by
 * examples/make_dicom.py and DCMTK's encoders (tests/dicom_read.sh writes them into DIR):
 * every lossless transfer syntax decodes to exactly the uncompressed frames, lossy ones come
 * close, MONOCHROME1 and 2x-upscaled twins give back the same pixels, and hostile or
 * unsupported files (limits, JPEG 2000, 32-bit, palette, truncated, not DICOM) are refused
 * with the right status and a message naming the problem. Needs no OpenCL device.
 *
 *   test_dicom DIR
 *
 * One line per check; exits non-zero when any check fails.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lumen_dicom.h"

static const char *dir;

static const char *in_dir(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* All frames of a file, concatenated; NULL (and a FAIL line) when it does not read. */
static float *read_all(const char *name, lumen_dicom_info *info)
{
    char err[LUMEN_ERR_MAX];
    lumen_dicom *d;
    lumen_status st = lumen_dicom_open(in_dir(name), NULL, &d, err, sizeof err);
    if (st != LUMEN_OK) {
        CHECK(0, "%s opens: %s", name, err);
        return NULL;
    }
    *info = *lumen_dicom_get_info(d);
    size_t plane = (size_t)info->width * info->height * info->samples;
    float *all = malloc(plane * info->frames * sizeof(float));
    for (int f = 0; all && f < info->frames; f++) {
        lumen_image img;
        st = lumen_dicom_read_frame(d, f, &img, err, sizeof err);
        if (st != LUMEN_OK) {
            CHECK(0, "%s frame %d: %s", name, f + 1, err);
            free(all);
            all = NULL;
            break;
        }
        memcpy(all + plane * f, img.data, plane * sizeof(float));
        lumen_image_free(&img);
    }
    lumen_dicom_free(d);
    return all;
}

/* Compares a variant with the reference frames: max and mean absolute difference. */
static void compare(const char *name, const float *ref, const lumen_dicom_info *ri, double max_ok,
                    double mean_ok)
{
    lumen_dicom_info vi;
    float *v = read_all(name, &vi);
    if (!v)
        return;
    int same = vi.width == ri->width && vi.height == ri->height && vi.frames == ri->frames;
    double maxd = 0, sum = 0;
    size_t n = (size_t)ri->width * ri->height * ri->frames;
    for (size_t i = 0; same && i < n; i++) {
        double d = fabs((double)v[i] - ref[i]);
        maxd = d > maxd ? d : maxd;
        sum += d;
    }
    CHECK(same && maxd <= max_ok && sum / n <= mean_ok, "%-28s %s %dx%dx%d maxabs=%g meanabs=%.3g",
          name, vi.transfer_syntax_name, vi.width, vi.height, vi.frames, maxd, sum / n);
    free(v);
}

/* Opening name must fail with status want and a message containing needle. */
static void refused(const char *name, const lumen_dicom_limits *lim, lumen_status want,
                    const char *needle)
{
    char err[LUMEN_ERR_MAX] = "";
    lumen_dicom *d = (lumen_dicom *)1;
    lumen_status st = lumen_dicom_open(in_dir(name), lim, &d, err, sizeof err);
    CHECK(st == want && !d && strstr(err, needle), "%-28s refused %s: %s", name,
          lumen_status_name(st), err);
    if (st == LUMEN_OK)
        lumen_dicom_free(d);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_dicom DIR (files written by tests/dicom_read.sh)\n");
        return 2;
    }
    dir = argv[1];
    lumen_dicom_info ri;
    float *ref = read_all("xa.dcm", &ri);
    if (!ref)
        return 1;
    CHECK(ri.width == 512 && ri.height == 512 && ri.frames == 3 && ri.bits_allocated == 16 &&
              ri.bits_stored == 12 && !strcmp(ri.photometric, "MONOCHROME2") &&
              !strcmp(ri.modality, "XA") && !strcmp(ri.instance_number, "1") &&
              strlen(ri.series_instance_uid) > 10 && strlen(ri.sop_instance_uid) > 10 &&
              !strcmp(ri.acquisition_datetime, "20240601101512.250000"),
          "xa.dcm attributes: %dx%d, %d frames, %d/%d bits, %s, %s, series %s", ri.width, ri.height,
          ri.frames, ri.bits_allocated, ri.bits_stored, ri.photometric, ri.modality,
          ri.series_instance_uid);
    double lo = 1e9, hi = -1e9;
    for (size_t i = 0; i < (size_t)512 * 512 * 3; i++) {
        lo = ref[i] < lo ? ref[i] : lo;
        hi = ref[i] > hi ? ref[i] : hi;
    }
    CHECK(lo >= 0 && hi <= 4095 && hi > 1000, "xa.dcm values in the 12-bit range (%g..%g)", lo, hi);

    /* lossless: exactly the same samples */
    const char *lossless[] = {"xa_jpeg-lossless.dcm",
                              "xa_jpeg-lossless-p14.dcm",
                              "xa_rle.dcm",
                              "xa_jpeg-ls.dcm",
                              "xa_deflate.dcm",
                              "xa_big-endian.dcm",
                              "xa_implicit.dcm",
                              "bare.dcm",
                              "mono1.dcm"};
    for (size_t i = 0; i < sizeof lossless / sizeof *lossless; i++)
        compare(lossless[i], ref, &ri, 0, 0);
    /* lossy: JPEG extended (12 bit, quality 90) and JPEG-LS near-lossless (NEAR=2) */
    compare("xa_jpeg-extended.dcm", ref, &ri, 64, 5);
    compare("xa_jpeg-ls-near.dcm", ref, &ri, 2, 2);

    /* 8-bit: baseline JPEG against the same frames uncompressed */
    lumen_dicom_info ri8;
    float *ref8 = read_all("xa8.dcm", &ri8);
    if (ref8) {
        CHECK(ri8.bits_allocated == 8 && ri8.bits_stored == 8, "xa8.dcm is 8-bit");
        compare("xa8_jpeg-baseline.dcm", ref8, &ri8, 32, 2);
        compare("xa8_rle.dcm", ref8, &ri8, 0, 0);
        free(ref8);
    }

    /* the 1024x1024 twin: each pixel repeated 2x2 */
    lumen_dicom_info bi;
    float *big = read_all("big.dcm", &bi);
    if (big) {
        size_t bad = 0;
        for (int f = 0; f < 3; f++)
            for (int y = 0; y < 512; y++)
                for (int x = 0; x < 512; x++)
                    bad += big[((size_t)f * 1024 + 2 * y + 1) * 1024 + 2 * x + 1] !=
                           ref[((size_t)f * 512 + y) * 512 + x];
        CHECK(bi.width == 1024 && bi.height == 1024 && bad == 0,
              "big.dcm is the 2x twin (%dx%d, %zu differing pixels)", bi.width, bi.height, bad);
        free(big);
    }

    /* signed data with a rescale: value = stored * slope + intercept */
    lumen_dicom_info si;
    float *sg = read_all("signed.dcm", &si);
    if (sg) {
        CHECK(si.is_signed && si.rescale_slope == 2 && si.rescale_intercept == -100 &&
                  sg[0] == (float)(-5 * 2 - 100) && sg[1] == (float)(7 * 2 - 100),
              "signed.dcm: signed samples rescaled (%g, %g)", sg[0], sg[1]);
        free(sg);
    }

    /* from memory: the same frames as from the file */
    FILE *f = fopen(in_dir("xa_rle.dcm"), "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *buf = malloc((size_t)n);
        size_t got = fread(buf, 1, (size_t)n, f);
        fclose(f);
        char err[LUMEN_ERR_MAX];
        lumen_dicom *d = NULL;
        lumen_image img = {0};
        lumen_status st = lumen_dicom_open_buffer(buf, got, NULL, &d, err, sizeof err);
        if (st == LUMEN_OK)
            st = lumen_dicom_read_frame(d, 2, &img, err, sizeof err);
        CHECK(st == LUMEN_OK && img.data && !memcmp(img.data, ref + (size_t)2 * 512 * 512, 4),
              "open_buffer(xa_rle.dcm) frame 3 equals the file's (%s)",
              st == LUMEN_OK ? "ok" : err);
        lumen_image_free(&img);
        lumen_dicom_free(d);
        free(buf);
    }

    /* recognition by content */
    CHECK(lumen_dicom_probe(in_dir("xa.dcm")) == 1, "probe: xa.dcm is DICOM (preamble)");
    CHECK(lumen_dicom_probe(in_dir("bare.dcm")) == 1, "probe: bare.dcm is DICOM (no preamble)");
    CHECK(lumen_dicom_probe(in_dir("fake.dcm")) == 0, "probe: fake.dcm (text) is not DICOM");
    CHECK(lumen_dicom_probe(in_dir("frame.png")) == 0, "probe: a PNG is not DICOM");
    CHECK(lumen_dicom_probe(in_dir("missing.dcm")) == -1, "probe: a missing file is -1");

    /* refusals */
    refused("fake.dcm", NULL, LUMEN_EFORMAT, "not a readable DICOM file");
    refused("missing.dcm", NULL, LUMEN_EIO, "No such file");
    refused("j2k.dcm", NULL, LUMEN_EUNSUPPORTED, "JPEG 2000");
    refused("rows9000.dcm", NULL, LUMEN_ERANGE, "limit of 8192 pixels");
    refused("frames20000.dcm", NULL, LUMEN_ERANGE, "frame-count limit");
    refused("bits32.dcm", NULL, LUMEN_EUNSUPPORTED, "Bits Allocated 32");
    refused("palette.dcm", NULL, LUMEN_EUNSUPPORTED, "PALETTE COLOR");
    refused("highbit.dcm", NULL, LUMEN_EFORMAT, "inconsistent Bits Stored");
    lumen_dicom_limits side = {256, 0, 0}, nfr = {0, 2, 0}, nby = {0, 0, 1 << 20};
    refused("xa.dcm", &side, LUMEN_ERANGE, "limit of 256 pixels");
    refused("xa.dcm", &nfr, LUMEN_ERANGE, "outside 1..2");
    refused("xa.dcm", &nby, LUMEN_ERANGE, "over the limit of 1048576");

    /* truncated in the pixel data: the open or the last frame fails, nothing crashes */
    {
        char err[LUMEN_ERR_MAX] = "";
        lumen_dicom *d;
        lumen_status st = lumen_dicom_open(in_dir("truncated.dcm"), NULL, &d, err, sizeof err);
        if (st == LUMEN_OK) {
            lumen_image img;
            st = lumen_dicom_read_frame(d, lumen_dicom_get_info(d)->frames - 1, &img, err,
                                        sizeof err);
            lumen_image_free(&img);
            lumen_dicom_free(d);
        }
        CHECK(st != LUMEN_OK && strstr(err, "truncated.dcm"), "truncated.dcm refused: %s", err);
        char err2[LUMEN_ERR_MAX] = "";
        st = lumen_dicom_open(in_dir("truncated_rle.dcm"), NULL, &d, err2, sizeof err2);
        if (st == LUMEN_OK) {
            lumen_image img;
            for (int k = 0; st == LUMEN_OK && k < lumen_dicom_get_info(d)->frames; k++) {
                st = lumen_dicom_read_frame(d, k, &img, err2, sizeof err2);
                lumen_image_free(&img);
            }
            lumen_dicom_free(d);
        }
        CHECK(st != LUMEN_OK, "truncated_rle.dcm refused: %s", err2);
    }

    /* deflate: a bomb stops at the inflate limit (pixel limit + 64 MiB), and an element
     * declared longer than the whole data set is refused without allocating its length
     * (fuzz_dicom runs with allocations capped at 2 GB) */
    {
        lumen_dicom_limits small = {0, 0, 16 << 20};
        refused("bomb.dcm", &small, LUMEN_EFORMAT, "inflates to more than");
        refused("deflate_oom.dcm", NULL, LUMEN_EFORMAT, "not a readable DICOM file");
    }

    /* an SR (no pixel data) opens; reading a frame names the problem */
    {
        char err[LUMEN_ERR_MAX] = "";
        lumen_dicom *d;
        lumen_status st = lumen_dicom_open(in_dir("nopixels.dcm"), NULL, &d, err, sizeof err);
        lumen_image img;
        if (st == LUMEN_OK) {
            CHECK(!lumen_dicom_get_info(d)->has_pixels, "nopixels.dcm opens without pixel data");
            st = lumen_dicom_read_frame(d, 0, &img, err, sizeof err);
            CHECK(st == LUMEN_EFORMAT && strstr(err, "no Pixel Data"), "nopixels.dcm frame: %s",
                  err);
            lumen_dicom_free(d);
        } else {
            CHECK(0, "nopixels.dcm opens: %s", err);
        }
    }
    {
        char err[LUMEN_ERR_MAX] = "";
        lumen_dicom *d;
        lumen_image img;
        lumen_status st = lumen_dicom_open(in_dir("xa.dcm"), NULL, &d, err, sizeof err);
        if (st == LUMEN_OK) {
            st = lumen_dicom_read_frame(d, 3, &img, err, sizeof err);
            CHECK(st == LUMEN_ERANGE && strstr(err, "frame 4 outside 1..3"), "frame 4 of 3: %s",
                  err);
            lumen_dicom_free(d);
        }
        lumen_dicom_free(NULL);
    }
    free(ref);
    return check_summary();
}
