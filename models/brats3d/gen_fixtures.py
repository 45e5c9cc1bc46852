"""Regenerates models/brats3d/fixtures (random weights, parity only).

    cd models/brats3d && nice -n 19 /usr/bin/python3 gen_fixtures.py
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from fixture_util import count_params, export_state, folder_size, randomize, save_npy, save_safetensors  # noqa: E402
from reference import BraTS3D  # noqa: E402
from tiled import tiled_inference  # noqa: E402

OUT = os.path.join(HERE, "fixtures")
PREFIX = "w4"
SEED = 5
CFG = dict(in_ch=4, n_out=3, widths=[4, 8, 16, 32])
TILE, OVERLAP = (16, 32, 32), 0.5


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED + 1000)
    model = BraTS3D(**CFG)
    randomize(model, [], gen)  # InstanceNorm only: affine parameters randomised, no running stats
    model.eval()
    x = torch.randn((1, 4) + TILE, generator=gen)
    big = torch.randn((1, 4, 24, 40, 40), generator=gen)
    with torch.no_grad():
        y = model(x)
    yt, order = tiled_inference(model, big, TILE, OVERLAP)
    save_safetensors(os.path.join(OUT, PREFIX + ".safetensors"), export_state(model),
                     {"model": "brats3d", "config": json.dumps(CFG), "note": "random weights, parity only"})
    with open(os.path.join(OUT, PREFIX + "_config.json"), "w") as f:
        json.dump(dict(CFG, tile=list(TILE), overlap=OVERLAP, tiles=[list(t) for t in order]), f, indent=1)
        f.write("\n")
    save_npy(os.path.join(OUT, PREFIX + "_16x32_input.npy"), x.numpy())
    save_npy(os.path.join(OUT, PREFIX + "_16x32_logits.npy"), y.numpy())
    save_npy(os.path.join(OUT, PREFIX + "_24x40_input.npy"), big.numpy())
    save_npy(os.path.join(OUT, PREFIX + "_24x40_tiled_logits.npy"), yt.numpy())
    with torch.no_grad():
        whole = model(big)
    print("%s: %d params, out %s |max| %.3f; tiled %s over %d tiles %s, |tiled - whole| max %.3f"
          % (PREFIX, count_params(model), tuple(y.shape), y.abs().max(), tuple(yt.shape), len(order), order,
             (yt - whole).abs().max()))
    print("fixtures: %.2f MB" % (folder_size(OUT) / 1e6))


if __name__ == "__main__":
    main()
