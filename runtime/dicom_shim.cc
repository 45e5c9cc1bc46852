/*
 * dicom_shim.cc - lumen's only C++ file: a C API over DCMTK (Debian libdcmtk-dev) for reading
 * DICOM images, writing a Comprehensive SR per series, and the network (a C-STORE SCP with a C
 * callback per received instance, and a C-STORE SCU to forward results).
 *
 * Rules of this file (design.md decision 13):
 * - Nothing is thrown across the C API: every entry point that can allocate wraps its body in
 *   try/catch, turning std::bad_alloc into LUMEN_ENOMEM and anything else into LUMEN_EFORMAT.
 * - Every DCMTK call that returns an OFCondition is checked; its text ends up in the message.
 * - Limits (side, frame count, total pixel bytes) are checked from the header attributes before
 *   any frame buffer is allocated; large element values stay on disk until a frame is read
 *   (DCMTK's lazy loading), so opening a 2 GB series costs a few kilobytes.
 *
 * DCMTK has process-wide state we cannot avoid: the codec registry (RLE, JPEG, JPEG-LS decoders,
 * registered once with pthread_once) and its logger (set to errors only, once, so a hostile
 * file does not flood stderr; our messages carry what matters).
 *
 * Pixel values: a frame comes back as planar floats holding modality values: the stored value
 * (Bits Stored at High Bit, sign-extended when Pixel Representation is 1) times Rescale Slope
 * plus Rescale Intercept. MONOCHROME1 (white is zero) is inverted within the value range so
 * that brighter always means more signal, as in MONOCHROME2; RGB stays three planes.
 */
#include "dcmtk/config/osconfig.h"

#include "dcmtk/dcmdata/dcfcache.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmnet/scp.h"
#include "dcmtk/dcmnet/scu.h"
#include "dcmtk/dcmsr/dsrdoc.h"
#include "dcmtk/oflog/oflog.h"

#include <openssl/evp.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <new>
#include <string>
#include <vector>

extern "C" {
#include "lumen.h"
}

/* ---- shared helpers ---- */

static pthread_once_t dcm_once = PTHREAD_ONCE_INIT;

static void dcm_init_once(void)
{
    OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
    /* DCMTK's own loggers are noisy at WARN for hostile input; errors reach us as conditions */
    OFLog::getLogger("dcmtk").setLogLevel(OFLogger::FATAL_LOG_LEVEL);
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
}

static void dcm_init(void)
{
    pthread_once(&dcm_once, dcm_init_once);
}

