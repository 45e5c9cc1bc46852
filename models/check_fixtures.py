"""Reloads every seed network's fixture weights into a fresh PyTorch model (strict state_dict
load) and checks that it reproduces the stored outputs exactly enough (atol 1e-5, rtol 1e-5).
Proves the safetensors files, configs and .npy files agree with reference.py.

    nice -n 19 /usr/bin/python3 models/check_fixtures.py
"""

import importlib.util
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fixture_util import load_safetensors  # noqa: E402


def load_module(model, name):
    spec = importlib.util.spec_from_file_location("%s_%s" % (model, name), os.path.join(HERE, model, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.join(HERE, model))
    spec.loader.exec_module(mod)
    sys.path.pop(0)
    return mod


def build(model, cls, prefix, drop=()):
    fx = os.path.join(HERE, model, "fixtures")
    with open(os.path.join(fx, prefix + "_config.json")) as f:
        cfg = json.load(f)
    m = getattr(load_module(model, "reference"), cls)(**{k: v for k, v in cfg.items() if k not in drop})
    sd = load_safetensors(os.path.join(fx, prefix + ".safetensors"))
    missing, unexpected = m.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    return m.eval(), fx, cfg


def npy(fx, name):
    return torch.from_numpy(np.load(os.path.join(fx, name)))


def compare(label, got, want):
    err = (got - want).abs().max().item()
    ok = torch.allclose(got, want, atol=1e-5, rtol=1e-5)
    print("%-32s maxabs=%.2e %s" % (label, err, "OK" if ok else "FAIL"))
    return ok


@torch.no_grad()
def main():
    torch.set_num_threads(1)
    ok = True
    for prefix in ("bilinear_64", "transpose_32"):
        m, fx, _ = build("unet", "UNet", prefix)
        ok &= compare("unet " + prefix, m(npy(fx, prefix + "_input.npy")), npy(fx, prefix + "_logits.npy"))
    m, fx, _ = build("liver25d", "Liver25D", "k5_64")
    ok &= compare("liver25d k5_64", m(npy(fx, "k5_64_input.npy")), npy(fx, "k5_64_logits.npy"))
    m, fx, cfg = build("cmb3d", "CMB3D", "p16x32", drop=("decode",))
    obj, box = m(npy(fx, "p16x32_input.npy"))
    ok &= compare("cmb3d p16x32 objectness", obj, npy(fx, "p16x32_objectness.npy"))
    ok &= compare("cmb3d p16x32 box", box, npy(fx, "p16x32_box.npy"))
    det = load_module("cmb3d", "decode").decode(obj[0].numpy(), box[0].numpy(), **cfg["decode"])
    ok &= compare("cmb3d p16x32 detections", torch.from_numpy(det.astype(np.float32)),
                  npy(fx, "p16x32_detections.npy"))
    m, fx, cfg = build("brats3d", "BraTS3D", "w4", drop=("tile", "overlap", "tiles"))
    ok &= compare("brats3d w4 16x32", m(npy(fx, "w4_16x32_input.npy")), npy(fx, "w4_16x32_logits.npy"))
    tiled = load_module("brats3d", "tiled")
    yt, order = tiled.tiled_inference(m, npy(fx, "w4_24x40_input.npy"), tuple(cfg["tile"]), cfg["overlap"])
    assert [list(t) for t in order] == cfg["tiles"]
    ok &= compare("brats3d w4 24x40 tiled", yt, npy(fx, "w4_24x40_tiled_logits.npy"))
    # A voxel covered by one tile only (the corner) must equal that tile's own output.
    corner = m(npy(fx, "w4_24x40_input.npy")[:, :, :16, :32, :32])[:, :, :8, :8, :8]
    ok &= compare("brats3d tiled corner == tile", yt[:, :, :8, :8, :8], corner)
    print("all OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
