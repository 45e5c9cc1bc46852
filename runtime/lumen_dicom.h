/*
 * lumen_dicom.h - lumen's DICOM API: reading images, one Structured Report per series, and the
 * network (a C-STORE SCP and SCU). A C API over DCMTK, implemented in runtime/dicom/ (the only
 * C++ in lumen); the rest of lumen.h's conventions hold (errors as values, err/errlen messages,
 * nothing aborts).
 */
#ifndef LUMEN_DICOM_H
#define LUMEN_DICOM_H

#include "lumen.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- DICOM (runtime/dicom/, a C API over DCMTK; the only C++ in lumen) ----
 *
 *     lumen_dicom *d;
 *     if (lumen_dicom_open("xa.dcm", NULL, &d, err, sizeof err) != LUMEN_OK) ...
 *     const lumen_dicom_info *in = lumen_dicom_get_info(d);
 *     for (int f = 0; f < in->frames; f++) {
 *         lumen_image img;
 *         if (lumen_dicom_read_frame(d, f, &img, err, sizeof err) == LUMEN_OK) ...
 *         lumen_image_free(&img);
 *     }
 *     lumen_dicom_free(d);
 *
 * Files are recognised by content (the 'DICM' preamble, or a dataset without one), never by
 * extension. Transfer syntaxes: uncompressed (implicit/explicit little, explicit big endian),
 * deflate, RLE, JPEG baseline/extended/lossless, JPEG-LS; anything else (JPEG 2000, ...) is
 * LUMEN_EUNSUPPORTED with a message naming the syntax. Photometric: MONOCHROME1 (inverted on
 * reading), MONOCHROME2, RGB, YBR_FULL(_422). 8 or 16 bits allocated, any Bits Stored, signed or
 * unsigned, Rescale Slope/Intercept applied. A lumen_dicom is used by one thread at a time. */

#define LUMEN_DICOM_MAX_SIDE 8192                /* default: pixels per side of a frame */
#define LUMEN_DICOM_MAX_FRAMES 10000             /* default: frames in one file */
#define LUMEN_DICOM_MAX_BYTES ((int64_t)2 << 30) /* default: uncompressed pixel bytes a file */

typedef struct lumen_dicom lumen_dicom;

typedef struct lumen_dicom_limits {
    int max_side;       /* 0: LUMEN_DICOM_MAX_SIDE */
    int64_t max_frames; /* 0: LUMEN_DICOM_MAX_FRAMES */
    int64_t max_bytes;  /* 0: LUMEN_DICOM_MAX_BYTES */
} lumen_dicom_limits;

/* What a file says about itself; strings are "" when the attribute is absent. */
typedef struct lumen_dicom_info {
    int has_pixels;            /* 0: no Pixel Data (an SR, a DICOMDIR, ...) */
    int width, height, frames; /* frames: Number of Frames, 1 when absent */
    int samples;               /* 1 (monochrome) or 3 (colour) */
    int bits_allocated, bits_stored, high_bit, is_signed;
    double rescale_slope, rescale_intercept; /* 1 and 0 when absent */
    char photometric[32];
    char transfer_syntax[72], transfer_syntax_name[96]; /* UID and DCMTK's name for it */
    char sop_class_uid[72], sop_instance_uid[72];
    char study_instance_uid[72], series_instance_uid[72];
    char modality[20], series_number[16], instance_number[16];
    char acquisition_datetime[40];          /* Acquisition DateTime, else Acquisition Date + Time */
    char patient_id[72], patient_name[200]; /* PHI: never written to reports by lumen itself */
} lumen_dicom_info;

/* 1 when the file's content is DICOM (preamble, or a bare dataset starting with group 0002 or
 * 0008), 0 when it is not, -1 when it cannot be read (errno set). Reads at most 132 bytes. */
int lumen_dicom_probe(const char *path);
/* Opens a DICOM file: parses the dataset (pixel data stays on disk until a frame is read) and
 * checks the image layout and the limits (lim may be NULL) before any pixel memory exists.
 * On failure *out is NULL and err names the file and the problem: LUMEN_EIO (unreadable),
 * LUMEN_EFORMAT (not DICOM, inconsistent attributes), LUMEN_EUNSUPPORTED (transfer syntax,
 * photometric, bit depth), LUMEN_ERANGE (a limit). A file without pixel data opens (has_pixels
 * is 0); reading a frame from it fails. */
lumen_status lumen_dicom_open(const char *path, const lumen_dicom_limits *lim, lumen_dicom **out,
                              char *err, size_t errlen);
/* The same from memory (the fuzz target's entry point), through a temporary file in $TMPDIR
 * (or /tmp) that lives as long as the object. */
lumen_status lumen_dicom_open_buffer(const void *data, size_t len, const lumen_dicom_limits *lim,
                                     lumen_dicom **out, char *err, size_t errlen);