static lumen_status set_err(char *err, size_t errlen, lumen_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static lumen_status set_err(char *err, size_t errlen, lumen_status st, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* A string attribute of item, "" when absent or empty. */
static std::string get_str(DcmItem *item, const DcmTagKey &tag)
{
    OFString v;
    if (item->findAndGetOFStringArray(tag, v).bad())
        return "";
    return std::string(v.c_str());
}

/* ---- loading, with the deflate transfer syntax inflated here ----
 *
 * DCMTK keeps large values on disk only when it can re-read them from the file; a deflated data
 * set cannot be re-read, so DCMTK allocates every element's declared length before reading it,
 * and a 600-byte file declaring a 2.9 GB element gets 2.9 GB (found by fuzz_dicom). So a
 * deflated file is inflated here first, into a temporary file of at most 'cap' bytes, and DCMTK
 * reads that as a plain Explicit VR Little Endian data set: lazily, and with every length checked
 * against the file's end. */

/* Removes its files when it goes out of scope (after the DcmFileFormat that reads them). */
struct TempFiles {
    std::vector<std::string> paths;
    ~TempFiles()
    {
        for (const std::string &p : paths)
            unlink(p.c_str());
    }
};

static bool long_vr(unsigned char a, unsigned char b)
{
    static const char *const vrs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                      "SV", "UC", "UN", "UR", "UT", "UV"};
    for (const char *v : vrs)
        if (a == (unsigned char)v[0] && b == (unsigned char)v[1])
            return true;
    return false;
}

/* The offset of the data set in a Part-10 file whose meta header names the Deflated Explicit VR
 * Little Endian transfer syntax; 0 for any other file (DCMTK judges those). */
static long deflated_dataset_offset(FILE *f)
{
    unsigned char h[132];
    if (fread(h, 1, 132, f) != 132 || memcmp(h + 128, "DICM", 4) != 0)
        return 0;
    long pos = 132;
    bool deflated = false;
    for (int i = 0; i < 256; i++) { /* the meta group has a dozen elements */
        if (fread(h, 1, 8, f) != 8 || (h[0] | h[1] << 8) != 0x0002)
            break;
        long head = 8;
        uint32_t len = h[6] | h[7] << 8;
        if (long_vr(h[4], h[5])) {
            if (fread(h + 8, 1, 4, f) != 4)
                return 0;
            len = h[8] | h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
            head = 12;
        }
        if (len > 65536)
            return 0;
        if ((h[2] | h[3] << 8) == 0x0010) {
            char uid[65] = {0};
            if (len >= sizeof uid || fread(uid, 1, len, f) != len)
                return 0;
            for (long k = (long)len - 1; k >= 0 && (uid[k] == ' ' || uid[k] == '\0'); k--)
                uid[k] = '\0';
            deflated = strcmp(uid, UID_DeflatedExplicitVRLittleEndianTransferSyntax) == 0;
        } else if (fseek(f, (long)len, SEEK_CUR) != 0) {
            return 0;
        }
        pos += head + (long)len;
    }
    return deflated ? pos : 0;
}

static OFCondition dcm_error(const std::string &text)
{
    return makeOFCondition(OFM_dcmdata, 900, OF_error, text.c_str());
}

/* Inflates the raw deflate stream (RFC 1951, as DICOM specifies; a zlib-wrapped one is accepted
 * too) from f's current position into a new temporary file, refusing more than cap bytes. */
static OFCondition inflate_to_temp(FILE *f, size_t cap, TempFiles &temps, std::string &out)
{
    const char *tmp = getenv("TMPDIR");
    std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/lumen-inflated-XXXXXX";
    int fd = mkstemp(&path[0]);
    if (fd < 0)
        return dcm_error(std::string("temporary file: ") + strerror(errno));
    temps.paths.push_back(path);
    std::vector<unsigned char> in(1 << 16), buf(1 << 18);
    z_stream z;
    memset(&z, 0, sizeof z);
    int wbits = -MAX_WBITS, rc = inflateInit2(&z, wbits);
    size_t total = 0;
    bool first = true;
    std::string why;
    while (rc == Z_OK) {
        if (z.avail_in == 0) {
            size_t n = fread(in.data(), 1, in.size(), f);
            if (n == 0)
                break; /* a truncated stream: DCMTK meets the end of what it holds */
            z.next_in = in.data();
            z.avail_in = (uInt)n;
            if (first && n >= 2 && (in[0] & 0x0f) == 8 && ((in[0] << 8) | in[1]) % 31 == 0) {
                inflateEnd(&z); /* a zlib header: some writers wrap the stream */
                wbits = MAX_WBITS;
                if ((rc = inflateInit2(&z, wbits)) != Z_OK)
                    break;
                z.next_in = in.data();
                z.avail_in = (uInt)n;
            }
            first = false;
        }
        z.next_out = buf.data();
        z.avail_out = (uInt)buf.size();
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR)
            rc = Z_OK; /* no progress possible without more input */
        if (rc != Z_OK && rc != Z_STREAM_END) {
            why = std::string("corrupt deflate stream (zlib: ") + (z.msg ? z.msg : "error") + ")";
            break;
        }
        size_t got = buf.size() - z.avail_out;
        total += got;
        if (total > cap) {
            why = "the deflated data set inflates to more than " + std::to_string(cap) +
                  " bytes (the limit)";
            break;
        }
        for (size_t w = 0; w < got;) {
            ssize_t k = write(fd, buf.data() + w, got - w);
            if (k <= 0) {
                why = std::string("temporary file: ") + strerror(errno);
                break;
            }
            w += (size_t)k;
        }
        if (!why.empty())
            break;
    }
    inflateEnd(&z);
    if (close(fd) != 0 && why.empty())
        why = std::string("temporary file: ") + strerror(errno);
    if (!why.empty())
        return dcm_error(why);
    out = path;
    return EC_Normal;
}

/* ff.loadFile with values over maxread left on disk, for every transfer syntax. A deflated data
 * set is inflated first (at most cap bytes, into a file that 'temps' removes); *xfer is set to
 * the file's own transfer syntax when DCMTK cannot tell it (EXS_Unknown otherwise). */
static OFCondition dcm_load(DcmFileFormat &ff, const char *path, Uint32 maxread, size_t cap,
                            TempFiles &temps, E_TransferSyntax *xfer)
{
    if (xfer)
        *xfer = EXS_Unknown;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dcm_error(strerror(errno));
    long off = deflated_dataset_offset(f);
    if (off == 0) {
        fclose(f);
        return ff.loadFile(path, EXS_Unknown, EGL_noChange, maxread, ERM_autoDetect);
    }
    std::string inflated;
    OFCondition c = fseek(f, off, SEEK_SET) == 0 ? inflate_to_temp(f, cap, temps, inflated)
                                                 : dcm_error(strerror(errno));
    fclose(f);
    if (c.bad())
        return c;
    if (xfer)
        *xfer = EXS_DeflatedLittleEndianExplicit;
    return ff.loadFile(inflated.c_str(), EXS_LittleEndianExplicit, EGL_noChange, maxread,
                       ERM_dataset);
}

