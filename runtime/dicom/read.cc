/*
 * read.cc - DICOM images in (the DICOM shim, see shim.h): recognising files by content,
 * checking limits and layout from the header, and decoding frames.
 *
 * Pixel values: a frame comes back as planar floats holding modality values: the stored value
 * (Bits Stored at High Bit, sign-extended when Pixel Representation is 1) times Rescale Slope
 * plus Rescale Intercept. MONOCHROME1 (white is zero) is inverted within the value range so
 * that brighter always means more signal, as in MONOCHROME2; RGB stays three planes.
 */
#include "shim.h"

using lumen_dcm::copy_str;
using lumen_dcm::get_str;
using lumen_dcm::TempFiles;

struct lumen_dicom {
    TempFiles temps; /* an inflated copy of a deflated file (destroyed after ff) */
    E_TransferSyntax file_xfer = EXS_Unknown; /* the file's, when DCMTK reads a copy */
    DcmFileFormat ff;
    DcmDataset *ds;         /* owned by ff */
    DcmElement *pixels;     /* owned by ds; NULL without Pixel Data */
    DcmFileCache cache;     /* keeps the file open across lazily loaded frame reads */
    Uint32 next_fragment;   /* the fragment after the last frame decoded (sequential reads) */
    int last_frame;         /* last frame decoded, -1 before the first */
    size_t frame_bytes;     /* uncompressed bytes of one frame */
    std::vector<Uint8> buf; /* one decoded frame, reused */
    lumen_dicom_info info;
    std::string label;     /* the path, or "<buffer>" for messages */
    std::string temp_path; /* open_buffer's temporary file, removed by lumen_dicom_free */
};

/* Transfer syntaxes we decode: native, deflate, RLE, JPEG baseline/extended/lossless, JPEG-LS. */
static bool xfer_supported(E_TransferSyntax x)
{
    switch (x) {
    case EXS_LittleEndianImplicit:
    case EXS_LittleEndianExplicit:
    case EXS_BigEndianExplicit:
    case EXS_DeflatedLittleEndianExplicit:
    case EXS_RLELossless:
    case EXS_JPEGProcess1:
    case EXS_JPEGProcess2_4:
    case EXS_JPEGProcess14:
    case EXS_JPEGProcess14SV1:
    case EXS_JPEGLSLossless:
    case EXS_JPEGLSLossy:
        return true;
    default:
        return false;
    }
}

int lumen_dicom_probe(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned char b[132];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n == 132 && !memcmp(b + 128, "DICM", 4))
        return 1;
    /* No preamble: a dataset in implicit or explicit little endian starts with an element of
     * group 0002 or 0008 (the first groups every image carries), in increasing element order. */
    if (n < 8)
        return 0;
    unsigned group = b[0] | b[1] << 8, elem = b[2] | b[3] << 8;
    if (group != 0x0002 && group != 0x0008)
        return 0;
    if (elem > 0x0100)
        return 0;
    unsigned char vr0 = b[4], vr1 = b[5];
    if (vr0 >= 'A' && vr0 <= 'Z' && vr1 >= 'A' && vr1 <= 'Z')
        return 1; /* explicit VR */
    uint32_t len = b[4] | b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    return len <= 1024 ? 1 : 0; /* implicit VR: a short first value */
}

