"""Writes the ONNX files (and weights) the peer comparison runs on, into bench/models/.

    nice -n 19 /usr/bin/python3 bench/peers/export_models.py [--size-angio 512] [--size-unet 256]

  angio_qa_<S>.onnx        shipped weights (models/angio_qa/angio_qa.safetensors), input `image`
                           [1,1,S,S], outputs seg_logit, cls_logit (models/angio_qa/export.py)
  unet_<S>.onnx            the seed U-Net at its defaults (widths 64-128-256-512-512, bilinear),
  unet_random.safetensors  with seeded random weights (no weights are shipped); input `x`
                           [1,1,S,S], output `logits`. The safetensors file carries the same
                           weights for lumen's Lua definition and for torch_bench.py.

Always Debian's python3-torch (/usr/bin/python3). Files are only rewritten when missing or when
--force is given, so compare.sh can call this every time.
"""

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "bench", "models")
UNET_SEED = 7


def seeded_eval(make, seed):
    """make() after torch.manual_seed(seed) (the modules' own initialisers), with BatchNorm running
    statistics drawn from fixed distributions so that folding them is not a no-op; in eval mode.
    Also used by export_torchvision.py."""
    torch.manual_seed(seed)
    m = make()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    return m.eval()


def unet_model():
    """The default U-Net with seeded random weights (and BN statistics), in eval mode."""
    sys.path.insert(0, os.path.join(ROOT, "models", "unet"))
    sys.path.insert(0, os.path.join(ROOT, "models"))
    from reference import UNet  # noqa: E402
    m = seeded_eval(UNet, UNET_SEED)
    sys.path.pop(0)
    sys.path.pop(0)
    sys.modules.pop("reference", None)
    return m


def export_unet(size, force):
    path = os.path.join(OUT, "unet_%d.onnx" % size)
    st = os.path.join(OUT, "unet_random.safetensors")
    if os.path.exists(path) and os.path.exists(st) and not force:
        print("exists: %s" % path)
        return
    m = unet_model()
    sys.path.insert(0, os.path.join(ROOT, "models"))
    from fixture_util import export_state, save_safetensors  # noqa: E402
    save_safetensors(st, export_state(m), {"model": "unet random seed %d" % UNET_SEED})
    torch.onnx.export(m, torch.zeros(1, 1, size, size), path, opset_version=17,
                      input_names=["x"], output_names=["logits"], do_constant_folding=True)
    print("wrote %s and %s" % (path, st))


def export_angio(size, force):
    path = os.path.join(OUT, "angio_qa_%d.onnx" % size)
    if os.path.exists(path) and not force:
        print("exists: %s" % path)
        return
    sys.path.insert(0, os.path.join(ROOT, "models", "angio_qa"))
    import export  # noqa: E402  (models/angio_qa/export.py)
    from safetensors_io import load_model  # noqa: E402
    model, _ = load_model(os.path.join(ROOT, "models", "angio_qa", "angio_qa.safetensors"))
    export.export_onnx(model, size, path)
    sys.path.pop(0)
    for k in ("reference", "export", "safetensors_io", "synth"):
        sys.modules.pop(k, None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-angio", type=int, action="append")
    ap.add_argument("--size-unet", type=int, action="append")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    for s in a.size_angio or [512]:
        export_angio(s, a.force)
    for s in a.size_unet or [256]:
        export_unet(s, a.force)


if __name__ == "__main__":
    main()