/* ---- reading ---- */

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
        return set_err(err, errlen, LUMEN_EUNSUPPORTED,
                       "%s: transfer syntax %s (%s) is not supported (lumen decodes uncompressed, "
                       "deflate, RLE, JPEG baseline/extended/lossless and JPEG-LS)",
                       p, xf.getXferName(), xf.getXferID());
    Uint16 rows = 0, cols = 0, spp = 1, ba = 0, bs = 0, hb = 0, pr = 0;
    if (ds->findAndGetUint16(DCM_Rows, rows).bad() || ds->findAndGetUint16(DCM_Columns, cols).bad())
        return set_err(err, errlen, LUMEN_EFORMAT, "%s: Rows or Columns missing", p);
    if (ds->findAndGetUint16(DCM_BitsAllocated, ba).bad())
        return set_err(err, errlen, LUMEN_EFORMAT, "%s: Bits Allocated missing", p);
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
        return set_err(err, errlen, LUMEN_EFORMAT, "%s: unreadable Number of Frames", p);
    std::string pi = get_str(ds, DCM_PhotometricInterpretation);
    copy_str(in->photometric, sizeof in->photometric, pi.c_str());
    int max_side = lim && lim->max_side > 0 ? lim->max_side : LUMEN_DICOM_MAX_SIDE;
    int64_t max_frames = lim && lim->max_frames > 0 ? lim->max_frames : LUMEN_DICOM_MAX_FRAMES;
    int64_t max_bytes = lim && lim->max_bytes > 0 ? lim->max_bytes : LUMEN_DICOM_MAX_BYTES;
    if (rows == 0 || cols == 0)
        return set_err(err, errlen, LUMEN_EFORMAT, "%s: empty image (%ux%u)", p, cols, rows);
    if (rows > max_side || cols > max_side)
        return set_err(err, errlen, LUMEN_ERANGE,
                       "%s: %ux%u pixels is larger than the limit of %d pixels per side", p, cols,
                       rows, max_side);
    if (frames < 1 || frames > max_frames)
        return set_err(err, errlen, LUMEN_ERANGE,
                       "%s: Number of Frames %ld is outside 1..%lld (the frame-count limit)", p,
                       (long)frames, (long long)max_frames);
    if (ba != 8 && ba != 16)
        return set_err(err, errlen, LUMEN_EUNSUPPORTED,
                       "%s: Bits Allocated %u is not supported (8 or 16)", p, ba);
    if (bs < 1 || bs > ba || hb >= ba || hb + 1 < bs)
        return set_err(err, errlen, LUMEN_EFORMAT,
                       "%s: inconsistent Bits Stored %u / High Bit %u for Bits Allocated %u", p, bs,
                       hb, ba);
    if (pr > 1)
        return set_err(err, errlen, LUMEN_EFORMAT, "%s: Pixel Representation %u", p, pr);
    bool mono = pi == "MONOCHROME1" || pi == "MONOCHROME2";
    bool color = pi == "RGB" || pi == "YBR_FULL" || pi == "YBR_FULL_422";
    if (!((spp == 1 && mono) || (spp == 3 && color)))
        return set_err(err, errlen, LUMEN_EUNSUPPORTED,
                       "%s: Photometric Interpretation '%s' with %u samples per pixel is not "
                       "supported (MONOCHROME1/2, RGB, YBR_FULL)",
                       p, pi.c_str(), spp);
    uint64_t fb = (uint64_t)rows * cols * spp * (ba / 8);
    if (fb * (uint64_t)frames > (uint64_t)max_bytes)
        return set_err(err, errlen, LUMEN_ERANGE,
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
        lumen_status st = set_err(err, errlen, LUMEN_EFORMAT, "%s: not a readable DICOM file (%s)",
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
        dcm_init();
        if (lumen_dicom_probe(path) < 0)
            return set_err(err, errlen, LUMEN_EIO, "%s: %s", path, strerror(errno));
        lumen_dicom *d = new lumen_dicom();
        d->label = path;
        /* values over 4 KB stay in the file until used (the pixel data, mostly); a deflated
         * data set may inflate to the pixel limit plus 64 MiB of other attributes */
        int64_t max_bytes = lim && lim->max_bytes > 0 ? lim->max_bytes : LUMEN_DICOM_MAX_BYTES;
        OFCondition c = dcm_load(d->ff, path, 4096, (size_t)max_bytes + ((size_t)64 << 20),
                                 d->temps, &d->file_xfer);
        return dicom_finish_open(d, c, lim, out, err, errlen);
    } catch (const std::bad_alloc &) {
        return set_err(err, errlen, LUMEN_ENOMEM, "%s: out of memory", path);
    } catch (...) {
        return set_err(err, errlen, LUMEN_EFORMAT, "%s: unexpected DCMTK failure", path);
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
        return set_err(err, errlen, LUMEN_EIO, "<buffer>: temporary file: %s", strerror(errno));
    const unsigned char *p = (const unsigned char *)data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n <= 0) {
            int e = errno;
            close(fd);
            unlink(path.c_str());
            return set_err(err, errlen, LUMEN_EIO, "<buffer>: temporary file: %s", strerror(e));
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
        return set_err(err, errlen, LUMEN_EFORMAT, "%s: no Pixel Data (SOP class %s)", p,
                       in->sop_class_uid[0] ? in->sop_class_uid : "unknown");
    if (frame < 0 || frame >= in->frames)
        return set_err(err, errlen, LUMEN_ERANGE, "%s: frame %d outside 1..%d", p, frame + 1,
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
            return set_err(err, errlen, LUMEN_EFORMAT, "%s: frame %d: %s (%s)", p, frame + 1,
                           c.text(), in->transfer_syntax_name);
        }
        d->last_frame = frame;
        d->next_fragment = frag;
        size_t plane = (size_t)in->width * in->height, n = plane * in->samples;
        data = (float *)malloc(n * sizeof(float));
        if (!data)
            return set_err(err, errlen, LUMEN_ENOMEM, "%s: out of memory", p);
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
        return set_err(err, errlen, LUMEN_ENOMEM, "%s: out of memory", p);
    } catch (...) {
        free(data);
        return set_err(err, errlen, LUMEN_EFORMAT, "%s: unexpected DCMTK failure", p);
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

/* ---- Structured Report per series ----
 *
 * A Comprehensive SR with lumen's own codes (coding scheme "99LUMEN", private by the "99"
 * prefix, identified in the Coding Scheme Identification Sequence):
 *
 *   CONTAINER "Angiography QC report" (root)
 *     HAS OBS CONTEXT  CODE  Observer Type = Device (DCM 121005 / 121007)
 *     HAS OBS CONTEXT  UIDREF Device Observer UID, TEXT Name "lumen", Manufacturer, Model Name
 *     CONTAINS  TEXT Series verdict ("keep" | "repeat"), TEXT Verdict reasons
 *     CONTAINS  TEXT Model name, Model version, Model weights SHA-256
 *     CONTAINS  CONTAINER Frame result (one per frame)
 *                 CONTAINS IMAGE Source frame (Referenced SOP Sequence + Referenced Frame Number)
 *                 CONTAINS TEXT Frame class | TEXT Frame error
 *                 CONTAINS NUM Class probability (one per class, unit "1"), NUM Class score
 *                 CONTAINS TEXT Flag (one per flag)
 *
 * Patient and study attributes are copied from a source instance (the SR joins the source
 * study, as a PACS expects); every referenced instance is listed in the Current Requested
 * Procedure Evidence Sequence.
 */

struct sr_frame {
    std::string sop_class, sop_instance, series, study, class_name, error;
    int frame;
    double score;
    std::vector<std::pair<std::string, double>> probs;
    std::vector<std::string> flags;
};

struct lumen_sr {
    std::string source, title, verdict, reasons, model, model_version, model_sha256, version;
    std::string series_description, observer_uid;
    int series_number;
    std::vector<sr_frame> frames;
};

/* The Device Observer UID of this lumen installation: the same for every SR written on this
 * host, so a PACS can tell the reports of one device (as 2.25.<UUID>, the UUID a name-based,
 * version-5-style one from SHA-256 of "lumen device observer " + the host name). */
static std::string host_observer_uid(void)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    std::string name = std::string("lumen device observer ") + host;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(name.data(), name.size(), md, &n, EVP_sha256(), NULL) || n < 16)
        return "";
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    unsigned __int128 v = 0;
    for (int i = 0; i < 16; i++)
        v = v << 8 | md[i];
    char digits[40];
    int k = (int)sizeof digits;
    digits[--k] = '\0';
    do {
        digits[--k] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    return std::string("2.25.") + (digits + k);
}

static std::string s_or(const char *s)
{
    return s ? s : "";
}

lumen_status lumen_sr_new(const lumen_sr_info *info, lumen_sr **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!info || !info->source_path || !info->verdict)
        return set_err(err, errlen, LUMEN_EINVAL, "SR: source_path and verdict are required");
    try {
        lumen_sr *sr = new lumen_sr();
        sr->source = info->source_path;
        sr->title = info->title ? info->title : "Angiography QC report";
        sr->verdict = info->verdict;
        sr->reasons = s_or(info->reasons);
        sr->model = s_or(info->model_name);
        sr->model_version = s_or(info->model_version);
        sr->model_sha256 = s_or(info->model_sha256);
        sr->version = info->lumen_version ? info->lumen_version : LUMEN_VERSION;
        sr->series_description = info->series_description ? info->series_description : "lumen QC";
        sr->series_number = info->series_number > 0 ? info->series_number : 9901;
        sr->observer_uid = info->observer_uid ? info->observer_uid : host_observer_uid();
        *out = sr;
        return LUMEN_OK;
    } catch (...) {
        return set_err(err, errlen, LUMEN_ENOMEM, "SR: out of memory");
    }
}

