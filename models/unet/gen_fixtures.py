"""Regenerates models/unet/fixtures (random weights, parity only).

    cd models/unet && nice -n 19 /usr/bin/python3 gen_fixtures.py
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from fixture_util import count_params, export_state, folder_size, randomize, save_npy, save_safetensors  # noqa: E402
from reference import UNet  # noqa: E402

OUT = os.path.join(HERE, "fixtures")

CASES = [
    # prefix, seed, constructor arguments, input shape
    ("bilinear_64", 1, dict(in_ch=1, n_classes=2, widths=[8, 16, 32, 64, 64], up_mode="bilinear",
                            align_corners=False), (1, 1, 64, 64)),
    ("transpose_32", 2, dict(in_ch=1, n_classes=2, widths=[4, 8, 16, 32, 32], up_mode="transpose",
                             align_corners=False), (1, 1, 32, 32)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    for prefix, seed, cfg, shape in CASES:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed + 1000)
        model = UNet(**cfg)
        randomize(model, [torch.randn((4,) + shape[1:], generator=gen) for _ in range(2)], gen)
        x = torch.randn(shape, generator=gen)
        with torch.no_grad():
            y = model(x)
        save_safetensors(os.path.join(OUT, prefix + ".safetensors"), export_state(model),
                         {"model": "unet", "config": json.dumps(cfg), "note": "random weights, parity only"})
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
