"""Regenerates models/cmb3d/fixtures (random weights, parity only).

    cd models/cmb3d && nice -n 19 /usr/bin/python3 gen_fixtures.py
"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from decode import DEFAULTS, decode  # noqa: E402
from fixture_util import count_params, generate, save_npy  # noqa: E402
from reference import CMB3D  # noqa: E402

OUT = os.path.join(HERE, "fixtures")

CASES = [
    # prefix, seed, constructor arguments (the defaults), input shape
    ("p16x32", 4, dict(in_ch=2, widths=[8, 16, 32], fuse=16, head_ch=16, up_mode="trilinear"), (1, 2, 16, 32, 32)),
]


def save_outputs(prefix, model, y):
    obj, box = y
    save_npy(os.path.join(OUT, prefix + "_objectness.npy"), obj.numpy())
    save_npy(os.path.join(OUT, prefix + "_box.npy"), box.numpy())
    det = decode(obj[0].numpy(), box[0].numpy(), **DEFAULTS)
    save_npy(os.path.join(OUT, prefix + "_detections.npy"), det)
    n_cand = int((torch.sigmoid(obj) >= DEFAULTS["score_thresh"]).sum())
    print("%s: %d params, obj %s |max| %.3f, box %s |max| %.3f, %d candidates, %d detections"
          % (prefix, count_params(model), tuple(obj.shape), obj.abs().max(), tuple(box.shape),
             box.abs().max(), n_cand, det.shape[0]))


def main():
    generate(OUT, "cmb3d", CMB3D, CASES, save_outputs, calib_batch=2,
             config_json=lambda cfg: dict(cfg, decode=DEFAULTS))


if __name__ == "__main__":
    main()