/* Fills d->info from the dataset and checks limits and layout. No pixel memory yet. */
static lumen_status dicom_check(lumen_dicom *d, const lumen_dicom_limits *lim, char *err,
                                size_t errlen)
{
    DcmDataset *ds = d->ds;
    lumen_dicom_info *in = &d->info;
    const char *p = d->label.c_str();
    E_TransferSyntax xs = d->file_xfer != EXS_Unknown ? d->file_xfer : ds->getOriginalXfer();
    DcmXfer xf(xs);
    copy_str(in->transfer_syntax, sizeof in->transfer_syntax, xf.getXferID());
    copy_str(in->transfer_syntax_name, sizeof in->transfer_syntax_name, xf.getXferName());
    copy_str(in->sop_class_uid, sizeof in->sop_class_uid, get_str(ds, DCM_SOPClassUID).c_str());
    copy_str(in->sop_instance_uid, sizeof in->sop_instance_uid,
             get_str(ds, DCM_SOPInstanceUID).c_str());
    copy_str(in->study_instance_uid, sizeof in->study_instance_uid,
             get_str(ds, DCM_StudyInstanceUID).c_str());
    copy_str(in->series_instance_uid, sizeof in->series_instance_uid,
             get_str(ds, DCM_SeriesInstanceUID).c_str());
    copy_str(in->modality, sizeof in->modality, get_str(ds, DCM_Modality).c_str());
    copy_str(in->series_number, sizeof in->series_number, get_str(ds, DCM_SeriesNumber).c_str());
    copy_str(in->instance_number, sizeof in->instance_number,
             get_str(ds, DCM_InstanceNumber).c_str());
    copy_str(in->patient_id, sizeof in->patient_id, get_str(ds, DCM_PatientID).c_str());
    copy_str(in->patient_name, sizeof in->patient_name, get_str(ds, DCM_PatientName).c_str());
    std::string adt = get_str(ds, DCM_AcquisitionDateTime);
    if (adt.empty()) {
        std::string dt = get_str(ds, DCM_AcquisitionDate), tm = get_str(ds, DCM_AcquisitionTime);
        if (!dt.empty())
            adt = dt + tm;
    }
    copy_str(in->acquisition_datetime, sizeof in->acquisition_datetime, adt.c_str());

    DcmElement *px = NULL;
    in->has_pixels = ds->findAndGetElement(DCM_PixelData, px).good() && px;
    d->pixels = in->has_pixels ? px : NULL;
    if (!in->has_pixels)
        return LUMEN_OK;
    if (!xfer_supported(xs))
        return lumen__errfn(
            err, errlen, LUMEN_EUNSUPPORTED,
            "%s: transfer syntax %s (%s) is not supported (lumen decodes uncompressed, "
            "deflate, RLE, JPEG baseline/extended/lossless and JPEG-LS)",
            p, xf.getXferName(), xf.getXferID());
    Uint16 rows = 0, cols = 0, spp = 1, ba = 0, bs = 0, hb = 0, pr = 0;
    if (ds->findAndGetUint16(DCM_Rows, rows).bad() || ds->findAndGetUint16(DCM_Columns, cols).bad())
        return lumen__errfn(err, errlen, LUMEN_EFORMAT, "%s: Rows or Columns missing", p);
    if (ds->findAndGetUint16(DCM_BitsAllocated, ba).bad())
        return lumen__errfn(err, errlen, LUMEN_EFORMAT, "%s: Bits Allocated missing", p);
    if (ds->findAndGetUint16(DCM_BitsStored, bs).bad())
        bs = ba;
    if (ds->findAndGetUint16(DCM_HighBit, hb).bad())
        hb = (Uint16)(bs - 1);
    if (ds->findAndGetUint16(DCM_SamplesPerPixel, spp).bad())
        spp = 1;
    if (ds->findAndGetUint16(DCM_PixelRepresentation, pr).bad())
        pr = 0;
    Sint32 frames = 1;
    if (ds->tagExistsWithValue(DCM_NumberOfFrames) &&
        ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad())
        return lumen__errfn(err, errlen, LUMEN_EFORMAT, "%s: unreadable Number of Frames", p);
    std::string pi = get_str(ds, DCM_PhotometricInterpretation);
    copy_str(in->photometric, sizeof in->photometric, pi.c_str());
    int max_side = lim && lim->max_side > 0 ? lim->max_side : LUMEN_DICOM_MAX_SIDE;
    int64_t max_frames = lim && lim->max_frames > 0 ? lim->max_frames : LUMEN_DICOM_MAX_FRAMES;
    int64_t max_bytes = lim && lim->max_bytes > 0 ? lim->max_bytes : LUMEN_DICOM_MAX_BYTES;
    if (rows == 0 || cols == 0)
        return lumen__errfn(err, errlen, LUMEN_EFORMAT, "%s: empty image (%ux%u)", p, cols, rows);
    if (rows > max_side || cols > max_side)
        return lumen__errfn(err, errlen, LUMEN_ERANGE,
                            "%s: %ux%u pixels is larger than the limit of %d pixels per side", p,
                            cols, rows, max_side);
    if (frames < 1 || frames > max_frames)
        return lumen__errfn(err, errlen, LUMEN_ERANGE,
                            "%s: Number of Frames %ld is outside 1..%lld (the frame-count limit)",
                            p, (long)frames, (long long)max_frames);
    if (ba != 8 && ba != 16)
        return lumen__errfn(err, errlen, LUMEN_EUNSUPPORTED,
                            "%s: Bits Allocated %u is not supported (8 or 16)", p, ba);
    if (bs < 1 || bs > ba || hb >= ba || hb + 1 < bs)
        return lumen__errfn(err, errlen, LUMEN_EFORMAT,
                            "%s: inconsistent Bits Stored %u / High Bit %u for Bits Allocated %u",
                            p, bs, hb, ba);
    if (pr > 1)
        return lumen__errfn(err, errlen, LUMEN_EFORMAT, "%s: Pixel Representation %u", p, pr);
    bool mono = pi == "MONOCHROME1" || pi == "MONOCHROME2";
    bool color = pi == "RGB" || pi == "YBR_FULL" || pi == "YBR_FULL_422";
    if (!((spp == 1 && mono) || (spp == 3 && color)))
        return lumen__errfn(err, errlen, LUMEN_EUNSUPPORTED,
                            "%s: Photometric Interpretation '%s' with %u samples per pixel is not "
                            "supported (MONOCHROME1/2, RGB, YBR_FULL)",
                            p, pi.c_str(), spp);
    uint64_t fb = (uint64_t)rows * cols * spp * (ba / 8);
    if (fb * (uint64_t)frames > (uint64_t)max_bytes)
        return lumen__errfn(err, errlen, LUMEN_ERANGE,
                            "%s: %ld frames of %ux%u need %llu bytes, over the limit of %lld", p,
                            (long)frames, cols, rows, (unsigned long long)(fb * (uint64_t)frames),
                            (long long)max_bytes);
    Float64 slope = 1.0, icpt = 0.0;
    if (ds->findAndGetFloat64(DCM_RescaleSlope, slope).bad() || slope == 0.0 || slope != slope)
        slope = 1.0;
    if (ds->findAndGetFloat64(DCM_RescaleIntercept, icpt).bad() || icpt != icpt)
        icpt = 0.0;
    in->width = cols;
    in->height = rows;
    in->frames = (int)frames;
    in->samples = spp;
    in->bits_allocated = ba;
    in->bits_stored = bs;
    in->high_bit = hb;
    in->is_signed = pr;
    in->rescale_slope = slope;
    in->rescale_intercept = icpt;
    d->frame_bytes = (size_t)fb;
    return LUMEN_OK;
}