lumen_status lumen_sr_add_frame(lumen_sr *sr, const lumen_sr_frame *f, char *err, size_t errlen)
{
    if (!f || !f->sop_class_uid || !f->sop_instance_uid || !f->series_instance_uid ||
        !f->study_instance_uid || f->frame < 1)
        return set_err(err, errlen, LUMEN_EINVAL,
                       "SR: a frame needs its SOP class, SOP instance, series and study UIDs and a "
                       "frame number >= 1");
    try {
        sr_frame x;
        x.sop_class = f->sop_class_uid;
        x.sop_instance = f->sop_instance_uid;
        x.series = f->series_instance_uid;
        x.study = f->study_instance_uid;
        x.frame = f->frame;
        x.class_name = s_or(f->class_name);
        x.error = s_or(f->error);
        x.score = f->score;
        for (int i = 0; i < f->n_probs; i++)
            x.probs.emplace_back(s_or(f->prob_names[i]), f->probs[i]);
        for (int i = 0; i < f->n_flags; i++)
            x.flags.push_back(s_or(f->flags[i]));
        sr->frames.push_back(std::move(x));
        return LUMEN_OK;
    } catch (...) {
        return set_err(err, errlen, LUMEN_ENOMEM, "SR: out of memory");
    }
}

void lumen_sr_free(lumen_sr *sr)
{
    delete sr;
}

