"""PyTorch eager CPU (or CUDA, --device cuda) latency of the models in models/, for
bench/compare.sh and bench/device_check.sh.

    /usr/bin/python3 torch_bench.py --model angio_qa --size 512 [--weights W] [--runs 20]
        [--warmup 3] [--threads 2] [--batch 1]

Debian's python3-torch (with libopenblas0-pthread), torch.set_num_threads(threads), eval mode,
torch.inference_mode(). Weights: angio_qa's shipped safetensors (or --weights), the U-Net's
seeded random weights from bench/models/unet_random.safetensors (export_models.py). Prints one
JSON line (peer_util.report).
"""

import argparse
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from peer_util import input_data, report, time_runs  # noqa: E402


def load(name, weights):
    if name == "angio_qa":
        sys.path.insert(0, os.path.join(ROOT, "models", "angio_qa"))
        from safetensors_io import load_model
        model, _ = load_model(weights or os.path.join(ROOT, "models", "angio_qa", "angio_qa.safetensors"))
        return model
    if name == "unet":
        sys.path.insert(0, os.path.join(ROOT, "models", "unet"))
        sys.path.insert(0, os.path.join(ROOT, "models"))
        from reference import UNet
        from fixture_util import load_safetensors
        model = UNet()
        sd = load_safetensors(weights or os.path.join(ROOT, "bench", "models", "unet_random.safetensors"))
        model.load_state_dict(sd, strict=False)
        return model
    raise SystemExit("torch_bench: unknown model '%s'" % name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--weights")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (bench/device_check.sh)")
    a = ap.parse_args()
    peer = "pytorch-eager-" + a.device
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    try:
        model = load(a.model, a.weights).eval()
    except Exception as e:  # report, don't crash the comparison
        report(peer, error="%s: %s" % (type(e).__name__, e))
        return 1
    load_ms = (time.perf_counter() - t0) * 1e3
    x = torch.from_numpy(input_data((a.batch, 1, a.size, a.size)))
    model, x = model.to(a.device), x.to(a.device)

    def once():  # on CUDA the launch returns early: wait for the result, as lumen's run() does
        y = model(x)
        if a.device == "cuda":
            torch.cuda.synchronize()
        return y

    with torch.inference_mode():
        t1 = time.perf_counter()
        once()
        first_ms = (time.perf_counter() - t1) * 1e3
        times = time_runs(once, a.warmup, a.runs)
    report(peer, times, version=torch.__version__, threads=torch.get_num_threads(),
           load_ms=load_ms, first_ms=first_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