static lumen_status dicom_finish_open(lumen_dicom *d, OFCondition cond,
                                      const lumen_dicom_limits *lim, lumen_dicom **out, char *err,
                                      size_t errlen)
{
    if (cond.bad()) {
        lumen_status st =
            lumen__errfn(err, errlen, LUMEN_EFORMAT, "%s: not a readable DICOM file (%s)",
                         d->label.c_str(), cond.text());
        delete d;
        return st;
    }
    d->ds = d->ff.getDataset();
    d->last_frame = -1;
    d->next_fragment = 0;
    lumen_status st = dicom_check(d, lim, err, errlen);
    if (st != LUMEN_OK) {
        delete d;
        return st;
    }
    *out = d;
    return LUMEN_OK;
}

lumen_status lumen_dicom_open(const char *path, const lumen_dicom_limits *lim, lumen_dicom **out,
                              char *err, size_t errlen)
{
    *out = NULL;
    try {
        lumen_dcm::init();
        if (lumen_dicom_probe(path) < 0)
            return lumen__errfn(err, errlen, LUMEN_EIO, "%s: %s", path, strerror(errno));
        lumen_dicom *d = new lumen_dicom();
        d->label = path;
        /* values over 4 KB stay in the file until used (the pixel data, mostly); a deflated
         * data set may inflate to the pixel limit plus 64 MiB of other attributes */
        int64_t max_bytes = lim && lim->max_bytes > 0 ? lim->max_bytes : LUMEN_DICOM_MAX_BYTES;
        OFCondition c = lumen_dcm::load(d->ff, path, 4096, (size_t)max_bytes + ((size_t)64 << 20),
                                        d->temps, &d->file_xfer);
        return dicom_finish_open(d, c, lim, out, err, errlen);
    } catch (const std::bad_alloc &) {
        return lumen__errfn(err, errlen, LUMEN_ENOMEM, "%s: out of memory", path);
    } catch (...) {
        return lumen__errfn(err, errlen, LUMEN_EFORMAT, "%s: unexpected DCMTK failure", path);
    }
}