/* The tree builder's sticky status: the first failure is kept, later calls do nothing. */
struct sr_builder {
    DSRDocumentTree &tree;
    OFCondition cond;
    std::string what;

    void check(OFCondition c, const char *step)
    {
        if (cond.good() && c.bad()) {
            cond = c;
            what = step;
        }
    }
    /* Adds an item after (below=false) or below (below=true) the current one. */
    void add(DSRTypes::E_RelationshipType rel, DSRTypes::E_ValueType vt,
             const DSRCodedEntryValue &name, bool below, const char *step)
    {
        if (cond.bad())
            return;
        if (below)
            check(tree.addChildContentItem(rel, vt, name), step);
        else
            check(tree.addContentItem(rel, vt, name), step);
    }
    void text(DSRTypes::E_RelationshipType rel, const DSRCodedEntryValue &name,
              const std::string &v, bool below, const char *step)
    {
        add(rel, DSRTypes::VT_Text, name, below, step);
        if (cond.good())
            check(tree.getCurrentContentItem().setStringValue(v.empty() ? "-" : v.c_str()), step);
    }
};

static DSRCodedEntryValue lq(const char *code, const char *meaning)
{
    return DSRCodedEntryValue(code, "99LUMEN", meaning);
}

static std::string fmt_ds(double v)
{
    char b[32];
    snprintf(b, sizeof b, "%.6g", v == v ? v : 0.0);
    return b;
}

/* Builds the content tree; returns the builder's condition (and the failing step). */
static OFCondition sr_build_tree(const lumen_sr *sr, DSRDocument &doc, std::string &what)
{
    DSRDocumentTree &tree = doc.getTree();
    sr_builder b{tree, EC_Normal, ""};
    using T = DSRTypes;
    b.check(tree.addContentItem(T::RT_isRoot, T::VT_Container, T::AM_belowCurrent)
                ? EC_Normal
                : SR_EC_InvalidDocumentTree,
            "root container");
    if (b.cond.good())
        b.check(tree.getCurrentContentItem().setConceptName(lq("LQC-REPORT", sr->title.c_str())),
                "root concept");
    size_t root = tree.getNodeID();
    b.add(T::RT_hasObsContext, T::VT_Code, DSRCodedEntryValue("121005", "DCM", "Observer Type"),
          true, "observer type");
    if (b.cond.good())
        b.check(tree.getCurrentContentItem().setCodeValue(
                    DSRCodedEntryValue("121007", "DCM", "Device")),
                "observer type");
    char uid[100];
    if (sr->observer_uid.empty())
        dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
    else
        snprintf(uid, sizeof uid, "%s", sr->observer_uid.c_str());
    b.add(T::RT_hasObsContext, T::VT_UIDRef,
          DSRCodedEntryValue("121012", "DCM", "Device Observer UID"), false, "observer UID");
    if (b.cond.good())
        b.check(tree.getCurrentContentItem().setStringValue(uid), "observer UID");
    b.text(T::RT_hasObsContext, DSRCodedEntryValue("121013", "DCM", "Device Observer Name"),
           "lumen", false, "observer name");
    b.text(T::RT_hasObsContext, DSRCodedEntryValue("121014", "DCM", "Device Observer Manufacturer"),
           "lumen project", false, "observer manufacturer");
    b.text(T::RT_hasObsContext, DSRCodedEntryValue("121015", "DCM", "Device Observer Model Name"),
           "lumen " + sr->version, false, "observer model name");
    b.text(T::RT_contains, lq("LQC-VERDICT", "Series verdict"), sr->verdict, false, "verdict");
    if (!sr->reasons.empty())
        b.text(T::RT_contains, lq("LQC-REASONS", "Verdict reasons"), sr->reasons, false, "reasons");
    b.text(T::RT_contains, lq("LQC-MODEL", "Model name"), sr->model, false, "model name");
    if (!sr->model_version.empty())
        b.text(T::RT_contains, lq("LQC-MODELVER", "Model version"), sr->model_version, false,
               "model version");
    b.text(T::RT_contains, lq("LQC-WEIGHTS", "Model weights SHA-256"), sr->model_sha256, false,
           "weights hash");
    for (const sr_frame &f : sr->frames) {
        if (b.cond.bad())
            break;
        b.add(T::RT_contains, T::VT_Container, lq("LQC-FRAME", "Frame result"), false, "frame");
        size_t frame_node = tree.getNodeID();
        b.add(T::RT_contains, T::VT_Image, lq("LQC-SOURCE", "Source frame"), true, "image");
        if (b.cond.good()) {
            DSRImageReferenceValue ref(f.sop_class.c_str(), f.sop_instance.c_str());
            ref.getFrameList().addItem(f.frame);
            b.check(tree.getCurrentContentItem().setImageReference(ref), "image reference");
        }
        if (!f.error.empty())
            b.text(T::RT_contains, lq("LQC-ERROR", "Frame error"), f.error, false, "error");
        else
            b.text(T::RT_contains, lq("LQC-CLASS", "Frame class"), f.class_name, false, "class");
        DSRCodedEntryValue unit("1", "UCUM", "no units");
        for (size_t i = 0; i < f.probs.size() && b.cond.good(); i++) {
            char code[32], meaning[64];
            snprintf(code, sizeof code, "LQC-P%u", (unsigned)(i % 1000));
            snprintf(meaning, sizeof meaning, "Probability of %.45s", f.probs[i].first.c_str());
            b.add(T::RT_contains, T::VT_Num, lq(code, meaning), false, "probability");
            if (b.cond.good())
                b.check(tree.getCurrentContentItem().setNumericValue(
                            DSRNumericMeasurementValue(fmt_ds(f.probs[i].second).c_str(), unit)),
                        "probability value");
        }
        for (const std::string &flag : f.flags)
            b.text(T::RT_contains, lq("LQC-FLAG", "Flag"), flag, false, "flag");
        if (b.cond.good() && !tree.gotoNode(frame_node))
            b.check(SR_EC_InvalidDocumentTree, "frame node");
    }
    if (b.cond.good() && !tree.gotoNode(root))
        b.check(SR_EC_InvalidDocumentTree, "root node");
    what = b.what;
    return b.cond;
}

