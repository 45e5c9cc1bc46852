"""Regenerates models/liver25d/fixtures (random weights, parity only).

    cd models/liver25d && nice -n 19 /usr/bin/python3 gen_fixtures.py
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from fixture_util import count_params, generate, save_npy  # noqa: E402
from reference import Liver25D  # noqa: E402

OUT = os.path.join(HERE, "fixtures")

CASES = [
    # prefix, seed, constructor arguments (the defaults), input shape
    ("k5_64", 3, dict(slices=5, n_classes=3, enc=[8, 16, 32, 64], aspp=32, dec=[32, 16, 16],
                      rates=[6, 12, 18]), (1, 1, 5, 64, 64)),
]


def save_outputs(prefix, model, y):
    save_npy(os.path.join(OUT, prefix + "_logits.npy"), y.numpy())
    print("%s: %d params, out %s, |y| max %.3f mean %.3f" % (prefix, count_params(model), tuple(y.shape),
                                                          y.abs().max(), y.abs().mean()))


def main():
    generate(OUT, "liver25d", Liver25D, CASES, save_outputs)


if __name__ == "__main__":
    main()