/* From memory through a temporary file: DCMTK reads a memory stream eagerly, allocating every
 * element's declared length before it can tell the buffer is shorter (the fuzzer found a 3.8 GB
 * allocation from a 4 KB input); from a file, large values stay on disk and lengths past the end
 * are refused. So both entry points run the same code. The file is removed on free. */
lumen_status lumen_dicom_open_buffer(const void *data, size_t len, const lumen_dicom_limits *lim,
                                     lumen_dicom **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *tmp = getenv("TMPDIR");
    std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/lumen-dicom-XXXXXX";
    int fd = mkstemp(&path[0]);
    if (fd < 0)
        return lumen__errfn(err, errlen, LUMEN_EIO, "<buffer>: temporary file: %s",
                            strerror(errno));
    const unsigned char *p = (const unsigned char *)data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n <= 0) {
            int e = errno;
            close(fd);
            unlink(path.c_str());
            return lumen__errfn(err, errlen, LUMEN_EIO, "<buffer>: temporary file: %s",
                                strerror(e));
        }
        p += n;
        left -= (size_t)n;
    }
    close(fd);
    lumen_status st = lumen_dicom_open(path.c_str(), lim, out, err, errlen);
    if (st != LUMEN_OK) {
        unlink(path.c_str());
        return st;
    }
    (*out)->temp_path = path;
    (*out)->label = "<buffer>";
    return LUMEN_OK;
}

const lumen_dicom_info *lumen_dicom_get_info(const lumen_dicom *d)
{
    return &d->info;
}

/* Stored sample i of a decoded frame as a signed integer (Bits Stored at High Bit). */
static inline int32_t sample_at(const Uint8 *b, size_t i, const lumen_dicom_info *in)
{
    uint32_t raw = in->bits_allocated == 8 ? b[i] : ((const Uint16 *)(const void *)b)[i];
    int shift = in->high_bit + 1 - in->bits_stored;
    uint32_t mask = in->bits_stored >= 32 ? 0xffffffffu : (1u << in->bits_stored) - 1;
    uint32_t v = (raw >> shift) & mask;
    if (in->is_signed && (v >> (in->bits_stored - 1)) & 1u)
        return (int32_t)(v | ~mask);
    return (int32_t)v;
}