lumen_status lumen_sr_write(lumen_sr *sr, const char *path, char *sop_uid, size_t uid_len,
                            char *err, size_t errlen)
{
    try {
        dcm_init();
        TempFiles temps;
        DcmFileFormat src;
        OFCondition c =
            dcm_load(src, sr->source.c_str(), 256, (size_t)LUMEN_DICOM_MAX_BYTES, temps, NULL);
        if (c.bad())
            return set_err(err, errlen, LUMEN_EIO, "SR: reading %s: %s", sr->source.c_str(),
                           c.text());
        DSRDocument doc(DSRTypes::DT_ComprehensiveSR);
        DcmDataset *sds = src.getDataset();
        std::string study = get_str(sds, DCM_StudyInstanceUID);
        if (study.empty())
            return set_err(err, errlen, LUMEN_EFORMAT, "SR: %s has no Study Instance UID",
                           sr->source.c_str());
        const char *step = "study data";
        c = doc.readStudyData(*sds);
        if (c.good()) {
            step = "new series";
            doc.createNewSeries();
        }
        if (c.good()) {
            step = "series attributes";
            c = doc.setSeriesDescription(sr->series_description.c_str());
        }
        if (c.good())
            c = doc.setSeriesNumber(std::to_string(sr->series_number).c_str());
        if (c.good())
            c = doc.setInstanceNumber("1");
        if (c.good())
            c = doc.setManufacturer("lumen project");
        if (c.good())
            c = doc.setManufacturerModelName(("lumen " + sr->version).c_str());
        if (c.good())
            c = doc.setSoftwareVersions(sr->version.c_str());
        if (c.good()) {
            step = "coding scheme";
            DSRCodingSchemeIdentificationList &cs = doc.getCodingSchemeIdentification();
            c = cs.addItem("99LUMEN");
            if (c.good())
                c = cs.setCodingSchemeName("lumen QC codes");
            if (c.good())
                c = cs.setCodingSchemeResponsibleOrganization("lumen project");
        }
        for (size_t i = 0; c.good() && i < sr->frames.size(); i++) {
            step = "evidence";
            const sr_frame &f = sr->frames[i];
            c = doc.getCurrentRequestedProcedureEvidence().addItem(
                f.study.c_str(), f.series.c_str(), f.sop_class.c_str(), f.sop_instance.c_str());
        }
        std::string what;
        if (c.good()) {
            c = sr_build_tree(sr, doc, what);
            step = what.c_str();
        }
        if (c.good()) {
            step = "completion";
            c = doc.completeDocument();
        }
        DcmFileFormat out;
        if (c.good()) {
            step = "encoding";
            c = doc.write(*out.getDataset());
        }
        if (c.bad())
            return set_err(err, errlen, LUMEN_EFORMAT, "SR: %s: %s", step, c.text());
        std::string tmp = std::string(path) + ".tmp";
        c = out.saveFile(tmp.c_str(), EXS_LittleEndianExplicit);
        if (c.bad() || rename(tmp.c_str(), path) != 0) {
            unlink(tmp.c_str());
            return set_err(err, errlen, LUMEN_EIO, "SR: writing %s: %s", path,
                           c.bad() ? c.text() : strerror(errno));
        }
        if (sop_uid && uid_len) {
            OFString u;
            doc.getSOPInstanceUID(u);
            copy_str(sop_uid, uid_len, u.c_str());
        }
        return LUMEN_OK;
    } catch (const std::bad_alloc &) {
        return set_err(err, errlen, LUMEN_ENOMEM, "SR: out of memory");
    } catch (...) {
        return set_err(err, errlen, LUMEN_EFORMAT, "SR: unexpected DCMTK failure");
    }
}

