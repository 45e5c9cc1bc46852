"""Regenerates models/cmb3d/fixtures (random weights, parity only).

    cd models/cmb3d && nice -n 19 /usr/bin/python3 gen_fixtures.py
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from decode import DEFAULTS, decode  # noqa: E402
from fixture_util import count_params, export_state, folder_size, randomize, save_npy, save_safetensors  # noqa: E402
from reference import CMB3D  # noqa: E402

OUT = os.path.join(HERE, "fixtures")

CASES = [
    # prefix, seed, constructor arguments (the defaults), input shape
    ("p16x32", 4, dict(in_ch=2, widths=[8, 16, 32], fuse=16, head_ch=16, up_mode="trilinear"), (1, 2, 16, 32, 32)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    for prefix, seed, cfg, shape in CASES:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed + 1000)
        model = CMB3D(**cfg)
        randomize(model, [torch.randn((2,) + shape[1:], generator=gen) for _ in range(2)], gen)
        x = torch.randn(shape, generator=gen)
        with torch.no_grad():
            obj, box = model(x)
        save_safetensors(os.path.join(OUT, prefix + ".safetensors"), export_state(model),
                         {"model": "cmb3d", "config": json.dumps(cfg), "note": "random weights, parity only"})
        with open(os.path.join(OUT, prefix + "_config.json"), "w") as f:
            json.dump(dict(cfg, decode=DEFAULTS), f, indent=1)
            f.write("\n")
        save_npy(os.path.join(OUT, prefix + "_input.npy"), x.numpy())
        save_npy(os.path.join(OUT, prefix + "_objectness.npy"), obj.numpy())
        save_npy(os.path.join(OUT, prefix + "_box.npy"), box.numpy())
        det = decode(obj[0].numpy(), box[0].numpy(), **DEFAULTS)
        save_npy(os.path.join(OUT, prefix + "_detections.npy"), det)
        n_cand = int((torch.sigmoid(obj) >= DEFAULTS["score_thresh"]).sum())
        print("%s: %d params, obj %s |max| %.3f, box %s |max| %.3f, %d candidates, %d detections"
              % (prefix, count_params(model), tuple(obj.shape), obj.abs().max(), tuple(box.shape),
                 box.abs().max(), n_cand, det.shape[0]))
    print("fixtures: %.2f MB" % (folder_size(OUT) / 1e6))


if __name__ == "__main__":
    main()
