"""Export the U-Net parity fixture (bilinear_64: random weights, reduced widths) to ONNX, for the
ONNX-vs-Lua parity test (tests/onnx_vs_lua.lua). Writes fixtures/bilinear_64.onnx (opset 17,
input 'image' [1,1,64,64], output 'logits'). Run: nice -n 19 /usr/bin/python3 export_onnx.py
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from fixture_util import load_safetensors  # noqa: E402
from reference import UNet  # noqa: E402


def main():
    fx = os.path.join(HERE, "fixtures")
    with open(os.path.join(fx, "bilinear_64_config.json")) as f:
        cfg = json.load(f)
    model = UNet(**cfg).eval()
    state = load_safetensors(os.path.join(fx, "bilinear_64.safetensors"))
    missing, unexpected = model.load_state_dict(state,
                                                strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), \
        (missing, unexpected)
    x = torch.zeros(1, 1, 64, 64)
    out = os.path.join(fx, "bilinear_64.onnx")
    torch.onnx.export(model, x, out, opset_version=17, input_names=["image"],
                      output_names=["logits"])
    print("wrote", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