/* ---- network: a C-STORE SCP with a C callback per instance, and a C-STORE SCU ----
 *
 * The SCP (DCMTK's DcmSCP) serves one association at a time. It proposes presentation contexts
 * only for the image storage classes lumen reads (so other SOP classes are refused during
 * negotiation), accepts the transfer syntaxes lumen decodes, and answers a C-STORE whose
 * affected SOP class is not one of them with 0x0122 (SOP class not supported). A received
 * instance is written to store_dir/<SOPInstanceUID>.dcm (temp file + rename) before the
 * success response, so an acknowledged instance is never lost; then on_store runs. With no
 * association the accept loop wakes every poll_ms to call on_idle. A callback returning
 * non-zero stops the loop after the current association. */

static const char *const scp_storage_classes[] = {
    UID_XRayAngiographicImageStorage,
    UID_EnhancedXAImageStorage,
    UID_XRayRadiofluoroscopicImageStorage,
    "1.2.840.10008.5.1.4.1.1.12.2.1", /* Enhanced XRF */
    UID_DigitalXRayImageStorageForPresentation,
    "1.2.840.10008.5.1.4.1.1.1.1.1", /* DX for processing */
    UID_ComputedRadiographyImageStorage,
    UID_SecondaryCaptureImageStorage,
    UID_MultiframeGrayscaleByteSecondaryCaptureImageStorage,
    "1.2.840.10008.5.1.4.1.1.7.3", /* multi-frame grayscale word SC */
    "1.2.840.10008.5.1.4.1.1.7.4", /* multi-frame true colour SC */
    NULL};

