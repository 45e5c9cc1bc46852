"""Regenerates models/unet/fixtures (random weights, parity only).

    cd models/unet && nice -n 19 /usr/bin/python3 gen_fixtures.py
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from fixture_util import count_params, generate, save_npy  # noqa: E402
from reference import UNet  # noqa: E402

OUT = os.path.join(HERE, "fixtures")

CASES = [
    # prefix, seed, constructor arguments, input shape
    ("bilinear_64", 1, dict(in_ch=1, n_classes=2, widths=[8, 16, 32, 64, 64], up_mode="bilinear",
                            align_corners=False), (1, 1, 64, 64)),
    ("transpose_32", 2, dict(in_ch=1, n_classes=2, widths=[4, 8, 16, 32, 32], up_mode="transpose",
                             align_corners=False), (1, 1, 32, 32)),
]


def save_outputs(prefix, model, y):
    save_npy(os.path.join(OUT, prefix + "_logits.npy"), y.numpy())
    print("%s: %d params, out %s, |y| max %.3f mean %.3f" % (prefix, count_params(model), tuple(y.shape),
                                                          y.abs().max(), y.abs().mean()))


def main():
    generate(OUT, "unet", UNet, CASES, save_outputs)


if __name__ == "__main__":
    main()