lumen_status lumen_dicom_read_frame(lumen_dicom *d, int frame, lumen_image *out, char *err,
                                    size_t errlen)
{
    memset(out, 0, sizeof *out);
    const lumen_dicom_info *in = &d->info;
    const char *p = d->label.c_str();
    if (!d->pixels)
        return lumen__errfn(err, errlen, LUMEN_EFORMAT, "%s: no Pixel Data (SOP class %s)", p,
                            in->sop_class_uid[0] ? in->sop_class_uid : "unknown");
    if (frame < 0 || frame >= in->frames)
        return lumen__errfn(err, errlen, LUMEN_ERANGE, "%s: frame %d outside 1..%d", p, frame + 1,
                            in->frames);
    float *data = NULL;
    try {
        d->buf.resize(d->frame_bytes + 1); /* +1: DCMTK pads odd frames to even length */
        /* sequential frames continue from the last fragment; anything else searches */
        Uint32 frag = frame == d->last_frame + 1 ? d->next_fragment : 0;
        OFString model;
        OFCondition c = d->pixels->getUncompressedFrame(d->ds, (Uint32)frame, frag, d->buf.data(),
                                                        (Uint32)d->buf.size(), model, &d->cache);
        if (c.bad()) {
            d->last_frame = -1;
            return lumen__errfn(err, errlen, LUMEN_EFORMAT, "%s: frame %d: %s (%s)", p, frame + 1,
                                c.text(), in->transfer_syntax_name);
        }
        d->last_frame = frame;
        d->next_fragment = frag;
        size_t plane = (size_t)in->width * in->height, n = plane * in->samples;
        data = (float *)malloc(n * sizeof(float));
        if (!data)
            return lumen__errfn(err, errlen, LUMEN_ENOMEM, "%s: out of memory", p);
        int planar = 0;
        if (in->samples == 3) {
            Uint16 pc = 0;
            /* codecs return colour-by-pixel unless the dataset says planar for native data */
            if (!DcmXfer(d->ds->getOriginalXfer()).isEncapsulated() &&
                d->ds->findAndGetUint16(DCM_PlanarConfiguration, pc).good())
                planar = pc == 1;
            if (DcmXfer(d->ds->getOriginalXfer()).getXfer() == EXS_RLELossless)
                planar = 1; /* the RLE decoder returns colour-by-plane */
        }
        double lo, hi;
        if (in->is_signed) {
            lo = -(double)(1u << (in->bits_stored - 1));
            hi = (double)(1u << (in->bits_stored - 1)) - 1;
        } else {
            lo = 0;
            hi = (double)((1ull << in->bits_stored) - 1);
        }
        double s = in->rescale_slope, b = in->rescale_intercept;
        /* MONOCHROME1: mirror within the rescaled range, so brighter means more signal */
        int invert = !strcmp(in->photometric, "MONOCHROME1");
        double flip = (lo * s + b) + (hi * s + b);
        for (int c2 = 0; c2 < in->samples; c2++)
            for (size_t i = 0; i < plane; i++) {
                size_t src = planar ? (size_t)c2 * plane + i : i * in->samples + c2;
                double v = sample_at(d->buf.data(), src, in) * s + b;
                data[(size_t)c2 * plane + i] = (float)(invert ? flip - v : v);
            }
        out->width = in->width;
        out->height = in->height;
        out->channels = in->samples;
        out->bit_depth = in->bits_allocated;
        out->data = data;
        return LUMEN_OK;
    } catch (const std::bad_alloc &) {
        free(data);
        return lumen__errfn(err, errlen, LUMEN_ENOMEM, "%s: out of memory", p);
    } catch (...) {
        free(data);
        return lumen__errfn(err, errlen, LUMEN_EFORMAT, "%s: unexpected DCMTK failure", p);
    }
}

void lumen_dicom_free(lumen_dicom *d)
{
    if (!d)
        return;
    std::string tmp = d->temp_path;
    try {
        delete d;
    } catch (...) {
    }
    if (!tmp.empty())
        unlink(tmp.c_str());
}
