/*
 * common.cc - the DICOM shim's shared helpers (see shim.h), and loading: DCMTK keeps large
 * values on disk only when it can re-read them, so deflated data sets are inflated here first.
 */
#include "shim.h"

#include <zlib.h>

namespace lumen_dcm
{

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
    OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
    /* DCMTK's own loggers are noisy at WARN for hostile input; errors reach us as conditions */
    OFLog::getLogger("dcmtk").setLogLevel(OFLogger::FATAL_LOG_LEVEL);
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
}

void init(void)
{
    pthread_once(&once, init_once);
}

void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

std::string get_str(DcmItem *item, const DcmTagKey &tag)
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

TempFiles::~TempFiles()
{
    for (const std::string &p : paths)
        unlink(p.c_str());
}

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

OFCondition load(DcmFileFormat &ff, const char *path, Uint32 maxread, size_t cap, TempFiles &temps,
                 E_TransferSyntax *xfer)
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

} // namespace lumen_dcm