/* The object's attributes; valid until lumen_dicom_free. Never NULL for an open object. */
const lumen_dicom_info *lumen_dicom_get_info(const lumen_dicom *d);
/* Decodes frame (0-based) into a new host image: samples x height x width floats of modality
 * values (see runtime/dicom/read.cc); out->data is owned by the caller (lumen_image_free). Frames
 * read in increasing order are fastest for multi-fragment compressed data. */
lumen_status lumen_dicom_read_frame(lumen_dicom *d, int frame, lumen_image *out, char *err,
                                    size_t errlen);
void lumen_dicom_free(lumen_dicom *d);

/* ---- DICOM Structured Report, one per series (runtime/dicom/sr.cc, DCMTK dcmsr) ----
 * A Comprehensive SR naming the series verdict, each frame's class, probabilities and flags
 * (or its error), each referencing its source instance and frame, the model's name, version
 * and weights hash, and lumen as the observer device. Patient and study attributes are copied
 * from source_path, so the SR joins the source study. */
typedef struct lumen_sr lumen_sr;

typedef struct lumen_sr_info {
    const char *source_path; /* required: a source instance of the series */
    const char *verdict;     /* required: "keep" or "repeat" */
    const char *reasons;     /* may be NULL */
    const char *title;       /* NULL: "Angiography QC report" */
    const char *model_name, *model_version, *model_sha256; /* may be NULL */
    const char *lumen_version;                             /* NULL: LUMEN_VERSION */
    const char *series_description;                        /* NULL: "lumen QC" */
    int series_number;                                     /* 0: 9901 */
    const char *observer_uid; /* Device Observer UID; NULL: one derived from the host name */
} lumen_sr_info;

typedef struct lumen_sr_frame {
    const char *sop_class_uid, *sop_instance_uid, *series_instance_uid, *study_instance_uid;
    int frame;              /* 1-based Referenced Frame Number */
    const char *class_name; /* the frame's class (NULL when error is set) */
    const char *error;      /* NULL, or why the frame has no result */
    double score;
    int n_probs;
    const char *const *prob_names; /* class names, n_probs of them */
    const double *probs;
    int n_flags;
    const char *const *flags;
} lumen_sr_frame;

/* A new report (strings are copied). LUMEN_EINVAL without source_path or verdict. */
lumen_status lumen_sr_new(const lumen_sr_info *info, lumen_sr **out, char *err, size_t errlen);
/* Adds one frame's result (copied). LUMEN_EINVAL when a UID or the frame number is missing. */
lumen_status lumen_sr_add_frame(lumen_sr *sr, const lumen_sr_frame *f, char *err, size_t errlen);
/* Writes the SR to path atomically (path.tmp, then rename), explicit VR little endian; its new
 * SOP Instance UID goes to sop_uid (may be NULL). */
lumen_status lumen_sr_write(lumen_sr *sr, const char *path, char *sop_uid, size_t uid_len,
                            char *err, size_t errlen);
void lumen_sr_free(lumen_sr *sr);

/* ---- DICOM network (runtime/dicom/net.cc, DCMTK dcmnet) ----
 * lumen_scp_run serves C-STORE (and C-ECHO) for the image storage classes lumen reads (XA,
 * enhanced XA, XRF, DX, CR, SC and multi-frame SC); other SOP classes are refused in
 * negotiation, or with status 0x0122 in a C-STORE. Each instance is stored as
 * store_dir/<SOPInstanceUID>.dcm before it is acknowledged, then on_store(user, path,
 * calling_aet, arrival_ms) runs (arrival_ms: CLOCK_MONOTONIC when the dataset was received).
 * Without an association, on_idle(user) runs every poll_s seconds. A callback returning
 * non-zero ends the loop after the current association; lumen_scp_run then returns LUMEN_OK.
 * One association at a time (others wait in the listen backlog). */
typedef struct lumen_scp_options {
    const char *aet;       /* our AE title */
    int port;              /* TCP port */
    const char *store_dir; /* existing folder for received instances */
    int timeout_s;         /* ACSE and DIMSE timeouts; 0: 30 */
    int poll_s;            /* on_idle period; 0: 1 */
    int max_pdu;           /* bytes; 0: 65536 */
} lumen_scp_options;
typedef int (*lumen_scp_store_fn)(void *user, const char *path, const char *calling_aet,
                                  double arrival_ms);
typedef int (*lumen_scp_idle_fn)(void *user);
lumen_status lumen_scp_run(const lumen_scp_options *o, lumen_scp_store_fn on_store,
                           lumen_scp_idle_fn on_idle, void *user, char *err, size_t errlen);
/* Sends one DICOM file with C-STORE (its own transfer syntax, else explicit little endian).
 * LUMEN_EIO names the peer and the DIMSE status or network error. */
lumen_status lumen_scu_store(const char *path, const char *aet, const char *peer_aet,
                             const char *host, int port, int timeout_s, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
