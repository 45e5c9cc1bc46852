/*
 * sr.cc - one DICOM Comprehensive SR per series (the DICOM shim, see shim.h).
 */
#include "shim.h"

#include <openssl/evp.h>

using lumen_dcm::copy_str;
using lumen_dcm::get_str;
using lumen_dcm::TempFiles;

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
        return lumen__errfn(err, errlen, LUMEN_EINVAL, "SR: source_path and verdict are required");
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
        return lumen__errfn(err, errlen, LUMEN_ENOMEM, "SR: out of memory");
    }
}

lumen_status lumen_sr_add_frame(lumen_sr *sr, const lumen_sr_frame *f, char *err, size_t errlen)
{
    if (!f || !f->sop_class_uid || !f->sop_instance_uid || !f->series_instance_uid ||
        !f->study_instance_uid || f->frame < 1)
        return lumen__errfn(
            err, errlen, LUMEN_EINVAL,
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
        return lumen__errfn(err, errlen, LUMEN_ENOMEM, "SR: out of memory");
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
        lumen_dcm::init();
        TempFiles temps;
        DcmFileFormat src;
        OFCondition c = lumen_dcm::load(src, sr->source.c_str(), 256, (size_t)LUMEN_DICOM_MAX_BYTES,
                                        temps, NULL);
        if (c.bad())
            return lumen__errfn(err, errlen, LUMEN_EIO, "SR: reading %s: %s", sr->source.c_str(),
                                c.text());
        DSRDocument doc(DSRTypes::DT_ComprehensiveSR);
        DcmDataset *sds = src.getDataset();
        std::string study = get_str(sds, DCM_StudyInstanceUID);
        if (study.empty())
            return lumen__errfn(err, errlen, LUMEN_EFORMAT, "SR: %s has no Study Instance UID",
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
            return lumen__errfn(err, errlen, LUMEN_EFORMAT, "SR: %s: %s", step, c.text());
        std::string tmp = std::string(path) + ".tmp";
        c = out.saveFile(tmp.c_str(), EXS_LittleEndianExplicit);
        if (c.bad() || rename(tmp.c_str(), path) != 0) {
            unlink(tmp.c_str());
            return lumen__errfn(err, errlen, LUMEN_EIO, "SR: writing %s: %s", path,
                                c.bad() ? c.text() : strerror(errno));
        }
        if (sop_uid && uid_len) {
            OFString u;
            doc.getSOPInstanceUID(u);
            copy_str(sop_uid, uid_len, u.c_str());
        }
        return LUMEN_OK;
    } catch (const std::bad_alloc &) {
        return lumen__errfn(err, errlen, LUMEN_ENOMEM, "SR: out of memory");
    } catch (...) {
        return lumen__errfn(err, errlen, LUMEN_EFORMAT, "SR: unexpected DCMTK failure");
    }
}
