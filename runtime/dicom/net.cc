/*
 * net.cc - the DICOM network (the DICOM shim, see shim.h): a C-STORE SCP with a C callback per
 * received instance, and a C-STORE SCU to forward results.
 */
#include "shim.h"

using lumen_dcm::copy_str;
using lumen_dcm::get_str;
using lumen_dcm::TempFiles;

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
        return lumen__errfn(err, errlen, LUMEN_EINVAL,
                            "listen: aet, port 1..65535 and store_dir needed");
    try {
        lumen_dcm::init();
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
            return lumen__errfn(err, errlen, LUMEN_EIO, "listen: %s", scp.error.c_str());
        if (c.bad() && !scp.stop)
            return lumen__errfn(err, errlen, LUMEN_EIO, "listen on port %d: %s", o->port, c.text());
        return LUMEN_OK;
    } catch (const std::bad_alloc &) {
        return lumen__errfn(err, errlen, LUMEN_ENOMEM, "listen: out of memory");
    } catch (...) {
        return lumen__errfn(err, errlen, LUMEN_EIO, "listen: unexpected DCMTK failure");
    }
}

lumen_status lumen_scu_store(const char *path, const char *aet, const char *peer_aet,
                             const char *host, int port, int timeout_s, char *err, size_t errlen)
{
    try {
        lumen_dcm::init();
        TempFiles temps;
        DcmFileFormat ff;
        OFCondition c = lumen_dcm::load(ff, path, 4096, (size_t)LUMEN_DICOM_MAX_BYTES, temps, NULL);
        if (c.bad())
            return lumen__errfn(err, errlen, LUMEN_EIO, "send %s: %s", path, c.text());
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
            return lumen__errfn(err, errlen, LUMEN_EIO, "send to %s@%s:%d: %s", peer_aet, host,
                                port, c.text());
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
            return lumen__errfn(err, errlen, LUMEN_EIO, "send %s to %s@%s:%d: %s", path, peer_aet,
                                host, port, c.text());
        if (status != STATUS_Success)
            return lumen__errfn(err, errlen, LUMEN_EIO, "send %s to %s: refused with status 0x%04x",
                                path, peer_aet, status);
        return LUMEN_OK;
    } catch (...) {
        return lumen__errfn(err, errlen, LUMEN_EIO, "send %s: unexpected DCMTK failure", path);
    }
}
