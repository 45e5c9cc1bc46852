"""OpenCV DNN latency on an ONNX file (Debian python3-opencv), for bench/compare.sh.

    /usr/bin/python3 cv_bench.py MODEL.onnx --shape 1,1,512,512 --target cpu|opencl
        [--runs 20] [--warmup 3] [--threads 2]

cv2.dnn.readNetFromONNX, backend DNN_BACKEND_OPENCV, target DNN_TARGET_CPU or DNN_TARGET_OPENCL
(OPENCV_OPENCL_DEVICE defaults to ':CPU:' here so that PoCL's CPU device may be used; OpenCV
falls back to the CPU silently when it finds no usable OpenCL device: the report says
whether OpenCL was in use). When OpenCV cannot import or run the model, the JSON line carries
its error instead of timings.
"""

import argparse
import re
import os
import sys
import time

# OpenCV only takes a GPU for its OpenCL target unless told otherwise; on a CPU-only machine the
# OpenCL device is PoCL's CPU device, which it then needs to be allowed to use.
if "--target" in sys.argv and "opencl" in sys.argv and "OPENCV_OPENCL_DEVICE" not in os.environ:
    os.environ["OPENCV_OPENCL_DEVICE"] = ":CPU:"
    # and its DNN module refuses non-GPU OpenCL devices ("tested with GPUs only") without this
    os.environ.setdefault("OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES", "1")
import cv2  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_util import input_data, report, time_runs  # noqa: E402


def short_error(e):
    """OpenCV's exception text spans many lines ('> > ...'): keep the node and the reason."""
    lines = [ln.strip("> ").strip() for ln in str(e).splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("OpenCV(")]
    text = " ".join(lines)
    # drop the nested "OpenCV(4.6.0) file:line: error: (...) in function '...'" prefixes
    text = re.sub(r"OpenCV\([^)]*\) \S+ error: \([^)]*\) in function '[^']*'\s*", "", text)
    return text[:300]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--shape", required=True)
    ap.add_argument("--target", choices=["cpu", "opencl"], default="cpu")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=60,
                    help="stop timing after this long (at least 1 run): OpenCV's OpenCL target on "
                         "a CPU device can take tens of seconds per frame")
    a = ap.parse_args()
    peer = "opencv-dnn-" + a.target
    cv2.setNumThreads(a.threads)
    extra = dict(version=cv2.__version__, threads=cv2.getNumThreads())
    if a.target == "opencl":
        cv2.ocl.setUseOpenCL(True)
        extra["opencl_available"] = bool(cv2.ocl.haveOpenCL())
        extra["opencl_in_use"] = bool(cv2.ocl.useOpenCL())
        if extra["opencl_in_use"]:
            extra["opencl_device"] = cv2.ocl.Device.getDefault().name()
    shape = [int(s) for s in a.shape.split(",")]
    x = input_data(shape)
    t0 = time.perf_counter()
    try:
        net = cv2.dnn.readNetFromONNX(a.model)
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_OPENCL if a.target == "opencl"
                                else cv2.dnn.DNN_TARGET_CPU)
    except cv2.error as e:
        report(peer, error="cannot import the model: " + short_error(e), **extra)
        return 1
    load_ms = (time.perf_counter() - t0) * 1e3
    outs = net.getUnconnectedOutLayersNames()

    def run():
        net.setInput(x)
        return net.forward(outs)

    try:
        t1 = time.perf_counter()
        run()
        first_ms = (time.perf_counter() - t1) * 1e3
        times = time_runs(run, a.warmup, a.runs, a.max_seconds)
    except cv2.error as e:
        report(peer, error="cannot run the model: " + short_error(e), **extra)
        return 1
    report(peer, times, load_ms=load_ms, first_ms=first_ms, **extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