static bool scp_class_accepted(const char *uid)
{
    for (int i = 0; scp_storage_classes[i]; i++)
        if (!strcmp(uid, scp_storage_classes[i]))
            return true;
    return false;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

class LumenSCP : public DcmSCP
{
  public:
    const lumen_scp_options *opt;
    lumen_scp_store_fn on_store;
    lumen_scp_idle_fn on_idle;
    void *user;
    bool stop = false;
    std::string error; /* a storage failure that stopped the loop */

  protected:
    OFCondition handleIncomingCommand(T_DIMSE_Message *msg,
                                      const DcmPresentationContextInfo &pc) override
    {
        if (msg->CommandField != DIMSE_C_STORE_RQ)
            return DcmSCP::handleIncomingCommand(msg, pc);
        T_DIMSE_C_StoreRQ &rq = msg->msg.CStoreRQ;
        /* Straight to a file, as received: DCMTK parsing a data set in memory allocates each
         * element's declared length up front, which a hostile peer could set to gigabytes. */
        std::string sop = rq.AffectedSOPInstanceUID;
        for (char &ch : sop)
            if (!(ch == '.' || (ch >= '0' && ch <= '9')))
                ch = '_';
        std::string path = std::string(opt->store_dir) + "/" + sop + ".dcm";
        std::string tmp = path + ".part";
        OFCondition c = receiveSTORERequest(rq, pc.presentationContextID, OFString(tmp.c_str()));
        if (c.bad()) {
            unlink(tmp.c_str());
            return c;
        }
        double arrival = mono_ms();
        Uint16 status = STATUS_Success;
        if (!scp_class_accepted(rq.AffectedSOPClassUID)) {
            status = STATUS_STORE_Refused_SOPClassNotSupported;
            unlink(tmp.c_str());
        } else if (rename(tmp.c_str(), path.c_str()) != 0) {
            status = STATUS_STORE_Refused_OutOfResources;
            error = "storing " + path + ": " + strerror(errno);
            unlink(tmp.c_str());
        }
        c = sendSTOREResponse(pc.presentationContextID, rq, status);
        if (status == STATUS_Success && on_store &&
            on_store(user, path.c_str(), getPeerAETitle().c_str(), arrival) != 0)
            stop = true;
        return c;
    }
    OFBool stopAfterConnectionTimeout() override
    {
        if (on_idle && on_idle(user) != 0)
            stop = true;
        return stop;
    }
    OFBool stopAfterCurrentAssociation() override
    {
        if (!stop && on_idle && on_idle(user) != 0)
            stop = true;
        return stop;
    }
};

lumen_status lumen_scp_run(const lumen_scp_options *o, lumen_scp_store_fn on_store,
                           lumen_scp_idle_fn on_idle, void *user, char *err, size_t errlen)
{
    if (!o || !o->aet || !o->store_dir || o->port <= 0 || o->port > 65535)
        return set_err(err, errlen, LUMEN_EINVAL,
                       "listen: aet, port 1..65535 and store_dir needed");
    try {
        dcm_init();
        LumenSCP scp;
        scp.opt = o;
        scp.on_store = on_store;
        scp.on_idle = on_idle;
        scp.user = user;
        DcmSCPConfig &cfg = scp.getConfig();
        cfg.setAETitle(o->aet);
        cfg.setPort((Uint16)o->port);
        cfg.setConnectionBlockingMode(DUL_NOBLOCK);
        cfg.setConnectionTimeout((Uint32)(o->poll_s > 0 ? o->poll_s : 1));
        cfg.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        cfg.setDIMSETimeout((Uint32)(o->timeout_s > 0 ? o->timeout_s : 30));
        cfg.setACSETimeout((Uint32)(o->timeout_s > 0 ? o->timeout_s : 30));
        cfg.setMaxReceivePDULength((Uint32)(o->max_pdu > 0 ? o->max_pdu : 65536));
        cfg.setHostLookupEnabled(OFFalse);
        OFList<OFString> xfers;
        const E_TransferSyntax xs[] = {EXS_LittleEndianExplicit, EXS_LittleEndianImplicit,
                                       EXS_BigEndianExplicit,    EXS_DeflatedLittleEndianExplicit,
                                       EXS_RLELossless,          EXS_JPEGProcess14SV1,
                                       EXS_JPEGProcess14,        EXS_JPEGProcess1,
                                       EXS_JPEGProcess2_4,       EXS_JPEGLSLossless,
                                       EXS_JPEGLSLossy};
        for (E_TransferSyntax x : xs)
            xfers.push_back(DcmXfer(x).getXferID());
        OFCondition c = EC_Normal;
        for (int i = 0; c.good() && scp_storage_classes[i]; i++)
            c = scp.addPresentationContext(scp_storage_classes[i], xfers);
        if (c.good())
            c = scp.setEnableVerification();
        if (c.good())
            c = scp.listen();
        if (!scp.error.empty())
            return set_err(err, errlen, LUMEN_EIO, "listen: %s", scp.error.c_str());
        if (c.bad() && !scp.stop)
            return set_err(err, errlen, LUMEN_EIO, "listen on port %d: %s", o->port, c.text());
        return LUMEN_OK;
    } catch (const std::bad_alloc &) {
        return set_err(err, errlen, LUMEN_ENOMEM, "listen: out of memory");
    } catch (...) {
        return set_err(err, errlen, LUMEN_EIO, "listen: unexpected DCMTK failure");
    }
}

lumen_status lumen_scu_store(const char *path, const char *aet, const char *peer_aet,
                             const char *host, int port, int timeout_s, char *err, size_t errlen)
{
    try {
        dcm_init();
        TempFiles temps;
        DcmFileFormat ff;
        OFCondition c = dcm_load(ff, path, 4096, (size_t)LUMEN_DICOM_MAX_BYTES, temps, NULL);
        if (c.bad())
            return set_err(err, errlen, LUMEN_EIO, "send %s: %s", path, c.text());
        std::string cls = get_str(ff.getDataset(), DCM_SOPClassUID);
        const char *xfer = DcmXfer(ff.getDataset()->getOriginalXfer()).getXferID();
        DcmSCU scu;
        scu.setAETitle(aet);
        scu.setPeerAETitle(peer_aet);
        scu.setPeerHostName(host);
        scu.setPeerPort((Uint16)port);
        scu.setACSETimeout((Uint32)timeout_s);
        scu.setDIMSETimeout((Uint32)timeout_s);
        scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        scu.setConnectionTimeout(timeout_s);
        OFList<OFString> ts;
        ts.push_back(xfer);
        if (strcmp(xfer, UID_LittleEndianExplicitTransferSyntax))
            ts.push_back(UID_LittleEndianExplicitTransferSyntax);
        c = scu.addPresentationContext(cls.c_str(), ts);
        if (c.good())
            c = scu.initNetwork();
        if (c.good())
            c = scu.negotiateAssociation();
        if (c.bad())
            return set_err(err, errlen, LUMEN_EIO, "send to %s@%s:%d: %s", peer_aet, host, port,
                           c.text());
        T_ASC_PresentationContextID pid = scu.findPresentationContextID(cls.c_str(), xfer);
        Uint16 status = 0xffff;
        if (pid == 0)
            c = NET_EC_InvalidSOPClassUID;
        else
            c = scu.sendSTORERequest(pid, path, NULL, status);
        if (c.good())
            scu.releaseAssociation();
        else
            scu.abortAssociation();
        if (c.bad())
            return set_err(err, errlen, LUMEN_EIO, "send %s to %s@%s:%d: %s", path, peer_aet, host,
                           port, c.text());
        if (status != STATUS_Success)
            return set_err(err, errlen, LUMEN_EIO, "send %s to %s: refused with status 0x%04x",
                           path, peer_aet, status);
        return LUMEN_OK;
    } catch (...) {
        return set_err(err, errlen, LUMEN_EIO, "send %s: unexpected DCMTK failure", path);
    }
}
