#!/usr/bin/env python3
"""orthanc_roundtrip.py LUMEN - `lumen listen` behind a real PACS (Debian's Orthanc).

Starts Orthanc itself (throw-away config and storage folder, loopback ports, no system service)
with lumen registered as a modality, and `lumen listen --forward ORTHANC@127.0.0.1:PORT`. Uploads
a synthetic XA series (examples/make_dicom.py: a 2-frame instance and a single-frame one) over
Orthanc's REST API, asks Orthanc to send the series to lumen (C-STORE), waits for lumen's SR to
arrive back in Orthanc, and checks through the REST API that the SR references every source
instance. Also: lumen refuses a SOP class it does not read, and stops cleanly on SIGTERM with
the report written. Every wait is bounded; Orthanc and lumen are stopped whatever happens.
One line per check.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
checks = {"pass": 0, "fail": 0}


def check(desc, ok, detail=""):
    print("%-4s %s%s" % ("OK" if ok else "FAIL", desc, (" (%s)" % detail) if detail else ""))
    sys.stdout.flush()
    checks["pass" if ok else "fail"] += 1
    return ok


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rest(base, path, data=None, method=None):
    req = urllib.request.Request(base + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else None


def wait_for(what, fn, timeout):
    """Polls fn() until it returns a true value or timeout seconds pass."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            v = fn()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.5)
    print("     | timed out after %d s waiting for %s" % (timeout, what))
    return None


def stop(proc, name):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print("     | %s ignored SIGTERM for 60 s: killed" % name)
            proc.kill()
            proc.wait()


def main():
    lumen = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="lumen-orthanc-")
    orthanc = listen = None
    try:
        http, dport, lport = free_port(), free_port(), free_port()
        cfg = {
            "Name": "lumen-test", "StorageDirectory": tmp + "/db", "IndexDirectory": tmp + "/db",
            "HttpPort": http, "DicomPort": dport, "DicomAet": "ORTHANC",
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "HttpServerEnabled": True,
            "DicomServerEnabled": True, "Plugins": [], "StableAge": 2,
            "DicomScuTimeout": 60, "DicomModalities": {"lumen": ["LUMEN", "127.0.0.1", lport]},
        }
        with open(tmp + "/orthanc.json", "w") as f:
            json.dump(cfg, f)
        olog = open(tmp + "/orthanc.log", "w")
        orthanc = subprocess.Popen(["Orthanc", tmp + "/orthanc.json"], stdout=olog, stderr=olog)
        base = "http://127.0.0.1:%d" % http
        up = wait_for("Orthanc", lambda: rest(base, "/system"), 60)
        if not check("Orthanc started on loopback (REST %d, DICOM %d)" % (http, dport), up):
            print(open(tmp + "/orthanc.log").read()[-3000:])
            return 1

        out = tmp + "/out"
        llog = open(tmp + "/listen.log", "w")
        env = dict(os.environ, CI="true")
        listen = subprocess.Popen([lumen, "listen", "--aet", "LUMEN", "--port", str(lport),
                                   "--out", out, "--forward", "ORTHANC@127.0.0.1:%d" % dport,
                                   "--stable-age", "3", "--size", "256"],
                                  stdout=llog, stderr=subprocess.STDOUT, env=env)
        ok = wait_for("lumen listen", lambda: listen.poll() is None and
                      "listen: LUMEN on port" in open(tmp + "/listen.log").read(), 120)
        if not check("lumen listen started (model loaded)", ok):
            print(open(tmp + "/listen.log").read()[-3000:])
            return 1

        # a synthetic XA series: one 2-frame instance, one 1-frame instance (same series)
        src = tmp + "/src"
        py = "/usr/bin/python3"
        gen = [py, ROOT + "/examples/make_dicom.py", "--out", src, "--size", "256",
               "--series-uid", "1.2.826.0.1.3680043.8.498.77.1", "--study-uid",
               "1.2.826.0.1.3680043.8.498.77"]
        subprocess.run(gen + ["--name", "run1", "--classes", "0,1"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(gen + ["--name", "run2", "--classes", "3", "--per-frame", "--seed", "2"],
                       check=True, stdout=subprocess.DEVNULL)
        files = sorted(os.path.join(src, n) for n in os.listdir(src))
        sops = []
        for p in files:
            r = rest(base, "/instances", data=open(p, "rb").read(), method="POST")
            sops.append(rest(base, "/instances/%s/tags?simplify" % r["ID"])["SOPInstanceUID"])
            series_id = r["ParentSeries"]
        check("uploaded %d instances over REST" % len(files), len(sops) == 2, ", ".join(sops))

        t_send = time.time()
        rest(base, "/modalities/lumen/store", data=series_id.encode(), method="POST")
        check("Orthanc sent the series to lumen (C-STORE)", True)

        def sr_back():
            for s in rest(base, "/series?expand"):
                if s["MainDicomTags"].get("Modality") == "SR":
                    return s
            return None
        sr = wait_for("the SR back in Orthanc", sr_back, 240)
        check("the SR came back to Orthanc (%.1f s after the send)" % (time.time() - t_send), sr)
        if sr:
            inst = sr["Instances"][0]
            tags = rest(base, "/instances/%s/tags?simplify" % inst)
            refs = set()
            for st in tags.get("CurrentRequestedProcedureEvidenceSequence", []):
                for se in st.get("ReferencedSeriesSequence", []):
                    for r in se.get("ReferencedSOPSequence", []):
                        refs.add(r.get("ReferencedSOPInstanceUID"))
            check("the SR references every source instance", set(sops) <= refs,
                  "%d of %d" % (len(set(sops) & refs), len(sops)))
            check("the SR joined the source study", tags.get("StudyInstanceUID") ==
                  "1.2.826.0.1.3680043.8.498.77")
            content = json.dumps(tags.get("ContentSequence", []))
            check("the SR holds a verdict and 3 frame results",
                  "Series verdict" in content and content.count("Frame result") == 3)

        # a SOP class lumen does not read: refused in negotiation
        r = subprocess.run(["storescu", "-aec", "LUMEN", "127.0.0.1", str(lport),
                            out + "/sr/" + os.listdir(out + "/sr")[0]] if os.path.isdir(out + "/sr")
                           else ["false"], capture_output=True, text=True, timeout=60)
        check("an SR sent to lumen is refused (no presentation context)",
              r.returncode != 0 or "No presentation context" in r.stderr, r.stderr.strip()[:120])

        listen.send_signal(signal.SIGTERM)
        try:
            rc = listen.wait(timeout=120)
        except subprocess.TimeoutExpired:
            rc = None
        log = open(tmp + "/listen.log").read()
        check("lumen listen stops on SIGTERM with exit 0", rc == 0, "exit %s" % rc)
        check("summary: 2 instances, 3 frames, 1 SR forwarded",
              "listen: 2 instances, 3 frames (3 ok, 0 failed), 1 series, 1 SR written, 1 forwarded" in log)
        lat = [l for l in log.splitlines() if l.startswith("arrival to record:")]
        check("per-frame latency reported", lat, lat[0] if lat else "")
        recs = [json.loads(l) for l in open(out + "/report.jsonl")]
        check("report.jsonl has the 3 frames with arrival_to_record",
              len(recs) == 3 and all("arrival_to_record" in r.get("ms", {}) for r in recs))
        if checks["fail"]:
            print(log[-3000:])
    finally:
        stop(listen, "lumen listen")
        stop(orthanc, "Orthanc")
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (checks["pass"], checks["fail"]))
    return 1 if checks["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
