"""Export the bring-your-own-model example: a tiny vessel segmentation network as ONNX.

  /usr/bin/python3 examples/byom/export_tiny_seg.py        # writes tiny_seg.onnx + fixtures/

The network stands in for a model a site brings from elsewhere (exported from PyTorch, as
hospitals' models arrive). It is small and its weights are set by hand, not trained, so that
the example needs no data set: a difference of Gaussians at two scales (a blurred frame minus
a less blurred one is positive on thin structures darker than their surroundings, as
contrast-filled vessels are in a subtracted angiogram), a ReLU, and a 1x1 convolution that
turns the two responses into a vessel logit.

  input  `frame`        float32 [1, 1, H, W], H and W dynamic (the head plans 256 x 256),
                        values in [0, 1] (the head's preprocessing: gray, resize, min-max)
  output `vessel_logit` float32 [1, 1, H, W] (sigmoid -> vessel probability)

Fixtures (fixtures/, .npy float32): `input.npy` is examples/data/seriesA_f01_16bit.png area-
averaged 4x4 to 128 x 128 and min-max scaled, `vessel_logit.npy` PyTorch's output for it; the
Lua example run_model.lua checks lumen against them (|a-b| <= 1e-4 + 1e-3 |b|).
"""

import os

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "data"))


def gaussian(sigma, radius):
    ax = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(ax ** 2) / (2 * sigma ** 2))
    k = np.outer(g, g)
    return k / k.sum()


class TinySeg(torch.nn.Module):
    """conv 11x11 (1 -> 2 difference-of-Gaussians) -> ReLU -> conv 1x1 (2 -> 1)."""

    def __init__(self):
        super().__init__()
        self.dog = torch.nn.Conv2d(1, 2, 11, padding=5, bias=False)
        self.head = torch.nn.Conv2d(2, 1, 1)
        with torch.no_grad():
            fine = gaussian(2.5, 5) - gaussian(0.8, 5)
            coarse = gaussian(4.0, 5) - gaussian(1.6, 5)
            self.dog.weight.copy_(torch.tensor(np.stack([fine, coarse])[:, None], dtype=torch.float32))
            self.head.weight.copy_(torch.tensor([[[[60.0]], [[40.0]]]]))
            self.head.bias.fill_(-3.0)

    def forward(self, frame):
        return self.head(torch.relu(self.dog(frame)))


def example_input():
    img = np.asarray(Image.open(os.path.join(DATA, "seriesA_f01_16bit.png")), dtype=np.float64)
    h, w = img.shape
    x = img.reshape(h // 4, 4, w // 4, 4).mean(axis=(1, 3))  # area average to 128 x 128
    x = (x - x.min()) / max(x.max() - x.min(), 1e-12)
    return x.astype(np.float32)[None, None]


def main():
    torch.manual_seed(0)
    net = TinySeg().eval()
    x = torch.from_numpy(example_input())
    onnx_path = os.path.join(HERE, "tiny_seg.onnx")
    torch.onnx.export(net, x, onnx_path, input_names=["frame"], output_names=["vessel_logit"],
                      dynamic_axes={"frame": {2: "height", 3: "width"},
                                    "vessel_logit": {2: "height", 3: "width"}},
                      opset_version=13, do_constant_folding=True)
    with torch.no_grad():
        y = net(x).numpy()
    fix = os.path.join(HERE, "fixtures")
    os.makedirs(fix, exist_ok=True)
    np.save(os.path.join(fix, "input.npy"), x.numpy())
    np.save(os.path.join(fix, "vessel_logit.npy"), y)
    frac = float((y > 0).mean())
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes) and fixtures/; "
          f"vessel fraction of the fixture frame at p > 0.5: {frac:.3f}")


if __name__ == "__main__":
    main()
