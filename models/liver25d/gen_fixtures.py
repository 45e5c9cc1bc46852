"""Regenerates models/liver25d/fixtures (random weights, parity only).

    cd models/liver25d && nice -n 19 /usr/bin/python3 gen_fixtures.py
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from fixture_util import count_params, export_state, folder_size, randomize, save_npy, save_safetensors  # noqa: E402
from reference import Liver25D  # noqa: E402

OUT = os.path.join(HERE, "fixtures")

CASES = [
    # prefix, seed, constructor arguments (the defaults), input shape
    ("k5_64", 3, dict(slices=5, n_classes=3, enc=[8, 16, 32, 64], aspp=32, dec=[32, 16, 16],
                      rates=[6, 12, 18]), (1, 1, 5, 64, 64)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    for prefix, seed, cfg, shape in CASES:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed + 1000)
        model = Liver25D(**cfg)
        randomize(model, [torch.randn((4,) + shape[1:], generator=gen) for _ in range(2)], gen)
        x = torch.randn(shape, generator=gen)
        with torch.no_grad():
            y = model(x)
        save_safetensors(os.path.join(OUT, prefix + ".safetensors"), export_state(model),
                         {"model": "liver25d", "config": json.dumps(cfg), "note": "random weights, parity only"})
        with open(os.path.join(OUT, prefix + "_config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
            f.write("\n")
        save_npy(os.path.join(OUT, prefix + "_input.npy"), x.numpy())
        save_npy(os.path.join(OUT, prefix + "_logits.npy"), y.numpy())
        print("%s: %d params, out %s, |y| max %.3f mean %.3f" % (prefix, count_params(model), tuple(y.shape),
                                                                  y.abs().max(), y.abs().mean()))
    print("fixtures: %.2f MB" % (folder_size(OUT) / 1e6))


if __name__ == "__main__":
    main()
