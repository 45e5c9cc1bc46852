/*
 * shim.h - what the C++ files of lumen's DICOM shim share (runtime/dicom/: common.cc, read.cc,
 * sr.cc, net.cc). They are one shim: a C API over DCMTK (Debian libdcmtk-dev), declared in
 * lumen_dicom.h, for reading DICOM images (read.cc), writing a Comprehensive SR per series (sr.cc),
 * and the network (net.cc: a C-STORE SCP with a C callback per received instance, and a C-STORE
 * SCU to forward results). Nothing else in lumen sees C++.
 *
 * Rules of these files (design.md decision 13):
 * - Nothing is thrown across the C API: every entry point that can allocate wraps its body in
 *   try/catch, turning std::bad_alloc into LUMEN_ENOMEM and anything else into LUMEN_EFORMAT.
 * - Every DCMTK call that returns an OFCondition is checked; its text ends up in the message.
 * - Limits (side, frame count, total pixel bytes) are checked from the header attributes before
 *   any frame buffer is allocated; large element values stay on disk until a frame is read
 *   (DCMTK's lazy loading), so opening a 2 GB series costs a few kilobytes. Files are loaded
 *   through lumen_dcm::load (common.cc), which also inflates deflated data sets itself.
 *
 * DCMTK has process-wide state we cannot avoid: the codec registry (RLE, JPEG, JPEG-LS decoders,
 * registered once with pthread_once) and its logger (set to errors only, once, so a hostile
 * file does not flood stderr; our messages carry what matters).
 */
#ifndef LUMEN_DICOM_SHIM_H
#define LUMEN_DICOM_SHIM_H

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

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <new>
#include <string>
#include <vector>

extern "C" {
#include "lumen_dicom.h"

/* Writes the message to err (when given) and returns st (runtime/status.c, see internal.h). */
lumen_status lumen__errfn(char *err, size_t errlen, lumen_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
}

namespace lumen_dcm
{

/* Registers the codecs and quiets DCMTK's logger, once per process. */
void init(void);

/* snprintf(dst, cap, "%s", src or ""). */
void copy_str(char *dst, size_t cap, const char *src);

/* A string attribute of item, "" when absent or empty. */
std::string get_str(DcmItem *item, const DcmTagKey &tag);

/* Removes its files when it goes out of scope (after the DcmFileFormat that reads them). */
struct TempFiles {
    std::vector<std::string> paths;
    ~TempFiles();
};

/* ff.loadFile with values over maxread left on disk, for every transfer syntax. A deflated data
 * set is inflated first (at most cap bytes, into a file that 'temps' removes); *xfer is set to
 * the file's own transfer syntax when DCMTK reads such a copy (EXS_Unknown otherwise). */
OFCondition load(DcmFileFormat &ff, const char *path, Uint32 maxread, size_t cap, TempFiles &temps,
                 E_TransferSyntax *xfer);

} // namespace lumen_dcm

#endif
