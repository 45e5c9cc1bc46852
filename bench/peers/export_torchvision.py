"""Exports the torchvision set the peer comparison runs on, with seeded random weights (nothing is
downloaded), into bench/models/ (git-ignored: regenerated on demand, nothing committed).

    nice -n 19 /usr/bin/python3 bench/peers/export_torchvision.py [--force] [--models LIST]

  resnet18_224.onnx          classification nets, input `x` [1,3,224,224], output `logits`
  mobilenet_v2_224.onnx
  efficientnet_b0_224.onnx
  convnext_tiny_224.onnx
  lraspp_256.onnx            LR-ASPP MobileNetV3-Large segmentation, input `x` [1,3,256,256],
                             output `out` (21 classes at 256x256)

Weights: torch.manual_seed(SEED) before building each net (torchvision's own initialisers), and
BatchNorm running statistics drawn from fixed distributions so that folding them is not a no-op.
Always Debian's python3-torch (/usr/bin/python3). Files are only rewritten when missing or when
--force is given, so compare.sh can call this every time.
"""

import argparse
import os

import torch
import torchvision

from export_models import seeded_eval

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "bench", "models")
SEED = 11

# name: (constructor, input size, output name)
NETS = {
    "resnet18": (lambda: torchvision.models.resnet18(weights=None), 224, "logits"),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), 224, "logits"),
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(weights=None), 224, "logits"),
    "convnext_tiny": (lambda: torchvision.models.convnext_tiny(weights=None), 224, "logits"),
    "lraspp": (lambda: torchvision.models.segmentation.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None), 256, "out"),
}


class OutOnly(torch.nn.Module):
    """torchvision's segmentation nets return a dict: export its 'out' tensor alone."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)["out"]


def build(name):
    make, size, out_name = NETS[name]
    m = seeded_eval(make, SEED)
    if name == "lraspp":
        m = OutOnly(m)
    return m, size, out_name


def path_of(name):
    return os.path.join(OUT, "%s_%d.onnx" % (name, NETS[name][1]))


def export(name, force):
    path = path_of(name)
    if os.path.exists(path) and not force:
        print("exists: %s" % path)
        return
    m, size, out_name = build(name)
    torch.onnx.export(m, torch.zeros(1, 3, size, size), path, opset_version=17,
                      input_names=["x"], output_names=[out_name], do_constant_folding=True)
    print("wrote %s" % path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(NETS))
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    for name in a.models.split(","):
        export(name, a.force)


if __name__ == "__main__":
    main()
